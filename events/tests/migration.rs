//! The one-time migration of a wave-1 data directory (records inside
//! sled), on the fixture in `tests/fixtures/wave1/` written by wave-1 code.

mod common;
use common::copy_dir;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use switchboard_events::progress::{Progress, ProgressEvent};
use switchboard_events::verify::{hex, verify_records};
use switchboard_events::{EventLog, LogConfig, OpenError, SegmentLog};

/// What `switchboard log verify` printed for the fixture with wave-1 code.
const RECORDS: u64 = 364;
const HEAD_HASH: &str = "4522531329bc6c2738d1cf37ca16fcf24e3a3804f4d5733d9f50ddcc803e6840";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/wave1/data")
}

/// A private copy of the fixture (opening it changes sled's files).
fn copy_fixture() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    copy_dir(&fixture(), &data);
    (tmp, data)
}

fn assert_migrated(data: &Path, log: &SegmentLog) {
    assert_eq!(log.head(), RECORDS);
    assert_eq!(
        hex(&log.get(RECORDS).expect("reads").expect("present").hash),
        HEAD_HASH
    );
    let report = verify_records(log.raw_records(1), |_| {}).expect("the new log verifies");
    assert_eq!(
        (report.count, hex(&report.head_hash).as_str()),
        (RECORDS, HEAD_HASH)
    );
    for gone in ["conf", "db", "blobs"] {
        assert!(!data.join(gone).exists(), "wave-1 {gone} removed");
    }
    assert!(data.join("log/segments").is_dir());
    assert!(!data.join("log.migrating").exists());
    assert!(
        data.join("sync_token.key").exists(),
        "the service's files stay"
    );
}

#[tokio::test]
async fn a_wave1_directory_migrates_once_with_progress_to_the_same_head_hash() {
    let (_tmp, data) = copy_fixture();
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = events.clone();
    let mut config = LogConfig::new(&data);
    config.progress = Progress::to(move |e| match e {
        ProgressEvent::Start { what, total } => seen.lock().push(format!("{what} {total}")),
        ProgressEvent::Finish => seen.lock().push("finish".into()),
        ProgressEvent::Advance(_) => {}
    });
    let log = SegmentLog::open(config.clone()).expect("migrates and opens");
    assert_migrated(&data, &log);
    assert_eq!(
        *events.lock(),
        vec![
            format!("verifying the wave-1 log {RECORDS}"),
            "finish".to_owned(),
            format!("migrating the log {RECORDS}"),
            "finish".to_owned(),
        ]
    );
    // Stream heads came through: the next append to a migrated stream
    // continues its versions.
    let stream = log.get(RECORDS).expect("reads").expect("present").stream;
    let version = log.stream_version(&stream).expect("version");
    assert!(version >= 1);
    assert_eq!(log.read_stream(&stream, 1).count() as u64, version);
    log.close().await;
    drop(log);
    // Once: the second open finds nothing to migrate.
    events.lock().clear();
    let log = SegmentLog::open(config).expect("reopens");
    assert_migrated(&data, &log);
    assert!(events.lock().is_empty(), "{:?}", events.lock());
    log.close().await;
}

#[tokio::test]
async fn an_interrupted_migration_is_redone_from_the_untouched_wave1_files() {
    let (_tmp, data) = copy_fixture();
    // A crash half-way through writing the new log.
    let half = data.join("log.migrating/segments");
    std::fs::create_dir_all(&half).expect("mkdir");
    std::fs::write(
        half.join("00000000000000000001.seg"),
        b"SBSEG\0\0\x01partial",
    )
    .expect("write");
    let log = SegmentLog::open(LogConfig::new(&data)).expect("migrates");
    assert_migrated(&data, &log);
    log.close().await;
}

#[tokio::test]
async fn wave1_files_left_beside_a_migrated_log_are_removed_at_the_next_open() {
    let (_tmp, data) = copy_fixture();
    let log = SegmentLog::open(LogConfig::new(&data)).expect("migrates");
    log.close().await;
    drop(log);
    // A crash after the rename, before the old files were deleted.
    for name in ["conf", "db"] {
        std::fs::copy(fixture().join(name), data.join(name)).expect("copy back");
    }
    let log = SegmentLog::open(LogConfig::new(&data)).expect("opens");
    assert_migrated(&data, &log);
    log.close().await;
}

#[tokio::test]
async fn a_wave1_log_that_does_not_verify_is_not_migrated_and_stays_untouched() {
    let (_tmp, data) = copy_fixture();
    {
        // Damage record 100 inside sled, as a disk fault would.
        let db = sled::open(&data).expect("wave-1 sled");
        let tree = db.open_tree("log").expect("tree");
        let mut key = vec![b'L'];
        key.extend_from_slice(&100u64.to_be_bytes());
        let mut bytes = tree.get(&key).expect("get").expect("present").to_vec();
        bytes[20] ^= 0x08;
        tree.insert(&key, bytes).expect("insert");
        db.flush().expect("flush");
    }
    for _ in 0..2 {
        match SegmentLog::open(LogConfig::new(&data)) {
            Err(OpenError::Migration { reason, .. }) => {
                assert!(reason.contains("offset 100"), "{reason}")
            }
            Err(other) => panic!("wrong error: {other}"),
            Ok(_) => panic!("a damaged wave-1 log must not be migrated"),
        }
        assert!(data.join("conf").exists() && data.join("db").exists());
        assert!(
            !data.join("log").exists(),
            "no new log was started beside it"
        );
    }
}
