//! The sled implementation of [`EventLog`].
//!
//! # Storage layout
//! One sled tree, `log`, with two key families so that one `apply_batch`
//! (atomic in sled) writes a whole group commit:
//!
//! ```text
//! 'L' · offset:u64be                      → record bytes (see codec)
//! 'S' · stream name · 0x00 · version:u64be → offset:u64be
//! ```
//!
//! # Writing
//! A single writer thread owns offsets, stream versions and the hash chain.
//! It drains every queued append, checks expectations, frames the records,
//! applies one sled batch, flushes once (fsync), then acknowledges all the
//! callers: group commit. If storage ever fails, the log stops accepting
//! writes (like PostgreSQL after a failed fsync) instead of guessing what
//! reached the disk.
//!
//! # Opening
//! Opening checks the tail (the last `tail_check` records): CRCs, dense
//! offsets, and the hash chain. A corrupt log refuses to open.

use crate::codec::{self, RecordParts, GENESIS_HASH};
use crate::envelope::Envelope;
use crate::ids::StreamId;
use crate::log::{
    AppendError, AppendRequest, Appended, EnvelopeIter, EventLog, Expected, LogError,
};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::{oneshot, watch};

/// How hard an acknowledged append is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// fsync before acknowledging (the default; an acknowledged write
    /// survives power loss and `kill -9`).
    Fsync,
    /// Hand the write to the OS and acknowledge; sled flushes in the
    /// background. For benchmarks only: a crash can lose acknowledged writes.
    Os,
}

/// How to open the log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The directory sled keeps its files in.
    pub path: PathBuf,
    /// fsync per group commit, or not.
    pub durability: Durability,
    /// How many records at the tail to verify on open.
    pub tail_check: usize,
    /// Upper bound on events per group commit.
    pub max_batch_events: usize,
    /// sled page cache size in bytes.
    pub cache_bytes: u64,
    /// Told about every group commit (metrics), if set.
    pub observer: Option<std::sync::Arc<dyn crate::CommitObserver>>,
}

impl std::fmt::Debug for dyn crate::CommitObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitObserver")
    }
}

