//! The event log: records in append-only segment files, indexes in sled.
//!
//! # Writing
//! The writer owns offsets, stream versions and the hash chain, in two
//! halves. The framing half (thread `log-writer`) takes queued appends,
//! checks their expectations against the stream versions (those of frames
//! not yet durable first, then the stream heads of [`crate::heads`]: every
//! stream in memory once loaded after open, within a bound; past it, or
//! before the loader is through, a stream not held is read from the index) and
//! frames their records into the open frame ([`crate::frame`]). The I/O
//! half (thread `log-sync`) takes the open frame, writes it with one
//! `write` and `fdatasync`s the segment **before** acknowledging anyone,
//! strictly in offset order; whatever was framed meanwhile is the next
//! frame (group commit), so framing overlaps the previous `fdatasync`.
//! With [`LogConfig::pipeline`] off (the default), one thread does both in
//! turn. Only
//! after the acknowledgement does the index hear of the frame: a third
//! thread (the indexer) takes it into the index, off the acknowledgement
//! path. Until it has, readers find the frame in an in-memory list of
//! unindexed frames. With `fsync` durability the indexer writes full stream
//! chunks and frame pointers to sled at once and keeps partial chunks in
//! memory until a checkpoint (every [`CHECKPOINT_EVERY`], when idle, or at
//! [`CHECKPOINT_CHUNKS`]), which stores the hot ones together as one value
//! with the meta, and writes out the ones that went cold: see
//! [`crate::index`].
//!
//! A failed write or sync stops the log: the frame is cut off the segment
//! (and the cut synced), every caller in it and in the frame framed
//! meanwhile (never written) is told the append is unavailable, and
//! nothing is written again until the log is reopened. No background
//! flusher exists that could persist the refused frame later.
//!
//! # Reading
//! Readers find a record through the frame pointers of the index (or the
//! unindexed list), then read segments sequentially with a read-ahead
//! buffer. Records are CRC-checked on every read; each envelope's hash is
//! the next record's `prev_hash` (blake3 is computed only for the last
//! record of a frame), and the whole chain is recomputed by the tail check
//! at open and by `switchboard log verify`. Long reads (`read_all` far
//! behind the head) decode on a separate thread and hand over batches
//! through a bounded channel, so decoding overlaps with the caller's work.
//!
//! # Opening
//! See [`crate::recovery`]: torn tails are cut, corruption is refused with
//! its offset, the index is caught up or rebuilt, the tail is verified, and
//! every stream's head is restored from the file a clean close saved, or
//! else loaded from the index by a background thread (the writer asks the
//! index meanwhile). A wave-1 data directory
//! (records inside sled) is migrated first ([`crate::migrate`]).

use crate::batch::{
    batches_of, decode_event, EventBatch, EventBatches, ReadEventsError, EVENT_BATCH,
};
use crate::codec::{self, RecordParts, RecordView};
use crate::envelope::{Envelope, EnvelopeRef};
use crate::files::Files;
use crate::frame::{self, Frame, FrameBuilder};
use crate::heads::{Head, HeadKey, Heads, KeyMap};
use crate::ids::StreamId;
use crate::index::{Index, IndexWriter, IndexedFrame};
use crate::layout::{LockError, LogDirs, LogLock};
use crate::log::{
    AppendError, AppendRequest, Appended, EnvelopeIter, EventLog, Expected, LogError,
};
use crate::progress::Progress;
use crate::recovery::{self, Refusal};
use crate::segment::{read_full_at, Cursor, Handles, Next, SegPos, SegmentWriter};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use parking_lot::{Condvar, Mutex, RwLock};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::{oneshot, watch};

/// How hard an acknowledged append is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// `fdatasync` before acknowledging (the default; an acknowledged write
    /// survives power loss and `kill -9`).
    Fsync,
    /// Hand the write to the OS and acknowledge. For benchmarks only: a
    /// power loss can lose acknowledged writes (`kill -9` cannot).
    Os,
}

/// How to open the log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The data directory (the log lives in `<path>/log`).
    pub path: PathBuf,
    /// `fdatasync` per group commit, or not.
    pub durability: Durability,
    /// How many records at the tail to verify on open.
    pub tail_check: usize,
    /// Upper bound on events per group commit.
    pub max_batch_events: usize,
    /// sled page cache for the index, in bytes.
    pub cache_bytes: u64,
    /// A segment file is closed and a new one started beyond this size.
    pub segment_bytes: u64,
    /// Prepare every segment full of zeros before use (see
    /// [`crate::segment`]); off, segments grow as frames are written.
    pub preallocate: bool,
    /// Frame the next group commit while the previous one's `fdatasync`
    /// runs (a second writer thread does the I/O and acknowledges in
    /// order); off (the default: it measured slower on a 2-core machine,
    /// see BENCHMARKS.md), one thread frames, writes, syncs and
    /// acknowledges each group in turn.
    pub pipeline: bool,
    /// Group commit gathering: after a durable commit of several appends,
    /// the next frame is written once as many appends have been framed
    /// again (the callers just acknowledged usually append again at once),
    /// or after about one `fdatasync` time (a moving average), whichever
    /// comes first. Off, the next frame takes whatever arrived while the
    /// writer yielded its CPU once. Only with `Durability::Fsync`.
    pub gather: bool,
    /// Streams whose head version the writer keeps in memory: every stream
    /// up to this many (loaded in the background after open), the recently
    /// written ones past it, older ones then read from the index (see
    /// [`crate::heads`]).
    pub stream_heads: usize,
    /// The file layer the writer goes through (tests inject failures or
    /// record calls here).
    pub files: Files,
    /// Where migration and index rebuild progress goes.
    pub progress: Progress,
    /// Told about every group commit (metrics), if set.
    pub observer: Option<Arc<dyn crate::CommitObserver>>,
}

impl std::fmt::Debug for dyn crate::CommitObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitObserver")
    }
}

/// The default segment size: 256 MiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 256 * 1024 * 1024;

impl LogConfig {
    /// Defaults for a data directory: fsync, 1024-record tail check, 256 MiB
    /// segments.
    pub fn new(path: impl Into<PathBuf>) -> LogConfig {
        LogConfig {
            path: path.into(),
            durability: Durability::Fsync,
            tail_check: 1024,
            max_batch_events: 8192,
            cache_bytes: 64 * 1024 * 1024,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            preallocate: true,
            stream_heads: crate::heads::DEFAULT_STREAM_HEADS,
            pipeline: false,
            gather: true,
            files: Files::os(),
            progress: Progress::none(),
            observer: None,
        }
    }
}

