//! The backend conformance suite: what every [`EventLog`] must do.
//!
//! A backend proves itself with one macro call in an integration test,
//! given an expression that builds a [`LogFactory`]:
//!
//! ```text
//! switchboard_events::conformance_suite!(MyFactory::new());
//! ```
//!
//! Each case becomes one `#[test]` (named `conformance_*`) that builds its
//! own factory, so cases run in parallel on separate logs. The cases:
//! dense offsets from 1; atomic multi-stream batches; every [`Expected`]
//! case, also under concurrency; stream reads while writing; subscribe
//! catch-up → live without gap or repeat; monotonic `recorded_at` (across a
//! reopen too); the record format and hash chain (every envelope re-encodes
//! to its own hash and links to the one before); reopen; close; large
//! batches and long streams; `read_events` (decoded batches) equal to
//! `read_all` from anywhere and stopping at an undecodable event; and a SIGKILL of a child process in the middle
//! of a load, after which every acknowledged append is there, whole, and
//! nothing else half-written is.
//!
//! The SIGKILL case re-runs the test binary as the child: the generated test
//! sees `SWITCHBOARD_CONFORMANCE_CHILD` in its environment and becomes the
//! appender, printing `acked FIRST LAST` for each acknowledged append. The
//! parent kills it after a number of acknowledgements (not after a time).

use crate::batch::ReadEventsError;
use crate::codec::{self, RecordParts, GENESIS_HASH};
use crate::domain::UserUpdated;
use crate::envelope::{Envelope, Metadata};
use crate::ids::{Id, StreamId};
use crate::log::{AppendError, AppendRequest, EventLog, Expected};
use crate::value::{Fields, Value};
use crate::Event;
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::Duration;

/// Creates and opens logs of one backend for the suite.
pub trait LogFactory: Send + Sync + 'static {
    /// The backend.
    type Log: EventLog + Clone;

    /// Creates a fresh, empty log and returns where it lives (a directory,
    /// a stream name, ...), for [`LogFactory::open`] in this process or in
    /// a child process.
    fn create(&self) -> String;

    /// Opens (or reopens) the log at `location`. Panics if it cannot: the
    /// suite is a test.
    fn open(&self, location: &str) -> impl Future<Output = Self::Log> + Send;
}

/// The environment variable that turns the SIGKILL case into the child.
pub const CHILD_ENV: &str = "SWITCHBOARD_CONFORMANCE_CHILD";

/// Instantiates the conformance suite for a backend: one `#[test]` per
/// case, each building its factory with `$factory`.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:expr) => {
        $crate::conformance_suite!(@async $factory,
            conformance_offsets_are_dense_from_one,
            conformance_a_batch_lands_whole_or_not_at_all,
            conformance_every_expectation_case,
            conformance_concurrent_expectations_admit_exactly_one_append_per_version,
            conformance_stream_reads_see_every_acknowledged_version_while_writing,
            conformance_subscribe_catches_up_then_goes_live_without_gap_or_repeat,
            conformance_recorded_at_never_decreases,
            conformance_records_keep_the_format_and_the_hash_chain,
            conformance_reopen_keeps_offsets_versions_and_chain,
            conformance_reads_by_stream_and_offset,
            conformance_close_ends_subscribers_and_refuses_appends,
            conformance_large_batches_and_long_streams,
            conformance_read_events_matches_read_all_from_anywhere,
            conformance_read_events_stops_at_an_undecodable_event
        );
        #[test]
        fn conformance_reopen_after_sigkill_mid_load() {
            $crate::conformance::reopen_after_sigkill_mid_load(
                &$factory,
                module_path!(),
                "conformance_reopen_after_sigkill_mid_load",
            );
        }
    };
    (@async $factory:expr, $($case:ident),+) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::conformance::$case(&$factory).await;
            }
        )+
    };
}

fn event(user: u64, n: i64) -> Event {
    let mut changes = Fields::new();
    changes.insert("display_name".into(), Value::Int(n));
    Event::UserUpdated(UserUpdated {
        user_id: Id(user),
        changes: changes.into(),
    })
}

fn user(n: u64) -> StreamId {
    StreamId::of("user", Id(n))
}

