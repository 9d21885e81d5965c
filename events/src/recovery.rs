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
    check_segment_header, classify_tail, data_end_after, list_segments, read_full_at, segment_name,
    Cursor, Handles, Next, SegPos, Tail, SEGMENT_HEADER_LEN,
};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
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
            // A first segment whose header never made it to disk (zeros, or
            // a torn header write) held nothing acknowledged: the header is
            // synced before any frame goes in.
            let tail = classify_tail(&file, 0)?;
            if segments.len() > 1 || matches!(tail, Tail::FrameAt(_)) {
                return Err(corrupt(1, reason).into());
            }
            let cut = cut_torn_tail(dirs, SegPos { segment: 1, pos: 0 }, tail)?;
            handles.forget(1);
            return Ok(Recovered::empty(cut));
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
    if start.from_index && start.next_offset > 1 && zeros_before(handles, start.at)? {
        // The index says a frame ends here, yet only zeros precede this
        // point: the index is ahead of the segments (durability `os` and a
        // power loss), which a preallocated segment's length would not show.
        return Err(ScanError::Restart(
            "the index points past the records in the segments".into(),
        ));
    }
    let mut writer = IndexWriter::new(index.clone())?;
    let mut cursor = Cursor::new(handles.clone(), start.at, start.next_offset, 1 << 20)?;
    let mut hash = start.hash;
    let mut last_time_us = None;
    let mut scanned = 0u64;
    let mut staged_entries = 0usize;
    let mut bytes_done = 0u64;
    let mut torn_bytes = 0u64;
    // Where the frames of the segment being scanned end so far.
    let mut frames_end = start.at;
    loop {
        let next = cursor.next(u64::MAX)?;
        match next {
            Next::Frame(f, at) => {
                if at.segment != frames_end.segment {
                    // The cursor left a segment: only zeros may follow its
                    // last frame (a finished segment is never written again).
                    check_finished_segment(handles, frames_end, f.header.first_offset)?;
                }
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
                frames_end = indexed.next;
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
            Next::End => {
                // Zeros (or nothing) where the next frame would start. In
                // the last segment, what follows must be zeros too.
                let end = cursor.position();
                if end.segment == last_segment {
                    let offset = cursor.next_offset();
                    let error = "no frame header (zeros) where the next frame starts".to_owned();
                    let fresh = (start.from_index && scanned == 0).then_some(start);
                    torn_bytes = settle_tail(dirs, handles, index, end, offset, &error, fresh)?;
                }
                break;
            }
            Next::Bad { at, offset, error } => {
                let error = error.to_string();
                let fresh = (start.from_index && scanned == 0).then_some(start);
                if at.segment != last_segment {
                    return Err(refuse_or_restart(fresh, offset, error, None));
                }
                torn_bytes = settle_tail(dirs, handles, index, at, offset, &error, fresh)?;
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
        let (tail_hash, tail_time, _) = check_tail(handles, index, head, tail_check.max(1))?;
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
/// returns the head's hash and time, and where its frame ends.
fn check_tail(
    handles: &Arc<Handles>,
    index: &Index,
    head: u64,
    n: usize,
) -> Result<([u8; 32], i64, SegPos), ScanError> {
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
        (Some((hash, time)), h) if h == head => Ok((hash, time, cursor.position())),
        (_, h) => Err(corrupt(h + 1, format!("offset {} is missing", h + 1)).into()),
    }
}

/// After the last complete frame of the last segment, at `at` (where the
/// record `offset` would start): zeros are the clean end of the log
/// (preallocated space, or an unused new segment, which is removed);
/// non-zero bytes with no complete frame after them are a torn write,
/// saved and zeroed; a complete frame after them makes them damage.
/// `fresh` is the scan's start if it began where the index said its
/// records end and has found no frame yet. Returns the torn bytes cut.
fn settle_tail(
    dirs: &LogDirs,
    handles: &Arc<Handles>,
    index: &Index,
    at: SegPos,
    offset: u64,
    error: &str,
    fresh: Option<Start>,
) -> Result<u64, ScanError> {
    let file = File::open(dirs.segments.join(segment_name(at.segment)))?;
    let tail = classify_tail(&file, at.pos)?;
    drop(file);
    match tail {
        Tail::Clean if at.pos >= SEGMENT_HEADER_LEN => Ok(0),
        Tail::FrameAt(pos) => Err(refuse_or_restart(
            fresh,
            offset,
            error.to_owned(),
            Some(format!(
                "a complete frame follows at byte {pos} of {}, so this is damage, not a torn write",
                segment_name(at.segment)
            )),
        )),
        Tail::Clean | Tail::Torn { .. } => {
            if let Some(start) = fresh {
                // Bad bytes right where the index says its records end: cut
                // them only if the index's last record ends right there, so
                // an index of other segments never makes us cut a record.
                let (hash, _, end) = check_tail(handles, index, start.next_offset - 1, 1)?;
                if hash != start.hash || end != start.at {
                    return Err(ScanError::Restart(
                        "the index's last record does not end where the records do".into(),
                    ));
                }
            }
            let cut = cut_torn_tail(dirs, at, tail)?;
            handles.forget(at.segment);
            if cut > 0 {
                tracing::warn!(
                    offset,
                    bytes = cut,
                    segment = %segment_name(at.segment),
                    "cut a torn write at the tail of the log (never acknowledged); the bytes are kept under log/torn/"
                );
            }
            Ok(cut)
        }
    }
}

/// Damage found by a scan: if the scan started where the index said and
/// found nothing valid at all (`fresh`), the index does not describe these
/// segments (rebuild it); otherwise acknowledged records are damaged
/// (refuse).
fn refuse_or_restart(
    fresh: Option<Start>,
    offset: u64,
    error: String,
    detail: Option<String>,
) -> ScanError {
    if fresh.is_some() {
        return ScanError::Restart(format!(
            "no frame where the index says offset {offset} starts: {error}"
        ));
    }
    ScanError::Refuse(match detail {
        Some(d) => corrupt(offset, format!("{error}; {d}")),
        None => corrupt(offset, error),
    })
}

/// Whether the bytes just before `at` (where a frame should have ended: a
/// record's previous hash and CRC) are all zeros: no frame ends there.
fn zeros_before(handles: &Arc<Handles>, at: SegPos) -> Result<bool, ScanError> {
    const TAIL: u64 = 36;
    if at.pos < SEGMENT_HEADER_LEN + TAIL {
        return Ok(false);
    }
    let Some(file) = handles.get(at.segment)? else {
        return Ok(false);
    };
    let mut buf = [0u8; TAIL as usize];
    let got = read_full_at(&file, &mut buf, at.pos - TAIL)?;
    Ok(got == buf.len() && buf.iter().all(|b| *b == 0))
}

/// Checks that only zeros follow the last frame of a finished segment,
/// which ends at `end`; `next_offset` starts the next segment.
fn check_finished_segment(
    handles: &Arc<Handles>,
    end: SegPos,
    next_offset: u64,
) -> Result<(), ScanError> {
    let Some(file) = handles.get(end.segment)? else {
        return Ok(());
    };
    match data_end_after(&file, end.pos)? {
        None => Ok(()),
        Some(_) => Err(ScanError::Refuse(corrupt(
            next_offset,
            format!(
                "bytes that are not a frame follow the last frame of {} at byte {}",
                segment_name(end.segment),
                end.pos
            ),
        ))),
    }
}

/// Cuts the tail of a segment from `at`: non-zero bytes (a torn write) are
/// copied to `log/torn/` and overwritten with zeros (the file keeps its
/// preallocated size); a segment whose header never made it is removed.
/// Everything is synced. Returns the non-zero bytes cut.
fn cut_torn_tail(dirs: &LogDirs, at: SegPos, tail: Tail) -> io::Result<u64> {
    let path = dirs.segments.join(segment_name(at.segment));
    let file = OpenOptions::new().read(true).write(true).open(&path)?;
    let end = match tail {
        Tail::Torn { end } => end,
        Tail::Clean | Tail::FrameAt(_) => at.pos,
    };
    let cut = end.saturating_sub(at.pos);
    if cut > 0 {
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
    }
    if at.pos < SEGMENT_HEADER_LEN {
        drop(file);
        std::fs::remove_file(&path)?;
        crate::files::sync_dir(&dirs.segments)?;
    } else if cut > 0 {
        let zeros = vec![0u8; (cut as usize).min(1 << 20)];
        let mut pos = at.pos;
        while pos < end {
            let n = zeros.len().min((end - pos) as usize);
            file.write_all_at(&zeros[..n], pos)?;
            pos += n as u64;
        }
        file.sync_data()?;
    }
    Ok(cut)
}