/// The log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process (a running server) holds the directory's lock.
    #[error("the data directory {path} is in use by another process (a running switchboard server holds its lock); stop it first, or work on a copy taken while it was stopped")]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// Storage failed.
    #[error("cannot open the event log at {path}: {reason}")]
    Storage {
        /// The directory.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// Acknowledged records are damaged.
    #[error("the event log at {path} is corrupt at offset {offset}: {reason}. Refusing to start; run `switchboard log verify` for a full report")]
    Corrupt {
        /// The directory.
        path: PathBuf,
        /// The first bad offset.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Migrating a wave-1 data directory failed; the old data is untouched.
    #[error(
        "cannot migrate the wave-1 event log at {path}: {reason}. The old records are untouched"
    )]
    Migration {
        /// The directory.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

impl OpenError {
    pub(crate) fn storage(path: &Path, reason: impl ToString) -> OpenError {
        OpenError::Storage {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn from_refusal(path: &Path, r: Refusal) -> OpenError {
        match r {
            Refusal::Corrupt { offset, reason } => OpenError::Corrupt {
                path: path.to_path_buf(),
                offset,
                reason,
            },
            Refusal::Storage(reason) => OpenError::storage(path, reason),
        }
    }

    pub(crate) fn from_lock(path: &Path, e: LockError) -> OpenError {
        match e {
            LockError::Held => OpenError::Locked {
                path: path.to_path_buf(),
            },
            LockError::Io(e) => OpenError::storage(path, e),
        }
    }
}

fn storage(e: impl ToString) -> LogError {
    LogError::Storage(e.to_string())
}

fn corrupt(offset: u64, reason: impl ToString) -> LogError {
    LogError::Corrupt {
        offset,
        reason: reason.to_string(),
    }
}

struct Job {
    request: AppendRequest,
    /// The heads' key of each expectation's stream, then of each event's,
    /// hashed by the caller (on its own thread, off the writer's).
    keys: smallvec::SmallVec<[HeadKey; 2]>,
    reply: oneshot::Sender<Reply>,
}

impl Job {
    fn new(request: AppendRequest, reply: oneshot::Sender<Reply>) -> Job {
        let keys = request
            .expected
            .iter()
            .map(|(stream, _)| stream)
            .chain(request.events.iter().map(|ev| &ev.stream))
            .map(HeadKey::of_stream)
            .collect();
        Job {
            request,
            keys,
            reply,
        }
    }
}

/// What the caller of one append is told: its own result, and the rest of
/// its group commit's acknowledgements, which it delivers from its own
/// thread (see [`acknowledge`]).
struct Reply {
    result: Result<Appended, AppendError>,
    others: Acks,
}

impl Reply {
    /// A reply that passes nothing on (refusals).
    fn alone(result: Result<Appended, AppendError>) -> Reply {
        Reply {
            result,
            others: Acks(Vec::new()),
        }
    }
}

/// Acknowledgements still to deliver. Whatever is left is delivered when
/// this drops, so none is lost whichever way its [`Reply`] ends: read by
/// its caller, or dropped unread with a caller that went away.
struct Acks(Vec<(oneshot::Sender<Reply>, Result<Appended, AppendError>)>);

impl Drop for Acks {
    fn drop(&mut self) {
        for (reply, result) in self.0.drain(..) {
            let _ = reply.send(Reply::alone(result));
        }
    }
}

/// Tells a durable group commit's callers, waking one task from the
/// writer: the first caller gets every other acknowledgement with its own
/// and delivers them from its runtime's thread, where waking a task is a
/// push onto that thread's run queue rather than a cross-thread hand-over
/// (measured at 5–10 µs per caller on the writer's thread, see
/// BENCHMARKS.md). If the first caller is gone, its reply drops here and
/// delivers the others from this thread.
fn acknowledge(acks: Vec<(oneshot::Sender<Reply>, Result<Appended, AppendError>)>) {
    let mut acks = acks.into_iter();
    if let Some((reply, result)) = acks.next() {
        let _ = reply.send(Reply {
            result,
            others: Acks(acks.collect()),
        });
    }
}

/// What readers, subscribers, the writer and the indexer share.
struct Shared {
    handles: Arc<Handles>,
    index: Index,
    head: watch::Sender<u64>,
    /// The last offset the writer framed (durable or on its way).
    framed: watch::Sender<u64>,
    closed: AtomicBool,
    /// Set when storage failed; appends are refused from then on.
    failure: Mutex<Option<String>>,
    /// Every stream's durable version (the writer's OCC state), or within
    /// the bound the recently written ones (older ones are read from the
    /// index): see [`crate::heads`].
    heads: RwLock<Heads>,
    /// The heads loader has finished (or given up), or was not needed.
    heads_loader_done: AtomicBool,
    /// Where the complete heads are saved at a clean close.
    heads_file: PathBuf,
    /// The last offset the index holds (advanced by the indexer).
    indexed: AtomicU64,
    /// Durable frames the indexer has not written to sled yet, in order.
    unindexed: RwLock<VecDeque<Arc<IndexedFrame>>>,
    /// Held while the log is open.
    _lock: LogLock,
}

/// The writer's queue and threads. Separate from [`Shared`] so that the
/// threads (which hold `Shared`) do not keep themselves alive: when the last
/// `SegmentLog` clone goes, this drops, the queue closes and they drain and
/// exit.
struct WriterHandle {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    /// The framing half, shared with the writer thread so that a lone
    /// caller can commit on its own thread (see [`SegmentLog::lead`]).
    writer: Arc<Lead>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Tells the heads loader to stop (the log is closing).
    stop: Arc<AtomicBool>,
}

/// The event log. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct SegmentLog {
    shared: Arc<Shared>,
    writer: Arc<WriterHandle>,
}

/// The log's former name, from when records lived inside sled; kept so
/// code written against it still compiles.
pub type SledLog = SegmentLog;

/// The most a new frame's buffer reserves up front (it grows past it).
const MAX_FRAME_RESERVE: usize = 1 << 20;

/// Frames the indexer may lag behind before the writer waits for it.
const INDEX_LAG_FRAMES: usize = 16_384;

/// The live indexer writes the partial chunks it holds in memory, and the
/// meta, at least this often (and when idle this long): after a crash the
/// log re-indexes at most about this much of the log at open.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// ...or as soon as this many distinct partial chunks were published since
/// the last one (a few hundred bytes each in memory).
const CHECKPOINT_CHUNKS: usize = 131_072;

/// `read_all` decodes on a separate thread when at least this many records
/// are behind the head.
const PIPELINE_THRESHOLD: u64 = 16_384;

/// Envelopes per batch handed over by the read-ahead thread.
const PIPELINE_BATCH: usize = 1024;

/// Batches in flight between the read-ahead thread and the reader.
const PIPELINE_DEPTH: usize = 4;

/// Event batches a reader keeps for reuse ([`event_batches_ahead`]).
const RECYCLED_BATCHES: usize = 64;

impl SegmentLog {
    /// Opens (or creates) the log in the data directory `config.path` and
    /// starts its writer. Migrates a wave-1 data directory first.
    pub fn open(config: LogConfig) -> Result<SegmentLog, OpenError> {
        let dirs = LogDirs::of(&config.path);
        crate::migrate::migrate_if_needed(&config, &dirs)?;
        let opened = open_parts(&config, &dirs, false)?;
        if config.durability == Durability::Os {
            tracing::warn!(
                "durability = \"os\": appends are acknowledged BEFORE they reach the disk; \
                 a power loss can lose acknowledged writes. Use only for benchmarks."
            );
        }
        let Opened {
            lock,
            index,
            handles,
            recovered,
        } = opened;
        if recovered.scanned > 0 || recovered.torn_bytes > 0 {
            tracing::info!(
                head = recovered.head,
                checked_and_indexed = recovered.scanned,
                torn_bytes_cut = recovered.torn_bytes,
                "event log recovered"
            );
        }
        let files = config.files.0.clone();
        let segments = match recovered.end {
            None => SegmentWriter::create(
                &dirs.segments,
                files,
                1,
                config.segment_bytes,
                config.preallocate,
            ),
            Some(end) => SegmentWriter::resume(
                &dirs.segments,
                files,
                end.segment,
                end.pos,
                config.segment_bytes,
                config.preallocate,
            ),
        }
        .map_err(|e| OpenError::storage(&config.path, e))?;
        let (head_tx, _) = watch::channel(recovered.head);
        // Heads saved at the last clean close start complete (no pass
        // over the index) if the log is still where it was then.
        let saved = std::fs::read(heads_file(&dirs)).ok().and_then(|bytes| {
            Heads::restore(&bytes, recovered.head, &recovered.hash, config.stream_heads)
        });
        let restored = saved.is_some();
        let heads = saved.unwrap_or_else(|| Heads::new(config.stream_heads));
        let shared = Arc::new(Shared {
            handles,
            index: index.clone(),
            head: head_tx,
            framed: watch::channel(recovered.head).0,
            closed: AtomicBool::new(false),
            failure: Mutex::new(None),
            heads: RwLock::new(heads),
            heads_loader_done: AtomicBool::new(restored),
            heads_file: heads_file(&dirs),
            // Recovery brought the index up to the head.
            indexed: AtomicU64::new(recovered.head),
            unindexed: RwLock::new(VecDeque::new()),
            _lock: lock,
        });
        let indexer = IndexWriter::new(index).map_err(|e| OpenError::storage(&config.path, e))?;
        // Partial chunks wait in memory for a checkpoint only when every
        // indexed frame is durable: with `os` durability a power loss can
        // take frames whose entries sled would then hold ahead of its meta.
        let defer = config.durability == Durability::Fsync;
        let (index_tx, index_rx) = mpsc::sync_channel::<Arc<IndexedFrame>>(INDEX_LAG_FRAMES);
        let (tx, rx) = mpsc::channel::<Job>();
        let pipe = Arc::new(Pipe::new());
        let lone = Arc::new(AtomicBool::new(true));
        let io = Io {
            lone: lone.clone(),
            shared: shared.clone(),
            pipe: pipe.clone(),
            segments,
            durability: config.durability,
            indexer: Some(index_tx),
            observer: config.observer.clone(),
            gather: config.gather && config.durability == Durability::Fsync,
            max_batch: config.max_batch_events.max(1),
            fsync_avg: Duration::ZERO,
        };
        let spawn_err = |e: std::io::Error| {
            OpenError::storage(&config.path, format!("cannot start a log thread: {e}"))
        };
        let mut threads = Vec::new();
        let inline_io = if config.pipeline {
            threads.push(
                std::thread::Builder::new()
                    .name("log-sync".into())
                    .spawn(move || io.run())
                    .map_err(spawn_err)?,
            );
            None
        } else {
            Some(Box::new(io))
        };
        let writer = Writer {
            shared: shared.clone(),
            pipe,
            next_offset: recovered.head + 1,
            last_hash: recovered.hash,
            last_time_us: recovered.last_time_us,
            frame_bytes: 0,
            durability: config.durability,
            max_batch: config.max_batch_events.max(1),
            inline_io,
        };
        let indexer_shared = shared.clone();
        let indexer_thread = std::thread::Builder::new()
            .name("log-indexer".into())
            .spawn(move || run_indexer(indexer_shared, indexer, index_rx, defer))
            .map_err(spawn_err)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (loader_shared, loader_stop) = (shared.clone(), stop.clone());
        let loader_thread = if restored {
            None
        } else {
            Some(
                std::thread::Builder::new()
                    .name("log-heads".into())
                    .spawn(move || load_heads(&loader_shared, &loader_stop))
                    .map_err(spawn_err)?,
            )
        };
        let lead = Arc::new(Lead {
            enabled: writer.inline_io.is_some() && config.durability == Durability::Fsync,
            writer: Mutex::new(writer),
            idle: AtomicBool::new(false),
            lone,
        });
        let thread_lead = lead.clone();
        let writer_thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || thread_lead.run(rx))
            .map_err(spawn_err)?;
        // Joined in this order: the writer's exit ends the sync thread's
        // queue, and the sync thread's (or the inline writer's) the
        // indexer's; the loader stops when told.
        threads.insert(0, writer_thread);
        threads.push(indexer_thread);
        threads.extend(loader_thread);
        Ok(SegmentLog {
            shared,
            writer: Arc::new(WriterHandle {
                sender: Mutex::new(Some(tx)),
                writer: lead,
                threads: Mutex::new(threads),
                stop,
            }),
        })
    }

    /// A lone caller's append, committed on the caller's own thread: when
    /// the log's writer thread sleeps with nothing queued and its last
    /// commit acknowledged a single append, the caller frames, writes and
    /// `fdatasync`s its append itself (under the same lock the writer
    /// thread frames under, so the log still has one writer at a time),
    /// and finds its acknowledgement ready when it first polls. Handing
    /// the append to the writer thread and the acknowledgement back costs
    /// two thread wake-ups per commit, each 27–31 µs on the measured VM
    /// (an idle vCPU halts at once): a third of a lone commit's time above
    /// its `fdatasync` (BENCHMARKS.md). RocksDB's write thread lets the
    /// first writer of an idle queue write its own batch the same way.
    ///
    /// The caller's thread (a runtime worker, in the service) is blocked
    /// for one write and `fdatasync`; at most one caller at a time is (the
    /// lock is only tried), and any concurrent append goes to the writer
    /// thread, whose next group commit then ends the lone streak, so under
    /// load every append is group-committed as before. Never on the only
    /// worker of a runtime, whose other tasks could not append meanwhile
    /// (see [`blocking_holds_up_no_caller`]). Hands the job back when the
    /// writer is busy or the log is closed.
    fn lead(&self, job: Job) -> Result<(), Job> {
        if self.writer.sender.lock().is_none() {
            return Err(job);
        }
        self.writer.writer.commit_alone(job)
    }

    /// Rebuilds the index of the log in `data_dir` from its segments
    /// (`switchboard log reindex`): the old index is removed first, so this
    /// works when sled refuses to open it. Returns the records indexed and
    /// the head hash. Refuses while another process holds the log.
    pub fn reindex(config: &LogConfig) -> Result<(u64, [u8; 32]), OpenError> {
        SegmentLog::reindex_at(config, &LogDirs::of(&config.path))
    }

    /// [`SegmentLog::reindex`] of the log laid out in `dirs`.
    pub(crate) fn reindex_at(
        config: &LogConfig,
        dirs: &LogDirs,
    ) -> Result<(u64, [u8; 32]), OpenError> {
        if !dirs.exists() {
            return Err(OpenError::storage(
                &config.path,
                "no event log here (the directory is missing or was never used)",
            ));
        }
        let opened = open_parts(config, dirs, true)?;
        opened
            .index
            .flush()
            .map_err(|e| OpenError::storage(&config.path, e))?;
        Ok((opened.recovered.head, opened.recovered.hash))
    }

    /// Raw records from `from` on, `(offset, bytes)`, for verification.
    pub fn raw_records(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, Vec<u8>), LogError>> + Send + '_ {
        ReadIter::new(&self.shared, from.max(1), 1 << 20, raw_frame)
    }

    /// Bytes on disk: segments plus index.
    pub fn size_on_disk(&self) -> u64 {
        segments_size(self.shared.handles.dir()) + self.shared.index.size_on_disk()
    }

    /// The last offset the writer has framed: durable, or on its way to
    /// the disk (written or not yet, not acknowledged before its
    /// `fdatasync`). Tests watch the pipeline with it.
    pub fn framed_head(&self) -> watch::Receiver<u64> {
        self.shared.framed.subscribe()
    }

    /// Streams whose head the writer holds in memory (bounded by
    /// [`LogConfig::stream_heads`] once the index has caught up).
    pub fn stream_heads_held(&self) -> usize {
        self.shared.heads.read().len()
    }

    /// Whether the writer holds every stream's head, so that a stream it
    /// does not hold is new and costs no index read (see [`crate::heads`]):
    /// once the heads are loaded after open, while they fit
    /// [`LogConfig::stream_heads`].
    pub fn stream_heads_complete(&self) -> bool {
        self.shared.heads.read().is_complete()
    }

    /// Bytes the writer's stream heads take (their tables' capacity).
    pub fn stream_heads_bytes(&self) -> usize {
        self.shared.heads.read().bytes()
    }

    /// Waits until the heads loader started at open has finished (or given
    /// up past the bound, or on an index error, or at close); returns
    /// [`SegmentLog::stream_heads_complete`].
    pub fn wait_stream_heads_loaded(&self) -> bool {
        while !self.shared.heads_loader_done.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.stream_heads_complete()
    }

    /// Durable events the index has not taken in yet (read from memory
    /// until it has).
    pub fn unindexed_events(&self) -> u64 {
        let pending = self.shared.unindexed.read();
        match (pending.front(), pending.back()) {
            (Some(first), Some(last)) => last.last_offset + 1 - first.first_offset,
            _ => 0,
        }
    }

    /// Waits until the index has caught up with every durable frame (tests
    /// and benchmarks that measure the index use it).
    pub fn wait_indexed(&self) {
        while !self.shared.unindexed.read().is_empty() {
            if self.writer.sender.lock().is_none() && self.shared.closed.load(Ordering::Acquire) {
                return;
            }
            // A failed index is not caught up before the next open.
            if self.shared.failure.lock().is_some() {
                return;
            }
            std::thread::yield_now();
        }
    }
}

