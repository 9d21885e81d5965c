//! Replay throughput: how fast a restart rebuilds the directory from the log.
//!
//! Setup writes N events (default 1,000,000; `BENCH_EVENTS` changes it) with
//! `durability = os` and 1000-event appends from several concurrent
//! appenders: a few tenants, users with ~10 attributes, one extension and one
//! link per user, then mostly `UserUpdated` changes. The log is closed and
//! reopened (fsync mode, as the service opens it), then each stage is timed
//! over the whole log:
//!
//! - 0a. the segments read sequentially with a cursor, every frame parsed and
//!   every record's CRC checked, nothing copied (the floor of any replay);
//! - 0b. + each record decoded as a borrowed view (`RecordView`, no allocation);
//! - 0c. + its payload decoded into an `Event` (what apply needs besides the view);
//! - 1: `read_all` (owned envelopes; far behind the head it reads ahead on a
//!   second thread and hands over batches through a bounded channel);
//! - 2: + `Event::from_envelope`;
//! - 2b: `read_events` instead: the read-ahead thread also decodes the
//!   events and hands over batches of borrowed envelopes (what replay reads);
//! - 3: full `Projector::replay` into `Directory` (the headline figure): the
//!   caller's thread applies while the read-ahead thread reads, checks and
//!   decodes.
//!
//! It also reports the bytes on disk (segments, index) against the bytes of
//! the records.
//!
//! Every stage runs `BENCH_REPEAT` times (default 2) after one untimed
//! warm-up scan. The best run is reported (on a shared, noisy machine it is
//! the estimate least polluted by other work), with the worst beside it.
//!
//! Run: `cargo bench --bench replay` (`BENCH_STAGES=2b,3` runs only those
//! stages, `BENCH_STAGES=0` none). `BENCH_CACHE_MB` sets sled's page
//! cache for the reopened log's index (default: `LogConfig::new`'s, as the
//! service). `BENCH_USERS` sets the number of users (default: one per 50
//! events; the cost of applying an event grows with the users, not with
//! the events, so a 2M-event log with 200k users profiles what a 10M one
//! does). `BENCH_REPLAY_THREADS` sets `Directory::replay_threads` (default
//! 0: one thread per core, as the service; 1: sequential).

/// The binary's allocator, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// And its options (transparent huge pages), as the binary's.
#[path = "../src/jemalloc_conf.rs"]
mod jemalloc_conf;

#[path = "support/proc_stat.rs"]
mod proc_stat;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::any::Any;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_events::codec::RecordView;
use switchboard_events::domain::{
    ExtensionCreated, ExtensionType, PrimaryExtensionChanged, TenantCreated, UserCreated,
    UserLinkedToExtension, UserUpdated,
};
use switchboard_events::segment::{Cursor, Handles, Next, SegPos, SEGMENT_HEADER_LEN};
use switchboard_events::{
    AppendRequest, Durability, Event, EventLog, Fields, Id, LogConfig, Metadata, NewEvent,
    SegmentLog, Value, SYSTEM_TENANT,
};
use switchboard_projections::{Directory, Projector};

/// Tenants in the generated directory.
const TENANTS: u64 = 8;
/// Events per append while building the log.
const APPEND_BATCH: usize = 1000;
/// Concurrent appenders while building the log.
const APPENDERS: usize = 4;
/// One user (with its extension and link: 4 creation events) per this many events.
const EVENTS_PER_USER: u64 = 50;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|s| s.replace('_', "").parse().expect("expected a whole number"))
        .unwrap_or(default)
}

/// An empty directory replayed with `BENCH_REPLAY_THREADS` threads.
fn directory() -> Directory {
    let mut dir = Directory::default();
    dir.replay_threads = env_number("BENCH_REPLAY_THREADS", 0) as usize;
    dir
}

