//! Append throughput and latency of the event log (group commit).
//!
//! Closed loop: N concurrent appenders each keep exactly one `append` in
//! flight, one realistic `UserUpdated` per call (or a batch of 16 for the
//! batch configuration), for a fixed wall time after a warm-up. Every
//! configuration gets a fresh log in a fresh temporary directory. The
//! `fsync` configurations run with segments preallocated with zeros (the
//! default) and, marked `grow`, with segments that grow as written, in
//! alternation, so the two are compared in the same minutes.
//!
//! Besides events/s and per-append latency it reports how the writer grouped
//! the work, from the log's commit observer (`LogConfig::observer`, the hook
//! the service's metrics use): commits (one frame, one `fdatasync` each),
//! events per commit and the mean time of the commits' `fdatasync`. A probe
//! first times the raw cost of one durable flush on
//! this disk (a write + `fdatasync` on a plain file: appending to a growing
//! file, and overwriting a file written full of zeros beforehand), the floor
//! under every fsync group commit. Two more tables follow: where a commit's
//! time goes (framing, write, fdatasync, acknowledging, and the rest: the
//! wait for the callers' next appends), and each durable configuration
//! against its physical bound, appenders × events per append / fdatasync
//! (a commit carries at most what is in flight and takes at least one
//! fdatasync), beside its software ceiling: the same configuration with
//! `durability = os` (no fdatasync) in the same run.
//!
//! Durable configurations run with the inline writer (the service's
//! default) and pipelined (`-inline` marks the former in names), each with
//! and without group commit gathering (`LogConfig::gather`, on by default;
//! `-nogather` marks it off).
//!
//! Run: `cargo bench --bench log_append` (`BENCH_SECS=N` sets the measured
//! seconds per configuration, default 3; `BENCH_ONLY=fsync-64x1,fsync-64x1-grow`
//! runs only the named configurations; `BENCH_ROUNDS=N` repeats them).
//! `BENCH_PREFILL=1` writes one event to every stream a configuration will
//! update and reopens the log before measuring it, so every stream exists
//! and is cold, as after a restart (it prints how long the reopen took);
//! `BENCH_USERS_PER_TENANT=N` changes the default 25,000 users per tenant
//! (4 tenants) of the non-hot configurations; `BENCH_CACHE_MB=N` sets
//! sled's page cache for the index (default 64). The table's last column,
//! indexed events/s, is the rate the index kept up with: with a long
//! window (`BENCH_SECS=30`) the sustained rate, where events/s alone can
//! count a backlog the indexer has yet to take in.

/// The binary's allocator, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[path = "support/proc_stat.rs"]
mod proc_stat;

use proc_stat::stat_cpu;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_events::domain::UserUpdated;
use switchboard_events::{
    AppendRequest, CommitObserver, CommitStats, Durability, Event, EventLog, Fields, Id, LogConfig,
    Metadata, NewEvent, SegmentLog, Value,
};

/// Tenants the updates are spread over.
const TENANTS: u64 = 4;
/// Users per tenant the updates are spread over (100,000 streams in all: in
/// a 3 s run most appends touch a stream the writer has not seen yet);
/// `BENCH_USERS_PER_TENANT` overrides it.
const USERS_PER_TENANT: u64 = 25_000;

fn users_per_tenant() -> u64 {
    std::env::var("BENCH_USERS_PER_TENANT")
        .ok()
        .map(|s| s.parse().expect("BENCH_USERS_PER_TENANT must be a number"))
        .unwrap_or(USERS_PER_TENANT)
}
/// Users per tenant for the "hot" configuration (4,000 streams, all seen
/// during the warm-up, so the writer's stream-version cache is warm).
const HOT_USERS_PER_TENANT: u64 = 1_000;

#[derive(Clone, Copy)]
struct Scenario {
    durability: Durability,
    appenders: usize,
    events_per_append: usize,
    users_per_tenant: u64,
    /// Segments preallocated with zeros (`LogConfig::preallocate`).
    preallocate: bool,
    /// The next group framed during the previous `fdatasync`
    /// (`LogConfig::pipeline`).
    pipeline: bool,
    /// Group commit gathering (`LogConfig::gather`, durable only).
    gather: bool,
}

