//! The JetStream backend in a real cluster (issue #18): three `nats-server`
//! processes (one JetStream cluster, the stream on three replicas) and three
//! switchboard processes on it. 32 writers spread over the nodes create
//! users, contending for the same extension numbers; one switchboard node
//! and one NATS server are killed with SIGKILL in the middle. Afterwards
//! every acknowledged user is on every surviving node with its number, no
//! number is held twice, both survivors serve the same directory, and
//! `log verify --on` the stream passes (CRCs, dense offsets, the chain).
//!
//! Webhooks on several nodes: two nodes, one receiver; only the node
//! holding the webhook lease delivers, so each event arrives once; after
//! that node is killed with SIGKILL the other takes over at the shared
//! cursor and every later event arrives too. A parked subscription is
//! resumed through the node that does not deliver.

use receiver::{Plan, Receiver};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{admin_in_tenant, create_extensions, start_server, Server};
use switchboard_events::jetstream::harness::{NatsCluster, NatsServer};

#[path = "support/receiver.rs"]
mod receiver;
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

/// Two webhook nodes on one stream, the second caught up with the first,
/// an admin of the same tenant signed in on each, and the tenant's
/// extension events subscribed to `hook_url`.
async fn two_hook_nodes_subscribed(
    client: &reqwest::Client,
    dir: &std::path::Path,
    url: &str,
    names: [&str; 2],
    hook_url: &str,
) -> (Vec<Server>, Vec<String>) {
    let mut nodes = vec![hook_node(dir, url, names[0]).await];
    let mut tokens = vec![admin_in_tenant(client, &nodes[0].base, true).await];
    nodes.push(hook_node(dir, url, names[1]).await);
    let head = poll(client, &format!("{}/readyz", nodes[0].base), None, |_| true).await["log_head"]
        .as_u64()
        .expect("head");
    poll(client, &format!("{}/readyz", nodes[1].base), None, |b| {
        b["projected"].as_u64() >= Some(head)
    })
    .await;
    tokens.push(admin_in_tenant(client, &nodes[1].base, false).await);
    let r = client
        .post(format!("{}/api/tenant", nodes[0].base))
        .bearer_auth(&tokens[0])
        .json(&json!({"extension_event": {"enabled": true, "url": hook_url}}))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    (nodes, tokens)
}

