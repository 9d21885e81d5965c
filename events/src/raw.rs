//! Direct, writer-less access to a data directory's log for the offline
//! tools (`switchboard log verify|export|stats`, `replay`).
//!
//! Unlike [`crate::SegmentLog::open`] this changes nothing on disk: no
//! recovery, no torn tail cut, no index update, no tail check (a damaged log
//! must stay inspectable so `verify` can name the first bad offset). It
//! reads the segments front to back. It takes the log's lock, so while a
//! server runs these tools are refused with [`OpenError::Locked`]; they
//! never read a state that is changing under them. A wave-1 data directory
//! that was not migrated yet is read from its sled files.

use crate::codec;
use crate::envelope::Envelope;
use crate::frame;
use crate::layout::{LogDirs, LogLock};
use crate::log::LogError;
use crate::segment::{
    classify_tail, list_segments, read_full_at, segment_name, Cursor, Handles, Next, SegPos, Tail,
    SEGMENT_HEADER_LEN,
};
use crate::segment_log::OpenError;
use crate::wave1::{self, Wave1Log};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

enum Source {
    Segments {
        handles: Arc<Handles>,
        segments: Vec<u64>,
        _lock: LogLock,
    },
    Wave1(Wave1Log),
}

/// Raw records `(offset, bytes)` in offset order.
pub type RawRecords<'a> = Box<dyn Iterator<Item = Result<(u64, Vec<u8>), LogError>> + Send + 'a>;

/// A data directory's log, opened for reading by a tool.
pub struct RawLog {
    source: Source,
    dirs: LogDirs,
}

/// A torn write at the tail: bytes the writer had not finished when it
/// stopped. The next open cuts them; nothing there was acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// The offset the torn frame would have started with.
    pub offset: u64,
    /// Bytes in it.
    pub bytes: u64,
}

