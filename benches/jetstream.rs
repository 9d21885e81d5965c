//! The JetStream backend's throughput (issue #18), next to its peers in the
//! same run: JetStream's raw publish+ack rate, the local log, and durable
//! commands over HTTP on one and three nodes, on one server (R=1) and on a
//! three-server cluster (R=3), all on 127.0.0.1.
//!
//! 1. `raw`: 64 publishers, each with one publish in flight awaiting its
//!    ack, a 300-byte payload (the size of a one-event commit frame): the
//!    ceiling JetStream itself sets on this machine.
//! 2. `log`: 64 appenders, one event per append, each with one append in
//!    flight: the local segment log (fsync) and the JetStream log.
//! 3. `http`: 32 clients creating users (`POST /api/users`, every name and
//!    number distinct, so nothing conflicts for real) over 8 tenants
//!    (`BENCH_TENANTS`), spread round-robin over the nodes: durable
//!    commands per second; how many were answered 409 (must be none: a
//!    lost race is decided again) and 503 (still losing races after
//!    `REDECIDE_WITHIN`); the races the nodes lost; the 99th percentile
//!    and the slowest creation. argon2 is set cheap (64 KiB, 1 pass) as in
//!    the tests: this measures the write path, not password hashing.
//!
//! Run: `cargo bench --bench jetstream` (`BENCH_SECS=N` measured seconds
//! per configuration, default 3; `BENCH_TENANTS=N` tenants the HTTP
//! clients write into, default 8; `BENCH_ONLY=http` skips the raw and log
//! parts). Needs `nats-server` (Debian).

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::app::{self, Running};
use switchboard::config::{Config, LogBackend};
use switchboard_events::domain::UserUpdated;
use switchboard_events::jetstream::harness::{NatsCluster, NatsServer};
use switchboard_events::jetstream::{JetStreamConfig, JetStreamLog};
use switchboard_events::{
    AppendRequest, Event, EventLog, Fields, Id, LogConfig, Metadata, SegmentLog,
    Value as FieldValue,
};

fn secs() -> Duration {
    let n = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3u64);
    Duration::from_secs(n)
}

