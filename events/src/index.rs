//! The log's indexes, in sled: derived data, rebuilt from the segments.
//!
//! ```text
//! 'S' · stream · 0x00 · base:u64be → offsets of versions base .. base+63 (varint deltas)
//! 'P' · first_offset:u64be          → segment:u64be · position:u64be   (sparse frame pointers)
//! 'M'                               → the indexed prefix (see Meta)
//! 'U'                               → partial chunks kept in memory (see below)
//! ```
//!
//! - **Stream chunks.** A stream's versions are grouped 64 to a key, so the
//!   index costs a few bytes per event instead of a key per event; a chunk
//!   is rewritten as it fills. The last chunk of each stream gives the
//!   stream's head: the writer looks there for a stream it does not hold
//!   in memory (see `segment_log`'s bounded heads) without scanning the
//!   records.
//! - **Frame pointers.** One pointer per segment start and then one per
//!   64 KiB of segment at most; finding an offset reads at most that much
//!   frame headers forward from the pointer before it.
//! - **Meta** names the last indexed offset, its hash, and where the next
//!   frame starts. It is written in the same sled batch as the entries it
//!   covers, so after a crash sled's atomic batches leave a consistent
//!   prefix and the log re-indexes from there.
//!
//! The index trails the segments: nothing here is on the acknowledgement
//! path, and nothing here is trusted over the segments (a missing, damaged
//! or ahead-of-the-records index is rebuilt).
//!
//! # Partial chunks held in memory between checkpoints
//! Rewriting a stream's chunk in sled at every event it gets was most of
//! the indexer's CPU (one sled insert per event, ~7 µs, on a 2-core machine
//! that the writer and its callers need). The live indexer therefore
//! [publishes](IndexWriter::publish) each batch: full chunks (they never
//! change again) and frame pointers go to sled at once, a stream's partial
//! last chunk only into [`Index`]'s in-memory table of unwritten chunks,
//! which every reader of the index consults before sled. A
//! [checkpoint](IndexWriter::flush) writes the meta and, in the same sled
//! batch, the table: the chunks published in this or the previous interval
//! (*hot*: their streams are still being appended to) together as one value
//! (`'U'`), which [`Index::open`] loads back into the table, and each
//! colder one under its own key, after which it leaves memory. A chunk
//! updated many times is thus written once per checkpoint as a few bytes
//! of one value, not once per event as a sled entry: with 100,000 streams
//! appended to at random, writing each partial chunk under its own key at
//! every checkpoint still took a sixth of the process's CPU. Meta still
//! names a prefix the sled index (with that value) holds completely; after
//! a crash the log re-indexes from it (the entries written ahead of it are
//! found again, unchanged).

use crate::ids::StreamId;
use crate::segment::SegPos;
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Versions per stream chunk.
pub const CHUNK: u64 = 64;

/// Most segment bytes between two frame pointers.
pub const POINTER_SPACING: u64 = 64 * 1024;

const STREAM: u8 = b'S';
const POINTER: u8 = b'P';
const META: &[u8] = b"M";
/// The partial chunks kept in memory at the last checkpoint. It sorts
/// before every other key, so its sled leaf is one that nothing else
/// writes between checkpoints: the value is megabytes, and sled writes a
/// leaf that large whole (as a blob file) each time it consolidates the
/// leaf's updates. Under `U`, after the stream keys, the leaf also took
/// the newest streams' full chunks and was rewritten ~12 times a second at
/// 64 × 1 (a tenth of the process's CPU copying blobs).
const PARTIALS: &[u8] = b"\x00U";
/// Where [`PARTIALS`] was stored before (read at open, removed at the
/// next checkpoint).
const LEGACY_PARTIALS: &[u8] = b"U";

/// The encoding of the [`PARTIALS`] value (another value means "rebuild").
const PARTIALS_FORMAT: u8 = 1;

/// The index format (stored in meta; another value means "rebuild").
const INDEX_FORMAT: u8 = 1;

/// How far the index reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// The last offset whose entries are in the index.
    pub indexed_through: u64,
    /// That record's hash.
    pub hash: [u8; 32],
    /// Where the frame after it starts.
    pub next: SegPos,
    /// The last frame pointer written.
    pub last_pointer: SegPos,
}

impl Meta {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(73);
        v.push(INDEX_FORMAT);
        v.extend_from_slice(&self.indexed_through.to_be_bytes());
        v.extend_from_slice(&self.hash);
        v.extend_from_slice(&self.next.segment.to_be_bytes());
        v.extend_from_slice(&self.next.pos.to_be_bytes());
        v.extend_from_slice(&self.last_pointer.segment.to_be_bytes());
        v.extend_from_slice(&self.last_pointer.pos.to_be_bytes());
        v
    }

    fn decode(v: &[u8]) -> Option<Meta> {
        if v.len() != 73 || v[0] != INDEX_FORMAT {
            return None;
        }
        let u = |at: usize| be_u64(&v[at..at + 8]);
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&v[9..41]);
        Some(Meta {
            indexed_through: u(1)?,
            hash,
            next: SegPos {
                segment: u(41)?,
                pos: u(49)?,
            },
            last_pointer: SegPos {
                segment: u(57)?,
                pos: u(65)?,
            },
        })
    }
}

fn be_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

/// The index could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// sled failed.
    #[error("index storage: {0}")]
    Storage(String),
    /// The index disagrees with itself or with the records it is given.
    #[error("index inconsistent: {0}")]
    Inconsistent(String),
}

fn storage(e: sled::Error) -> IndexError {
    IndexError::Storage(e.to_string())
}

/// The base version of the chunk holding `version` (versions start at 1).
pub fn chunk_base(version: u64) -> u64 {
    (version.saturating_sub(1) / CHUNK) * CHUNK + 1
}

fn stream_prefix(stream: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(stream.len() + 10);
    k.push(STREAM);
    k.extend_from_slice(stream.as_bytes());
    k.push(0);
    k
}

