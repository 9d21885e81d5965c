//! Tests of the segment log itself (the backend-independent behaviour is in
//! `conformance.rs`): damage found on open, torn tails cut, the index
//! rebuilt, the fsync proof, and storage failures that must never land.

mod common;
use common::copy_dir;
use futures::FutureExt;
use parking_lot::{Condvar, Mutex};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use switchboard_events::domain::UserUpdated;
use switchboard_events::files::{FileLayer, Files, OsFiles, SegmentFile};
use switchboard_events::frame;
use switchboard_events::segment::{segment_name, FIRST_SEGMENT_BYTES, PREPARED_NAME};
use switchboard_events::verify::verify_records;
use switchboard_events::{
    AppendError, AppendRequest, CommitObserver, CommitStats, Event, EventLog, Expected, Id,
    LogConfig, Metadata, OpenError, SegmentLog, StreamId, Value,
};

fn event(user: u64, n: i64) -> Event {
    let mut changes = switchboard_events::Fields::new();
    changes.insert("display_name".into(), Value::Int(n));
    Event::UserUpdated(UserUpdated {
        user_id: Id(user),
        changes: changes.into(),
    })
}

fn request(events: &[Event]) -> AppendRequest {
    AppendRequest {
        events: events
            .iter()
            .map(|e| e.to_new_event(Id(1)).expect("encodes"))
            .collect(),
        expected: vec![],
        metadata: Arc::new(Metadata::system("test")),
    }
}

fn open(dir: &Path) -> SegmentLog {
    SegmentLog::open(LogConfig::new(dir)).expect("log opens")
}

fn segment(dir: &Path, first: u64) -> PathBuf {
    dir.join("log/segments").join(segment_name(first))
}

/// Writes `n` single-event appends and closes the log.
async fn write(dir: &Path, n: i64) {
    let log = open(dir);
    for i in 0..n {
        log.append(request(&[event(1, i)])).await.expect("append");
    }
    log.close().await;
}

/// The byte range of record `offset` inside a segment file's bytes.
fn record_span(bytes: &[u8], offset: u64) -> Range<usize> {
    switchboard_events::segment::locate_record(bytes, offset).expect("the record is there")
}

fn expect_corrupt(dir: &Path, offset: u64) -> String {
    match SegmentLog::open(LogConfig::new(dir)) {
        Err(OpenError::Corrupt {
            offset: found,
            reason,
            ..
        }) => {
            assert_eq!(found, offset, "{reason}");
            reason
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a corrupt log must not open"),
    }
}

#[tokio::test]
async fn a_flipped_byte_in_an_acknowledged_record_is_refused_with_its_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), 10).await;
    let path = segment(dir.path(), 1);
    let mut bytes = std::fs::read(&path).expect("read");
    let span = record_span(&bytes, 7);
    bytes[span.start + span.len() / 2] ^= 0x20;
    std::fs::write(&path, &bytes).expect("write");
    expect_corrupt(dir.path(), 7);
}

#[tokio::test]
async fn a_flipped_byte_in_the_last_frame_is_refused_too_because_it_was_indexed() {
    // The last frame is complete and was indexed (acknowledged): damage to
    // it is corruption, not a torn write.
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), 10).await;
    let path = segment(dir.path(), 1);
    let mut bytes = std::fs::read(&path).expect("read");
    let span = record_span(&bytes, 10);
    bytes[span.start + 3] ^= 0x01;
    std::fs::write(&path, &bytes).expect("write");
    expect_corrupt(dir.path(), 10);
}

#[tokio::test]
async fn a_forged_record_with_a_recomputed_crc_breaks_the_chain_at_the_next_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), 10).await;
    let path = segment(dir.path(), 1);
    let bytes = std::fs::read(&path).expect("read");
    let span = record_span(&bytes, 6);
    let env = switchboard_events::codec::decode_record(&bytes[span.clone()]).expect("decodes");
    let forged =
        switchboard_events::codec::encode_record(&switchboard_events::codec::RecordParts {
            offset: 6,
            stream: env.stream.as_str(),
            stream_version: env.stream_version,
            tenant: env.tenant.0,
            event_type: &env.event_type,
            schema_version: env.schema_version,
            recorded_at_us: switchboard_events::codec::to_micros(env.recorded_at),
            metadata: &env.metadata,
            payload: &{
                let mut p = env.payload.clone();
                let last = p.len() - 1;
                p[last] ^= 0x01;
                p
            },
            prev_hash: &env.prev_hash,
        })
        .expect("encodes")
        .0;
    assert_eq!(forged.len(), span.len());
    let mut tampered = bytes.clone();
    tampered[span].copy_from_slice(&forged);
    std::fs::write(&path, &tampered).expect("write");
    let reason = expect_corrupt(dir.path(), 7);
    assert!(reason.contains("hash chain"), "{reason}");
}

#[tokio::test]
async fn a_torn_frame_at_the_tail_is_cut_kept_aside_and_never_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), 10).await;
    let path = segment(dir.path(), 1);
    let clean = std::fs::read(&path).expect("read");
    // A frame of offsets 11..=12 that the writer had only partly written.
    let log_bytes = {
        let tmp = tempfile::tempdir().expect("tempdir");
        write(tmp.path(), 12).await;
        std::fs::read(segment(tmp.path(), 1)).expect("read")
    };
    let frame11 = record_span(&log_bytes, 11).start - 4 - frame::FRAME_HEADER_LEN;
    // The writer writes the next frame where the last one ends, over the
    // segment's preallocated zeros.
    let end = record_span(&clean, 10).end;
    for cut in [3usize, frame::FRAME_HEADER_LEN + 10, 60] {
        let mut torn = clean.clone();
        torn[end..end + cut].copy_from_slice(&log_bytes[frame11..frame11 + cut]);
        std::fs::write(&path, &torn).expect("write");
        let log = open(dir.path());
        assert_eq!(log.head(), 10, "cut {cut}: the torn frame is gone");
        assert_eq!(
            std::fs::read(&path).expect("read"),
            clean,
            "zeroed back after the last frame"
        );
        let done = log.append(request(&[event(1, 99)])).await.expect("append");
        assert_eq!(done.first_offset, 11, "offsets continue densely");
        log.close().await;
        drop(log);
        std::fs::write(&path, &clean).expect("restore");
    }
    let torn_dir = dir.path().join("log/torn");
    assert_eq!(std::fs::read_dir(&torn_dir).expect("kept aside").count(), 3);
}