impl Scenario {
    /// The name `BENCH_ONLY` selects it by: `fsync-64x1`, `fsync-64x1-grow`,
    /// `fsync-64x1-inline`, `fsync-64x1-inline-nogather`, `os-8x1`,
    /// `fsync-64x1-hot`...
    fn name(&self) -> String {
        format!(
            "{}-{}x{}{}{}{}{}",
            durability_name(self.durability),
            self.appenders,
            self.events_per_append,
            if self.preallocate { "" } else { "-grow" },
            if self.pipeline { "" } else { "-inline" },
            if self.gather || self.durability == Durability::Os {
                ""
            } else {
                "-nogather"
            },
            if self.users_per_tenant == HOT_USERS_PER_TENANT {
                "-hot"
            } else {
                ""
            }
        )
    }
}

/// What one configuration measured.
struct Outcome {
    scenario: Scenario,
    window: Duration,
    appends: u64,
    events: u64,
    p50: Duration,
    p99: Duration,
    /// Group commits (frames) in the window, from the commit observer.
    commits: u64,
    /// Events they held.
    commit_events: u64,
    /// Their mean `fdatasync` time.
    fsync: Duration,
    /// Their mean time spent framing, writing and acknowledging (the rest
    /// of the commit's share of the window is the wait for the callers'
    /// next appends, see the table's note).
    framing: Duration,
    write: Duration,
    acknowledge: Duration,
    max_events_per_commit: u64,
    cpu: CpuWindow,
    /// Durable events not yet in the index when the window opened.
    index_lag_start: u64,
    /// Durable events not yet in the index when the window closed (the
    /// indexer runs at a lower priority and catches up later).
    index_lag: u64,
    /// How long the index then took to catch up.
    catch_up: Duration,
}

impl Outcome {
    /// Events acknowledged in the window less the growth of the index lag:
    /// the rate the index kept up with.
    fn indexed_per_sec(&self) -> f64 {
        let grown = self.index_lag as f64 - self.index_lag_start as f64;
        (self.events as f64 - grown) / self.window.as_secs_f64()
    }
}

/// CPU time spent during the measured window, from `/proc` (Linux).
#[derive(Default, Clone, Copy)]
struct CpuWindow {
    /// The whole process (every thread, including exited ones).
    process: Duration,
    /// The log's writer threads alone.
    writer: Duration,
}

