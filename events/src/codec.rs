//! Record framing: how one envelope becomes bytes on disk and back.
//!
//! ```text
//! record = format:u8 (=1) · body:postcard(RecordBody) · prev_hash:[u8;32] · crc32:u32le
//! hash(record) = blake3(record)            the next record's prev_hash
//! ```
//!
//! The CRC catches torn or rotted bytes cheaply on every read; the blake3
//! chain makes removal, reordering or a recomputed CRC detectable by
//! `switchboard log verify`, because changing one record changes every hash
//! after it.

use crate::envelope::{Envelope, EnvelopeRef, Metadata, MetadataRef, NewEvent};
use crate::ids::{Id, StreamId};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use time::OffsetDateTime;

/// The current record format.
pub const RECORD_FORMAT: u8 = 1;

/// The hash that precedes offset 1.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

#[derive(Serialize, Deserialize)]
struct RecordBody<'a> {
    offset: u64,
    stream: &'a str,
    stream_version: u64,
    tenant: u64,
    event_type: &'a str,
    schema_version: u16,
    recorded_at_us: i64,
    actor_id: Option<u64>,
    actor_name: &'a str,
    request_id: Option<&'a str>,
    source_ip: Option<IpAddr>,
    via: &'a str,
    payload: &'a [u8],
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Shorter than the fixed framing.
    #[error("record truncated ({0} bytes)")]
    Truncated(usize),
    /// The stored CRC does not match the bytes.
    #[error("checksum mismatch (stored {stored:08x}, computed {computed:08x})")]
    Checksum {
        /// CRC found in the record.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// An unknown framing version.
    #[error("unknown record format {0}")]
    Format(u8),
    /// The body does not decode.
    #[error("undecodable record body: {0}")]
    Body(String),
}

/// The fields the writer supplies for one record.
pub struct RecordParts<'a> {
    /// Global offset.
    pub offset: u64,
    /// Stream name.
    pub stream: &'a str,
    /// Version within the stream.
    pub stream_version: u64,
    /// Tenant id.
    pub tenant: u64,
    /// Event type name.
    pub event_type: &'a str,
    /// Payload schema version.
    pub schema_version: u16,
    /// Recorded time in microseconds since the Unix epoch.
    pub recorded_at_us: i64,
    /// Who and where.
    pub metadata: &'a Metadata,
    /// Encoded payload.
    pub payload: &'a [u8],
    /// Hash of the previous record.
    pub prev_hash: &'a [u8; 32],
}

impl<'a> RecordParts<'a> {
    /// The record of `ev`, an event of an append with `metadata`, as the
    /// writer numbered, timed and chained it.
    pub fn of_event(
        ev: &'a NewEvent,
        metadata: &'a Metadata,
        offset: u64,
        stream_version: u64,
        recorded_at_us: i64,
        prev_hash: &'a [u8; 32],
    ) -> RecordParts<'a> {
        RecordParts {
            offset,
            stream: ev.stream.as_str(),
            stream_version,
            tenant: ev.tenant.0,
            event_type: ev.event_type,
            schema_version: ev.schema_version,
            recorded_at_us,
            metadata,
            payload: &ev.payload,
            prev_hash,
        }
    }
}

/// Encodes a record; returns the bytes and their hash.
pub fn encode_record(parts: &RecordParts<'_>) -> Result<(Vec<u8>, [u8; 32]), RecordError> {
    let mut out = Vec::with_capacity(64 + parts.payload.len() + parts.stream.len());
    let hash = encode_record_into(&mut out, parts)?;
    Ok((out, hash))
}

/// Encodes a record at the end of `buf` (the writer's frame, so a record
/// is neither allocated nor copied on its own); returns its hash. On an
/// error `buf` is as it was.
pub fn encode_record_into(
    buf: &mut Vec<u8>,
    parts: &RecordParts<'_>,
) -> Result<[u8; 32], RecordError> {
    let body = RecordBody {
        offset: parts.offset,
        stream: parts.stream,
        stream_version: parts.stream_version,
        tenant: parts.tenant,
        event_type: parts.event_type,
        schema_version: parts.schema_version,
        recorded_at_us: parts.recorded_at_us,
        actor_id: parts.metadata.actor_id.map(|i| i.0),
        actor_name: &parts.metadata.actor_name,
        request_id: parts.metadata.request_id.as_deref(),
        source_ip: parts.metadata.source_ip,
        via: &parts.metadata.via,
        payload: parts.payload,
    };
    let start = buf.len();
    buf.reserve(64 + parts.payload.len() + parts.stream.len());
    buf.push(RECORD_FORMAT);
    if let Err(e) = postcard::serialize_with_flavor(&body, Extending(&mut *buf)) {
        buf.truncate(start);
        return Err(RecordError::Body(e.to_string()));
    }
    buf.extend_from_slice(parts.prev_hash);
    let crc = crc32fast::hash(&buf[start..]);
    buf.extend_from_slice(&crc.to_le_bytes());
    Ok(*blake3::hash(&buf[start..]).as_bytes())
}

