//! The service under faults: the log stops taking writes (a storage error),
//! a graceful shutdown with a request in flight, and a concurrent change
//! caught by the log's version check.

use crate::helpers::{assert_error, ok, spawn_app, spawn_app_on_log, user_body};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use switchboard_events::domain::UserUpdated;
use switchboard_events::log::EnvelopeIter;
use switchboard_events::{
    AppendError, AppendRequest, Appended, Envelope, Event, EventLog, Fields, Id, LogConfig,
    LogError, Metadata, SledLog, StreamId,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// The real log, with a switch that makes it fail like a log whose storage
/// failed: appends refused, not writable. (The log's own reaction to an
/// fsync error is tested where the log is.)
struct FaultyLog {
    inner: SledLog,
    broken: AtomicBool,
}

impl EventLog for FaultyLog {
    fn append(&self, request: AppendRequest) -> BoxFuture<'static, Result<Appended, AppendError>> {
        if self.broken.load(Ordering::Acquire) {
            return Box::pin(async {
                Err(AppendError::Unavailable(
                    "storage failed during append: injected".into(),
                ))
            });
        }
        self.inner.append(request)
    }
    fn read_all(&self, from: u64) -> EnvelopeIter<'_> {
        self.inner.read_all(from)
    }
    fn read_stream(&self, stream: &StreamId, from_version: u64) -> EnvelopeIter<'_> {
        self.inner.read_stream(stream, from_version)
    }
    fn subscribe(&self, from: u64) -> BoxStream<'static, Result<Envelope, LogError>> {
        self.inner.subscribe(from)
    }
    fn head(&self) -> u64 {
        self.inner.head()
    }
    fn watch_head(&self) -> watch::Receiver<u64> {
        self.inner.watch_head()
    }
    fn stream_version(&self, stream: &StreamId) -> Result<u64, LogError> {
        self.inner.stream_version(stream)
    }
    fn get(&self, offset: u64) -> Result<Option<Envelope>, LogError> {
        self.inner.get(offset)
    }
    fn close(&self) -> BoxFuture<'static, ()> {
        self.inner.close()
    }
    fn is_writable(&self) -> bool {
        !self.broken.load(Ordering::Acquire) && self.inner.is_writable()
    }
}

#[tokio::test]
async fn a_log_that_stops_taking_writes_turns_readiness_red_and_writes_into_503() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inner = SledLog::open(LogConfig::new(dir.path().join("data"))).expect("opens");
    let log = Arc::new(FaultyLog {
        inner,
        broken: AtomicBool::new(false),
    });
    let app = spawn_app_on_log(dir, log.clone()).await;
    let t = app.tenant("faults.example").await;
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);

    log.broken.store(true, Ordering::Release);
    let resp = app.get("/readyz", None).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["writable"], false);
    assert_error(
        app.post("/api/users", Some(&t.admin), &user_body("ann", "101"))
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    )
    .await;
    // Nothing was half-done: the directory still answers reads, without ann.
    let users = ok(app.get("/api/users", Some(&t.admin)).await).await;
    assert_eq!(users["count"], 1, "only the Admin: {users}");
    assert_eq!(
        app.get("/healthz", None).await.status(),
        StatusCode::OK,
        "alive"
    );
}

/// Reads an HTTP/1.1 response head (and what follows in the same reads)
/// until `needle` appears.
async fn read_until(s: &mut tokio::net::TcpStream, buf: &mut Vec<u8>, needle: &str) {
    while !String::from_utf8_lossy(buf).contains(needle) {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.expect("read");
        assert!(
            n > 0,
            "connection closed before {needle:?}: {}",
            String::from_utf8_lossy(buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn graceful_shutdown_finishes_a_request_in_flight_and_keeps_its_write() {
    let mut app = spawn_app().await;
    let t = app.tenant("drain.example").await;
    let body = user_body("late", "150").to_string();
    let mut s = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/users HTTP/1.1\r\nHost: switchboard\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        t.admin,
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("head");
    // `100 Continue` comes when the handler starts reading the body: the
    // request is in flight (the explicit signal to shut down on).
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, "100 Continue\r\n\r\n").await;
    app.begin_shutdown();
    s.write_all(body.as_bytes()).await.expect("body");
    buf.clear();
    read_until(&mut s, &mut buf, "\r\n\r\n").await;
    let answer = String::from_utf8_lossy(&buf).into_owned();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    app.stop().await;

    app.restart().await;
    let admin = app.token_for("boss", "Passw0rd-123", "drain.example").await;
    let users = ok(app
        .get("/api/users?filter=name eq 'late'", Some(&admin))
        .await)
    .await;
    assert_eq!(users["count"], 1, "the drained request's write is durable");
}

#[tokio::test]
async fn a_change_that_slipped_past_the_write_model_is_refused_with_409() {
    let app = spawn_app().await;
    let t = app.tenant("occ.example").await;
    let user = app.create_user(&t.admin, &user_body("ann", "101")).await;
    let resp = app
        .post("/api/extensions", Some(&t.admin), &json!({"number": "201"}))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let ext = resp.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // Another writer (say, a second node) appends to ann's stream. It lands
    // in a scope this directory does not route to ann, so the write model
    // still holds the old version, exactly as if the change had not been
    // applied yet; the log's version check must catch it.
    let raw = switchboard::http::ids::portsip::parse(&user).expect("a PortSIP id");
    let event = Event::UserUpdated(UserUpdated {
        user_id: raw,
        changes: Fields::new().into(),
    });
    let mut foreign = event.to_new_event(Id(4_000_000_000)).expect("encodes");
    foreign.stream = StreamId::of("user", raw);
    app.log()
        .append(AppendRequest {
            events: vec![foreign],
            expected: vec![],
            metadata: Arc::new(Metadata::system("test")),
        })
        .await
        .expect("appended");
    let err = assert_error(
        app.post(
            &format!("/api/users/{user}/extensions/{ext}"),
            Some(&t.admin),
            &json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "CONCURRENT_MODIFICATION",
    )
    .await;
    assert!(
        err["message"].as_str().unwrap_or("").contains("retry"),
        "{err}"
    );
    // Nothing of the refused command landed.
    let links = ok(app
        .get(&format!("/api/users/{user}/extensions"), Some(&t.admin))
        .await)
    .await;
    assert!(
        !links.to_string().contains(&ext),
        "the refused link is not there: {links}"
    );
}