/// Peak resident memory of the process so far (`VmHWM`), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let total = env_number("BENCH_EVENTS", 1_000_000);
    let repeat = env_number("BENCH_REPEAT", 2).max(1) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary directory for the log");
    // BENCH_LOG_DIR keeps the generated log (and reuses one generated there
    // before with the same BENCH_EVENTS), so that two builds are measured on
    // the same log without paying the setup twice. Delete it after use.
    let kept = std::env::var_os("BENCH_LOG_DIR").map(std::path::PathBuf::from);
    let path = kept.clone().unwrap_or_else(|| dir.path().join("log"));

    // --- setup -----------------------------------------------------------
    let plan = Plan::new(total);
    if kept.is_some() && path.join("log").exists() {
        let log = SegmentLog::open(LogConfig::new(&path)).expect("open the kept log");
        let head = log.head();
        runtime.block_on(log.close());
        assert_eq!(
            head, total,
            "the log in BENCH_LOG_DIR holds {head} events, not BENCH_EVENTS"
        );
        println!("replay: reusing the {head} events in {}", path.display());
    } else {
        run_setup(&runtime, &path, &plan);
    }
    let written = total;
    // --- reopen as the service does ------------------------------------
    let mut config = LogConfig::new(&path);
    if let Ok(mb) = std::env::var("BENCH_CACHE_MB") {
        let mb: u64 = mb.parse().expect("BENCH_CACHE_MB must be a number of MiB");
        config.cache_bytes = mb * 1024 * 1024;
    }
    let cache_mb = config.cache_bytes / (1024 * 1024);
    let started = Instant::now();
    let log = SegmentLog::open(config).expect("reopen the event log");
    let reopen = started.elapsed();
    assert_eq!(log.head(), written, "the reopened log has every event");
    let record_bytes: u64 = log
        .raw_records(1)
        .map(|r| r.expect("raw record").1.len() as u64)
        .sum();
    log.wait_indexed();
    let segments_dir = path.join("log/segments");
    let segment_bytes = dir_bytes(&segments_dir);
    let index_bytes = dir_bytes(&path.join("log/index"));
    println!(
        "reopened in {:.0} ms (index cache {cache_mb} MiB); mean record {} bytes; repeats per stage: {repeat}",
        reopen.as_secs_f64() * 1e3,
        record_bytes / written.max(1)
    );
    println!(
        "bytes: records {:.1} MB; on disk {:.1} MB = segments {:.1} MB + index {:.1} MB; \
         on disk / records = {:.3} (segments alone {:.3})",
        record_bytes as f64 / 1e6,
        (segment_bytes + index_bytes) as f64 / 1e6,
        segment_bytes as f64 / 1e6,
        index_bytes as f64 / 1e6,
        (segment_bytes + index_bytes) as f64 / record_bytes as f64,
        segment_bytes as f64 / record_bytes as f64
    );
    println!();

    // --- stages ----------------------------------------------------------
    let stages: Vec<(&str, Stage<'_>)> = vec![
        (
            "0a. segments read + frames parsed + record CRC (cursor, no copy)",
            Box::new(|| scan(&segments_dir, |_| {})),
        ),
        (
            "0b. + borrowed record views (`RecordView::parse`)",
            Box::new(|| {
                scan(&segments_dir, |rec| {
                    std::hint::black_box(RecordView::parse(rec).expect("view"));
                })
            }),
        ),
        (
            "0c. + payload decoded into an `Event`",
            Box::new(|| {
                scan(&segments_dir, |rec| {
                    let v = RecordView::parse(rec).expect("view");
                    let e = Event::decode(v.event_type, v.schema_version, v.payload)
                        .expect("payload decodes");
                    std::hint::black_box(&e);
                })
            }),
        ),
        (
            "1. `read_all`: read-ahead thread reads, checks, builds envelopes",
            Box::new(|| {
                let mut n = 0u64;
                for env in log.read_all(1) {
                    let env = env.expect("envelope");
                    std::hint::black_box(&env);
                    n += 1;
                }
                (n, Box::new(()))
            }),
        ),
        (
            "2. `read_all` + `Event::from_envelope`",
            Box::new(|| {
                let mut n = 0u64;
                for env in log.read_all(1) {
                    let env = env.expect("envelope");
                    let event = Event::from_envelope(&env).expect("payload decodes");
                    std::hint::black_box(&event);
                    n += 1;
                }
                (n, Box::new(()))
            }),
        ),
        (
            "2b. `read_events`: read-ahead thread also decodes events (batches, borrowed envelopes)",
            Box::new(|| {
                let mut n = 0u64;
                for batch in log.read_events(1) {
                    let batch = batch.expect("batch");
                    for (env, event) in batch.iter() {
                        std::hint::black_box((&env, event));
                        n += 1;
                    }
                }
                (n, Box::new(()))
            }),
        ),
        (
            "3. full replay: `Projector::replay` into `Directory`",
            Box::new(|| {
                let projector = Projector::new(directory(), 0);
                let n = projector.replay(&log).expect("replay");
                let users: usize = projector
                    .read()
                    .scopes
                    .values()
                    .map(|s| s.users.len())
                    .sum();
                assert_eq!(users as u64, plan.users, "replay rebuilt every user");
                // Handed back so that dropping the directory is not timed.
                (n, Box::new(projector))
            }),
        ),
    ];

    // One untimed scan warms the page cache for every stage alike.
    let _ = log.raw_records(1).count();
    // BENCH_STAGES=0 skips the stage table (for 10M-event start-up runs);
    // BENCH_STAGES=2b,3 runs only the stages whose names start so.
    let mut stages = stages;
    match std::env::var("BENCH_STAGES").ok().as_deref() {
        None | Some("all") => {}
        Some("0") => stages.clear(),
        Some(list) => {
            let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
            stages.retain(|(name, _)| wanted.iter().any(|w| name.starts_with(&format!("{w}."))));
        }
    }

    let mut rows = Vec::new();
    for (name, stage) in &stages {
        let mut times = Vec::with_capacity(repeat);
        for _ in 0..repeat {
            let t = Instant::now();
            let cpu = (thread_cpu(), process_cpu());
            let (n, keep) = stage();
            times.push((t.elapsed(), thread_cpu() - cpu.0, process_cpu() - cpu.1));
            drop(keep);
            assert_eq!(n, written, "{name}: saw every event");
        }
        times.sort_unstable();
        let (best, worst) = (times[0], times[times.len() - 1].0);
        eprintln!(
            "  done: {name}: {:.0} events/s",
            written as f64 / best.0.as_secs_f64()
        );
        rows.push((name.to_string(), best, worst));
    }
    runtime.block_on(log.close());
    drop(stages);
    drop(log);
    if env_number("BENCH_SNAPSHOT", 1) != 0 {
        startup_with_and_without_snapshot(&runtime, &path, written, plan.users);
    }
    if rows.is_empty() {
        println!(
            "Replay threads: {}; peak resident memory of the process: {:.0} MB.",
            directory().threads_for_replay(),
            peak_rss_mb()
        );
        return;
    }

    println!("### Replay of {written} events");
    println!();
    println!("| stage | events/s (best) | time (best) | time (worst) | ns/event (best) | added by this stage | CPU ns/event: calling thread / process (best run) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let per_event = |d: Duration| d.as_secs_f64() * 1e9 / written.max(1) as f64;
    let mut previous: Option<f64> = None;
    for (name, (best, thread, process), worst) in &rows {
        let ns = per_event(*best);
        let added = match (name.starts_with("0a"), previous) {
            (false, Some(p)) => format!("{:+.0} ns", ns - p),
            _ => "–".to_owned(),
        };
        println!(
            "| {name} | {:.0} | {:.2} s | {:.2} s | {ns:.0} | {added} | {:.0} / {:.0} |",
            written as f64 / best.as_secs_f64(),
            best.as_secs_f64(),
            worst.as_secs_f64(),
            per_event(*thread),
            per_event(*process)
        );
        previous = Some(ns);
    }
    println!();
    println!("Stages are cumulative (2b, what replay reads, stands beside 1 and 2); \"added\" is this row's ns/event minus the previous row's.");
    println!("CPU: time the calling (applying) thread and the whole process ran, per event, from /proc (10 ms ticks): unlike the wall clock, it barely moves when other work shares the cores.");
    println!(
        "Replay threads: {} (BENCH_REPLAY_THREADS); peak resident memory of the process: {:.0} MB.",
        directory().threads_for_replay(),
        peak_rss_mb()
    );
}

