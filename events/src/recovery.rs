//! Opening a log: find where the valid records end, bring the index up to
//! them, and check the tail.
//!
//! The index says how far it got (`Meta`); everything after that is read
//! from the segments frame by frame, checked (CRC, dense offsets, the hash
//! chain from the indexed record on) and indexed. Where the bytes stop
//! being a complete frame:
//!
//! - at the tail of the last segment, with no complete frame anywhere after
//!   it, it is a **torn write**: a frame the writer had not finished (and so
//!   had not acknowledged) when the process or machine stopped. It is cut off
//!   (the bytes are kept under `log/torn/` for inspection);
//! - anywhere else (an earlier segment, or with a complete frame after it)
//!   it is **corruption** of acknowledged data, and opening is refused
//!   with the offset named.
//!
//! An index that is missing, unreadable, of another format, or ahead of the
//! segments (possible after power loss with durability `os`) is rebuilt
//! from the segments. Then the last `tail_check` records are verified
//! again, hash chain included.

use crate::codec::{self, RecordView, GENESIS_HASH};
use crate::frame;
use crate::ids::StreamId;
use crate::index::{Index, IndexError, IndexWriter, IndexedFrame};
use crate::layout::LogDirs;
use crate::progress::Progress;
use crate::segment::{
    check_segment_header, list_segments, read_full_at, segment_name, Cursor, Handles, Next, SegPos,
    SEGMENT_HEADER_LEN,
};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::Arc;

/// What opening found.
#[derive(Debug, Clone)]
pub(crate) struct Recovered {
    /// The last complete record (0 = empty).
    pub head: u64,
    /// Its hash.
    pub hash: [u8; 32],
    /// Its time.
    pub last_time_us: i64,
    /// Where the next frame goes (`None`: no segment exists yet).
    pub end: Option<SegPos>,
    /// Records checked and indexed by the scan.
    pub scanned: u64,
    /// Bytes cut off as a torn tail.
    pub torn_bytes: u64,
}

impl Recovered {
    /// An empty log (after cutting `torn_bytes` of a segment that never
    /// held an acknowledged frame).
    fn empty(torn_bytes: u64) -> Recovered {
        Recovered {
            head: 0,
            hash: GENESIS_HASH,
            last_time_us: 0,
            end: None,
            scanned: 0,
            torn_bytes,
        }
    }
}

/// Why a log cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Acknowledged data is damaged.
    Corrupt {
        /// The first bad offset.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Storage failed.
    Storage(String),
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Refusal {
        Refusal::Storage(e.to_string())
    }
}

impl From<IndexError> for Refusal {
    fn from(e: IndexError) -> Refusal {
        Refusal::Storage(e.to_string())
    }
}

fn corrupt(offset: u64, reason: impl Into<String>) -> Refusal {
    Refusal::Corrupt {
        offset,
        reason: reason.into(),
    }
}

/// Where a scan starts.
#[derive(Debug, Clone, Copy)]
struct Start {
    at: SegPos,
    next_offset: u64,
    hash: [u8; 32],
    /// From the index's meta (so a mismatch means "rebuild the index",
    /// not "the records are corrupt").
    from_index: bool,
}

enum ScanError {
    /// The index does not fit these segments: rebuild it.
    Restart(String),
    Refuse(Refusal),
}

impl<E: Into<Refusal>> From<E> for ScanError {
    fn from(e: E) -> ScanError {
        ScanError::Refuse(e.into())
    }
}