/// A node on a one-server stream `hooks` that delivers webhooks to a local
/// receiver, retrying fast.
async fn hook_node(dir: &std::path::Path, url: &str, name: &str) -> Server {
    let mut env = node_env(url, name);
    env.retain(|(k, _)| {
        *k != "SWITCHBOARD_JETSTREAM_REPLICAS" && *k != "SWITCHBOARD_JETSTREAM_STREAM"
    });
    env.extend([
        ("SWITCHBOARD_JETSTREAM_STREAM", "hooks".to_owned()),
        (
            "SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS",
            "true".to_owned(),
        ),
        ("SWITCHBOARD_WEBHOOK_RETRY_BASE_MS", "10".to_owned()),
        ("SWITCHBOARD_WEBHOOK_RETRY_MAX_MS", "100".to_owned()),
        ("SWITCHBOARD_WEBHOOK_MAX_ATTEMPTS", "3".to_owned()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start_server(&dir.join(name), &env).await
}

/// Delivered extension numbers, each with how many times it arrived.
fn delivered(rx: &Receiver) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for r in rx.received() {
        let number = r.json["data"]["number"].as_str().unwrap_or("").to_owned();
        *seen.entry(number).or_insert(0) += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_are_delivered_once_by_one_node_and_by_another_after_it_dies() {
    let server = NatsServer::start().expect("nats-server");
    let dir = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();
    let rx = Receiver::start().await;
    let (mut nodes, tokens) =
        two_hook_nodes_subscribed(&client, dir.path(), &server.url, ["h1", "h2"], &rx.url).await;

    // Changes through both nodes; one node delivers them, each once.
    create_extensions(&client, &nodes[0].base, &tokens[0], 300..310).await;
    create_extensions(&client, &nodes[1].base, &tokens[1], 310..320).await;
    rx.wait_for(20).await;
    // One more, delivered after the twenty (in order): had the other node
    // delivered too, its copies would be arriving meanwhile.
    create_extensions(&client, &nodes[1].base, &tokens[1], 320..321).await;
    rx.wait_for(21).await;
    let once = delivered(&rx);
    let expected: Vec<String> = (300..321).map(|n| n.to_string()).collect();
    assert_eq!(once.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(
        once.values().all(|n| *n == 1),
        "each event delivered once: {once:?}"
    );

    // The delivering node (the lease holder) dies; the other takes over.
    let mut delivering = Vec::new();
    for node in &nodes {
        let body = poll(&client, &format!("{}/readyz", node.base), None, |_| true).await;
        delivering.push(body["webhooks_delivering"] == true);
    }
    assert_eq!(
        delivering.iter().filter(|d| **d).count(),
        1,
        "exactly one node delivers: {delivering:?}"
    );
    let dead = delivering.iter().position(|d| *d).expect("a deliverer");
    let alive = 1 - dead;
    // The other node judges a resume by the shared state: nothing parked.
    let r = client
        .post(format!(
            "{}/api/webhooks/extension_event/resume",
            nodes[alive].base
        ))
        .bearer_auth(&tokens[alive])
        .json(&json!({}))
        .send()
        .await
        .expect("resume");
    assert_eq!(r.status(), reqwest::StatusCode::CONFLICT);
    let body: Value = r.json().await.expect("json");
    assert!(body.to_string().contains("WEBHOOK_NOT_PARKED"), "{body}");
    // The other node sees the deliverer's cursor (shared) reach the last
    // delivered event: nothing delivered so far is sent again after the kill.
    let last = rx
        .received()
        .iter()
        .map(|r| r.offset())
        .max()
        .expect("offsets");
    poll(
        &client,
        &format!("{}/api/webhooks", nodes[alive].base),
        Some(&tokens[alive]),
        |b| b["items"][0]["delivered_through"].as_u64() >= Some(last),
    )
    .await;
    nodes[dead].kill();
    create_extensions(&client, &nodes[alive].base, &tokens[alive], 321..331).await;
    let expected: Vec<String> = (300..331).map(|n| n.to_string()).collect();
    let mut n = 31;
    loop {
        rx.wait_for(n).await;
        let all = delivered(&rx);
        if all.len() >= expected.len() {
            assert_eq!(all.keys().cloned().collect::<Vec<_>>(), expected);
            // Only what is in flight at a kill may come twice (none here:
            // the shared cursor was past everything delivered).
            assert!(
                all.values().all(|n| *n == 1),
                "each event once across the handover: {all:?}"
            );
            break;
        }
        n = rx.received().len() + 1;
    }
    poll(
        &client,
        &format!("{}/readyz", nodes[alive].base),
        None,
        |b| b["webhooks_delivering"] == true,
    )
    .await;
}

/// A subscription parked on the delivering node is resumed by a request to
/// the other node: the resume is forwarded through the shared bucket and
/// the parked event is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_parked_subscription_is_resumed_through_the_node_that_does_not_deliver() {
    let server = NatsServer::start().expect("nats-server");
    let dir = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();
    let rx = Receiver::start().await;
    let (nodes, tokens) =
        two_hook_nodes_subscribed(&client, dir.path(), &server.url, ["p1", "p2"], &rx.url).await;
    // Which node delivers, once one has taken the lease.
    let deadline = Instant::now() + Duration::from_secs(60);
    let other = loop {
        let mut delivering = Vec::new();
        for node in &nodes {
            let body = poll(&client, &format!("{}/readyz", node.base), None, |_| true).await;
            delivering.push(body["webhooks_delivering"] == true);
        }
        if delivering.iter().filter(|d| **d).count() == 1 {
            break delivering.iter().position(|d| !*d).expect("the other");
        }
        assert!(Instant::now() < deadline, "no node took the lease");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Every attempt fails (three, the nodes' limit): the subscription parks.
    rx.plan(&[Plan::Status(503), Plan::Status(503), Plan::Status(503)]);
    create_extensions(&client, &nodes[0].base, &tokens[0], 400..401).await;
    rx.wait_for(3).await;
    let url = format!("{}/api/webhooks", nodes[other].base);
    poll(&client, &url, Some(&tokens[other]), |b| {
        b["items"][0]["status"] == "DEAD_LETTER"
    })
    .await;
    let r = client
        .post(format!(
            "{}/api/webhooks/extension_event/resume",
            nodes[other].base
        ))
        .bearer_auth(&tokens[other])
        .json(&json!({}))
        .send()
        .await
        .expect("resume");
    assert_eq!(r.status(), reqwest::StatusCode::OK, "forwarded");
    let got = rx.wait_for(4).await;
    assert_eq!(got[3].json["data"]["number"], "400", "the parked event");
    poll(&client, &url, Some(&tokens[other]), |b| {
        b["items"][0]["status"] == "ACTIVE"
    })
    .await;
}