fn request(events: &[Event], expected: Vec<(StreamId, Expected)>) -> AppendRequest {
    request_with(events, expected, Metadata::system("conformance"))
}

fn request_with(
    events: &[Event],
    expected: Vec<(StreamId, Expected)>,
    metadata: Metadata,
) -> AppendRequest {
    AppendRequest {
        events: events
            .iter()
            .map(|e| e.to_new_event(Id(1)).expect("encodes"))
            .collect(),
        expected,
        metadata: Arc::new(metadata),
    }
}

async fn append_n<L: EventLog>(log: &L, user_id: u64, n: i64) {
    for i in 0..n {
        log.append(request(&[event(user_id, i)], vec![]))
            .await
            .expect("append");
    }
}

fn all<L: EventLog>(log: &L) -> Vec<Envelope> {
    log.read_all(1).map(|e| e.expect("reads")).collect()
}

/// Checks the chain and the record format of `envs` (in offset order from 1):
/// each re-encodes to its own hash, and links to the one before.
fn assert_chain(envs: &[Envelope]) {
    let mut prev = GENESIS_HASH;
    for (i, env) in envs.iter().enumerate() {
        assert_eq!(env.offset, i as u64 + 1, "dense offsets");
        assert_eq!(
            env.prev_hash, prev,
            "offset {} links to its predecessor",
            env.offset
        );
        let (_, hash) = codec::encode_record(&RecordParts {
            offset: env.offset,
            stream: env.stream.as_str(),
            stream_version: env.stream_version,
            tenant: env.tenant.0,
            event_type: &env.event_type,
            schema_version: env.schema_version,
            recorded_at_us: codec::to_micros(env.recorded_at),
            metadata: &env.metadata,
            payload: &env.payload,
            prev_hash: &env.prev_hash,
        })
        .expect("re-encodes");
        assert_eq!(
            env.hash, hash,
            "offset {}: the hash is the record's",
            env.offset
        );
        prev = env.hash;
    }
}

/// Offsets start at 1 and stay dense across appends of any size.
pub async fn conformance_offsets_are_dense_from_one<F: LogFactory>(factory: &F) {
    let log = factory.open(&factory.create()).await;
    assert_eq!(log.head(), 0);
    assert!(log.get(1).expect("get").is_none());
    assert_eq!(log.read_all(1).count(), 0);
    let mut ranges = Vec::new();
    for size in [1u64, 3, 2, 1] {
        let events: Vec<Event> = (0..size).map(|i| event(i, 1)).collect();
        let done = log.append(request(&events, vec![])).await.expect("append");
        ranges.push((done.first_offset, done.last_offset));
    }
    assert_eq!(ranges, vec![(1, 1), (2, 4), (5, 6), (7, 7)]);
    assert_eq!(log.head(), 7);
    assert_eq!(*log.watch_head().borrow(), 7);
    let offsets: Vec<u64> = all(&log).iter().map(|e| e.offset).collect();
    assert_eq!(offsets, (1..=7).collect::<Vec<_>>());
    let from_five: Vec<u64> = log.read_all(5).map(|e| e.expect("reads").offset).collect();
    assert_eq!(from_five, vec![5, 6, 7]);
    log.close().await;
}

/// A batch over several streams lands whole with contiguous offsets, or
/// not at all when one expectation fails.
pub async fn conformance_a_batch_lands_whole_or_not_at_all<F: LogFactory>(factory: &F) {
    let log = factory.open(&factory.create()).await;
    let done = log
        .append(request(&[event(1, 1), event(2, 1), event(1, 2)], vec![]))
        .await
        .expect("batch");
    assert_eq!((done.first_offset, done.last_offset), (1, 3));
    let err = log
        .append(request(
            &[event(1, 3), event(2, 2)],
            vec![
                (user(1), Expected::Exactly(2)),
                (user(2), Expected::Exactly(5)),
            ],
        ))
        .await
        .expect_err("the second expectation fails");
    assert_eq!(
        err,
        AppendError::Conflict {
            stream: user(2),
            expected: Expected::Exactly(5),
            actual: 1
        }
    );
    assert_eq!(log.head(), 3);
    assert_eq!(log.stream_version(&user(1)).expect("v"), 2);
    assert_eq!(log.stream_version(&user(2)).expect("v"), 1);
    let versions: Vec<(u64, u64)> = log
        .read_stream(&user(1), 1)
        .map(|e| e.expect("reads"))
        .map(|e| (e.stream_version, e.offset))
        .collect();
    assert_eq!(versions, vec![(1, 1), (2, 3)]);
    // The next append takes the next offset: nothing of the refused one remains.
    let next = log
        .append(request(&[event(2, 9)], vec![]))
        .await
        .expect("append");
    assert_eq!(next.first_offset, 4);
    log.close().await;
}