impl RawLog {
    /// Opens an existing data directory (refuses a missing one rather than
    /// creating an empty log).
    pub fn open(path: &Path) -> Result<RawLog, OpenError> {
        let dirs = LogDirs::of(path);
        if dirs.exists() {
            let lock = LogLock::acquire(&dirs.root).map_err(|e| OpenError::from_lock(path, e))?;
            let segments =
                list_segments(&dirs.segments).map_err(|e| OpenError::storage(path, e))?;
            return Ok(RawLog {
                source: Source::Segments {
                    handles: Arc::new(Handles::new(dirs.segments.clone())),
                    segments,
                    _lock: lock,
                },
                dirs,
            });
        }
        if wave1::is_wave1(path) {
            return Ok(RawLog {
                source: Source::Wave1(Wave1Log::open(path)?),
                dirs,
            });
        }
        Err(OpenError::Storage {
            path: path.to_path_buf(),
            reason: "no event log here (the directory is missing or was never used)".into(),
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.dirs.data_dir
    }

    /// Raw records from `from` on: `(offset, bytes)`, CRC-checked per
    /// frame. Ends quietly at a torn tail (see [`RawLog::torn_tail`]); any
    /// other damage is an error naming its offset.
    pub fn records(&self, from: u64) -> RawRecords<'_> {
        match &self.source {
            Source::Wave1(w) => Box::new(w.records(from)),
            Source::Segments {
                handles, segments, ..
            } => Box::new(SegmentRecords {
                handles: handles.clone(),
                segments: segments.clone(),
                cursor: None,
                from: from.max(1),
                buf: VecDeque::new(),
                done: false,
            }),
        }
    }

    /// Decoded envelopes from `from` on, checking CRCs and density (not the
    /// chain: that is `verify`'s job).
    pub fn envelopes(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<Envelope, LogError>> + Send + '_ {
        let mut expected = from.max(1);
        self.records(from).map(move |item| {
            let (offset, bytes) = item?;
            if offset != expected {
                return Err(LogError::Corrupt {
                    offset: expected,
                    reason: format!("offset {expected} is missing (next present: {offset})"),
                });
            }
            expected += 1;
            codec::decode_record(&bytes).map_err(|e| LogError::Corrupt {
                offset,
                reason: e.to_string(),
            })
        })
    }

    /// The last complete record's offset (0 for an empty log), from the
    /// frame headers of the last segment.
    pub fn last_offset(&self) -> Result<u64, LogError> {
        let Source::Segments {
            handles, segments, ..
        } = &self.source
        else {
            if let Source::Wave1(w) = &self.source {
                return w.last_offset();
            }
            return Ok(0);
        };
        let Some(&last) = segments.last() else {
            return Ok(0);
        };
        let file = handles
            .get(last)
            .map_err(|e| LogError::Storage(e.to_string()))?
            .ok_or_else(|| LogError::Storage(format!("{} vanished", segment_name(last))))?;
        let mut pos = SEGMENT_HEADER_LEN;
        let mut head = last - 1;
        let mut h = [0u8; frame::FRAME_HEADER_LEN];
        loop {
            let n =
                read_full_at(&file, &mut h, pos).map_err(|e| LogError::Storage(e.to_string()))?;
            match frame::parse_header(&h[..n]) {
                Ok(header) if header.first_offset == head + 1 => {
                    head = header.last_offset();
                    pos += header.frame_len() as u64;
                }
                _ => return Ok(head),
            }
        }
    }

    /// A torn write at the tail of the last segment, if there is one.
    pub fn torn_tail(&self) -> Result<Option<TornTail>, LogError> {
        let Source::Segments {
            handles, segments, ..
        } = &self.source
        else {
            return Ok(None);
        };
        let Some(&last) = segments.last() else {
            return Ok(None);
        };
        let storage = |e: std::io::Error| LogError::Storage(e.to_string());
        let mut cursor = Cursor::new(
            handles.clone(),
            SegPos {
                segment: last,
                pos: SEGMENT_HEADER_LEN,
            },
            last,
            1 << 20,
        )
        .map_err(storage)?;
        let (at, offset) = loop {
            match cursor.next(u64::MAX).map_err(storage)? {
                Next::Frame(..) => {}
                Next::End => break (cursor.position(), cursor.next_offset()),
                Next::Bad { at, offset, .. } => break (at, offset),
            }
        };
        if at.segment != last {
            return Ok(None);
        }
        let file = handles
            .get(at.segment)
            .map_err(storage)?
            .ok_or_else(|| LogError::Storage(format!("{} vanished", segment_name(last))))?;
        Ok(match classify_tail(&file, at.pos).map_err(storage)? {
            Tail::Torn { end } => Some(TornTail {
                offset,
                bytes: end - at.pos,
            }),
            Tail::Clean | Tail::FrameAt(_) => None,
        })
    }

    /// Bytes the log occupies (segments and index).
    pub fn size_on_disk(&self) -> u64 {
        dir_size(&self.dirs.root)
    }

    /// The segment files, oldest first.
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        match &self.source {
            Source::Segments { segments, .. } => segments
                .iter()
                .map(|s| self.dirs.segments.join(segment_name(*s)))
                .collect(),
            Source::Wave1(_) => Vec::new(),
        }
    }
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

struct SegmentRecords {
    handles: Arc<Handles>,
    segments: Vec<u64>,
    cursor: Option<Cursor>,
    from: u64,
    buf: VecDeque<(u64, Vec<u8>)>,
    done: bool,
}

impl Iterator for SegmentRecords {
    type Item = Result<(u64, Vec<u8>), LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.buf.pop_front() {
                return Some(Ok(r));
            }
            if self.done {
                return None;
            }
            if self.cursor.is_none() {
                // Start at the segment holding `from` (the last one named ≤ it).
                let Some(&segment) = self
                    .segments
                    .iter()
                    .rev()
                    .find(|s| **s <= self.from)
                    .or(self.segments.first())
                else {
                    self.done = true;
                    return None;
                };
                let file = match self.handles.get(segment) {
                    Ok(Some(f)) => f,
                    Ok(None) => {
                        self.done = true;
                        return Some(Err(LogError::Storage(format!(
                            "{} vanished",
                            segment_name(segment)
                        ))));
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(LogError::Storage(e.to_string())));
                    }
                };
                let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
                let n = read_full_at(&file, &mut h, 0).unwrap_or(0);
                if let Err(reason) = crate::segment::check_segment_header(&h[..n], segment) {
                    self.done = true;
                    return Some(Err(LogError::Corrupt {
                        offset: segment,
                        reason,
                    }));
                }
                match Cursor::new(
                    self.handles.clone(),
                    SegPos {
                        segment,
                        pos: SEGMENT_HEADER_LEN,
                    },
                    segment,
                    1 << 20,
                ) {
                    Ok(c) => self.cursor = Some(c),
                    Err(e) => {
                        self.done = true;
                        return Some(Err(LogError::Storage(e.to_string())));
                    }
                }
            }
            let cursor = self.cursor.as_mut()?;
            match cursor.next(u64::MAX) {
                Ok(Next::Frame(f, _)) => {
                    if let Err(e) = crate::segment_log::raw_frame(&f, self.from, &mut self.buf) {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                Ok(Next::End) => {
                    self.done = true;
                    // Zeros where the next frame would start: damage if a
                    // complete frame follows them.
                    let end = cursor.position();
                    if frame_follows(&self.handles, end) {
                        return Some(Err(LogError::Corrupt {
                            offset: cursor.next_offset(),
                            reason: format!(
                                "zeros where a frame should start, yet a complete frame follows in {}",
                                segment_name(end.segment)
                            ),
                        }));
                    }
                    // Segments the cursor never reached mean missing records.
                    let at = end.segment;
                    if let Some(s) = self.segments.iter().find(|s| **s > at) {
                        return Some(Err(LogError::Corrupt {
                            offset: cursor.next_offset(),
                            reason: format!(
                                "record missing (segment {} follows)",
                                segment_name(*s)
                            ),
                        }));
                    }
                }
                Ok(Next::Bad { at, offset, error }) => {
                    self.done = true;
                    let last = self.segments.last().copied().unwrap_or(0);
                    let torn = at.segment == last && !frame_follows(&self.handles, at);
                    if !torn {
                        return Some(Err(LogError::Corrupt {
                            offset,
                            reason: error.to_string(),
                        }));
                    }
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(LogError::Storage(e.to_string())));
                }
            }
        }
    }
}

/// Whether the bad bytes at `at` are damage rather than a torn write: a
/// complete frame follows them in their segment.
fn frame_follows(handles: &Handles, at: SegPos) -> bool {
    match handles.get(at.segment) {
        Ok(Some(file)) => !matches!(
            crate::segment::classify_tail(&file, at.pos),
            Ok(Tail::Clean | Tail::Torn { .. })
        ),
        _ => true,
    }
}
