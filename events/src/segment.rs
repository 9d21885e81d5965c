//! Segment files: the records, append-only, one group commit frame after
//! another.
//!
//! ```text
//! <data_dir>/log/segments/<first offset, 20 digits>.seg
//! segment = header · frame*                       (frames: see crate::frame)
//! header  = magic "SBSEG\0\0\x01" · first_offset:u64le · crc32:u32le · 0u32
//! ```
//!
//! A segment is named after the offset of its first record, so the segment
//! holding offset N is the last one whose name is ≤ N, and a reader that
//! reaches the end of one segment opens the one named after the next
//! offset. The writer starts a new segment when the next frame would not
//! fit in the current one (a frame never spans two segments; a single frame
//! larger than a segment gets one of its own, which grows to hold it).
//!
//! # Preallocated with zeros
//! As PostgreSQL does with its WAL, a segment file is written full of zeros
//! and synced *before* it takes its name, by a background thread, while
//! the writer still fills the previous segment. Frames then overwrite
//! blocks that already exist, so the writer's `fdatasync` flushes data
//! only: the file's size and block allocation never change on the
//! acknowledgement path, and no file-system journal commit rides on it
//! (`fallocate` alone would not do: its unwritten extents are converted,
//! a metadata change, when first written). The first segment of a log is
//! [`FIRST_SEGMENT_BYTES`] and each next one twice the previous, up to the
//! configured size, so a small log stays small.
//!
//! The bytes after a segment's last frame are therefore zeros: a frame
//! header of zeros is where a segment's records end. Readers stop there;
//! opening checks that only zeros follow in the last segment, and tells a
//! torn frame (non-zero bytes, no complete frame after them) from damage
//! followed by a complete frame ([`classify_tail`]).

use crate::files::{FileLayer, SegmentFile};
use crate::frame::{self, Frame, FrameError, FRAME_HEADER_LEN};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

/// The first eight bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"SBSEG\0\0\x01";

/// Bytes in a segment header.
pub const SEGMENT_HEADER_LEN: u64 = 24;

/// The size of a log's first segment; each next segment doubles, up to the
/// configured segment size.
pub const FIRST_SEGMENT_BYTES: u64 = 1 << 20;

/// The file the next segment is prepared in (zeros, synced) before it is
/// renamed to its segment name. Not a segment: readers ignore it.
pub const PREPARED_NAME: &str = "next.prep";

/// Zeros written per `write` while preparing a segment.
const ZERO_CHUNK: usize = 1 << 20;

/// A byte position in the log: which segment (by its first offset) and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegPos {
    /// The segment's first offset (its name).
    pub segment: u64,
    /// Byte position inside it.
    pub pos: u64,
}

/// The file name of the segment starting at `first_offset`.
pub fn segment_name(first_offset: u64) -> String {
    format!("{first_offset:020}.seg")
}