/// `Any`, `NoStream` and `Exactly`, on streams in and outside the batch.
pub async fn conformance_every_expectation_case<F: LogFactory>(factory: &F) {
    let log = factory.open(&factory.create()).await;
    let s = user(5);
    let conflict = |expected, actual| AppendError::Conflict {
        stream: user(5),
        expected,
        actual,
    };
    // Absent stream: NoStream and Exactly(0) pass, Exactly(1) fails with actual 0.
    let err = log
        .append(request(
            &[event(5, 0)],
            vec![(s.clone(), Expected::Exactly(1))],
        ))
        .await
        .expect_err("absent");
    assert_eq!(err, conflict(Expected::Exactly(1), 0));
    log.append(request(
        &[event(5, 1)],
        vec![(s.clone(), Expected::NoStream)],
    ))
    .await
    .expect("NoStream on an absent stream");
    log.append(request(&[event(5, 2)], vec![(s.clone(), Expected::Any)]))
        .await
        .expect("Any");
    let err = log
        .append(request(
            &[event(5, 3)],
            vec![(s.clone(), Expected::NoStream)],
        ))
        .await
        .expect_err("present");
    assert_eq!(err, conflict(Expected::NoStream, 2));
    let err = log
        .append(request(
            &[event(5, 3)],
            vec![(s.clone(), Expected::Exactly(1))],
        ))
        .await
        .expect_err("stale");
    assert_eq!(err, conflict(Expected::Exactly(1), 2));
    log.append(request(
        &[event(5, 3)],
        vec![(s.clone(), Expected::Exactly(2))],
    ))
    .await
    .expect("exact");
    // Exactly(0) on an absent stream is NoStream.
    log.append(request(
        &[event(6, 1)],
        vec![(user(6), Expected::Exactly(0))],
    ))
    .await
    .expect("Exactly(0) on an absent stream");
    // An expectation on a stream the batch does not write.
    let err = log
        .append(request(
            &[event(7, 1)],
            vec![(s.clone(), Expected::Exactly(9))],
        ))
        .await
        .expect_err("guard stream");
    assert_eq!(err, conflict(Expected::Exactly(9), 3));
    log.append(request(
        &[event(7, 1)],
        vec![(s.clone(), Expected::Exactly(3))],
    ))
    .await
    .expect("guard holds");
    assert_eq!(log.stream_version(&user(7)).expect("v"), 1);
    assert_eq!(
        log.stream_version(&s).expect("v"),
        3,
        "a guard does not write"
    );
    assert_eq!(
        log.append(request(&[], vec![])).await,
        Err(AppendError::Empty)
    );
    assert_eq!(log.head(), 5);
    log.close().await;
}

/// Concurrent appends expecting the same version: exactly one wins each
/// version, the others see the conflict (also when they share a group commit).
pub async fn conformance_concurrent_expectations_admit_exactly_one_append_per_version<
    F: LogFactory,
>(
    factory: &F,
) {
    let log = factory.open(&factory.create()).await;
    let s = user(9);
    for version in 0..20u64 {
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let log = log.clone();
                let s = s.clone();
                tokio::spawn(async move {
                    let expected = if version == 0 {
                        Expected::NoStream
                    } else {
                        Expected::Exactly(version)
                    };
                    log.append(request(&[event(9, t)], vec![(s, expected)]))
                        .await
                })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            match t.await.expect("task") {
                Ok(_) => wins += 1,
                Err(AppendError::Conflict { actual, .. }) => assert_eq!(actual, version + 1),
                Err(other) => panic!("unexpected {other}"),
            }
        }
        assert_eq!(wins, 1, "version {version}: exactly one append wins");
    }
    assert_eq!(log.stream_version(&s).expect("v"), 20);
    assert_eq!(log.head(), 20);
    log.close().await;
}