#[tokio::test]
async fn unindexed_frames_are_checked_and_damage_followed_by_a_complete_frame_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), 5).await;
    // Remove the index: every frame is now "unindexed" and scanned on open.
    std::fs::remove_dir_all(dir.path().join("log/index")).expect("rm index");
    let path = segment(dir.path(), 1);
    let mut bytes = std::fs::read(&path).expect("read");
    let span = record_span(&bytes, 3);
    bytes[span.start + 5] ^= 0x40;
    std::fs::write(&path, &bytes).expect("write");
    let reason = expect_corrupt(dir.path(), 3);
    assert!(reason.contains("not a torn write"), "{reason}");
}

#[tokio::test]
async fn a_missing_or_foreign_index_is_rebuilt_from_the_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let log = open(dir.path());
        for i in 0..200 {
            log.append(request(&[event(i % 3, i as i64), event(7, i as i64)]))
                .await
                .expect("append");
        }
        log.close().await;
    }
    // Another log's index (shorter, different records).
    let other = tempfile::tempdir().expect("tempdir");
    write(other.path(), 30).await;
    let index = dir.path().join("log/index");
    std::fs::remove_dir_all(&index).expect("rm");
    copy_dir(&other.path().join("log/index"), &index);
    let log = open(dir.path());
    assert_eq!(log.head(), 400);
    assert_eq!(
        log.stream_version(&StreamId::of("user", Id(7))).expect("v"),
        200
    );
    assert_eq!(
        log.stream_version(&StreamId::of("user", Id(1))).expect("v"),
        67
    );
    let versions: Vec<u64> = log
        .read_stream(&StreamId::of("user", Id(7)), 150)
        .map(|e| e.expect("reads").stream_version)
        .collect();
    assert_eq!(versions, (150..=200).collect::<Vec<_>>());
    log.close().await;
    drop(log);
    // And with no index at all; `reindex` also rebuilds one.
    std::fs::remove_dir_all(&index).expect("rm");
    let (count, _) = SegmentLog::reindex(&LogConfig::new(dir.path())).expect("reindex");
    assert_eq!(count, 400);
    let log = open(dir.path());
    assert_eq!(
        log.stream_version(&StreamId::of("user", Id(7))).expect("v"),
        200
    );
    let report = verify_records(log.raw_records(1), |_| {}).expect("verifies");
    assert_eq!(report.count, 400);
}

#[tokio::test]
async fn a_missing_segment_in_the_middle_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = LogConfig::new(dir.path());
    config.segment_bytes = 512;
    {
        let log = SegmentLog::open(config.clone()).expect("opens");
        for i in 0..20 {
            log.append(request(&[event(1, i)])).await.expect("append");
        }
        log.close().await;
    }
    let mut segments: Vec<u64> = std::fs::read_dir(dir.path().join("log/segments"))
        .expect("dir")
        .filter_map(|e| {
            switchboard_events::segment::parse_segment_name(e.ok()?.file_name().to_str()?)
        })
        .collect();
    segments.sort_unstable();
    assert!(segments.len() > 3, "small segments roll over: {segments:?}");
    let gone = segments[2];
    std::fs::remove_file(segment(dir.path(), gone)).expect("rm");
    std::fs::remove_dir_all(dir.path().join("log/index")).expect("rm index");
    match SegmentLog::open(config) {
        Err(OpenError::Corrupt { offset, .. }) => assert_eq!(offset, gone),
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a log with a hole must not open"),
    }
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_is_refused_while_the_first_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    match SegmentLog::open(LogConfig::new(dir.path())) {
        Err(OpenError::Locked { .. }) => {}
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("two writers on one log"),
    }
    log.close().await;
}

/// One call the writer made to storage.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Create(String),
    Rename(String),
    Remove(String),
    Write { pos: u64, len: usize },
    Sync,
    Truncate(u64),
    SyncDir,
}

/// What the layer is told to do.
#[derive(Default)]
struct Control {
    ops: Vec<Op>,
    /// Fail the next `sync_data`.
    fail_sync: bool,
    /// Fail the next write after writing this many of its bytes.
    fail_write_after: Option<usize>,
    /// Hold `sync_data` calls until released; counts the held ones.
    hold_syncs: bool,
    held: usize,
    /// Writes that went past the end of their file (grew it), as
    /// `(pos, len)`.
    growing_writes: Vec<(u64, usize)>,
    /// Fail creating the prepared next segment.
    fail_prepare: bool,
    /// The thread each frame's `sync_data` ran on, in order.
    sync_threads: Vec<Option<String>>,
}

/// A file layer over the real files that records every call and can fail
/// or hold them on request.
#[derive(Clone, Default)]
struct Recorder(Arc<(Mutex<Control>, Condvar)>);

impl Recorder {
    fn with<T>(&self, f: impl FnOnce(&mut Control) -> T) -> T {
        let mut c = self.0 .0.lock();
        let out = f(&mut c);
        self.0 .1.notify_all();
        out
    }

    fn ops(&self) -> Vec<Op> {
        self.with(|c| c.ops.clone())
    }

    /// Waits until a `sync_data` call is being held (failing the test if
    /// none comes: then the writer acknowledged without syncing).
    fn wait_for_held_sync(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut c = self.0 .0.lock();
        while c.held == 0 {
            assert!(
                !self.0 .1.wait_until(&mut c, deadline).timed_out(),
                "no fdatasync was issued for the pending appends"
            );
        }
    }
}

struct RecordedFile {
    inner: Box<dyn SegmentFile>,
    rec: Recorder,
}