/// CPU time (user + system) of the calling thread so far.
fn thread_cpu() -> Duration {
    proc_cpu("/proc/thread-self/stat")
}

/// CPU time (user + system) of the whole process so far.
fn process_cpu() -> Duration {
    proc_cpu("/proc/self/stat")
}

/// utime + stime of a `/proc/.../stat` file; zero where `/proc` is
/// unavailable.
fn proc_cpu(path: &str) -> Duration {
    std::fs::read_to_string(path)
        .map(|s| proc_stat::stat_cpu(&s))
        .unwrap_or_default()
}

/// Writes the planned log into `path` and says how long it took.
fn run_setup(runtime: &tokio::runtime::Runtime, path: &Path, plan: &Plan) {
    let started = Instant::now();
    let written = runtime.block_on(build_log(path, plan));
    let setup = started.elapsed();
    println!(
        "replay: wrote {written} events ({} tenants, {} users, {} extensions, {} links, {} updates) \
         in {:.1} s ({:.0} events/s, durability os, {APPEND_BATCH}-event appends, {APPENDERS} appenders)",
        plan.tenants,
        plan.users,
        plan.users,
        plan.users,
        plan.updates,
        setup.as_secs_f64(),
        written as f64 / setup.as_secs_f64()
    );
}

/// Start-up as the service does it (`app::start`): open the log (tail
/// check), load the snapshot if it matches the log, replay the rest. Timed
/// once without a snapshot (full replay), then a snapshot is written
/// (`snapshots::take`, as on shutdown) and start-up is timed again.
fn startup_with_and_without_snapshot(
    runtime: &tokio::runtime::Runtime,
    path: &Path,
    written: u64,
    users: u64,
) {
    use switchboard::snapshots;
    let data_dir = path.to_path_buf();
    let snap = snapshots::path_in(&data_dir);
    let _ = std::fs::remove_file(&snap);
    let start = |label: &str| {
        let t = Instant::now();
        let cpu = thread_cpu();
        let log = SegmentLog::open(LogConfig::new(&data_dir)).expect("open");
        let opened = t.elapsed();
        let loaded = snapshots::load(&data_dir, &log);
        let loaded_at = t.elapsed();
        let from = loaded.offset;
        let mut start_dir = loaded.directory;
        start_dir.replay_threads = directory().replay_threads;
        let projector = Projector::new(start_dir, loaded.offset);
        let replayed = projector.replay(&log).expect("replay");
        let total = t.elapsed();
        let cpu = thread_cpu() - cpu;
        let n_users: usize = projector
            .read()
            .scopes
            .values()
            .map(|s| s.users.len())
            .sum();
        assert_eq!(n_users as u64, users, "every user is there");
        assert_eq!(projector.applied(), written);
        println!(
            "| {label} | {written} | {:.2} s | {:.2} s | {} | {replayed} | {:.2} s | {:.2} s |",
            opened.as_secs_f64(),
            (loaded_at - opened).as_secs_f64(),
            if loaded.fallback.is_none() {
                format!("offset {from}")
            } else {
                "none".into()
            },
            total.as_secs_f64(),
            cpu.as_secs_f64()
        );
        (log, projector)
    };
    println!("### Start-up with and without a projection snapshot ({written} events)");
    println!();
    println!("| start-up | events in log | open (tail check) | snapshot load + check | snapshot used | events replayed | total | CPU of the starting thread |");
    println!("|---|---:|---:|---:|---|---:|---:|---:|");
    let (log, projector) = start("no snapshot (full replay)");
    {
        // The service's model: the directory replayed with its list
        // indexes deferred, then every list indexed once (`app::start`;
        // the audit outbox, which the service also fills, is left out).
        use switchboard::queries::model::ReadModel;
        let t = Instant::now();
        let cpu = thread_cpu();
        let model = Projector::new(ReadModel::deferred(directory()), 0);
        let replayed = model.replay(&log).expect("replay");
        let applied = t.elapsed();
        model.update(ReadModel::index_all);
        println!(
            "| no snapshot, the service's read model (lists indexed at the end: +{:.2} s) | {written} | (open) | – | none | {replayed} | {:.2} s + open | {:.2} s |",
            (t.elapsed() - applied).as_secs_f64(),
            t.elapsed().as_secs_f64(),
            (thread_cpu() - cpu).as_secs_f64()
        );
    }
    let t = Instant::now();
    snapshots::take(&data_dir, &projector, &log).expect("snapshot");
    let took = t.elapsed();
    let size = std::fs::metadata(&snap).map(|m| m.len()).unwrap_or(0);
    runtime.block_on(log.close());
    drop((log, projector));
    let (log, projector) = start("with snapshot at the head");
    runtime.block_on(log.close());
    drop((log, projector));
    println!();
    println!(
        "Taking the snapshot (encode under the read lock + write + fsync): {:.2} s, {:.1} MB.",
        took.as_secs_f64(),
        size as f64 / 1e6
    );
    println!();
}