/// While appends go on, a stream read right after an acknowledgement holds
/// every version up to it, in order.
pub async fn conformance_stream_reads_see_every_acknowledged_version_while_writing<
    F: LogFactory,
>(
    factory: &F,
) {
    let log = factory.open(&factory.create()).await;
    let noise = {
        let log = log.clone();
        tokio::spawn(async move { append_n(&log, 77, 400).await })
    };
    let s = user(3);
    for i in 1..=150u64 {
        log.append(request(
            &[event(3, i as i64)],
            vec![(s.clone(), Expected::Exactly(i - 1))],
        ))
        .await
        .expect("append");
        if i % 7 == 0 || i == 150 {
            let versions: Vec<u64> = log
                .read_stream(&s, 1)
                .map(|e| e.expect("reads").stream_version)
                .collect();
            assert_eq!(versions, (1..=i).collect::<Vec<_>>());
            let tail: Vec<u64> = log
                .read_stream(&s, i.saturating_sub(2).max(1))
                .map(|e| e.expect("reads").stream_version)
                .collect();
            assert_eq!(tail, (i.saturating_sub(2).max(1)..=i).collect::<Vec<_>>());
        }
    }
    noise.await.expect("noise");
    log.close().await;
}

/// A subscriber from 1 sees every offset once, in order, while writers go on.
pub async fn conformance_subscribe_catches_up_then_goes_live_without_gap_or_repeat<
    F: LogFactory,
>(
    factory: &F,
) {
    let log = factory.open(&factory.create()).await;
    append_n(&log, 1, 300).await;
    let writers: Vec<_> = (0..8u64)
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
        let env = tokio::time::timeout(Duration::from_secs(60), sub.next())
            .await
            .expect("no stall")
            .expect("stream open")
            .expect("reads");
        seen.push(env.offset);
    }
    for w in writers {
        w.await.expect("writer");
    }
    assert_eq!(
        seen,
        (1..=total as u64).collect::<Vec<_>>(),
        "every offset once, in order"
    );
    let mut late = log.subscribe(1000);
    assert_eq!(
        late.next().await.expect("open").expect("reads").offset,
        1000
    );
    log.close().await;
}

/// `recorded_at` never decreases along offsets, across a reopen too.
pub async fn conformance_recorded_at_never_decreases<F: LogFactory>(factory: &F) {
    let location = factory.create();
    let log = factory.open(&location).await;
    append_n(&log, 1, 50).await;
    log.close().await;
    drop(log);
    let log = factory.open(&location).await;
    append_n(&log, 1, 50).await;
    let times: Vec<_> = all(&log).iter().map(|e| e.recorded_at).collect();
    assert_eq!(times.len(), 100);
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    log.close().await;
}

/// Records keep the wave-1 record format and the hash chain, whichever
/// path reads them (`read_all`, `get`, `read_stream`, `subscribe`).
pub async fn conformance_records_keep_the_format_and_the_hash_chain<F: LogFactory>(factory: &F) {
    let log = factory.open(&factory.create()).await;
    let meta = Metadata {
        actor_id: Some(Id(42)),
        actor_name: "alice".into(),
        request_id: Some("req-1".into()),
        source_ip: Some("192.0.2.7".parse().expect("ip")),
        via: "portsip".into(),
    };
    for i in 0..40 {
        log.append(request_with(
            &[event(i % 3, i as i64), event(9, 1)],
            vec![],
            meta.clone(),
        ))
        .await
        .expect("append");
    }
    let envs = all(&log);
    assert_eq!(envs.len(), 80);
    assert_chain(&envs);
    assert_eq!(envs[0].metadata, meta);
    for env in &envs {
        assert_eq!(log.get(env.offset).expect("get").as_ref(), Some(env));
        Event::from_envelope(env).expect("decodes");
    }
    for env in log.read_stream(&user(9), 1) {
        let env = env.expect("reads");
        assert_eq!(&envs[env.offset as usize - 1], &env);
    }
    let mut sub = log.subscribe(1);
    for expected in &envs {
        let env = sub.next().await.expect("open").expect("reads");
        assert_eq!(&env, expected);
    }
    log.close().await;
}

