//! Webhooks survive kill -9: the server is killed while a delivery is in
//! flight (the receiver holds it unanswered), restarted on the same data,
//! and every extension event arrives, in log order, with the in-flight one
//! the only duplicate.

#[path = "support/receiver.rs"]
mod receiver;
#[path = "support/process.rs"]
mod support;

use receiver::{Plan, Receiver};
use serde_json::{json, Value};
use std::collections::HashMap;
use support::{admin_in_tenant, create_extensions, start_server};

const ENV: &[(&str, &str)] = &[
    ("SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
    ("SWITCHBOARD_WEBHOOK_RETRY_BASE_MS", "10"),
    ("SWITCHBOARD_WEBHOOK_RETRY_MAX_MS", "100"),
];

async fn status(client: &reqwest::Client, base: &str, token: &str) -> Value {
    client
        .get(format!("{base}/api/webhooks"))
        .bearer_auth(token)
        .send()
        .await
        .expect("webhooks")
        .json::<Value>()
        .await
        .expect("json")["items"][0]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_survive_kill_9_in_order_with_only_the_in_flight_one_repeated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let rx = Receiver::start().await;
    // Five answered, the sixth held open: it is in flight at the kill.
    rx.plan(&[
        Plan::Status(200),
        Plan::Status(200),
        Plan::Status(200),
        Plan::Status(200),
        Plan::Status(200),
        Plan::Hold,
    ]);
    let client = reqwest::Client::new();
    let mut server = start_server(&data, ENV).await;
    let token = admin_in_tenant(&client, &server.base, true).await;
    let r = client
        .post(format!("{}/api/tenant", server.base))
        .bearer_auth(&token)
        .json(&json!({"extension_event": {"enabled": true, "url": rx.url}}))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    create_extensions(&client, &server.base, &token, 200..210).await;
    let got = rx.wait_for(6).await;
    let in_flight = got[5].offset();
    server.kill();

    // Restarted: the held delivery is retried, the rest follow; more
    // changes made after the restart are delivered after them.
    let server = start_server(&data, ENV).await;
    let token = admin_in_tenant(&client, &server.base, false).await;
    create_extensions(&client, &server.base, &token, 210..213).await;
    let got = rx.wait_for(14).await;
    let last = got.iter().map(|r| r.offset()).max().expect("offsets");
    // Once the server says everything up to the last offset is delivered,
    // nothing else can arrive: the count below is final.
    let mut recorded = server_delivered(&client, &server.base, &token, last).await;
    assert_eq!(recorded, last);

    let got = rx.received();
    let numbers: Vec<String> = got
        .iter()
        .map(|r| r.json["data"]["number"].as_str().unwrap_or("").to_owned())
        .collect();
    let mut expected: Vec<String> = (200..213).map(|n| n.to_string()).collect();
    expected.insert(6, "205".into()); // the in-flight one, again
    assert_eq!(
        numbers, expected,
        "every event, in order, only the in-flight one twice"
    );
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for r in &got {
        *seen.entry(r.offset()).or_default() += 1;
    }
    let repeated: Vec<u64> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(o, _)| *o)
        .collect();
    assert_eq!(repeated, [in_flight]);
    let offsets: Vec<u64> = got.iter().map(|r| r.offset()).collect();
    assert!(
        offsets.windows(2).all(|w| w[0] <= w[1]),
        "log order: {offsets:?}"
    );
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.json["id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        ids[5], ids[6],
        "the redelivery carries the same id (receivers deduplicate)"
    );
    recorded = status(&client, &server.base, &token).await["delivered_through"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(recorded, last);
}

/// Follows the server's own account of delivery until it reaches `last`
/// (bounded; the server persists the cursor right after each 2xx).
async fn server_delivered(client: &reqwest::Client, base: &str, token: &str, last: u64) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let through = status(client, base, token).await["delivered_through"]
            .as_u64()
            .unwrap_or(0);
        if through >= last || std::time::Instant::now() > deadline {
            return through;
        }
        // Another process: no signal to await, so poll.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
