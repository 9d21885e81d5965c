//! Group commit framing: a whole group commit as one byte string.
//!
//! The writer frames every record of a group commit into one frame and
//! hands it to storage in one write. The same frame is the unit a
//! replicated backend would ship (one message per group commit), so this
//! module depends on nothing but the record codec.
//!
//! ```text
//! frame  = header · count × (len:u32le · record)
//! header = magic "SBC1" · body_len:u32le · first_offset:u64le · count:u32le · header_crc:u32le
//! ```
//!
//! `header_crc` is the CRC32 of the 20 bytes before it. Every record keeps
//! its own CRC and hash chain (see [`crate::codec`]), so a frame is complete
//! only when its header checks, all `body_len` bytes are present and every
//! record inside checks. A frame is the atomicity unit on disk: recovery
//! keeps a frame whole or drops it whole, never part of one.

use crate::codec::{self, RecordError};

/// The first four bytes of every frame.
pub const FRAME_MAGIC: [u8; 4] = *b"SBC1";

/// Bytes in a frame header.
pub const FRAME_HEADER_LEN: usize = 24;

/// Largest body a frame may declare (guards against a garbage length).
pub const MAX_FRAME_BODY: usize = 1 << 30;

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Bytes after the header.
    pub body_len: u32,
    /// Offset of the first record.
    pub first_offset: u64,
    /// Number of records.
    pub count: u32,
}

impl FrameHeader {
    /// Offset of the last record.
    pub fn last_offset(&self) -> u64 {
        self.first_offset + u64::from(self.count) - 1
    }

    /// Total bytes of the frame, header included.
    pub fn frame_len(&self) -> usize {
        FRAME_HEADER_LEN + self.body_len as usize
    }
}

/// Why bytes are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than the header or its declared body (a torn tail, or a
    /// read that must fetch more).
    #[error("frame incomplete: {have} of {need} bytes")]
    Incomplete {
        /// Bytes available.
        have: usize,
        /// Bytes the frame needs.
        need: usize,
    },
    /// The header is not a frame header (wrong magic, CRC, or an
    /// impossible length or count).
    #[error("bad frame header: {0}")]
    Header(String),
    /// A record inside does not check.
    #[error("record {index} of the frame (offset {offset}): {source}")]
    Record {
        /// Position of the record in the frame.
        index: u32,
        /// Its offset by position.
        offset: u64,
        /// What is wrong.
        source: RecordError,
    },
    /// The records do not fill the body exactly.
    #[error("frame body malformed: {0}")]
    Body(String),
}

impl FrameError {
    /// The offset the error is at, given the frame's first offset.
    pub fn offset(&self, first_offset: u64) -> u64 {
        match self {
            FrameError::Record { offset, .. } => *offset,
            _ => first_offset,
        }
    }
}

/// Builds one frame from records appended in offset order.
#[derive(Debug)]
pub struct FrameBuilder {
    buf: Vec<u8>,
    first_offset: u64,
    count: u32,
}

impl FrameBuilder {
    /// An empty frame whose first record will be `first_offset`.
    pub fn new(first_offset: u64) -> FrameBuilder {
        FrameBuilder::with_buffer(Vec::new(), first_offset)
    }

    /// Like [`FrameBuilder::new`], reusing `buf`'s allocation.
    pub fn with_buffer(mut buf: Vec<u8>, first_offset: u64) -> FrameBuilder {
        buf.clear();
        buf.resize(FRAME_HEADER_LEN, 0);
        FrameBuilder {
            buf,
            first_offset,
            count: 0,
        }
    }

    /// Like [`FrameBuilder::new`], with room for `bytes` of records.
    pub fn with_capacity(bytes: usize, first_offset: u64) -> FrameBuilder {
        FrameBuilder::with_buffer(Vec::with_capacity(FRAME_HEADER_LEN + bytes), first_offset)
    }

    /// Appends one record that `encode` writes at the end of the buffer it
    /// is given (as [`codec::encode_record_into`] does); if it fails, the
    /// frame is as it was.
    pub fn push_with<T, E>(
        &mut self,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<T, E>,
    ) -> Result<T, E> {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        match encode(&mut self.buf) {
            Ok(t) => {
                let len = u32::try_from(self.buf.len() - at - 4).unwrap_or(u32::MAX);
                self.buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
                self.count += 1;
                Ok(t)
            }
            Err(e) => {
                self.buf.truncate(at);
                Err(e)
            }
        }
    }