/// Reads every segment in `dir` in order with a cursor (frames parsed, record
/// CRCs checked), calling `f` with each record's bytes; returns the count.
fn scan(dir: &Path, mut f: impl FnMut(&[u8])) -> (u64, Box<dyn Any>) {
    let handles = Arc::new(Handles::new(dir.to_path_buf()));
    let mut cursor = Cursor::new(
        handles,
        SegPos {
            segment: 1,
            pos: SEGMENT_HEADER_LEN,
        },
        1,
        1 << 20,
    )
    .expect("cursor");
    let mut n = 0u64;
    loop {
        match cursor.next(u64::MAX).expect("reads") {
            Next::Frame(frame, _) => {
                for rec in frame.records() {
                    f(rec);
                    n += 1;
                }
            }
            Next::End => return (n, Box::new(())),
            Next::Bad { offset, error, .. } => panic!("offset {offset}: {error}"),
        }
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// One timed pass over the log: the number of events it saw, and whatever it
/// built (dropped after the clock stops).
type Stage<'a> = Box<dyn Fn() -> (u64, Box<dyn Any>) + 'a>;

/// How many of each kind of event the generated log holds.
struct Plan {
    tenants: u64,
    users: u64,
    updates: u64,
}

impl Plan {
    fn new(total: u64) -> Plan {
        let tenants = TENANTS.min(total);
        let users = env_number(
            "BENCH_USERS",
            (total.saturating_sub(tenants) / EVENTS_PER_USER).max(1),
        );
        let creations = tenants + users * 4;
        assert!(
            creations <= total,
            "BENCH_EVENTS is too small for the event mix"
        );
        Plan {
            tenants,
            users,
            updates: total - creations,
        }
    }

    fn tenant_of(&self, user: u64) -> Id {
        Id(100 + user % self.tenants)
    }
}

fn user_id(user: u64) -> Id {
    Id(1_000_000 + user)
}

fn extension_id(user: u64) -> Id {
    Id(50_000_000 + user)
}

fn link_id(user: u64) -> Id {
    Id(90_000_000 + user)
}

fn metadata(appender: usize) -> Arc<Metadata> {
    Arc::new(Metadata {
        actor_id: Some(Id(7 + appender as u64)),
        actor_name: format!("admin{appender}@tenant.example.com"),
        request_id: Some(format!("replay-{appender:04}-0000-4000-8000-000000000000")),
        source_ip: Some(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10 + appender as u8))),
        via: "portsip".to_owned(),
    })
}