/// After close and reopen: same head, versions and chain; appends continue.
pub async fn conformance_reopen_keeps_offsets_versions_and_chain<F: LogFactory>(factory: &F) {
    let location = factory.create();
    let log = factory.open(&location).await;
    append_n(&log, 1, 10).await;
    log.append(request(&[event(2, 1), event(2, 2)], vec![]))
        .await
        .expect("append");
    let before = all(&log);
    log.close().await;
    drop(log);
    let log = factory.open(&location).await;
    assert_eq!(log.head(), 12);
    assert_eq!(all(&log), before, "the same records, byte for byte");
    assert_eq!(log.stream_version(&user(1)).expect("v"), 10);
    assert_eq!(log.stream_version(&user(2)).expect("v"), 2);
    let done = log
        .append(request(
            &[event(1, 99), event(2, 3)],
            vec![(user(2), Expected::Exactly(2))],
        ))
        .await
        .expect("append");
    assert_eq!((done.first_offset, done.last_offset), (13, 14));
    assert_eq!(log.stream_version(&user(1)).expect("v"), 11);
    assert_chain(&all(&log));
    log.close().await;
}

/// `read_stream` from a version, `get` at the edges, unknown streams.
pub async fn conformance_reads_by_stream_and_offset<F: LogFactory>(factory: &F) {
    let log = factory.open(&factory.create()).await;
    for i in 0..30 {
        log.append(request(&[event(i % 2, i as i64)], vec![]))
            .await
            .expect("append");
    }
    let odd: Vec<(u64, u64)> = log
        .read_stream(&user(1), 10)
        .map(|e| e.expect("reads"))
        .map(|e| (e.stream_version, e.offset))
        .collect();
    assert_eq!(odd, (10..=15).map(|v| (v, v * 2)).collect::<Vec<_>>());
    assert_eq!(log.read_stream(&user(1), 16).count(), 0);
    assert_eq!(log.read_stream(&user(77), 1).count(), 0);
    assert_eq!(log.stream_version(&user(77)).expect("v"), 0);
    assert!(log.get(0).expect("get").is_none());
    assert!(log.get(31).expect("get").is_none());
    assert_eq!(log.get(30).expect("get").expect("present").offset, 30);
    log.close().await;
}

/// Closing ends subscriptions and refuses appends.
pub async fn conformance_close_ends_subscribers_and_refuses_appends<F: LogFactory>(factory: &F) {
    let log = factory.open(&factory.create()).await;
    log.append(request(&[event(1, 1)], vec![]))
        .await
        .expect("append");
    assert!(log.is_writable());
    let mut sub = log.subscribe(1);
    assert_eq!(sub.next().await.expect("one").expect("ok").offset, 1);
    log.close().await;
    let end = tokio::time::timeout(Duration::from_secs(30), sub.next()).await;
    assert!(matches!(end, Ok(None)), "the subscription ends");
    assert!(!log.is_writable());
    assert!(matches!(
        log.append(request(&[event(1, 2)], vec![])).await,
        Err(AppendError::Unavailable(_))
    ));
    assert_eq!(
        log.get(1)
            .expect("reads after close")
            .expect("present")
            .offset,
        1
    );
}

/// A 5,000-event batch, and a stream of 300 versions read from the middle.
pub async fn conformance_large_batches_and_long_streams<F: LogFactory>(factory: &F) {
    let location = factory.create();
    let log = factory.open(&location).await;
    let big: Vec<Event> = (0..5000).map(|i| event(i % 50, i as i64)).collect();
    let done = log.append(request(&big, vec![])).await.expect("big batch");
    assert_eq!((done.first_offset, done.last_offset), (1, 5000));
    append_n(&log, 1000, 300).await;
    let tail: Vec<u64> = log
        .read_stream(&user(1000), 120)
        .map(|e| e.expect("reads").stream_version)
        .collect();
    assert_eq!(tail, (120..=300).collect::<Vec<_>>());
    assert_eq!(log.stream_version(&user(0)).expect("v"), 100);
    log.close().await;
    drop(log);
    let log = factory.open(&location).await;
    assert_eq!(log.head(), 5300);
    assert_eq!(log.stream_version(&user(1000)).expect("v"), 300);
    assert_chain(&all(&log));
    log.close().await;
}