/// Sum of the sizes of the files in the segments directory `dir`: the
/// segments (with their preallocated zeros) and a prepared next one.
pub(crate) fn segments_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

struct Opened {
    lock: LogLock,
    index: Index,
    handles: Arc<Handles>,
    recovered: recovery::Recovered,
}

/// Locks, opens (or rebuilds) the index and recovers the segments.
fn open_parts(config: &LogConfig, dirs: &LogDirs, rebuild: bool) -> Result<Opened, OpenError> {
    dirs.create()
        .map_err(|e| OpenError::storage(&config.path, e))?;
    let lock = LogLock::acquire(&dirs.root).map_err(|e| OpenError::from_lock(&config.path, e))?;
    if rebuild && dirs.index.exists() {
        std::fs::remove_dir_all(&dirs.index).map_err(|e| OpenError::storage(&config.path, e))?;
    }
    let index = match Index::open(&dirs.index, config.cache_bytes) {
        Ok(i) => i,
        Err(e) => {
            // The index is derived data: set the unreadable one aside and rebuild.
            let aside = dirs.root.join(format!(
                "index.broken-{}",
                OffsetDateTime::now_utc().unix_timestamp()
            ));
            tracing::warn!(error = %e, aside = %aside.display(), "the index does not open; rebuilding it from the segments");
            std::fs::rename(&dirs.index, &aside)
                .map_err(|e| OpenError::storage(&config.path, e))?;
            Index::open(&dirs.index, config.cache_bytes)
                .map_err(|e| OpenError::storage(&config.path, e))?
        }
    };
    let handles = Arc::new(Handles::new(dirs.segments.clone()));
    let recovered = recovery::recover(dirs, &handles, &index, config.tail_check, &config.progress)
        .map_err(|r| OpenError::from_refusal(&config.path, r))?;
    Ok(Opened {
        lock,
        index,
        handles,
        recovered,
    })
}

impl Shared {
    /// The frame holding (or a frame before) `offset`: `(its first offset,
    /// its position)`. `offset` must be durable (≤ head).
    fn locate(&self, offset: u64) -> Result<(u64, SegPos), LogError> {
        {
            let pending = self.unindexed.read();
            if pending.front().is_some_and(|f| offset >= f.first_offset) {
                let i = pending.partition_point(|f| f.last_offset < offset);
                if let Some(f) = pending.get(i) {
                    return Ok((f.first_offset, f.at));
                }
            }
        }
        // Everything before the first unindexed frame is in the index.
        self.index
            .pointer_before(offset)
            .map_err(storage)?
            .ok_or_else(|| corrupt(offset, "no frame pointer before this offset in the index"))
    }

    fn cursor_at(&self, offset: u64, read_ahead: usize) -> Result<Cursor, LogError> {
        let (first, at) = self.locate(offset)?;
        Cursor::new(self.handles.clone(), at, first, read_ahead).map_err(storage)
    }

    /// Reads and fully checks (CRC and hash) the record at `offset`.
    fn read_record(&self, offset: u64) -> Result<Envelope, LogError> {
        let (first, at) = self.locate(offset)?;
        let file = self
            .handles
            .get(at.segment)
            .map_err(storage)?
            .ok_or_else(|| corrupt(offset, "its segment is missing"))?;
        // Walk frame headers from the pointer to the frame holding `offset`.
        let mut pos = at.pos;
        let mut frame_first = first;
        let mut buf = vec![0u8; 64 * 1024];
        let (mut buf_pos, mut buf_len) = (pos, 0usize);
        loop {
            if pos < buf_pos || pos + frame::FRAME_HEADER_LEN as u64 > buf_pos + buf_len as u64 {
                buf_pos = pos;
                buf_len = read_full_at(&file, &mut buf, pos).map_err(storage)?;
            }
            let i = (pos - buf_pos) as usize;
            let h = frame::parse_header(&buf[i..buf_len]).map_err(|e| corrupt(offset, e))?;
            if h.first_offset != frame_first {
                return Err(corrupt(
                    frame_first,
                    format!("frame starts at offset {} instead", h.first_offset),
                ));
            }
            if offset <= h.last_offset() {
                let mut bytes = vec![0u8; h.frame_len()];
                let got = read_full_at(&file, &mut bytes, pos).map_err(storage)?;
                let (f, _) = frame::parse_frame(&bytes[..got])
                    .map_err(|e| corrupt(e.offset(h.first_offset), e))?;
                let rec = f
                    .records()
                    .nth((offset - h.first_offset) as usize)
                    .ok_or_else(|| corrupt(offset, "record missing from its frame"))?;
                let env = codec::decode_record(rec).map_err(|e| corrupt(offset, e))?;
                if env.offset != offset {
                    return Err(corrupt(
                        offset,
                        format!("record claims offset {}", env.offset),
                    ));
                }
                return Ok(env);
            }
            pos += h.frame_len() as u64;
            frame_first = h.last_offset() + 1;
        }
    }
}

