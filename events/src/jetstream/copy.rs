//! Moving a log onto a JetStream stream and back, record for record: the
//! same bytes, offsets and hash chain, so the head hash is the proof.
//!
//! Onto the stream: the stream must hold no records yet; records are
//! checked (CRC, dense offsets, the chain) and published in frames of at
//! most the servers' `max_payload`, each with the expected last sequence
//! (a node writing at the same time makes the copy stop, never
//! interleave). Every frame passes the mirror's checks as it lands.
//! Off the stream: [`JetStreamLog::records`] yields the mirror's records.

use super::mirror::Message;
use super::JetStreamLog;
use crate::codec::{self, GENESIS_HASH};
use crate::frame::FrameBuilder;
use crate::log::LogError;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;

/// Most records in one copied frame.
const COPY_FRAME_RECORDS: usize = 4096;

/// What a copy wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Records.
    pub count: u64,
    /// The last record's hash.
    pub head_hash: [u8; 32],
}

/// Why a copy stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The target already holds records.
    #[error("the target stream already holds {0} records; copy needs an empty one")]
    NotEmpty(u64),
    /// A source record failed its checks.
    #[error(transparent)]
    Source(#[from] LogError),
    /// Publishing failed (or another writer published meanwhile).
    #[error("publishing to the stream: {0}")]
    Publish(String),
}

impl JetStreamLog {
    /// Every record from `from` on, as `(offset, bytes)` (the mirror's
    /// copy, CRC-checked when it was applied).
    pub fn records(&self, from: u64) -> impl Iterator<Item = (u64, Bytes)> + '_ {
        let mut next = from.max(1);
        let mut buffer = std::collections::VecDeque::new();
        std::iter::from_fn(move || {
            if buffer.is_empty() {
                buffer.extend(self.shared.mirror.read().raw(next, 4096));
            }
            let (bytes, _) = buffer.pop_front()?;
            let offset = next;
            next += 1;
            Some((offset, bytes))
        })
    }

    /// The last record's hash (the genesis hash for an empty log).
    pub fn head_hash(&self) -> [u8; 32] {
        self.shared.mirror.read().last_hash()
    }

    /// Copies `records` (offset and bytes, from offset 1, in order) onto
    /// this log's stream, which must hold no records; `progress` is told
    /// each offset written. Returns the count and head hash.
    pub async fn copy_in<I>(&self, records: I, progress: impl Fn(u64)) -> Result<Copied, CopyError>
    where
        I: IntoIterator<Item = Result<(u64, Vec<u8>), LogError>>,
    {
        let present = self.shared.mirror.read().head();
        if present > 0 {
            return Err(CopyError::NotEmpty(present));
        }
        // Room for the headers beside the frame.
        let limit = self
            .shared
            .client
            .server_info()
            .max_payload
            .saturating_sub(1024);
        let mut prev = GENESIS_HASH;
        let mut expected = 1u64;
        let mut builder = FrameBuilder::new(1);
        let mut records = records.into_iter().peekable();
        while let Some(record) = records.next() {
            let (offset, bytes) = record?;
            if offset != expected {
                return Err(LogError::Corrupt {
                    offset: expected,
                    reason: format!("offset {expected} is missing (next present: {offset})"),
                }
                .into());
            }
            let hash = codec::check_record(&bytes).map_err(|e| LogError::Corrupt {
                offset,
                reason: e.to_string(),
            })?;
            let view = codec::RecordView::parse(&bytes).map_err(|e| LogError::Corrupt {
                offset,
                reason: e.to_string(),
            })?;
            if *view.prev_hash != prev || view.offset != offset {
                return Err(LogError::Corrupt {
                    offset,
                    reason: "the hash chain is broken".into(),
                }
                .into());
            }
            if !builder.is_empty() && builder.len() + bytes.len() + 4 > limit {
                let full = std::mem::replace(&mut builder, FrameBuilder::new(offset));
                self.publish_copy(full).await?;
            }
            builder.push(&bytes);
            prev = hash;
            expected += 1;
            if builder.count() as usize >= COPY_FRAME_RECORDS || records.peek().is_none() {
                let full = std::mem::replace(&mut builder, FrameBuilder::new(offset + 1));
                self.publish_copy(full).await?;
                progress(offset);
            }
        }
        Ok(Copied {
            count: expected - 1,
            head_hash: prev,
        })
    }

    /// Publishes one copied frame after the mirror's last message and
    /// applies it (which checks it again).
    async fn publish_copy(&self, frame: FrameBuilder) -> Result<(), CopyError> {
        let frame = Bytes::from(frame.finish());
        let shared = &self.shared;
        let expected_seq = shared.mirror.read().last_seq();
        let message = PublishMessage::build()
            .payload(frame.clone())
            .expected_last_sequence(expected_seq);
        let ack = async {
            shared
                .js
                .send_publish(shared.config.subject(), message)
                .await?
                .await
        }
        .await
        .map_err(|e| CopyError::Publish(e.to_string()))?;
        shared.saw(ack.sequence);
        shared
            .apply(&Message {
                seq: ack.sequence,
                commit_id: None,
                marker: false,
                payload: &frame,
            })
            .map_err(CopyError::Source)
    }
}