impl SegmentFile for RecordedFile {
    fn write_all_at(&mut self, bytes: &[u8], pos: u64) -> io::Result<()> {
        let partial = self.rec.with(|c| {
            c.ops.push(Op::Write {
                pos,
                len: bytes.len(),
            });
            c.fail_write_after.take()
        });
        if let Some(n) = partial {
            self.inner.write_all_at(&bytes[..n.min(bytes.len())], pos)?;
            return Err(io::Error::other("injected write failure"));
        }
        if pos + bytes.len() as u64 > self.inner.size()? {
            self.rec.with(|c| c.growing_writes.push((pos, bytes.len())));
        }
        self.inner.write_all_at(bytes, pos)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let fail = self.rec.with(|c| {
            c.ops.push(Op::Sync);
            c.sync_threads
                .push(std::thread::current().name().map(str::to_owned));
            std::mem::take(&mut c.fail_sync)
        });
        {
            let mut c = self.rec.0 .0.lock();
            if c.hold_syncs {
                c.held += 1;
                self.rec.0 .1.notify_all();
                while c.hold_syncs {
                    self.rec.0 .1.wait(&mut c);
                }
                c.held -= 1;
            }
        }
        if fail {
            return Err(io::Error::other("injected fdatasync failure (EIO)"));
        }
        self.inner.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.rec.with(|c| c.ops.push(Op::Truncate(len)));
        self.inner.truncate(len)
    }

    fn size(&self) -> io::Result<u64> {
        self.inner.size()
    }
}