    /// Appends one record (its bytes as [`codec::encode_record`] made them).
    pub fn push(&mut self, record: &[u8]) {
        let len = u32::try_from(record.len()).unwrap_or(u32::MAX);
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(record);
        self.count += 1;
    }

    /// Drops records pushed after the frame had `count` records and `len`
    /// bytes (an append whose framing failed half-way).
    pub fn rollback(&mut self, len: usize, count: u32) {
        self.buf.truncate(len.max(FRAME_HEADER_LEN));
        self.count = count;
    }

    /// Records pushed so far.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Bytes so far, header included.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Writes the header and returns the frame.
    pub fn finish(mut self) -> Vec<u8> {
        let body_len = u32::try_from(self.buf.len() - FRAME_HEADER_LEN).unwrap_or(u32::MAX);
        write_header(
            &mut self.buf[..FRAME_HEADER_LEN],
            body_len,
            self.first_offset,
            self.count,
        );
        self.buf
    }
}

fn write_header(out: &mut [u8], body_len: u32, first_offset: u64, count: u32) {
    out[0..4].copy_from_slice(&FRAME_MAGIC);
    out[4..8].copy_from_slice(&body_len.to_le_bytes());
    out[8..16].copy_from_slice(&first_offset.to_le_bytes());
    out[16..20].copy_from_slice(&count.to_le_bytes());
    let crc = crc32fast::hash(&out[0..20]);
    out[20..24].copy_from_slice(&crc.to_le_bytes());
}

/// Frames `records` (in offset order, the first at `first_offset`).
pub fn frame_records<'r>(
    first_offset: u64,
    records: impl IntoIterator<Item = &'r [u8]>,
) -> Vec<u8> {
    let mut b = FrameBuilder::new(first_offset);
    for r in records {
        b.push(r);
    }
    b.finish()
}

/// Parses a frame header at the start of `bytes`.
pub fn parse_header(bytes: &[u8]) -> Result<FrameHeader, FrameError> {
    if bytes.len() < FRAME_HEADER_LEN {
        return Err(FrameError::Incomplete {
            have: bytes.len(),
            need: FRAME_HEADER_LEN,
        });
    }
    let h = &bytes[..FRAME_HEADER_LEN];
    if h[0..4] != FRAME_MAGIC {
        return Err(FrameError::Header("no frame magic".into()));
    }
    let le32 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let stored = le32(&h[20..24]);
    if crc32fast::hash(&h[0..20]) != stored {
        return Err(FrameError::Header("header checksum mismatch".into()));
    }
    let body_len = le32(&h[4..8]);
    let mut first = [0u8; 8];
    first.copy_from_slice(&h[8..16]);
    let first_offset = u64::from_le_bytes(first);
    let count = le32(&h[16..20]);
    if count == 0 || first_offset == 0 {
        return Err(FrameError::Header(format!(
            "impossible frame: {count} records from offset {first_offset}"
        )));
    }
    if body_len as usize > MAX_FRAME_BODY || (body_len as usize) < count as usize * 4 {
        return Err(FrameError::Header(format!(
            "impossible body length {body_len} for {count} records"
        )));
    }
    Ok(FrameHeader {
        body_len,
        first_offset,
        count,
    })
}

/// A frame whose header and record CRCs checked. Records borrow from the
/// bytes it was parsed from.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The header.
    pub header: FrameHeader,
    body: &'a [u8],
}

impl<'a> Frame<'a> {
    /// A frame whose `body` was checked by [`parse_frame`] with this header.
    pub(crate) fn from_checked(header: FrameHeader, body: &'a [u8]) -> Frame<'a> {
        Frame { header, body }
    }

    /// The records in order (already length- and CRC-checked).
    pub fn records(&self) -> Records<'a> {
        Records {
            rest: self.body,
            remaining: self.header.count,
        }
    }
}

/// Iterator over a checked frame's records.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
    remaining: u32,
}

impl<'a> Iterator for Records<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 || self.rest.len() < 4 {
            return None;
        }
        let len = u32::from_le_bytes([self.rest[0], self.rest[1], self.rest[2], self.rest[3]]);
        let end = 4 + len as usize;
        let record = self.rest.get(4..end)?;
        self.rest = &self.rest[end..];
        self.remaining -= 1;
        Some(record)
    }
}