/// The first offset named by a segment file name, if it is one.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header of the segment starting at `first_offset`.
pub fn segment_header(first_offset: u64) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    h[0..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..16].copy_from_slice(&first_offset.to_le_bytes());
    let crc = crc32fast::hash(&h[0..16]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks a segment header against the offset its file name promises.
pub fn check_segment_header(bytes: &[u8], first_offset: u64) -> Result<(), String> {
    if bytes.len() < SEGMENT_HEADER_LEN as usize {
        return Err(format!("segment header truncated ({} bytes)", bytes.len()));
    }
    if bytes[..SEGMENT_HEADER_LEN as usize] != segment_header(first_offset) {
        return Err(format!(
            "segment header does not match its name (first offset {first_offset})"
        ));
    }
    Ok(())
}

/// The segments in `dir`, by first offset (other files are ignored).
pub fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut out = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry?;
                if let Some(first) = entry.file_name().to_str().and_then(parse_segment_name) {
                    out.push(first);
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    out.sort_unstable();
    Ok(out)
}

/// Where record `offset` lies in the bytes of a whole segment file (for
/// forensic tools and tests that damage a record on purpose): walks the
/// frames from the header on. `None` if the offset is not there.
pub fn locate_record(segment: &[u8], offset: u64) -> Option<std::ops::Range<usize>> {
    let mut pos = SEGMENT_HEADER_LEN as usize;
    while pos < segment.len() {
        let (f, len) = frame::parse_frame(segment.get(pos..)?).ok()?;
        if (f.header.first_offset..=f.header.last_offset()).contains(&offset) {
            let mut at = pos + FRAME_HEADER_LEN;
            for (i, rec) in f.records().enumerate() {
                at += 4;
                if f.header.first_offset + i as u64 == offset {
                    return Some(at..at + rec.len());
                }
                at += rec.len();
            }
        }
        pos += len;
    }
    None
}

/// Read-only handles to segment files, opened once and shared by readers.
#[derive(Debug)]
pub struct Handles {
    dir: PathBuf,
    open: RwLock<HashMap<u64, Arc<File>>>,
}

impl Handles {
    /// Handles for the segments in `dir`.
    pub fn new(dir: PathBuf) -> Handles {
        Handles {
            dir,
            open: RwLock::new(HashMap::new()),
        }
    }

    /// The segments directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The segment starting at `first`, or `None` if there is none.
    pub fn get(&self, first: u64) -> io::Result<Option<Arc<File>>> {
        if let Some(f) = self.open.read().get(&first) {
            return Ok(Some(f.clone()));
        }
        match File::open(self.dir.join(segment_name(first))) {
            Ok(f) => {
                let f = Arc::new(f);
                self.open.write().insert(first, f.clone());
                Ok(Some(f))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Drops the handle of a segment that was removed (a torn one), so a
    /// segment created later under the same name is opened afresh.
    pub fn forget(&self, first: u64) {
        self.open.write().remove(&first);
    }
}

/// Reads up to `buf.len()` bytes at `pos`, stopping early only at the end
/// of the file. Returns the bytes read.
pub fn read_full_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], pos + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The position of the first complete frame that starts in `pos..end` of
/// `file`, found by searching for a frame header byte by byte. Recovery
/// uses it to tell a torn tail (nothing complete after the damage) from
/// damage in the middle of acknowledged frames.
pub fn complete_frame_within(file: &File, mut pos: u64, end: u64) -> io::Result<Option<u64>> {
    let mut buf = vec![0u8; 1 << 20];
    while pos + (FRAME_HEADER_LEN as u64) <= end {
        let n = read_full_at(file, &mut buf, pos)?;
        if n < FRAME_HEADER_LEN {
            break;
        }
        let last = (n - FRAME_HEADER_LEN).min((end - pos) as usize - FRAME_HEADER_LEN);
        for i in 0..=last {
            if buf[i..i + 4] != frame::FRAME_MAGIC {
                continue;
            }
            if let Ok(h) = frame::parse_header(&buf[i..n]) {
                let start = pos + i as u64;
                let mut bytes = vec![0u8; h.frame_len()];
                let got = read_full_at(file, &mut bytes, start)?;
                if got == bytes.len() && frame::parse_frame(&bytes).is_ok() {
                    return Ok(Some(start));
                }
            }
        }
        // Overlap by a header so a header straddling two reads is seen.
        pos += (last + 1) as u64;
    }
    Ok(None)
}

/// The position just after the last non-zero byte of `file` at or after
/// `pos`, or `None` if only zeros (or nothing) follow `pos`. Reads the file
/// backwards from its end, so it costs the zeros after the data.
pub fn data_end_after(file: &File, pos: u64) -> io::Result<Option<u64>> {
    let mut end = file.metadata()?.len();
    let mut buf = vec![0u8; 1 << 20];
    while end > pos {
        let start = end.saturating_sub(buf.len() as u64).max(pos);
        let chunk = &mut buf[..(end - start) as usize];
        let got = read_full_at(file, chunk, start)?;
        let chunk = &chunk[..got];
        // OR-ing every byte vectorizes; only a non-zero chunk is searched.
        if chunk.iter().fold(0u8, |acc, b| acc | b) != 0 {
            if let Some(i) = chunk.iter().rposition(|b| *b != 0) {
                return Ok(Some(start + i as u64 + 1));
            }
        }
        end = start;
    }
    Ok(None)
}

/// What follows the last complete frame of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// Zeros (preallocated space) or nothing.
    Clean,
    /// Non-zero bytes up to `end`, and no complete frame among them: a
    /// frame the writer had not finished (so never acknowledged).
    Torn {
        /// Just after the last non-zero byte.
        end: u64,
    },
    /// A complete frame starts at this position: the bytes before it are
    /// damage, not a torn write.
    FrameAt(u64),
}

/// Classifies the bytes of `file` from `pos` (where a frame should start,
/// and none does) to its end.
pub fn classify_tail(file: &File, pos: u64) -> io::Result<Tail> {
    let Some(end) = data_end_after(file, pos)? else {
        return Ok(Tail::Clean);
    };
    Ok(match complete_frame_within(file, pos + 1, end)? {
        Some(at) => Tail::FrameAt(at),
        None => Tail::Torn { end },
    })
}

/// Whether `bytes` (a frame header's worth, or fewer at the end of a file)
/// are all zeros: where a preallocated segment's records end.
fn is_zero_header(bytes: &[u8]) -> bool {
    bytes.iter().take(FRAME_HEADER_LEN).all(|b| *b == 0)
}

/// Appends frames to the current segment and starts new ones, each
/// prepared with zeros in the background ([`Preparer`]).
pub struct SegmentWriter {
    dir: PathBuf,
    files: Arc<dyn FileLayer>,
    file: Box<dyn SegmentFile>,
    segment: u64,
    len: u64,
    /// The segment's preallocated size: a frame that would end beyond it
    /// goes into a new segment.
    capacity: u64,
    max_bytes: u64,
    preparer: Preparer,
}

impl SegmentWriter {
    /// Creates the segment starting at `first_offset` (zeros written and
    /// synced, renamed into place, header written and synced, directory
    /// synced) and writes there.
    /// Without `preallocate`, segments grow as frames are written.
    pub fn create(
        dir: &Path,
        files: Arc<dyn FileLayer>,
        first_offset: u64,
        max_bytes: u64,
        preallocate: bool,
    ) -> io::Result<SegmentWriter> {
        remove_prepared(dir, files.as_ref())?;
        let (size, prepared) = if preallocate {
            let size = max_bytes.clamp(1, FIRST_SEGMENT_BYTES);
            let file = prepare(dir, files.as_ref(), size, &AtomicBool::new(false))?;
            (size, Some(file))
        } else {
            (max_bytes.max(1), None)
        };
        let file = start_segment(dir, files.as_ref(), first_offset, prepared)?;
        Ok(SegmentWriter {
            preparer: Preparer::new(dir, files.clone(), preallocate),
            dir: dir.to_path_buf(),
            files,
            file,
            segment: first_offset,
            len: SEGMENT_HEADER_LEN,
            capacity: size,
            max_bytes,
        })
    }

    /// Continues the existing segment `segment`, whose frames end at `len`
    /// (only zeros may follow: recovery made sure).
    pub fn resume(
        dir: &Path,
        files: Arc<dyn FileLayer>,
        segment: u64,
        len: u64,
        max_bytes: u64,
        preallocate: bool,
    ) -> io::Result<SegmentWriter> {
        remove_prepared(dir, files.as_ref())?;
        let file = files.open(&dir.join(segment_name(segment)))?;
        let capacity = if preallocate {
            // A segment written without preallocation ends at its last
            // frame: the next frame then starts a new, preallocated one.
            file.size()?.max(len)
        } else {
            max_bytes.max(len)
        };
        Ok(SegmentWriter {
            preparer: Preparer::new(dir, files.clone(), preallocate),
            dir: dir.to_path_buf(),
            files,
            file,
            segment,
            len,
            capacity,
            max_bytes,
        })
    }

    /// Where the next frame will go (if no new segment is started first).
    pub fn position(&self) -> SegPos {
        SegPos {
            segment: self.segment,
            pos: self.len,
        }
    }

    /// The size of the segment after this one: twice this one's, at least
    /// the first segment's, at most the configured size.
    fn next_size(&self) -> u64 {
        self.capacity
            .saturating_mul(2)
            .max(FIRST_SEGMENT_BYTES)
            .min(self.max_bytes.max(1))
    }

    /// Whether a frame of `len` bytes goes into the current segment (else
    /// [`SegmentWriter::write`] starts a new one for it).
    pub fn fits(&self, len: usize) -> bool {
        self.len <= SEGMENT_HEADER_LEN || self.len + len as u64 <= self.capacity
    }

    /// Writes one frame whose first record is `first_offset`, starting a new
    /// segment first if it would not fit in this one. Returns where the
    /// frame starts. Nothing is durable until [`SegmentWriter::sync`].
    pub fn write(&mut self, frame: &[u8], first_offset: u64) -> io::Result<SegPos> {
        if !self.fits(frame.len()) {
            // The frames so far are synced (or, with durability `os`, are
            // synced now): a finished segment is never written again.
            self.file.sync_data()?;
            let size = self.next_size();
            let prepared = self.preparer.take();
            let zeroed = prepared.is_some();
            let file = start_segment(&self.dir, self.files.as_ref(), first_offset, prepared)?;
            self.file = file;
            self.segment = first_offset;
            self.len = SEGMENT_HEADER_LEN;
            // Without a prepared file the segment grows as frames come.
            self.capacity = if zeroed {
                size
            } else {
                size.max(SEGMENT_HEADER_LEN)
            };
        }
        let at = self.position();
        self.file.write_all_at(frame, self.len)?;
        self.len += frame.len() as u64;
        if self.len.saturating_mul(4) >= self.capacity {
            // A quarter full: prepare the next segment meanwhile.
            self.preparer.request(self.next_size());
        }
        Ok(at)
    }

    /// `fdatasync` of the current segment.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Undoes writes after `at` (a failed write or sync): cuts the segment
    /// there and syncs the cut, so the refused frame can never reach the
    /// disk later, neither through a later sync nor the kernel's writeback.
    pub fn undo(&mut self, at: SegPos) -> io::Result<()> {
        if at.segment != self.segment {
            // The failed frame opened a new segment: empty it. An empty
            // segment at the tail is valid.
            self.file.truncate(SEGMENT_HEADER_LEN)?;
            self.len = SEGMENT_HEADER_LEN;
            return self.file.sync_data();
        }
        self.file.truncate(at.pos)?;
        self.len = at.pos;
        self.file.sync_data()
    }
}

/// Removes a prepared segment left over by an earlier run (it may be
/// incomplete; a new one is prepared when needed).
fn remove_prepared(dir: &Path, files: &dyn FileLayer) -> io::Result<()> {
    match files.remove(&dir.join(PREPARED_NAME)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes a [`PREPARED_NAME`] file of `size` zeros and syncs it. Gives up
/// (with an error) when `stop` is set.
fn prepare(
    dir: &Path,
    files: &dyn FileLayer,
    size: u64,
    stop: &AtomicBool,
) -> io::Result<Box<dyn SegmentFile>> {
    remove_prepared(dir, files)?;
    let mut file = files.create(&dir.join(PREPARED_NAME))?;
    let zeros = vec![0u8; ZERO_CHUNK.min(size as usize)];
    let mut pos = 0u64;
    while pos < size {
        if stop.load(Ordering::Relaxed) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the log closed while a segment was being prepared",
            ));
        }
        let n = zeros.len().min((size - pos) as usize);
        file.write_all_at(&zeros[..n], pos)?;
        pos += n as u64;
    }
    file.sync_data()?;
    Ok(file)
}

/// Starts the segment for `first_offset`: the prepared file takes its name
/// (or, with none, an empty file is created), the header is written and
/// synced, then the directory. Only then may frames go in.
fn start_segment(
    dir: &Path,
    files: &dyn FileLayer,
    first_offset: u64,
    prepared: Option<Box<dyn SegmentFile>>,
) -> io::Result<Box<dyn SegmentFile>> {
    let path = dir.join(segment_name(first_offset));
    let mut file = match prepared {
        Some(file) => {
            files.rename(&dir.join(PREPARED_NAME), &path)?;
            file
        }
        None => files.create(&path)?,
    };
    file.write_all_at(&segment_header(first_offset), 0)?;
    file.sync_data()?;
    files.sync_dir(dir)?;
    Ok(file)
}

/// The background thread that prepares the next segment file, started at
/// the first request. At most one preparation is asked for at a time.
struct Preparer {
    /// Whether to prepare at all (off: every segment grows as written).
    enabled: bool,
    dir: PathBuf,
    files: Arc<dyn FileLayer>,
    /// The thread, its queue and its answers, once started.
    worker: Option<PrepWorker>,
    /// Whether a preparation was asked for and not yet taken.
    pending: bool,
    stop: Arc<AtomicBool>,
}

struct PrepWorker {
    requests: mpsc::Sender<u64>,
    prepared: mpsc::Receiver<io::Result<Box<dyn SegmentFile>>>,
    thread: std::thread::JoinHandle<()>,
}

impl Preparer {
    fn new(dir: &Path, files: Arc<dyn FileLayer>, enabled: bool) -> Preparer {
        Preparer {
            enabled,
            dir: dir.to_path_buf(),
            files,
            worker: None,
            pending: false,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Asks for a prepared file of `size` bytes (nothing if one is pending).
    fn request(&mut self, size: u64) {
        if self.pending || !self.enabled {
            return;
        }
        if self.worker.is_none() {
            let (requests, rx) = mpsc::channel::<u64>();
            let (tx, prepared) = mpsc::channel();
            let (dir, files, stop) = (self.dir.clone(), self.files.clone(), self.stop.clone());
            let spawned = std::thread::Builder::new()
                .name("log-prepare".into())
                .spawn(move || {
                    crate::segment_log::lower_thread_priority();
                    for size in rx {
                        let result = prepare(&dir, files.as_ref(), size, &stop);
                        if tx.send(result).is_err() {
                            return;
                        }
                    }
                });
            match spawned {
                Ok(thread) => {
                    self.worker = Some(PrepWorker {
                        requests,
                        prepared,
                        thread,
                    })
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the segment preparer; new segments will grow as written");
                    return;
                }
            }
        }
        if let Some(w) = &self.worker {
            self.pending = w.requests.send(size).is_ok();
        }
    }

    /// The prepared file, waiting for it if it is still being written;
    /// `None` if none was asked for or preparing failed (then the next
    /// segment grows as it is written, the old way).
    fn take(&mut self) -> Option<Box<dyn SegmentFile>> {
        if !std::mem::take(&mut self.pending) {
            return None;
        }
        match self.worker.as_ref()?.prepared.recv() {
            Ok(Ok(file)) => Some(file),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "preparing the next segment failed; it grows as written");
                None
            }
            Err(_) => None,
        }
    }
}

impl Drop for Preparer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(w) = self.worker.take() {
            drop(w.requests);
            drop(w.prepared);
            let _ = w.thread.join();
        }
    }
}

