//! Export and import of the log as JSON Lines.
//!
//! One line per record. Each line carries everything needed to rebuild the
//! record byte for byte (the payload as hex, the exact microsecond time, the
//! metadata), plus the record's own hash and the previous record's hash.
//! Import re-frames every line, recomputes its hash and checks it against
//! the line and against the next line's `prev_hash`, so a line that was
//! altered, dropped or moved is refused and named.
//!
//! Secrets never appear: events only ever held argon2 or SHA-256 hashes.

use crate::codec::{self, RecordParts, GENESIS_HASH};
use crate::envelope::{Envelope, Metadata};
use crate::ids::{Id, StreamId};
use crate::layout::LogDirs;
use crate::segment_log::LogConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One exported record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportLine {
    /// Global offset.
    pub offset: u64,
    /// Stream name.
    pub stream: String,
    /// Version within the stream.
    pub stream_version: u64,
    /// Tenant id (0 = system scope).
    pub tenant: u64,
    /// Event type name.
    pub event_type: String,
    /// Payload schema version.
    pub schema_version: u16,
    /// Recorded time, RFC 3339 with microseconds (for people).
    pub recorded_at: String,
    /// Recorded time in microseconds since the Unix epoch (authoritative).
    pub recorded_at_us: i64,
    /// Acting user id.
    pub actor_id: Option<u64>,
    /// Acting user name.
    pub actor_name: String,
    /// Request id.
    pub request_id: Option<String>,
    /// Client IP.
    pub source_ip: Option<std::net::IpAddr>,
    /// Dialect or tool.
    pub via: String,
    /// The decoded event, for people and tools (`null` if this build cannot
    /// decode it). Import ignores it: `payload` is authoritative.
    #[serde(default)]
    pub event: serde_json::Value,
    /// The postcard payload, lower-case hex.
    pub payload: String,
    /// This record's hash (hex).
    pub hash: String,
    /// The previous record's hash (hex; zeros before offset 1).
    pub prev_hash: String,
}

impl ExportLine {
    /// Builds the line for an envelope.
    pub fn from_envelope(env: &Envelope) -> ExportLine {
        let event = crate::Event::from_envelope(env)
            .ok()
            .and_then(|e| serde_json::to_value(&e).ok())
            .unwrap_or(serde_json::Value::Null);
        ExportLine {
            offset: env.offset,
            stream: env.stream.as_str().to_owned(),
            stream_version: env.stream_version,
            tenant: env.tenant.0,
            event_type: env.event_type.clone(),
            schema_version: env.schema_version,
            recorded_at: format_micros(env.recorded_at),
            recorded_at_us: codec::to_micros(env.recorded_at),
            actor_id: env.metadata.actor_id.map(|i| i.0),
            actor_name: env.metadata.actor_name.clone(),
            request_id: env.metadata.request_id.clone(),
            source_ip: env.metadata.source_ip,
            via: env.metadata.via.clone(),
            event,
            payload: hex(&env.payload),
            hash: hex(&env.hash),
            prev_hash: hex(&env.prev_hash),
        }
    }

    /// Re-frames the record from the line's fields, chained to `prev`;
    /// returns the bytes and their hash.
    pub fn reframe(&self, prev: &[u8; 32]) -> Result<(Vec<u8>, [u8; 32]), String> {
        let payload = unhex(&self.payload).ok_or("payload is not hex")?;
        StreamId::parse(&self.stream).map_err(|e| e.to_string())?;
        let metadata = Metadata {
            actor_id: self.actor_id.map(Id),
            actor_name: self.actor_name.clone(),
            request_id: self.request_id.clone(),
            source_ip: self.source_ip,
            via: self.via.clone(),
        };
        codec::encode_record(&RecordParts {
            offset: self.offset,
            stream: &self.stream,
            stream_version: self.stream_version,
            tenant: self.tenant,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            recorded_at_us: self.recorded_at_us,
            metadata: &metadata,
            payload: &payload,
            prev_hash: prev,
        })
        .map_err(|e| e.to_string())
    }
}

/// RFC 3339 with microseconds, UTC.
pub fn format_micros(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// Hex of arbitrary bytes.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses lower- or upper-case hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    unhex(s)?.try_into().ok()
}

/// Why an import was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A line is malformed or does not chain (altered, dropped, reordered).
    #[error("line {line}: {reason}")]
    Line {
        /// 1-based line number in the file.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The target already holds a log.
    #[error("the target data directory already holds {0} records; import needs a fresh one")]
    NotEmpty(u64),
    /// Storage failed.
    #[error("storage error: {0}")]
    Storage(String),
}

/// A checked record ready to write: offset, stream, stream version, bytes.
pub type FramedRecord = (u64, StreamId, u64, Vec<u8>);

/// What an import wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Records written.
    pub count: u64,
    /// Hash of the last record.
    pub head_hash: [u8; 32],
}

