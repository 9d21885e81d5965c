//! The JetStream log runs the backend conformance suite against a real
//! `nats-server` (Debian's 2.9) started by the test harness, one server
//! for the whole test binary, one stream per case; then what only a
//! shared log must do: two nodes (two logs on one stream) writing at once.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use switchboard_events::conformance::LogFactory;
use switchboard_events::jetstream::harness::NatsServer;
use switchboard_events::jetstream::{JetStreamConfig, JetStreamLog};

/// The test binary's server, started by the first case that needs one.
fn server() -> &'static NatsServer {
    static SERVER: OnceLock<NatsServer> = OnceLock::new();
    SERVER.get_or_init(|| NatsServer::start().expect("nats-server starts"))
}

/// Streams on the test binary's server. A location is `URL#STREAM`, so the
/// SIGKILL case's child process reaches the parent's server.
struct Streams;

impl LogFactory for Streams {
    type Log = JetStreamLog;

    fn create(&self) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        format!("{}#conformance-{n}", server().url)
    }

    fn open(&self, location: &str) -> impl Future<Output = JetStreamLog> + Send {
        let (url, stream) = location.split_once('#').expect("URL#STREAM");
        let config = JetStreamConfig::new(vec![url.to_owned()], stream);
        async move { JetStreamLog::open(config).await.expect("the log opens") }
    }
}

switchboard_events::conformance_suite!(Streams);

mod shared_stream {
    use super::*;
    use futures::StreamExt;
    use std::sync::Arc;
    use switchboard_events::domain::UserUpdated;
    use switchboard_events::{
        AppendError, AppendRequest, Basis, Event, EventLog, Expected, Fields, Id, Metadata,
        StreamId, Value,
    };

    fn request(
        tenant: u64,
        user: u64,
        n: i64,
        expected: Vec<(StreamId, Expected)>,
        tag: &str,
    ) -> AppendRequest {
        let event = |user: u64| {
            let mut changes = Fields::new();
            changes.insert("display_name".into(), Value::Int(n));
            Event::UserUpdated(UserUpdated {
                user_id: Id(user),
                changes: changes.into(),
            })
            .to_new_event(Id(tenant))
            .expect("encodes")
        };
        AppendRequest {
            events: vec![event(user), event(user + 1000)],
            expected,
            metadata: Arc::new(Metadata {
                request_id: Some(tag.to_owned()),
                ..Metadata::system("test")
            }),
        }
    }