/// Calls `each` with every record of a checked frame with offset ≥ `from`,
/// as a borrowed envelope. Each record's hash is the next record's
/// `prev_hash`; only the frame's last record is hashed here.
fn frame_views<'f, E: From<LogError>>(
    f: &Frame<'f>,
    from: u64,
    mut each: impl FnMut(EnvelopeRef<'f>) -> Result<(), E>,
) -> Result<(), E> {
    let mut held: Option<(u64, RecordView<'f>, &'f [u8])> = None;
    let mut emit = |o: u64, v: RecordView<'f>, hash: [u8; 32]| -> Result<(), E> {
        if o < from {
            return Ok(());
        }
        each(v.to_ref(hash).map_err(|e| corrupt(o, e))?)
    };
    for (i, rec) in f.records().enumerate() {
        let offset = f.header.first_offset + i as u64;
        let view = RecordView::parse(rec).map_err(|e| corrupt(offset, e))?;
        if view.offset != offset {
            return Err(corrupt(offset, format!("record claims offset {}", view.offset)).into());
        }
        if let Some((o, v, _)) = held.take() {
            emit(o, v, *view.prev_hash)?;
        }
        held = Some((offset, view, rec));
    }
    if let Some((o, v, rec)) = held {
        emit(o, v, codec::hash_record(rec))?;
    }
    Ok(())
}

/// Turns one checked frame's records with offset ≥ `from` into items.
type Decode<T> = fn(&Frame<'_>, u64, &mut VecDeque<T>) -> Result<(), LogError>;

/// A frame's records with offset ≥ `from`, as `(offset, bytes)` copies.
pub(crate) fn raw_frame(
    f: &Frame<'_>,
    from: u64,
    out: &mut VecDeque<(u64, Vec<u8>)>,
) -> Result<(), LogError> {
    for (offset, rec) in (f.header.first_offset..).zip(f.records()) {
        if offset >= from {
            out.push_back((offset, rec.to_vec()));
        }
    }
    Ok(())
}

fn envelope_frame(f: &Frame<'_>, from: u64, out: &mut VecDeque<Envelope>) -> Result<(), LogError> {
    frame_views(f, from, |env| {
        out.push_back(env.to_envelope());
        Ok::<(), LogError>(())
    })
}

/// Reads frames from `cursor` up to `limit`, decoding into `out`, until
/// `max` items were added or the limit is reached. Returns `false` when the
/// limit was reached.
fn read_into<T>(
    cursor: &mut Cursor,
    from: u64,
    limit: u64,
    out: &mut VecDeque<T>,
    max: usize,
    decode: Decode<T>,
) -> Result<bool, LogError> {
    read_frames(cursor, limit, max, |f| {
        let before = out.len();
        decode(f, from, out)?;
        Ok(out.len() - before)
    })
}

/// Hands frames from `cursor` up to `limit` to `take` (which returns how
/// many items it made of one) until `max` items were made or the limit is
/// reached. Returns `false` when the limit was reached.
fn read_frames<E: From<LogError>>(
    cursor: &mut Cursor,
    limit: u64,
    max: usize,
    mut take: impl FnMut(&Frame<'_>) -> Result<usize, E>,
) -> Result<bool, E> {
    let mut made = 0;
    while made < max {
        let expected = cursor.next_offset();
        match cursor.next(limit).map_err(storage)? {
            Next::Frame(f, _) => made += take(&f)?,
            Next::End if expected <= limit => {
                return Err(corrupt(expected, "record missing below the durable head").into())
            }
            Next::End => return Ok(false),
            Next::Bad { offset, error, .. } => return Err(corrupt(offset, error).into()),
        }
    }
    Ok(true)
}

/// Reads events into `batch` until it holds [`EVENT_BATCH`] or the limit is
/// reached (`false`). On an error, `batch` keeps the events before it.
fn read_event_batch(
    cursor: &mut Cursor,
    from: u64,
    limit: u64,
    batch: &mut EventBatch,
) -> Result<bool, ReadEventsError> {
    read_frames(cursor, limit, EVENT_BATCH, |f| {
        let before = batch.len();
        frame_views(f, from, |env| {
            let event = decode_event(&env)?;
            batch.push(&env, event);
            Ok::<(), ReadEventsError>(())
        })?;
        Ok(batch.len() - before)
    })
}

/// Reads up to the durable head in the caller's thread (`read_all` near the
/// head, `raw_records`).
struct ReadIter<'a, T> {
    shared: &'a Shared,
    cursor: Option<Cursor>,
    from: u64,
    buf: VecDeque<T>,
    done: bool,
    read_ahead: usize,
    decode: Decode<T>,
}

impl<'a, T> ReadIter<'a, T> {
    fn new(shared: &'a Shared, from: u64, read_ahead: usize, decode: Decode<T>) -> Self {
        ReadIter {
            shared,
            cursor: None,
            from,
            buf: VecDeque::new(),
            done: false,
            read_ahead,
            decode,
        }
    }
}

impl<T> Iterator for ReadIter<'_, T> {
    type Item = Result<T, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.buf.pop_front() {
                return Some(Ok(item));
            }
            if self.done {
                return None;
            }
            let head = *self.shared.head.borrow();
            let next = self.cursor.as_ref().map_or(self.from, Cursor::next_offset);
            if next > head {
                self.done = true;
                return None;
            }
            let step = match &mut self.cursor {
                Some(c) => read_into(c, self.from, head, &mut self.buf, 256, self.decode),
                None => self.shared.cursor_at(self.from, self.read_ahead).map(|c| {
                    self.cursor = Some(c);
                    true
                }),
            };
            if let Err(e) = step {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}

/// A long read: a read-ahead thread reads, checks and decodes batches while
/// the caller consumes the previous ones.
struct PipelinedIter<T, E> {
    rx: mpsc::Receiver<Result<T, E>>,
}

impl<T, E> Iterator for PipelinedIter<T, E> {
    type Item = Result<T, E>;

    fn next(&mut self) -> Option<Self::Item> {
        // The thread stops after sending an error, which ends the channel.
        self.rx.recv().ok()
    }
}

/// Starts a read-ahead thread that calls `produce` until it returns `None`
/// or an error, handing each item over through a bounded channel (so it
/// reads at most [`PIPELINE_DEPTH`] items ahead). The thread ends when the
/// reader drops the iterator.
fn spawn_read_ahead<T: Send + 'static, E: Send + 'static>(
    mut produce: impl FnMut() -> Option<Result<T, E>> + Send + 'static,
) -> Result<PipelinedIter<T, E>, LogError> {
    let (tx, rx) = mpsc::sync_channel(PIPELINE_DEPTH);
    std::thread::Builder::new()
        .name("log-read-ahead".into())
        .spawn(move || {
            while let Some(item) = produce() {
                let stop = item.is_err();
                if tx.send(item).is_err() || stop {
                    return; // the reader went away, or this was the end
                }
            }
        })
        .map_err(storage)?;
    Ok(PipelinedIter { rx })
}

/// `read_all` far behind the head: batches of envelopes read ahead.
fn envelopes_ahead(
    mut cursor: Cursor,
    from: u64,
    head: watch::Receiver<u64>,
) -> Result<impl Iterator<Item = Result<Envelope, LogError>>, LogError> {
    let mut more = true;
    let batches = spawn_read_ahead(move || {
        if !more {
            return None;
        }
        let mut out = VecDeque::with_capacity(PIPELINE_BATCH + 64);
        let limit = *head.borrow();
        match read_into(
            &mut cursor,
            from,
            limit,
            &mut out,
            PIPELINE_BATCH,
            envelope_frame,
        ) {
            Ok(m) => more = m,
            Err(e) => return Some(Err(e)),
        }
        (!out.is_empty()).then(|| Ok(Vec::from(out)))
    })?;
    Ok(batches.flat_map(|batch: Result<Vec<Envelope>, LogError>| {
        let (ok, err) = match batch {
            Ok(b) => (b, None),
            Err(e) => (Vec::new(), Some(Err(e))),
        };
        ok.into_iter().map(Ok).chain(err)
    }))
}

/// `read_events` far behind the head: event batches read and decoded ahead.
fn event_batches_ahead(
    mut cursor: Cursor,
    from: u64,
    head: watch::Receiver<u64>,
) -> Result<PipelinedIter<EventBatch, ReadEventsError>, LogError> {
    let mut more = true;
    let mut pending: Option<ReadEventsError> = None;
    // Batches the consumer dropped come back here to be filled again, with
    // the room they grew to. Room for every batch that can be out at once
    // (a parallel replay holds a few per thread): one turned away would be
    // freed, and its successor would grow again from a fresh allocation
    // (a page-faulting realloc of its buffers; 4% of a replay's CPU when
    // this held 4).
    let (home, returned) = std::sync::mpsc::sync_channel::<EventBatch>(RECYCLED_BATCHES);
    spawn_read_ahead(move || {
        if let Some(e) = pending.take() {
            return Some(Err(e));
        }
        if !more {
            return None;
        }
        let mut batch = match returned.try_recv() {
            Ok(mut used) => {
                used.clear();
                used
            }
            Err(_) => EventBatch::with_capacity(EVENT_BATCH),
        };
        batch.recycle_to(home.clone());
        let limit = *head.borrow();
        match read_event_batch(&mut cursor, from, limit, &mut batch) {
            Ok(m) => more = m,
            Err(e) if batch.is_empty() => return Some(Err(e)),
            Err(e) => {
                // The events before the error first, then the error.
                more = false;
                pending = Some(e);
            }
        }
        (!batch.is_empty()).then_some(Ok(batch))
    })
}

/// The framing half of the writer (thread `log-writer`): takes appends off
/// the queue, checks their expectations, assigns offsets, versions and the
/// hash chain, and frames them into the open frame of the [`Pipe`]; the
/// [`Io`] half takes the open frame, writes it, syncs and acknowledges.
/// Pipelined ([`LogConfig::pipeline`]) the halves run on two threads, so
/// appends that arrive while one frame's `fdatasync` runs are framed
/// meanwhile, into the next frame; unpipelined, the writer thread does
/// both in turn.
struct Writer {
    shared: Arc<Shared>,
    pipe: Arc<Pipe>,
    next_offset: u64,
    last_hash: [u8; 32],
    last_time_us: i64,
    durability: Durability,
    max_batch: usize,
    /// The bytes of the last frame opened: the next one starts with room
    /// for as many (a group commit's size changes slowly).
    frame_bytes: usize,
    /// The I/O half, when it runs on this thread (unpipelined).
    inline_io: Option<Box<Io>>,
}

/// The hand-over between the two halves of the writer.
struct Pipe {
    state: Mutex<PipeState>,
    /// The open frame got records, or the writer closed.
    ready: Condvar,
    /// The open frame was taken (room for more).
    room: Condvar,
}

#[derive(Default)]
struct PipeState {
    /// Records framed and not yet taken by the I/O half.
    open: Option<Open>,
    /// Versions of frames the I/O half took and has not published yet
    /// (not yet in the heads), oldest first, with each frame's last offset.
    taken: VecDeque<(u64, Staged)>,
    /// The framing half has exited: take what is open, then stop.
    closed: bool,
    /// Appends answered since the open frame was last taken (framed or
    /// refused).
    arrived: usize,
    /// Gathering: the next frame waits for this many appends...
    want: usize,
    /// ...until then at the latest.
    gather_until: Option<Instant>,
}

/// The frame being filled.
struct Open {
    frame: FrameBuilder,
    first_offset: u64,
    /// The hash of its last record.
    last_hash: [u8; 32],
    /// Events framed.
    events: usize,
    /// The versions its streams reach (and heads looked up in the index
    /// for it).
    staged: Staged,
    entries: Vec<(StreamId, u64, u64)>,
    accepted: Vec<(Job, Appended)>,
    /// Writer time spent framing it.
    framing: Duration,
}

/// Stream versions a frame reaches (and heads looked up in the index for
/// it), by the stream's key in the heads.
type Staged = KeyMap<u64>;

/// A frame taken by the I/O half, on its way to the disk.
struct Framed {
    bytes: Vec<u8>,
    first_offset: u64,
    last_offset: u64,
    last_hash: [u8; 32],
    entries: Vec<(StreamId, u64, u64)>,
    accepted: Vec<(Job, Appended)>,
    framing: Duration,
}

impl Pipe {
    fn new() -> Pipe {
        Pipe {
            state: Mutex::new(PipeState::default()),
            ready: Condvar::new(),
            room: Condvar::new(),
        }
    }
}

impl PipeState {
    /// How long the open frame should still wait for appends before it is
    /// taken (gathering, see [`LogConfig::gather`]); `None`: take it now.
    fn gather_wait(&self, max_batch: usize) -> Option<Duration> {
        let open = self.open.as_ref()?;
        if self.closed || self.arrived >= self.want || open.events >= max_batch {
            return None;
        }
        let left = self.gather_until?.checked_duration_since(Instant::now())?;
        (!left.is_zero()).then_some(left)
    }

    /// Takes the open frame (its versions move to `taken` until
    /// published).
    fn take(&mut self) -> Option<Framed> {
        let open = self.open.take()?;
        self.arrived = 0;
        let last_offset = open.first_offset + open.entries.len() as u64 - 1;
        self.taken.push_back((last_offset, open.staged));
        Some(Framed {
            bytes: open.frame.finish(),
            first_offset: open.first_offset,
            last_offset,
            last_hash: open.last_hash,
            entries: open.entries,
            accepted: open.accepted,
            framing: open.framing,
        })
    }
}

/// The framing half of the writer, run by the `log-writer` thread or, for
/// a lone caller while that thread sleeps, by the caller itself.
struct Lead {
    writer: Mutex<Writer>,
    /// The `log-writer` thread waits in `recv` with nothing pending.
    idle: AtomicBool,
    /// The last commit acknowledged one append (or none was made yet).
    lone: Arc<AtomicBool>,
    /// Callers may commit on their own thread (unpipelined, `fsync`).
    enabled: bool,
}

impl Lead {
    /// The `log-writer` thread: takes the queued appends, frames them and
    /// (unpipelined) gathers, writes, syncs and acknowledges, with the
    /// framing half locked for each group.
    fn run(&self, rx: mpsc::Receiver<Job>) {
        let mut pending: VecDeque<Job> = VecDeque::new();
        loop {
            if pending.is_empty() {
                self.idle.store(true, Ordering::SeqCst);
                let next = rx.recv();
                self.idle.store(false, Ordering::SeqCst);
                match next {
                    Ok(job) => pending.push_back(job),
                    Err(_) => break,
                }
            }
            let mut w = self.writer.lock();
            let group = w.take_group(&mut pending, &rx);
            w.frame_group(group);
            if w.inline_io.is_some() {
                w.gather(&mut pending, &rx);
                w.write_inline();
            }
        }
        // Every sender is gone: the I/O half writes what is open and stops.
        let mut w = self.writer.lock();
        w.pipe.state.lock().closed = true;
        w.pipe.ready.notify_all();
        if let Some(mut io) = w.inline_io.take() {
            io.drain();
            io.finish();
        }
    }

    /// Commits `job` on the calling thread, if the writer is free and idle
    /// and the last commit was lone (see [`SegmentLog::lead`]); else hands
    /// it back.
    fn commit_alone(&self, job: Job) -> Result<(), Job> {
        if !self.enabled || !self.idle.load(Ordering::SeqCst) || !self.lone.load(Ordering::Acquire)
        {
            return Err(job);
        }
        if !blocking_holds_up_no_caller() {
            return Err(job);
        }
        let Some(mut w) = self.writer.try_lock() else {
            return Err(job);
        };
        if w.inline_io.is_none() {
            // Closed: the queue's way tells the caller.
            return Err(job);
        }
        w.frame_group(vec![job]);
        w.write_inline();
        Ok(())
    }
}

/// Whether the calling thread may block for a commit without holding up
/// another caller: not when it is the only worker of its runtime (a
/// current-thread runtime, or a multi-thread one with one worker, as on a
/// one-CPU machine). There every other task, the other appenders among
/// them, waits while it blocks, so no append could ever join its commit:
/// each task's appends would run back to back as lone commits, one
/// `fdatasync` each (measured: 5.4–5.8k appends/s at 64 × 1 pinned to one
/// CPU, against 120–157k with the writer thread grouping them). A thread
/// outside any runtime blocks on its append anyway.
fn blocking_holds_up_no_caller() -> bool {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
                && runtime.metrics().num_workers() > 1
        }
        Err(_) => true,
    }
}