impl FileLayer for Recorder {
    fn create(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        let fail = self.with(|c| {
            c.ops.push(Op::Create(path.display().to_string()));
            c.fail_prepare && path.ends_with(PREPARED_NAME)
        });
        if fail {
            return Err(io::Error::other("injected failure: no space to prepare"));
        }
        Ok(Box::new(RecordedFile {
            inner: OsFiles.create(path)?,
            rec: self.clone(),
        }))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        Ok(Box::new(RecordedFile {
            inner: OsFiles.open(path)?,
            rec: self.clone(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.with(|c| c.ops.push(Op::Rename(to.display().to_string())));
        OsFiles.rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.with(|c| c.ops.push(Op::Remove(path.display().to_string())));
        OsFiles.remove(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.with(|c| c.ops.push(Op::SyncDir));
        OsFiles.sync_dir(dir)
    }
}

fn recorded(dir: &Path) -> (SegmentLog, Recorder) {
    recorded_with(dir, true)
}

/// A log over the recording file layer, its writer pipelined or not.
fn recorded_with(dir: &Path, pipeline: bool) -> (SegmentLog, Recorder) {
    let rec = Recorder::default();
    let mut config = LogConfig::new(dir);
    config.files = Files(Arc::new(rec.clone()));
    config.pipeline = pipeline;
    (SegmentLog::open(config).expect("opens"), rec)
}

/// One task per user in `users`, each appending `appends` events to its
/// user's stream one at a time; returns every acknowledged offset, sorted.
async fn concurrent_appends(log: &SegmentLog, users: Range<u64>, appends: i64) -> Vec<u64> {
    let tasks: Vec<_> = users
        .map(|user| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut offsets = Vec::new();
                for i in 0..appends {
                    let appended = log
                        .append(request(&[event(user, i)]))
                        .await
                        .expect("append");
                    offsets.push(appended.first_offset);
                }
                offsets
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    all.sort_unstable();
    all
}

/// A lone appender's commits run on its own thread (no hand-over to the
/// writer thread and back); concurrent appenders are still
/// group-committed by the writer thread, every append acknowledged once
/// with dense offsets.
#[test]
fn a_lone_appender_commits_on_its_own_thread_and_concurrent_ones_are_grouped() {
    #[derive(Default)]
    struct Largest(Mutex<usize>);
    impl CommitObserver for Largest {
        fn committed(&self, stats: &CommitStats) {
            let mut m = self.0.lock();
            *m = (*m).max(stats.appends);
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = Recorder::default();
    let largest = Arc::new(Largest::default());
    let mut config = LogConfig::new(dir.path());
    config.files = Files(Arc::new(rec.clone()));
    config.observer = Some(largest.clone());
    let log = SegmentLog::open(config).expect("opens");

    // One caller, one append at a time, from a thread of its own.
    rec.with(|c| c.sync_threads.clear());
    let lone = log.clone();
    std::thread::Builder::new()
        .name("lone-caller".into())
        .spawn(move || {
            for i in 0..40 {
                futures::executor::block_on(lone.append(request(&[event(1, i)]))).expect("append");
            }
        })
        .expect("thread")
        .join()
        .expect("lone caller");
    // The commits' syncs (not the segment preparer's, should it run).
    let threads: Vec<Option<String>> = rec
        .with(|c| std::mem::take(&mut c.sync_threads))
        .into_iter()
        .filter(|t| t.as_deref() != Some("log-prepare"))
        .collect();
    assert_eq!(threads.len(), 40, "one commit per append: {threads:?}");
    // Until the caller first finds the writer thread asleep (it may still
    // be finishing the commit of the caller's previous append), appends go
    // through the queue; from then on the writer thread stays asleep and
    // every commit runs on the caller's thread.
    let on_caller = |t: &Option<String>| t.as_deref() == Some("lone-caller");
    let first = threads
        .iter()
        .position(on_caller)
        .expect("no commit ran on the caller's thread");
    assert!(
        first < 20,
        "the caller led first at append {first}: {threads:?}"
    );
    assert!(
        threads[first..].iter().all(on_caller),
        "a commit after the caller led went to the writer thread: {threads:?}"
    );
    assert_eq!(*largest.0.lock(), 1);

    // Sixteen callers at once: group commits again.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let offsets = runtime.block_on(concurrent_appends(&log, 100..116, 50));
    assert_eq!(offsets, (41..=840).collect::<Vec<u64>>());
    assert!(
        *largest.0.lock() > 1,
        "no group commit among 16 concurrent appenders"
    );
    assert_eq!(log.head(), 840);
    runtime.block_on(log.close());
}

/// On the only worker of a runtime (a current-thread runtime, or one
/// worker on a one-CPU machine) an append never commits on the caller's
/// thread: blocking it would keep every other task, the other appenders
/// among them, from running, and each task's appends would commit one by
/// one. The writer thread groups them instead.
#[test]
fn appends_from_a_runtimes_only_worker_are_still_grouped() {
    #[derive(Default)]
    struct Commits(Mutex<(usize, usize)>);
    impl CommitObserver for Commits {
        fn committed(&self, stats: &CommitStats) {
            let mut m = self.0.lock();
            m.0 += 1;
            m.1 = m.1.max(stats.appends);
        }
    }
    let one_worker = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
    };
    let current_thread = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    for (name, runtime) in [
        ("one worker", one_worker()),
        ("current thread", current_thread()),
    ] {
        let runtime = runtime.expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let commits = Arc::new(Commits::default());
        let mut config = LogConfig::new(dir.path());
        config.observer = Some(commits.clone());
        let log = SegmentLog::open(config).expect("opens");
        let offsets = runtime.block_on(concurrent_appends(&log, 0..16, 20));
        assert_eq!(offsets, (1..=320).collect::<Vec<u64>>(), "{name}");
        let (count, largest) = *commits.0.lock();
        // Lone commits would be 320 of one append each.
        assert!(
            largest >= 8 && count <= 80,
            "{name}: {count} commits, the largest of {largest} appends"
        );
        runtime.block_on(log.close());
    }
}

/// The fsync proof: with every `fdatasync` held, no append of the group
/// being synced has been acknowledged; released, they all are. And every
/// acknowledged frame was written, then synced, in that order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_append_is_acknowledged_before_the_fdatasync_that_covers_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, rec) = recorded(dir.path());
    // A new segment: prepared (zeros written and synced), renamed into
    // place, header written, synced, directory synced.
    let segments = dir.path().join("log/segments");
    let name = |n: &str| segments.join(n).display().to_string();
    assert_eq!(
        rec.ops(),
        [
            Op::Remove(name("next.prep")),
            Op::Remove(name("next.prep")),
            Op::Create(name("next.prep")),
            Op::Write {
                pos: 0,
                len: 1 << 20
            },
            Op::Sync,
            Op::Rename(name(&segment_name(1))),
            Op::Write { pos: 0, len: 24 },
            Op::Sync,
            Op::SyncDir
        ]
    );
    // Whatever happens, held syncs are released so the log can close.
    struct Release(Recorder);
    impl Drop for Release {
        fn drop(&mut self) {
            self.0.with(|c| c.hold_syncs = false);
        }
    }
    let _release = Release(rec.clone());
    for round in 0..5 {
        rec.with(|c| c.hold_syncs = true);
        let pending: Vec<_> = (0..8)
            .map(|i| log.append(request(&[event(i, round)])))
            .collect();
        rec.wait_for_held_sync();
        let mut pending: Vec<_> = pending.into_iter().map(|f| f.shared()).collect();
        for p in &mut pending {
            assert!(
                p.clone().now_or_never().is_none(),
                "round {round}: an append was acknowledged before its fdatasync returned"
            );
        }
        rec.with(|c| c.hold_syncs = false);
        for p in pending {
            p.await.expect("acknowledged after the sync");
        }
    }
    // Every frame write is followed by a sync before the next write.
    let ops = rec.ops();
    let writes: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Op::Write { pos, .. } if *pos > 0))
        .map(|(i, _)| i)
        .collect();
    assert!(!writes.is_empty());
    for w in writes {
        assert_eq!(
            ops.get(w + 1),
            Some(&Op::Sync),
            "write at op {w} is synced next: {ops:?}"
        );
    }
    // The segment was preallocated: no write grew it, so no fdatasync had
    // to commit a new file size (only the zeros' writes, while preparing).
    assert_eq!(rec.with(|c| c.growing_writes.clone()), [(0, 1 << 20)]);
    assert_eq!(log.head(), 40);
    log.close().await;
}

async fn after_a_storage_failure_the_batch_never_lands(
    arm: impl FnOnce(&mut Control),
    pipeline: bool,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, rec) = recorded_with(dir.path(), pipeline);
    for i in 0..3 {
        log.append(request(&[event(1, i)])).await.expect("append");
    }
    // Where the frames end (the preallocated zeros follow).
    let end_before =
        record_span(&std::fs::read(segment(dir.path(), 1)).expect("read"), 3).end as u64;
    rec.with(arm);
    let failed = log.append(request(&[event(1, 1000), event(2, 1000)])).await;
    assert!(
        matches!(failed, Err(AppendError::Unavailable(_))),
        "{failed:?}"
    );
    // The failed frame was cut off (and the cut synced) at once.
    let ops = rec.ops();
    let fail_at = ops
        .iter()
        .rposition(|o| matches!(o, Op::Write { .. }))
        .expect("the write");
    assert_eq!(
        &ops[ops.len() - 2..],
        &[Op::Truncate(end_before), Op::Sync],
        "{ops:?}"
    );
    assert!(fail_at < ops.len() - 2);
    assert_eq!(
        std::fs::metadata(segment(dir.path(), 1))
            .expect("meta")
            .len(),
        end_before
    );
    // Nothing more is accepted, written or synced: not by later appends,
    // not at close.
    assert!(!log.is_writable());
    let later = log.append(request(&[event(3, 1)])).await;
    assert!(matches!(later, Err(AppendError::Unavailable(_))));
    let seen = rec.ops().len();
    log.close().await;
    drop(log);
    assert_eq!(rec.ops().len(), seen, "close neither wrote nor synced");
    // Reopened: the refused batch is not there, the log goes on.
    let log = open(dir.path());
    assert_eq!(log.head(), 3);
    assert_eq!(log.read_all(1).count(), 3);
    assert_eq!(
        log.stream_version(&StreamId::of("user", Id(2))).expect("v"),
        0
    );
    let next = log.append(request(&[event(2, 1)])).await.expect("append");
    assert_eq!(next.first_offset, 4);
    assert!(
        !dir.path().join("log/torn").exists(),
        "nothing torn was left"
    );
    log.close().await;
}

#[tokio::test]
async fn a_failed_fdatasync_stops_the_log_and_its_batch_never_lands_later() {
    for pipeline in [true, false] {
        after_a_storage_failure_the_batch_never_lands(|c| c.fail_sync = true, pipeline).await;
    }
}

#[tokio::test]
async fn a_failed_write_stops_the_log_and_its_partial_frame_never_lands_later() {
    for pipeline in [true, false] {
        after_a_storage_failure_the_batch_never_lands(|c| c.fail_write_after = Some(30), pipeline)
            .await;
    }
}

/// The pipeline: while one group's `fdatasync` runs, the next is framed
/// against the versions the first one will give its streams; if that sync
/// fails, both are refused, the second is never written, and the log
/// stops as after any failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_framed_during_an_fdatasync_waits_for_it_and_falls_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, rec) = recorded(dir.path());
    for i in 0..3 {
        log.append(request(&[event(1, i)])).await.expect("append");
    }
    struct Release(Recorder);
    impl Drop for Release {
        fn drop(&mut self) {
            self.0.with(|c| c.hold_syncs = false);
        }
    }
    let _release = Release(rec.clone());
    let user1 = StreamId::of("user", Id(1));
    let on_user1 = |n: i64, version: u64| AppendRequest {
        expected: vec![(user1.clone(), Expected::Exactly(version))],
        ..request(&[event(1, n)])
    };
    let mut framed = log.framed_head();
    for fail in [false, true] {
        let head = log.head();
        let v = log.stream_version(&user1).expect("v");
        rec.with(|c| {
            c.hold_syncs = true;
            c.fail_sync = fail;
        });
        let first = tokio::spawn({
            let log = log.clone();
            let req = on_user1(10, v);
            async move { log.append(req).await }
        });
        rec.wait_for_held_sync();
        // Framed while the first group's sync is held: it expects the
        // version the first group gives the stream, not yet durable.
        let second = tokio::spawn({
            let log = log.clone();
            let req = on_user1(11, v + 1);
            async move { log.append(req).await }
        });
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            framed.wait_for(|f| *f >= head + 2),
        )
        .await
        .expect("the second group is framed while the first one's sync is held")
        .expect("the log is open");
        assert!(!first.is_finished() && !second.is_finished());
        let ops_held = rec.ops().len();
        rec.with(|c| c.hold_syncs = false);
        let (first, second) = (first.await.expect("task"), second.await.expect("task"));
        if !fail {
            assert_eq!(first.expect("durable").first_offset, head + 1);
            assert_eq!(second.expect("durable").first_offset, head + 2);
            assert_eq!(log.stream_version(&user1).expect("v"), v + 2);
            continue;
        }
        assert!(
            matches!(first, Err(AppendError::Unavailable(_))),
            "{first:?}"
        );
        assert!(
            matches!(second, Err(AppendError::Unavailable(_))),
            "{second:?}"
        );
        // After the failed sync only the cut of the first frame and its
        // sync: the second frame was never written.
        let ops = rec.ops();
        let end = record_span(&std::fs::read(segment(dir.path(), 1)).expect("read"), head).end;
        assert_eq!(
            &ops[ops_held..],
            &[Op::Truncate(end as u64), Op::Sync],
            "{ops:?}"
        );
    }
    let durable = log.head();
    assert_eq!(durable, 5);
    log.close().await;
    drop(log);
    let log = open(dir.path());
    assert_eq!(log.head(), durable);
    assert_eq!(log.stream_version(&user1).expect("v"), 5);
    log.close().await;
}

#[tokio::test]
async fn expectations_still_refuse_after_a_reopen_from_the_loaded_heads() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), 70).await;
    let log = open(dir.path());
    let err = log
        .append(AppendRequest {
            expected: vec![(StreamId::of("user", Id(1)), Expected::Exactly(69))],
            ..request(&[event(1, 1)])
        })
        .await
        .expect_err("stale");
    assert!(matches!(err, AppendError::Conflict { actual: 70, .. }));
    log.close().await;
}