/// A postcard output that appends to a borrowed buffer.
struct Extending<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Extending<'_> {
    type Output = ();

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Checks the CRC and framing without decoding the body; returns the hash.
pub fn check_record(bytes: &[u8]) -> Result<[u8; 32], RecordError> {
    check_crc(bytes)?;
    Ok(hash_record(bytes))
}

/// The record's hash (what the next record's `prev_hash` must be).
pub fn hash_record(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

/// Checks the CRC and framing only (no blake3): the cheap check every read
/// does. The hash chain is checked by `log verify` and the tail check.
pub fn check_crc(bytes: &[u8]) -> Result<(), RecordError> {
    if bytes.len() < 1 + 32 + 4 {
        return Err(RecordError::Truncated(bytes.len()));
    }
    let (data, crc) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let computed = crc32fast::hash(data);
    if stored != computed {
        return Err(RecordError::Checksum { stored, computed });
    }
    if data[0] != RECORD_FORMAT {
        return Err(RecordError::Format(data[0]));
    }
    Ok(())
}

/// Decodes a record into an envelope, checking its CRC and computing its hash.
pub fn decode_record(bytes: &[u8]) -> Result<Envelope, RecordError> {
    let hash = check_record(bytes)?;
    decode_checked(bytes, hash)
}

/// Decodes a record whose CRC was already checked, with its known hash.
pub fn decode_checked(bytes: &[u8], hash: [u8; 32]) -> Result<Envelope, RecordError> {
    RecordView::parse(bytes)?.to_envelope(hash)
}

/// A record decoded in place: every field borrows from the record bytes, so
/// reading one costs no allocation. The replay, recovery and index paths
/// use it; [`RecordView::to_envelope`] makes the owned [`Envelope`].
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// Global offset.
    pub offset: u64,
    /// Stream name (not yet checked; [`RecordView::to_envelope`] checks it).
    pub stream: &'a str,
    /// Version within the stream.
    pub stream_version: u64,
    /// Tenant id.
    pub tenant: u64,
    /// Event type name.
    pub event_type: &'a str,
    /// Payload schema version.
    pub schema_version: u16,
    /// Recorded time in microseconds since the Unix epoch.
    pub recorded_at_us: i64,
    /// Acting user id.
    pub actor_id: Option<u64>,
    /// Acting user name.
    pub actor_name: &'a str,
    /// Request id.
    pub request_id: Option<&'a str>,
    /// Client address.
    pub source_ip: Option<IpAddr>,
    /// Dialect or tool.
    pub via: &'a str,
    /// The postcard payload.
    pub payload: &'a [u8],
    /// The previous record's hash.
    pub prev_hash: &'a [u8; 32],
}