impl Writer {
    /// Everything already queued, up to the cap.
    fn take_group(&self, pending: &mut VecDeque<Job>, rx: &mpsc::Receiver<Job>) -> Vec<Job> {
        let mut group = Vec::new();
        let mut events = 0usize;
        while let Some(job) = pending.pop_front() {
            events += job.request.events.len();
            group.push(job);
            if events >= self.max_batch {
                break;
            }
            if pending.is_empty() {
                while let Ok(job) = rx.try_recv() {
                    pending.push_back(job);
                    if pending.len() >= self.max_batch {
                        break;
                    }
                }
            }
        }
        group
    }

    /// Unpipelined gathering (see [`LogConfig::gather`]): frames the appends
    /// that arrive until the frame has as many as the last commit
    /// acknowledged, or the gathering time is up. Framing them as they come
    /// overlaps it with the callers' round trip.
    fn gather(&mut self, pending: &mut VecDeque<Job>, rx: &mpsc::Receiver<Job>) {
        loop {
            let Some(wait) = self.pipe.state.lock().gather_wait(self.max_batch) else {
                return;
            };
            match rx.recv_timeout(wait) {
                Ok(job) => {
                    pending.push_back(job);
                    let group = self.take_group(pending, rx);
                    self.frame_group(group);
                }
                // Time is up, or every sender is gone (the caller's loop
                // sees that next).
                Err(_) => return,
            }
        }
    }

    /// Unpipelined: writes, syncs and acknowledges the open frame.
    fn write_inline(&mut self) {
        let Some(io) = &mut self.inline_io else {
            return;
        };
        let acknowledged = io.drain();
        if !io.gather && acknowledged > 1 && self.durability == Durability::Fsync {
            // The callers just acknowledged are woken on other threads and
            // usually append again at once: give them the CPU for a moment
            // so their appends join the next group commit instead of
            // forming a cohort that waits one fdatasync longer.
            std::thread::yield_now();
        }
    }