impl LogConfig {
    /// Defaults for a data directory: fsync, 1024-record tail check.
    pub fn new(path: impl Into<PathBuf>) -> LogConfig {
        LogConfig {
            path: path.into(),
            durability: Durability::Fsync,
            tail_check: 1024,
            max_batch_events: 8192,
            cache_bytes: 256 * 1024 * 1024,
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
    /// sled could not open the directory (another process may hold it).
    #[error("cannot open the event log at {path}: {reason}")]
    Storage {
        /// The directory.
        path: PathBuf,
        /// sled's message.
        reason: String,
    },
    /// The tail check found damage.
    #[error("the event log at {path} is corrupt at offset {offset}: {reason}. Refusing to start; run `switchboard log verify` for a full report")]
    Corrupt {
        /// The directory.
        path: PathBuf,
        /// The first bad offset.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

const LOG_PREFIX: u8 = b'L';
const STREAM_PREFIX: u8 = b'S';

pub(crate) fn log_key(offset: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = LOG_PREFIX;
    k[1..].copy_from_slice(&offset.to_be_bytes());
    k
}

fn stream_prefix(stream: &StreamId) -> Vec<u8> {
    let mut k = Vec::with_capacity(stream.as_str().len() + 10);
    k.push(STREAM_PREFIX);
    k.extend_from_slice(stream.as_str().as_bytes());
    k.push(0);
    k
}

pub(crate) fn stream_key(stream: &StreamId, version: u64) -> Vec<u8> {
    let mut k = stream_prefix(stream);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

fn be_u64(bytes: &[u8]) -> Option<u64> {
    let arr: [u8; 8] = bytes.try_into().ok()?;
    Some(u64::from_be_bytes(arr))
}

fn storage(e: sled::Error) -> LogError {
    LogError::Storage(e.to_string())
}

struct Job {
    request: AppendRequest,
    reply: oneshot::Sender<Result<Appended, AppendError>>,
}

/// What readers, subscribers and the writer share.
struct Shared {
    db: sled::Db,
    tree: sled::Tree,
    head: watch::Sender<u64>,
    closed: AtomicBool,
    /// Set when storage failed; appends are refused from then on.
    failure: Mutex<Option<String>>,
}

/// The writer's queue and thread. Separate from [`Shared`] so that the
/// writer (which holds `Shared`) does not keep itself alive: when the last
/// `SledLog` clone goes, this drops, the queue closes and the writer drains
/// and exits.
struct WriterHandle {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The sled-backed event log. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct SledLog {
    shared: Arc<Shared>,
    writer: Arc<WriterHandle>,
}

/// State at the tail, as found on open.
struct Tail {
    head: u64,
    hash: [u8; 32],
    recorded_at_us: i64,
}

impl SledLog {
    /// Opens (or creates) the log and starts its writer.
    pub fn open(config: LogConfig) -> Result<SledLog, OpenError> {
        let storage_err = |e: sled::Error| crate::raw::open_error(&config.path, e);
        let db = crate::raw::open_db(
            &sled::Config::new()
                .path(&config.path)
                .cache_capacity(config.cache_bytes)
                .flush_every_ms(Some(200)),
            &config.path,
        )?;
        let tree = db.open_tree("log").map_err(storage_err)?;
        let tail = check_tail(&tree, config.tail_check).map_err(|e| match e {
            LogError::Corrupt { offset, reason } => OpenError::Corrupt {
                path: config.path.clone(),
                offset,
                reason,
            },
            LogError::Storage(reason) => OpenError::Storage {
                path: config.path.clone(),
                reason,
            },
        })?;
        if config.durability == Durability::Os {
            tracing::warn!(
                "durability = \"os\": appends are acknowledged BEFORE they reach the disk; \
                 a crash can lose acknowledged writes. Use only for benchmarks."
            );
        }
        let (head_tx, _) = watch::channel(tail.head);
        let (tx, rx) = mpsc::channel::<Job>();
        let shared = Arc::new(Shared {
            db,
            tree,
            head: head_tx,
            closed: AtomicBool::new(false),
            failure: Mutex::new(None),
        });
        let writer = Writer {
            shared: shared.clone(),
            next_offset: tail.head + 1,
            last_hash: tail.hash,
            last_time_us: tail.recorded_at_us,
            versions: HashMap::new(),
            durability: config.durability,
            max_batch: config.max_batch_events.max(1),
            observer: config.observer.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| OpenError::Storage {
                path: config.path.clone(),
                reason: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(SledLog {
            shared,
            writer: Arc::new(WriterHandle {
                sender: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(handle)),
            }),
        })
    }

    /// Raw records from `from` on: `(key offset, bytes)`, for verification
    /// and export, without decoding.
    pub fn raw_records(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec), LogError>> + Send + '_ {
        self.shared
            .tree
            .range(log_key(from.max(1))..=log_key(u64::MAX))
            .map(|item| {
                let (k, v) = item.map_err(storage)?;
                let offset = be_u64(&k[1..]).ok_or_else(|| LogError::Corrupt {
                    offset: 0,
                    reason: "malformed log key".into(),
                })?;
                Ok((offset, v))
            })
    }

    /// Bytes the sled files occupy on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.shared.db.size_on_disk().unwrap_or(0)
    }

    /// Direct access to the underlying tree, for tests that must damage a
    /// record on purpose.
    #[doc(hidden)]
    pub fn raw_tree(&self) -> &sled::Tree {
        &self.shared.tree
    }
}

impl Shared {
    /// Reads the committed envelopes `[from, to]`; all must be present.
    fn read_range(&self, from: u64, to: u64) -> Result<Vec<Envelope>, LogError> {
        let mut out = Vec::with_capacity((to.saturating_sub(from) + 1).min(4096) as usize);
        for item in self.tree.range(log_key(from)..=log_key(to)) {
            let (k, v) = item.map_err(storage)?;
            let offset = be_u64(&k[1..]).unwrap_or(0);
            let env = codec::decode_record(&v).map_err(|e| LogError::Corrupt {
                offset,
                reason: e.to_string(),
            })?;
            out.push(env);
        }
        let expected = to - from + 1;
        if out.len() as u64 != expected {
            return Err(LogError::Corrupt {
                offset: from + out.len() as u64,
                reason: "record missing inside the committed range".into(),
            });
        }
        Ok(out)
    }
}

/// Verifies the last `n` records and returns the tail state.
fn check_tail(tree: &sled::Tree, n: usize) -> Result<Tail, LogError> {
    let mut window: Vec<(u64, sled::IVec)> = Vec::with_capacity(n.min(4096));
    for item in tree
        .range(log_key(0)..=log_key(u64::MAX))
        .rev()
        .take(n.max(1))
    {
        let (k, v) = item.map_err(storage)?;
        let offset = be_u64(&k[1..]).ok_or_else(|| LogError::Corrupt {
            offset: 0,
            reason: "malformed log key".into(),
        })?;
        window.push((offset, v));
    }
    window.reverse();
    let Some((head, _)) = window.last().map(|(o, v)| (*o, v.clone())) else {
        return Ok(Tail {
            head: 0,
            hash: GENESIS_HASH,
            recorded_at_us: 0,
        });
    };
    // The first record must be offset 1.
    if let Some(first) = tree.range(log_key(0)..=log_key(u64::MAX)).next() {
        let (k, _) = first.map_err(storage)?;
        let first_offset = be_u64(&k[1..]).unwrap_or(0);
        if first_offset != 1 {
            return Err(LogError::Corrupt {
                offset: 1,
                reason: format!("the log starts at offset {first_offset}, not 1"),
            });
        }
    }
    let mut prev_hash: Option<[u8; 32]> = None;
    let mut last = Tail {
        head,
        hash: GENESIS_HASH,
        recorded_at_us: 0,
    };
    for (expected_offset, (offset, bytes)) in (window[0].0..).zip(window.iter()) {
        if *offset != expected_offset {
            return Err(LogError::Corrupt {
                offset: expected_offset,
                reason: format!("offset {expected_offset} is missing (next present: {offset})"),
            });
        }
        let env = codec::decode_record(bytes).map_err(|e| LogError::Corrupt {
            offset: *offset,
            reason: e.to_string(),
        })?;
        if env.offset != *offset {
            return Err(LogError::Corrupt {
                offset: *offset,
                reason: format!("record claims offset {}", env.offset),
            });
        }
        let chain_ok = match prev_hash {
            Some(p) => env.prev_hash == p,
            None => *offset != 1 || env.prev_hash == GENESIS_HASH,
        };
        if !chain_ok {
            return Err(LogError::Corrupt {
                offset: *offset,
                reason: "hash chain broken: prev_hash does not match the previous record".into(),
            });
        }
        prev_hash = Some(env.hash);
        last.hash = env.hash;
        last.recorded_at_us = codec::to_micros(env.recorded_at);
    }
    Ok(last)
}

struct Writer {
    shared: Arc<Shared>,
    next_offset: u64,
    last_hash: [u8; 32],
    last_time_us: i64,
    /// Authoritative stream versions (loaded lazily from the index).
    versions: HashMap<StreamId, u64>,
    durability: Durability,
    max_batch: usize,
    observer: Option<Arc<dyn crate::CommitObserver>>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Job>) {
        let mut pending: VecDeque<Job> = VecDeque::new();
        loop {
            if pending.is_empty() {
                match rx.recv() {
                    Ok(job) => pending.push_back(job),
                    Err(_) => break,
                }
            }
            // Group commit: take everything already queued, up to the cap.
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
            self.commit(group);
        }
        // Every sender is gone: flush what the OS holds before exiting.
        if let Err(e) = self.shared.db.flush() {
            tracing::error!(error = %e, "final flush of the event log failed");
        }
    }

    fn current_version(&mut self, stream: &StreamId) -> Result<u64, String> {
        if let Some(v) = self.versions.get(stream) {
            return Ok(*v);
        }
        let prefix = stream_prefix(stream);
        let v = match self.shared.tree.scan_prefix(&prefix).next_back() {
            Some(Ok((k, _))) => be_u64(&k[prefix.len()..]).unwrap_or(0),
            Some(Err(e)) => return Err(e.to_string()),
            None => 0,
        };
        self.versions.insert(stream.clone(), v);
        Ok(v)
    }

    fn commit(&mut self, group: Vec<Job>) {
        if let Some(reason) = self.shared.failure.lock().clone() {
            for job in group {
                let _ = job
                    .reply
                    .send(Err(AppendError::Unavailable(reason.clone())));
            }
            return;
        }
        let now_us = codec::to_micros(OffsetDateTime::now_utc());
        // Time never runs backwards along offsets, so "as of time T" is a prefix.
        let recorded_at_us = now_us.max(self.last_time_us);
        let recorded_at =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(recorded_at_us) * 1000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);

        let start_offset = self.next_offset;
        let start_hash = self.last_hash;
        let mut staged: HashMap<StreamId, u64> = HashMap::new();
        let mut batch = sled::Batch::default();
        let mut accepted: Vec<(Job, Appended)> = Vec::with_capacity(group.len());

        'jobs: for job in group {
            if job.request.events.is_empty() {
                let _ = job.reply.send(Err(AppendError::Empty));
                continue;
            }
            // Check every expectation before framing anything.
            for (stream, expected) in &job.request.expected {
                let actual = match staged.get(stream) {
                    Some(v) => *v,
                    None => match self.current_version(stream) {
                        Ok(v) => v,
                        Err(e) => {
                            self.fail(format!("reading stream index: {e}"));
                            let _ = job.reply.send(Err(AppendError::Unavailable(e)));
                            continue 'jobs;
                        }
                    },
                };
                let ok = match expected {
                    Expected::Any => true,
                    Expected::NoStream => actual == 0,
                    Expected::Exactly(v) => actual == *v,
                };
                if !ok {
                    let _ = job.reply.send(Err(AppendError::Conflict {
                        stream: stream.clone(),
                        expected: *expected,
                        actual,
                    }));
                    continue 'jobs;
                }
            }
            // Frame into a scratch area so a failure mid-job leaves nothing behind.
            let mut job_staged = HashMap::new();
            let mut records = Vec::with_capacity(job.request.events.len());
            let mut offset = self.next_offset;
            let mut hash = self.last_hash;
            for ev in &job.request.events {
                let base = match job_staged
                    .get(&ev.stream)
                    .or_else(|| staged.get(&ev.stream))
                {
                    Some(v) => *v,
                    None => match self.current_version(&ev.stream) {
                        Ok(v) => v,
                        Err(e) => {
                            self.fail(format!("reading stream index: {e}"));
                            let _ = job.reply.send(Err(AppendError::Unavailable(e)));
                            continue 'jobs;
                        }
                    },
                };
                let version = base + 1;
                let encoded = codec::encode_record(&RecordParts {
                    offset,
                    stream: ev.stream.as_str(),
                    stream_version: version,
                    tenant: ev.tenant.0,
                    event_type: ev.event_type,
                    schema_version: ev.schema_version,
                    recorded_at_us,
                    metadata: &job.request.metadata,
                    payload: &ev.payload,
                    prev_hash: &hash,
                });
                let (bytes, h) = match encoded {
                    Ok(x) => x,
                    Err(e) => {
                        let _ = job.reply.send(Err(AppendError::Unavailable(format!(
                            "encoding failed: {e}"
                        ))));
                        continue 'jobs;
                    }
                };
                records.push((offset, ev.stream.clone(), version, bytes));
                job_staged.insert(ev.stream.clone(), version);
                hash = h;
                offset += 1;
            }
            let appended = Appended {
                first_offset: self.next_offset,
                last_offset: offset - 1,
                recorded_at,
            };
            for (off, stream, version, bytes) in records {
                batch.insert(&log_key(off)[..], bytes);
                batch.insert(stream_key(&stream, version), &off.to_be_bytes()[..]);
            }
            staged.extend(job_staged);
            self.next_offset = offset;
            self.last_hash = hash;
            accepted.push((job, appended));
        }

        if accepted.is_empty() {
            return;
        }
        let mut fsync = std::time::Duration::ZERO;
        let written = self
            .shared
            .tree
            .apply_batch(batch)
            .and_then(|()| match self.durability {
                Durability::Fsync => {
                    let started = std::time::Instant::now();
                    let flushed = self.shared.db.flush().map(|_| ());
                    fsync = started.elapsed();
                    flushed
                }
                Durability::Os => Ok(()),
            });
        match written {
            Ok(()) => {
                if let Some(observer) = &self.observer {
                    observer.committed(&crate::CommitStats {
                        appends: accepted.len(),
                        events: accepted
                            .iter()
                            .map(|(job, _)| job.request.events.len())
                            .sum(),
                        fsync,
                        head: self.next_offset - 1,
                    });
                }
                self.versions.extend(staged);
                self.last_time_us = recorded_at_us;
                self.shared.head.send_replace(self.next_offset - 1);
                for (job, appended) in accepted {
                    let _ = job.reply.send(Ok(appended));
                }
            }
            Err(e) => {
                // We cannot know how much reached the disk: stop writing.
                self.next_offset = start_offset;
                self.last_hash = start_hash;
                let reason = format!("storage failed during append: {e}");
                self.fail(reason.clone());
                for (job, _) in accepted {
                    let _ = job
                        .reply
                        .send(Err(AppendError::Unavailable(reason.clone())));
                }
            }
        }
    }

    fn fail(&self, reason: String) {
        tracing::error!(%reason, "the event log stops accepting writes");
        let mut failure = self.shared.failure.lock();
        if failure.is_none() {
            *failure = Some(reason);
        }
    }
}

impl EventLog for SledLog {
    fn append(&self, request: AppendRequest) -> BoxFuture<'static, Result<Appended, AppendError>> {
        let (reply, rx) = oneshot::channel();
        let sent = match &*self.writer.sender.lock() {
            Some(tx) => tx.send(Job { request, reply }).is_ok(),
            None => false,
        };
        Box::pin(async move {
            if !sent {
                return Err(AppendError::Unavailable("the event log is closed".into()));
            }
            rx.await
                .unwrap_or_else(|_| Err(AppendError::Unavailable("the log writer stopped".into())))
        })
    }

    fn read_all(&self, from: u64) -> EnvelopeIter<'_> {
        let mut expected = from.max(1);
        Box::new(self.raw_records(from).map(move |item| {
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
        }))
    }

