//! The projection runtime: applies events in offset order to a read model
//! and publishes the offset it has applied.
//!
//! A runtime starts from a state known to reflect the log up to some offset
//! N (an empty state and N = 0, or a snapshot), replays N+1.. from the log,
//! then follows the log live. Writers wait on [`Projector::wait_for`] so that
//! a request answers only once its own events are visible (read-your-writes).
//!
//! Readers never block the applier and the applier never blocks readers:
//! the applier works on its own copy of the model and, after each applied
//! batch, *publishes* a clone of it with one atomic pointer swap
//! ([`arc_swap`]). A reader takes the published version ([`Projector::read`])
//! and keeps a consistent state for as long as it holds it, however many
//! batches are applied meanwhile. Publishing is cheap because the model's
//! collections are persistent ([`crate::pmap`]): a clone is O(1) and the
//! next change copies only the path to what changed.

use arc_swap::ArcSwap;
use futures::StreamExt;
use parking_lot::Mutex;
use std::sync::Arc;
use switchboard_events::{
    CodecError, Envelope, EnvelopeRef, Event, EventBatches, EventLog, LogError, ReadEventsError,
};
use tokio::sync::watch;

/// A read model fed by events.
pub trait Projection: Clone + Send + Sync + 'static {
    /// Applies one event. Must be deterministic: the same events in the same
    /// order always give the same state (no clocks, no randomness).
    fn apply(&mut self, envelope: &Envelope, event: &Event);

    /// Applies one event given a borrowed envelope: what replay calls, with
    /// envelopes borrowed from the log's batches. The default makes an
    /// owned envelope for [`Projection::apply`]; a projection that needs
    /// only the view overrides it and skips that copy.
    fn apply_ref(&mut self, envelope: &EnvelopeRef<'_>, event: &Event) {
        self.apply(&envelope.to_envelope(), event);
    }

    /// Called before [`Projector::replay`] applies anything: no version is
    /// published until [`Projection::replay_finished`], so a projection may
    /// defer upkeep that only readers need (an ordered index it can rebuild
    /// in one pass).
    fn replay_started(&mut self) {}

    /// Called when a replay stops (at the end of the log or on an error),
    /// before the state is published: whatever was deferred is brought up
    /// to date.
    fn replay_finished(&mut self) {}

    /// Applies a replay's batches (consecutive events from `applied + 1`
    /// on), between [`Projection::replay_started`] and
    /// [`Projection::replay_finished`]. Returns the last offset applied and
    /// the error that stopped the replay, if any. The default applies each
    /// event with [`Projection::apply_ref`] on the calling thread; a
    /// projection whose parts commute may spread them over threads (the
    /// directory's tenants: [`crate::parallel`]), provided the state it
    /// ends in is the same.
    fn replay_batches(
        &mut self,
        applied: u64,
        batches: EventBatches<'_>,
    ) -> (u64, Option<ReplayError>) {
        replay_in_order(self, applied, batches)
    }
}

/// [`Projection::replay_batches`] on the calling thread, event by event.
pub fn replay_in_order<P: Projection>(
    state: &mut P,
    applied: u64,
    batches: EventBatches<'_>,
) -> (u64, Option<ReplayError>) {
    let mut last = applied;
    for batch in batches {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => return (last, Some(e.into())),
        };
        for (env, event) in batch.iter() {
            if env.offset != last + 1 {
                let failure = ReplayError::OutOfOrder {
                    expected: last + 1,
                    got: env.offset,
                };
                return (last, Some(failure));
            }
            state.apply_ref(&env, event);
            last = env.offset;
        }
    }
    (last, None)
}

/// Replay stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
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
    /// The log skipped or repeated an offset.
    #[error("expected offset {expected}, the log delivered {got}")]
    OutOfOrder {
        /// The offset due.
        expected: u64,
        /// The offset delivered.
        got: u64,
    },
}

impl From<ReadEventsError> for ReplayError {
    fn from(e: ReadEventsError) -> ReplayError {
        match e {
            ReadEventsError::Log(e) => ReplayError::Log(e),
            ReadEventsError::Decode { offset, source } => ReplayError::Decode { offset, source },
        }
    }
}

/// Holds a read model, applies events to it, publishes a version per
/// applied batch, and tells waiters how far it got.
pub struct Projector<P> {
    /// The applier's own copy. Only the applier (replay, follow, tests'
    /// `apply_batch`) locks it; readers never do.
    working: Mutex<P>,
    /// The latest published version.
    published: ArcSwap<P>,
    applied: watch::Sender<u64>,
}

impl<P: Projection> Projector<P> {
    /// A projector whose state reflects the log up to `offset`.
    pub fn new(state: P, offset: u64) -> Arc<Projector<P>> {
        let (applied, _) = watch::channel(offset);
        Arc::new(Projector {
            published: ArcSwap::from_pointee(state.clone()),
            working: Mutex::new(state),
            applied,
        })
    }

    /// The latest published version of the model: lock-free (one atomic
    /// load and a reference count), consistent, and never waits for the
    /// applier. It reflects at least every offset [`Projector::applied`]
    /// reported before the call.
    pub fn read(&self) -> Arc<P> {
        self.published.load_full()
    }

    /// Publishes the working copy (called with the working lock held, so
    /// versions are published in apply order), then the applied offset.
    fn publish(&self, state: &P, offset: u64) {
        self.published.store(Arc::new(state.clone()));
        self.applied.send_replace(offset);
    }