/// A crash while the writer was starting the segment for offset 7, leaving
/// that file with `content`.
async fn a_new_segment_that_never_got_its_header(content: &[u8]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = LogConfig::new(dir.path());
    config.segment_bytes = 512;
    {
        let log = SegmentLog::open(config.clone()).expect("opens");
        for i in 0..6 {
            log.append(request(&[event(1, i)])).await.expect("append");
        }
        log.close().await;
    }
    let torn = segment(dir.path(), 7);
    assert!(!torn.exists());
    std::fs::write(&torn, content).expect("write");
    let log = SegmentLog::open(config).expect("opens");
    assert_eq!(log.head(), 6);
    assert!(!torn.exists(), "the unused segment was removed");
    let done = log.append(request(&[event(1, 7)])).await.expect("append");
    assert_eq!(done.first_offset, 7);
    assert_eq!(log.get(7).expect("reads").expect("present").offset, 7);
    log.close().await;
}

#[tokio::test]
async fn a_new_segment_whose_header_never_made_it_is_removed_and_the_log_goes_on() {
    a_new_segment_that_never_got_its_header(b"SBSEG\0\0").await;
}

#[tokio::test]
async fn a_prepared_segment_of_zeros_that_never_got_its_header_is_removed_too() {
    a_new_segment_that_never_got_its_header(&[0u8; 512]).await;
}

// ---- Preallocated segments ------------------------------------------------

/// The segment files of a log, `(first offset, file size)`, oldest first.
fn segment_files(dir: &Path) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = std::fs::read_dir(dir.join("log/segments"))
        .expect("segments directory")
        .filter_map(|e| {
            let e = e.ok()?;
            let first = switchboard_events::segment::parse_segment_name(e.file_name().to_str()?)?;
            Some((first, e.metadata().ok()?.len()))
        })
        .collect();
    out.sort_unstable();
    out
}

/// An event of about `bytes` bytes.
fn big_event(user: u64, bytes: usize) -> Event {
    let mut changes = switchboard_events::Fields::new();
    changes.insert("notes".into(), Value::Str("x".repeat(bytes)));
    Event::UserUpdated(UserUpdated {
        user_id: Id(user),
        changes: changes.into(),
    })
}

#[tokio::test]
async fn segments_are_preallocated_with_zeros_and_double_up_to_the_configured_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = LogConfig::new(dir.path());
    config.segment_bytes = 4 << 20;
    let log = SegmentLog::open(config.clone()).expect("opens");
    // The first segment exists at once, at its full size.
    assert_eq!(segment_files(dir.path()), [(1, FIRST_SEGMENT_BYTES)]);
    let mut appended = 0u64;
    while segment_files(dir.path()).len() < 5 {
        let batch: Vec<Event> = (0..8).map(|i| big_event(i, 2000)).collect();
        appended = log
            .append(request(&batch))
            .await
            .expect("append")
            .last_offset;
        // Every segment has its preallocated size from the moment it has
        // its name: appends never grow a file.
        for (i, (_, size)) in segment_files(dir.path()).iter().enumerate() {
            let expected = (FIRST_SEGMENT_BYTES << i.min(2)).min(4 << 20);
            assert_eq!(
                *size,
                expected,
                "segment {i} of {:?}",
                segment_files(dir.path())
            );
        }
    }
    log.close().await;
    drop(log);
    // Reopened: the zeros after the last frame are the clean end, nothing
    // is cut, the sizes stay, and the log goes on.
    let before = segment_files(dir.path());
    let log = SegmentLog::open(config).expect("reopens");
    assert_eq!(log.head(), appended);
    assert_eq!(segment_files(dir.path()), before);
    assert!(!dir.path().join("log/torn").exists(), "nothing was torn");
    let next = log.append(request(&[event(1, 1)])).await.expect("append");
    assert_eq!(next.first_offset, appended + 1);
    assert_eq!(log.read_all(1).count() as u64, appended + 1);
    log.close().await;
}