/// Recovers the log in `dirs` (see the module docs). `index` is brought up
/// to the last complete record.
pub(crate) fn recover(
    dirs: &LogDirs,
    handles: &Arc<Handles>,
    index: &Index,
    tail_check: usize,
    progress: &Progress,
) -> Result<Recovered, Refusal> {
    let segments = list_segments(&dirs.segments)?;
    let meta = index.meta()?;
    let Some(&first_segment) = segments.first() else {
        if meta.is_some() {
            tracing::warn!("the index describes records that no segment holds; clearing it");
            index.clear()?;
        }
        return Ok(Recovered::empty(0));
    };
    if first_segment != 1 {
        return Err(corrupt(
            1,
            format!(
                "the first segment is {}: the records before offset {first_segment} are missing",
                segment_name(first_segment)
            ),
        ));
    }
    let from_scratch = Start {
        at: SegPos {
            segment: 1,
            pos: SEGMENT_HEADER_LEN,
        },
        next_offset: 1,
        hash: GENESIS_HASH,
        from_index: false,
    };
    let start = match meta {
        Some(m)
            if segments.contains(&m.next.segment)
                && segment_len(dirs, m.next.segment)? >= m.next.pos =>
        {
            Start {
                at: m.next,
                next_offset: m.indexed_through + 1,
                hash: m.hash,
                from_index: true,
            }
        }
        Some(_) => {
            tracing::warn!("the index points past the segments; rebuilding it");
            index.clear()?;
            from_scratch
        }
        None => from_scratch,
    };
    let recovered = match scan(dirs, handles, index, &segments, start, tail_check, progress) {
        Ok(r) => r,
        Err(ScanError::Restart(why)) => {
            tracing::warn!(reason = %why, "the index does not match the segments; rebuilding it");
            index.clear()?;
            match scan(
                dirs,
                handles,
                index,
                &segments,
                from_scratch,
                tail_check,
                progress,
            ) {
                Ok(r) => r,
                Err(ScanError::Restart(why)) | Err(ScanError::Refuse(Refusal::Storage(why))) => {
                    return Err(Refusal::Storage(why))
                }
                Err(ScanError::Refuse(r)) => return Err(r),
            }
        }
        Err(ScanError::Refuse(r)) => return Err(r),
    };
    Ok(recovered)
}

fn segment_len(dirs: &LogDirs, segment: u64) -> io::Result<u64> {
    Ok(std::fs::metadata(dirs.segments.join(segment_name(segment)))?.len())
}

