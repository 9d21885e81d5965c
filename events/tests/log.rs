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
use switchboard_events::segment::segment_name;
use switchboard_events::verify::verify_records;
use switchboard_events::{
    AppendError, AppendRequest, Event, EventLog, Expected, Id, LogConfig, Metadata, OpenError,
    SegmentLog, StreamId, Value,
};

fn event(user: u64, n: i64) -> Event {
    let mut changes = switchboard_events::Fields::new();
    changes.insert("display_name".into(), Value::Int(n));
    Event::UserUpdated(UserUpdated {
        user_id: Id(user),
        changes,
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
    for cut in [3usize, frame::FRAME_HEADER_LEN + 10, 60] {
        let mut torn = clean.clone();
        torn.extend_from_slice(&log_bytes[frame11..frame11 + cut]);
        std::fs::write(&path, &torn).expect("write");
        let log = open(dir.path());
        assert_eq!(log.head(), 10, "cut {cut}: the torn frame is gone");
        assert_eq!(
            std::fs::read(&path).expect("read"),
            clean,
            "truncated to the last frame"
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
        self.inner.write_all_at(bytes, pos)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let fail = self.rec.with(|c| {
            c.ops.push(Op::Sync);
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
        self.with(|c| c.ops.push(Op::Create(path.display().to_string())));
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

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.with(|c| c.ops.push(Op::SyncDir));
        OsFiles.sync_dir(dir)
    }
}

fn recorded(dir: &Path) -> (SegmentLog, Recorder) {
    let rec = Recorder::default();
    let mut config = LogConfig::new(dir);
    config.files = Files(Arc::new(rec.clone()));
    (SegmentLog::open(config).expect("opens"), rec)
}

/// The fsync proof: with every `fdatasync` held, no append of the group
/// being synced has been acknowledged; released, they all are. And every
/// acknowledged frame was written, then synced, in that order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_append_is_acknowledged_before_the_fdatasync_that_covers_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, rec) = recorded(dir.path());
    // A new segment: created, header written, synced, directory synced.
    assert_eq!(
        rec.ops()[1..],
        [Op::Write { pos: 0, len: 24 }, Op::Sync, Op::SyncDir]
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
    assert_eq!(log.head(), 40);
    log.close().await;
}

async fn after_a_storage_failure_the_batch_never_lands(arm: impl FnOnce(&mut Control)) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, rec) = recorded(dir.path());
    for i in 0..3 {
        log.append(request(&[event(1, i)])).await.expect("append");
    }
    let size_before = std::fs::metadata(segment(dir.path(), 1))
        .expect("meta")
        .len();
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
        &[Op::Truncate(size_before), Op::Sync],
        "{ops:?}"
    );
    assert!(fail_at < ops.len() - 2);
    assert_eq!(
        std::fs::metadata(segment(dir.path(), 1))
            .expect("meta")
            .len(),
        size_before
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
    after_a_storage_failure_the_batch_never_lands(|c| c.fail_sync = true).await;
}

#[tokio::test]
async fn a_failed_write_stops_the_log_and_its_partial_frame_never_lands_later() {
    after_a_storage_failure_the_batch_never_lands(|c| c.fail_write_after = Some(30)).await;
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

#[tokio::test]
async fn a_new_segment_whose_header_never_made_it_is_removed_and_the_log_goes_on() {
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
    // A crash while the writer was starting the segment for offset 7.
    let torn = segment(dir.path(), 7);
    assert!(!torn.exists());
    std::fs::write(&torn, b"SBSEG\0\0").expect("write");
    let log = SegmentLog::open(config).expect("opens");
    assert_eq!(log.head(), 6);
    let done = log.append(request(&[event(1, 7)])).await.expect("append");
    assert_eq!(done.first_offset, 7);
    assert_eq!(log.get(7).expect("reads").expect("present").offset, 7);
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
