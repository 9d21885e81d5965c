//! The service as a real process (for kill -9 tests): start it on a free
//! port with a data directory, wait for `/readyz`, sign in.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A server process with its own data directory.
pub struct Server {
    pub child: std::process::Child,
    pub base: String,
}

impl Server {
    /// SIGKILL: no shutdown, no flush beyond what was acknowledged.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `switchboard serve` on `data` (cheap argon2, quiet logs) with
/// extra environment variables; returns once `/readyz` answers 200.
pub async fn start_server(data: &std::path::Path, env: &[(&str, &str)]) -> Server {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.arg("serve")
        .env("SWITCHBOARD_DATA_DIR", data)
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_ADMIN_PASSWORD", "admin-Passw0rd")
        .env("SWITCHBOARD_ARGON2_MEMORY_KIB", "64")
        .env("SWITCHBOARD_ARGON2_ITERATIONS", "1")
        .env("SWITCHBOARD_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn the server");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    // Readiness has no push signal across processes: poll /readyz, bounded.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "server did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { child, base }
}

/// Signs the system administrator in and switches into the tenant (creating
/// `Crash`/`crash.example` first when `create`); returns the token.
pub async fn admin_in_tenant(client: &reqwest::Client, base: &str, create: bool) -> String {
    let resp: Value = client
        .post(format!("{base}/api/auth/sign_in"))
        .json(&json!({"username": "admin", "password": "admin-Passw0rd"}))
        .send()
        .await
        .expect("sign in")
        .json()
        .await
        .expect("json");
    let token = resp["access_token"].as_str().expect("token").to_owned();
    let tenant_id = if create {
        let body = json!({"name": "Crash", "domain": "crash.example", "timezone": "UTC", "currency": "USD", "region": "USA"});
        let r: Value = client
            .post(format!("{base}/api/tenants"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("tenant")
            .json()
            .await
            .expect("json");
        r["id"].as_str().expect("id").to_owned()
    } else {
        let r: Value = client
            .get(format!("{base}/api/tenants"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("tenants")
            .json()
            .await
            .expect("json");
        r["items"][0]["id"].as_str().expect("id").to_owned()
    };
    let r = client
        .post(format!("{base}/api/tenants/switch?id={tenant_id}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("switch");
    assert!(r.status().is_success());
    token
}

/// Creates extensions `numbers` in the caller's tenant, each acknowledged.
pub async fn create_extensions(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    numbers: std::ops::Range<u32>,
) {
    for n in numbers {
        let r = client
            .post(format!("{base}/api/extensions"))
            .bearer_auth(token)
            .json(&json!({"number": n.to_string()}))
            .send()
            .await
            .expect("create");
        assert_eq!(
            r.status(),
            reqwest::StatusCode::CREATED,
            "extension {n} acknowledged"
        );
    }
}
