//! The HTTP edge: router, middleware and the dialects.
//!
//! Every answer is JSON. Unknown paths get 404 `ROUTE_NOT_FOUND` (distinct
//! from a missing resource's `NOT_FOUND`), known paths with the wrong method
//! get 405 `METHOD_NOT_ALLOWED`, oversized bodies 413, and a panic (which
//! should never happen) is caught and answered as a JSON 500 instead of a
//! dropped connection.

pub mod access;
pub mod as_of;
pub mod error;
pub mod extract;
pub mod health;
pub mod list;
pub mod portsip;
pub mod render_cache;
pub mod vendors;

use crate::auth::password::SecretHasher;
use crate::auth::throttle::Throttle;
use crate::commands::Pipeline;
use crate::config::Config;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, OriginalUri, Request, State};
use axum::http::{HeaderName, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use error::ApiError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The write side.
    pub pipeline: Arc<Pipeline>,
    /// The read side.
    pub queries: Arc<crate::queries::Queries>,
    /// Memoized list item renderings.
    pub render_cache: Arc<render_cache::RenderCache>,
    /// The effective configuration.
    pub config: Arc<Config>,
    /// argon2id with the configured cost.
    pub hasher: SecretHasher,
    /// Set once the startup replay finished.
    pub ready: Arc<AtomicBool>,
    /// Failed sign-in counters.
    pub throttle: Arc<Throttle>,
    /// The sync token MAC key.
    pub sync_key: Arc<crate::sync::SyncKey>,
    /// Becomes `true` when shutdown begins (long-lived responses such as
    /// event streams end themselves so shutdown need not wait for them).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl AppState {
    /// Ready = replayed, following, and the log takes writes.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && self.pipeline.is_writable()
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the whole router.
pub fn router(state: AppState) -> Router {
    let api = portsip::routes()
        .merge(vendors::voipappz::routes())
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), require_ready));

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .nest(
            "/api/v1/user-extensions",
            vendors::user_extensions::routes(state.clone()),
        )
        .nest("/api", api)
        .nest("/client", vendors::client_users::routes(state.clone()))
        .nest("/Etelecom", vendors::etelecom::routes(state.clone()))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// API requests wait for the startup replay: answering from a half-built
/// view would be wrong, so say so.
async fn require_ready(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.ready.load(Ordering::Acquire) {
        return ApiError::unavailable("the directory is still loading; retry shortly")
            .into_response();
    }
    next.run(req).await
}

async fn route_not_found(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ROUTE_NOT_FOUND",
        format!("no route serves {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "UNKNOWN",
        "unknown error",
    )
    .into_response()
}
