//! The `EventLog` trait: what the rest of switchboard may ask of a log.
//!
//! Keeping the engine behind this trait is deliberate: sled 0.34 is beta,
//! and the design expects to swap it (or add a distributed log) if the
//! evidence says so.

use crate::batch::EventBatches;
use crate::envelope::{Envelope, Metadata, NewEvent};
use crate::ids::{StreamId, TenantId};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::watch;

/// Optimistic concurrency: what the caller believes a stream's version is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be exactly at this version.
    Exactly(u64),
}

impl Expected {
    /// Whether a stream at version `actual` (0: absent) meets this.
    pub fn holds(self, actual: u64) -> bool {
        match self {
            Expected::Any => true,
            Expected::NoStream => actual == 0,
            Expected::Exactly(v) => actual == v,
        }
    }
}

/// One atomic append: all events land together, or none do.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    /// The events, in order.
    pub events: Vec<NewEvent>,
    /// Version expectations, checked before anything is written.
    pub expected: Vec<(StreamId, Expected)>,
    /// Who, from where, through what (shared by every event of the batch).
    pub metadata: Arc<Metadata>,
}

/// What a decision was made against: the directory state up to `offset`,
/// within `tenants`. A log shared by several writers (nodes) refuses the
/// append with [`AppendError::Stale`] if any other event was recorded in
/// one of these tenants after `offset`: the decision may rely on more than
/// its stream expectations (a free extension number, the last admin), and
/// another node may have changed exactly that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    /// The offset the decision's state had applied (a lower bound is
    /// safe: it only makes the check stricter).
    pub offset: u64,
    /// The tenants whose state the decision read.
    pub tenants: Vec<TenantId>,
}

/// Where an acknowledged append landed. It is on disk (with
/// `durability = "fsync"`) by the time this is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Offset of the first event.
    pub first_offset: u64,
    /// Offset of the last event.
    pub last_offset: u64,
    /// The time recorded on the events.
    pub recorded_at: OffsetDateTime,
}

/// An append that was not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// A version expectation did not hold. `actual` is 0 for a stream that
    /// does not exist.
    #[error("stream {stream}: expected version {expected:?}, actual {actual}")]
    Conflict {
        /// The stream.
        stream: StreamId,
        /// What the caller expected.
        expected: Expected,
        /// What the stream is at.
        actual: u64,
    },
    /// The decision behind the append is out of date: another writer of
    /// a shared log recorded events in one of its tenants after the state
    /// it was decided against (see [`Basis`]). Decide again.
    #[error("tenant {tenant}: decided against offset {decided_at}, but offset {latest} is in the tenant since")]
    Stale {
        /// The tenant.
        tenant: TenantId,
        /// The offset the decision was made against.
        decided_at: u64,
        /// The tenant's latest event.
        latest: u64,
    },
    /// Nothing to append.
    #[error("an append needs at least one event")]
    Empty,
    /// The log cannot take writes: it is shut down, or a storage error made
    /// it stop accepting writes until restarted.
    #[error("the event log is unavailable: {0}")]
    Unavailable(String),
}

/// A read failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The storage engine reported an error.
    #[error("storage error: {0}")]
    Storage(String),
    /// A record failed its integrity checks.
    #[error("corrupt record at offset {offset}: {reason}")]
    Corrupt {
        /// The bad record's offset (or the offset that was expected there).
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
}

/// A blocking iterator over envelopes in offset order.
pub type EnvelopeIter<'a> = Box<dyn Iterator<Item = Result<Envelope, LogError>> + Send + 'a>;

/// The durable, ordered, append-only event log.
pub trait EventLog: Send + Sync + 'static {
    /// Appends a batch atomically; resolves once it is durable.
    fn append(&self, request: AppendRequest) -> BoxFuture<'static, Result<Appended, AppendError>>;

    /// Appends a batch decided against `basis`. A log with one writer
    /// (the local log) serializes decisions per tenant in the command
    /// pipeline already, so the default ignores the basis; a shared log
    /// checks it.
    fn append_decided(
        &self,
        request: AppendRequest,
        basis: Basis,
    ) -> BoxFuture<'static, Result<Appended, AppendError>> {
        let _ = basis;
        self.append(request)
    }

    /// Reads every event with offset ≥ `from`, in order (blocking iterator).
    fn read_all(&self, from: u64) -> EnvelopeIter<'_>;

    /// Reads every event with offset ≥ `from`, in order, decoded, in
    /// batches of borrowed envelopes (replay: no owned envelope per event).
    /// The batch before an unreadable or undecodable event is yielded first,
    /// then the error. The default decodes [`EventLog::read_all`]'s
    /// envelopes on the caller's thread; a log can do better.
    fn read_events(&self, from: u64) -> EventBatches<'_> {
        crate::batch::batches_of(self.read_all(from))
    }

    /// Reads one stream's events with version ≥ `from_version`, in order.
    fn read_stream(&self, stream: &StreamId, from_version: u64) -> EnvelopeIter<'_>;

    /// Reads every event from `from` on, then follows new appends live. No
    /// gap and no duplicate at the switch: events are delivered strictly by
    /// offset. Ends when the log closes.
    fn subscribe(&self, from: u64) -> BoxStream<'static, Result<Envelope, LogError>>;

    /// The offset of the last durable event (0 for an empty log).
    fn head(&self) -> u64;

    /// A receiver that changes whenever the durable head moves.
    fn watch_head(&self) -> watch::Receiver<u64>;

    /// The current version of a stream (0 if it does not exist).
    fn stream_version(&self, stream: &StreamId) -> Result<u64, LogError>;

    /// Reads one event by offset.
    fn get(&self, offset: u64) -> Result<Option<Envelope>, LogError>;

    /// Stops taking writes, finishes the ones in flight and flushes.
    fn close(&self) -> BoxFuture<'static, ()>;

    /// Whether appends are currently accepted.
    fn is_writable(&self) -> bool;

    /// For a log shared by several nodes: how many commits of the shared
    /// log this node has not applied yet (its replication lag); `None` for
    /// a log this process owns alone.
    fn replication_lag(&self) -> Option<u64> {
        None
    }
}

/// One group commit, as the writer saw it (for metrics, and for the
/// append bench's account of where the time of a commit goes).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CommitStats {
    /// Appends acknowledged by the commit.
    pub appends: usize,
    /// Events they held.
    pub events: usize,
    /// Time spent making the commit durable (the fsync; zero with
    /// `Durability::Os`).
    pub fsync: std::time::Duration,
    /// The head offset after the commit.
    pub head: u64,
    /// Writer time spent framing the commit's appends: checking their
    /// expectations, assigning offsets and versions, encoding and hashing
    /// their records.
    pub framing: std::time::Duration,
    /// Time of the one `write` of the frame.
    pub write: std::time::Duration,
    /// Time from durable to every caller told (stream heads, readers, the
    /// head, the acknowledgements).
    pub acknowledge: std::time::Duration,
}

/// Told about every successful group commit, on the writer's thread:
/// must be cheap and never block (record a number and return). The log's
/// only hook for observation, so the log needs no metrics library.
pub trait CommitObserver: Send + Sync {
    /// A group commit is durable and acknowledged.
    fn committed(&self, stats: &CommitStats);
}