fn scan(
    dirs: &LogDirs,
    handles: &Arc<Handles>,
    index: &Index,
    segments: &[u64],
    start: Start,
    tail_check: usize,
    progress: &Progress,
) -> Result<Recovered, ScanError> {
    if !start.from_index {
        let file = handles
            .get(1)?
            .ok_or_else(|| Refusal::Storage("the first segment vanished".into()))?;
        let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
        let n = read_full_at(&file, &mut h, 0)?;
        if let Err(reason) = check_segment_header(&h[..n], 1) {
            if segments.len() > 1 || n >= SEGMENT_HEADER_LEN as usize {
                return Err(corrupt(1, reason).into());
            }
            // A first segment whose header never made it to disk: nothing
            // was ever acknowledged in it.
            cut_torn_tail(dirs, SegPos { segment: 1, pos: 0 })?;
            handles.forget(1);
            return Ok(Recovered::empty(n as u64));
        }
    }
    let last_segment = segments.last().copied().unwrap_or(1);
    let total_bytes: u64 = segments
        .iter()
        .filter(|s| **s >= start.at.segment)
        .map(|s| segment_len(dirs, *s).unwrap_or(0))
        .sum();
    let big = total_bytes > 64 << 20;
    if big {
        progress.start("indexing the log", total_bytes);
    }
    let mut writer = IndexWriter::new(index.clone())?;
    let mut cursor = Cursor::new(handles.clone(), start.at, start.next_offset, 1 << 20)?;
    let mut hash = start.hash;
    let mut last_time_us = None;
    let mut scanned = 0u64;
    let mut staged_entries = 0usize;
    let mut bytes_done = 0u64;
    let mut torn_bytes = 0u64;
    loop {
        let next = cursor.next(u64::MAX)?;
        match next {
            Next::Frame(f, at) => {
                let count = f.header.count as usize;
                let mut entries = Vec::with_capacity(count);
                for (expected, rec) in (f.header.first_offset..).zip(f.records()) {
                    let bad = |reason: String| {
                        if start.from_index && scanned == 0 {
                            ScanError::Restart(reason)
                        } else {
                            ScanError::Refuse(corrupt(expected, reason))
                        }
                    };
                    let view = RecordView::parse(rec).map_err(|e| bad(e.to_string()))?;
                    if view.offset != expected {
                        return Err(bad(format!("record claims offset {}", view.offset)));
                    }
                    if view.prev_hash != &hash {
                        return Err(bad(
                            "hash chain broken: prev_hash does not match the previous record"
                                .into(),
                        ));
                    }
                    hash = codec::hash_record(rec);
                    let stream = StreamId::parse(view.stream).map_err(|e| bad(e.to_string()))?;
                    entries.push((stream, view.stream_version, expected));
                    last_time_us = Some(view.recorded_at_us);
                }
                let len = frame::FRAME_HEADER_LEN as u64 + u64::from(f.header.body_len);
                let indexed = IndexedFrame {
                    first_offset: f.header.first_offset,
                    last_offset: f.header.last_offset(),
                    at,
                    next: SegPos {
                        segment: at.segment,
                        pos: at.pos + len,
                    },
                    last_hash: hash,
                    entries,
                };
                writer.add(&indexed).map_err(|e| match e {
                    IndexError::Inconsistent(why) => ScanError::Restart(why),
                    other => ScanError::Refuse(other.into()),
                })?;
                scanned += count as u64;
                staged_entries += count;
                bytes_done += len;
                if staged_entries >= 65_536 {
                    writer.flush()?;
                    staged_entries = 0;
                    if big {
                        progress.advance(bytes_done);
                    }
                }
            }
            Next::End => break,
            Next::Bad { at, offset, error } => {
                let follows = if at.segment == last_segment {
                    complete_frame_after(dirs, at)?
                } else {
                    None
                };
                let torn = at.segment == last_segment && follows.is_none();
                if !torn {
                    if start.from_index && scanned == 0 {
                        // Where the index says the next frame starts there is
                        // none, yet this is not a torn tail: the index does not
                        // describe these segments.
                        return Err(ScanError::Restart(format!(
                            "no frame where the index says offset {offset} starts: {error}"
                        )));
                    }
                    return Err(match follows {
                        Some(pos) => corrupt(
                            offset,
                            format!(
                                "{error}; a complete frame follows at byte {pos} of {}, so this is damage, not a torn write",
                                segment_name(at.segment)
                            ),
                        ),
                        None => corrupt(offset, error.to_string()),
                    }
                    .into());
                }
                torn_bytes = cut_torn_tail(dirs, at)?;
                handles.forget(at.segment);
                tracing::warn!(
                    offset,
                    bytes = torn_bytes,
                    segment = %segment_name(at.segment),
                    "cut a torn write at the tail of the log (never acknowledged); the bytes are kept under log/torn/"
                );
                break;
            }
        }
    }
    writer.flush()?;
    if big {
        progress.finish();
    }
    let head = cursor.next_offset() - 1;
    let end = cursor.position();
    // Is every segment accounted for? A segment beyond where the records
    // stop means records in between are missing. (Listed again: a torn
    // segment may have been removed above.)
    if let Some(s) = list_segments(&dirs.segments)?
        .iter()
        .find(|s| **s > end.segment)
    {
        return Err(corrupt(
            head + 1,
            format!(
                "offset {} is missing, yet segment {} follows",
                head + 1,
                segment_name(*s)
            ),
        )
        .into());
    }
    if head > 0 {
        // A torn frame was cut where the recovered end lies, so end is valid.
        let (tail_hash, tail_time) = check_tail(handles, index, head, tail_check.max(1))?;
        if tail_hash != hash {
            return Err(if start.from_index && scanned == 0 {
                ScanError::Restart("the index's head hash differs from the records".into())
            } else {
                ScanError::Refuse(corrupt(head, "the head record's hash changed"))
            });
        }
        last_time_us = Some(tail_time);
    }
    Ok(Recovered {
        head,
        hash,
        last_time_us: last_time_us.unwrap_or(0),
        end: Some(end),
        scanned,
        torn_bytes,
    })
}

