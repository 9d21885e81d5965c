//! The route table: every route of every dialect is declared here, once,
//! with the access it requires and whether it reads or writes.
//!
//! A dialect lists its routes with [`Routes`] (`.get(path, access,
//! handler)`, `.post(...)`, ...), and [`super::router`] builds the whole
//! router from those lists and nothing else, so a route cannot exist
//! without its declaration. The same lists give [`route_table`]: the
//! authorization matrix test walks it today, and OpenAPI generation and a
//! declared read-only layer can walk it later.
//!
//! The declared [`Access`] is enforced in one place, [`guard`], a layer put
//! on each route from its own declaration: it resolves the caller (401 in
//! the dialect's shape without a valid token), checks the access (403),
//! refuses a read-only user every route declared as a write (403), and
//! hands the resolved [`Caller`] to the handler through the request's
//! extensions. Declaration and enforcement therefore cannot disagree.
//! Handlers keep the finer checks a table cannot express: "yourself, or a
//! capability" for self-scoped routes, object ownership, the tenant a
//! request acts in.

use super::caller::{self, Caller};
use super::error::ApiError;
use super::AppState;
use crate::auth::roles::{self, Capability};
use axum::extract::{OriginalUri, Request, State};
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::SYSTEM_TENANT;

/// The API dialects (and the service's own endpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// `/healthz`, `/readyz`.
    Service,
    /// PortSIP v22, under `/api`.
    PortSip,
    /// voipappz user actions, merged into `/api`.
    Voipappz,
    /// The user↔extension link API v1, `/api/v1/user-extensions`.
    UserExtensionsV1,
    /// Client internal-number users, `/client`.
    ClientUsers,
    /// eTelecom partner PBX, `/Etelecom`.
    Etelecom,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 6] = [
        Dialect::Service,
        Dialect::PortSip,
        Dialect::Voipappz,
        Dialect::UserExtensionsV1,
        Dialect::ClientUsers,
        Dialect::Etelecom,
    ];

    /// Where the dialect is mounted.
    pub fn prefix(self) -> &'static str {
        match self {
            Dialect::Service => "",
            Dialect::PortSip | Dialect::Voipappz => "/api",
            Dialect::UserExtensionsV1 => "/api/v1/user-extensions",
            Dialect::ClientUsers => "/client",
            Dialect::Etelecom => "/Etelecom",
        }
    }

    /// An error answered in this dialect's wire shape.
    pub fn reject(self, e: ApiError) -> Response {
        use super::vendors::{client_users, etelecom, user_extensions, voipappz};
        match self {
            Dialect::Service | Dialect::PortSip => e.into_response(),
            Dialect::Voipappz => voipappz::VoipappzError(e).into_response(),
            Dialect::UserExtensionsV1 => user_extensions::V1Error(e).into_response(),
            Dialect::ClientUsers => client_users::ClientError(e).into_response(),
            Dialect::Etelecom => etelecom::TwirpError::from(e).into_response(),
        }
    }
}

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token (sign-in, metadata, health).
    Public,
    /// Any signed-in user. Such routes are self-scoped: they act on the
    /// caller's own data, or check "yourself, or a capability" themselves.
    SignedIn,
    /// A signed-in user whose role allows this capability.
    Needs(Capability),
    /// A signed-in user whose role allows any of these capabilities.
    NeedsAny(&'static [Capability]),
    /// The system administrator (a system-scope user), never a tenant's.
    SystemAdmin,
}

/// Whether a route changes anything. Declared, not guessed from the
/// method: some reads travel as POST (sync tokens, eTelecom `Get*`). A
/// read-only user is refused every [`Effect::Write`] route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads only.
    Read,
    /// May change the directory or the caller's sessions.
    Write,
    /// Changes only the caller's own session (signing out): open to
    /// read-only users too.
    OwnSession,
}

/// One declared route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// The HTTP method.
    pub method: Method,
    /// The full path template, e.g. `/api/users/{id}`.
    pub path: String,
    /// The dialect serving it.
    pub dialect: Dialect,
    /// What it requires of the caller.
    pub access: Access,
    /// Whether it reads or writes.
    pub effect: Effect,
}

impl RouteSpec {
    /// The names of the path template's parameters, in order.
    pub fn params(&self) -> Vec<&str> {
        self.path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .collect()
    }
}

/// A declared route with its handler.
struct Route {
    spec: RouteSpec,
    /// The path relative to the dialect's prefix (what its router matches).
    relative: String,
    /// Whether the caller's token may come as `?access_token=` (the live
    /// change stream, which browsers open without headers).
    token_in_query: bool,
    handler: MethodRouter<AppState>,
    /// Whether `request_deadline_ms` applies (see [`Routes::without_deadline`]).
    deadline: bool,
}

