//! The read side under load: list pages, the extension directory, an update
//! while lists run, the audit log and history, and `as_of`, against one
//! tenant of N users, with `/healthz` measured in the same run as the
//! baseline (figures in BENCHMARKS.md, "Read side at scale").
//!
//! Setup writes the tenant straight into a fresh log (as `replay.rs` does):
//! a tenant, its Admin, and N users with typical PortSIP fields, each with
//! an extension made its primary line (4 events per user); before it, a
//! small second tenant (100 users), whose cold `as_of` is probed too. The service is
//! then started in-process on that data directory (`durability = os`) and
//! driven over HTTP by `wrk` (Debian's `wrk`, 2 threads, 32 connections):
//! requests/s and latency percentiles per route, and their ratio to
//! `/healthz`. Sequential probes (one client) time the update-while-listing
//! case, a softphone's cold load of the directory by pages of 100, `as_of`
//! mid-log (first read, then the same offset again), a restart without the
//! projection snapshot while the audit index covers the log (start-up
//! must not describe it again), and — after a restart that keeps the
//! shutdown snapshot and one retention interval of appended updates — a
//! cold `as_of` of the event before the head, split into the server's own
//! account of the build (decoding the kept snapshot it starts from,
//! replaying the gap: `Queries::last_as_of_cost`), the page alone, and the
//! rest (HTTP, authorization, rendering).
//!
//! ```sh
//! CARGO_TARGET_DIR=/tmp/bench-read cargo bench --bench read_load
//! BENCH_USERS=1000,10000 BENCH_SECS=5 ...      # sizes, seconds per wrk run
//! BENCH_ONLY=extension_contacts,audit BENCH_PROBES=0 # some routes, no probes (to profile)
//! BENCH_EXTRA_EVENTS=9600000                  # that many user updates after the users (a 10M-event log at 100k users)
//! BENCH_DECODE_REPEAT=10                      # decode the kept snapshot that often at the end (best of; to profile)
//! ```

/// The binary's allocator, so the figures are the binary's (with glibc's
/// malloc, allocation was ~18% of a list page's profile).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::app;
use switchboard::auth::password::SecretHasher;
use switchboard::config::Config;
use switchboard_events::domain::*;
use switchboard_events::{
    AppendRequest, Durability, Event, EventLog, Fields, Id, LogConfig, Metadata, SegmentLog, Value,
};

const TENANT: Id = Id(9_000_000);
const ADMIN: Id = Id(9_000_001);
const DOMAIN: &str = "bench.example.com";
/// A second, small tenant (`SMALL_USERS` users and its Admin), written
/// before the large one: a past read of it decodes its own section of a
/// kept snapshot only.
const SMALL: Id = Id(8_000_000);
const SMALL_ADMIN: Id = Id(8_000_001);
const SMALL_DOMAIN: &str = "small.example.com";
const SMALL_USERS: u64 = 100;
const PASSWORD: &str = "bench-password-1";
/// Users are `Id(FIRST_USER + i)`, their extensions `Id(FIRST_EXT + i)`.
const FIRST_USER: u64 = 10_000_000;
const FIRST_EXT: u64 = 20_000_000;
const DEPARTMENTS: &[&str] = &[
    "Ops",
    "Sales",
    "Support",
    "R&D",
    "Finance",
    "Legal",
    "HR",
    "Marketing",
    "IT",
    "Logistics",
];

fn env_list(name: &str, default: &str) -> Vec<u64> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .map(|s| s.trim().replace('_', "").parse().expect("whole numbers"))
        .collect()
}

fn user_attrs(i: u64) -> Fields {
    let mut f = Fields::new();
    let s = |v: String| Value::Str(v);
    f.insert("email".into(), s(format!("user{i}@bench.example.com")));
    f.insert("display_name".into(), s(format!("User {i:06}")));
    f.insert("mobile_phone".into(), s(format!("+4915{i:08}")));
    f.insert("work_phone".into(), s(format!("+4930{i:08}")));
    f.insert(
        "department".into(),
        s(DEPARTMENTS[(i % DEPARTMENTS.len() as u64) as usize].into()),
    );
    f.insert("address".into(), s(format!("{} Bench Street", i % 500)));
    f.insert("enable_dnd".into(), Value::Bool(i.is_multiple_of(7)));
    f
}