    /// Frames `group` into the open frame, one append at a time (the I/O
    /// half may take the frame between two).
    fn frame_group(&mut self, group: Vec<Job>) {
        if let Some(reason) = self.shared.failure.lock().clone() {
            self.pipe.state.lock().arrived += group.len();
            refuse(group, &reason);
            return;
        }
        let now_us = codec::to_micros(OffsetDateTime::now_utc());
        // Time never runs backwards along offsets, so "as of time T" is a prefix.
        let recorded_at_us = now_us.max(self.last_time_us);
        self.last_time_us = recorded_at_us;
        let recorded_at =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(recorded_at_us) * 1000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        for mut job in group {
            if job.request.events.is_empty() {
                self.pipe.state.lock().arrived += 1;
                let _ = job.reply.send(Reply::alone(Err(AppendError::Empty)));
                continue;
            }
            let mut state = self.pipe.state.lock();
            // Backpressure (pipelined): the open frame is full until the
            // I/O half takes it.
            while self.inline_io.is_none()
                && state
                    .open
                    .as_ref()
                    .is_some_and(|o| o.events >= self.max_batch)
            {
                self.pipe.room.wait(&mut state);
            }
            let state = &mut *state;
            state.arrived += 1;
            let frame_bytes = &mut self.frame_bytes;
            let open = state.open.get_or_insert_with(|| Open {
                frame: FrameBuilder::with_capacity(
                    std::mem::take(frame_bytes).min(MAX_FRAME_RESERVE),
                    self.next_offset,
                ),
                first_offset: self.next_offset,
                last_hash: self.last_hash,
                events: 0,
                staged: Staged::default(),
                entries: Vec::new(),
                accepted: Vec::new(),
                framing: Duration::ZERO,
            });
            let started = Instant::now();
            let known = Known {
                taken: &state.taken,
                shared: &self.shared,
            };
            let framed = frame_job(
                &known,
                open,
                &mut job,
                self.next_offset,
                self.last_hash,
                recorded_at_us,
            );
            open.framing += started.elapsed();
            self.frame_bytes = open.frame.len();
            let empty = open.entries.is_empty();
            match framed {
                Ok((next_offset, last_hash)) => {
                    open.events += job.request.events.len();
                    open.accepted.push((
                        job,
                        Appended {
                            first_offset: self.next_offset,
                            last_offset: next_offset - 1,
                            recorded_at,
                        },
                    ));
                    open.last_hash = last_hash;
                    self.next_offset = next_offset;
                    self.last_hash = last_hash;
                }
                Err(refusal) => {
                    if empty {
                        state.open = None;
                    }
                    let _ = job.reply.send(Reply::alone(Err(refusal)));
                }
            }
        }
        self.shared.framed.send_replace(self.next_offset - 1);
        if self.inline_io.is_none() {
            self.pipe.ready.notify_one();
        }
    }
}

/// Frames one append's records at the end of `open`, its expectations
/// checked first; returns the next offset and the last record's hash, or
/// why the append is refused (nothing of it stays in the frame). The
/// framed events' stream names move into the frame's index entries.
fn frame_job(
    known: &Known<'_>,
    open: &mut Open,
    job: &mut Job,
    first_offset: u64,
    start_hash: [u8; 32],
    recorded_at_us: i64,
) -> Result<(u64, [u8; 32]), AppendError> {
    let unreadable = |stream: &StreamId, e: crate::index::IndexError| {
        AppendError::Unavailable(format!("cannot read the version of {stream}: {e}"))
    };
    let expectations = job.request.expected.len();
    let (expected_keys, event_keys) = job.keys.split_at(expectations.min(job.keys.len()));
    for ((stream, expected), key) in job.request.expected.iter().zip(expected_keys) {
        let actual = known
            .version_of(&mut open.staged, stream, *key)
            .map_err(|e| unreadable(stream, e))?;
        let ok = match expected {
            Expected::Any => true,
            Expected::NoStream => actual == 0,
            Expected::Exactly(v) => actual == *v,
        };
        if !ok {
            return Err(AppendError::Conflict {
                stream: stream.clone(),
                expected: *expected,
                actual,
            });
        }
    }
    let (frame_len, frame_count) = (open.frame.len(), open.frame.count());
    // The versions this append replaces in `staged`, to restore if it fails
    // half-way (inline for the usual append of an event or two).
    let mut undo: smallvec::SmallVec<[(HeadKey, Option<u64>); 2]> = smallvec::SmallVec::new();
    let mut versions: smallvec::SmallVec<[u64; 2]> = smallvec::SmallVec::new();
    let mut offset = first_offset;
    let mut hash = start_hash;
    let mut framed = || -> Result<(), AppendError> {
        for (ev, key) in job.request.events.iter().zip(event_keys) {
            let version = known
                .version_of(&mut open.staged, &ev.stream, *key)
                .map_err(|e| unreadable(&ev.stream, e))?
                + 1;
            hash = open
                .frame
                .push_with(|buf| {
                    codec::encode_record_into(
                        buf,
                        &RecordParts::of_event(
                            ev,
                            &job.request.metadata,
                            offset,
                            version,
                            recorded_at_us,
                            &hash,
                        ),
                    )
                })
                .map_err(|e| AppendError::Unavailable(format!("encoding failed: {e}")))?;
            undo.push((*key, open.staged.insert(*key, version)));
            versions.push(version);
            offset += 1;
        }
        Ok(())
    };
    let result = framed();
    if let Err(e) = result {
        // A failure half-way rolls the append back.
        open.frame.rollback(frame_len, frame_count);
        roll_back(&mut open.staged, undo);
        return Err(e);
    }
    // Nobody reads the names of a framed append again: the index takes them.
    for ((ev, version), offset) in job
        .request
        .events
        .iter_mut()
        .zip(versions)
        .zip(first_offset..)
    {
        open.entries.push((ev.stream.take(), version, offset));
    }
    Ok((offset, hash))
}

/// Puts back the versions an append replaced in `staged`, given in the
/// order it replaced them: each key's first version before the append, or
/// none.
fn roll_back<U>(staged: &mut Staged, undo: U)
where
    U: IntoIterator<Item = (HeadKey, Option<u64>)>,
    U::IntoIter: DoubleEndedIterator,
{
    for (key, before) in undo.into_iter().rev() {
        match before {
            Some(v) => staged.insert(key, v),
            None => staged.remove(&key),
        };
    }
}

/// What the writer knows of stream versions while it frames.
struct Known<'a> {
    taken: &'a VecDeque<(u64, Staged)>,
    shared: &'a Shared,
}

impl Known<'_> {
    /// A stream's version as the open frame sees it: written or looked up
    /// earlier in the frame, in a frame not durable yet, held in memory, or
    /// else the index's (which then holds every event of the stream: see
    /// [`Heads`]). `key` is the stream's key in the heads.
    fn version_of(
        &self,
        staged: &mut Staged,
        stream: &StreamId,
        key: HeadKey,
    ) -> Result<u64, crate::index::IndexError> {
        if let Some(held) = staged.get(&key) {
            return Ok(*held);
        }
        if let Some(held) = self.taken.iter().rev().find_map(|(_, s)| s.get(&key)) {
            return Ok(*held);
        }
        if let Head::Known(v) = self.shared.heads.read().get(&key) {
            return Ok(v);
        }
        let v = self.shared.index.stream_head(stream)?;
        staged.insert(key, v);
        Ok(v)
    }
}

/// Answers every append of `jobs` with `reason`.
fn refuse(jobs: impl IntoIterator<Item = Job>, reason: &str) {
    for job in jobs {
        let _ = job.reply.send(Reply::alone(Err(AppendError::Unavailable(
            reason.to_owned(),
        ))));
    }
}

/// How long the I/O half's two system calls took for one frame.
#[derive(Default)]
struct IoTiming {
    write: Duration,
    fsync: Duration,
}

/// The I/O half of the writer: takes the open frame, writes it,
/// `fdatasync`s, and only then publishes and acknowledges, strictly in
/// order.
struct Io {
    /// Set after each commit: whether it acknowledged one append.
    lone: Arc<AtomicBool>,
    shared: Arc<Shared>,
    pipe: Arc<Pipe>,
    segments: SegmentWriter,
    durability: Durability,
    indexer: Option<mpsc::SyncSender<Arc<IndexedFrame>>>,
    observer: Option<Arc<dyn crate::CommitObserver>>,
    /// [`LogConfig::gather`] (with `Durability::Fsync`).
    gather: bool,
    /// [`LogConfig::max_batch_events`].
    max_batch: usize,
    /// Moving average of the `fdatasync` time: how long gathering waits
    /// at most.
    fsync_avg: Duration,
}

impl Io {
    /// The `log-sync` thread: whatever was framed while the last frame was
    /// written and synced is the next frame.
    fn run(mut self) {
        loop {
            let framed = {
                let mut state = self.pipe.state.lock();
                loop {
                    if state.open.is_none() && !state.closed {
                        self.pipe.ready.wait(&mut state);
                    } else if let Some(wait) = state.gather_wait(self.max_batch) {
                        // Gathering: the framing half notifies after each
                        // group it frames.
                        self.pipe.ready.wait_for(&mut state, wait);
                    } else {
                        break;
                    }
                }
                match state.take() {
                    Some(f) => f,
                    None => break,
                }
            };
            self.pipe.room.notify_all();
            let acknowledged = framed.accepted.len();
            self.commit(framed);
            if !self.gather && acknowledged > 1 && self.durability == Durability::Fsync {
                // As in the unpipelined writer: let the acknowledged
                // callers append again before the next frame is taken.
                std::thread::yield_now();
            }
        }
        self.finish();
    }

    /// Writes the open frame, if any (unpipelined); returns the appends
    /// acknowledged.
    fn drain(&mut self) -> usize {
        let Some(framed) = self.pipe.state.lock().take() else {
            return 0;
        };
        let acknowledged = framed.accepted.len();
        self.commit(framed);
        acknowledged
    }

    /// After the last frame: with `os` durability, sync what the OS holds;
    /// after a storage failure, touch nothing. Dropping the indexer's
    /// sender lets it finish and exit.
    fn finish(mut self) {
        if self.durability == Durability::Os && self.shared.failure.lock().is_none() {
            if let Err(e) = self.segments.sync() {
                tracing::error!(error = %e, "final sync of the event log failed");
            }
        }
        self.indexer.take();
    }

