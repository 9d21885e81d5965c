//! HTTP side of the metrics: every request counted and timed by its
//! route's path template, and `/metrics` itself.
//!
//! The template is the route's declared path (the route table): [`track`]
//! (outermost) puts an empty slot in the request, [`record_template`] (a
//! layer the route table puts on every declared route) fills it with the
//! route's path, and [`track`] reads it once the answer is ready. Requests
//! no route matched are labelled `unmatched`, so a scan of random paths
//! adds one series, not one per path.

use super::error::ApiError;
use super::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Where the matched route's template is left for [`track`].
#[derive(Clone, Default)]
struct RouteSlot(Arc<OnceLock<String>>);

/// Counts and times every request (the outermost layer).
pub async fn track(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let slot = RouteSlot::default();
    req.extensions_mut().insert(slot.clone());
    let method = method_label(req.method());
    let started = Instant::now();
    let resp = next.run(req).await;
    let route = slot.0.get().map(String::as_str).unwrap_or("unmatched");
    state
        .metrics
        .http_request(method, route, resp.status().as_u16(), started.elapsed());
    resp
}

/// Methods as labels; anything else is `OTHER` (a client may send any token).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The layer on every declared route that records its path template.
pub async fn record_template(
    State(template): State<Arc<str>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(slot) = req.extensions().get::<RouteSlot>() {
        let _ = slot.0.set(template.to_string());
    }
    next.run(req).await
}

/// The exposition as a response.
pub fn exposition(state: &AppState) -> Response {
    state.metrics.races(state.pipeline.races());
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render_for(&state.queries),
    )
        .into_response()
}

/// `GET /metrics` on the main listener: only with `metrics_token` set, and
/// only to callers presenting it as a bearer token. Without the setting
/// the route answers as if it did not exist.
pub async fn behind_token(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(expected) = state
        .config
        .metrics_token
        .as_deref()
        .filter(|t| !t.is_empty())
    else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "ROUTE_NOT_FOUND",
            "no route serves GET /metrics",
        )
        .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "the metrics token is missing or wrong",
        )
        .into_response();
    }
    exposition(&state)
}

/// `GET /metrics` on `metrics_listen`: open (the address is the access control).
pub async fn open(State(state): State<AppState>) -> Response {
    exposition(&state)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    // Comparing digests hides the length too.
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}