impl<'a> RecordView<'a> {
    /// Parses a record's fields in place. Does not check the CRC: call
    /// [`check_crc`] or [`check_record`] first.
    pub fn parse(bytes: &'a [u8]) -> Result<RecordView<'a>, RecordError> {
        if bytes.len() < 1 + 32 + 4 {
            return Err(RecordError::Truncated(bytes.len()));
        }
        let data = &bytes[..bytes.len() - 4];
        let body_bytes = &data[1..data.len() - 32];
        let prev_hash: &[u8; 32] = data[data.len() - 32..]
            .try_into()
            .map_err(|_| RecordError::Truncated(bytes.len()))?;
        let (body, rest): (RecordBody<'a>, &[u8]) =
            postcard::take_from_bytes(body_bytes).map_err(|e| RecordError::Body(e.to_string()))?;
        if !rest.is_empty() {
            return Err(RecordError::Body(format!("{} trailing bytes", rest.len())));
        }
        Ok(RecordView {
            offset: body.offset,
            stream: body.stream,
            stream_version: body.stream_version,
            tenant: body.tenant,
            event_type: body.event_type,
            schema_version: body.schema_version,
            recorded_at_us: body.recorded_at_us,
            actor_id: body.actor_id,
            actor_name: body.actor_name,
            request_id: body.request_id,
            source_ip: body.source_ip,
            via: body.via,
            payload: body.payload,
            prev_hash,
        })
    }

    /// The borrowed envelope, given this record's hash: checks the stream
    /// name and the time.
    pub fn to_ref(&self, hash: [u8; 32]) -> Result<EnvelopeRef<'a>, RecordError> {
        if !StreamId::is_valid(self.stream) {
            return Err(RecordError::Body(format!(
                "invalid stream name {:?}",
                self.stream
            )));
        }
        let recorded_at =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.recorded_at_us) * 1000)
                .map_err(|e| RecordError::Body(e.to_string()))?;
        Ok(EnvelopeRef {
            offset: self.offset,
            stream: self.stream,
            stream_version: self.stream_version,
            tenant: Id(self.tenant),
            event_type: self.event_type,
            schema_version: self.schema_version,
            recorded_at,
            metadata: MetadataRef {
                actor_id: self.actor_id.map(Id),
                actor_name: self.actor_name,
                request_id: self.request_id,
                source_ip: self.source_ip,
                via: self.via,
            },
            payload: self.payload,
            prev_hash: *self.prev_hash,
            hash,
        })
    }

    /// The owned envelope, given this record's hash.
    pub fn to_envelope(&self, hash: [u8; 32]) -> Result<Envelope, RecordError> {
        Ok(self.to_ref(hash)?.to_envelope())
    }
}

/// Microseconds since the Unix epoch.
pub fn to_micros(t: OffsetDateTime) -> i64 {
    // Saturate: a clock beyond year 294,247 is not a concern, but must not panic.
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Metadata {
        Metadata {
            actor_id: Some(Id(9)),
            actor_name: "alice".into(),
            request_id: Some("req-1".into()),
            source_ip: Some("127.0.0.1".parse().expect("ip")),
            via: "portsip".into(),
        }
    }

    fn parts<'a>(meta: &'a Metadata, prev: &'a [u8; 32]) -> RecordParts<'a> {
        RecordParts {
            offset: 1,
            stream: "user-9",
            stream_version: 1,
            tenant: 3,
            event_type: "UserCreated",
            schema_version: 1,
            recorded_at_us: 1_700_000_000_000_000,
            metadata: meta,
            payload: b"hello",
            prev_hash: prev,
        }
    }

    fn sample(prev: &[u8; 32]) -> (Vec<u8>, [u8; 32]) {
        encode_record(&parts(&meta(), prev)).expect("encodes")
    }

    #[test]
    fn a_record_encoded_at_the_end_of_a_buffer_is_the_same_record() {
        let (alone, hash) = sample(&GENESIS_HASH);
        let mut buf = b"earlier records".to_vec();
        let into = encode_record_into(&mut buf, &parts(&meta(), &GENESIS_HASH)).expect("encodes");
        assert_eq!(into, hash);
        assert_eq!(&buf[..15], b"earlier records");
        assert_eq!(&buf[15..], &alone[..]);
    }

    /// Round trip only: the bytes and hashes themselves are pinned by
    /// `events/tests/golden_records.rs`.
    #[test]
    fn a_record_round_trips_with_its_hash_and_chain() {
        let (bytes, hash) = sample(&GENESIS_HASH);
        let env = decode_record(&bytes).expect("decodes");
        assert_eq!(env.offset, 1);
        assert_eq!(env.stream.as_str(), "user-9");
        assert_eq!(env.tenant, Id(3));
        assert_eq!(env.payload, b"hello");
        assert_eq!(env.metadata.actor_name, "alice");
        assert_eq!(env.hash, hash);
        assert_eq!(env.prev_hash, GENESIS_HASH);
    }

    #[test]
    fn every_single_flipped_byte_is_detected() {
        let (bytes, _) = sample(&GENESIS_HASH);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(decode_record(&bad).is_err(), "flip at {i} went unnoticed");
        }
    }

    #[test]
    fn truncated_records_are_errors_not_panics() {
        let (bytes, _) = sample(&GENESIS_HASH);
        for n in 0..bytes.len() {
            assert!(decode_record(&bytes[..n]).is_err());
        }
    }
}