fn chunk_key(stream: &str, base: u64) -> Vec<u8> {
    chunk_key_bytes(stream.as_bytes(), base)
}

fn chunk_key_bytes(name: &[u8], base: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 10);
    k.push(STREAM);
    k.extend_from_slice(name);
    k.push(0);
    k.extend_from_slice(&base.to_be_bytes());
    k
}

/// `(stream name, base)` of a chunk key (`'S' · name · 0x00 · base:u64be`).
fn split_chunk_key(key: &[u8]) -> Result<(&[u8], u64), IndexError> {
    let malformed = || IndexError::Inconsistent("malformed stream chunk key".into());
    let split = key
        .len()
        .checked_sub(9)
        .filter(|&at| at > 1 && key[at] == 0)
        .ok_or_else(malformed)?;
    let base = be_u64(&key[split + 1..]).ok_or_else(malformed)?;
    Ok((&key[1..split], base))
}

fn pointer_key(first_offset: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = POINTER;
    k[1..].copy_from_slice(&first_offset.to_be_bytes());
    k
}

/// Encodes increasing offsets as LEB128 varints: the first absolute, then
/// the differences.
fn encode_offsets(offsets: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(offsets.len() * 3);
    let mut prev = 0u64;
    for &o in offsets {
        let mut d = o.wrapping_sub(prev);
        prev = o;
        loop {
            let byte = (d & 0x7f) as u8;
            d >>= 7;
            if d == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    out
}

fn decode_offsets(bytes: &[u8]) -> Option<Vec<u64>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut prev = 0u64;
    let mut d = 0u64;
    let mut shift = 0u32;
    for &b in bytes {
        if shift > 63 {
            return None;
        }
        d |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            prev = prev.wrapping_add(d);
            out.push(prev);
            d = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
    (shift == 0).then_some(out)
}

/// Counts the varints in a chunk without decoding them.
fn count_offsets(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b & 0x80 == 0).count() as u64
}

/// Partial stream chunks the live indexer has published and not yet
/// written to sled: stream name → chunk base → offsets. A stream has at most
/// one (its last chunk); full chunks go to sled at once.
type Unwritten = HashMap<Vec<u8>, BTreeMap<u64, Vec<u64>>>;

/// The sled database holding the index, and the chunks published since the
/// last checkpoint (see the module docs).
#[derive(Clone)]
pub struct Index {
    db: sled::Db,
    tree: sled::Tree,
    unwritten: Arc<RwLock<Unwritten>>,
}

impl Index {
    /// Opens (or creates) the index at `path`.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Index, IndexError> {
        let db = open_db(
            &sled::Config::new()
                .path(path)
                .cache_capacity(cache_bytes)
                .flush_every_ms(Some(1000)),
        )
        .map_err(storage)?;
        let tree = db.open_tree("index").map_err(storage)?;
        let unwritten = load_partials(&tree)?;
        Ok(Index {
            db,
            tree,
            unwritten: Arc::new(RwLock::new(unwritten)),
        })
    }

    /// What the index covers, or `None` for an empty (or foreign-format) index.
    pub fn meta(&self) -> Result<Option<Meta>, IndexError> {
        Ok(self
            .tree
            .get(META)
            .map_err(storage)?
            .and_then(|v| Meta::decode(&v)))
    }

    /// The unwritten (published, not yet checkpointed) chunk of stream
    /// `name` at `base`, if any.
    fn unwritten_chunk(&self, name: &[u8], base: u64) -> Option<Vec<u64>> {
        self.unwritten
            .read()
            .get(name)
            .and_then(|chunks| chunks.get(&base).cloned())
    }

    /// Removes every entry (before a rebuild).
    pub fn clear(&self) -> Result<(), IndexError> {
        self.unwritten.write().clear();
        self.tree.clear().map_err(storage)?;
        self.db.flush().map_err(storage)?;
        Ok(())
    }

    /// Flushes the index to disk (at close, so the next open has nothing
    /// to catch up).
    pub fn flush(&self) -> Result<(), IndexError> {
        self.db.flush().map(|_| ()).map_err(storage)
    }

    /// Bytes sled uses on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// `(version, offset)` of `stream`'s indexed events with version ≥
    /// `from_version`, in order.
    pub fn stream_offsets(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> Result<Vec<(u64, u64)>, IndexError> {
        let from_version = from_version.max(1);
        // The unwritten chunks first: a checkpoint writes them to sled
        // before it drops them from memory, so one of the two reads sees
        // each chunk.
        let unwritten: Vec<(u64, Vec<u64>)> = self
            .unwritten
            .read()
            .get(stream.as_str().as_bytes())
            .map(|chunks| {
                chunks
                    .range(chunk_base(from_version)..)
                    .map(|(b, o)| (*b, o.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let prefix = stream_prefix(stream.as_str());
        let start = chunk_key(stream.as_str(), chunk_base(from_version));
        let mut end = prefix.clone();
        if let Some(last) = end.last_mut() {
            *last = 1;
        }
        let mut chunks: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for item in self.tree.range(start..end) {
            let (k, v) = item.map_err(storage)?;
            let base = be_u64(&k[prefix.len()..]).ok_or_else(|| {
                IndexError::Inconsistent(format!("malformed chunk key for {stream}"))
            })?;
            let offsets = decode_offsets(&v).ok_or_else(|| {
                IndexError::Inconsistent(format!("malformed chunk {base} of {stream}"))
            })?;
            chunks.insert(base, offsets);
        }
        // Chunks only grow: where both reads saw a chunk, the longer copy
        // is the newer (a chunk that filled up is written to sled before
        // its partial copy leaves memory).
        for (base, offsets) in unwritten {
            let held = chunks.entry(base).or_default();
            if offsets.len() > held.len() {
                *held = offsets;
            }
        }
        let mut out = Vec::new();
        for (base, offsets) in chunks {
            for (i, o) in offsets.into_iter().enumerate() {
                let version = base + i as u64;
                if version >= from_version {
                    out.push((version, o));
                }
            }
        }
        Ok(out)
    }

    /// The last frame pointer at or before `offset`: `(first offset of that
    /// frame, its position)`.
    pub fn pointer_before(&self, offset: u64) -> Result<Option<(u64, SegPos)>, IndexError> {
        match self
            .tree
            .range(pointer_key(0)..=pointer_key(offset))
            .next_back()
        {
            None => Ok(None),
            Some(item) => {
                let (k, v) = item.map_err(storage)?;
                let first = be_u64(&k[1..]);
                let seg = v.get(0..8).and_then(be_u64);
                let pos = v.get(8..16).and_then(be_u64);
                match (first, seg, pos) {
                    (Some(first), Some(segment), Some(pos)) => {
                        Ok(Some((first, SegPos { segment, pos })))
                    }
                    _ => Err(IndexError::Inconsistent("malformed frame pointer".into())),
                }
            }
        }
    }

    /// The indexed head version of `stream` (0 if the index holds none of
    /// its events), from its last chunk.
    pub fn stream_head(&self, stream: &StreamId) -> Result<u64, IndexError> {
        // A stream's unwritten chunk, if any, is its last one. (Between
        // opening an index and catching it up with the segments, a chunk
        // stored by the last checkpoint may be shorter than a copy sled got
        // after it; the catch-up at open rewrites every such chunk, and
        // nothing asks for a head before.)
        if let Some((base, offsets)) = self
            .unwritten
            .read()
            .get(stream.as_str().as_bytes())
            .and_then(|chunks| chunks.last_key_value())
        {
            if !offsets.is_empty() {
                return Ok(base + offsets.len() as u64 - 1);
            }
        }
        // Point reads first: sled's reverse range read below clones node
        // data at every step (it was ~40% of the writer's CPU with many
        // streams new to the writer). Chunks are dense from version 1, so
        // no first chunk means no version, and no second chunk means the
        // head is in the first.
        let first = self
            .tree
            .get(chunk_key(stream.as_str(), 1))
            .map_err(storage)?;
        let Some(first) = first else {
            return Ok(0);
        };
        let second = chunk_key(stream.as_str(), 1 + CHUNK);
        if !self.tree.contains_key(second).map_err(storage)? {
            return Ok(count_offsets(&first));
        }
        let prefix = stream_prefix(stream.as_str());
        let mut end = prefix.clone();
        if let Some(last) = end.last_mut() {
            *last = 1;
        }
        let Some(item) = self.tree.range(prefix.clone()..end).next_back() else {
            return Ok(0);
        };
        let (k, v) = item.map_err(storage)?;
        let base = be_u64(&k[prefix.len()..])
            .ok_or_else(|| IndexError::Inconsistent(format!("malformed chunk key for {stream}")))?;
        Ok(match count_offsets(&v) {
            0 => base.saturating_sub(1),
            n => base + n - 1,
        })
    }

    /// Calls `each` with the name and indexed head of every stream the
    /// index holds until it returns `false` (the writer's heads are loaded
    /// this way, see [`crate::heads`]): the streams sled holds chunks of, in
    /// name order, then those whose only chunk is in memory. One pass over
    /// the stream chunks: a stream's chunks are adjacent keys (names hold
    /// no NUL, the separator), its last one gives the head, unless a longer
    /// one waits in memory (a hot stream's partial last chunk).
    pub fn stream_heads(&self, mut each: impl FnMut(&[u8], u64) -> bool) -> Result<(), IndexError> {
        let mut in_memory: HashMap<Vec<u8>, u64> = self
            .unwritten
            .read()
            .iter()
            .filter_map(|(name, chunks)| {
                let (base, offsets) = chunks.last_key_value()?;
                (!offsets.is_empty()).then(|| (name.clone(), base + offsets.len() as u64 - 1))
            })
            .collect();
        let mut current: Option<(Vec<u8>, u64)> = None;
        let mut emit = |name: Vec<u8>, head: u64, in_memory: &mut HashMap<Vec<u8>, u64>| {
            let head = in_memory.remove(&name).map_or(head, |h| h.max(head));
            each(&name, head)
        };
        for item in self.tree.range([STREAM]..[STREAM + 1]) {
            let (k, v) = item.map_err(storage)?;
            let (name, base) = split_chunk_key(&k)?;
            let head = match count_offsets(&v) {
                0 => base.saturating_sub(1),
                n => base + n - 1,
            };
            match &mut current {
                Some((held, h)) if held.as_slice() == name => *h = head,
                _ => {
                    if let Some((held, h)) = current.take() {
                        if !emit(held, h, &mut in_memory) {
                            return Ok(());
                        }
                    }
                    current = Some((name.to_vec(), head));
                }
            }
        }
        if let Some((held, h)) = current {
            if !emit(held, h, &mut in_memory) {
                return Ok(());
            }
        }
        let mut rest: Vec<(Vec<u8>, u64)> = in_memory.drain().collect();
        rest.sort_unstable();
        for (name, head) in rest {
            if !each(&name, head) {
                break;
            }
        }
        Ok(())
    }
}

/// The partial chunks a checkpoint stored ([`PARTIALS`]), as the table of
/// unwritten chunks they were taken from.
fn load_partials(tree: &sled::Tree) -> Result<Unwritten, IndexError> {
    let mut table = Unwritten::new();
    for key in [LEGACY_PARTIALS, PARTIALS] {
        if let Some(bytes) = tree.get(key).map_err(storage)? {
            load_partials_value(&bytes, &mut table)?;
        }
    }
    Ok(table)
}

/// Adds a stored [`PARTIALS`] value to `table` (of two copies of a chunk,
/// the longer is the newer: chunks only grow).
fn load_partials_value(bytes: &[u8], table: &mut Unwritten) -> Result<(), IndexError> {
    let bad = |why: String| IndexError::Inconsistent(format!("stored partial chunks: {why}"));
    let (format, body) = bytes.split_first().ok_or_else(|| bad("empty".into()))?;
    if *format != PARTIALS_FORMAT {
        return Err(bad(format!("unknown format {format}")));
    }
    let chunks: Vec<(Vec<u8>, u64, Vec<u64>)> =
        postcard::from_bytes(body).map_err(|e| bad(e.to_string()))?;
    for (name, base, offsets) in chunks {
        let held = table.entry(name).or_default().entry(base).or_default();
        if offsets.len() > held.len() {
            *held = offsets;
        }
    }
    Ok(())
}

/// The [`PARTIALS`] value holding `chunks`.
fn encode_partials(chunks: &[(&[u8], u64, &[u64])]) -> Result<Vec<u8>, IndexError> {
    let mut out = vec![PARTIALS_FORMAT];
    postcard::to_io(chunks, &mut out).map_err(|e| IndexError::Inconsistent(e.to_string()))?;
    Ok(out)
}

/// Opens sled, waiting briefly for a lock held by an index that was just
/// closed in this process: sled's background flusher keeps the database
/// (and its file lock) for up to one flush interval after the last handle
/// goes. The log's own lock file already excludes other processes.
fn open_db(config: &sled::Config) -> sled::Result<sled::Db> {
    const ATTEMPTS: u32 = 40;
    let mut attempt = 0;
    loop {
        match config.open() {
            Err(e) if attempt + 1 < ATTEMPTS && is_lock_error(&e) => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn is_lock_error(e: &sled::Error) -> bool {
    let s = e.to_string();
    s.contains("could not acquire lock") || s.contains("WouldBlock")
}

/// One durable frame, as the index needs it.
#[derive(Debug, Clone)]
pub struct IndexedFrame {
    /// First offset in the frame.
    pub first_offset: u64,
    /// Last offset in the frame.
    pub last_offset: u64,
    /// Where the frame starts.
    pub at: SegPos,
    /// Where the next frame starts.
    pub next: SegPos,
    /// Hash of the frame's last record.
    pub last_hash: [u8; 32],
    /// `(stream, version, offset)` of each record.
    pub entries: Vec<(StreamId, u64, u64)>,
}

/// Writes frames into the index in batches.
pub struct IndexWriter {
    index: Index,
    /// Chunks read or written recently (an optimisation: the last chunk of
    /// an active stream is usually here, saving a sled read per event).
    chunks: HashMap<Vec<u8>, Vec<u64>>,
    dirty: HashSet<Vec<u8>>,
    /// Chunks in the index's unwritten table (kept here: counting them
    /// walks the table).
    unwritten: usize,
    /// The checkpoint interval in which each chunk of the table was last
    /// published (a chunk loaded from [`PARTIALS`] counts as published in
    /// the first): a checkpoint keeps the chunks of this interval and the
    /// previous one in memory, and writes the others out.
    touched: HashMap<Vec<u8>, u64>,
    /// The current checkpoint interval (checkpoints so far).
    interval: u64,
    /// Distinct chunks published since the last checkpoint.
    published: usize,
    /// Whether the table or sled changed since the last checkpoint.
    changed: bool,
    /// Whether sled holds a [`PARTIALS`] value.
    partials_stored: bool,
    /// Whether sled holds a [`LEGACY_PARTIALS`] value (removed at the next
    /// checkpoint, which stores its chunks under [`PARTIALS`]).
    legacy_partials: bool,
    pointers: Vec<(u64, SegPos)>,
    meta: Option<Meta>,
    staged: bool,
}

/// Chunks kept in the writer's cache before it is cleared.
const CHUNK_CACHE: usize = 200_000;

impl IndexWriter {
    /// A writer continuing from what `index` covers.
    pub fn new(index: Index) -> Result<IndexWriter, IndexError> {
        let (unwritten, touched) = {
            let table = index.unwritten.read();
            let touched: HashMap<Vec<u8>, u64> = table
                .iter()
                .flat_map(|(name, chunks)| chunks.keys().map(|b| (chunk_key_bytes(name, *b), 0)))
                .collect();
            (touched.len(), touched)
        };
        let partials_stored = unwritten > 0;
        let legacy_partials = index.tree.contains_key(LEGACY_PARTIALS).map_err(storage)?;
        let meta = index.meta()?;
        Ok(IndexWriter {
            index,
            chunks: HashMap::new(),
            dirty: HashSet::new(),
            unwritten,
            touched,
            interval: 0,
            published: 0,
            // A legacy value goes at the first checkpoint.
            changed: legacy_partials,
            partials_stored,
            legacy_partials,
            pointers: Vec::new(),
            meta,
            staged: false,
        })
    }

    /// What the index covers once staged frames are written.
    pub fn meta(&self) -> Option<Meta> {
        self.meta
    }

    /// Stages one frame (frames must come in offset order, without gaps).
    pub fn add(&mut self, frame: &IndexedFrame) -> Result<(), IndexError> {
        if let Some(m) = &self.meta {
            if frame.first_offset != m.indexed_through + 1 {
                return Err(IndexError::Inconsistent(format!(
                    "frame at offset {} does not follow the indexed offset {}",
                    frame.first_offset, m.indexed_through
                )));
            }
        } else if frame.first_offset != 1 {
            return Err(IndexError::Inconsistent(format!(
                "the first indexed frame starts at offset {}",
                frame.first_offset
            )));
        }
        for (stream, version, offset) in &frame.entries {
            self.add_entry(stream, *version, *offset)?;
        }
        let last_pointer = self.meta.map(|m| m.last_pointer);
        let needs_pointer = match last_pointer {
            None => true,
            Some(p) => p.segment != frame.at.segment || frame.at.pos >= p.pos + POINTER_SPACING,
        };
        let pointer = if needs_pointer {
            self.pointers.push((frame.first_offset, frame.at));
            frame.at
        } else {
            last_pointer.unwrap_or(frame.at)
        };
        self.meta = Some(Meta {
            indexed_through: frame.last_offset,
            hash: frame.last_hash,
            next: frame.next,
            last_pointer: pointer,
        });
        self.staged = true;
        // The meta moved: the next checkpoint writes it.
        self.changed = true;
        Ok(())
    }

    fn add_entry(
        &mut self,
        stream: &StreamId,
        version: u64,
        offset: u64,
    ) -> Result<(), IndexError> {
        let base = chunk_base(version);
        let key = chunk_key(stream.as_str(), base);
        if !self.chunks.contains_key(&key) {
            let existing = if version == base {
                Vec::new()
            } else if let Some(chunk) = self.index.unwritten_chunk(stream.as_str().as_bytes(), base)
            {
                chunk
            } else {
                match self.index.tree.get(&key).map_err(storage)? {
                    Some(v) => decode_offsets(&v).ok_or_else(|| {
                        IndexError::Inconsistent(format!("malformed chunk {base} of {stream}"))
                    })?,
                    None => Vec::new(),
                }
            };
            self.chunks.insert(key.clone(), existing);
        }
        let chunk = self.chunks.get_mut(&key).ok_or_else(|| {
            IndexError::Inconsistent("chunk vanished from the writer's cache".into())
        })?;
        let slot = (version - base) as usize;
        match chunk.len().cmp(&slot) {
            std::cmp::Ordering::Equal => chunk.push(offset),
            std::cmp::Ordering::Greater if chunk[slot] == offset => return Ok(()),
            _ => {
                return Err(IndexError::Inconsistent(format!(
                    "{stream} version {version} (offset {offset}) does not follow the indexed versions ({} in its chunk)",
                    chunk.len()
                )))
            }
        }
        self.dirty.insert(key);
        Ok(())
    }

    /// Number of frames' worth of work staged.
    pub fn is_staged(&self) -> bool {
        self.staged
    }

    /// A checkpoint: writes everything staged, the table's chunks and the
    /// meta in one atomic sled batch (sled then holds the whole indexed
    /// prefix). Staged chunks (not published: the catch-up at open, `os`
    /// durability) and the table's chunks not published in this interval
    /// or the previous one are written under their own keys, and the
    /// latter leave memory; the rest of the table is stored as one
    /// [`PARTIALS`] value and stays (see the module docs).
    pub fn flush(&mut self) -> Result<(), IndexError> {
        let mut batch = sled::Batch::default();
        // Keys written under their own key by this checkpoint.
        let mut written: HashSet<Vec<u8>> = HashSet::new();
        for key in self.dirty.drain() {
            if let Some(chunk) = self.chunks.get(&key) {
                batch.insert(key.clone(), encode_offsets(chunk));
            }
            written.insert(key);
        }
        let interval = self.interval;
        let hot = |touched: Option<&u64>| touched.is_some_and(|&t| t + 1 >= interval);
        let table = self.index.unwritten.read();
        let mut kept: Vec<(&[u8], u64, &[u64])> = Vec::new();
        for (name, chunks) in table.iter() {
            for (base, offsets) in chunks {
                let key = chunk_key_bytes(name, *base);
                if written.contains(&key) {
                    // Staged as well: the writer's copy was written above.
                    continue;
                }
                if hot(self.touched.get(&key)) {
                    kept.push((name, *base, offsets));
                } else {
                    batch.insert(key.clone(), encode_offsets(offsets));
                    written.insert(key);
                }
            }
        }
        let store = !kept.is_empty();
        if !self.staged && !self.changed && written.is_empty() {
            // Nothing new since the last checkpoint: sled holds it all.
            drop(table);
            self.interval += 1;
            return Ok(());
        }
        if store {
            batch.insert(PARTIALS, encode_partials(&kept)?);
        } else if self.partials_stored {
            batch.remove(PARTIALS);
        }
        if self.legacy_partials {
            batch.remove(LEGACY_PARTIALS);
        }
        drop(kept);
        drop(table);
        self.pointers_into(&mut batch);
        if let Some(meta) = &self.meta {
            batch.insert(META, meta.encode());
        }
        self.index.tree.apply_batch(batch).map_err(storage)?;
        self.partials_stored = store;
        self.legacy_partials = false;
        // Only now, with them in sled, may readers stop finding the
        // written chunks in memory.
        let mut table = self.index.unwritten.write();
        for key in &written {
            let (name, base) = split_chunk_key(key)?;
            if let Some(chunks) = table.get_mut(name) {
                if chunks.remove(&base).is_some() {
                    self.unwritten -= 1;
                }
                if chunks.is_empty() {
                    table.remove(name);
                }
            }
            self.touched.remove(key);
        }
        drop(table);
        self.staged = false;
        self.changed = false;
        self.published = 0;
        self.interval += 1;
        if self.chunks.len() > CHUNK_CACHE {
            self.chunks.clear();
        }
        Ok(())
    }

    /// Publishes what is staged without a checkpoint (the live indexer):
    /// full chunks and frame pointers are written to sled, partial chunks
    /// go to the index's table of unwritten chunks, where every reader
    /// finds them; the meta is not written (it moves at the next
    /// [`flush`](Self::flush)). Returns how many distinct chunks it
    /// published since the last checkpoint.
    pub fn publish(&mut self) -> Result<usize, IndexError> {
        let (mut full, mut partial) = (Vec::new(), Vec::new());
        for key in self.dirty.drain() {
            match self.chunks.get(&key) {
                Some(chunk) if chunk.len() as u64 >= CHUNK => full.push(key),
                Some(_) => partial.push(key),
                None => {}
            }
        }
        let mut batch = sled::Batch::default();
        for key in &full {
            if let Some(chunk) = self.chunks.get(key) {
                batch.insert(key.clone(), encode_offsets(chunk));
            }
        }
        // Most small frames need nothing written (no chunk filled, no
        // pointer due): sled is not asked then.
        if !full.is_empty() || !self.pointers.is_empty() {
            self.pointers_into(&mut batch);
            self.index.tree.apply_batch(batch).map_err(storage)?;
            self.changed = true;
        }
        let mut unwritten = self.index.unwritten.write();
        // A chunk that filled up is in sled now: its partial copy goes
        // (after the write, so readers find it in one or the other).
        for key in full {
            let (name, base) = split_chunk_key(&key)?;
            if let Some(chunks) = unwritten.get_mut(name) {
                if chunks.remove(&base).is_some() {
                    self.unwritten -= 1;
                }
                if chunks.is_empty() {
                    unwritten.remove(name);
                }
            }
            self.touched.remove(&key);
        }
        for key in partial {
            let (name, base) = split_chunk_key(&key)?;
            if let Some(chunk) = self.chunks.get(&key) {
                let held = match unwritten.get_mut(name) {
                    Some(chunks) => chunks,
                    None => unwritten.entry(name.to_vec()).or_default(),
                };
                if held.insert(base, chunk.clone()).is_none() {
                    self.unwritten += 1;
                }
                self.changed = true;
            }
            // Counted once per chunk and interval: a hot chunk published at
            // every batch takes no more memory the second time.
            if self.touched.insert(key, self.interval) != Some(self.interval) {
                self.published += 1;
            }
        }
        self.staged = false;
        Ok(self.published)
    }

    /// How many chunks are published and not yet written to sled.
    pub fn unwritten_chunks(&self) -> usize {
        self.unwritten
    }

    /// Adds the staged frame pointers to `batch`.
    fn pointers_into(&mut self, batch: &mut sled::Batch) {
        for (first, at) in self.pointers.drain(..) {
            let mut v = [0u8; 16];
            v[..8].copy_from_slice(&at.segment.to_be_bytes());
            v[8..].copy_from_slice(&at.pos.to_be_bytes());
            batch.insert(&pointer_key(first)[..], &v[..]);
        }
    }

    /// The index written to.
    pub fn index(&self) -> &Index {
        &self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_through_varint_deltas() {
        let offsets = vec![1, 2, 130, 20_000, 1 << 40, (1 << 40) + 1];
        let bytes = encode_offsets(&offsets);
        assert_eq!(decode_offsets(&bytes), Some(offsets.clone()));
        assert_eq!(count_offsets(&bytes), offsets.len() as u64);
        assert_eq!(decode_offsets(&[0x80]), None, "a cut varint is refused");
    }

    #[test]
    fn chunk_bases_group_64_versions() {
        assert_eq!(chunk_base(1), 1);
        assert_eq!(chunk_base(64), 1);
        assert_eq!(chunk_base(65), 65);
        assert_eq!(chunk_base(128), 65);
    }

    #[test]
    fn meta_round_trips() {
        let m = Meta {
            indexed_through: 9,
            hash: [7; 32],
            next: SegPos {
                segment: 1,
                pos: 99,
            },
            last_pointer: SegPos {
                segment: 1,
                pos: 24,
            },
        };
        assert_eq!(Meta::decode(&m.encode()), Some(m));
    }

    /// An index whose last checkpoint stored its partial chunks under the
    /// old key opens with them (merged with the new key's, the longer copy
    /// of a chunk winning), and its next checkpoint moves them over.
    #[test]
    fn partial_chunks_stored_under_the_old_key_are_loaded_and_moved() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let index = Index::open(dir.path(), 1 << 20).expect("opens");
            let old = encode_partials(&[(b"user-1", 1, &[5, 9][..]), (b"user-2", 1, &[7][..])])
                .expect("encodes");
            let new = encode_partials(&[(b"user-1", 1, &[5][..])]).expect("encodes");
            index.tree.insert(LEGACY_PARTIALS, old).expect("writes");
            index.tree.insert(PARTIALS, new).expect("writes");
            index.flush().expect("flushes");
        }
        let index = Index::open(dir.path(), 1 << 20).expect("reopens");
        let user = |n| StreamId::parse(&format!("user-{n}")).expect("stream");
        assert_eq!(
            index.stream_offsets(&user(1), 1).expect("reads"),
            [(1, 5), (2, 9)]
        );
        assert_eq!(index.stream_offsets(&user(2), 1).expect("reads"), [(1, 7)]);
        let mut w = IndexWriter::new(index.clone()).expect("writer");
        w.flush().expect("checkpoint");
        assert!(index.tree.get(LEGACY_PARTIALS).expect("reads").is_none());
        drop(w);
        drop(index);
        let index = Index::open(dir.path(), 1 << 20).expect("reopens");
        assert_eq!(
            index.stream_offsets(&user(1), 1).expect("reads"),
            [(1, 5), (2, 9)]
        );
        assert_eq!(index.stream_offsets(&user(2), 1).expect("reads"), [(1, 7)]);
    }

    /// Adds a one-event frame of `len` bytes at `*pos` (moved past it).
    fn add_one(
        w: &mut IndexWriter,
        pos: &mut u64,
        len: u64,
        stream: &StreamId,
        version: u64,
        offset: u64,
    ) {
        let at = SegPos {
            segment: 1,
            pos: *pos,
        };
        *pos += len;
        w.add(&IndexedFrame {
            first_offset: offset,
            last_offset: offset,
            at,
            next: SegPos {
                segment: 1,
                pos: *pos,
            },
            last_hash: [offset as u8; 32],
            entries: vec![(stream.clone(), version, offset)],
        })
        .expect("adds");
    }

    #[test]
    fn the_index_finds_stream_versions_heads_and_pointers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = Index::open(dir.path(), 1 << 20).expect("opens");
        let mut w = IndexWriter::new(index.clone()).expect("writer");
        let a = StreamId::parse("user-1").expect("stream");
        let b = StreamId::parse("user-2").expect("stream");
        let mut pos = 24;
        for offset in 1..=200u64 {
            let stream = if offset % 3 == 0 { &b } else { &a };
            let version = if offset % 3 == 0 {
                offset / 3
            } else {
                offset - offset / 3
            };
            add_one(&mut w, &mut pos, 40_000, stream, version, offset);
            if offset % 50 == 0 {
                w.flush().expect("flushes");
            }
        }
        assert_eq!(index.stream_head(&a).expect("head"), 134);
        assert_eq!(index.stream_head(&b).expect("head"), 66);
        // Heads inside the first chunk, and at its very end.
        let five = StreamId::parse("user-5").expect("stream");
        let full = StreamId::parse("user-64").expect("stream");
        let mut offset = 200;
        for (stream, versions) in [(&five, 5u64), (&full, 64)] {
            for version in 1..=versions {
                offset += 1;
                add_one(&mut w, &mut pos, 100, stream, version, offset);
            }
        }
        w.flush().expect("flushes");
        assert_eq!(index.stream_head(&five).expect("head"), 5);
        assert_eq!(index.stream_head(&full).expect("head"), 64);
        let never = StreamId::parse("user-3").expect("stream");
        assert_eq!(index.stream_head(&never).expect("head"), 0);
        // A stream whose name extends another's is another stream.
        let longer = StreamId::parse("user-10").expect("stream");
        assert_eq!(index.stream_head(&longer).expect("head"), 0);
        // One pass lists every stream with the head `stream_head` gives.
        let mut listed = Vec::new();
        index
            .stream_heads(|name, head| {
                listed.push((String::from_utf8_lossy(name).into_owned(), head));
                true
            })
            .expect("lists");
        let want = [
            ("user-1", 134),
            ("user-2", 66),
            ("user-5", 5),
            ("user-64", 64),
        ];
        assert_eq!(
            listed,
            want.map(|(n, h)| (n.to_owned(), h)).to_vec(),
            "every stream once, in name order"
        );
        let mut first = Vec::new();
        index
            .stream_heads(|name, _| {
                first.push(name.to_vec());
                false
            })
            .expect("lists");
        assert_eq!(first, vec![b"user-1".to_vec()], "stops when told");
        let bs = index.stream_offsets(&b, 60).expect("reads");
        assert_eq!(bs.first(), Some(&(60, 180)));
        assert_eq!(bs.last(), Some(&(66, 198)));
        let meta = index.meta().expect("meta").expect("some");
        assert_eq!(meta.indexed_through, 269);
        // Pointers are sparse: every other frame here (40 kB apart, 64 KiB spacing).
        let (first, at) = index.pointer_before(10).expect("ok").expect("some");
        assert!((9..=10).contains(&first), "{first}");
        assert_eq!(at.pos, 24 + (first - 1) * 40_000);
        // Re-adding an indexed frame is refused, a gap too.
        let mut w2 = IndexWriter::new(index.clone()).expect("writer");
        let again = IndexedFrame {
            first_offset: 200,
            last_offset: 200,
            at: SegPos { segment: 1, pos: 0 },
            next: SegPos { segment: 1, pos: 0 },
            last_hash: [0; 32],
            entries: vec![],
        };
        assert!(w2.add(&again).is_err());
    }

    /// What the index must answer for `model` (stream → offsets of its
    /// versions 1..): every version from a few starting points, and the
    /// head.
    fn assert_answers(index: &Index, model: &BTreeMap<String, Vec<u64>>, when: &str) {
        for (name, offsets) in model {
            let stream = StreamId::parse(name).expect("stream");
            assert_eq!(
                index.stream_head(&stream).expect("head"),
                offsets.len() as u64,
                "head of {name} {when}"
            );
            for from in [1, 2, 64, 65, 66, 130, offsets.len() as u64] {
                let want: Vec<(u64, u64)> = offsets
                    .iter()
                    .enumerate()
                    .map(|(i, o)| (i as u64 + 1, *o))
                    .filter(|(v, _)| *v >= from.max(1))
                    .collect();
                assert_eq!(
                    index.stream_offsets(&stream, from).expect("reads"),
                    want,
                    "{name} from {from} {when}"
                );
            }
        }
    }

    /// Heads by stream as [`Index::stream_heads`] reports them.
    fn heads(index: &Index) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        index
            .stream_heads(|name, head| {
                let name = String::from_utf8(name.to_vec()).expect("utf-8 name");
                assert!(out.insert(name, head).is_none(), "one head per stream");
                true
            })
            .expect("heads");
        out
    }

    /// The model's heads.
    fn model_heads(model: &BTreeMap<String, Vec<u64>>) -> BTreeMap<String, u64> {
        model
            .iter()
            .map(|(n, o)| (n.clone(), o.len() as u64))
            .collect()
    }

    /// Given frames published between checkpoints (partial chunks held in
    /// memory, full ones and pointers written at once; a checkpoint keeps
    /// the chunks published in its interval or the one before in memory
    /// and stores them as one value, and writes the others out), when the
    /// index is read after every publish, after a checkpoint, after a crash
    /// that loses what was only in memory (before and after the catch-up
    /// from the meta), and after idle checkpoints, then it answers like the
    /// model every time, and holds in memory exactly the chunks the policy
    /// keeps.
    #[test]
    fn published_chunks_are_read_from_memory_until_a_checkpoint_writes_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut model: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let mut at_checkpoint = model.clone();
        let mut frames: Vec<IndexedFrame> = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut pos = 24u64;
        let mut offset = 0u64;
        let mut checkpoint_through = 0u64;
        // The policy's model: the interval in which each stream's partial
        // chunk was last published.
        let mut touched: BTreeMap<String, u64> = BTreeMap::new();
        let mut interval = 0u64;
        // Partial chunks (stream, base) published since the last checkpoint.
        let mut in_interval = std::collections::BTreeSet::new();
        {
            let index = Index::open(dir.path(), 1 << 20).expect("opens");
            let mut w = IndexWriter::new(index.clone()).expect("writer");
            for round in 0..90 {
                // A frame of 1–40 events over 12 streams, one of them hot.
                let events = 1 + next() % 40;
                let first = offset + 1;
                let mut entries = Vec::new();
                let mut in_frame = std::collections::BTreeSet::new();
                for _ in 0..events {
                    let n = if next() % 2 == 0 { 0 } else { next() % 12 };
                    let name = format!("user-{n}");
                    offset += 1;
                    let offsets = model.entry(name.clone()).or_default();
                    offsets.push(offset);
                    entries.push((
                        StreamId::parse(&name).expect("stream"),
                        offsets.len() as u64,
                        offset,
                    ));
                    in_frame.insert(name);
                }
                let at = SegPos { segment: 1, pos };
                pos += 30_000;
                let frame = IndexedFrame {
                    first_offset: first,
                    last_offset: offset,
                    at,
                    next: SegPos { segment: 1, pos },
                    last_hash: [offset as u8; 32],
                    entries,
                };
                w.add(&frame).expect("adds");
                frames.push(frame);
                if round % 7 == 6 {
                    // Staged chunks are written out; the table keeps the
                    // partial chunks published in this interval or the
                    // previous one.
                    w.flush().expect("checkpoint");
                    in_interval.clear();
                    for name in &in_frame {
                        touched.remove(name);
                    }
                    touched.retain(|name, t| {
                        *t + 1 >= interval && !model[name].len().is_multiple_of(64)
                    });
                    interval += 1;
                    checkpoint_through = offset;
                    at_checkpoint = model.clone();
                    assert_eq!(
                        w.unwritten_chunks(),
                        touched.len(),
                        "after round {round}, in memory: {touched:?}"
                    );
                } else {
                    let published = w.publish().expect("publishes");
                    for name in &in_frame {
                        let len = model[name].len() as u64;
                        if len.is_multiple_of(64) {
                            touched.remove(name);
                        } else {
                            touched.insert(name.clone(), interval);
                            in_interval.insert((name.clone(), chunk_base(len)));
                        }
                    }
                    assert_eq!(
                        published,
                        in_interval.len(),
                        "round {round}: distinct chunks published since the checkpoint"
                    );
                }
                assert_answers(&index, &model, &format!("after round {round}"));
                assert_eq!(
                    heads(&index),
                    model_heads(&model),
                    "heads after round {round}"
                );
                assert_eq!(
                    index.meta().expect("meta").map_or(0, |m| m.indexed_through),
                    checkpoint_through,
                    "only a checkpoint moves the meta"
                );
                // Every frame can be located from the pointers written.
                let (p, _) = index.pointer_before(offset).expect("ok").expect("some");
                let recent = &frames[frames.len().saturating_sub(3)..];
                assert!(
                    recent.iter().any(|f| f.first_offset == p),
                    "a pointer at most 64 KiB (three frames) back: {p}, frame from {first}"
                );
            }
            assert!(
                w.unwritten_chunks() > 0,
                "the last rounds left chunks in memory"
            );
            // A crash: what was only in memory is gone with the process.
        }
        let index = Index::open(dir.path(), 1 << 20).expect("reopens");
        let meta = index.meta().expect("meta").expect("some");
        assert_eq!(meta.indexed_through, checkpoint_through);
        // The chunks the last checkpoint kept in memory are back, and with
        // sled they hold the indexed prefix exactly.
        assert!(
            index.tree.get(PARTIALS).expect("reads").is_some(),
            "the last checkpoint stored the chunks it kept"
        );
        // (Full chunks written since the checkpoint are ahead of it, and
        // a stored partial copy of one is then stale until the catch-up
        // rewrites it: `stream_head`, which trusts the table, is asked only
        // after the catch-up, at open.)
        let loaded_heads = heads(&index);
        for (name, offsets) in &model {
            let stream = StreamId::parse(name).expect("stream");
            let got: Vec<u64> = index
                .stream_offsets(&stream, 1)
                .expect("reads")
                .into_iter()
                .map(|(_, o)| o)
                .collect();
            let held = at_checkpoint.get(name).map_or(0, Vec::len);
            assert!(
                got.len() >= held && offsets.starts_with(&got),
                "{name} before the catch-up: {} of {} indexed, {held} checkpointed",
                got.len(),
                offsets.len()
            );
            assert_eq!(
                loaded_heads.get(name).copied().unwrap_or(0),
                got.len() as u64,
                "{name}'s head as loaded before the catch-up"
            );
        }
        let mut w = IndexWriter::new(index.clone()).expect("writer");
        for f in frames
            .iter()
            .filter(|f| f.first_offset > meta.indexed_through)
        {
            w.add(f)
                .expect("catching up finds the entries written ahead unchanged");
        }
        w.flush().expect("checkpoint");
        assert_answers(&index, &model, "after a crash and a catch-up");
        assert_eq!(
            heads(&index),
            model_heads(&model),
            "heads after the catch-up"
        );
        // Idle: two more checkpoints and every chunk is in sled alone.
        for _ in 0..3 {
            w.flush().expect("idle checkpoint");
        }
        assert_eq!(w.unwritten_chunks(), 0, "idle checkpoints empty memory");
        assert!(
            index.tree.get(PARTIALS).expect("reads").is_none(),
            "and remove the stored chunks"
        );
        drop(w);
        drop(index);
        let index = Index::open(dir.path(), 1 << 20).expect("reopens");
        assert_answers(&index, &model, "reopened after idle checkpoints");
        assert_eq!(heads(&index), model_heads(&model), "heads reopened");
    }
}