#[tokio::test]
async fn a_torn_frame_whose_first_bytes_never_reached_the_disk_is_cut_too() {
    // Pages of one write reach the disk in any order: the frame's header
    // may be missing (still zeros) while later bytes of it landed.
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), 10).await;
    let path = segment(dir.path(), 1);
    let clean = std::fs::read(&path).expect("read");
    let end = record_span(&clean, 10).end;
    let mut torn = clean.clone();
    torn[end + 100..end + 140].fill(0xab);
    std::fs::write(&path, &torn).expect("write");
    let log = open(dir.path());
    assert_eq!(log.head(), 10);
    assert_eq!(std::fs::read(&path).expect("read"), clean, "zeroed back");
    let kept: Vec<_> = std::fs::read_dir(dir.path().join("log/torn"))
        .expect("kept aside")
        .map(|e| e.expect("entry").metadata().expect("meta").len())
        .collect();
    assert_eq!(
        kept,
        [140],
        "the bytes from the end of the records to the last non-zero one"
    );
    let done = log.append(request(&[event(1, 99)])).await.expect("append");
    assert_eq!(done.first_offset, 11);
    log.close().await;
}

#[tokio::test]
async fn an_acknowledged_frame_lost_to_zeros_before_complete_frames_is_refused() {
    // Zeros where frame 5 was, frames 6..10 after it: damage (a lost
    // write of acknowledged records), not the clean end of the log.
    for with_index in [true, false] {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), 10).await;
        if !with_index {
            std::fs::remove_dir_all(dir.path().join("log/index")).expect("rm index");
        }
        let path = segment(dir.path(), 1);
        let mut bytes = std::fs::read(&path).expect("read");
        let span = record_span(&bytes, 5);
        bytes[span.start - 4 - frame::FRAME_HEADER_LEN..span.end].fill(0);
        std::fs::write(&path, &bytes).expect("write");
        let reason = expect_corrupt(dir.path(), 5);
        if !with_index {
            assert!(reason.contains("not a torn write"), "{reason}");
        }
    }
}

#[tokio::test]
async fn an_index_ahead_of_zeros_is_rebuilt_not_trusted() {
    // The index says records end further than the segment holds (the
    // segment lost its last frames, as durability `os` can after a power
    // loss): its length no longer shows it, the zeros do.
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), 6).await;
    let path = segment(dir.path(), 1);
    let six = std::fs::read(&path).expect("read");
    write(dir.path(), 4).await; // offsets 7..=10, indexed
    std::fs::write(&path, &six).expect("rewind the segment");
    let log = open(dir.path());
    assert_eq!(log.head(), 6);
    let done = log.append(request(&[event(1, 7)])).await.expect("append");
    assert_eq!(done.first_offset, 7);
    assert_eq!(
        log.stream_version(&StreamId::of("user", Id(1))).expect("v"),
        7
    );
    log.close().await;
}

#[tokio::test]
async fn bytes_after_the_last_frame_of_a_finished_segment_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = LogConfig::new(dir.path());
    config.segment_bytes = 512;
    {
        let log = SegmentLog::open(config.clone()).expect("opens");
        for i in 0..12 {
            log.append(request(&[event(1, i)])).await.expect("append");
        }
        log.close().await;
    }
    let files = segment_files(dir.path());
    assert!(files.len() >= 3, "{files:?}");
    let (first, _) = files[0];
    let (second, _) = files[1];
    let path = segment(dir.path(), first);
    let mut bytes = std::fs::read(&path).expect("read");
    let end = record_span(&bytes, second - 1).end;
    assert!(end < bytes.len(), "room after the last frame");
    bytes[end] = 0x5a;
    std::fs::write(&path, &bytes).expect("write");
    // Found when the segments are scanned (no index), and by `verify`.
    std::fs::remove_dir_all(dir.path().join("log/index")).expect("rm index");
    match SegmentLog::open(config) {
        Err(OpenError::Corrupt { offset, .. }) => assert_eq!(offset, second),
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("garbage inside the log must not open"),
    }
}

#[tokio::test]
async fn when_a_segment_cannot_be_prepared_the_next_one_grows_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = Recorder::default();
    let mut config = LogConfig::new(dir.path());
    config.files = Files(Arc::new(rec.clone()));
    config.segment_bytes = 64 << 10;
    let log = SegmentLog::open(config.clone()).expect("opens");
    rec.with(|c| c.fail_prepare = true);
    let mut last = 0;
    while segment_files(dir.path()).len() < 3 {
        let batch: Vec<Event> = (0..4).map(|i| big_event(i, 1000)).collect();
        last = log
            .append(request(&batch))
            .await
            .expect("append")
            .last_offset;
    }
    assert!(log.is_writable(), "no preallocation is no failure");
    let files = segment_files(dir.path());
    assert_eq!(files[0].1, 64 << 10, "the first one was preallocated");
    let data = std::fs::read(segment(dir.path(), files[1].0)).expect("read");
    assert_eq!(
        record_span(&data, files[2].0 - 1).end,
        data.len(),
        "the second grew with its frames: no zeros after them"
    );
    rec.with(|c| c.fail_prepare = false);
    while segment_files(dir.path()).len() < 5 {
        let batch: Vec<Event> = (0..4).map(|i| big_event(i, 1000)).collect();
        last = log
            .append(request(&batch))
            .await
            .expect("append")
            .last_offset;
    }
    assert_eq!(
        segment_files(dir.path())[4].1,
        64 << 10,
        "preallocated again"
    );
    log.close().await;
    drop(log);
    let log = SegmentLog::open(config).expect("reopens");
    assert_eq!(log.head(), last);
    assert_eq!(log.read_all(1).count() as u64, last);
    log.close().await;
}