    /// Many appends at once on a server with nats-server's default 1 MiB
    /// `max_payload`: the writer splits its groups so every commit fits
    /// one message, and every append lands.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn group_commits_fit_the_servers_max_payload() {
        let server = NatsServer::start_with_max_payload(1024 * 1024).expect("a 1 MiB server");
        let log = JetStreamLog::open(JetStreamConfig::new(vec![server.url.clone()], "fit"))
            .await
            .expect("opens");
        let tasks: Vec<_> = (0..8u64)
            .map(|w| {
                let log = log.clone();
                tokio::spawn(async move {
                    // ~500-byte records, 1,000 per append: two appends
                    // would not fit one message.
                    let mut changes = Fields::new();
                    changes.insert("display_name".into(), Value::Str("x".repeat(400)));
                    let event = Event::UserUpdated(UserUpdated {
                        user_id: Id(w),
                        changes: changes.into(),
                    })
                    .to_new_event(Id(1))
                    .expect("encodes");
                    let mut request = request(1, w, 1, vec![], "big");
                    request.events = vec![event; 1000];
                    log.append(request).await
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task").expect("every append lands");
        }
        assert_eq!(log.head(), 8 * 1000);
        log.close().await;
    }

    async fn two_nodes() -> (JetStreamLog, JetStreamLog) {
        let location = Streams.create();
        let a = Streams.open(&location).await;
        let b = Streams.open(&location).await;
        (a, b)
    }

    async fn wait_head(log: &JetStreamLog, head: u64) {
        let mut watch = log.watch_head();
        watch
            .wait_for(|h| *h >= head)
            .await
            .expect("the log is open");
    }

    /// Writers on two nodes at once: every append lands whole, offsets are
    /// dense, and both nodes end with the same records, byte for byte.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_nodes_write_one_dense_log() {
        let (a, b) = two_nodes().await;
        let tasks: Vec<_> = (0..8u64)
            .map(|w| {
                let log = if w % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move {
                    let mut acked = Vec::new();
                    for i in 0..40 {
                        let tag = format!("{w}-{i}");
                        let done = log
                            .append(request(1, w, i, vec![], &tag))
                            .await
                            .expect("append");
                        acked.push((tag, done.first_offset, done.last_offset));
                    }
                    acked
                })
            })
            .collect();
        let mut acked = Vec::new();
        for t in tasks {
            acked.extend(t.await.expect("writer"));
        }
        let total = 8 * 40 * 2;
        wait_head(&a, total).await;
        wait_head(&b, total).await;
        let on_a: Vec<_> = a.read_all(1).map(|e| e.expect("reads")).collect();
        let on_b: Vec<_> = b.read_all(1).map(|e| e.expect("reads")).collect();
        assert_eq!(on_a.len() as u64, total, "nothing more, nothing less");
        assert!(on_a == on_b, "both nodes hold the same log");
        for (i, env) in on_a.iter().enumerate() {
            assert_eq!(env.offset, i as u64 + 1, "dense offsets");
            if i > 0 {
                assert_eq!(env.prev_hash, on_a[i - 1].hash, "one hash chain");
            }
        }
        for (tag, first, last) in &acked {
            assert_eq!(last - first, 1);
            for o in *first..=*last {
                assert_eq!(
                    on_a[o as usize - 1].metadata.request_id.as_deref(),
                    Some(tag.as_str()),
                    "an acknowledged append is where its acknowledgement says"
                );
            }
        }
        // Subscriptions on either node deliver the same offsets in order.
        let mut sub = b.subscribe(1);
        for expected in &on_a {
            assert_eq!(&sub.next().await.expect("open").expect("reads"), expected);
        }
        a.close().await;
        b.close().await;
    }

    /// Stream expectations hold across nodes: for each version, of eight
    /// appends spread over two nodes exactly one wins.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn expectations_hold_across_nodes() {
        let (a, b) = two_nodes().await;
        let s = StreamId::of("user", Id(5));
        for version in 0..10u64 {
            let tasks: Vec<_> = (0..8u64)
                .map(|t| {
                    let log = if t % 2 == 0 { a.clone() } else { b.clone() };
                    let s = s.clone();
                    tokio::spawn(async move {
                        let expected = if version == 0 {
                            Expected::NoStream
                        } else {
                            Expected::Exactly(version)
                        };
                        log.append(request(1, 5, t as i64, vec![(s, expected)], "race"))
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
        wait_head(&b, 20).await;
        assert_eq!(a.stream_version(&s).expect("v"), 10);
        assert_eq!(b.stream_version(&s).expect("v"), 10);
        a.close().await;
        b.close().await;
    }

    /// An append decided against a state older than the tenant's latest
    /// event (written by another node) is refused as stale; one decided
    /// against the current state, or concerning another tenant, lands.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_decision_older_than_its_tenant_is_refused_as_stale() {
        let (a, b) = two_nodes().await;
        let basis = |offset, tenant| Basis {
            offset,
            tenants: vec![Id(tenant)],
        };
        let first = a
            .append_decided(request(7, 1, 1, vec![], "a"), basis(0, 7))
            .await
            .expect("the first write in the tenant");
        // B decided against the empty log, before A's write: stale.
        let err = b
            .append_decided(request(7, 2, 1, vec![], "b"), basis(0, 7))
            .await
            .expect_err("stale");
        assert_eq!(
            err,
            AppendError::Stale {
                tenant: Id(7),
                decided_at: 0,
                latest: first.last_offset
            }
        );
        // Another tenant is not affected by tenant 7's write.
        b.append_decided(request(8, 2, 1, vec![], "c"), basis(0, 8))
            .await
            .expect("another tenant");
        // Decided again against what A wrote: lands.
        b.append_decided(request(7, 2, 1, vec![], "d"), basis(first.last_offset, 7))
            .await
            .expect("decided against the current state");
        assert_eq!(b.head(), 6);
        a.close().await;
        b.close().await;
    }
}
