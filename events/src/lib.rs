//! # switchboard-events: the facts
//!
//! Everything switchboard knows is an event in this log. This crate holds
//! the domain event types, the envelope around them, the on-disk codec, and
//! the durable log itself (sled, behind the [`EventLog`] trait).
//!
//! # Layout
//! - [`ids`]: resource ids, tenant ids, stream names.
//! - [`value`]: the postcard-friendly value type for schema-driven fields.
//! - [`domain`]: the domain events, one file per family, and the [`Event`] enum.
//! - [`upcast`]: old payload versions → today's types.
//! - [`envelope`]: offset, stream, tenant, type, time, actor... around a payload.
//! - [`codec`]: record framing, CRC and the hash chain.
//! - [`log`]: the [`EventLog`] trait, expectations and errors.
//! - [`sled_log`]: the sled implementation with group commit.
//! - [`verify`]: full-log verification (CRC, density, hash chain).
//! - [`raw`]: writer-less access for the offline tools.
//! - [`export`]: JSON Lines export and chain-checked import.

pub mod codec;
pub mod domain;
pub mod envelope;
pub mod export;
pub mod ids;
pub mod log;
pub mod raw;
pub mod sled_log;
pub mod upcast;
pub mod value;
pub mod verify;

pub use domain::{CodecError, Event};
pub use envelope::{Envelope, Metadata, NewEvent};
pub use ids::{Id, StreamId, TenantId, SYSTEM_TENANT};
pub use log::{
    AppendError, AppendRequest, Appended, CommitObserver, CommitStats, EventLog, Expected, LogError,
};
pub use sled_log::{Durability, LogConfig, OpenError, SledLog};
pub use value::{Fields, Value};

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