/// Verifies the last `n` records up to `head` (CRC, offsets, hash chain);
/// returns the head's hash and time.
fn check_tail(
    handles: &Arc<Handles>,
    index: &Index,
    head: u64,
    n: usize,
) -> Result<([u8; 32], i64), ScanError> {
    let from = head.saturating_sub(n as u64 - 1).max(1);
    let (first, at) = index
        .pointer_before(from)?
        .ok_or_else(|| ScanError::Restart(format!("no frame pointer before offset {from}")))?;
    let mut cursor = Cursor::new(handles.clone(), at, first, 1 << 20)?;
    let mut prev: Option<[u8; 32]> = None;
    let mut last = None;
    loop {
        match cursor.next(head)? {
            Next::Frame(f, _) => {
                for (i, rec) in f.records().enumerate() {
                    let offset = f.header.first_offset + i as u64;
                    if offset < from {
                        continue;
                    }
                    let view =
                        RecordView::parse(rec).map_err(|e| corrupt(offset, e.to_string()))?;
                    if view.offset != offset {
                        return Err(corrupt(
                            offset,
                            format!("record claims offset {}", view.offset),
                        )
                        .into());
                    }
                    let linked = match prev {
                        Some(p) => *view.prev_hash == p,
                        None => offset != 1 || *view.prev_hash == GENESIS_HASH,
                    };
                    if !linked {
                        return Err(corrupt(
                            offset,
                            "hash chain broken: prev_hash does not match the previous record",
                        )
                        .into());
                    }
                    let h = codec::hash_record(rec);
                    prev = Some(h);
                    last = Some((h, view.recorded_at_us));
                }
            }
            Next::End => break,
            Next::Bad { offset, error, .. } => {
                return Err(corrupt(offset, error.to_string()).into())
            }
        }
    }
    match (last, cursor.next_offset() - 1) {
        (Some(l), h) if h == head => Ok(l),
        (_, h) => Err(corrupt(h + 1, format!("offset {} is missing", h + 1)).into()),
    }
}

/// Looks for a complete frame anywhere after `at` in its segment.
fn complete_frame_after(dirs: &LogDirs, at: SegPos) -> io::Result<Option<u64>> {
    let file = File::open(dirs.segments.join(segment_name(at.segment)))?;
    crate::segment::complete_frame_after(&file, at.pos + 1)
}

/// Cuts a torn tail at `at`: copies the bytes to `log/torn/`, truncates (or
/// removes a segment whose header never made it), and syncs. Returns the
/// bytes cut.
fn cut_torn_tail(dirs: &LogDirs, at: SegPos) -> io::Result<u64> {
    let path = dirs.segments.join(segment_name(at.segment));
    let mut file = OpenOptions::new().read(true).write(true).open(&path)?;
    let len = file.metadata()?.len();
    let cut = len.saturating_sub(at.pos);
    let torn_dir = dirs.torn();
    std::fs::create_dir_all(&torn_dir)?;
    let mut bytes = vec![0u8; cut as usize];
    let got = read_full_at(&file, &mut bytes, at.pos)?;
    bytes.truncate(got);
    // Named by segment, position and the time of the cut: the same tail
    // position can tear again after a later crash.
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let saved = torn_dir.join(format!("{}.{}.{stamp}", segment_name(at.segment), at.pos));
    let mut out = File::create(&saved)?;
    out.write_all(&bytes)?;
    out.sync_all()?;
    crate::files::sync_dir(&torn_dir)?;
    if at.pos < SEGMENT_HEADER_LEN {
        drop(file);
        std::fs::remove_file(&path)?;
    } else {
        file.set_len(at.pos)?;
        file.flush()?;
        file.sync_all()?;
    }
    crate::files::sync_dir(&dirs.segments)?;
    Ok(cut)
}