    fn read_stream(&self, stream: &StreamId, from_version: u64) -> EnvelopeIter<'_> {
        let prefix = stream_prefix(stream);
        let start = stream_key(stream, from_version.max(1));
        let tree = &self.shared.tree;
        Box::new(
            tree.range(start..)
                .take_while(move |item| match item {
                    Ok((k, _)) => k.starts_with(&prefix),
                    Err(_) => true,
                })
                .map(move |item| {
                    let (_, v) = item.map_err(storage)?;
                    let offset = be_u64(&v).ok_or_else(|| LogError::Corrupt {
                        offset: 0,
                        reason: "malformed stream index entry".into(),
                    })?;
                    let bytes = tree.get(log_key(offset)).map_err(storage)?.ok_or_else(|| {
                        LogError::Corrupt {
                            offset,
                            reason: "stream index points at a missing record".into(),
                        }
                    })?;
                    codec::decode_record(&bytes).map_err(|e| LogError::Corrupt {
                        offset,
                        reason: e.to_string(),
                    })
                }),
        )
    }

    fn subscribe(&self, from: u64) -> BoxStream<'static, Result<Envelope, LogError>> {
        struct State {
            log: Arc<Shared>,
            next: u64,
            buffer: VecDeque<Envelope>,
            head: watch::Receiver<u64>,
            done: bool,
        }
        let state = State {
            log: self.shared.clone(),
            next: from.max(1),
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
                    return Some((Ok(env), st));
                }
                let head = *st.head.borrow_and_update();
                if st.next <= head {
                    // Read in chunks; everything ≤ head is committed, so
                    // reading strictly by offset cannot skip or repeat.
                    let to = head.min(st.next + 511);
                    match st.log.read_range(st.next, to) {
                        Ok(envs) => {
                            st.next = to + 1;
                            st.buffer.extend(envs);
                            continue;
                        }
                        Err(e) => {
                            st.done = true;
                            return Some((Err(e), st));
                        }
                    }
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
        let prefix = stream_prefix(stream);
        match self.shared.tree.scan_prefix(&prefix).next_back() {
            Some(Ok((k, _))) => Ok(be_u64(&k[prefix.len()..]).unwrap_or(0)),
            Some(Err(e)) => Err(storage(e)),
            None => Ok(0),
        }
    }

    fn get(&self, offset: u64) -> Result<Option<Envelope>, LogError> {
        if offset == 0 || offset > self.head() {
            return Ok(None);
        }
        match self.shared.tree.get(log_key(offset)).map_err(storage)? {
            Some(bytes) => codec::decode_record(&bytes)
                .map(Some)
                .map_err(|e| LogError::Corrupt {
                    offset,
                    reason: e.to_string(),
                }),
            None => Ok(None),
        }
    }

    fn close(&self) -> BoxFuture<'static, ()> {
        let shared = self.shared.clone();
        let writer = self.writer.clone();
        Box::pin(async move {
            // Dropping the sender lets the writer finish the queue and exit.
            writer.sender.lock().take();
            let handle = writer.thread.lock().take();
            if let Some(handle) = handle {
                let _ = tokio::task::spawn_blocking(move || handle.join()).await;
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
        if let Some(handle) = self.thread.get_mut().take() {
            let _ = handle.join();
        }
    }
}

/// Opens a log at `path` with default settings (fsync).
pub fn open_default(path: &Path) -> Result<SledLog, OpenError> {
    SledLog::open(LogConfig::new(path))
}