/// One acknowledged append inside the measured window.
struct Ack {
    latency: Duration,
    events: u64,
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .map(|s| s.parse().expect("BENCH_SECS must be a number of seconds"))
        .unwrap_or(3.0);
    let measure = Duration::from_secs_f64(secs);
    let warmup = Duration::from_secs_f64((secs / 4.0).clamp(0.2, 1.0));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    println!(
        "log_append: {} measured s per configuration, {} s warm-up, {} logical CPUs",
        secs,
        warmup.as_secs_f64(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!();

    let probe = runtime.block_on(flush_probe());
    print_probe(&probe);

    let mut scenarios = Vec::new();
    for durability in [Durability::Fsync, Durability::Os] {
        for (appenders, events_per_append) in [(1, 1), (8, 1), (64, 1), (64, 16)] {
            // Durable configurations also run unpipelined, without
            // gathering and with growing segments, right after, to compare
            // in the same minutes.
            let variants: &[(bool, bool, bool)] = match durability {
                Durability::Fsync => &[
                    (true, false, true),
                    (true, false, false),
                    (true, true, true),
                    (true, true, false),
                    (false, false, true),
                ],
                Durability::Os => &[(true, false, true), (true, true, true)],
            };
            for &(preallocate, pipeline, gather) in variants {
                scenarios.push(Scenario {
                    durability,
                    appenders,
                    events_per_append,
                    users_per_tenant: users_per_tenant(),
                    preallocate,
                    pipeline,
                    gather,
                });
            }
        }
    }
    scenarios.push(Scenario {
        durability: Durability::Fsync,
        appenders: 64,
        events_per_append: 1,
        users_per_tenant: HOT_USERS_PER_TENANT,
        preallocate: true,
        pipeline: false,
        gather: true,
    });
    if let Ok(only) = std::env::var("BENCH_ONLY") {
        let wanted: Vec<&str> = only.split(',').map(str::trim).collect();
        scenarios.retain(|s| wanted.contains(&s.name().as_str()));
    }
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let scenarios: Vec<Scenario> = (0..rounds).flat_map(|_| scenarios.clone()).collect();

    let mut outcomes = Vec::new();
    for scenario in scenarios {
        let outcome = runtime.block_on(run_scenario(scenario, warmup, measure));
        eprintln!(
            "  done: {}: {:.0} events/s",
            scenario.name(),
            outcome.events as f64 / outcome.window.as_secs_f64()
        );
        outcomes.push(outcome);
    }
    println!();
    print_table(&outcomes, &probe);
}

/// Timings of small durable writes on this disk.
struct Probe {
    /// 250 B appended to a growing file + `fdatasync` (one record).
    append_sync: Vec<Duration>,
    /// 16 KiB appended to a growing file + `fdatasync` (a group commit of
    /// 64 records).
    grow_sync: Vec<Duration>,
    /// 16 KiB written over a file written full of zeros and synced
    /// beforehand + `fdatasync` (the same, on a preallocated segment).
    zeroed_sync: Vec<Duration>,
}

/// Times what one group commit of the log costs at least, alternating the
/// kinds so they see the same disk: an appending 250 B `write` +
/// `fdatasync` (one appender), and 16 KiB appended to a growing file or
/// written over a pre-zeroed one + `fdatasync` (64 appenders). ~1.5 s or
/// 200 rounds each.
async fn flush_probe() -> Probe {
    let dir = tempfile::tempdir().expect("temporary directory for the flush probe");
    let open = |name: &str| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join(name))
            .expect("create a probe file")
    };
    let (small, grow, zeroed) = (open("append"), open("grow"), open("zeroed"));
    let group = vec![0x5au8; 16 * 1024];
    let record = vec![0x5au8; 250];
    let rounds = 200u64;
    let zeros = vec![0u8; 1 << 20];
    let total = rounds * group.len() as u64;
    (0..total.div_ceil(1 << 20))
        .try_for_each(|i| zeroed.write_all_at(&zeros, i << 20))
        .and_then(|()| zeroed.sync_all())
        .expect("write the zeroed probe file");
    let time = |file: &std::fs::File, bytes: &[u8], pos: u64| {
        let t = Instant::now();
        file.write_all_at(bytes, pos).expect("write a probe file");
        file.sync_data().expect("sync_data on a probe file");
        t.elapsed()
    };
    let mut probe = Probe {
        append_sync: Vec::new(),
        grow_sync: Vec::new(),
        zeroed_sync: Vec::new(),
    };
    let started = Instant::now();
    for i in 0..rounds {
        if started.elapsed() > Duration::from_secs_f64(4.5) {
            break;
        }
        probe
            .append_sync
            .push(time(&small, &record, i * record.len() as u64));
        let at = i * group.len() as u64;
        probe.grow_sync.push(time(&grow, &group, at));
        probe.zeroed_sync.push(time(&zeroed, &group, at));
    }
    probe
}

fn print_probe(probe: &Probe) {
    println!("### Durable flush on this disk");
    println!();
    println!("| operation | rounds | mean | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|");
    for (name, samples) in [
        (
            "250 B appended to a growing file + `fdatasync`",
            &probe.append_sync,
        ),
        (
            "16 KiB appended to a growing file + `fdatasync`",
            &probe.grow_sync,
        ),
        (
            "16 KiB over a pre-zeroed file + `fdatasync`",
            &probe.zeroed_sync,
        ),
    ] {
        let mut s = samples.clone();
        s.sort_unstable();
        println!(
            "| {name} | {} | {} | {} | {} |",
            s.len(),
            fmt_dur(mean(&s)),
            fmt_dur(percentile(&s, 0.50)),
            fmt_dur(percentile(&s, 0.99))
        );
    }
    println!();
}