/// Writes the tenant, its Admin and `n` users into a fresh log, then
/// `extra` user updates.
async fn build_log(path: &std::path::Path, n: u64, extra: u64, admin_hash: &str) {
    let mut config = LogConfig::new(path);
    config.durability = Durability::Os;
    let log = SegmentLog::open(config).expect("open the log");
    let meta = Arc::new(Metadata::system("bench"));
    let mut small = vec![
        Event::TenantCreated(TenantCreated {
            tenant_id: SMALL,
            name: "Small".into(),
            domain: SMALL_DOMAIN.into(),
            attrs: Fields::new(),
        }),
        Event::UserCreated(UserCreated {
            user_id: SMALL_ADMIN,
            name: "admin".into(),
            role: "Admin".into(),
            password_hash: admin_hash.into(),
            attrs: user_attrs(0),
        }),
    ];
    for i in 1..=SMALL_USERS {
        small.push(Event::UserCreated(UserCreated {
            user_id: Id(SMALL.0 + 10 + i),
            name: format!("small{i}"),
            role: "StandardUser".into(),
            password_hash: admin_hash.into(),
            attrs: user_attrs(i),
        }));
    }
    log.append(AppendRequest {
        events: small
            .into_iter()
            .map(|e| e.to_new_event(SMALL).expect("encodes"))
            .collect(),
        expected: Vec::new(),
        metadata: meta.clone(),
    })
    .await
    .expect("append");
    let mut events = vec![
        Event::TenantCreated(TenantCreated {
            tenant_id: TENANT,
            name: "Bench".into(),
            domain: DOMAIN.into(),
            attrs: Fields::new(),
        }),
        Event::UserCreated(UserCreated {
            user_id: ADMIN,
            name: "admin".into(),
            role: "Admin".into(),
            password_hash: admin_hash.into(),
            attrs: user_attrs(0),
        }),
    ];
    let flush = |events: &mut Vec<Event>| {
        let batch: Vec<_> = events
            .drain(..)
            .map(|e| e.to_new_event(TENANT).expect("encodes"))
            .collect();
        let log = &log;
        let meta = meta.clone();
        async move {
            log.append(AppendRequest {
                events: batch,
                expected: Vec::new(),
                metadata: meta,
            })
            .await
            .expect("append");
        }
    };
    for i in 1..=n {
        let (user_id, extension_id) = (Id(FIRST_USER + i), Id(FIRST_EXT + i));
        events.push(Event::UserCreated(UserCreated {
            user_id,
            name: format!("user{i}"),
            role: "StandardUser".into(),
            password_hash: admin_hash.into(),
            attrs: user_attrs(i),
        }));
        events.push(Event::ExtensionCreated(ExtensionCreated {
            extension_id,
            number: format!("{}", 100_000 + i),
            name: String::new(),
            ext_type: ExtensionType::Sip,
            enabled: true,
        }));
        events.push(Event::UserLinkedToExtension(UserLinkedToExtension {
            link_id: Id(30_000_000 + i),
            user_id,
            extension_id,
        }));
        events.push(Event::PrimaryExtensionChanged(PrimaryExtensionChanged {
            user_id,
            extension_id: Some(extension_id),
        }));
        if events.len() >= 4000 {
            flush(&mut events).await;
        }
    }
    // Then `extra` updates (a display name each), round robin over the
    // users: a long log behind the same directory, for the audit log, the
    // history and `as_of` (BENCH_EXTRA_EVENTS).
    for j in 0..extra {
        events.push(update(n, j));
        if events.len() >= 4000 {
            flush(&mut events).await;
        }
    }
    if !events.is_empty() {
        flush(&mut events).await;
    }
    log.close().await;
}

/// The `j`th user update (a display name), round robin over `n` users.
fn update(n: u64, j: u64) -> Event {
    let i = 1 + j % n;
    let mut changes = Fields::new();
    changes.insert(
        "display_name".into(),
        Value::Str(format!("User {i:06} r{j}")),
    );
    Event::UserUpdated(UserUpdated {
        user_id: Id(FIRST_USER + i),
        changes: changes.into(),
    })
}

