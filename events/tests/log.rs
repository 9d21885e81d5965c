//! Black-box tests of the sled event log.

use futures::StreamExt;
use std::collections::HashSet;
use std::sync::Arc;
use switchboard_events::domain::{ExtensionCreated, ExtensionType, UserUpdated};
use switchboard_events::verify::verify_records;
use switchboard_events::{
    AppendError, AppendRequest, Event, EventLog, Expected, Id, LogConfig, Metadata, OpenError,
    SledLog, StreamId, Value,
};

fn open(dir: &std::path::Path) -> SledLog {
    SledLog::open(LogConfig::new(dir)).expect("log opens")
}

fn event(user: u64, n: i64) -> Event {
    let mut changes = switchboard_events::Fields::new();
    changes.insert("display_name".into(), Value::Int(n));
    Event::UserUpdated(UserUpdated {
        user_id: Id(user),
        changes,
    })
}

fn request(events: &[Event], expected: Vec<(StreamId, Expected)>) -> AppendRequest {
    AppendRequest {
        events: events
            .iter()
            .map(|e| e.to_new_event(Id(1)).expect("encodes"))
            .collect(),
        expected,
        metadata: Arc::new(Metadata::system("test")),
    }
}

#[tokio::test]
async fn given_a_stream_when_the_expected_version_is_wrong_then_the_append_is_a_typed_conflict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    let stream = StreamId::of("user", Id(5));
    log.append(request(
        &[event(5, 1)],
        vec![(stream.clone(), Expected::NoStream)],
    ))
    .await
    .expect("first append");
    let err = log
        .append(request(
            &[event(5, 2)],
            vec![(stream.clone(), Expected::NoStream)],
        ))
        .await
        .expect_err("stream exists");
    assert_eq!(
        err,
        AppendError::Conflict {
            stream: stream.clone(),
            expected: Expected::NoStream,
            actual: 1
        }
    );
    let err = log
        .append(request(
            &[event(5, 2)],
            vec![(stream.clone(), Expected::Exactly(7))],
        ))
        .await
        .expect_err("wrong version");
    assert!(matches!(err, AppendError::Conflict { actual: 1, .. }));
    log.append(request(
        &[event(5, 2)],
        vec![(stream.clone(), Expected::Exactly(1))],
    ))
    .await
    .expect("right version");
    assert_eq!(log.stream_version(&stream).expect("version"), 2);
    assert_eq!(log.head(), 2);
}

#[tokio::test]
async fn a_batch_lands_whole_with_contiguous_offsets_or_not_at_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    let a = StreamId::of("user", Id(1));
    let b = StreamId::of("user", Id(2));
    let done = log
        .append(request(&[event(1, 1), event(2, 1), event(1, 2)], vec![]))
        .await
        .expect("batch");
    assert_eq!((done.first_offset, done.last_offset), (1, 3));
    // The second expectation fails, so neither event of this batch lands.
    let err = log
        .append(request(
            &[event(1, 3), event(2, 2)],
            vec![
                (a.clone(), Expected::Exactly(2)),
                (b.clone(), Expected::Exactly(5)),
            ],
        ))
        .await;
    assert!(err.is_err());
    assert_eq!(log.head(), 3);
    assert_eq!(log.stream_version(&a).expect("v"), 2);
    assert_eq!(log.stream_version(&b).expect("v"), 1);
    let versions: Vec<u64> = log
        .read_stream(&a, 1)
        .map(|e| e.expect("reads").stream_version)
        .collect();
    assert_eq!(versions, vec![1, 2]);
    let empty = log.append(request(&[], vec![])).await;
    assert_eq!(empty, Err(AppendError::Empty));
}

#[tokio::test]
async fn offsets_stay_dense_across_a_reopen_and_the_chain_continues() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let log = open(dir.path());
        for i in 0..10 {
            log.append(request(&[event(1, i)], vec![]))
                .await
                .expect("append");
        }
        log.close().await;
    }
    let log = open(dir.path());
    assert_eq!(log.head(), 10);
    let done = log
        .append(request(&[event(1, 99), event(2, 1)], vec![]))
        .await
        .expect("append");
    assert_eq!((done.first_offset, done.last_offset), (11, 12));
    let offsets: Vec<u64> = log.read_all(1).map(|e| e.expect("reads").offset).collect();
    assert_eq!(offsets, (1..=12).collect::<Vec<_>>());
    let report = verify_records(log.raw_records(1), |_| {}).expect("verifies");
    assert_eq!(report.count, 12);
    assert_eq!(
        log.stream_version(&StreamId::of("user", Id(1))).expect("v"),
        11
    );
}

#[tokio::test]
async fn recorded_time_never_goes_backwards_along_offsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    for i in 0..50 {
        log.append(request(&[event(1, i)], vec![]))
            .await
            .expect("append");
    }
    let times: Vec<_> = log
        .read_all(1)
        .map(|e| e.expect("reads").recorded_at)
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscribe_catches_up_then_goes_live_without_gap_or_duplicate_under_concurrent_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    for i in 0..300 {
        log.append(request(&[event(1, i)], vec![]))
            .await
            .expect("append");
    }
    // Appenders keep writing while the subscriber catches up and switches to live.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..150 {
                    let batch = if i % 5 == 0 {
                        vec![event(w, i), event(w + 100, i)]
                    } else {
                        vec![event(w, i)]
                    };
                    log.append(request(&batch, vec![])).await.expect("append");
                }
            })
        })
        .collect();
    let total = 300 + 8 * (150 + 30);
    let mut sub = log.subscribe(1);
    let mut seen = Vec::with_capacity(total);
    while seen.len() < total {
        let env = tokio::time::timeout(std::time::Duration::from_secs(30), sub.next())
            .await
            .expect("no stall")
            .expect("stream open")
            .expect("reads");
        seen.push(env.offset);
    }
    for w in writers {
        w.await.expect("writer");
    }
    let expected: Vec<u64> = (1..=total as u64).collect();
    assert_eq!(seen, expected, "every offset exactly once, in order");
    // A late subscriber from the middle sees exactly the rest.
    let mut late = log.subscribe(1000);
    let first = late.next().await.expect("open").expect("reads");
    assert_eq!(first.offset, 1000);
}

