//! Bulk user import over HTTP, end to end: the service runs in-process on a
//! fresh data directory with the default durability (`fsync`) and the
//! default argon2id cost (19 MiB, 2 passes), and a client posts a CSV to
//! `POST /api/users/import`.
//!
//! Figures, in one run:
//! - `phc`: `BENCH_USERS` users (default 10000) whose three secrets are
//!   argon2id PHC hashes already (a migration): users/s. Target ≥ 1000/s.
//! - `clear`: `BENCH_CLEAR_USERS` users (default 200) with clear secrets,
//!   hashed by the import on the blocking pool: users/s.
//! - baselines: `POST /api/users` one by one (clear secrets, what
//!   provisioning cost before the import: `BENCH_SINGLE_USERS`, default 20),
//!   and one argon2id hash on one thread, from which the best a clear import
//!   can do on this machine is `cores × hashes/s ÷ 3`.
//!
//! Run: `cargo bench --bench users_import` (`BENCH_BATCH` = rows per batch,
//! default 500).

use serde_json::{json, Value};
use std::time::Instant;
use switchboard::auth::password::SecretHasher;
use switchboard::config::Config;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const HEADER: &str = "name,display_name,email,role,extension_number";

fn row(i: usize) -> String {
    format!(
        "u{i},User {i},u{i}@example.com,StandardUser,{}",
        100_000 + i
    )
}

struct Client {
    base: String,
    http: reqwest::Client,
    token: String,
}

impl Client {
    async fn post(&self, path: &str, body: &Value) -> Value {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("request");
        success(resp, path).await
    }

    async fn import(&self, csv: String, batch: usize) -> Value {
        let resp = self
            .http
            .post(format!("{}/api/users/import?batch_size={batch}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .expect("request");
        success(resp, "import").await
    }
}

/// The JSON body of a 2xx answer (the run stops on anything else).
async fn success(resp: reqwest::Response, what: &str) -> Value {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{what}: {status} {body}");
    body
}

fn rustc_running() -> usize {
    std::process::Command::new("pgrep")
        .args(["-c", "rustc"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let users = env("BENCH_USERS", 10_000);
    let clear_users = env("BENCH_CLEAR_USERS", 200);
    let single_users = env("BENCH_SINGLE_USERS", 20);
    let batch = env("BENCH_BATCH", 500);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let rustc_before = rustc_running();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().join("data"),
        admin_password: Some("bench-Passw0rd".into()),
        log_level: "warn".into(),
        ..Config::default()
    };
    println!(
        "users_import: cores {cores}, argon2id m={} KiB t={}, durability {:?}, batch {batch}",
        config.argon2_memory_kib, config.argon2_iterations, config.durability
    );
    let hasher =
        SecretHasher::new(config.argon2_memory_kib, config.argon2_iterations).expect("params");
    let running = switchboard::app::start(config).await.expect("starts");
    running.ready().await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", running.addr);
    let sign_in = |body: Value| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let resp = http
                .post(format!("{base}/api/auth/sign_in"))
                .json(&body)
                .send()
                .await
                .expect("sign in");
            let v: Value = resp.json().await.expect("json");
            v["access_token"].as_str().expect("token").to_owned()
        }
    };
    let sys = Client {
        base: base.clone(),
        http: http.clone(),
        token: sign_in(json!({"username": "admin", "password": "bench-Passw0rd"})).await,
    };
    let tenant = sys
        .post(
            "/api/tenants",
            &json!({"name": "bench", "domain": "bench.example.com", "timezone": "UTC", "currency": "EUR", "region": "FRA"}),
        )
        .await;
    let id = tenant["id"].as_str().expect("id");
    sys.post(&format!("/api/tenants/switch?id={id}"), &json!({}))
        .await;

    // Baseline: one argon2id hash on one thread.
    let n_hash = 10;
    let t = Instant::now();
    let mut phc = String::new();
    for _ in 0..n_hash {
        phc = hasher.hash("a-migrated-password").expect("hash");
    }
    let hash_secs = t.elapsed().as_secs_f64() / n_hash as f64;
    let best_clear = cores as f64 / hash_secs / 3.0;

    // Baseline: POST /api/users one by one.
    let t = Instant::now();
    for i in 0..single_users {
        sys.post(
            "/api/users",
            &json!({"name": format!("s{i}"), "display_name": "S", "email": "s@example.com",
                    "role": "StandardUser", "extension_number": format!("{}", 900_000 + i),
                    "password": "Passw0rd-123", "extension_password": "ext-pass-1", "voicemail_pin": "123456"}),
        )
        .await;
    }
    let single_rate = single_users as f64 / t.elapsed().as_secs_f64();

    // PHC hashes supplied.
    let mut csv = format!("{HEADER},password_hash,extension_password_hash,voicemail_pin_hash\n");
    for i in 0..users {
        // PHC strings hold commas (`m=19456,t=2,p=1`): quoted cells.
        csv.push_str(&format!("{},\"{phc}\",\"{phc}\",\"{phc}\"\n", row(i)));
    }
    let bytes = csv.len();
    let t = Instant::now();
    let report = sys.import(csv, batch).await;
    let phc_secs = t.elapsed().as_secs_f64();
    assert_eq!(report["imported"], users, "{report}");
    let phc_rate = users as f64 / phc_secs;

    // Clear secrets, hashed by the import.
    let mut csv = format!("{HEADER},password,extension_password,voicemail_pin\n");
    for i in users..users + clear_users {
        csv.push_str(&format!("{},Passw0rd-123,ext-pass-1,123456\n", row(i)));
    }
    let t = Instant::now();
    let report = sys.import(csv, batch.min(100)).await;
    let clear_secs = t.elapsed().as_secs_f64();
    assert_eq!(report["imported"], clear_users, "{report}");
    let clear_rate = clear_users as f64 / clear_secs;

    running.stop().await.expect("stops");
    let rustc_after = rustc_running();
    println!("| import | users | seconds | users/s | ratio |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| PHC hashes supplied ({:.1} MiB CSV) | {users} | {phc_secs:.2} | {phc_rate:.0} | {:.0}× one-by-one POST |",
        bytes as f64 / 1048576.0,
        phc_rate / single_rate
    );
    println!(
        "| clear secrets, hashed by the import | {clear_users} | {clear_secs:.2} | {clear_rate:.1} | {:.2} of the hashing bound ({best_clear:.1}/s) |",
        clear_rate / best_clear
    );
    println!(
        "| baseline: POST /api/users one by one (clear) | {single_users} | - | {single_rate:.1} | 1× |"
    );
    println!(
        "| baseline: one argon2id hash, one thread | - | {:.1} ms | - | - |",
        hash_secs * 1000.0
    );
    println!("rustc processes running: {rustc_before} before, {rustc_after} after");
    println!(
        "target ≥ 1000 users/s with PHC hashes: {}",
        if phc_rate >= 1000.0 { "met" } else { "MISSED" }
    );
}
