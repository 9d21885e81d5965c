//! Crash safety of the log: SIGKILL a process that is appending from many
//! writers, reopen, and find every acknowledged offset readable and intact.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use support::{admin_in_tenant, start_server};

#[path = "support/process.rs"]
mod support;
use switchboard_events::verify::verify_records;
use switchboard_events::{Event, EventLog, LogConfig, SegmentLog};

#[test]
fn every_acknowledged_append_survives_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    for round in 0..3 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args([
                "log",
                "stress",
                "--writers",
                "16",
                "--appends",
                "0",
                "--batch",
                "3",
            ])
            .arg("--data-dir")
            .arg(&data)
            .env("SWITCHBOARD_LOG_LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the appender");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Collect a number of acknowledgements (not a wall-clock span, so a
        // slow machine still kills mid-flight with work done), then kill.
        let mut acked: Vec<(u64, u64)> = Vec::new();
        let want = 20 + 20 * round as usize;
        while acked.len() < want {
            // The bound only stops a hung appender from hanging the test.
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the appender acknowledges appends");
            acked.push(parse(&line));
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        // Acknowledgements already printed before the kill count too.
        while let Ok(line) = rx.try_recv() {
            acked.push(parse(&line));
        }
        reader.join().expect("the reader thread");

        let log = SegmentLog::open(LogConfig::new(&data)).expect("reopens after SIGKILL");
        let max = acked.iter().map(|a| a.1).max().expect("some");
        assert!(
            log.head() >= max,
            "round {round}: head {} < acknowledged {max}",
            log.head()
        );
        for (first, last) in &acked {
            assert_eq!(last - first, 2, "a batch of 3 is contiguous");
            for offset in *first..=*last {
                let env = log
                    .get(offset)
                    .expect("reads")
                    .expect("acknowledged offset present");
                Event::from_envelope(&env).expect("decodes");
            }
        }
        let report = verify_records(log.raw_records(1), |_| {}).expect("whole log verifies");
        assert_eq!(report.count, log.head(), "dense from 1");
        assert_eq!(report.count % 3, 0, "batches landed whole");
        drop(log);
    }
}

fn parse(line: &str) -> (u64, u64) {
    let mut parts = line.split_whitespace();
    assert_eq!(parts.next(), Some("acked"), "line {line:?}");
    let a = parts.next().and_then(|s| s.parse().ok()).expect("first");
    let b = parts.next().and_then(|s| s.parse().ok()).expect("last");
    (a, b)
}

/// Rounds of the server kill test: `CRASH_TEST_ROUNDS` (CI runs 20 in a
/// row; 3 by default so a local `cargo test` stays quick).
fn crash_rounds() -> usize {
    std::env::var("CRASH_TEST_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

/// Every user a server acknowledged, across all rounds so far, is there
/// with its number; no number is held twice. Returns how many users exist.
async fn check_users(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    acked: &[(String, String)],
    round: usize,
) -> usize {
    use serde_json::Value;
    use std::collections::{HashMap, HashSet};
    let mut found: HashMap<String, String> = HashMap::new();
    let mut skip = 0;
    loop {
        let page: Value = client
            .get(format!(
                "{base}/api/users?orderby=name asc&skip={skip}&top=100"
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        let items = page["items"].as_array().expect("items");
        for u in items {
            found.insert(
                u["name"].as_str().expect("name").to_owned(),
                u["extension_number"].as_str().expect("number").to_owned(),
            );
        }
        skip += items.len();
        if items.is_empty() || skip >= page["count"].as_u64().expect("count") as usize {
            break;
        }
    }
    for (name, number) in acked {
        assert_eq!(
            found.get(name),
            Some(number),
            "round {round}: acknowledged user {name} survived with its number"
        );
    }
    let numbers: HashSet<_> = found.values().collect();
    assert_eq!(
        numbers.len(),
        found.len(),
        "round {round}: no duplicate extension numbers"
    );
    found.len()
}

/// kill -9 of a server under load from 32 clients whose user creations
/// collide on extension numbers, repeated on the same data directory: after
/// every restart, every user acknowledged in any round is there with its
/// number, and no number is held twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn users_acknowledged_by_32_concurrent_clients_survive_sigkill_without_duplicate_numbers() {
    use serde_json::json;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let client = reqwest::Client::new();
    let mut server = start_server(&data, &[]).await;
    let mut token = admin_in_tenant(&client, &server.base, true).await;
    let mut acked_all: Vec<(String, String)> = Vec::new();
    let rounds = crash_rounds();
    for round in 0..rounds {
        let acked = std::sync::Arc::new(parking_lot::Mutex::new(Vec::<(String, String)>::new()));
        let (progress_tx, mut progress) = tokio::sync::watch::channel(0usize);
        let progress_tx = std::sync::Arc::new(progress_tx);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut clients = Vec::new();
        for c in 0..32u32 {
            let (client, base, token, acked, stop, progress_tx) = (
                client.clone(),
                server.base.clone(),
                token.clone(),
                acked.clone(),
                stop.clone(),
                progress_tx.clone(),
            );
            clients.push(tokio::spawn(async move {
                let mut i = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // Numbers collide on purpose across clients: 409s must
                    // keep them unique. Each round has its own 200 numbers,
                    // so twenty rounds do not run out of free ones.
                    let number = format!("{}", 1000 + round as u32 * 200 + (c * 7 + i * 13) % 200);
                    let name = format!("r{round}u{c}x{i}");
                    let body = json!({
                        "name": name, "display_name": name, "password": "Passw0rd-123",
                        "email": format!("{name}@example.com"), "role": "StandardUser",
                        "extension_number": number, "extension_password": "ext-pass-1", "voicemail_pin": "123456",
                    });
                    match client.post(format!("{base}/api/users")).bearer_auth(&token).json(&body).send().await {
                        Ok(r) if r.status() == reqwest::StatusCode::CREATED => {
                            acked.lock().push((name, number));
                            progress_tx.send_modify(|n| *n += 1);
                        }
                        Ok(r) => assert!(
                            r.status() == reqwest::StatusCode::CONFLICT,
                            "unexpected status {}",
                            r.status()
                        ),
                        Err(_) => break, // the server died under us: outcome unknown
                    }
                    i += 1;
                }
            }));
        }
        // Kill once enough users were acknowledged (a count, not a duration).
        progress
            .wait_for(|n| *n >= 40)
            .await
            .expect("the clients report progress");
        server.kill();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for c in clients {
            // A failed assertion inside a client fails the test.
            c.await.expect("a client task failed");
        }
        acked_all.extend(acked.lock().iter().cloned());

        server = start_server(&data, &[]).await;
        token = admin_in_tenant(&client, &server.base, false).await;
        let users = check_users(&client, &server.base, &token, &acked_all, round).await;
        assert!(users >= acked_all.len());
    }
    assert!(
        acked_all.len() >= 40 * rounds,
        "made progress: {}",
        acked_all.len()
    );
    server.kill();
}