/// Appends `count` user updates to the log at `path` (the service stopped).
async fn append_updates(path: &std::path::Path, n: u64, from: u64, count: u64) {
    let mut config = LogConfig::new(path);
    config.durability = Durability::Os;
    let log = SegmentLog::open(config).expect("open the log");
    let meta = Arc::new(Metadata::system("bench"));
    let mut j = from;
    while j < from + count {
        let upto = (j + 4000).min(from + count);
        let batch: Vec<_> = (j..upto)
            .map(|j| update(n, j).to_new_event(TENANT).expect("encodes"))
            .collect();
        log.append(AppendRequest {
            events: batch,
            expected: Vec::new(),
            metadata: meta.clone(),
        })
        .await
        .expect("append");
        j = upto;
    }
    log.close().await;
}

/// Resolves once the audit index covers what readers see (the audit log
/// answers 503 while it catches up).
async fn audit_index_ready(client: &reqwest::Client, base: &str, token: &str) {
    loop {
        let r = client
            .get(format!("{base}/api/audit_logs?top=1"))
            .bearer_auth(token)
            .send()
            .await
            .expect("audit");
        if r.status().is_success() {
            return;
        }
    }
}

/// One read of the user list as of `offset`, then the best of two more
/// (the same offset again), in ms.
async fn as_of_first_and_again(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    offset: u64,
) -> (f64, f64) {
    let mut times = Vec::new();
    for _ in 0..3 {
        let s = Instant::now();
        let r = client
            .get(format!("{base}/api/users?top=10&as_of={offset}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("as_of");
        assert!(r.status().is_success(), "as_of: {}", r.status());
        times.push(s.elapsed().as_secs_f64() * 1e3);
    }
    (times[0], times[1].min(times[2]))
}

/// Signs the Admin in: its bearer token.
async fn sign_in(client: &reqwest::Client, base: &str) -> String {
    sign_in_to(client, base, DOMAIN).await
}

/// Signs the Admin of the tenant of `domain` in: its bearer token.
async fn sign_in_to(client: &reqwest::Client, base: &str, domain: &str) -> String {
    let v: serde_json::Value = client
        .post(format!("{base}/api/auth/sign_in"))
        .json(&serde_json::json!({"username": "admin", "password": PASSWORD, "domain": domain}))
        .send()
        .await
        .expect("sign in")
        .json()
        .await
        .expect("json");
    v["access_token"].as_str().expect("a token").to_owned()
}

/// One wrk run: requests/s, and latency p50/p99 in ms.
struct Wrk {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Bytes read per response (wrk's Transfer/sec ÷ requests/s).
    bytes: f64,
}

fn parse_ms(s: &str) -> f64 {
    let s = s.trim();
    let (num, factor) = if let Some(v) = s.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else {
        (s, 1.0)
    };
    num.parse::<f64>().unwrap_or(f64::NAN) * factor
}

fn wrk(url: &str, token: &str, secs: u64) -> Wrk {
    let out = Command::new("wrk")
        .args(["-t2", "-c32", &format!("-d{secs}s"), "--latency"])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(url)
        .output()
        .expect("wrk runs (apt-get install -y wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut w = Wrk {
        rps: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        bytes: f64::NAN,
    };
    let mut transfer = f64::NAN;
    for line in text.lines() {
        let l = line.trim();
        if let Some(v) = l.strip_prefix("Requests/sec:") {
            w.rps = v.trim().parse().unwrap_or(f64::NAN);
        } else if let Some(v) = l.strip_prefix("50%") {
            w.p50_ms = parse_ms(v);
        } else if let Some(v) = l.strip_prefix("99%") {
            w.p99_ms = parse_ms(v);
        } else if let Some(v) = l.strip_prefix("Transfer/sec:") {
            transfer = parse_bytes(v);
        } else if l.starts_with("Non-2xx") {
            eprintln!("wrk {url}: {l}");
        }
    }
    w.bytes = transfer / w.rps;
    w
}

/// wrk's `5.12MB` (binary units).
fn parse_bytes(s: &str) -> f64 {
    let s = s.trim();
    let units = [
        ("GB", 1u64 << 30),
        ("MB", 1 << 20),
        ("KB", 1 << 10),
        ("B", 1),
    ];
    for (suffix, factor) in units {
        if let Some(v) = s.strip_suffix(suffix) {
            return v.trim().parse::<f64>().unwrap_or(f64::NAN) * factor as f64;
        }
    }
    f64::NAN
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rustc_running() -> usize {
    Command::new("pgrep")
        .args(["-c", "rustc"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let sizes = env_list("BENCH_USERS", "1000,10000,100000");
    let secs = env_list("BENCH_SECS", "5")[0];
    let extra = env_list("BENCH_EXTRA_EVENTS", "0")[0];
    // The service's runtime, as the binary builds it.
    let runtime = app::runtime().expect("runtime");
    let hasher = SecretHasher::new(1024, 1).expect("argon2 parameters");
    let admin_hash = hasher.hash(PASSWORD).expect("hash");
    println!(
        "read_load: wrk -t2 -c32 -d{secs}s; rustc processes at start: {}",
        rustc_running()
    );
    println!();
    println!("| users | request | req/s | p50 ms | p99 ms | req/s ÷ /healthz | bytes/response |");
    println!("|---:|---|---:|---:|---:|---:|---:|");
    let mut probes = Vec::new();
    for &n in &sizes {
        let dir = tempfile::tempdir().expect("temporary data dir");
        let started = Instant::now();
        runtime.block_on(build_log(dir.path(), n, extra, &admin_hash));
        let written = started.elapsed();
        let retain_every = Config::default().snapshot_retain_every_events;
        let config = Config {
            listen: "127.0.0.1:0".parse().expect("address"),
            data_dir: dir.path().to_path_buf(),
            durability: Durability::Os,
            admin_password: Some(PASSWORD.into()),
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            log_level: "warn".into(),
            // Snapshots and retention as the service's defaults: the
            // shutdown snapshot is kept for the `as_of` probe below.
            ..Config::default()
        };
        let started = Instant::now();
        let running = runtime.block_on(async {
            let r = app::start(config.clone()).await.expect("start");
            r.ready().await;
            r
        });
        let loaded = started.elapsed();
        let base = format!("http://{}", running.addr);
        let client = reqwest::Client::new();
        let token = runtime.block_on(sign_in(&client, &base));
        // The audit index is built in the background from a log written
        // without the service: wait until it answers (503 while it catches up).
        let audit_ready = runtime.block_on(async {
            audit_index_ready(&client, &base, &token).await;
            started.elapsed()
        });
        let some_user = switchboard::ids::render(Id(FIRST_USER + n / 2));
        let routes: Vec<(&str, String)> = vec![
            ("GET /healthz", format!("{base}/healthz")),
            (
                "GET /api/users?filter=department eq 'Ops'&orderby=name&top=100",
                format!("{base}/api/users?filter=department%20eq%20%27Ops%27&orderby=name&top=100"),
            ),
            ("GET /api/users?top=1", format!("{base}/api/users?top=1")),
            (
                "GET /api/user/extension_contacts?top=100",
                format!("{base}/api/user/extension_contacts?top=100"),
            ),
            (
                "GET /api/audit_logs?top=100",
                format!("{base}/api/audit_logs?top=100"),
            ),
            (
                "GET /api/users/{id}/history",
                format!("{base}/api/users/{some_user}/history"),
            ),
        ];
        let only = std::env::var("BENCH_ONLY").unwrap_or_default();
        let mut healthz = f64::NAN;
        for (name, url) in &routes {
            let chosen = only.split(',').any(|o| name.contains(o.trim()));
            if !chosen && !name.ends_with("healthz") {
                continue;
            }
            eprintln!("# pid {} runs {name}", std::process::id());
            let w = wrk(url, &token, secs);
            if name.ends_with("healthz") {
                healthz = w.rps;
            }
            println!(
                "| {n} | `{name}` | {:.0} | {:.2} | {:.2} | {:.2} | {:.0} |",
                w.rps,
                w.p50_ms,
                w.p99_ms,
                w.rps / healthz,
                w.bytes
            );
        }

        if env_list("BENCH_PROBES", "1")[0] == 0 {
            runtime.block_on(async {
                running.stop().await.expect("stop");
            });
            continue;
        }
        // One client: updates while 32 connections list users.
        let list_url = routes[1].1.clone();
        let lister_token = token.clone();
        let lister = std::thread::spawn(move || wrk(&list_url, &lister_token, secs));
        std::thread::sleep(Duration::from_millis(300));
        let updates: Vec<f64> = runtime.block_on(async {
            let mut times = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(secs.saturating_sub(1).max(1));
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let id = switchboard::ids::render(Id(FIRST_USER + 1 + (i % n)));
                let t = Instant::now();
                let r = client
                    .post(format!("{base}/api/users/{id}"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"display_name": format!("Renamed {i}")}))
                    .send()
                    .await
                    .expect("update");
                assert!(r.status().is_success(), "update: {}", r.status());
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            times.sort_by(f64::total_cmp);
            times
        });
        let listing = lister.join().expect("lister");

        // A softphone's cold load of the directory, pages of 100 (at most 10k entries).
        let pages = n.min(10_000).div_ceil(100);
        let cold = runtime.block_on(async {
            let t = Instant::now();
            for p in 0..pages {
                let r = client
                    .get(format!(
                        "{base}/api/user/extension_contacts?top=100&skip={}",
                        p * 100
                    ))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("page");
                assert!(r.status().is_success());
                let _ = r.bytes().await;
            }
            t.elapsed()
        });

        // as_of: the state as of the middle of the log: the first read
        // (cold) and the best of two more (the same offset again, as an
        // admin paging a past list asks for it).
        let head = running.state.queries.applied();
        // First the worst place: the event before the next retention
        // multiple after mid-log, a whole interval after the copy the
        // start-up replay kept below it (cold: nothing kept in memory there).
        let worst = ((head / 2) / retain_every + 1) * retain_every - 1;
        let worst = (worst < head).then(|| {
            let (first, _) = runtime.block_on(as_of_first_and_again(&client, &base, &token, worst));
            (first, running.state.queries.last_as_of_cost())
        });
        let mid = runtime.block_on(as_of_first_and_again(&client, &base, &token, head / 2));
        runtime.block_on(async {
            running.stop().await.expect("stop");
        });

        // A restart without the projection snapshot while the audit index
        // covers the whole log: the replay must not describe it again.
        let _ = std::fs::remove_file(switchboard::snapshots::path_in(dir.path()));
        let restart = runtime.block_on(async {
            let started = Instant::now();
            let r = app::start(config.clone()).await.expect("restart");
            r.ready().await;
            let ready = started.elapsed();
            r.stop().await.expect("stop");
            ready
        });

        // `as_of` as the service keeps snapshots: append one retention
        // interval less one event of updates, start again, and read as of
        // the event before the head (not the head itself, which the
        // service keeps in memory): cold, from the nearest kept snapshot.
        let tail = retain_every.saturating_sub(1);
        runtime.block_on(append_updates(dir.path(), n, extra, tail));
        let retained_as_of = runtime.block_on(async {
            let r = app::start(config.clone()).await.expect("start again");
            r.ready().await;
            let base = format!("http://{}", r.addr);
            let target = r.state.queries.applied() - 1;
            let token = sign_in(&client, &base).await;
            // The appended events' audit descriptions are stored in the
            // background: wait for them, so the read runs alone.
            audit_index_ready(&client, &base, &token).await;
            let (first, again) = as_of_first_and_again(&client, &base, &token, target).await;
            // What the server's build of that past state cost (base,
            // decode, replay), and its page alone: the state is kept, so
            // asking again returns it at once and only the page is timed.
            let cost = r.state.queries.last_as_of_cost();
            let page_ms = match r
                .state
                .queries
                .as_of_in(
                    switchboard_projections::rebuild::Until::Offset(target),
                    Some(TENANT),
                )
                .await
            {
                Ok(model) => {
                    let raw = switchboard_projections::query::RawListParams {
                        top: Some("10".into()),
                        ..Default::default()
                    };
                    let query = switchboard_projections::query::ListQuery::parse(
                        &raw,
                        &switchboard::queries::users::USER_LIST,
                    )
                    .expect("a query");
                    let t = Instant::now();
                    let page = switchboard::queries::users::user_page(&model, TENANT, &query);
                    assert_eq!(page.ids.len(), 10);
                    t.elapsed().as_secs_f64() * 1e3
                }
                Err(_) => f64::NAN,
            };
            // The small tenant as of the same offset, cold too: its own
            // section of the same kept snapshot, the gap's other events
            // passed over.
            let small_token = sign_in_to(&client, &base, SMALL_DOMAIN).await;
            let (small_first, _) =
                as_of_first_and_again(&client, &base, &small_token, target).await;
            let small = (small_first, r.state.queries.last_as_of_cost());
            r.stop().await.expect("stop");
            (target, first, again, cost, page_ms, small)
        });
        let (target, first, again, cost, page_ms, small) = retained_as_of;
        let kept = switchboard::snapshots::retained(dir.path());
        let from = cost.map_or(0, |c| c.base_offset);
        let snapshot_bytes = std::fs::metadata(
            switchboard::snapshots::retained_dir(dir.path()).join(format!("{from:020}.snapshot")),
        )
        .map_or(0, |m| m.len());
        // The same snapshot decoded again in this process (warm: the file
        // cached, the allocator's memory reused), best of
        // BENCH_DECODE_REPEAT (for a profile: `perf record -p` meanwhile).
        let repeat = env_list("BENCH_DECODE_REPEAT", "1")[0];
        let decode_again_ms = runtime.block_on(async {
            let log = SegmentLog::open(LogConfig::new(dir.path())).expect("open the log");
            eprintln!(
                "# pid {} decodes the snapshot at {from} {repeat} times",
                std::process::id()
            );
            let mut best = f64::INFINITY;
            for _ in 0..repeat {
                let t = Instant::now();
                let decoded = switchboard::snapshots::load_retained(dir.path(), from, &log);
                best = best.min(t.elapsed().as_secs_f64() * 1e3);
                assert!(decoded.is_ok(), "the kept snapshot decodes");
            }
            log.close().await;
            best
        });
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let (base, decode_ms, replay_ms, build_ms) = match cost {
            Some(c) => (
                format!("{:?}", c.base),
                ms(c.decode),
                ms(c.replay),
                ms(c.total),
            ),
            None => ("none".into(), f64::NAN, f64::NAN, f64::NAN),
        };
        let gap = target - from;
        probes.push(format!(
            "| {n} | {:.1} s / {:.1} s / {:.1} s | {:.1} s | {} (p50 {:.2} ms, p99 {:.2} ms) while listing at {:.0} req/s | {pages} pages in {:.0} ms | {:.0} ms, again {:.0} ms (offset {} of {head}) | {} | {:.0} ms, again {:.0} ms (offset {target}: {gap} events after the {base} base at {from}, {:.1} MB; decode {:.0} ms (the whole snapshot again in-process {:.0} ms), replay {:.0} ms = {:.1} µs/event, whole build {:.0} ms, the page {:.0} ms, the rest {:.0} ms) | {:.0} ms (decode {:.0} ms, replay {:.0} ms) | {} kept |",
            written.as_secs_f64(),
            loaded.as_secs_f64(),
            audit_ready.as_secs_f64(),
            restart.as_secs_f64(),
            updates.len(),
            percentile(&updates, 0.5),
            percentile(&updates, 0.99),
            listing.rps,
            cold.as_secs_f64() * 1e3,
            mid.0,
            mid.1,
            head / 2,
            match worst {
                Some((first, Some(c))) => format!(
                    "{first:.0} ms (offset {}: {} events after the {:?} base at {}; decode {:.0} ms, replay {:.0} ms)",
                    c.target,
                    c.target - c.base_offset,
                    c.base,
                    c.base_offset,
                    ms(c.decode),
                    ms(c.replay)
                ),
                _ => "—".into(),
            },
            first,
            again,
            snapshot_bytes as f64 / 1e6,
            decode_ms,
            decode_again_ms,
            replay_ms,
            replay_ms * 1e3 / gap.max(1) as f64,
            build_ms,
            page_ms,
            first - build_ms - page_ms,
            small.0,
            small.1.map_or(f64::NAN, |c| ms(c.decode)),
            small.1.map_or(f64::NAN, |c| ms(c.replay)),
            kept.len(),
        ));
    }
    println!();
    println!("| users | log written / service ready / audit index ready | restart without projection snapshot (audit index complete) | updates while 32 connections list (one client) | cold directory load | `as_of` mid-log: first, again | `as_of` a retention interval after a kept copy (mid-log, cold) | `as_of` the event before the head after a restart (cold) | the same for a tenant of {SMALL_USERS} users (cold) | retained snapshots |");
    println!("|---:|---|---|---|---|---|---|---|---|---|");
    for p in probes {
        println!("{p}");
    }
    println!();
    println!("rustc processes at end: {}", rustc_running());
}
