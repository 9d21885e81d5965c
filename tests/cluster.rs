//! The JetStream backend in a real cluster (issue #18): three `nats-server`
//! processes (one JetStream cluster, the stream on three replicas) and three
//! switchboard processes on it. 32 writers spread over the nodes create
//! users, contending for the same extension numbers; one switchboard node
//! and one NATS server are killed with SIGKILL in the middle. Afterwards
//! every acknowledged user is on every surviving node with its number, no
//! number is held twice, both survivors serve the same directory, and
//! `log verify --on` the stream passes (CRCs, dense offsets, the chain).

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{admin_in_tenant, start_server, Server};
use switchboard_events::jetstream::harness::NatsCluster;

#[path = "support/process.rs"]
mod support;

const WRITERS: usize = 32;
/// Acknowledged creations before the kills, and in all.
const BEFORE_KILL: usize = 120;
const TOTAL: usize = 300;

fn node_env(urls: &str, name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SWITCHBOARD_LOG_BACKEND", "jetstream".into()),
        ("SWITCHBOARD_JETSTREAM_SERVERS", urls.to_owned()),
        ("SWITCHBOARD_JETSTREAM_STREAM", "cluster".into()),
        ("SWITCHBOARD_JETSTREAM_REPLICAS", "3".into()),
        ("SWITCHBOARD_JETSTREAM_TIMEOUT_MS", "2000".into()),
        ("SWITCHBOARD_SYNC_TOKEN_SECRET", "cluster sync".into()),
        ("SWITCHBOARD_SECRETS_KEY", "cluster secrets".into()),
        ("SWITCHBOARD_WEBHOOK_SECRET", "cluster webhooks".into()),
        ("SWITCHBOARD_NODE_NAME", name.to_owned()),
    ]
}

async fn start_node(dir: &std::path::Path, urls: &str, name: &str) -> Server {
    let env = node_env(urls, name);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start_server(&dir.join(name), &env).await
}