fn encode(event: impl Into<Event>, tenant: Id) -> NewEvent {
    event.into().to_new_event(tenant).expect("encode event")
}

/// Writes the planned log; returns its head.
async fn build_log(path: &Path, plan: &Plan) -> u64 {
    let mut config = LogConfig::new(path);
    config.durability = Durability::Os;
    let log = SegmentLog::open(config).expect("open the event log");

    // Tenants first, in the system scope.
    let tenants: Vec<NewEvent> = (0..plan.tenants)
        .map(|t| {
            let mut attrs = Fields::new();
            attrs.insert("enabled".into(), Value::Bool(true));
            attrs.insert("max_extensions".into(), Value::Int(10_000));
            attrs.insert("timezone".into(), Value::from("Europe/Berlin"));
            encode(
                TenantCreated {
                    tenant_id: Id(100 + t),
                    name: format!("Tenant {t}"),
                    domain: format!("t{t}.pbx.example.com"),
                    attrs,
                },
                SYSTEM_TENANT,
            )
        })
        .collect();
    append_all(&log, vec![tenants], 1).await;

    // Users, each with an extension, a link and its primary extension.
    let creations: Vec<(u64, Event)> = (0..plan.users)
        .flat_map(|u| {
            let user = user_id(u);
            let ext = extension_id(u);
            [
                (u, Event::from(user_created(u))),
                (
                    u,
                    Event::from(ExtensionCreated {
                        extension_id: ext,
                        number: format!("{}", 1000 + u),
                        name: format!("Desk {u}"),
                        ext_type: ExtensionType::Sip,
                        enabled: true,
                    }),
                ),
                (
                    u,
                    Event::from(UserLinkedToExtension {
                        link_id: link_id(u),
                        user_id: user,
                        extension_id: ext,
                    }),
                ),
                (
                    u,
                    Event::from(PrimaryExtensionChanged {
                        user_id: user,
                        extension_id: Some(ext),
                    }),
                ),
            ]
        })
        .collect();
    // Keep a user's four events in one append so they stay in order.
    let batches: Vec<Vec<NewEvent>> = creations
        .chunks(APPEND_BATCH)
        .map(|chunk| {
            chunk
                .iter()
                .map(|(u, e)| encode(e.clone(), plan.tenant_of(*u)))
                .collect()
        })
        .collect();
    append_all(&log, batches, APPENDERS).await;

    // Then the bulk: field changes of random users.
    let mut tasks = Vec::new();
    for appender in 0..APPENDERS {
        let share = plan.updates / APPENDERS as u64
            + u64::from((appender as u64) < plan.updates % APPENDERS as u64);
        let log = log.clone();
        let users = plan.users;
        let tenants = plan.tenants;
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(42 + appender as u64);
            let meta = metadata(appender);
            let mut left = share;
            while left > 0 {
                let n = left.min(APPEND_BATCH as u64);
                let events: Vec<NewEvent> = (0..n)
                    .map(|_| {
                        let u = rng.gen_range(0..users);
                        encode(user_updated(&mut rng, u), Id(100 + u % tenants))
                    })
                    .collect();
                log.append(AppendRequest {
                    events,
                    expected: Vec::new(),
                    metadata: meta.clone(),
                })
                .await
                .expect("append updates");
                left -= n;
            }
        }));
    }
    for task in tasks {
        task.await.expect("appender task panicked");
    }
    let head = log.head();
    log.close().await;
    head
}