    /// The last applied offset.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// A receiver that changes whenever the applied offset moves.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// Resolves once `offset` has been applied.
    pub async fn wait_for(&self, offset: u64) {
        let mut rx = self.applied.subscribe();
        // `wait_for` only errors if the sender is gone, and `self` owns it.
        let _ = rx.wait_for(|applied| *applied >= offset).await;
    }

    /// Changes the working state without an event (e.g. building indexes
    /// deferred during a replay), then publishes it at the same offset.
    pub fn update(&self, change: impl FnOnce(&mut P)) {
        let mut state = self.working.lock();
        change(&mut state);
        self.publish(&state, self.applied());
    }

    /// Applies decoded events (already in offset order) under one write lock.
    pub fn apply_batch(&self, batch: &[(Envelope, Event)]) -> Result<(), ReplayError> {
        let Some(last) = batch.last() else {
            return Ok(());
        };
        let mut state = self.working.lock();
        for (expected, (env, event)) in (self.applied() + 1..).zip(batch.iter()) {
            if env.offset != expected {
                return Err(ReplayError::OutOfOrder {
                    expected,
                    got: env.offset,
                });
            }
            state.apply(env, event);
        }
        self.publish(&state, last.0.offset);
        Ok(())
    }

    /// Replays every stored event after the applied offset (blocking; run it
    /// on a blocking thread). Returns the number of events applied.
    ///
    /// The log reads and decodes batches ahead ([`EventLog::read_events`]),
    /// and each event is applied through [`Projection::apply_ref`] with an
    /// envelope borrowed from its batch. One version is published, at the
    /// end (or where replay stops on an error): until then no published
    /// version shares the working state's persistent maps, so every change
    /// mutates them in place instead of copying the path (and the row) a
    /// published version still holds.
    pub fn replay(&self, log: &dyn EventLog) -> Result<u64, ReplayError> {
        let mut state = self.working.lock();
        let start = self.applied();
        state.replay_started();
        let (last, failure) = state.replay_batches(start, log.read_events(start + 1));
        state.replay_finished();
        // Publish what was applied, even when stopping on an error, so the
        // applied offset always matches the state.
        if last > start {
            self.publish(&state, last);
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(last - start),
        }
    }

    /// Follows the log live from the applied offset, applying whatever has
    /// arrived in one batch. Returns when the log closes, or on an error
    /// (which leaves the projector where it was, and the service unready).
    pub async fn follow(self: Arc<Self>, log: Arc<dyn EventLog>) -> Result<(), ReplayError> {
        let mut stream = log.subscribe(self.applied() + 1).ready_chunks(4096);
        while let Some(chunk) = stream.next().await {
            let mut batch = Vec::with_capacity(chunk.len());
            for env in chunk {
                let env = env?;
                let event = Event::from_envelope(&env).map_err(|source| ReplayError::Decode {
                    offset: env.offset,
                    source,
                })?;
                batch.push((env, event));
            }
            self.apply_batch(&batch)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc as StdArc;
    use switchboard_events::domain::UserUpdated;
    use switchboard_events::{AppendRequest, Fields, Id, LogConfig, Metadata, SegmentLog, Value};

    /// Remembers what it was given, in order.
    #[derive(Clone, Default)]
    struct Seen(Vec<(u64, String)>);

    impl Projection for Seen {
        fn apply(&mut self, envelope: &Envelope, _event: &Event) {
            self.0.push((envelope.offset, envelope.stream.to_string()));
        }
    }

    fn updates(n: u64, from: u64) -> AppendRequest {
        let events = (from..from + n)
            .map(|i| {
                let mut changes = Fields::new();
                changes.insert("name".into(), Value::Int(i as i64));
                Event::UserUpdated(UserUpdated {
                    user_id: Id(i % 10 + 1),
                    changes: changes.into(),
                })
                .to_new_event(Id(1))
                .expect("encodes")
            })
            .collect();
        AppendRequest {
            events,
            expected: vec![],
            metadata: StdArc::new(Metadata::system("test")),
        }
    }

    #[tokio::test]
    async fn replay_applies_every_event_in_order_and_stops_at_one_it_cannot_decode() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let log = SegmentLog::open(LogConfig::new(dir.path())).expect("opens");
        log.append(updates(20_000, 1)).await.expect("appends");
        let mut bad = updates(1, 0);
        bad.events[0].event_type = "FromANewerBuild";
        log.append(bad).await.expect("appends");
        log.append(updates(5, 20_002)).await.expect("appends");

        // From the start (the log reads ahead on its own thread) and from
        // a snapshot's offset near the end.
        for start in [0, 19_990] {
            let projector = Projector::new(Seen::default(), start);
            match projector.replay(&log) {
                Err(ReplayError::Decode { offset, .. }) => assert_eq!(offset, 20_001),
                other => panic!("expected a decode error at 20001, got {other:?}"),
            }
            assert_eq!(projector.applied(), 20_000, "what was applied is published");
            let seen = projector.read();
            let offsets: Vec<u64> = seen.0.iter().map(|(o, _)| *o).collect();
            assert_eq!(offsets, (start + 1..=20_000).collect::<Vec<_>>());
            assert_eq!(seen.0.last().map(|(_, s)| s.as_str()), Some("user-1"));
        }
        log.close().await;
    }
}