/// `read_events` yields exactly what `read_all` does, decoded, from any
/// offset: near the head and far behind it (where a backend may read ahead
/// on another thread), across batch and frame boundaries.
pub async fn conformance_read_events_matches_read_all_from_anywhere<F: LogFactory>(factory: &F) {
    let log = factory.open(&factory.create()).await;
    let meta = Metadata {
        actor_id: Some(Id(42)),
        actor_name: "alice".into(),
        request_id: Some("req-1".into()),
        source_ip: Some("192.0.2.7".parse().expect("ip")),
        via: "portsip".into(),
    };
    for i in 0..40u64 {
        let batch: Vec<Event> = (0..777)
            .map(|j| event(j % 97, (i * 777 + j) as i64))
            .collect();
        let metadata = if i % 2 == 0 {
            meta.clone()
        } else {
            Metadata::system("conformance")
        };
        log.append(request_with(&batch, vec![], metadata))
            .await
            .expect("append");
    }
    append_n(&log, 5, 3).await;
    let head = log.head();
    assert_eq!(head, 40 * 777 + 3);
    let everything: Vec<Envelope> = all(&log);
    for from in [0, 1, 2, 777, 778, 1025, 20_000, head - 5, head, head + 1] {
        let mut got = Vec::new();
        for batch in log.read_events(from) {
            let batch = batch.expect("reads and decodes");
            assert!(!batch.is_empty(), "no empty batch is yielded");
            for (env, event) in batch.iter() {
                let owned = env.to_envelope();
                assert_eq!(owned.view(), env);
                assert_eq!(
                    &Event::from_envelope(&owned).expect("decodes"),
                    event,
                    "offset {}",
                    env.offset
                );
                got.push(owned);
            }
        }
        let start = from.max(1) as usize - 1;
        let expected = everything.get(start..).unwrap_or(&[]);
        assert_eq!(got.len(), expected.len(), "read_events({from})");
        assert!(got == expected, "read_events({from}) differs from read_all");
    }
    log.close().await;
}

/// An event this build cannot decode stops `read_events` at its offset,
/// after yielding everything before it; near the head and far behind it.
pub async fn conformance_read_events_stops_at_an_undecodable_event<F: LogFactory>(factory: &F) {
    let log = factory.open(&factory.create()).await;
    let batch: Vec<Event> = (0..20_000).map(|j| event(j % 13, j as i64)).collect();
    log.append(request(&batch, vec![])).await.expect("append");
    let mut unknown = request(&[event(1, 0)], vec![]);
    unknown.events[0].event_type = "NoSuchEventType";
    let bad = log.append(unknown).await.expect("append").first_offset;
    append_n(&log, 2, 3).await;
    for from in [1, bad - 100] {
        let mut last = from - 1;
        let mut error = None;
        for batch in log.read_events(from) {
            match batch {
                Ok(b) => {
                    for (env, _) in b.iter() {
                        assert_eq!(env.offset, last + 1);
                        last = env.offset;
                    }
                }
                Err(e) => {
                    assert!(error.is_none(), "nothing after an error");
                    error = Some(e);
                }
            }
        }
        assert_eq!(
            last,
            bad - 1,
            "everything before the bad event, from {from}"
        );
        match error {
            Some(ReadEventsError::Decode { offset, .. }) => assert_eq!(offset, bad),
            other => panic!("expected a decode error at {bad}, got {other:?}"),
        }
    }
    log.close().await;
}