/// A dialect's routes, declared one by one with their access and effect.
/// This is the only way to add a route to the service.
pub struct Routes {
    dialect: Dialect,
    routes: Vec<Route>,
}

impl Routes {
    /// An empty list for `dialect`.
    pub fn new(dialect: Dialect) -> Routes {
        Routes {
            dialect,
            routes: Vec::new(),
        }
    }

    fn add<H, T>(
        mut self,
        method: Method,
        relative: &str,
        access: Access,
        effect: Effect,
        handler: H,
    ) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = match method {
            Method::GET => MethodFilter::GET,
            Method::PUT => MethodFilter::PUT,
            Method::PATCH => MethodFilter::PATCH,
            Method::DELETE => MethodFilter::DELETE,
            _ => MethodFilter::POST,
        };
        let prefix = self.dialect.prefix();
        // A dialect's root (`/`) is its prefix itself.
        let path = match (prefix, relative) {
            ("", r) => r.to_owned(),
            (p, "/") => p.to_owned(),
            (p, r) => format!("{p}{r}"),
        };
        self.routes.push(Route {
            spec: RouteSpec {
                method,
                path,
                dialect: self.dialect,
                access,
                effect,
            },
            relative: relative.to_owned(),
            token_in_query: false,
            handler: axum::routing::on(filter, handler),
            deadline: true,
        });
        self
    }

    /// What is declared so far.
    pub fn specs(&self) -> Vec<RouteSpec> {
        self.routes.iter().map(|r| r.spec.clone()).collect()
    }

    /// Applies `declare` to these routes (declarations made elsewhere, e.g.
    /// a declared collection's, inside one chain).
    pub fn with(self, declare: impl FnOnce(Routes) -> Routes) -> Routes {
        declare(self)
    }

    /// Exempts the route declared last from `request_deadline_ms`: for a
    /// request whose work grows with its body (a bulk import, bounded by
    /// its own size limit), where cutting it off half-way helps nobody.
    pub fn without_deadline(mut self) -> Routes {
        if let Some(last) = self.routes.last_mut() {
            last.deadline = false;
        }
        self
    }

    /// A GET route (a read).
    pub fn get<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        handler: H,
    ) -> Routes {
        self.add(Method::GET, path, access, Effect::Read, handler)
    }

    /// A POST route that writes.
    pub fn post<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        handler: H,
    ) -> Routes {
        self.add(Method::POST, path, access, Effect::Write, handler)
    }

    /// A GET route that streams (server-sent events) and also takes the
    /// caller's token as `?access_token=`.
    pub fn get_stream<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        handler: H,
    ) -> Routes {
        let mut routes = self.add(Method::GET, path, access, Effect::Read, handler);
        if let Some(r) = routes.routes.last_mut() {
            r.token_in_query = true;
        }
        routes
    }

    /// A POST route that ends the caller's own session (open to read-only
    /// users).
    pub fn post_own_session<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        handler: H,
    ) -> Routes {
        self.add(Method::POST, path, access, Effect::OwnSession, handler)
    }

    /// A POST route that only reads (sync tokens and diffs, eTelecom `Get*`).
    pub fn post_read<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        handler: H,
    ) -> Routes {
        self.add(Method::POST, path, access, Effect::Read, handler)
    }

    /// A PUT route (a write).
    pub fn put<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        handler: H,
    ) -> Routes {
        self.add(Method::PUT, path, access, Effect::Write, handler)
    }

    /// A PATCH route (a write).
    pub fn patch<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        handler: H,
    ) -> Routes {
        self.add(Method::PATCH, path, access, Effect::Write, handler)
    }

    /// A DELETE route (a write).
    pub fn delete<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        handler: H,
    ) -> Routes {
        self.add(Method::DELETE, path, access, Effect::Write, handler)
    }

    /// Builds this list's router (paths relative to the prefix), each
    /// route behind the guard of its own declaration.
    fn into_router(self, state: &AppState) -> Router<AppState> {
        self.routes.into_iter().fold(Router::new(), |router, r| {
            let handler = r
                .handler
                .layer(middleware::from_fn_with_state(
                    Guard {
                        state: state.clone(),
                        dialect: r.spec.dialect,
                        access: r.spec.access,
                        effect: r.spec.effect,
                        token_in_query: r.token_in_query,
                        deadline: r.deadline,
                    },
                    guard,
                ))
                // Outside the guard, so refusals are labelled with the route too.
                .layer(middleware::from_fn_with_state(
                    Arc::<str>::from(r.spec.path.as_str()),
                    super::metrics::record_template,
                ));
            router.route(&r.relative, handler)
        })
    }
}