    /// Writes `framed`, makes it durable, then publishes and acknowledges
    /// it. After a failure, nothing more is written or synced.
    fn commit(&mut self, framed: Framed) {
        let failure = self.shared.failure.lock().clone();
        if let Some(reason) = failure {
            self.refuse_all(framed, &reason);
            return;
        }
        let before = self.segments.position();
        let mut timing = IoTiming::default();
        let started = Instant::now();
        let written = self
            .segments
            .write(&framed.bytes, framed.first_offset)
            .and_then(|at| {
                timing.write = started.elapsed();
                match self.durability {
                    Durability::Fsync => {
                        let started = Instant::now();
                        let synced = self.segments.sync();
                        timing.fsync = started.elapsed();
                        synced
                    }
                    Durability::Os => Ok(()),
                }
                .map(|()| at)
            });
        match written {
            Ok(at) => self.publish(framed, at, timing),
            Err(e) => {
                // Nobody can know how much of the frame reached the disk:
                // cut it off, refuse it and everything framed after it, and
                // stop writing.
                let undo = self.segments.undo(before);
                let reason = match undo {
                    Ok(()) => format!("storage failed during append: {e}"),
                    Err(u) => format!(
                        "storage failed during append: {e}; cutting the failed write off also failed: {u}"
                    ),
                };
                fail(&self.shared, reason.clone());
                self.refuse_all(framed, &reason);
            }
        }
    }

    /// Refuses `framed` and whatever is framed after it.
    fn refuse_all(&mut self, framed: Framed, reason: &str) {
        let open = {
            let mut state = self.pipe.state.lock();
            state.taken.clear();
            state.open.take()
        };
        self.pipe.room.notify_all();
        let jobs = framed
            .accepted
            .into_iter()
            .chain(open.into_iter().flat_map(|o| o.accepted))
            .map(|(job, _)| job);
        refuse(jobs, reason);
    }

    /// A frame just made durable: heads, readers, the head, the callers,
    /// the observer and the indexer hear of it, in that order.
    fn publish(&mut self, f: Framed, at: SegPos, timing: IoTiming) {
        let started = Instant::now();
        let stats = crate::CommitStats {
            appends: f.accepted.len(),
            events: (f.last_offset + 1 - f.first_offset) as usize,
            fsync: timing.fsync,
            head: f.last_offset,
            framing: f.framing,
            write: timing.write,
            acknowledge: Duration::ZERO,
        };
        {
            // The versions move from `taken` to the heads with the pipe
            // locked, so the writer finds them in one or the other.
            let mut state = self.pipe.state.lock();
            if let Some((_, staged)) = state.taken.pop_front() {
                let indexed = self.shared.indexed.load(Ordering::Acquire);
                self.shared
                    .heads
                    .write()
                    .record(staged, f.last_offset, indexed);
            }
            // Gathering for the next frame: the callers acknowledged below
            // usually append again at once.
            if self.gather && f.accepted.len() > 1 {
                self.fsync_avg = if self.fsync_avg.is_zero() {
                    timing.fsync
                } else {
                    (self.fsync_avg * 7 + timing.fsync) / 8
                };
                state.want = f.accepted.len();
                state.gather_until = Some(Instant::now() + self.fsync_avg);
            } else {
                state.want = 0;
                state.gather_until = None;
            }
        }
        let frame = Arc::new(IndexedFrame {
            first_offset: f.first_offset,
            last_offset: f.last_offset,
            at,
            next: SegPos {
                segment: at.segment,
                pos: at.pos + f.bytes.len() as u64,
            },
            last_hash: f.last_hash,
            entries: f.entries,
        });
        self.lone.store(f.accepted.len() <= 1, Ordering::Release);
        // Readers must find the frame before they learn of the new head.
        self.shared.unindexed.write().push_back(frame.clone());
        self.shared.head.send_replace(f.last_offset);
        acknowledge(
            f.accepted
                .into_iter()
                .map(|(job, appended)| (job.reply, Ok(appended)))
                .collect(),
        );
        if let Some(observer) = &self.observer {
            observer.committed(&crate::CommitStats {
                acknowledge: started.elapsed(),
                ..stats
            });
        }
        if let Some(tx) = &self.indexer {
            // Blocks only if the indexer lags by INDEX_LAG_FRAMES.
            if tx.send(frame).is_err() {
                fail(&self.shared, "the log indexer stopped".into());
            }
        }
    }
}

fn fail(shared: &Shared, reason: String) {
    tracing::error!(%reason, "the event log stops accepting writes");
    let mut failure = shared.failure.lock();
    if failure.is_none() {
        *failure = Some(reason);
    }
}

/// The nice value of the log's background threads.
const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority. The log's background
/// threads (the indexer, the segment preparer) are off the acknowledgement
/// path: on a small machine they must not take the CPU from the writer and
/// the callers it wakes, whose round trip bounds the throughput; they catch
/// up when the CPU is free, and the writer waits for the indexer only when it
/// lags by [`INDEX_LAG_FRAMES`]. Best effort: an error leaves the priority
/// as it was.
pub(crate) fn lower_thread_priority() {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), BACKGROUND_NICE) {
        tracing::debug!(error = %e, "cannot lower a log thread's priority");
    }
}

/// Where a log's heads are saved at a clean close.
fn heads_file(dirs: &LogDirs) -> PathBuf {
    dirs.root.join("heads")
}

/// At a clean close (every writer thread has exited, nothing failed):
/// saves the complete heads so the next open starts complete (see
/// [`Heads::save`]). Written beside and renamed over the previous file,
/// not synced: a file the disk did not keep whole fails its CRC, and one
/// of another log state its head check, and the loader reads the index
/// instead. Best effort; a failure is logged.
fn save_heads(shared: &Shared) {
    if shared.failure.lock().is_some() {
        return;
    }
    let head = *shared.head.borrow();
    let Some(hash) = head_hash(shared, head) else {
        return;
    };
    let Some(bytes) = shared.heads.read().save(head, &hash) else {
        // Not complete: a stale file must not outlive a newer head either,
        // though its head check would refuse it.
        let _ = std::fs::remove_file(&shared.heads_file);
        return;
    };
    let tmp = shared.heads_file.with_extension("tmp");
    let saved =
        std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, &shared.heads_file));
    if let Err(e) = saved {
        tracing::warn!(error = %e, "cannot save the stream heads; the next open reads them from the index");
    }
}

/// The hash of the record at `head` (the genesis hash for an empty log).
fn head_hash(shared: &Shared, head: u64) -> Option<[u8; 32]> {
    if head == 0 {
        return Some(codec::GENESIS_HASH);
    }
    match shared.read_record(head) {
        Ok(env) => Some(env.hash),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the head record to save the stream heads");
            None
        }
    }
}

/// Streams the heads loader adds per lock of the heads.
const LOAD_BATCH: usize = 4096;

/// The heads loader (thread `log-heads`, at the background priority): adds
/// every stream's head from the index to the writer's heads, which are
/// complete once it is through (see [`crate::heads`] for why racing the
/// writer is safe). Until then the writer asks the index for a stream it
/// does not hold, as it would past the bound; start-up does not wait.
fn load_heads(shared: &Shared, stop: &AtomicBool) {
    lower_thread_priority();
    let started = Instant::now();
    let mut batch: Vec<(HeadKey, u64)> = Vec::with_capacity(LOAD_BATCH);
    let (mut going, mut streams) = (true, 0u64);
    let scanned = shared.index.stream_heads(|name, head| {
        batch.push((HeadKey::of(name), head));
        streams += 1;
        if batch.len() >= LOAD_BATCH {
            going = !stop.load(Ordering::Acquire) && shared.heads.write().load(batch.drain(..));
        }
        going
    });
    match scanned {
        Ok(()) if going => {
            let mut heads = shared.heads.write();
            if heads.load(batch.drain(..)) {
                heads.loaded();
            }
            let complete = heads.is_complete();
            drop(heads);
            tracing::info!(
                streams,
                complete,
                ms = started.elapsed().as_millis() as u64,
                "stream heads loaded"
            );
        }
        Ok(()) => tracing::info!(
            streams,
            "stream heads not loaded: past the bound (LogConfig::stream_heads) or closing; the index answers for streams not held"
        ),
        Err(e) => tracing::warn!(error = %e, "stream heads not loaded; the index answers for streams not held"),
    }
    shared.heads_loader_done.store(true, Ordering::Release);
}

