//! Batches of decoded events: what replay reads.
//!
//! Replaying a log applies millions of events, and an owned [`Envelope`]
//! per event (five allocations: stream, type, two metadata strings,
//! payload) cost as much as reading the records. An [`EventBatch`] holds a
//! run of consecutive events instead: their strings in one buffer, their
//! payloads in another, and each event decoded once. Readers get
//! `(EnvelopeRef, &Event)` pairs that borrow from the batch.
//!
//! [`EventLog::read_events`](crate::EventLog::read_events) yields batches;
//! the segment log builds them on its read-ahead thread, so reading,
//! checking and decoding overlap with the caller applying the previous
//! batch.

use crate::domain::{CodecError, Event};
use crate::envelope::{Envelope, EnvelopeRef, MetadataRef};
use crate::ids::Id;
use crate::log::{EnvelopeIter, LogError};
use std::net::IpAddr;
use std::ops::Range;
use std::sync::mpsc::SyncSender;
use time::OffsetDateTime;

/// Events per batch the readers aim for.
pub const EVENT_BATCH: usize = 1024;

/// Reading events failed: the log could not be read, or a record holds an
/// event this build cannot decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadEventsError {
    /// The log could not be read.
    #[error(transparent)]
    Log(#[from] LogError),
    /// An event could not be decoded by this build.
    #[error("event at offset {offset} cannot be decoded: {source}")]
    Decode {
        /// Where.
        offset: u64,
        /// Why.
        source: CodecError,
    },
}

/// A blocking iterator over batches of consecutive events, in offset order.
/// After an error nothing more is yielded.
pub type EventBatches<'a> =
    Box<dyn Iterator<Item = Result<EventBatch, ReadEventsError>> + Send + 'a>;

/// Consecutive events with their envelopes, decoded and owned by the batch.
#[derive(Debug, Default)]
pub struct EventBatch {
    /// Stream names, event types, actor names, request ids and dialects of
    /// every entry, back to back.
    text: String,
    /// Every entry's payload, back to back.
    payloads: Vec<u8>,
    entries: Vec<Entry>,
    /// Where the batch goes when dropped, to be cleared and filled again
    /// by the thread that reads ahead ([`EventBatch::recycle_to`]).
    recycle: Option<SyncSender<EventBatch>>,
}

/// A batch with a way home is sent back when dropped (its events dropped
/// there, by the thread that allocated them, and its buffers reused): a
/// replay then neither frees every decoded event across threads nor
/// faults in fresh pages for each batch's buffers, which measured 5% of
/// a replay's CPU with huge pages (BENCHMARKS.md, "Replay, session 7").
impl Drop for EventBatch {
    fn drop(&mut self) {
        if let Some(home) = self.recycle.take() {
            let back = EventBatch {
                text: std::mem::take(&mut self.text),
                payloads: std::mem::take(&mut self.payloads),
                entries: std::mem::take(&mut self.entries),
                recycle: None,
            };
            // A full or closed home: the batch is simply freed here.
            let _ = home.try_send(back);
        }
    }
}

/// One event: the envelope's fixed fields, spans into the batch's buffers,
/// and the decoded event.
#[derive(Debug)]
struct Entry {
    offset: u64,
    stream_version: u64,
    tenant: Id,
    recorded_at: OffsetDateTime,
    actor_id: Option<Id>,
    source_ip: Option<IpAddr>,
    schema_version: u16,
    stream: Range<usize>,
    event_type: Range<usize>,
    actor_name: Range<usize>,
    request_id: Option<Range<usize>>,
    via: Range<usize>,
    payload: Range<usize>,
    prev_hash: [u8; 32],
    hash: [u8; 32],
    event: Event,
}

impl EventBatch {
    /// An empty batch with room for `events` entries.
    pub fn with_capacity(events: usize) -> EventBatch {
        EventBatch {
            text: String::with_capacity(events * 48),
            payloads: Vec::with_capacity(events * 128),
            entries: Vec::with_capacity(events),
            recycle: None,
        }
    }

    /// Empties the batch (dropping its events here) and keeps its buffers.
    pub fn clear(&mut self) {
        self.text.clear();
        self.payloads.clear();
        self.entries.clear();
    }

    /// When dropped, the batch is sent to `home` (if it has room) instead
    /// of being freed.
    pub fn recycle_to(&mut self, home: SyncSender<EventBatch>) {
        self.recycle = Some(home);
    }

