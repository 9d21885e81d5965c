//! `spawn_app()` and typed request helpers.

#![allow(dead_code)]

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use switchboard::app::{self, Running};
use switchboard::clock::TestClock;
use switchboard::config::Config;

/// The system administrator's password in tests.
pub const ADMIN_PASSWORD: &str = "admin-Passw0rd";

/// A running service and a client for it.
pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    /// The service's clock: `app.clock.advance(d)` moves past a TTL at once.
    pub clock: Arc<TestClock>,
    running: Option<Running>,
    config: Config,
}

fn init_tracing() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_test_writer()
            .try_init();
    }
}

/// A test configuration: port 0, a temporary data dir, cheap argon2.
pub fn test_config(data_dir: PathBuf) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir,
        admin_password: Some(ADMIN_PASSWORD.into()),
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        shutdown_grace_secs: 5,
        ..Config::default()
    }
}

/// Starts the service on a fresh data directory and waits until ready.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], adjusting the configuration first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path().join("data"));
    adjust(&mut config);
    started(dir, config, None).await
}

/// Starts the service (on `log` if given) with a fresh test clock and
/// waits until it is ready.
async fn started(
    dir: tempfile::TempDir,
    config: Config,
    log: Option<Arc<dyn switchboard_events::EventLog>>,
) -> TestApp {
    let clock = TestClock::new();
    let running = app::start_with(config.clone(), clock.clone(), log)
        .await
        .expect("service starts");
    running.ready().await;
    let addr = running.addr;
    TestApp {
        addr,
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        dir,
        clock,
        running: Some(running),
        config,
    }
}

/// Starts the service on an already-open log (a wrapper that injects
/// faults) over `dir`, and waits until ready.
pub async fn spawn_app_on_log(
    dir: tempfile::TempDir,
    log: Arc<dyn switchboard_events::EventLog>,
) -> TestApp {
    init_tracing();
    let config = test_config(dir.path().join("data"));
    started(dir, config, Some(log)).await
}

impl TestApp {
    /// Asks the service to stop without waiting (in-flight requests go on).
    pub fn begin_shutdown(&self) {
        if let Some(r) = &self.running {
            r.shutdown();
        }
    }

    /// Stops the service gracefully and starts it again on the same data.
    pub async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("clean stop");
        }
        let running = app::start_with_clock(self.config.clone(), self.clock.clone())
            .await
            .expect("service restarts");
        running.ready().await;
        self.addr = running.addr;
        self.base = format!("http://{}", running.addr);
        self.running = Some(running);
    }

    /// Like [`TestApp::restart`], adjusting the configuration first.
    pub async fn restart_with(&mut self, adjust: impl FnOnce(&mut Config)) {
        adjust(&mut self.config);
        self.restart().await;
    }

    /// Stops the service gracefully.
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("clean stop");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A GET. `#[must_use]`: a request whose answer nobody checks proves nothing
    /// (and a failed setup step would surface later as a confusing failure).
    #[must_use = "check the answer (status or body) of every request"]
    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// A POST with a JSON body; `#[must_use]` like [`TestApp::get`].
    #[must_use = "check the answer (status or body) of every request"]
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// Signs in and returns the token response.
    pub async fn sign_in(&self, username: &str, password: &str, domain: Option<&str>) -> Response {
        let mut body = json!({ "username": username, "password": password });
        if let Some(d) = domain {
            body["domain"] = json!(d);
        }
        self.post("/api/auth/sign_in", None, &body).await
    }

    /// Signs in as the system administrator; returns the access token.
    pub async fn admin_token(&self) -> String {
        let resp = self.sign_in("admin", ADMIN_PASSWORD, None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.expect("json");
        body["access_token"].as_str().expect("token").to_owned()
    }
}

/// Asserts a successful (2xx) answer, for setup steps a test relies on, and
/// returns its JSON body (`null` when there is none).
pub async fn ok(resp: Response) -> Value {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    assert!(status.is_success(), "expected 2xx, got {status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts a PortSIP error answer and returns its first error.
pub async fn assert_error(resp: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(resp.status(), status, "status");
    let body: Value = resp.json().await.expect("error body is JSON");
    let err = body["errors"][0].clone();
    assert_eq!(err["code"], code, "code in {body}");
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message in {body}"
    );
    err
}

/// A tenant with its own Admin, for tests that work inside a tenant.
pub struct TenantCtx {
    /// The tenant's PortSIP id.
    pub id: String,
    /// Its SIP domain.
    pub domain: String,
    /// An access token of the tenant's Admin (`boss`, extension 100).
    pub admin: String,
}

/// The body of a valid user creation.
pub fn user_body(name: &str, number: &str) -> Value {
    json!({
        "name": name,
        "display_name": format!("{name} display"),
        "password": "Passw0rd-123",
        "email": format!("{name}@example.com"),
        "role": "StandardUser",
        "extension_number": number,
        "extension_password": "ext-pass-1",
        "voicemail_pin": "123456",
    })
}

impl TestApp {
    /// Creates a tenant as the system administrator and switches the
    /// administrator's session into it; returns (that token, tenant id).
    pub async fn switched_tenant(&self, name: &str, domain: &str) -> (String, String) {
        let sys = self.admin_token().await;
        let body = json!({"name": name, "domain": domain, "timezone": "Europe/Paris", "currency": "EUR", "region": "FRA"});
        let resp = self.post("/api/tenants", Some(&sys), &body).await;
        assert_eq!(resp.status(), StatusCode::CREATED, "tenant created");
        let id = resp.json::<Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let resp = self
            .post(
                &format!("/api/tenants/switch?id={id}"),
                Some(&sys),
                &json!({}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "switched");
        (sys, id)
    }

    /// Creates a tenant and an Admin in it; signs the Admin in.
    pub async fn tenant(&self, domain: &str) -> TenantCtx {
        let (sys, id) = self.switched_tenant(domain, domain).await;
        let mut boss = user_body("boss", "100");
        boss["role"] = json!("Admin");
        let resp = self.post("/api/users", Some(&sys), &boss).await;
        assert_eq!(resp.status(), StatusCode::CREATED, "admin created");
        let admin = self.token_for("boss", "Passw0rd-123", domain).await;
        TenantCtx {
            id,
            domain: domain.to_owned(),
            admin,
        }
    }

    /// Signs a tenant user in; returns the access token.
    pub async fn token_for(&self, name: &str, password: &str, domain: &str) -> String {
        let resp = self.sign_in(name, password, Some(domain)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{name} signs in");
        resp.json::<Value>().await.expect("json")["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Creates a user; returns its id.
    pub async fn create_user(&self, token: &str, body: &Value) -> String {
        let resp = self.post("/api/users", Some(token), body).await;
        let status = resp.status();
        let json: Value = resp.json().await.expect("json");
        assert_eq!(status, StatusCode::CREATED, "user created: {json}");
        json["id"].as_str().expect("id").to_owned()
    }
}

impl TestApp {
    /// The running service's shared state (projector and log).
    pub fn state(&self) -> &switchboard::http::AppState {
        &self.running.as_ref().expect("the service is running").state
    }

    /// Where `/metrics` is served without a token (`metrics_listen`).
    pub fn state_metrics_addr(&self) -> std::net::SocketAddr {
        self.running
            .as_ref()
            .and_then(|r| r.metrics_addr)
            .expect("metrics_listen is set and the service runs")
    }

    /// The running service's log (tests that write records directly).
    pub fn log(&self) -> std::sync::Arc<dyn switchboard_events::EventLog> {
        self.running
            .as_ref()
            .expect("the service is running")
            .log
            .clone()
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }
}