/// Every dialect's routes.
fn all() -> Vec<Routes> {
    use super::{health, portsip, vendors};
    vec![
        Routes::new(Dialect::Service)
            .get("/healthz", Access::Public, health::healthz)
            .get("/readyz", Access::Public, health::readyz)
            // Its own bearer token (metrics_token), not a user's: see http::metrics.
            .get("/metrics", Access::Public, super::metrics::behind_token)
            .get("/openapi.json", Access::Public, super::openapi::serve)
            .get("/docs", Access::Public, super::docs::page)
            .get(
                "/docs/swagger-ui-bundle.js",
                Access::Public,
                super::docs::bundle,
            )
            .get("/docs/swagger-ui.css", Access::Public, super::docs::css)
            .get(
                "/docs/favicon-32x32.png",
                Access::Public,
                super::docs::favicon,
            ),
        portsip::routes(),
        vendors::voipappz::routes(),
        vendors::user_extensions::routes(),
        vendors::client_users::routes(),
        vendors::etelecom::routes(),
    ]
}

/// Every declared route of every dialect, in declaration order.
pub fn route_table() -> Vec<RouteSpec> {
    all()
        .into_iter()
        .flat_map(|r| r.routes.into_iter().map(|r| r.spec))
        .collect()
}

/// The router of every dialect, built from the declarations alone. Each
/// mount answers unknown paths (404 `ROUTE_NOT_FOUND`), wrong methods (405)
/// and requests before the start-up replay finished (503) in its dialect's
/// shape.
pub fn dialects(state: &AppState) -> Router<AppState> {
    let mut by_dialect: Vec<(Dialect, Router<AppState>)> = Vec::new();
    for routes in all() {
        let dialect = routes.dialect;
        let router = routes.into_router(state);
        by_dialect.push((dialect, router));
    }
    let take = |d: Dialect, list: &mut Vec<(Dialect, Router<AppState>)>| {
        let i = list.iter().position(|(x, _)| *x == d);
        i.map(|i| list.remove(i).1).unwrap_or_default()
    };
    let service = take(Dialect::Service, &mut by_dialect);
    // voipappz shares `/api` with PortSIP (axum merges method routers per
    // path, so GET/POST there stay PortSIP's); unknown paths under `/api`
    // answer in PortSIP's shape.
    let api =
        take(Dialect::PortSip, &mut by_dialect).merge(take(Dialect::Voipappz, &mut by_dialect));
    let mount = |router: Router<AppState>, d: Dialect| {
        router
            .fallback(move |m: Method, OriginalUri(u): OriginalUri| async move {
                d.reject(route_not_found(&m, u.path()))
            })
            .method_not_allowed_fallback(move |m: Method, OriginalUri(u): OriginalUri| async move {
                d.reject(method_not_allowed(&m, u.path()))
            })
            .layer(middleware::from_fn_with_state(
                (state.clone(), d),
                require_ready,
            ))
    };
    let v1 = take(Dialect::UserExtensionsV1, &mut by_dialect);
    let client = take(Dialect::ClientUsers, &mut by_dialect);
    let etelecom = take(Dialect::Etelecom, &mut by_dialect);
    // The v1 link API is nested before `/api` so its own fallbacks answer
    // in its envelope.
    service
        .nest(
            Dialect::UserExtensionsV1.prefix(),
            mount(v1, Dialect::UserExtensionsV1),
        )
        .nest(Dialect::PortSip.prefix(), mount(api, Dialect::PortSip))
        .nest(
            Dialect::ClientUsers.prefix(),
            mount(client, Dialect::ClientUsers),
        )
        .nest(
            Dialect::Etelecom.prefix(),
            mount(etelecom, Dialect::Etelecom),
        )
}

/// 404 `ROUTE_NOT_FOUND`: no route serves this path.
pub fn route_not_found(method: &Method, path: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ROUTE_NOT_FOUND",
        format!("no route serves {method} {path}"),
    )
}

/// 405 `METHOD_NOT_ALLOWED`: a served path, another method.
pub fn method_not_allowed(method: &Method, path: &str) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("{method} is not allowed on {path}"),
    )
}

/// API requests wait for the startup replay: answering from a half-built
/// view would be wrong, so say so (in the dialect's shape).
async fn require_ready(
    State((state, dialect)): State<(AppState, Dialect)>,
    req: Request,
    next: Next,
) -> Response {
    if !state.ready.load(Ordering::Acquire) {
        return dialect.reject(ApiError::unavailable(
            "the directory is still loading; retry shortly",
        ));
    }
    next.run(req).await
}

/// What the guard of one route enforces.
#[derive(Clone)]
struct Guard {
    state: AppState,
    dialect: Dialect,
    access: Access,
    effect: Effect,
    token_in_query: bool,
    deadline: bool,
}

