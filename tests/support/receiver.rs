//! A local webhook receiver for tests: records every request it gets (in
//! arrival order) and answers from a plan (`Status(code)` or `Hold`: never
//! answer, as a receiver that is slow when the sender dies), then 200.

#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub json: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }

    pub fn offset(&self) -> u64 {
        self.json["offset"].as_u64().expect("offset")
    }
}

/// How to answer the next request.
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    Status(u16),
    Hold,
    /// 401 with this `WWW-Authenticate` challenge.
    Challenge(&'static str),
}

#[derive(Clone)]
struct Inner {
    log: Arc<Mutex<Vec<Received>>>,
    plan: Arc<Mutex<VecDeque<Plan>>>,
    count: Arc<watch::Sender<usize>>,
}

pub struct Receiver {
    pub url: String,
    inner: Inner,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inner = Inner {
            log: Arc::new(Mutex::new(Vec::new())),
            plan: Arc::new(Mutex::new(VecDeque::new())),
            count: Arc::new(watch::channel(0).0),
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            inner,
            task,
        }
    }

    /// Answers the next requests as planned (then 200 again).
    pub fn plan(&self, answers: &[Plan]) {
        self.inner.plan.lock().extend(answers.iter().copied());
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.log.lock().clone()
    }

    /// Waits until at least `n` requests arrived (the bound only limits how
    /// long a failing test hangs; a passing one returns on the signal).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let mut rx = self.inner.count.subscribe();
        let got = tokio::time::timeout(Duration::from_secs(60), rx.wait_for(|c| *c >= n)).await;
        // One lock at a time: two guards in one statement would deadlock
        // (the mutex is not reentrant), hanging the failing test for good.
        let types: Vec<_> = self
            .inner
            .log
            .lock()
            .iter()
            .map(|r| r.json["type"].clone())
            .collect();
        assert!(
            got.is_ok(),
            "the receiver got {} requests, expected {n}: {types:?}",
            types.len()
        );
        self.received()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(inner): State<Inner>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    inner.log.lock().push(Received {
        headers,
        body,
        json,
    });
    let plan = inner.plan.lock().pop_front();
    inner.count.send_modify(|c| *c += 1);
    match plan {
        Some(Plan::Status(code)) => StatusCode::from_u16(code)
            .unwrap_or(StatusCode::OK)
            .into_response(),
        Some(Plan::Hold) => {
            std::future::pending::<()>().await;
            StatusCode::OK.into_response()
        }
        Some(Plan::Challenge(c)) => {
            (StatusCode::UNAUTHORIZED, [("www-authenticate", c)]).into_response()
        }
        None => StatusCode::OK.into_response(),
    }
}
