//! # switchboard-events: the facts
//!
//! Everything switchboard knows is an event in this log. This crate holds
//! the domain event types, the envelope around them, the on-disk codec, and
//! the durable log itself (append-only segment files with a sled index,
//! behind the [`EventLog`] trait).
//!
//! # Layout
//! - [`ids`]: resource ids, tenant ids, stream names.
//! - [`value`]: the postcard-friendly value type for schema-driven fields.
//! - [`attrs`]: compact field sets for long-lived rows (interned names).
//! - [`changes`]: an update's changed fields, read flat from their encoding.
//! - [`domain`]: the domain events, one file per family, and the [`Event`] enum.
//! - [`upcast`]: old payload versions → today's types.
//! - [`envelope`]: offset, stream, tenant, type, time, actor... around a payload.
//! - [`batch`]: batches of decoded events with borrowed envelopes (replay).
//! - [`codec`]: record format, CRC and the hash chain; borrowed record views.
//! - [`frame`]: a group commit's records as one frame (reusable by any backend).
//! - [`log`]: the [`EventLog`] trait, expectations and errors.
//! - [`segment_log`]: the log: group commit writer, readers, subscriptions.
//! - [`layout`]: where the log lives in a data directory; its lock.
//! - [`segment`]: segment files, the segment writer and the sequential reader.
//! - [`files`]: the file layer under the writer (injectable for tests).
//! - [`heads`]: the writer's stream heads for optimistic concurrency, bounded.
//! - [`index`]: the sled indexes (stream versions, frame pointers).
//! - [`recovery`]: opening: torn tails, corruption, index catch-up, tail check.
//! - [`migrate`]: the one-time migration of a wave-1 data directory.
//! - [`wave1`]: reading wave-1 data directories (records inside sled).
//! - [`progress`]: progress reports of long operations.
//! - [`verify`]: full-log verification (CRC, density, hash chain).
//! - [`raw`]: writer-less access for the offline tools.
//! - [`export`]: JSON Lines export and chain-checked import.
//! - [`jetstream`]: the log on a NATS JetStream stream shared by several nodes.
//! - [`conformance`]: the test suite every [`EventLog`] backend must pass.

pub mod attrs;
pub mod batch;
pub mod changes;
pub mod codec;
pub mod conformance;
pub mod domain;
pub mod envelope;
pub mod export;
pub mod files;
pub mod frame;
pub mod heads;
pub mod ids;
pub mod index;
pub mod jetstream;
pub mod layout;
pub mod log;
pub mod migrate;
pub mod progress;
pub mod raw;
mod recovery;
pub mod segment;
pub mod segment_log;
pub mod upcast;
pub mod value;
pub mod verify;
pub mod wave1;

pub use attrs::{Attrs, FieldSet};
pub use batch::{EventBatch, EventBatches, ReadEventsError};
pub use changes::Changes;
pub use domain::{CodecError, Event};
pub use envelope::{Envelope, EnvelopeRef, Metadata, MetadataRef, NewEvent};
pub use ids::{Id, StreamId, TenantId, SYSTEM_TENANT};
pub use log::{
    AppendError, AppendRequest, Appended, Basis, CommitObserver, CommitStats, EventLog, Expected,
    LogError,
};
pub use segment_log::{Durability, LogConfig, OpenError, SegmentLog, SledLog};
pub use value::{Fields, Value, ValueRef};

impl Event {
    /// Encodes this event for appending in `tenant`.
    pub fn to_new_event(&self, tenant: TenantId) -> Result<NewEvent, CodecError> {
        Ok(NewEvent {
            stream: self.stream(),
            tenant,
            event_type: self.event_type(),
            schema_version: self.schema_version(),
            payload: self.encode()?,
        })
    }

    /// Decodes the payload of a stored envelope.
    pub fn from_envelope(envelope: &Envelope) -> Result<Event, CodecError> {
        Event::decode(
            &envelope.event_type,
            envelope.schema_version,
            &envelope.payload,
        )
    }
}
