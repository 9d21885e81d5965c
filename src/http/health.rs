//! Liveness and readiness.

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// `GET /healthz`: the process is up and serving HTTP.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 only once the projections have caught up with the log
/// and the log accepts writes.
pub async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Value>) {
    let ready = app.is_ready();
    let body = json!({
        "status": if ready { "ready" } else { "starting" },
        "log_head": app.queries.log_head(),
        "projected": app.queries.applied(),
        "writable": app.pipeline.is_writable(),
        "following": app.pipeline.following(),
        // Commits of a shared (JetStream) log not yet applied here; absent
        // for a local log. A client moving between nodes may be this far behind.
        "replication_lag": app.queries.replication_lag(),
        // Whether this node delivers webhooks (on a shared log, only the
        // holder of the webhook lease does).
        "webhooks_delivering": app.webhooks.leading(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