/// Checks a whole export (offsets dense from 1, every line's hash recomputed
/// from its fields, every `prev_hash` equal to the previous line's hash)
/// and returns the framed records. Nothing is written until every line
/// passed, so a refused import leaves no partial log behind.
pub fn check_lines<I>(lines: I) -> Result<Vec<FramedRecord>, ImportError>
where
    I: IntoIterator<Item = std::io::Result<String>>,
{
    let mut prev = GENESIS_HASH;
    let mut out = Vec::new();
    for (index, line) in lines.into_iter().enumerate() {
        let line_no = index as u64 + 1;
        let bad = |reason: String| ImportError::Line {
            line: line_no,
            reason,
        };
        let text = line.map_err(|e| bad(format!("unreadable: {e}")))?;
        if text.trim().is_empty() {
            continue;
        }
        let rec: ExportLine =
            serde_json::from_str(&text).map_err(|e| bad(format!("not an export line: {e}")))?;
        let expected_offset = out.len() as u64 + 1;
        if rec.offset != expected_offset {
            return Err(bad(format!(
                "offset {} where {expected_offset} was expected (a line was dropped or reordered, or the export does not start at offset 1)",
                rec.offset
            )));
        }
        let claimed_prev = unhex32(&rec.prev_hash)
            .ok_or_else(|| bad("prev_hash is not a 32-byte hex hash".into()))?;
        if claimed_prev != prev {
            return Err(bad(format!(
                "offset {}: prev_hash does not match the previous line's hash (a line was dropped, reordered or altered)",
                rec.offset
            )));
        }
        let (bytes, hash) = rec.reframe(&prev).map_err(bad)?;
        let claimed =
            unhex32(&rec.hash).ok_or_else(|| bad("hash is not a 32-byte hex hash".into()))?;
        if claimed != hash {
            return Err(bad(format!(
                "offset {}: the record's content does not match its hash (the line was altered)",
                rec.offset
            )));
        }
        // The readable parts must say what the authoritative parts say.
        if !rec.event.is_null() {
            let decoded = unhex(&rec.payload)
                .and_then(|p| crate::Event::decode(&rec.event_type, rec.schema_version, &p).ok())
                .and_then(|e| serde_json::to_value(&e).ok());
            if decoded.as_ref() != Some(&rec.event) {
                return Err(bad(format!(
                    "offset {}: the decoded event does not match the payload (the line was altered)",
                    rec.offset
                )));
            }
        }
        let time =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(rec.recorded_at_us) * 1000)
                .map(format_micros)
                .map_err(|e| bad(e.to_string()))?;
        if time != rec.recorded_at {
            return Err(bad(format!(
                "offset {}: recorded_at does not match recorded_at_us (the line was altered)",
                rec.offset
            )));
        }
        let stream = StreamId::parse(&rec.stream).map_err(|e| bad(e.to_string()))?;
        prev = hash;
        out.push((rec.offset, stream, rec.stream_version, bytes));
    }
    Ok(out)
}

/// Writes checked records (from [`check_lines`]) into a fresh data
/// directory's segments, one frame per original group commit, then builds
/// the index from them (which verifies the chain again). Refuses a
/// directory that already holds a log.
pub fn write_fresh(
    path: &Path,
    records: Vec<FramedRecord>,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> Result<ImportReport, ImportError> {
    let dirs = LogDirs::of(path);
    if crate::wave1::is_wave1(path) {
        return Err(ImportError::NotEmpty(0));
    }
    let mut config = LogConfig::new(path);
    config.progress = crate::progress::Progress::to(move |e| {
        if let crate::progress::ProgressEvent::Advance(n) = e {
            progress(n);
        }
    });
    if dirs.exists() {
        let present = crate::raw::RawLog::open(path)
            .and_then(|l| {
                l.last_offset()
                    .map_err(|e| crate::segment_log::OpenError::storage(path, e))
            })
            .map_err(|e| ImportError::Storage(e.to_string()))?;
        if present > 0 {
            return Err(ImportError::NotEmpty(present));
        }
        // An empty log (opened once, never written): start over.
        std::fs::remove_dir_all(&dirs.root).map_err(|e| ImportError::Storage(e.to_string()))?;
    }
    dirs.create()
        .map_err(|e| ImportError::Storage(e.to_string()))?;
    let lock = crate::layout::LogLock::acquire(&dirs.root).map_err(|e| {
        ImportError::Storage(format!("the data directory {} is {e}", path.display()))
    })?;
    let (count, head_hash) = crate::migrate::write_records(
        &dirs,
        &config,
        records.into_iter().map(|(_, _, _, bytes)| Ok(bytes)),
        &config.progress,
    )
    .map_err(ImportError::Storage)?;
    drop(lock);
    let (indexed, indexed_hash) =
        crate::SegmentLog::reindex(&config).map_err(|e| ImportError::Storage(e.to_string()))?;
    if (indexed, indexed_hash) != (count, head_hash) {
        return Err(ImportError::Storage(
            "the imported log does not verify to the export's head".into(),
        ));
    }
    Ok(ImportReport { count, head_hash })
}
