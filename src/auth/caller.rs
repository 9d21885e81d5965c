//! Who is calling: the bearer token resolved to a live session and user.

use crate::http::error::ApiError;
use crate::http::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::net::{IpAddr, SocketAddr};
use switchboard_events::{Id, Metadata, TenantId};

/// Where a request came from (for every request, signed in or not).
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// Client IP.
    pub ip: Option<IpAddr>,
    /// The `x-request-id`.
    pub request_id: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(origin_of(parts))
    }
}

fn origin_of(parts: &Parts) -> Origin {
    // The router resolves the address behind trusted proxies once; the
    // TCP peer is the fallback (a router built without that layer).
    let ip = match parts.extensions.get::<crate::http::ClientIp>() {
        Some(c) => c.0,
        None => parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip()),
    };
    Origin {
        ip,
        request_id: parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// A signed-in caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The session.
    pub session_id: Id,
    /// The user.
    pub user_id: Id,
    /// The user's account name.
    pub name: String,
    /// The user's role name.
    pub role: String,
    /// The tenant the user belongs to (0 for the system administrator).
    pub home_tenant: TenantId,
    /// The tenant the session acts in (after a tenant switch).
    pub tenant: TenantId,
    /// Access token expiry, Unix seconds.
    pub access_expires_at: i64,
    /// The bearer token as presented.
    pub token: String,
    /// Where the request came from.
    pub origin: Origin,
}

impl Caller {
    /// Event metadata naming this caller as the actor.
    pub fn metadata(&self, via: &str) -> Metadata {
        Metadata {
            actor_id: Some(self.user_id),
            actor_name: self.name.clone(),
            request_id: self.origin.request_id.clone(),
            source_ip: self.origin.ip,
            via: via.to_owned(),
        }
    }
}

/// Extracts the bearer token from an `Authorization` header value.
pub fn bearer(parts: &Parts) -> Option<String> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

/// `?access_token=` on `GET …/user/events` only: a browser's `EventSource`
/// cannot send an `Authorization` header, so the live change stream also
/// takes the token in its query. Nowhere else, so tokens do not end up in
/// the URLs (and logs) of ordinary requests.
fn stream_query_token(parts: &Parts) -> Option<String> {
    if parts.method != axum::http::Method::GET || !parts.uri.path().ends_with("/user/events") {
        return None;
    }
    crate::http::list::form_pairs(parts.uri.query()?)
        .into_iter()
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The route's guard resolved it already (every non-public route has
        // one; see `http::routes`).
        if let Some(resolved) = parts.extensions.get::<std::sync::Arc<Caller>>() {
            return Ok(Caller::clone(resolved));
        }
        let token = bearer(parts)
            .or_else(|| stream_query_token(parts))
            .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
        let hash = super::tokens::token_hash(&token);
        let dir = state.queries.read();
        let session = dir
            .sessions
            .by_access(&hash)
            .ok_or_else(|| ApiError::unauthorized("the access token is not valid"))?;
        let now = state.clock.unix_secs();
        if session.access_expires_at <= now {
            return Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "TOKEN_EXPIRED",
                "the access token has expired; refresh it",
            ));
        }
        let user = dir
            .scope(session.home_tenant)
            .and_then(|s| s.users.get(&session.user_id))
            .filter(|u| u.enabled())
            .ok_or_else(|| ApiError::unauthorized("the access token is not valid"))?;
        if is_read_only(user) && is_write(parts) {
            return Err(ApiError::forbidden(
                "this user has read-only access and cannot make changes",
            ));
        }
        if session.home_tenant != switchboard_events::SYSTEM_TENANT {
            let tenant_ok = dir
                .tenants
                .get(&session.home_tenant)
                .is_some_and(|t| t.enabled());
            if !tenant_ok {
                return Err(ApiError::unauthorized("the access token is not valid"));
            }
        }
        Ok(Caller {
            session_id: session.id,
            user_id: user.id,
            name: user.name.clone(),
            role: user.role.clone(),
            home_tenant: session.home_tenant,
            tenant: session.acting_tenant,
            access_expires_at: session.access_expires_at,
            token,
            origin: origin_of(parts),
        })
    }
}

/// Whether a user's `access` attribute (set through the client
/// internal-number dialect) is `read_only`.
fn is_read_only(user: &switchboard_projections::directory::UserView) -> bool {
    matches!(
        user.attr(crate::schema::vendor_user::ACCESS),
        Some(switchboard_events::Value::Str(s)) if s == crate::schema::vendor_user::READ_ONLY
    )
}

/// Whether a request asks for a change. Every method but GET, HEAD and
/// OPTIONS does, except the few reads that travel as POST: PortSIP's sync
/// tokens and diffs (`.../sync_tokens...`) and eTelecom's `Get*` calls.
/// Ending one's own session is not a change of the directory a read-only
/// user is kept from, so `POST /api/auth/sign_out` is let through (sign-in
/// and refresh do not resolve a caller at all). Enforcing this here, where
/// every dialect resolves its caller, makes `read_only` hold in all of them
/// without each handler remembering it.
fn is_write(parts: &Parts) -> bool {
    use axum::http::Method;
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let path = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map(|u| u.0.path().to_owned())
        .unwrap_or_else(|| parts.uri.path().to_owned());
    let read_over_post = path.contains("/sync_tokens") || path.starts_with("/Etelecom/Get");
    path != "/api/auth/sign_out" && !read_over_post
}