/// Parses and checks the frame at the start of `bytes`: header, exact body
/// length, and every record's CRC (not the hash chain: the caller knows
/// the previous hash). Returns the frame and its length.
pub fn parse_frame(bytes: &[u8]) -> Result<(Frame<'_>, usize), FrameError> {
    let header = parse_header(bytes)?;
    let len = header.frame_len();
    if bytes.len() < len {
        return Err(FrameError::Incomplete {
            have: bytes.len(),
            need: len,
        });
    }
    let body = &bytes[FRAME_HEADER_LEN..len];
    let mut rest = body;
    for index in 0..header.count {
        let offset = header.first_offset + u64::from(index);
        if rest.len() < 4 {
            return Err(FrameError::Body(format!(
                "record {index} (offset {offset}) has no length"
            )));
        }
        let rlen = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let Some(record) = rest.get(4..4 + rlen) else {
            return Err(FrameError::Body(format!(
                "record {index} (offset {offset}) overruns the frame"
            )));
        };
        codec::check_crc(record).map_err(|source| FrameError::Record {
            index,
            offset,
            source,
        })?;
        rest = &rest[4 + rlen..];
    }
    if !rest.is_empty() {
        return Err(FrameError::Body(format!(
            "{} bytes after the last record",
            rest.len()
        )));
    }
    Ok((Frame { header, body }, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{encode_record, RecordParts, GENESIS_HASH};
    use crate::envelope::Metadata;

    fn records(n: u64) -> Vec<Vec<u8>> {
        let meta = Metadata::system("test");
        let mut prev = GENESIS_HASH;
        (1..=n)
            .map(|offset| {
                let (bytes, hash) = encode_record(&RecordParts {
                    offset,
                    stream: "user-1",
                    stream_version: offset,
                    tenant: 1,
                    event_type: "UserUpdated",
                    schema_version: 1,
                    recorded_at_us: 1_700_000_000_000_000,
                    metadata: &meta,
                    payload: b"payload",
                    prev_hash: &prev,
                })
                .expect("encodes");
                prev = hash;
                bytes
            })
            .collect()
    }

    #[test]
    fn records_encoded_in_place_make_the_same_frame_and_a_failed_one_leaves_no_trace() {
        // Given three records, framed the plain way.
        let recs = records(3);
        let plain = frame_records(1, recs.iter().map(Vec::as_slice));
        // When they are written into the frame's buffer instead, with a
        // failing encoding between the first and the second that had
        // already written bytes.
        let mut b = FrameBuilder::with_capacity(16, 1);
        for (i, rec) in recs.iter().enumerate() {
            if i == 1 {
                let failed: Result<(), &str> = b.push_with(|buf| {
                    buf.extend_from_slice(b"half a record");
                    Err("encoding failed")
                });
                assert_eq!(failed, Err("encoding failed"));
                assert_eq!(b.count(), 1);
            }
            let pushed: Result<usize, ()> = b.push_with(|buf| {
                buf.extend_from_slice(rec);
                Ok(rec.len())
            });
            assert_eq!(pushed, Ok(rec.len()));
        }
        // Then the frame is byte for byte the plain one.
        assert_eq!(b.finish(), plain);
    }

    #[test]
    fn a_frame_round_trips_its_records() {
        let recs = records(3);
        let frame = frame_records(1, recs.iter().map(Vec::as_slice));
        let (parsed, len) = parse_frame(&frame).expect("parses");
        assert_eq!(len, frame.len());
        assert_eq!(parsed.header.first_offset, 1);
        assert_eq!(parsed.header.last_offset(), 3);
        let back: Vec<&[u8]> = parsed.records().collect();
        assert_eq!(back, recs.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }

    #[test]
    fn every_prefix_of_a_frame_is_incomplete_and_every_flipped_byte_is_refused() {
        let recs = records(2);
        let frame = frame_records(5, recs.iter().map(Vec::as_slice));
        for n in 0..frame.len() {
            assert!(
                parse_frame(&frame[..n]).is_err(),
                "a {n}-byte prefix must not parse"
            );
        }
        for i in 0..frame.len() {
            let mut bad = frame.clone();
            bad[i] ^= 0x04;
            assert!(parse_frame(&bad).is_err(), "flip at {i} went unnoticed");
        }
    }

    #[test]
    fn garbage_lengths_are_refused_without_allocating() {
        let mut h = [0u8; FRAME_HEADER_LEN];
        write_header(&mut h, u32::MAX, 1, 1);
        assert!(matches!(parse_header(&h), Err(FrameError::Header(_))));
        write_header(&mut h, 8, 1, 0);
        assert!(matches!(parse_header(&h), Err(FrameError::Header(_))));
    }
}
