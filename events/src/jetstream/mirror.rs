//! A node's copy of the JetStream log: every commit message applied in
//! stream order, checked (frame header, record CRCs, dense offsets, hash
//! chain, stream versions), and indexed for the reads of [`EventLog`].
//!
//! The writer (its own acknowledged commits, and what it fetches after a
//! lost race) and the follower (the ordered consumer) both apply into the
//! same mirror; applying is idempotent by stream sequence, so whichever
//! comes first wins and the other is a no-op.
//!
//! [`EventLog`]: crate::EventLog

use crate::codec::{self, RecordView, GENESIS_HASH};
use crate::envelope::Envelope;
use crate::frame;
use crate::ids::{StreamId, TenantId};
use crate::log::LogError;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};

/// How many recent commit ids the mirror remembers (to learn whether a
/// publish whose outcome was unknown landed).
const RECENT_COMMITS: usize = 4096;

/// One record: its bytes (a slice of the commit message) and its hash.
#[derive(Clone)]
struct Slot {
    bytes: Bytes,
    hash: [u8; 32],
}

/// What applying a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// The message was the next one and is now part of the mirror.
    Applied,
    /// The mirror already had it.
    Already,
}

/// The mirrored log.
pub(crate) struct Mirror {
    records: Vec<Slot>,
    /// Offsets of each stream's versions, keyed by the stream's name.
    streams: HashMap<Box<str>, Vec<u64>>,
    tenants: HashMap<TenantId, u64>,
    last_hash: [u8; 32],
    last_seq: u64,
    last_time_us: i64,
    recent: VecDeque<(u64, Option<String>)>,
}

/// A message of the stream: its sequence, commit id and payload.
pub(crate) struct Message<'a> {
    /// Stream sequence.
    pub seq: u64,
    /// The `Nats-Msg-Id` header (the commit id), if any.
    pub commit_id: Option<&'a str>,
    /// Whether the message is a marker (no records).
    pub marker: bool,
    /// The frame.
    pub payload: &'a Bytes,
}

fn corrupt(offset: u64, reason: impl Into<String>) -> LogError {
    LogError::Corrupt {
        offset,
        reason: reason.into(),
    }
}

impl Mirror {
    pub(crate) fn new() -> Mirror {
        Mirror {
            records: Vec::new(),
            streams: HashMap::new(),
            tenants: HashMap::new(),
            last_hash: GENESIS_HASH,
            last_seq: 0,
            last_time_us: i64::MIN,
            recent: VecDeque::new(),
        }
    }

    /// The offset of the last record (0 when empty).
    pub(crate) fn head(&self) -> u64 {
        self.records.len() as u64
    }

