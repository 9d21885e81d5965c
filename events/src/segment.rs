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
//! offset. The writer starts a new segment when the next frame would make
//! the current one exceed the configured size (a frame never spans two
//! segments; a single frame larger than the limit gets a segment of its own).

use crate::files::{FileLayer, SegmentFile};
use crate::frame::{self, Frame, FrameError, FRAME_HEADER_LEN};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The first eight bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"SBSEG\0\0\x01";

/// Bytes in a segment header.
pub const SEGMENT_HEADER_LEN: u64 = 24;

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

/// The position of the first complete frame at or after `pos` in `file`,
/// found by searching for a frame header byte by byte. Recovery uses it to
/// tell a torn tail (nothing complete after the damage) from damage in the
/// middle of acknowledged frames.
pub fn complete_frame_after(file: &File, mut pos: u64) -> io::Result<Option<u64>> {
    let len = file.metadata()?.len();
    let mut buf = vec![0u8; 1 << 20];
    while pos + (FRAME_HEADER_LEN as u64) <= len {
        let n = read_full_at(file, &mut buf, pos)?;
        if n < FRAME_HEADER_LEN {
            break;
        }
        for i in 0..=n - FRAME_HEADER_LEN {
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
        pos += (n - FRAME_HEADER_LEN + 1) as u64;
    }
    Ok(None)
}

/// Appends frames to the current segment and starts new ones.
pub struct SegmentWriter {
    dir: PathBuf,
    files: Arc<dyn FileLayer>,
    file: Box<dyn SegmentFile>,
    segment: u64,
    len: u64,
    max_bytes: u64,
}

impl SegmentWriter {
    /// Creates the segment starting at `first_offset` (header written,
    /// synced, directory synced) and writes there.
    pub fn create(
        dir: &Path,
        files: Arc<dyn FileLayer>,
        first_offset: u64,
        max_bytes: u64,
    ) -> io::Result<SegmentWriter> {
        let file = new_segment(dir, files.as_ref(), first_offset)?;
        Ok(SegmentWriter {
            dir: dir.to_path_buf(),
            files,
            file,
            segment: first_offset,
            len: SEGMENT_HEADER_LEN,
            max_bytes,
        })
    }

    /// Continues the existing segment `segment`, whose valid bytes end at
    /// `len` (anything after is cut off).
    pub fn resume(
        dir: &Path,
        files: Arc<dyn FileLayer>,
        segment: u64,
        len: u64,
        max_bytes: u64,
    ) -> io::Result<SegmentWriter> {
        let mut file = files.open(&dir.join(segment_name(segment)))?;
        if file.size()? != len {
            file.truncate(len)?;
            file.sync_data()?;
        }
        Ok(SegmentWriter {
            dir: dir.to_path_buf(),
            files,
            file,
            segment,
            len,
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

    /// Writes one frame whose first record is `first_offset`, starting a new
    /// segment first if this one would grow past the limit. Returns where
    /// the frame starts. Nothing is durable until [`SegmentWriter::sync`].
    pub fn write(&mut self, frame: &[u8], first_offset: u64) -> io::Result<SegPos> {
        if self.len > SEGMENT_HEADER_LEN && self.len + frame.len() as u64 > self.max_bytes {
            // The frames so far are synced (or, with durability `os`, are
            // synced now): a finished segment is never written again.
            self.file.sync_data()?;
            let file = new_segment(&self.dir, self.files.as_ref(), first_offset)?;
            self.file = file;
            self.segment = first_offset;
            self.len = SEGMENT_HEADER_LEN;
        }
        let at = self.position();
        self.file.write_all_at(frame, self.len)?;
        self.len += frame.len() as u64;
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

fn new_segment(
    dir: &Path,
    files: &dyn FileLayer,
    first_offset: u64,
) -> io::Result<Box<dyn SegmentFile>> {
    let mut file = files.create(&dir.join(segment_name(first_offset)))?;
    file.write_all_at(&segment_header(first_offset), 0)?;
    file.sync_data()?;
    files.sync_dir(dir)?;
    Ok(file)
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

    /// The next frame if its first record is ≤ `limit`. A frame that starts
    /// beyond the limit is never parsed (the writer may be writing it).
    pub fn next(&mut self, limit: u64) -> io::Result<Next<'_>> {
        if self.next_offset > limit {
            return Ok(Next::End);
        }
        let mut have = self.fill(FRAME_HEADER_LEN)?;
        if have == 0 {
            // The end of this segment: the next one is named after the next offset.
            match self.handles.get(self.next_offset)? {
                Some(file) if self.next_offset != self.segment => {
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
                    have = self.fill(FRAME_HEADER_LEN)?;
                    if have == 0 {
                        return Ok(Next::End);
                    }
                }
                _ => return Ok(Next::End),
            }
        }
        let at = self.position();
        let need = match frame::parse_header(&self.buf[self.start..self.end]) {
            Ok(h) => h.frame_len(),
            Err(error) => {
                return Ok(Next::Bad {
                    at,
                    offset: self.next_offset,
                    error,
                })
            }
        };
        self.fill(need)?;
        let next_offset = self.next_offset;
        match frame::parse_frame(&self.buf[self.start..self.end]) {
            Ok((f, len)) if f.header.first_offset == next_offset => {
                self.start += len;
                self.next_offset = f.header.last_offset() + 1;
                Ok(Next::Frame(f, at))
            }
            Ok((f, _)) => Ok(Next::Bad {
                at,
                offset: next_offset,
                error: FrameError::Header(format!(
                    "frame starts at offset {} where {next_offset} was expected",
                    f.header.first_offset
                )),
            }),
            Err(error) => Ok(Next::Bad {
                at,
                offset: next_offset,
                error,
            }),
        }
    }
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