#[tokio::test]
async fn subscribers_end_when_the_log_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    log.append(request(&[event(1, 1)], vec![]))
        .await
        .expect("append");
    let mut sub = log.subscribe(1);
    assert_eq!(sub.next().await.expect("one").expect("ok").offset, 1);
    log.close().await;
    let end = tokio::time::timeout(std::time::Duration::from_secs(5), sub.next()).await;
    assert!(matches!(end, Ok(None)));
    assert!(!log.is_writable());
    assert!(log.append(request(&[event(1, 2)], vec![])).await.is_err());
}

/// Opens the log's sled directly, as an attacker with disk access would;
/// waits out the lock the just-closed log's flusher may still hold.
fn raw_sled(path: &std::path::Path) -> sled::Db {
    for _ in 0..40 {
        match sled::open(path) {
            Ok(db) => return db,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
    sled::open(path).expect("raw sled")
}

async fn write_ten(dir: &std::path::Path) {
    let log = open(dir);
    for i in 0..10 {
        log.append(request(&[event(1, i)], vec![]))
            .await
            .expect("append");
    }
    log.close().await;
}

#[tokio::test]
async fn a_flipped_byte_is_found_on_open_and_by_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_ten(dir.path()).await;
    {
        let db = raw_sled(dir.path());
        let tree = db.open_tree("log").expect("tree");
        let mut key = vec![b'L'];
        key.extend_from_slice(&7u64.to_be_bytes());
        let mut bytes = tree.get(&key).expect("get").expect("present").to_vec();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x20;
        tree.insert(&key, bytes).expect("insert");
        db.flush().expect("flush");
    }
    match SledLog::open(LogConfig::new(dir.path())) {
        Err(OpenError::Corrupt { offset, .. }) => assert_eq!(offset, 7),
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a corrupt log must not open"),
    }
}

#[tokio::test]
async fn a_record_removed_from_the_middle_breaks_density_and_a_recomputed_crc_breaks_the_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_ten(dir.path()).await;
    {
        let db = raw_sled(dir.path());
        let tree = db.open_tree("log").expect("tree");
        let mut key = vec![b'L'];
        key.extend_from_slice(&4u64.to_be_bytes());
        tree.remove(&key).expect("remove");
        db.flush().expect("flush");
    }
    match SledLog::open(LogConfig::new(dir.path())) {
        Err(OpenError::Corrupt { offset, .. }) => assert_eq!(offset, 4),
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a log with a hole must not open"),
    }

    // Tampering that keeps the CRC valid: re-frame record 6 with other content.
    let dir = tempfile::tempdir().expect("tempdir");
    write_ten(dir.path()).await;
    {
        let db = raw_sled(dir.path());
        let tree = db.open_tree("log").expect("tree");
        let mut key = vec![b'L'];
        key.extend_from_slice(&6u64.to_be_bytes());
        let env = switchboard_events::codec::decode_record(
            &tree.get(&key).expect("get").expect("present"),
        )
        .expect("decodes");
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
                payload: b"forged",
                prev_hash: &env.prev_hash,
            })
            .expect("encodes")
            .0;
        tree.insert(&key, forged).expect("insert");
        db.flush().expect("flush");
    }
    match SledLog::open(LogConfig::new(dir.path())) {
        Err(OpenError::Corrupt { offset, reason, .. }) => {
            assert_eq!(offset, 7, "record 7 no longer chains to the forged 6");
            assert!(reason.contains("hash chain"), "{reason}");
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a forged log must not open"),
    }
}

#[tokio::test]
async fn read_stream_and_get_return_decodable_domain_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path());
    let created = Event::ExtensionCreated(ExtensionCreated {
        extension_id: Id(3),
        number: "101".into(),
        name: "Reception".into(),
        ext_type: ExtensionType::Sip,
        enabled: true,
    });
    log.append(request(std::slice::from_ref(&created), vec![]))
        .await
        .expect("append");
    let env = log.get(1).expect("get").expect("present");
    assert_eq!(Event::from_envelope(&env).expect("decodes"), created);
    assert_eq!(env.stream.as_str(), "extension-3");
    assert!(log.get(2).expect("get").is_none());
    let mut seen = HashSet::new();
    for env in log.read_stream(&StreamId::of("extension", Id(3)), 1) {
        seen.insert(env.expect("reads").offset);
    }
    assert_eq!(seen, HashSet::from([1]));
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
    let log = SledLog::open(config).expect("opens");
    log.append(request(&[event(1, 1), event(2, 2)], vec![]))
        .await
        .expect("append");
    log.append(request(&[event(1, 3)], vec![]))
        .await
        .expect("append");
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