/// Polls `GET path` on `base` until `done` holds for the JSON answer (no
/// push signal crosses processes; bounded).
async fn poll(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut req = client.get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Ok(resp) = req.send().await {
            if let Ok(body) = resp.json::<Value>().await {
                if done(&body) {
                    return body;
                }
            }
        }
        assert!(Instant::now() < deadline, "{url} never got there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every user of the tenant on a node: name → extension number.
async fn users(client: &reqwest::Client, base: &str, token: &str) -> BTreeMap<String, String> {
    let mut all = BTreeMap::new();
    for page in 0.. {
        let body: Value = client
            .get(format!("{base}/api/users?top=100&skip={}", page * 100))
            .bearer_auth(token)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        let items = body["items"].as_array().cloned().unwrap_or_default();
        for u in &items {
            let number = u["extension_number"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let name = u["name"].as_str().unwrap_or_default().to_owned();
            assert!(
                all.insert(name.clone(), number).is_none(),
                "{name} listed twice"
            );
        }
        if items.len() < 100 {
            break;
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_killing_a_node_and_a_nats_server() {
    let mut cluster = NatsCluster::start(3).expect("a three-server cluster");
    let urls = cluster.urls().join(",");
    let dir = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();

    // The first node bootstraps the stream and the administrator; the
    // others join the same log.
    let mut nodes = vec![start_node(dir.path(), &urls, "n1").await];
    let token = admin_in_tenant(&client, &nodes[0].base, true).await;
    for name in ["n2", "n3"] {
        nodes.push(start_node(dir.path(), &urls, name).await);
    }
    let mut tokens = vec![token];
    for node in &nodes[1..] {
        let url = format!("{}/readyz", node.base);
        let head = poll(&client, &format!("{}/readyz", nodes[0].base), None, |_| {
            true
        })
        .await["log_head"]
            .as_u64()
            .expect("head");
        poll(&client, &url, None, |b| {
            b["projected"].as_u64() >= Some(head)
        })
        .await;
        tokens.push(admin_in_tenant(&client, &node.base, false).await);
    }

    let acked = Arc::new(parking_lot::Mutex::new(Vec::<(String, String)>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let dead = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let node = w % nodes.len();
        let (base, token) = (nodes[node].base.clone(), tokens[node].clone());
        let (client, acked, count, dead, stop) = (
            client.clone(),
            acked.clone(),
            count.clone(),
            dead.clone(),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            for i in 0u64.. {
                // Writers of the node that is killed stop with it.
                if stop.load(Ordering::Acquire) || (node == 2 && dead.load(Ordering::Acquire)) {
                    return;
                }
                let name = format!("w{w}-{i}");
                // Writers contend: 32 writers draw from 400 numbers.
                let number = format!("{}", 1000 + (i * 31 + w as u64 * 13) % 400);
                let body = json!({
                    "name": name, "display_name": name, "password": "Passw0rd-123",
                    "email": format!("{name}@example.com"), "role": "StandardUser",
                    "extension_number": number, "extension_password": "ext-pass-1",
                    "voicemail_pin": "123456",
                });
                let sent = client
                    .post(format!("{base}/api/users"))
                    .bearer_auth(&token)
                    .json(&body)
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == reqwest::StatusCode::CREATED => {
                        acked.lock().push((name, number));
                        count.fetch_add(1, Ordering::AcqRel);
                    }
                    Ok(r) => {
                        let status = r.status();
                        // Taken numbers (409) and refusals while JetStream
                        // is unreachable (503) are not acknowledgements.
                        assert!(
                            status == reqwest::StatusCode::CONFLICT
                                || status == reqwest::StatusCode::SERVICE_UNAVAILABLE,
                            "{name}: unexpected {status}: {}",
                            r.text().await.unwrap_or_default()
                        );
                        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                    // The connection to a killed node fails.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }));
    }

    let wait_for = |n: usize| {
        let count = count.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            while count.load(Ordering::Acquire) < n {
                assert!(
                    Instant::now() < deadline,
                    "only {} acknowledged",
                    count.load(Ordering::Acquire)
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_for(BEFORE_KILL).await;
    dead.store(true, Ordering::Release);
    nodes[2].kill();
    cluster.servers[1].kill9().expect("kill -9 a NATS server");
    // The survivors keep serving: acknowledgements go on.
    wait_for(TOTAL).await;
    stop.store(true, Ordering::Release);
    for w in writers {
        w.await.expect("writer");
    }
    let acked = acked.lock().clone();

    // Both survivors converge on the stream's head.
    let heads: Vec<u64> = {
        let mut heads = Vec::new();
        for node in &nodes[..2] {
            let body = poll(&client, &format!("{}/readyz", node.base), None, |b| {
                b["replication_lag"] == 0 && b["projected"] == b["log_head"]
            })
            .await;
            heads.push(body["log_head"].as_u64().expect("head"));
        }
        heads
    };
    let head = *heads.iter().max().expect("heads");
    for node in &nodes[..2] {
        poll(&client, &format!("{}/readyz", node.base), None, |b| {
            b["projected"].as_u64() >= Some(head)
        })
        .await;
    }
    let on_1 = users(&client, &nodes[0].base, &tokens[0]).await;
    let on_2 = users(&client, &nodes[1].base, &tokens[1]).await;
    assert_eq!(on_1, on_2, "both survivors serve the same directory");
    for (name, number) in &acked {
        assert_eq!(on_1.get(name), Some(number), "acknowledged {name} is there");
    }
    let numbers: BTreeSet<&String> = on_1.values().collect();
    assert_eq!(numbers.len(), on_1.len(), "no extension number held twice");

    // The stream itself: every CRC, dense offsets, the chain.
    let survivor = &cluster.servers[0].url;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "log",
            "verify",
            "--on",
            &format!("jetstream:{survivor}/cluster"),
        ])
        .env("SWITCHBOARD_LOG_LEVEL", "warn")
        .output()
        .expect("log verify");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verified: u64 = stdout
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(
        verified >= head,
        "the stream holds {verified} records, the nodes saw {head}"
    );
}