    /// Appends an event. Offsets must follow each other (the caller reads
    /// them in order); the envelope's stream name must be valid.
    pub fn push(&mut self, envelope: &EnvelopeRef<'_>, event: Event) {
        debug_assert!(
            self.last_offset()
                .is_none_or(|last| last + 1 == envelope.offset),
            "batch entries must be consecutive"
        );
        let text = &mut self.text;
        let mut put = |s: &str| {
            let start = text.len();
            text.push_str(s);
            start..text.len()
        };
        let stream = put(envelope.stream);
        let event_type = put(envelope.event_type);
        let actor_name = put(envelope.metadata.actor_name);
        let request_id = envelope.metadata.request_id.map(&mut put);
        let via = put(envelope.metadata.via);
        let start = self.payloads.len();
        self.payloads.extend_from_slice(envelope.payload);
        self.entries.push(Entry {
            offset: envelope.offset,
            stream_version: envelope.stream_version,
            tenant: envelope.tenant,
            recorded_at: envelope.recorded_at,
            actor_id: envelope.metadata.actor_id,
            source_ip: envelope.metadata.source_ip,
            schema_version: envelope.schema_version,
            stream,
            event_type,
            actor_name,
            request_id,
            via,
            payload: start..self.payloads.len(),
            prev_hash: envelope.prev_hash,
            hash: envelope.hash,
            event,
        });
    }

    /// Events in the batch.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The offset of the first event.
    pub fn first_offset(&self) -> Option<u64> {
        self.entries.first().map(|e| e.offset)
    }

    /// The offset of the last event.
    pub fn last_offset(&self) -> Option<u64> {
        self.entries.last().map(|e| e.offset)
    }

    /// The `i`-th event's offset and the event, without building its
    /// envelope (for a reader that looks at most events only to pass them
    /// by, as a parallel replay's dispatcher does).
    pub fn event(&self, i: usize) -> Option<(u64, &Event)> {
        self.entries.get(i).map(|e| (e.offset, &e.event))
    }

    /// The `i`-th event and its envelope.
    pub fn get(&self, i: usize) -> Option<(EnvelopeRef<'_>, &Event)> {
        self.entries.get(i).map(|e| self.view(e))
    }

    /// The events and their envelopes, in offset order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (EnvelopeRef<'_>, &Event)> + '_ {
        self.entries.iter().map(|e| self.view(e))
    }

    /// The events and their owned envelopes (for callers that keep them).
    pub fn into_owned(mut self) -> Vec<(Envelope, Event)> {
        let envelopes: Vec<Envelope> = self.iter().map(|(env, _)| env.to_envelope()).collect();
        let entries = std::mem::take(&mut self.entries);
        envelopes
            .into_iter()
            .zip(entries.into_iter().map(|e| e.event))
            .collect()
    }

    fn view<'b>(&'b self, e: &'b Entry) -> (EnvelopeRef<'b>, &'b Event) {
        let text = |r: &Range<usize>| &self.text[r.clone()];
        let env = EnvelopeRef {
            offset: e.offset,
            stream: text(&e.stream),
            stream_version: e.stream_version,
            tenant: e.tenant,
            event_type: text(&e.event_type),
            schema_version: e.schema_version,
            recorded_at: e.recorded_at,
            metadata: MetadataRef {
                actor_id: e.actor_id,
                actor_name: text(&e.actor_name),
                request_id: e.request_id.as_ref().map(text),
                source_ip: e.source_ip,
                via: text(&e.via),
            },
            payload: &self.payloads[e.payload.clone()],
            prev_hash: e.prev_hash,
            hash: e.hash,
        };
        (env, &e.event)
    }
}

/// Decodes the event an envelope carries, naming its offset on failure.
pub fn decode_event(envelope: &EnvelopeRef<'_>) -> Result<Event, ReadEventsError> {
    Event::decode(
        envelope.event_type,
        envelope.schema_version,
        envelope.payload,
    )
    .map_err(|source| ReadEventsError::Decode {
        offset: envelope.offset,
        source,
    })
}

/// Batches of the envelopes `envelopes` yields, each event decoded (on the
/// caller's thread): the generic [`read_events`](crate::EventLog::read_events)
/// for logs that have nothing better. The batch before an error is yielded
/// first, then the error.
pub fn batches_of(envelopes: EnvelopeIter<'_>) -> EventBatches<'_> {
    Box::new(BatchesOf {
        envelopes,
        pending: None,
        done: false,
    })
}

struct BatchesOf<'a> {
    envelopes: EnvelopeIter<'a>,
    /// An error found after some events of the current batch: yielded next.
    pending: Option<ReadEventsError>,
    done: bool,
}