fn rustc_running() -> usize {
    std::process::Command::new("pgrep")
        .args(["-c", "rustc"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(0)
}

/// Runs `tasks` closed loops of `op` for the measured time; returns ops/s.
async fn closed_loop<F, Fut>(tasks: usize, op: F) -> f64
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let until = start + secs();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (op, done) = (op.clone(), done.clone());
            tokio::spawn(async move {
                let mut i = 0u64;
                while Instant::now() < until {
                    if op(t, i).await {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 1;
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.await;
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

async fn raw(urls: Vec<String>, replicas: usize) -> f64 {
    // One address per server (a comma-joined string is not a list to the
    // client), as the backend connects.
    let addrs: Vec<async_nats::ServerAddr> = urls
        .iter()
        .map(|u| u.parse().expect("server url"))
        .collect();
    let client = async_nats::connect(addrs).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let name = format!("raw-r{replicas}");
    js.get_or_create_stream(async_nats::jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![format!("{name}.x")],
        num_replicas: replicas,
        ..Default::default()
    })
    .await
    .expect("stream");
    let payload = bytes::Bytes::from(vec![7u8; 300]);
    closed_loop(64, move |_, _| {
        let (js, payload, subject) = (js.clone(), payload.clone(), format!("{name}.x"));
        async move {
            match js.publish(subject, payload).await {
                Ok(ack) => ack.await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await
}

fn update(t: usize, i: u64) -> AppendRequest {
    let mut changes = Fields::new();
    changes.insert("display_name".into(), FieldValue::Int(i as i64));
    let event = Event::UserUpdated(UserUpdated {
        user_id: Id(t as u64 * 1_000_000 + i % 1000),
        changes: changes.into(),
    });
    AppendRequest {
        events: vec![event.to_new_event(Id(1 + t as u64 % 4)).expect("encodes")],
        expected: vec![],
        metadata: Arc::new(Metadata::system("bench")),
    }
}

async fn appends(log: Arc<dyn EventLog>) -> f64 {
    let rate = {
        let log = log.clone();
        closed_loop(64, move |t, i| {
            let log = log.clone();
            async move { log.append(update(t, i)).await.is_ok() }
        })
        .await
    };
    log.close().await;
    rate
}

fn config(
    dir: &std::path::Path,
    backend: LogBackend,
    urls: &[String],
    stream: &str,
    name: &str,
) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.join(name),
        admin_password: Some("admin-Passw0rd".into()),
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        log_backend: backend,
        jetstream_servers: urls.to_vec(),
        jetstream_stream: stream.to_owned(),
        sync_token_secret: Some("bench".into()),
        secrets_key: Some("bench".into()),
        webhook_secret: Some("bench".into()),
        node_name: Some(name.to_owned()),
        snapshot_every_events: 0,
        ..Config::default()
    }
}

async fn post(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = client.post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("request")
}

fn tenants() -> usize {
    std::env::var("BENCH_TENANTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(8)
}

/// What one HTTP configuration did.
struct HttpRun {
    /// Creations answered 201, per second.
    rate: f64,
    /// Answers 409 (none expected: every creation is distinct).
    conflicts: u64,
    /// Answers 503 (commands still losing races after the deadline).
    unavailable: u64,
    /// Races the nodes lost (each one decided again).
    lost: u64,
    /// The most races one command lost.
    most: u64,
    /// 99th percentile and slowest creation.
    p99: Duration,
    max: Duration,
}

impl std::fmt::Display for HttpRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} commands/s | {} | {} | {} (≤ {} per command) | {:.0} ms | {:.0} ms |",
            self.rate,
            self.conflicts,
            self.unavailable,
            self.lost,
            self.most,
            self.p99.as_secs_f64() * 1000.0,
            self.max.as_secs_f64() * 1000.0
        )
    }
}

/// Durable user creations per second over HTTP on `nodes` nodes.
async fn http(backend: LogBackend, urls: &[String], stream: &str, nodes: usize) -> HttpRun {
    let tenant_count = tenants();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut running: Vec<Running> = Vec::new();
    for n in 0..nodes {
        let r = app::start(config(dir.path(), backend, urls, stream, &format!("n{n}")))
            .await
            .expect("node starts");
        r.ready().await;
        running.push(r);
    }
    let client = reqwest::Client::new();
    let bases: Vec<String> = running
        .iter()
        .map(|r| format!("http://{}", r.addr))
        .collect();
    // The tenants, created on node 0; every node signs the admin in once
    // per tenant (a session is switched into one tenant).
    let mut tokens: Vec<Vec<String>> = vec![Vec::new(); nodes];
    let sign_in = |base: String| {
        let client = client.clone();
        async move {
            let r: Value = post(
                &client,
                format!("{base}/api/auth/sign_in"),
                None,
                &json!({"username": "admin", "password": "admin-Passw0rd"}),
            )
            .await
            .json()
            .await
            .expect("json");
            r["access_token"].as_str().expect("token").to_owned()
        }
    };
    let sys = sign_in(bases[0].clone()).await;
    let mut ids = Vec::new();
    for t in 0..tenant_count {
        let body = json!({"name": format!("t{t}"), "domain": format!("t{t}.example"), "timezone": "UTC", "currency": "USD", "region": "USA"});
        let r: Value = post(
            &client,
            format!("{}/api/tenants", bases[0]),
            Some(&sys),
            &body,
        )
        .await
        .json()
        .await
        .expect("json");
        ids.push(r["id"].as_str().expect("id").to_owned());
    }
    let head = running[0].log.head();
    for (n, r) in running.iter().enumerate() {
        r.state.pipeline.wait_applied(head).await.expect("follows");
        for id in &ids {
            let token = sign_in(bases[n].clone()).await;
            let resp = post(
                &client,
                format!("{}/api/tenants/switch?id={id}", bases[n]),
                Some(&token),
                &json!({}),
            )
            .await;
            assert!(resp.status().is_success(), "switch");
            tokens[n].push(token);
        }
    }
    // Every node has applied every sign-in before the load starts.
    let head = running.iter().map(|r| r.log.head()).max().unwrap_or(0);
    for r in &running {
        r.state.pipeline.wait_applied(head).await.expect("follows");
    }
    let conflicts = Arc::new(AtomicU64::new(0));
    let unavailable = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(parking_lot::Mutex::new(Vec::<Duration>::new()));
    let (bases, tokens) = (Arc::new(bases), Arc::new(tokens));
    let rate = {
        let (conflicts, unavailable, latencies) =
            (conflicts.clone(), unavailable.clone(), latencies.clone());
        closed_loop(32, move |c, i| {
            let (client, bases, tokens, conflicts, unavailable, latencies) = (
                client.clone(),
                bases.clone(),
                tokens.clone(),
                conflicts.clone(),
                unavailable.clone(),
                latencies.clone(),
            );
            async move {
                let node = c % bases.len();
                let tenant = c % tenant_count;
                let name = format!("c{c}-{i}");
                let body = json!({
                    "name": name, "display_name": name, "password": "Passw0rd-123",
                    "email": format!("{name}@example.com"), "role": "StandardUser",
                    "extension_number": format!("{}", 100_000 + c as u64 * 10_000 + i),
                    "extension_password": "ext-pass-1", "voicemail_pin": "123456",
                });
                let sent = Instant::now();
                let resp = post(
                    &client,
                    format!("{}/api/users", bases[node]),
                    Some(&tokens[node][tenant]),
                    &body,
                )
                .await;
                latencies.lock().push(sent.elapsed());
                match resp.status() {
                    reqwest::StatusCode::CONFLICT => {
                        conflicts.fetch_add(1, Ordering::Relaxed);
                    }
                    reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                        unavailable.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
                resp.status() == reqwest::StatusCode::CREATED
            }
        })
        .await
    };
    let races: Vec<_> = running.iter().map(|r| r.state.pipeline.races()).collect();
    for r in running {
        let _ = r.stop().await;
    }
    let mut latencies = std::mem::take(&mut *latencies.lock());
    latencies.sort();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
        latencies.get(i).copied().unwrap_or_default()
    };
    HttpRun {
        rate,
        conflicts: conflicts.load(Ordering::Relaxed),
        unavailable: unavailable.load(Ordering::Relaxed),
        lost: races.iter().map(|r| r.lost).sum(),
        most: races.iter().map(|r| r.most).max().unwrap_or(0),
        p99: at(0.99),
        max: at(1.0),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let single = NatsServer::start().expect("nats-server");
    let cluster = NatsCluster::start(3).expect("cluster");
    let one = vec![single.url.clone()];
    let three = cluster.urls();
    println!("rustc processes at start: {}", rustc_running());
    let only_http = std::env::var("BENCH_ONLY").is_ok_and(|v| v == "http");
    runtime.block_on(async {
        if only_http {
            return;
        }
        println!("| measure | configuration | rate |");
        println!("| --- | --- | --- |");
        let r1 = raw(one.clone(), 1).await;
        println!("| raw publish+ack, 64 in flight | R=1 | {r1:.0} msgs/s |");
        let r3 = raw(three.clone(), 3).await;
        println!("| raw publish+ack, 64 in flight | R=3 | {r3:.0} msgs/s |");

        let dir = tempfile::tempdir().expect("tempdir");
        let local: Arc<dyn EventLog> =
            Arc::new(SegmentLog::open(LogConfig::new(dir.path().join("log"))).expect("log"));
        let l = appends(local).await;
        println!("| log appends 64×1 | local (fdatasync) | {l:.0} events/s |");
        for (urls, r, name) in [(&one, 1, "appends-r1"), (&three, 3, "appends-r3")] {
            let mut c = JetStreamConfig::new(urls.clone(), name);
            c.replicas = r;
            let log: Arc<dyn EventLog> = Arc::new(JetStreamLog::open(c).await.expect("open"));
            let rate = appends(log).await;
            println!("| log appends 64×1 | JetStream R={r} | {rate:.0} events/s |");
        }
    });
    runtime.block_on(async {
        println!();
        println!(
            "| HTTP user creations, 32 clients, {} tenant(s) | rate | 409 | 503 | races lost | p99 | slowest |",
            tenants()
        );
        println!("| --- | --- | --- | --- | --- | --- | --- |");
        let h = http(LogBackend::Local, &[], "unused", 1).await;
        println!("| local, 1 node | {h}");
        for (urls, r) in [(&one, 1), (&three, 3)] {
            for nodes in [1, 3] {
                let stream = format!("http-r{r}-n{nodes}");
                let mut c = JetStreamConfig::new(urls.clone(), stream.clone());
                c.replicas = r;
                // Create the stream with its replica count before the nodes.
                JetStreamLog::open(c).await.expect("stream").close().await;
                let h = http(LogBackend::Jetstream, urls, &stream, nodes).await;
                println!("| JetStream R={r}, {nodes} node(s) | {h}");
            }
        }
    });
    println!("rustc processes at end: {}", rustc_running());
}