/// Whether `caller` has `access` (everything but [`Access::Public`]).
pub fn permits(state: &AppState, caller: &Caller, access: Access) -> bool {
    match access {
        Access::Public | Access::SignedIn => true,
        Access::Needs(cap) => super::access::allowed(state, caller, cap),
        Access::NeedsAny(caps) => caps
            .iter()
            .any(|c| super::access::allowed(state, caller, *c)),
        Access::SystemAdmin => {
            caller.home_tenant == SYSTEM_TENANT && roles::is_system_role(&caller.role)
        }
    }
}

/// What every request to a route goes through, in the route's dialect:
/// load shedding (503 with `Retry-After` when `max_concurrent_requests`
/// are in progress; the service's health endpoints are exempt), the
/// server-side deadline (`request_deadline_ms`, 503 with `Retry-After`),
/// and the one place declared access is enforced: resolving the caller
/// (401), checking the declaration (403; a read-only user on a route
/// declared as a write too), passing the caller on to the handler.
///
/// A write cut off by the deadline may still complete: once its events
/// are queued the command finishes (see [`crate::commands`]), like any
/// request whose answer was lost; its 503 means "outcome unknown".
async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let _permit = if g.dialect == Dialect::Service {
        None
    } else {
        match g.state.admission.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                return g.dialect.reject(
                    ApiError::unavailable("the server is busy; retry shortly")
                        .retry_after(Duration::from_secs(1)),
                )
            }
        }
    };
    let deadline = match g.deadline {
        true => Duration::from_millis(g.state.config.request_deadline_ms),
        false => Duration::ZERO,
    };
    let dialect = g.dialect;
    let run = authorize_and_run(g, req, next);
    if deadline.is_zero() {
        return run.await;
    }
    match tokio::time::timeout(deadline, run).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::warn!(?deadline, "a request missed its deadline");
            dialect.reject(
                ApiError::unavailable("the request did not finish in time; retry shortly")
                    .retry_after(Duration::from_secs(1)),
            )
        }
    }
}

async fn authorize_and_run(g: Guard, req: Request, next: Next) -> Response {
    if g.access == Access::Public {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let caller = match caller::resolve(&parts, &g.state, g.token_in_query) {
        Ok(c) => c,
        Err(e) => return g.dialect.reject(e),
    };
    if caller.read_only && g.effect == Effect::Write {
        return g.dialect.reject(ApiError::forbidden(
            "this user has read-only access and cannot make changes",
        ));
    }
    if !permits(&g.state, &caller, g.access) {
        return g
            .dialect
            .reject(ApiError::forbidden("your role does not allow this"));
    }
    parts.extensions.insert(Arc::new(caller));
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_route_is_declared_once_with_a_full_path() {
        let table = route_table();
        let mut seen = HashSet::new();
        for r in &table {
            assert!(r.path.starts_with('/'), "{}", r.path);
            assert!(
                r.path.starts_with(r.dialect.prefix()),
                "{} under {:?}",
                r.path,
                r.dialect
            );
            assert!(
                seen.insert((r.method.clone(), r.path.clone())),
                "declared twice: {} {}",
                r.method,
                r.path
            );
        }
        assert!(table.len() > 140, "{} routes", table.len());
    }

    #[test]
    fn only_sign_in_refresh_metadata_and_health_are_public() {
        let public: Vec<String> = route_table()
            .into_iter()
            .filter(|r| r.access == Access::Public)
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert_eq!(
            public,
            [
                "GET /healthz",
                "GET /readyz",
                // Checks its own bearer token (metrics_token); 404 without one.
                "GET /metrics",
                // What is served (every route, no data), and its page.
                "GET /openapi.json",
                "GET /docs",
                "GET /docs/swagger-ui-bundle.js",
                "GET /docs/swagger-ui.css",
                "GET /docs/favicon-32x32.png",
                "POST /api/auth/sign_in",
                "POST /api/login",
                "POST /api/auth/refresh_token",
                "GET /api/info",
            ]
        );
    }

    #[test]
    fn tenant_routes_are_the_system_administrators() {
        for r in route_table() {
            let tenants = r.path.starts_with("/api/tenants");
            assert_eq!(
                tenants,
                r.access == Access::SystemAdmin,
                "{} {}",
                r.method,
                r.path
            );
        }
    }

    #[test]
    fn reads_over_post_are_declared_as_reads() {
        for r in route_table() {
            if r.method == Method::GET {
                assert_eq!(r.effect, Effect::Read, "{}", r.path);
            }
            if r.path.contains("/sync_tokens") || r.path.starts_with("/Etelecom/Get") {
                assert_eq!(r.effect, Effect::Read, "{}", r.path);
            }
        }
    }

    #[test]
    fn params_are_read_from_the_template() {
        let spec = RouteSpec {
            method: Method::GET,
            path: "/api/users/{id}/call_queues/{queue_id}/agent".into(),
            dialect: Dialect::PortSip,
            access: Access::SignedIn,
            effect: Effect::Read,
        };
        assert_eq!(spec.params(), ["id", "queue_id"]);
    }
}