/// Appends pre-built batches from `appenders` concurrent tasks.
async fn append_all(log: &SegmentLog, batches: Vec<Vec<NewEvent>>, appenders: usize) {
    let batches = Arc::new(Mutex::new(VecDeque::from(batches)));
    let mut tasks = Vec::new();
    for appender in 0..appenders {
        let log = log.clone();
        let batches = batches.clone();
        tasks.push(tokio::spawn(async move {
            let meta = metadata(appender);
            loop {
                let next = batches.lock().expect("batch queue").pop_front();
                let Some(events) = next else { break };
                log.append(AppendRequest {
                    events,
                    expected: Vec::new(),
                    metadata: meta.clone(),
                })
                .await
                .expect("append creations");
            }
        }));
    }
    for task in tasks {
        task.await.expect("appender task panicked");
    }
}

/// A user with the ~10 attributes the PortSIP API typically sets.
fn user_created(u: u64) -> UserCreated {
    let mut attrs = Fields::new();
    attrs.insert(
        "display_name".into(),
        Value::Str(format!("User Number {u}")),
    );
    attrs.insert("first_name".into(), Value::from("User"));
    attrs.insert("last_name".into(), Value::Str(format!("Number{u}")));
    attrs.insert(
        "email".into(),
        Value::Str(format!("user{u}@tenant.example.com")),
    );
    attrs.insert("mobile_phone".into(), Value::Str(format!("+4917{:08}", u)));
    attrs.insert(
        "office_phone".into(),
        Value::Str(format!("+49301234{:05}", u % 100_000)),
    );
    attrs.insert("department".into(), Value::from("Sales"));
    attrs.insert("job_title".into(), Value::from("Account Executive"));
    attrs.insert("language".into(), Value::from("en"));
    attrs.insert("timezone".into(), Value::from("Europe/Berlin"));
    attrs.insert("enabled".into(), Value::Bool(true));
    attrs.insert("ring_timeout".into(), Value::Int(30));
    UserCreated {
        user_id: user_id(u),
        name: format!("user{u}"),
        role: "user".to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                        q2y3Zx1cJ2Wf4kFhM1x3l1QmJbq4mWcVqv8m4R0M2xY"
            .to_owned(),
        attrs,
    }
}

/// One to three changed fields; never disables the user.
fn user_updated(rng: &mut StdRng, u: u64) -> UserUpdated {
    let mut changes = Fields::new();
    changes.insert(
        "display_name".into(),
        Value::Str(format!("User {u} v{}", rng.gen_range(0..1000))),
    );
    if rng.gen_bool(0.5) {
        changes.insert(
            "mobile_phone".into(),
            Value::Str(format!("+4915{:09}", rng.gen_range(0..1_000_000_000u64))),
        );
    }
    if rng.gen_bool(0.3) {
        changes.insert("ring_timeout".into(), Value::Int(rng.gen_range(10..60)));
    }
    UserUpdated {
        user_id: user_id(u),
        changes: changes.into(),
    }
}