#[tokio::test]
async fn without_preallocation_segments_grow_as_frames_are_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = LogConfig::new(dir.path());
    config.preallocate = false;
    config.segment_bytes = 64 << 10;
    let log = SegmentLog::open(config.clone()).expect("opens");
    while segment_files(dir.path()).len() < 3 {
        let batch: Vec<Event> = (0..4).map(|i| big_event(i, 1000)).collect();
        log.append(request(&batch)).await.expect("append");
    }
    log.close().await;
    drop(log);
    let files = segment_files(dir.path());
    for pair in files.windows(2) {
        let data = std::fs::read(segment(dir.path(), pair[0].0)).expect("read");
        assert_eq!(
            record_span(&data, pair[1].0 - 1).end,
            data.len(),
            "no zeros"
        );
        assert!(data.len() <= 64 << 10);
    }
    assert!(!dir.path().join("log/segments").join(PREPARED_NAME).exists());
    let log = SegmentLog::open(config).expect("reopens");
    let next = log.append(request(&[event(1, 1)])).await.expect("append");
    assert_eq!(log.read_all(1).count() as u64, next.last_offset);
    log.close().await;
}

// ---- Stream heads ------------------------------------------------------------

#[tokio::test]
async fn the_writer_holds_a_bounded_number_of_stream_heads_and_asks_the_index_for_the_rest() {
    // Each sign-in starts a stream; a client who signs in over and over
    // must not grow the writer's memory without bound.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = LogConfig::new(dir.path());
    config.stream_heads = 16;
    let log = SegmentLog::open(config.clone()).expect("opens");
    let stream = |n: u64| StreamId::of("user", Id(n));
    for n in 0..300u64 {
        log.append(AppendRequest {
            expected: vec![(stream(n), Expected::NoStream)],
            ..request(&[event(n, 1)])
        })
        .await
        .expect("a new stream");
        if n % 10 == 9 {
            log.wait_indexed();
        }
        // Past the bound the whole map (16) becomes the old generation
        // while the young one fills (8), and the index may lag 10 streams.
        assert!(
            log.stream_heads_held() <= 16 + 8 + 10,
            "{} heads held after {n} streams",
            log.stream_heads_held()
        );
    }
    log.wait_indexed();
    log.append(request(&[event(1000, 1)]))
        .await
        .expect("append");
    assert!(log.stream_heads_held() <= 16, "{}", log.stream_heads_held());
    // Streams long gone from memory still check exactly.
    let expect = |n: u64, expected: Expected| AppendRequest {
        expected: vec![(stream(n), expected)],
        ..request(&[event(n, 2)])
    };
    assert_eq!(log.stream_version(&stream(3)).expect("v"), 1);
    assert!(matches!(
        log.append(expect(3, Expected::NoStream)).await,
        Err(AppendError::Conflict { actual: 1, .. })
    ));
    assert!(matches!(
        log.append(expect(4, Expected::Exactly(0))).await,
        Err(AppendError::Conflict { actual: 1, .. })
    ));
    log.append(expect(5, Expected::Exactly(1)))
        .await
        .expect("the version from the index");
    assert!(matches!(
        log.append(expect(5, Expected::Exactly(1))).await,
        Err(AppendError::Conflict { actual: 2, .. })
    ));
    log.close().await;
    drop(log);
    // Reopened: 301 streams do not fit a bound of 16, so the loader gives
    // up and the index answers.
    let log = SegmentLog::open(config).expect("reopens");
    assert!(
        !log.wait_stream_heads_loaded(),
        "301 streams in a bound of 16"
    );
    assert!(log.stream_heads_held() <= 16, "{}", log.stream_heads_held());
    assert_eq!(log.stream_version(&stream(5)).expect("v"), 2);
    log.append(expect(5, Expected::Exactly(2)))
        .await
        .expect("continues");
    assert!(matches!(
        log.append(expect(299, Expected::NoStream)).await,
        Err(AppendError::Conflict { actual: 1, .. })
    ));
    log.close().await;
}

/// Writes `streams` streams, stream `n` with `n % 3 + 1` events, in appends
/// of 500 events (durability `os`: these tests are about the heads), and
/// closes the log.
async fn write_streams(dir: &Path, streams: u64) {
    let mut config = LogConfig::new(dir);
    config.durability = switchboard_events::Durability::Os;
    let log = SegmentLog::open(config).expect("opens");
    let events: Vec<Event> = (0..streams)
        .flat_map(|n| (0..=(n % 3) as i64).map(move |i| event(n, i)))
        .collect();
    for chunk in events.chunks(500) {
        log.append(request(chunk)).await.expect("append");
    }
    log.close().await;
}

#[tokio::test]
async fn reopened_the_writer_loads_every_head_and_answers_new_and_old_streams_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_streams(dir.path(), 300).await;
    // Without the heads saved at close, so the loader reads the index.
    std::fs::remove_file(dir.path().join("log/heads")).expect("saved at close");
    let log = open(dir.path());
    assert!(log.wait_stream_heads_loaded(), "300 streams fit the bound");
    assert!(
        log.stream_heads_held() >= 300,
        "{}",
        log.stream_heads_held()
    );
    let user = |n: u64| StreamId::of("user", Id(n));
    for n in [0u64, 1, 2, 150, 299] {
        assert_eq!(log.stream_version(&user(n)).expect("v"), n % 3 + 1);
    }
    assert_eq!(
        log.stream_version(&user(300)).expect("v"),
        0,
        "a new stream"
    );
    let expect = |n: u64, expected: Expected| AppendRequest {
        expected: vec![(user(n), expected)],
        ..request(&[event(n, 9)])
    };
    // A new stream is new, an old one is not, whatever the expectation.
    log.append(expect(1000, Expected::NoStream))
        .await
        .expect("a new stream");
    assert!(matches!(
        log.append(expect(7, Expected::NoStream)).await,
        Err(AppendError::Conflict { actual: 2, .. })
    ));
    assert!(matches!(
        log.append(expect(8, Expected::Exactly(2))).await,
        Err(AppendError::Conflict { actual: 3, .. })
    ));
    let done = log
        .append(expect(8, Expected::Exactly(3)))
        .await
        .expect("the loaded version");
    // The record carries the next version.
    let env = log.get(done.first_offset).expect("reads").expect("present");
    assert_eq!(env.stream_version, 4);
    log.close().await;
}

