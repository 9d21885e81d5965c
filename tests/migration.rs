//! A wave-1 data directory (the fixture in `tests/fixtures/wave1/`, written
//! by wave-1 code) served by today's binary: migrated once, with the same
//! head hash and the same state.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use switchboard::app;
use switchboard::config::Config;

const RECORDS: u64 = 364;
const HEAD_HASH: &str = "4522531329bc6c2738d1cf37ca16fcf24e3a3804f4d5733d9f50ddcc803e6840";

/// `switchboard replay` of the first RECORDS records into `out`.
fn replay_to(data: &Path, out: &Path) {
    switchboard(
        data,
        &[
            "replay",
            "--until-offset",
            &RECORDS.to_string(),
            "--out",
            out.to_str().expect("utf-8"),
        ],
    );
}

fn switchboard(data: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("SWITCHBOARD_LOG_LEVEL", "warn")
        .output()
        .expect("runs the binary");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).expect("read"),
            )
        })
        .collect();
    files.sort();
    files
}

async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    password: &str,
    domain: Option<&str>,
) -> reqwest::Response {
    let mut body = json!({"username": name, "password": password});
    if let Some(d) = domain {
        body["domain"] = json!(d);
    }
    client
        .post(format!("{base}/api/auth/sign_in"))
        .json(&body)
        .send()
        .await
        .expect("sign in")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave1_data_directory_is_served_with_the_same_head_hash_and_state() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wave1/data"))
        .arg(&data)
        .status()
        .expect("cp");
    assert!(copied.success());
    // Before: the tools read the wave-1 records where they are.
    let before = switchboard(&data, &["log", "verify"]);
    assert!(
        before.contains(&format!("ok: {RECORDS} records, head hash {HEAD_HASH}")),
        "{before}"
    );
    let out_before = tmp.path().join("state-before");
    replay_to(&data, &out_before);

    // Serve it: the first start migrates.
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: data.clone(),
        admin_password: Some("admin-Passw0rd".into()),
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        shutdown_grace_secs: 5,
        ..Config::default()
    };
    let running = app::start(config)
        .await
        .expect("starts on a wave-1 directory");
    running.ready().await;
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    let r = sign_in(&client, &base, "boss", "Passw0rd-123", Some("acme.example")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let token = r.json::<Value>().await.expect("json")["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let users: Value = client
        .get(format!("{base}/api/users?top=100"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    // boss, user00..user11, registrar; user11 was deleted.
    assert_eq!(users["count"], 13, "{users}");
    assert!(users["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|u| u["name"] != "user11"));
    // user01's password change survived; the old password is refused.
    let r = sign_in(
        &client,
        &base,
        "user01",
        "Passw0rd-456",
        Some("acme.example"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = sign_in(
        &client,
        &base,
        "user01",
        "Passw0rd-123",
        Some("acme.example"),
    )
    .await;
    assert_ne!(r.status(), StatusCode::OK);
    running.stop().await.expect("stops");

    // After: the same records, and the same state from them.
    assert!(!data.join("db").exists(), "the wave-1 files are gone");
    let after = switchboard(&data, &["log", "verify"]);
    // The start above appended sign-in sessions after the migrated records.
    let count: u64 = after
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(count > RECORDS, "{after}");
    let export = switchboard(&data, &["log", "export", "--to", &RECORDS.to_string()]);
    let last: Value = serde_json::from_str(export.lines().last().expect("lines")).expect("json");
    assert_eq!(last["offset"], RECORDS);
    assert_eq!(
        last["hash"], HEAD_HASH,
        "the migrated record {RECORDS} has the wave-1 hash"
    );
    let out_after = tmp.path().join("state-after");
    replay_to(&data, &out_after);
    assert_eq!(
        read_files(&out_after),
        read_files(&out_before),
        "the same state"
    );
}
