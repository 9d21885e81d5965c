//! Call history pages: a tenant with `BENCH_CDRS` CDRs (default 10M) over
//! a year, 1,000 users, and a peer tenant with 10k CDRs in the same store
//! (the baseline: the same pages over a store a thousand times smaller).
//!
//! The store is built through `RecordStore::apply` (what the log follower
//! calls) in batches of 20k, synced, and reopened with the default 64 MiB
//! page cache, so the pages are read as a restarted server would. Each
//! figure is the median and p99 of `BENCH_ITERS` pages (default 300) with a
//! random user / window per call, so they are not one hot page:
//! - `tenant_newest`: `/cdrs` first page (newest 100) and its count;
//! - `tenant_oldest`: `orderby=started_at asc`;
//! - `tenant_skip_10k`: `skip=10000&top=100`;
//! - `user_newest`: `/user/cdrs` of a random user;
//! - `hour_window`: `started_at ge X and started_at lt X+1h`, count and page;
//! - `hour_window_caller`: the same and `caller eq '…'` (the number
//!   index's entries of that caller inside the hour);
//! - `caller_all_time`: `caller eq '…'` of a random user's number, no time
//!   bound: newest 100 and the count (the caller's entries, ~n/1,000);
//! - `get`: one CDR by id.
//!
//! It prints the process RSS after opening and after the queries: the
//! store keeps no per-record state in memory.
//!
//! Run: `cargo bench --bench cdr_page` (`BENCH_CDRS=1000000` for a smaller
//! run; `BENCH_DIR` for where the store goes, default a temporary directory
//! under the system's; the store is deleted at
//! the end).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};
use switchboard::records::store::{Kind, NewRecord, RecordStore, Scope, StoreConfig};
use switchboard::records::{CDR_LIST, CDR_TIME};
use switchboard_events::Id;
use switchboard_projections::query::{ListQuery, RawListParams};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const TENANT: Id = Id(7);
const PEER: Id = Id(8);
const USERS: u64 = 1000;
const START_MS: i64 = 1_700_000_000_000;
const YEAR_MS: i64 = 365 * 24 * 3600 * 1000;
const HOUR_MS: i64 = 3600 * 1000;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn record(tenant: Id, n: u64, count: u64, rng: &mut StdRng) -> NewRecord {
    let at = START_MS + (n as i128 * YEAR_MS as i128 / count as i128) as i64;
    let a = rng.gen_range(0..USERS);
    let b = rng.gen_range(0..USERS);
    let external = rng.gen_bool(0.5);
    let caller = format!("{}", 1000 + a);
    let callee = if external {
        format!("+4930{:08}", rng.gen_range(0..100_000_000u64))
    } else {
        format!("{}", 1000 + b)
    };
    let duration = rng.gen_range(0..600);
    let body = serde_json::json!({
        "caller": caller,
        "caller_domain": "acme.example.com",
        "caller_display_name": format!("User {a}"),
        "callee": callee,
        "callee_domain": "acme.example.com",
        "started_at": rfc3339(at),
        "answered_at": rfc3339(at + 4000),
        "ended_at": rfc3339(at + 4000 + duration * 1000),
        "call_id": format!("{n:016x}@pbx.acme.example.com"),
        "direction": if external { "OUTBOUND_CALL" } else { "EXTENSION_CALL" },
        "end_reason": "CALLER_DISCONNECTED",
        "status_code": 200,
        "trunk": if external { "carrier-1" } else { "" },
        "duration": duration,
    });
    let mut parties = vec![Id(1 + a)];
    if !external {
        parties.push(Id(1 + b));
    }
    NewRecord {
        kind: Kind::Cdr,
        tenant,
        id: Id(rng.gen_range(1..(1u64 << 53))),
        key: format!("{n:016x}@pbx.acme.example.com"),
        at_ms: at,
        parties,
        offset: n + 1,
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

fn query(pairs: &[(&str, String)]) -> ListQuery {
    let mut raw = RawListParams::default();
    for (k, v) in pairs {
        let v = Some(v.clone());
        match *k {
            "filter" => raw.filter = v,
            "orderby" => raw.orderby = v,
            "skip" => raw.skip = v,
            _ => raw.top = v,
        }
    }
    match ListQuery::parse(&raw, &CDR_LIST) {
        Ok(q) => q,
        Err(e) => panic!("bench query {pairs:?}: {e}"),
    }
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e3;
    format!("median {:>8.3} ms  p99 {:>8.3} ms", at(0.5), at(0.99))
}

fn main() {
    let n = env("BENCH_CDRS", 10_000_000);
    let iters = env("BENCH_ITERS", 300) as usize;
    let base =
        std::env::var("BENCH_DIR").unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    let dir = match tempfile::tempdir_in(&base) {
        Ok(d) => d,
        Err(e) => panic!("temporary directory in {base}: {e}"),
    };
    let path = dir.path().join("records.redb");
    println!(
        "cdr_page: {n} CDRs in tenant 7, 10k in peer tenant 8, {USERS} users; {} cores; rustc running now: see pgrep",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );

    // Build (a large cache while building; the pages run with the default).
    let mut rng = StdRng::seed_from_u64(1);
    let t0 = Instant::now();
    {
        let build = StoreConfig {
            cache_bytes: 1 << 30,
            durable_every: 4,
        };
        let store = match RecordStore::open(&path, build) {
            Ok(s) => s,
            Err(e) => panic!("open: {e}"),
        };
        let mut batch = Vec::with_capacity(20_000);
        for (tenant, count) in [(PEER, 10_000u64), (TENANT, n)] {
            for i in 0..count {
                batch.push(record(tenant, i, count, &mut rng));
                if batch.len() == 20_000 || i + 1 == count {
                    if let Err(e) = store.apply(&batch, i + 1) {
                        panic!("apply: {e}");
                    }
                    batch.clear();
                }
                if tenant == TENANT && (i + 1) % 1_000_000 == 0 {
                    println!(
                        "  built {:>9} in {:>6.1} s, rss {:.0} MiB",
                        i + 1,
                        t0.elapsed().as_secs_f64(),
                        rss_mib().0
                    );
                }
            }
        }
        if let Err(e) = store.sync() {
            panic!("sync: {e}");
        }
    }
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!(
        "built in {:.1} s ({:.0} CDRs/s); file {:.2} GiB ({:.0} bytes/CDR)",
        t0.elapsed().as_secs_f64(),
        (n + 10_000) as f64 / t0.elapsed().as_secs_f64(),
        size as f64 / (1u64 << 30) as f64,
        size as f64 / (n + 10_000) as f64
    );

    let store = match RecordStore::open(&path, StoreConfig::default()) {
        Ok(s) => s,
        Err(e) => panic!("reopen: {e}"),
    };
    let (rss_open, _) = rss_mib();
    println!("reopened with the default 64 MiB cache: rss {rss_open:.0} MiB");

    let mut rng = StdRng::seed_from_u64(2);
    let mut run = |name: &str,
                   tenant: Id,
                   total: u64,
                   f: &mut dyn FnMut(&mut StdRng) -> (Scope, ListQuery)| {
        // One untimed call warms the path; then `iters` timed calls.
        let mut times = Vec::with_capacity(iters);
        let mut counted = 0usize;
        for i in 0..=iters {
            let (scope, q) = f(&mut rng);
            let t = Instant::now();
            let page = match store.page(Kind::Cdr, tenant, scope, &q, CDR_TIME) {
                Ok(p) => p,
                Err(e) => panic!("{name}: {e}"),
            };
            let took = t.elapsed();
            if i > 0 {
                times.push(took);
                counted += page.count;
            }
            std::hint::black_box(&page);
        }
        println!(
            "{name:<20} tenant of {total:>9}: {}  (avg count {:.0})",
            stats(times),
            counted as f64 / iters as f64
        );
    };
    for (tenant, total) in [(TENANT, n), (PEER, 10_000)] {
        run("tenant_newest", tenant, total, &mut |_| {
            (Scope::Tenant, query(&[]))
        });
        run("tenant_oldest", tenant, total, &mut |_| {
            (
                Scope::Tenant,
                query(&[("orderby", "started_at asc".into())]),
            )
        });
        run("tenant_skip_10k", tenant, total, &mut |_| {
            (Scope::Tenant, query(&[("skip", "10000".into())]))
        });
        run("user_newest", tenant, total, &mut |r| {
            (Scope::User(Id(1 + r.gen_range(0..USERS))), query(&[]))
        });
        run("hour_window", tenant, total, &mut |r| {
            let from = START_MS + r.gen_range(0..YEAR_MS - HOUR_MS);
            let f = format!(
                "started_at ge '{}' and started_at lt '{}'",
                rfc3339(from),
                rfc3339(from + HOUR_MS)
            );
            (Scope::Tenant, query(&[("filter", f)]))
        });
        run("hour_window_caller", tenant, total, &mut |r| {
            let from = START_MS + r.gen_range(0..YEAR_MS - HOUR_MS);
            let f = format!(
                "started_at ge '{}' and started_at lt '{}' and caller eq '{}'",
                rfc3339(from),
                rfc3339(from + HOUR_MS),
                1000 + r.gen_range(0..USERS)
            );
            (Scope::Tenant, query(&[("filter", f)]))
        });
        run("caller_all_time", tenant, total, &mut |r| {
            let f = format!("caller eq '{}'", 1000 + r.gen_range(0..USERS));
            (Scope::Tenant, query(&[("filter", f)]))
        });
    }
    // Gets: ids of the newest page, one at a time.
    let ids: Vec<Id> = match store.page(Kind::Cdr, TENANT, Scope::Tenant, &query(&[]), CDR_TIME) {
        Ok(p) => p.items.iter().map(|r| r.id).collect(),
        Err(e) => panic!("ids: {e}"),
    };
    let mut times = Vec::new();
    for i in 0..iters {
        let id = ids[i % ids.len()];
        let t = Instant::now();
        let got = store.get(Kind::Cdr, TENANT, Scope::Tenant, id);
        times.push(t.elapsed());
        assert!(matches!(got, Ok(Some(_))));
    }
    println!("{:<20} tenant of {n:>9}: {}", "get", stats(times));
    let (rss, hwm) = rss_mib();
    println!(
        "after the queries: rss {rss:.0} MiB (peak of the process, build included: {hwm:.0} MiB)"
    );
}