/// What a [`Cursor`] found next.
#[derive(Debug)]
pub enum Next<'a> {
    /// A complete frame (header and record CRCs checked) and where it starts.
    Frame(Frame<'a>, SegPos),
    /// Nothing more: the limit was reached, or the last segment ends here.
    End,
    /// Bytes that are not a complete frame where one should start.
    Bad {
        /// Where.
        at: SegPos,
        /// The offset expected there.
        offset: u64,
        /// What is wrong.
        error: FrameError,
    },
}

/// Reads frames in order, across segments, with a read-ahead buffer.
pub struct Cursor {
    handles: Arc<Handles>,
    segment: u64,
    file: Arc<File>,
    /// File position of `buf[0]`.
    file_pos: u64,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    read_ahead: usize,
    next_offset: u64,
}

impl Cursor {
    /// A cursor at `at`, where the frame holding `next_offset` starts.
    pub fn new(
        handles: Arc<Handles>,
        at: SegPos,
        next_offset: u64,
        read_ahead: usize,
    ) -> io::Result<Cursor> {
        let file = handles.get(at.segment)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("segment {} is missing", segment_name(at.segment)),
            )
        })?;
        Ok(Cursor {
            handles,
            segment: at.segment,
            file,
            file_pos: at.pos,
            buf: Vec::new(),
            start: 0,
            end: 0,
            read_ahead: read_ahead.max(FRAME_HEADER_LEN),
            next_offset,
        })
    }

    /// The offset of the next record to read.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Where the next frame starts.
    pub fn position(&self) -> SegPos {
        SegPos {
            segment: self.segment,
            pos: self.file_pos + self.start as u64,
        }
    }

    /// Makes at least `n` bytes available from the current position (fewer
    /// only at the end of the file). Returns how many are available.
    fn fill(&mut self, n: usize) -> io::Result<usize> {
        if self.end - self.start >= n {
            return Ok(self.end - self.start);
        }
        // Move what is left to the front, grow if needed, read more.
        self.buf.copy_within(self.start..self.end, 0);
        self.file_pos += self.start as u64;
        self.end -= self.start;
        self.start = 0;
        let want = n.max(self.read_ahead);
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        let got = read_full_at(
            &self.file,
            &mut self.buf[self.end..],
            self.file_pos + self.end as u64,
        )?;
        self.end += got;
        Ok(self.end)
    }

    /// Looks at what starts at the current position, reading more as
    /// needed, without moving.
    fn probe(&mut self) -> io::Result<Probe> {
        let have = self.fill(FRAME_HEADER_LEN)?;
        if have == 0 || is_zero_header(&self.buf[self.start..self.end]) {
            return Ok(Probe::End);
        }
        let need = match frame::parse_header(&self.buf[self.start..self.end]) {
            Ok(h) => h.frame_len(),
            Err(error) => return Ok(Probe::Bad(error)),
        };
        self.fill(need)?;
        let next_offset = self.next_offset;
        Ok(match frame::parse_frame(&self.buf[self.start..self.end]) {
            Ok((f, len)) if f.header.first_offset == next_offset => Probe::Frame(f.header, len),
            Ok((f, _)) => Probe::Bad(FrameError::Header(format!(
                "frame starts at offset {} where {next_offset} was expected",
                f.header.first_offset
            ))),
            Err(error) => Probe::Bad(error),
        })
    }

    /// The next frame if its first record is ≤ `limit`. A frame that starts
    /// beyond the limit is never parsed (the writer may be writing it).
    pub fn next(&mut self, limit: u64) -> io::Result<Next<'_>> {
        if self.next_offset > limit {
            return Ok(Next::End);
        }
        // Whether the bytes at the current position were read just now. A
        // segment is preallocated, so bytes read ahead earlier may be the
        // zeros a frame has overwritten since: what does not parse from the
        // buffer is read again once before it counts.
        let mut fresh = false;
        loop {
            let at = self.position();
            match self.probe()? {
                Probe::Frame(header, len) => {
                    let body = self.start + FRAME_HEADER_LEN..self.start + len;
                    self.start += len;
                    self.next_offset = header.last_offset() + 1;
                    let f = Frame::from_checked(header, &self.buf[body]);
                    return Ok(Next::Frame(f, at));
                }
                _ if !fresh => {
                    // Drop what is buffered from here on and read it again.
                    self.end = self.start;
                    fresh = true;
                }
                Probe::Bad(error) => {
                    return Ok(Next::Bad {
                        at,
                        offset: self.next_offset,
                        error,
                    })
                }
                Probe::End => {
                    // The end of this segment: the next one is named after
                    // the next offset.
                    let file = match self.handles.get(self.next_offset)? {
                        Some(file) if self.next_offset != self.segment => file,
                        _ => return Ok(Next::End),
                    };
                    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
                    let n = read_full_at(&file, &mut h, 0)?;
                    if let Err(reason) = check_segment_header(&h[..n], self.next_offset) {
                        return Ok(Next::Bad {
                            at: SegPos {
                                segment: self.next_offset,
                                pos: 0,
                            },
                            offset: self.next_offset,
                            error: FrameError::Header(reason),
                        });
                    }
                    self.segment = self.next_offset;
                    self.file = file;
                    self.file_pos = SEGMENT_HEADER_LEN;
                    self.start = 0;
                    self.end = 0;
                    // Read from the new segment now; another end is the end.
                    fresh = true;
                    if matches!(self.probe()?, Probe::End) {
                        return Ok(Next::End);
                    }
                }
            }
        }
    }
}

/// What starts at a cursor's position.
enum Probe {
    /// A complete, checked frame with the expected first offset, and its length.
    Frame(frame::FrameHeader, usize),
    /// Zeros or the end of the file: the segment's frames end here.
    End,
    /// Bytes that are not the expected frame.
    Bad(FrameError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_by_offset_and_parse_back() {
        assert_eq!(segment_name(1), "00000000000000000001.seg");
        assert_eq!(parse_segment_name(&segment_name(123_456)), Some(123_456));
        assert_eq!(parse_segment_name("1.seg"), None);
        assert_eq!(parse_segment_name("00000000000000000001.seg.torn"), None);
        assert!(segment_name(9) < segment_name(10));
    }

    #[test]
    fn a_header_checks_only_against_its_own_offset() {
        let h = segment_header(42);
        assert!(check_segment_header(&h, 42).is_ok());
        assert!(check_segment_header(&h, 43).is_err());
        assert!(check_segment_header(&h[..10], 42).is_err());
    }
}