/// Writes durable frames into the index, in batches of whatever has
/// arrived, then drops them from the unindexed list.
fn run_indexer(
    shared: Arc<Shared>,
    mut writer: IndexWriter,
    rx: mpsc::Receiver<Arc<IndexedFrame>>,
    defer: bool,
) {
    lower_thread_priority();
    let mut broken = false;
    let mut checkpointed = Instant::now();
    loop {
        let first = match rx.recv_timeout(CHECKPOINT_EVERY) {
            Ok(first) => first,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Idle: write what waits in memory, so that a crash now
                // has nothing to re-index.
                if !broken {
                    if let Err(e) = writer.flush() {
                        fail(&shared, format!("the index cannot be written: {e}"));
                        broken = true;
                    }
                    checkpointed = Instant::now();
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = vec![first];
        while batch.len() < 4096 {
            match rx.try_recv() {
                Ok(f) => batch.push(f),
                Err(_) => break,
            }
        }
        if broken {
            // Keep the frames readable from memory; the writer has stopped.
            continue;
        }
        let written = batch.iter().try_for_each(|f| writer.add(f)).and_then(|()| {
            if !defer {
                return writer.flush();
            }
            let published = writer.publish()?;
            if published >= CHECKPOINT_CHUNKS || checkpointed.elapsed() >= CHECKPOINT_EVERY {
                writer.flush()?;
                checkpointed = Instant::now();
            }
            Ok(())
        });
        match written {
            Ok(()) => {
                if let Some(last) = batch.last() {
                    shared.indexed.store(last.last_offset, Ordering::Release);
                }
                let mut pending = shared.unindexed.write();
                for _ in 0..batch.len() {
                    pending.pop_front();
                }
            }
            Err(e) => {
                // The records are safe in the segments; the index is rebuilt
                // from them at the next open. Stop writing until then.
                fail(&shared, format!("the index cannot be written: {e}"));
                broken = true;
            }
        }
    }
    if !broken {
        if let Err(e) = writer.flush().and_then(|()| shared.index.flush()) {
            tracing::warn!(error = %e, "flushing the index at close failed; it is caught up at the next open");
        }
    }
}

impl EventLog for SegmentLog {
    fn append(&self, request: AppendRequest) -> BoxFuture<'static, Result<Appended, AppendError>> {
        let (reply, rx) = oneshot::channel();
        let job = Job::new(request, reply);
        let sent = match self.lead(job) {
            Ok(()) => true,
            Err(job) => match &*self.writer.sender.lock() {
                Some(tx) => tx.send(job).is_ok(),
                None => false,
            },
        };
        Box::pin(async move {
            if !sent {
                return Err(AppendError::Unavailable("the event log is closed".into()));
            }
            match rx.await {
                Ok(Reply { result, others }) => {
                    // This caller delivers the rest of its commit's
                    // acknowledgements first (see `acknowledge`).
                    drop(others);
                    result
                }
                Err(_) => Err(AppendError::Unavailable("the log writer stopped".into())),
            }
        })
    }

    fn read_all(&self, from: u64) -> EnvelopeIter<'_> {
        let from = from.max(1);
        let head = self.head();
        if from <= head && head - from >= PIPELINE_THRESHOLD {
            let piped = self
                .shared
                .cursor_at(from, 1 << 20)
                .and_then(|c| envelopes_ahead(c, from, self.shared.head.subscribe()));
            return match piped {
                Ok(it) => Box::new(it),
                Err(e) => Box::new(std::iter::once(Err(e))),
            };
        }
        Box::new(ReadIter::new(
            &self.shared,
            from,
            256 * 1024,
            envelope_frame,
        ))
    }

    fn read_events(&self, from: u64) -> EventBatches<'_> {
        let from = from.max(1);
        let head = self.head();
        if from <= head && head - from >= PIPELINE_THRESHOLD {
            let piped = self
                .shared
                .cursor_at(from, 1 << 20)
                .and_then(|c| event_batches_ahead(c, from, self.shared.head.subscribe()));
            return match piped {
                Ok(it) => Box::new(it),
                Err(e) => Box::new(std::iter::once(Err(e.into()))),
            };
        }
        batches_of(self.read_all(from))
    }

    fn read_stream(&self, stream: &StreamId, from_version: u64) -> EnvelopeIter<'_> {
        let from_version = from_version.max(1);
        // Unindexed entries first: a frame leaves that list only after it
        // is in the index, so this order cannot miss one. The frames are
        // taken out of the lock before they are searched: under a heavy
        // load the list holds up to INDEX_LAG_FRAMES frames, and the writer
        // needs the lock to publish each commit.
        let frames: Vec<Arc<IndexedFrame>> = self.shared.unindexed.read().iter().cloned().collect();
        let pending: Vec<(u64, u64)> = frames
            .iter()
            .flat_map(|f| f.entries.iter())
            .filter(|(s, v, _)| s == stream && *v >= from_version)
            .map(|(_, v, o)| (*v, *o))
            .collect();
        let mut offsets = match self.shared.index.stream_offsets(stream, from_version) {
            Ok(o) => o,
            Err(e) => return Box::new(std::iter::once(Err(storage(e)))),
        };
        let indexed_to = offsets.last().map_or(0, |(v, _)| *v);
        offsets.extend(pending.into_iter().filter(|(v, _)| *v > indexed_to));
        let shared = &self.shared;
        Box::new(
            offsets
                .into_iter()
                .map(move |(_, offset)| shared.read_record(offset)),
        )
    }

    fn subscribe(&self, from: u64) -> BoxStream<'static, Result<Envelope, LogError>> {
        struct State {
            log: Arc<Shared>,
            next: u64,
            cursor: Option<Cursor>,
            buffer: VecDeque<Envelope>,
            head: watch::Receiver<u64>,
            done: bool,
        }
        let state = State {
            log: self.shared.clone(),
            next: from.max(1),
            cursor: None,
            buffer: VecDeque::new(),
            head: self.shared.head.subscribe(),
            done: false,
        };
        Box::pin(futures::stream::unfold(state, |mut st| async move {
            loop {
                if st.done {
                    return None;
                }
                if let Some(env) = st.buffer.pop_front() {
                    st.next = env.offset + 1;
                    return Some((Ok(env), st));
                }
                let head = *st.head.borrow_and_update();
                if st.next <= head {
                    // Everything ≤ head is durable; reading strictly by
                    // offset cannot skip or repeat.
                    let step = match &mut st.cursor {
                        Some(c) => read_into(c, st.next, head, &mut st.buffer, 512, envelope_frame)
                            .map(|_| ()),
                        None => st.log.cursor_at(st.next, 64 * 1024).map(|c| {
                            st.cursor = Some(c);
                        }),
                    };
                    if let Err(e) = step {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                    continue;
                }
                if st.log.closed.load(Ordering::Acquire) {
                    return None;
                }
                if st.head.changed().await.is_err() {
                    return None;
                }
            }
        }))
    }

    fn head(&self) -> u64 {
        *self.shared.head.borrow()
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.shared.head.subscribe()
    }

    fn stream_version(&self, stream: &StreamId) -> Result<u64, LogError> {
        if let Head::Known(v) = self.shared.heads.read().get(&HeadKey::of_stream(stream)) {
            return Ok(v);
        }
        self.shared.index.stream_head(stream).map_err(storage)
    }

    fn get(&self, offset: u64) -> Result<Option<Envelope>, LogError> {
        if offset == 0 || offset > self.head() {
            return Ok(None);
        }
        self.shared.read_record(offset).map(Some)
    }

    fn close(&self) -> BoxFuture<'static, ()> {
        let shared = self.shared.clone();
        let writer = self.writer.clone();
        Box::pin(async move {
            // Dropping the sender lets the writer finish the queue and exit;
            // its exit ends the indexer's queue.
            writer.sender.lock().take();
            writer.stop.store(true, Ordering::Release);
            let threads: Vec<_> = writer.threads.lock().drain(..).collect();
            if !threads.is_empty() {
                let saving = shared.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    for t in threads {
                        let _ = t.join();
                    }
                    save_heads(&saving);
                })
                .await;
            }
            shared.closed.store(true, Ordering::Release);
            // Wake subscribers so they see `closed`.
            shared.head.send_modify(|_| {});
        })
    }

    fn is_writable(&self) -> bool {
        self.writer.sender.lock().is_some() && self.shared.failure.lock().is_none()
    }
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        self.sender.get_mut().take();
        self.stop.store(true, Ordering::Release);
        for t in self.threads.get_mut().drain(..) {
            let _ = t.join();
        }
    }
}

/// Opens a log in `data_dir` with default settings (fsync).
pub fn open_default(data_dir: &Path) -> Result<SegmentLog, OpenError> {
    SegmentLog::open(LogConfig::new(data_dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_frame(events: usize) -> Open {
        Open {
            frame: FrameBuilder::new(1),
            first_offset: 1,
            last_hash: [0; 32],
            events,
            staged: Staged::default(),
            entries: Vec::new(),
            accepted: Vec::new(),
            framing: Duration::ZERO,
        }
    }

    #[test]
    fn an_append_that_fails_half_way_leaves_the_frames_versions_as_they_were() {
        // Given a frame in which stream a is at version 3.
        let (a, b) = (HeadKey::of(b"user-1"), HeadKey::of(b"user-2"));
        let mut staged = Staged::default();
        staged.insert(a, 3);
        let before = staged.clone();
        // When an append frames a (4), b (1, new) and a again (5) before
        // failing, each replacement remembered as the writer makes it.
        let mut undo = Vec::new();
        for (key, version) in [(a, 4), (b, 1), (a, 5)] {
            undo.push((key, staged.insert(key, version)));
        }
        assert_eq!(staged.get(&a), Some(&5));
        roll_back(&mut staged, undo);
        // Then the frame's versions are those before the append.
        assert_eq!(staged, before);
    }

    #[test]
    fn gathering_waits_only_for_a_missing_cohort_until_its_deadline() {
        let later = Instant::now() + Duration::from_secs(60);
        let gathering = |arrived, want, until, events, closed| {
            PipeState {
                open: Some(open_frame(events)),
                arrived,
                want,
                gather_until: until,
                closed,
                ..PipeState::default()
            }
            .gather_wait(100)
        };
        // Given a commit that acknowledged 4 callers, when 3 are back, wait.
        assert!(gathering(3, 4, Some(later), 3, false).is_some_and(|w| w > Duration::ZERO));
        // When all 4 are back (or more), take the frame.
        assert_eq!(gathering(4, 4, Some(later), 4, false), None);
        assert_eq!(gathering(5, 4, Some(later), 5, false), None);
        // When the deadline passed, the frame goes with whoever is in it.
        let past = Instant::now() - Duration::from_millis(1);
        assert_eq!(gathering(1, 4, Some(past), 1, false), None);
        // No gathering without a deadline (gathering off, one caller, os).
        assert_eq!(gathering(1, 4, None, 1, false), None);
        // A full frame, or the writer closing, never waits.
        assert_eq!(gathering(1, 4, Some(later), 100, false), None);
        assert_eq!(gathering(1, 4, Some(later), 1, true), None);
        // Nothing framed: nothing to take (the I/O half waits for a frame).
        let empty = PipeState {
            want: 4,
            gather_until: Some(later),
            ..PipeState::default()
        };
        assert_eq!(empty.gather_wait(100), None);
    }
}
