//! The HTTP edge: router, middleware, the shared edge helpers and the
//! dialects. A dialect translates only: it parses a request into a
//! [`Command`](crate::commands::Command) or a query, calls the command
//! layer or the queries layer, and renders the answer in its own shape.
//! Nothing here touches the log or decides anything, and no dialect
//! imports another (shared helpers live in this module).
//!
//! # Layout
//! - [`routes`]: the route table (every route's method, path, dialect,
//!   access and effect) and the guard that enforces it.
//! - [`caller`]: the signed-in caller (bearer token → session, via
//!   `crate::auth::session`) and the request's origin.
//! - [`access`]: capability checks and the tenant a request acts in.
//! - [`error`]: the edge's error, rendered by each dialect.
//! - [`ids`]: the dialects' id codecs (PortSIP base64, UUIDs, integers).
//! - [`extract`], [`list`], [`as_of`]: JSON bodies, list parameters, past reads.
//! - [`render_cache`]: memoized list item renderings.
//! - [`forwarded`], [`cors`], [`health`]: client addresses, CORS, `/healthz`.
//! - [`portsip`]: the PortSIP v22 dialect; [`vendors`]: the four others.
//!
//! Every answer is JSON. Unknown paths get 404 `ROUTE_NOT_FOUND` (distinct
//! from a missing resource's `NOT_FOUND`), known paths with the wrong method
//! get 405 `METHOD_NOT_ALLOWED`, oversized bodies 413, and a panic (which
//! should never happen) is caught and answered as a JSON 500 instead of a
//! dropped connection.

pub mod access;
pub mod as_of;
pub mod caller;
pub mod cors;
pub mod docs;
pub mod error;
pub mod extract;
pub mod forwarded;
pub mod health;
pub mod ids;
pub mod list;
pub mod metrics;
pub mod openapi;
pub mod portsip;
pub mod render_cache;
pub mod routes;
pub mod vendors;

pub use routes::{route_table, Access, Dialect, Effect, RouteSpec};

use crate::auth::password::SecretHasher;
use crate::auth::throttle::Throttle;
use crate::commands::Pipeline;
use crate::config::Config;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, OriginalUri, Request, State};
use axum::http::{HeaderName, Method, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::Router;
use error::ApiError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Shared state of every handler: one reference-counted pointer, so the
/// clones axum makes per request (the route guard, each `State` extractor)
/// cost one atomic increment instead of one per field (measured: cloning
/// and dropping the field-by-field state was ~5% of a list request).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl From<Shared> for AppState {
    fn from(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

/// What [`AppState`] shares.
pub struct Shared {
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
    /// "Now" for every expiry and retention decision (a test clock in tests).
    pub clock: crate::clock::SharedClock,
    /// Webhook delivery (status, attempts and resume for the admin routes).
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    /// The key PBX secrets are sealed with before they reach the log.
    pub secrets: Arc<crate::secrets::SecretKey>,
    /// Permits for requests in progress (`max_concurrent_requests`).
    pub admission: Arc<tokio::sync::Semaphore>,
    /// The open change streams of each user (capped per user).
    pub streams: Arc<portsip::change_stream::Streams>,
    /// What `/metrics` shows.
    pub metrics: crate::metrics::SharedMetrics,
    /// CDRs and external messages: their on-disk store and its follower.
    pub history: Arc<crate::records::history::CallHistory>,
    /// The file store (blobs and uploads under `<data_dir>/files`).
    pub files: Arc<crate::files::Store>,
}

impl AppState {
    /// Ready = replayed, following, and the log takes writes.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
            && self.pipeline.following()
            && self.history.following()
            && self.pipeline.is_writable()
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the whole router: every dialect's declared routes
/// ([`routes::dialects`]) behind the service-wide layers.
pub fn router(state: AppState) -> Router {
    let router = routes::dialects(&state)
        .fallback(|m: Method, OriginalUri(u): OriginalUri| async move {
            routes::route_not_found(&m, u.path())
        })
        .method_not_allowed_fallback(|m: Method, OriginalUri(u): OriginalUri| async move {
            routes::method_not_allowed(&m, u.path())
        })
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(state.clone(), client_address))
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
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track));
    // Outermost, so preflights are answered before routing (which would say
    // 405) and every answer, errors included, carries the CORS headers.
    // `app::start` has refused an invalid CORS setting already.
    match cors::layer(&state.config) {
        Ok(Some(cors)) => router.layer(cors),
        _ => router,
    }
}

/// The client's address, as [`forwarded::client_ip`] finds it (the TCP
/// peer unless it is a trusted proxy), put in the request's extensions
/// once for everything downstream (throttle, event metadata).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<std::net::IpAddr>);

async fn client_address(
    State(state): State<AppState>,
    mut req: Request,
    next: middleware::Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = forwarded::client_ip(peer, req.headers(), &state.config.trusted_proxies);
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
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