#[tokio::test]
async fn a_clean_close_saves_the_heads_and_the_next_open_starts_complete() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_streams(dir.path(), 300).await;
    assert!(dir.path().join("log/heads").is_file(), "saved at close");
    let user = |n: u64| StreamId::of("user", Id(n));
    let log = open(dir.path());
    // Complete from the saved file at once: no loader to wait for.
    assert!(log.stream_heads_complete());
    assert_eq!(log.stream_version(&user(8)).expect("v"), 3);
    assert_eq!(log.stream_version(&user(300)).expect("v"), 0);
    log.append(AppendRequest {
        expected: vec![(user(8), Expected::Exactly(3))],
        ..request(&[event(8, 9)])
    })
    .await
    .expect("the saved version");
    log.close().await;
    drop(log);
    let log = open(dir.path());
    assert!(log.stream_heads_complete());
    assert_eq!(log.stream_version(&user(8)).expect("v"), 4);
    log.close().await;
}

#[tokio::test]
async fn saved_heads_of_an_older_log_state_or_damaged_are_not_used() {
    // Given heads saved when stream 8 was at version 3...
    let dir = tempfile::tempdir().expect("tempdir");
    write_streams(dir.path(), 300).await;
    let file = dir.path().join("log/heads");
    let older = std::fs::read(&file).expect("saved");
    let user = |n: u64| StreamId::of("user", Id(n));
    let log = open(dir.path());
    log.append(request(&[event(8, 9)])).await.expect("append");
    log.close().await;
    drop(log);
    // ...when they are put back after stream 8 moved on (as after a crash
    // that left the old file), they are of another log state: refused.
    std::fs::write(&file, &older).expect("put back");
    let log = open(dir.path());
    assert!(log.wait_stream_heads_loaded());
    assert_eq!(log.stream_version(&user(8)).expect("v"), 4);
    assert!(matches!(
        log.append(AppendRequest {
            expected: vec![(user(8), Expected::Exactly(3))],
            ..request(&[event(8, 10)])
        })
        .await,
        Err(AppendError::Conflict { actual: 4, .. })
    ));
    log.close().await;
    drop(log);
    // A damaged file is refused too.
    let mut damaged = std::fs::read(&file).expect("saved");
    let at = damaged.len() / 2;
    damaged[at] ^= 0x40;
    std::fs::write(&file, &damaged).expect("damage");
    let log = open(dir.path());
    assert!(log.wait_stream_heads_loaded());
    for n in [0u64, 8, 150, 299] {
        let want = if n == 8 { 4 } else { n % 3 + 1 };
        assert_eq!(log.stream_version(&user(n)).expect("v"), want, "stream {n}");
    }
    log.close().await;
}

#[tokio::test]
async fn appends_racing_the_heads_loader_keep_every_version_exact() {
    // Given a log of 20,000 streams, reopened: the loader runs while 32
    // writers append to streams of their own with exact expectations.
    let dir = tempfile::tempdir().expect("tempdir");
    let streams = 20_000u64;
    write_streams(dir.path(), streams).await;
    // Without the heads saved at close, so the loader runs.
    std::fs::remove_file(dir.path().join("log/heads")).expect("saved at close");
    let log = open(dir.path());
    let writers = 32u64;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            // Writer w owns the streams ≡ w mod 32, from the top down (the
            // loader reads them in name order, so both ends race).
            let mine: Vec<u64> = (0..streams).rev().filter(|n| n % writers == w).collect();
            let mut versions: Vec<u64> = mine.iter().map(|n| n % 3 + 1).collect();
            for round in 0..3 {
                for (i, &n) in mine.iter().enumerate().take(40) {
                    let stream = StreamId::of("user", Id(n));
                    log.append(AppendRequest {
                        expected: vec![(stream, Expected::Exactly(versions[i]))],
                        ..request(&[event(n, round)])
                    })
                    .await
                    .unwrap_or_else(|e| panic!("stream {n} at {}: {e}", versions[i]));
                    versions[i] += 1;
                }
            }
            (mine, versions)
        }));
    }
    let mut written = Vec::new();
    for t in tasks {
        written.push(t.await.expect("writer"));
    }
    // Then, loaded, every stream has the version its events give it.
    assert!(log.wait_stream_heads_loaded());
    for (mine, versions) in &written {
        for (n, v) in mine.iter().zip(versions) {
            let stream = StreamId::of("user", Id(*n));
            assert_eq!(log.stream_version(&stream).expect("v"), *v, "stream {n}");
        }
    }
    // And a stream nobody wrote is new.
    log.append(AppendRequest {
        expected: vec![(StreamId::of("user", Id(streams)), Expected::NoStream)],
        ..request(&[event(streams, 1)])
    })
    .await
    .expect("a new stream");
    log.close().await;
}

/// Counts what the writer reports.
#[derive(Default)]
struct Counting(parking_lot::Mutex<Vec<switchboard_events::CommitStats>>);

impl switchboard_events::CommitObserver for Counting {
    fn committed(&self, stats: &switchboard_events::CommitStats) {
        self.0.lock().push(*stats);
    }
}

#[tokio::test]
async fn the_commit_observer_hears_every_commit_with_its_appends_events_and_head() {
    let dir = tempfile::tempdir().expect("tempdir");
    let observer = Arc::new(Counting::default());
    let mut config = LogConfig::new(dir.path());
    config.observer = Some(observer.clone());
    let log = SegmentLog::open(config).expect("opens");
    log.append(request(&[event(1, 1), event(2, 2)]))
        .await
        .expect("append");
    log.append(request(&[event(1, 3)])).await.expect("append");
    log.close().await;
    let seen = observer.0.lock().clone();
    let events: usize = seen.iter().map(|s| s.events).sum();
    let appends: usize = seen.iter().map(|s| s.appends).sum();
    assert_eq!((appends, events), (2, 3));
    assert_eq!(seen.last().map(|s| s.head), Some(3));
    assert!(
        seen.iter().all(|s| s.fsync > std::time::Duration::ZERO),
        "fsync is timed"
    );
}