/// Writes one event to each stream `scenario` updates, in appends of 1,000
/// (durability `os`, then synced at close), so every stream exists and is
/// in the index before the measured log opens.
async fn prefill(path: &std::path::Path, scenario: Scenario) {
    let mut config = LogConfig::new(path);
    config.durability = Durability::Os;
    let log = SegmentLog::open(config).expect("open the event log to prefill it");
    let metadata = Arc::new(Metadata::system("bench prefill"));
    let users = (0..TENANTS).flat_map(|t| {
        let tenant = Id(100 + t);
        (0..scenario.users_per_tenant).map(move |u| (tenant, Id(tenant.0 * 1_000_000 + u)))
    });
    let mut events = Vec::with_capacity(1000);
    let started = Instant::now();
    let mut written = 0u64;
    for (tenant, user) in users {
        let mut changes = Fields::new();
        changes.insert(
            "display_name".to_owned(),
            Value::Str(format!("User {}", user.0)),
        );
        events.push(
            Event::UserUpdated(UserUpdated {
                user_id: user,
                changes: changes.into(),
            })
            .to_new_event(tenant)
            .expect("encode UserUpdated"),
        );
        if events.len() == 1000 {
            written += events.len() as u64;
            append_all(&log, std::mem::take(&mut events), &metadata).await;
        }
    }
    if !events.is_empty() {
        written += events.len() as u64;
        append_all(&log, events, &metadata).await;
    }
    let waiting = log.clone();
    tokio::task::spawn_blocking(move || waiting.wait_indexed())
        .await
        .expect("wait for the index");
    log.close().await;
    eprintln!(
        "  prefilled {written} streams in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn append_all(log: &SegmentLog, events: Vec<NewEvent>, metadata: &Arc<Metadata>) {
    log.append(AppendRequest {
        events,
        expected: Vec::new(),
        metadata: metadata.clone(),
    })
    .await
    .expect("prefill append failed");
}

async fn run_scenario(scenario: Scenario, warmup: Duration, measure: Duration) -> Outcome {
    let dir = tempfile::tempdir().expect("temporary directory for the log");
    if std::env::var_os("BENCH_PREFILL").is_some() {
        prefill(&dir.path().join("log"), scenario).await;
    }
    let mut config = LogConfig::new(dir.path().join("log"));
    config.durability = scenario.durability;
    config.preallocate = scenario.preallocate;
    config.pipeline = scenario.pipeline;
    config.gather = scenario.gather;
    if let Ok(mb) = std::env::var("BENCH_CACHE_MB") {
        let mb: u64 = mb.parse().expect("BENCH_CACHE_MB must be a number of MiB");
        config.cache_bytes = mb * 1024 * 1024;
    }
    let commits = Arc::new(Commits::default());
    config.observer = Some(commits.clone());
    let opening = Instant::now();
    let log = SegmentLog::open(config).expect("open the event log");
    let opened = opening.elapsed();
    if std::env::var_os("BENCH_PREFILL").is_some() {
        let waiting = log.clone();
        let complete = tokio::task::spawn_blocking(move || waiting.wait_stream_heads_loaded())
            .await
            .expect("wait for the stream heads");
        let loaded = opening.elapsed();
        let (held, bytes) = (log.stream_heads_held(), log.stream_heads_bytes());
        eprintln!(
            "  {}: reopened in {:.1} ms; stream heads loaded {:.1} ms after open began (complete: {complete}): {held} streams, {bytes} bytes, {:.1} B/stream",
            scenario.name(),
            opened.as_secs_f64() * 1e3,
            loaded.as_secs_f64() * 1e3,
            bytes as f64 / held.max(1) as f64,
        );
    }

    let start = Instant::now();
    let measure_from = start + warmup;
    let measure_to = measure_from + measure;

    // Reads CPU and commit counters at the window's edges, off the
    // runtime's threads.
    // The index lag at both edges tells the rate the index kept up with
    // (the sustained rate) apart from the rate acknowledged.
    let counted = commits.clone();
    let lagging = log.clone();
    let sampler = std::thread::spawn(move || {
        sleep_until(measure_from);
        let before = (cpu_now(), counted.now());
        let lag_start = lagging.unindexed_events();
        counted.max_events.store(0, Ordering::Relaxed);
        sleep_until(measure_to);
        let after = (cpu_now(), counted.now());
        let max = counted.max_events.load(Ordering::Relaxed);
        (
            CpuWindow {
                process: after.0.process.saturating_sub(before.0.process),
                writer: after.0.writer.saturating_sub(before.0.writer),
            },
            (after.1.since(&before.1), max),
            lag_start,
        )
    });

    let mut tasks = Vec::with_capacity(scenario.appenders);
    for appender in 0..scenario.appenders {
        let log = log.clone();
        tasks.push(tokio::spawn(appender_loop(
            log,
            appender,
            scenario,
            measure_from,
            measure_to,
        )));
    }
    let mut acks = Vec::new();
    for task in tasks {
        acks.extend(task.await.expect("appender task panicked"));
    }
    let (cpu, (counted, max_events_per_commit), index_lag_start) =
        sampler.join().expect("CPU sampler thread panicked");
    let index_lag = log.unindexed_events();
    let waiting = log.clone();
    let t = Instant::now();
    tokio::task::spawn_blocking(move || waiting.wait_indexed())
        .await
        .expect("wait for the index");
    let catch_up = t.elapsed();
    log.close().await;
    drop(log);
    drop(dir);

    let appends = acks.len() as u64;
    let events = acks.iter().map(|a| a.events).sum();
    let mut latencies: Vec<Duration> = acks.iter().map(|a| a.latency).collect();
    latencies.sort_unstable();
    let commits = counted.commits;
    let per_commit = |ns: u64| Duration::from_nanos(ns / commits.max(1));
    Outcome {
        scenario,
        window: measure,
        appends,
        events,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        commits,
        commit_events: counted.events,
        fsync: per_commit(counted.fsync_ns),
        framing: per_commit(counted.framing_ns),
        write: per_commit(counted.write_ns),
        acknowledge: per_commit(counted.acknowledge_ns),
        max_events_per_commit,
        cpu,
        index_lag_start,
        index_lag,
        catch_up,
    }
}

/// Counts the log's group commits (its commit observer).
#[derive(Default)]
struct Commits {
    commits: AtomicU64,
    events: AtomicU64,
    fsync_ns: AtomicU64,
    framing_ns: AtomicU64,
    write_ns: AtomicU64,
    acknowledge_ns: AtomicU64,
    max_events: AtomicU64,
}

/// The commit counters at one moment.
#[derive(Clone, Copy, Default)]
struct Counted {
    commits: u64,
    events: u64,
    fsync_ns: u64,
    framing_ns: u64,
    write_ns: u64,
    acknowledge_ns: u64,
}

impl Counted {
    /// What was counted between `before` and `self`.
    fn since(&self, before: &Counted) -> Counted {
        Counted {
            commits: self.commits - before.commits,
            events: self.events - before.events,
            fsync_ns: self.fsync_ns - before.fsync_ns,
            framing_ns: self.framing_ns - before.framing_ns,
            write_ns: self.write_ns - before.write_ns,
            acknowledge_ns: self.acknowledge_ns - before.acknowledge_ns,
        }
    }
}

impl Commits {
    /// The counters so far.
    fn now(&self) -> Counted {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counted {
            commits: load(&self.commits),
            events: load(&self.events),
            fsync_ns: load(&self.fsync_ns),
            framing_ns: load(&self.framing_ns),
            write_ns: load(&self.write_ns),
            acknowledge_ns: load(&self.acknowledge_ns),
        }
    }
}

impl CommitObserver for Commits {
    fn committed(&self, stats: &CommitStats) {
        let add = |a: &AtomicU64, d: Duration| {
            a.fetch_add(
                u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        };
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.events
            .fetch_add(stats.events as u64, Ordering::Relaxed);
        add(&self.fsync_ns, stats.fsync);
        add(&self.framing_ns, stats.framing);
        add(&self.write_ns, stats.write);
        add(&self.acknowledge_ns, stats.acknowledge);
        self.max_events
            .fetch_max(stats.events as u64, Ordering::Relaxed);
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// CPU time so far of the process and of the log's writer threads
/// (`log-writer` and, pipelined, `log-sync`).
/// Zero where `/proc` is unavailable.
fn cpu_now() -> CpuWindow {
    let process = std::fs::read_to_string("/proc/self/stat")
        .map(|s| stat_cpu(&s))
        .unwrap_or_default();
    let mut writer = Duration::ZERO;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if matches!(comm.trim_end(), "log-writer" | "log-sync") {
                writer += std::fs::read_to_string(task.path().join("stat"))
                    .map(|s| stat_cpu(&s))
                    .unwrap_or_default();
            }
        }
    }
    CpuWindow { process, writer }
}

/// One appender: append, wait, repeat, until `measure_to`. Returns the
/// acknowledgements that arrived inside `[measure_from, measure_to]`.
async fn appender_loop(
    log: SegmentLog,
    appender: usize,
    scenario: Scenario,
    measure_from: Instant,
    measure_to: Instant,
) -> Vec<Ack> {
    let mut rng = StdRng::seed_from_u64(0x5eed_0000 + appender as u64);
    let metadata = Arc::new(Metadata {
        actor_id: Some(Id(1_000_000 + appender as u64)),
        actor_name: format!("admin{appender}@tenant.example.com"),
        request_id: Some(format!("bench-{appender:04}-0000-4000-8000-000000000000")),
        source_ip: Some(IpAddr::V4(Ipv4Addr::new(
            10,
            0,
            (appender / 250) as u8,
            (appender % 250) as u8 + 1,
        ))),
        via: "portsip".to_owned(),
    });
    let mut acks = Vec::new();
    let mut seq = 0u64;
    loop {
        let issued = Instant::now();
        if issued >= measure_to {
            break;
        }
        let events: Vec<NewEvent> = (0..scenario.events_per_append)
            .map(|_| {
                seq += 1;
                user_updated(&mut rng, appender, seq, scenario.users_per_tenant)
            })
            .collect();
        let appended = log
            .append(AppendRequest {
                events,
                expected: Vec::new(),
                metadata: metadata.clone(),
            })
            .await
            .expect("append failed");
        let done = Instant::now();
        if done >= measure_from && done <= measure_to {
            acks.push(Ack {
                latency: done - issued,
                events: appended.last_offset - appended.first_offset + 1,
            });
        }
    }
    acks
}

/// A `UserUpdated` as the PortSIP API produces it: two changed fields of a
/// random user in a random tenant.
fn user_updated(rng: &mut StdRng, appender: usize, seq: u64, users_per_tenant: u64) -> NewEvent {
    let tenant = Id(100 + rng.gen_range(0..TENANTS));
    let user = Id(tenant.0 * 1_000_000 + rng.gen_range(0..users_per_tenant));
    let mut changes = Fields::new();
    changes.insert(
        "display_name".to_owned(),
        Value::Str(format!("User {} (desk {appender}-{seq})", user.0)),
    );
    match seq % 3 {
        0 => changes.insert(
            "mobile_phone".to_owned(),
            Value::Str(format!("+4915{:09}", rng.gen_range(0..1_000_000_000u64))),
        ),
        1 => changes.insert(
            "department".to_owned(),
            Value::Str("Customer Success".to_owned()),
        ),
        _ => changes.insert("ring_timeout".to_owned(), Value::Int(rng.gen_range(10..60))),
    };
    Event::UserUpdated(UserUpdated {
        user_id: user,
        changes: changes.into(),
    })
    .to_new_event(tenant)
    .expect("encode UserUpdated")
}

fn print_table(outcomes: &[Outcome], probe: &Probe) {
    let mut flush = probe.zeroed_sync.clone();
    flush.sort_unstable();
    let flush_p50 = percentile(&flush, 0.50);
    println!("### Append throughput");
    println!();
    println!(
        "| durability | segments | writer | appenders | events/append | users | events/s | appends/s | p50 append | p99 append | commits/s | events/commit (mean / max) | time/commit | fdatasync (mean) | CPU/event: process / writer | writer thread busy | index lag at start / end / caught up in | indexed events/s |"
    );
    println!(
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for o in outcomes {
        let secs = o.window.as_secs_f64();
        let commits = o.commits.max(1);
        let events = u32::try_from(o.events.max(1)).unwrap_or(u32::MAX);
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {} | {} | {:.0} | {:.1} / {} | {} | {} | {} / {} | {:.0}% | {} / {} / {} | {:.0} |",
            durability_name(o.scenario.durability),
            if o.scenario.preallocate { "zeroed" } else { "grow" },
            match (o.scenario.pipeline, o.scenario.gather || o.scenario.durability == Durability::Os) {
                (true, true) => "pipelined",
                (true, false) => "pipelined, no gathering",
                (false, true) => "inline",
                (false, false) => "inline, no gathering",
            },
            o.scenario.appenders,
            o.scenario.events_per_append,
            o.scenario.users_per_tenant * TENANTS,
            o.events as f64 / secs,
            o.appends as f64 / secs,
            fmt_dur(o.p50),
            fmt_dur(o.p99),
            o.commits as f64 / secs,
            o.commit_events as f64 / commits as f64,
            o.max_events_per_commit,
            fmt_dur(o.window / u32::try_from(commits).unwrap_or(u32::MAX)),
            fmt_dur(o.fsync),
            fmt_cpu(o.cpu.process / events),
            fmt_cpu(o.cpu.writer / events),
            100.0 * o.cpu.writer.as_secs_f64() / secs,
            o.index_lag_start,
            o.index_lag,
            fmt_dur(o.catch_up),
            o.indexed_per_sec(),
        );
    }
    println!();
    println!(
        "users = distinct user streams the updates hit. commits = group commits (one frame and one fdatasync each) counted by the log's commit observer; fdatasync (mean) = their fdatasync as the writer timed it. time/commit = window / commits: the \
         writer's time per group commit when it is saturated (many appenders); with one \
         appender it also includes the round trip back to the appender. CPU/event = CPU time in the \
         window / events, for the whole process (appenders, writer, sled's IO threads; the \
         machine's budget is cores x window) and for the log's writer threads alone (log-writer, plus log-sync when pipelined). writer thread busy = their CPU \
         time / window (100% = one core). segments: zeroed = preallocated (the default), grow = \
         growing as written. writer: pipelined = the next group framed while the previous one's fdatasync runs (`log_pipeline = true`), inline = frame, write, sync, acknowledge in turn on one thread (the service's default); no gathering = `LogConfig::gather` off (the writer yields its CPU once after a commit instead of waiting for the acknowledged callers' next appends). index lag = durable events the index (a lower-priority thread, off the \
         acknowledgement path) had not taken in when the window opened and closed, and how long it then took to catch up; indexed events/s = (events − growth of the lag) / window: the rate the index kept up with, which a long window (BENCH_SECS=30) shows to be the sustained rate (the writer waits for the indexer once it lags by 16,384 frames). Reference: 16 KiB over a pre-zeroed file + fdatasync, p50 on this disk = {}.",
        fmt_dur(flush_p50)
    );
    println!();
    print_breakdown(outcomes);
    print_bound(outcomes, flush_p50);
}

/// Where a commit's share of the window goes, from the commit observer.
fn print_breakdown(outcomes: &[Outcome]) {
    println!("### Where the time of a commit goes");
    println!();
    println!("| configuration | time/commit | framing | write | fdatasync | acknowledge | rest: waiting for the next appends |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for o in outcomes {
        let per_commit = o.window / u32::try_from(o.commits.max(1)).unwrap_or(u32::MAX);
        let rest = per_commit.saturating_sub(o.framing + o.write + o.fsync + o.acknowledge);
        println!(
            "| {} | {} | {} | {} | {} | {} | {}{} |",
            o.scenario.name(),
            fmt_dur(per_commit),
            fmt_dur(o.framing),
            fmt_dur(o.write),
            fmt_dur(o.fsync),
            fmt_dur(o.acknowledge),
            fmt_dur(rest),
            if o.scenario.pipeline {
                " (framing overlaps)"
            } else {
                ""
            },
        );
    }
    println!();
    println!(
        "Means per commit. framing = the writer's time checking expectations, assigning offsets and \
         encoding and hashing the records; write = the one write of the frame; acknowledge = from \
         durable to every caller told. rest = time/commit minus those: with an inline writer, the \
         time the writer waited for the next appends (the acknowledged callers woken, run, and \
         appending again); pipelined, framing runs beside the I/O, so rest is only a lower bound."
    );
    println!();
}

/// Each durable configuration against its physical bound: with `A`
/// appenders of `E` events each in flight, a commit carries at most `A·E`
/// events and takes at least one `fdatasync`, so events/s ≤ A·E /
/// fdatasync (Little's law: in flight / the least time an append can take).
/// The software ceiling is the same configuration without the fdatasync
/// (`durability = os`), measured in the same run.
fn print_bound(outcomes: &[Outcome], probe_p50: Duration) {
    println!("### Against the bound in flight / fdatasync");
    println!();
    println!("| configuration | in flight | events/s | events/commit | time/commit | fdatasync (log's mean) | time/commit ÷ fdatasync | bound: in flight / log's fdatasync | % of bound | bound at the probe's p50 | software ceiling (same, os) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for o in outcomes
        .iter()
        .filter(|o| o.scenario.durability == Durability::Fsync)
    {
        let secs = o.window.as_secs_f64();
        let in_flight = (o.scenario.appenders * o.scenario.events_per_append) as f64;
        let rate = o.events as f64 / secs;
        let per_commit = secs / o.commits.max(1) as f64;
        let fsync = o.fsync.as_secs_f64();
        let bound = if fsync > 0.0 { in_flight / fsync } else { 0.0 };
        let ceiling: Vec<f64> = outcomes
            .iter()
            .filter(|c| {
                c.scenario.durability == Durability::Os
                    && c.scenario.appenders == o.scenario.appenders
                    && c.scenario.events_per_append == o.scenario.events_per_append
                    && c.scenario.pipeline == o.scenario.pipeline
                    && c.scenario.users_per_tenant == o.scenario.users_per_tenant
            })
            .map(|c| c.events as f64 / c.window.as_secs_f64())
            .collect();
        println!(
            "| {} | {} | {:.0} | {:.1} | {} | {} | {:.2}× | {:.0} | {:.0}% | {:.0} | {} |",
            o.scenario.name(),
            in_flight,
            rate,
            o.commit_events as f64 / o.commits.max(1) as f64,
            fmt_dur(Duration::from_secs_f64(per_commit)),
            fmt_dur(o.fsync),
            if fsync > 0.0 { per_commit / fsync } else { 0.0 },
            bound,
            if bound > 0.0 {
                100.0 * rate / bound
            } else {
                0.0
            },
            in_flight / probe_p50.as_secs_f64().max(1e-9),
            if ceiling.is_empty() {
                "not run".to_owned()
            } else {
                format!(
                    "{:.0} (mean of {})",
                    ceiling.iter().sum::<f64>() / ceiling.len() as f64,
                    ceiling.len()
                )
            },
        );
    }
    println!();
}

fn durability_name(d: Durability) -> &'static str {
    match d {
        Durability::Fsync => "fsync",
        Durability::Os => "os",
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn mean(samples: &[Duration]) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.iter().sum::<Duration>() / u32::try_from(samples.len()).unwrap_or(u32::MAX)
}

/// A CPU time per event, to a tenth of a µs (whole µs hid a 10% change).
fn fmt_cpu(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn fmt_dur(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}