impl Iterator for BatchesOf<'_> {
    type Item = Result<EventBatch, ReadEventsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Some(Err(e));
        }
        if self.done {
            return None;
        }
        let mut batch = EventBatch::with_capacity(EVENT_BATCH);
        while batch.len() < EVENT_BATCH {
            let step = match self.envelopes.next() {
                None => {
                    self.done = true;
                    break;
                }
                Some(Err(e)) => Err(ReadEventsError::from(e)),
                Some(Ok(env)) => {
                    let view = env.view();
                    decode_event(&view).map(|event| batch.push(&view, event))
                }
            };
            if let Err(e) = step {
                if batch.is_empty() {
                    self.done = true;
                    return Some(Err(e));
                }
                self.pending = Some(e);
                break;
            }
        }
        (!batch.is_empty()).then_some(Ok(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserUpdated;
    use crate::envelope::Metadata;
    use crate::ids::StreamId;
    use crate::{Fields, Value};

    fn envelope(offset: u64, request_id: Option<&str>) -> (Envelope, Event) {
        let mut changes = Fields::new();
        changes.insert("name".into(), Value::Str(format!("n{offset}")));
        let event = Event::UserUpdated(UserUpdated {
            user_id: Id(offset),
            changes: changes.into(),
        });
        let env = Envelope {
            offset,
            stream: StreamId::of("user", Id(offset)),
            stream_version: 1,
            tenant: Id(7),
            event_type: "UserUpdated".into(),
            schema_version: 1,
            recorded_at: OffsetDateTime::from_unix_timestamp(1_700_000_000 + offset as i64)
                .expect("time"),
            metadata: Metadata {
                actor_id: Some(Id(3)),
                actor_name: format!("actor{offset}"),
                request_id: request_id.map(str::to_owned),
                source_ip: Some("192.0.2.1".parse().expect("ip")),
                via: "portsip".into(),
            },
            payload: event.encode().expect("encodes"),
            prev_hash: [offset as u8; 32],
            hash: [offset as u8 + 1; 32],
        };
        (env, event)
    }

    #[test]
    fn a_batch_gives_back_every_envelope_and_event_it_was_given() {
        let given: Vec<(Envelope, Event)> = (1..=5)
            .map(|o| envelope(o, (o % 2 == 0).then_some("req")))
            .collect();
        let mut batch = EventBatch::with_capacity(2);
        for (env, event) in &given {
            batch.push(&env.view(), event.clone());
        }
        assert_eq!(batch.len(), 5);
        assert_eq!(
            (batch.first_offset(), batch.last_offset()),
            (Some(1), Some(5))
        );
        for ((view, event), (env, expected)) in batch.iter().zip(&given) {
            assert_eq!(view, env.view());
            assert_eq!(event, expected);
        }
        assert_eq!(batch.into_owned(), given);
    }

    #[test]
    fn the_batch_before_an_undecodable_event_comes_first_then_the_error() {
        let mut envs: Vec<Result<Envelope, LogError>> =
            (1..=3).map(|o| Ok(envelope(o, None).0)).collect();
        if let Some(Ok(env)) = envs.get_mut(2) {
            env.event_type = "NoSuchEvent".into();
        }
        let mut batches = batches_of(Box::new(envs.into_iter()));
        let first = batches.next().expect("a batch").expect("decodes");
        assert_eq!(
            (first.first_offset(), first.last_offset()),
            (Some(1), Some(2))
        );
        match batches.next() {
            Some(Err(ReadEventsError::Decode { offset: 3, .. })) => {}
            other => panic!("expected the decode error at 3, got {other:?}"),
        }
        assert!(batches.next().is_none());
    }

    #[test]
    fn a_read_error_ends_the_batches() {
        let envs: Vec<Result<Envelope, LogError>> = vec![
            Ok(envelope(1, None).0),
            Err(LogError::Corrupt {
                offset: 2,
                reason: "bad".into(),
            }),
            Ok(envelope(3, None).0),
        ];
        let got: Vec<_> = batches_of(Box::new(envs.into_iter())).collect();
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        assert!(matches!(
            got[1],
            Err(ReadEventsError::Log(LogError::Corrupt { offset: 2, .. }))
        ));
    }
}