    /// The stream sequence of the last applied message.
    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The last record's hash (the next record's `prev_hash`).
    pub(crate) fn last_hash(&self) -> [u8; 32] {
        self.last_hash
    }

    /// The largest `recorded_at` so far (microseconds).
    pub(crate) fn last_time_us(&self) -> i64 {
        self.last_time_us
    }

    /// A stream's version (0 if absent).
    pub(crate) fn version(&self, stream: &StreamId) -> u64 {
        self.streams
            .get(stream.as_str())
            .map_or(0, |v| v.len() as u64)
    }

    /// The offset of the last record recorded in `tenant` (0 if none).
    pub(crate) fn tenant_last(&self, tenant: TenantId) -> u64 {
        self.tenants.get(&tenant).copied().unwrap_or(0)
    }

    /// The commit id of the message at `seq`, if it is still remembered.
    pub(crate) fn commit_at(&self, seq: u64) -> Option<Option<&str>> {
        self.recent
            .iter()
            .rev()
            .find(|(s, _)| *s == seq)
            .map(|(_, id)| id.as_deref())
    }

    /// The offsets of `stream`'s versions ≥ `from_version`.
    pub(crate) fn stream_offsets(&self, stream: &StreamId, from_version: u64) -> Vec<u64> {
        match self.streams.get(stream.as_str()) {
            Some(offsets) => {
                let skip = from_version.max(1) as usize - 1;
                offsets.get(skip..).unwrap_or(&[]).to_vec()
            }
            None => Vec::new(),
        }
    }

    /// The record at `offset`, decoded.
    pub(crate) fn envelope(&self, offset: u64) -> Option<Result<Envelope, LogError>> {
        let slot = self.records.get(offset.checked_sub(1)? as usize)?;
        Some(
            codec::decode_checked(&slot.bytes, slot.hash)
                .map_err(|e| corrupt(offset, e.to_string())),
        )
    }

    /// The raw records from `from` on, at most `max` of them (bytes and
    /// hash), for readers that decode outside the lock.
    pub(crate) fn raw(&self, from: u64, max: usize) -> Vec<(Bytes, [u8; 32])> {
        let start = from.max(1) as usize - 1;
        self.records
            .iter()
            .skip(start)
            .take(max)
            .map(|s| (s.bytes.clone(), s.hash))
            .collect()
    }

    /// Applies the message at `msg.seq` if it is the next one. A sequence
    /// after the next one means the stream lost messages (it is created
    /// with deletes and purges denied): corruption.
    pub(crate) fn apply(&mut self, msg: &Message<'_>) -> Result<Applied, LogError> {
        if msg.seq <= self.last_seq {
            return Ok(Applied::Already);
        }
        let next = self.head() + 1;
        if msg.seq != self.last_seq + 1 {
            return Err(corrupt(
                next,
                format!(
                    "stream message {} follows {}: messages are missing",
                    msg.seq, self.last_seq
                ),
            ));
        }
        if !msg.marker {
            self.apply_frame(msg.payload, next)?;
        }
        self.last_seq = msg.seq;
        self.recent
            .push_back((msg.seq, msg.commit_id.map(str::to_owned)));
        if self.recent.len() > RECENT_COMMITS {
            self.recent.pop_front();
        }
        Ok(Applied::Applied)
    }

    /// Checks a whole frame first, then adds its records: a bad frame
    /// changes nothing.
    fn apply_frame(&mut self, payload: &Bytes, next: u64) -> Result<(), LogError> {
        let (frame, len) =
            frame::parse_frame(payload).map_err(|e| corrupt(next, format!("commit frame: {e}")))?;
        if len != payload.len() {
            return Err(corrupt(next, "bytes after the commit frame"));
        }
        if frame.header.first_offset != next {
            return Err(corrupt(
                next,
                format!(
                    "the commit starts at offset {}, the log is at {}",
                    frame.header.first_offset,
                    next - 1
                ),
            ));
        }
        let base = payload.as_ptr() as usize;
        let mut prev = self.last_hash;
        let mut time = self.last_time_us;
        let mut staged: HashMap<&str, u64> = HashMap::new();
        let mut slots = Vec::with_capacity(frame.header.count as usize);
        let mut entries = Vec::with_capacity(frame.header.count as usize);
        for (i, record) in frame.records().enumerate() {
            let offset = next + i as u64;
            let hash = codec::hash_record(record);
            let view = RecordView::parse(record).map_err(|e| corrupt(offset, e.to_string()))?;
            if view.offset != offset {
                return Err(corrupt(
                    offset,
                    format!("the record says offset {}", view.offset),
                ));
            }
            if *view.prev_hash != prev {
                return Err(corrupt(offset, "the hash chain is broken"));
            }
            if !StreamId::is_valid(view.stream) {
                return Err(corrupt(
                    offset,
                    format!("invalid stream name {:?}", view.stream),
                ));
            }
            let version = match staged.get(view.stream) {
                Some(v) => *v,
                None => self.streams.get(view.stream).map_or(0, |v| v.len() as u64),
            } + 1;
            if view.stream_version != version {
                return Err(corrupt(
                    offset,
                    format!(
                        "{} version {} where {version} was next",
                        view.stream, view.stream_version
                    ),
                ));
            }
            staged.insert(view.stream, version);
            time = time.max(view.recorded_at_us);
            let start = record.as_ptr() as usize - base;
            slots.push(Slot {
                bytes: payload.slice(start..start + record.len()),
                hash,
            });
            entries.push((view.stream.to_owned(), view.tenant, offset));
            prev = hash;
        }
        self.records.extend(slots);
        for (stream, tenant, offset) in entries {
            self.tenants.insert(crate::Id(tenant), offset);
            match self.streams.get_mut(stream.as_str()) {
                Some(offsets) => offsets.push(offset),
                None => {
                    self.streams.insert(stream.into_boxed_str(), vec![offset]);
                }
            }
        }
        self.last_hash = prev;
        self.last_time_us = time;
        Ok(())
    }
}
