//! The envelope: everything recorded about one event besides its payload.

use crate::ids::{Id, StreamId, TenantId};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use time::OffsetDateTime;

/// Who caused an event, from where, and through which request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Metadata {
    /// The acting user's id; `None` for the system itself (bootstrap,
    /// expiry sweeps).
    pub actor_id: Option<Id>,
    /// The acting user's name at the time, kept so audit trails stay
    /// readable after the user is renamed or deleted.
    pub actor_name: String,
    /// The request id (also returned as `x-request-id`).
    pub request_id: Option<String>,
    /// The client's IP address.
    pub source_ip: Option<IpAddr>,
    /// Which API dialect or tool the change came through (`portsip`,
    /// `v1-links`, `cli`, `system`, ...).
    pub via: String,
}

impl Metadata {
    /// Metadata for changes the service makes by itself.
    pub fn system(via: &str) -> Metadata {
        Metadata {
            actor_id: None,
            actor_name: "system".to_owned(),
            request_id: None,
            source_ip: None,
            via: via.to_owned(),
        }
    }
}

/// An event as it is stored and read back: position, stream, scope, type,
/// time, metadata and the encoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Dense global position, starting at 1.
    pub offset: u64,
    /// The aggregate this event belongs to.
    pub stream: StreamId,
    /// The version of `stream` after this event (first event = 1).
    pub stream_version: u64,
    /// The tenant this event belongs to (0 = system scope).
    pub tenant: TenantId,
    /// The event type name, e.g. `UserCreated`.
    pub event_type: String,
    /// The schema version of the payload encoding.
    pub schema_version: u16,
    /// When the log recorded it (UTC, microsecond precision, never decreasing
    /// along offsets).
    pub recorded_at: OffsetDateTime,
    /// Who, from where, through what.
    pub metadata: Metadata,
    /// The postcard-encoded payload.
    pub payload: Vec<u8>,
    /// The hash of the previous record (all zeros before offset 1).
    pub prev_hash: [u8; 32],
    /// The hash of this record, which the next record chains to.
    pub hash: [u8; 32],
}

/// One event to append: the writer assigns offset, stream version and time.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The aggregate.
    pub stream: StreamId,
    /// The tenant scope.
    pub tenant: TenantId,
    /// Event type name.
    pub event_type: &'static str,
    /// Payload schema version.
    pub schema_version: u16,
    /// Postcard-encoded payload.
    pub payload: Vec<u8>,
}

/// Formats a timestamp as PortSIP does: RFC 3339, UTC, `Z`, whole seconds.
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// [`Metadata`] borrowed from wherever the record was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataRef<'a> {
    /// The acting user's id (`None`: the system).
    pub actor_id: Option<Id>,
    /// The acting user's name at the time.
    pub actor_name: &'a str,
    /// The request id.
    pub request_id: Option<&'a str>,
    /// The client's IP address.
    pub source_ip: Option<IpAddr>,
    /// The dialect or tool the change came through.
    pub via: &'a str,
}

impl MetadataRef<'_> {
    /// The owned metadata.
    pub fn to_owned(&self) -> Metadata {
        Metadata {
            actor_id: self.actor_id,
            actor_name: self.actor_name.to_owned(),
            request_id: self.request_id.map(str::to_owned),
            source_ip: self.source_ip,
            via: self.via.to_owned(),
        }
    }
}

/// An [`Envelope`] borrowed from a buffer it was read into: the same
/// fields, no allocation. Replay hands these to projections
/// ([`crate::log::EventBatch`]), so applying a million events builds no
/// million owned envelopes; [`Envelope::view`] gives one for an owned
/// envelope, [`EnvelopeRef::to_envelope`] goes the other way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeRef<'a> {
    /// Dense global position, starting at 1.
    pub offset: u64,
    /// The aggregate this event belongs to: a valid stream name
    /// ([`StreamId::is_valid`]; [`EnvelopeRef::to_envelope`] relies on it).
    pub stream: &'a str,
    /// The version of `stream` after this event.
    pub stream_version: u64,
    /// The tenant this event belongs to (0 = system scope).
    pub tenant: TenantId,
    /// The event type name.
    pub event_type: &'a str,
    /// The schema version of the payload encoding.
    pub schema_version: u16,
    /// When the log recorded it.
    pub recorded_at: OffsetDateTime,
    /// Who, from where, through what.
    pub metadata: MetadataRef<'a>,
    /// The postcard-encoded payload.
    pub payload: &'a [u8],
    /// The hash of the previous record.
    pub prev_hash: [u8; 32],
    /// The hash of this record.
    pub hash: [u8; 32],
}

impl EnvelopeRef<'_> {
    /// The owned envelope.
    pub fn to_envelope(&self) -> Envelope {
        Envelope {
            offset: self.offset,
            // Views are made from checked stream names only.
            stream: StreamId::trusted(self.stream),
            stream_version: self.stream_version,
            tenant: self.tenant,
            event_type: self.event_type.to_owned(),
            schema_version: self.schema_version,
            recorded_at: self.recorded_at,
            metadata: self.metadata.to_owned(),
            payload: self.payload.to_vec(),
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

impl Envelope {
    /// This envelope as a borrowed view.
    pub fn view(&self) -> EnvelopeRef<'_> {
        EnvelopeRef {
            offset: self.offset,
            stream: self.stream.as_str(),
            stream_version: self.stream_version,
            tenant: self.tenant,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            recorded_at: self.recorded_at,
            metadata: MetadataRef {
                actor_id: self.metadata.actor_id,
                actor_name: &self.metadata.actor_name,
                request_id: self.metadata.request_id.as_deref(),
                source_ip: self.metadata.source_ip,
                via: &self.metadata.via,
            },
            payload: &self.payload,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}
