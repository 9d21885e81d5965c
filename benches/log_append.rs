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
//! under every fsync group commit.
//!
//! Run: `cargo bench --bench log_append` (`BENCH_SECS=N` sets the measured
//! seconds per configuration, default 3; `BENCH_ONLY=fsync-64x1,fsync-64x1-grow`
//! runs only the named configurations; `BENCH_ROUNDS=N` repeats them).

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
/// a 3 s run most appends touch a stream the writer has not seen yet).
const USERS_PER_TENANT: u64 = 25_000;
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
}

impl Scenario {
    /// The name `BENCH_ONLY` selects it by: `fsync-64x1`, `fsync-64x1-grow`,
    /// `fsync-64x1-inline`, `os-8x1`, `fsync-64x1-hot`...
    fn name(&self) -> String {
        format!(
            "{}-{}x{}{}{}{}",
            durability_name(self.durability),
            self.appenders,
            self.events_per_append,
            if self.preallocate { "" } else { "-grow" },
            if self.pipeline { "" } else { "-inline" },
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
    max_events_per_commit: u64,
    cpu: CpuWindow,
    /// Durable events not yet in the index when the window closed (the
    /// indexer runs at a lower priority and catches up later).
    index_lag: u64,
    /// How long the index then took to catch up.
    catch_up: Duration,
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
            // Durable configurations also run unpipelined and with growing
            // segments, right after, to compare in the same minutes.
            let variants: &[(bool, bool)] = match durability {
                Durability::Fsync => &[(true, true), (true, false), (false, true)],
                Durability::Os => &[(true, true)],
            };
            for &(preallocate, pipeline) in variants {
                scenarios.push(Scenario {
                    durability,
                    appenders,
                    events_per_append,
                    users_per_tenant: USERS_PER_TENANT,
                    preallocate,
                    pipeline,
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
        pipeline: true,
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

async fn run_scenario(scenario: Scenario, warmup: Duration, measure: Duration) -> Outcome {
    let dir = tempfile::tempdir().expect("temporary directory for the log");
    let mut config = LogConfig::new(dir.path().join("log"));
    config.durability = scenario.durability;
    config.preallocate = scenario.preallocate;
    config.pipeline = scenario.pipeline;
    let commits = Arc::new(Commits::default());
    config.observer = Some(commits.clone());
    let log = SegmentLog::open(config).expect("open the event log");

    let start = Instant::now();
    let measure_from = start + warmup;
    let measure_to = measure_from + measure;

    // Reads CPU and commit counters at the window's edges, off the
    // runtime's threads.
    let counted = commits.clone();
    let sampler = std::thread::spawn(move || {
        sleep_until(measure_from);
        let before = (cpu_now(), counted.now());
        counted.max_events.store(0, Ordering::Relaxed);
        sleep_until(measure_to);
        let after = (cpu_now(), counted.now());
        let max = counted.max_events.load(Ordering::Relaxed);
        (
            CpuWindow {
                process: after.0.process.saturating_sub(before.0.process),
                writer: after.0.writer.saturating_sub(before.0.writer),
            },
            (
                after.1 .0 - before.1 .0,
                after.1 .1 - before.1 .1,
                after.1 .2 - before.1 .2,
                max,
            ),
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
    let (cpu, (commits, commit_events, fsync_ns, max_events_per_commit)) =
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
    Outcome {
        scenario,
        window: measure,
        appends,
        events,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        commits,
        commit_events,
        fsync: Duration::from_nanos(fsync_ns / commits.max(1)),
        max_events_per_commit,
        cpu,
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
    max_events: AtomicU64,
}

impl Commits {
    /// `(commits, events, fsync ns)` so far.
    fn now(&self) -> (u64, u64, u64) {
        (
            self.commits.load(Ordering::Relaxed),
            self.events.load(Ordering::Relaxed),
            self.fsync_ns.load(Ordering::Relaxed),
        )
    }
}

impl CommitObserver for Commits {
    fn committed(&self, stats: &CommitStats) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.events
            .fetch_add(stats.events as u64, Ordering::Relaxed);
        self.fsync_ns.fetch_add(
            u64::try_from(stats.fsync.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
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
        changes,
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
        "| durability | segments | writer | appenders | events/append | users | events/s | appends/s | p50 append | p99 append | commits/s | events/commit (mean / max) | time/commit | fdatasync (mean) | CPU/event: process / writer | writer thread busy | index lag at end / caught up in |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for o in outcomes {
        let secs = o.window.as_secs_f64();
        let commits = o.commits.max(1);
        let events = u32::try_from(o.events.max(1)).unwrap_or(u32::MAX);
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {} | {} | {:.0} | {:.1} / {} | {} | {} | {} / {} | {:.0}% | {} / {} |",
            durability_name(o.scenario.durability),
            if o.scenario.preallocate { "zeroed" } else { "grow" },
            if o.scenario.pipeline { "pipelined" } else { "inline" },
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
            fmt_dur(o.cpu.process / events),
            fmt_dur(o.cpu.writer / events),
            100.0 * o.cpu.writer.as_secs_f64() / secs,
            o.index_lag,
            fmt_dur(o.catch_up),
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
         growing as written. writer: pipelined = the next group framed while the previous one's fdatasync runs (`log_pipeline = true`), inline = frame, write, sync, acknowledge in turn on one thread (the service's default). index lag = durable events the index (a lower-priority thread, off the \
         acknowledgement path) had not taken in when the window closed, and how long it then took to catch up. Reference: 16 KiB over a pre-zeroed file + fdatasync, p50 on this disk = {}.",
        fmt_dur(flush_p50)
    );
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

fn fmt_dur(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}