/// Acknowledged appends survive a SIGKILL of the appending process, each
/// whole; nothing half-written appears. `module` and `name` locate the
/// generated test so the binary can be re-run as the child.
pub fn reopen_after_sigkill_mid_load<F: LogFactory>(factory: &F, module: &str, name: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    if let Ok(location) = std::env::var(CHILD_ENV) {
        runtime.block_on(child_appender(factory, &location));
        return;
    }
    let location = factory.create();
    // The test's own path, as the harness names it (without the crate).
    let test_path = match module.split_once("::") {
        Some((_, rest)) => format!("{rest}::{name}"),
        None => name.to_owned(),
    };
    let exe = std::env::current_exe().expect("the test binary");
    for round in 0..3u64 {
        let mut child = std::process::Command::new(&exe)
            .args([
                test_path.as_str(),
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, &location)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("spawn the child appender");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let want = 150 + 100 * round as usize;
        let mut acked: Vec<(u64, u64)> = Vec::new();
        while acked.len() < want {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(line) => {
                    if let Some(a) = parse_ack(&line) {
                        acked.push(a);
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    panic!(
                        "round {round}: the child stopped acknowledging ({e}) after {} acks",
                        acked.len()
                    );
                }
            }
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let _ = reader.join();
        // Acknowledgements printed before the kill count too.
        acked.extend(rx.try_iter().filter_map(|l| parse_ack(&l)));

        let log = runtime.block_on(factory.open(&location));
        let max = acked.iter().map(|a| a.1).max().expect("some");
        assert!(
            log.head() >= max,
            "round {round}: head {} < acknowledged {max}",
            log.head()
        );
        let envs = all(&log);
        assert_eq!(envs.len() as u64, log.head());
        assert_chain(&envs);
        for (first, last) in &acked {
            assert_eq!(last - first, 2, "an append of 3 is contiguous");
            let request_id = &envs[*first as usize - 1].metadata.request_id;
            for o in *first..=*last {
                assert_eq!(&envs[o as usize - 1].metadata.request_id, request_id);
            }
        }
        // Every append in the log is whole: 3 consecutive records per request.
        let mut per_request: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for env in &envs {
            let id = env.metadata.request_id.clone().expect("request id");
            per_request.entry(id).or_default().push(env.offset);
        }
        for (id, offsets) in &per_request {
            assert_eq!(offsets.len(), 3, "{id} landed whole");
            assert_eq!(offsets[2] - offsets[0], 2, "{id} is contiguous");
        }
        // Stream versions are dense and agree with stream_version.
        let mut versions: HashMap<StreamId, Vec<u64>> = HashMap::new();
        for env in &envs {
            versions
                .entry(env.stream.clone())
                .or_default()
                .push(env.stream_version);
        }
        for (stream, v) in &versions {
            assert_eq!(v, &(1..=v.len() as u64).collect::<Vec<_>>(), "{stream}");
            assert_eq!(log.stream_version(stream).expect("v"), v.len() as u64);
        }
        runtime.block_on(log.close());
    }
}

fn parse_ack(line: &str) -> Option<(u64, u64)> {
    let mut parts = line.strip_prefix("acked ")?.split_whitespace();
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The child of the SIGKILL case: 8 appenders, each appending 3 events
/// (two to its own stream, one to a shared one) forever.
async fn child_appender<F: LogFactory>(factory: &F, location: &str) {
    let log = factory.open(location).await;
    let out = Arc::new(parking_lot::Mutex::new(std::io::stdout()));
    let tasks: Vec<_> = (0..8u64)
        .map(|w| {
            let log = log.clone();
            let out = out.clone();
            tokio::spawn(async move {
                let run = run_tag(w);
                for i in 0u64.. {
                    let meta = Metadata {
                        request_id: Some(format!("{run}-{w}-{i}")),
                        ..Metadata::system("conformance")
                    };
                    let events = [
                        event(w, i as i64),
                        event(w, -(i as i64)),
                        event(999, i as i64),
                    ];
                    let done = log
                        .append(request_with(&events, vec![], meta))
                        .await
                        .expect("append");
                    let mut o = out.lock();
                    let _ = writeln!(o, "acked {} {}", done.first_offset, done.last_offset);
                    let _ = o.flush();
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

/// A per-process tag so request ids of different rounds never collide.
fn run_tag(w: u64) -> String {
    format!("{}-{w}", std::process::id())
}
