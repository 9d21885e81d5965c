//! Who is calling: the bearer token resolved to a live session and user
//! ([`crate::auth::session::resolve`]), and where the request came from.
//!
//! Every non-public route's guard ([`super::routes`]) resolves the caller
//! once and hands it to the handler through the request's extensions; the
//! extractor below takes it from there.

use super::error::ApiError;
use super::AppState;
use crate::auth::session::{self, Refusal};
use crate::commands::{By, Context};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
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

impl Origin {
    /// Event metadata for an actor found without a session (sign-in,
    /// refresh): `user_id`/`name` act through `via`.
    pub fn metadata(&self, user_id: Id, name: String, via: &str) -> Metadata {
        Metadata {
            actor_id: Some(user_id),
            actor_name: name,
            request_id: self.request_id.clone(),
            source_ip: self.ip,
            via: via.to_owned(),
        }
    }
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
    let ip = match parts.extensions.get::<super::ClientIp>() {
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
    /// Whether the user may only read (the guard refuses it every route
    /// declared as a write).
    pub read_only: bool,
    /// The bearer token as presented.
    pub token: String,
    /// Where the request came from.
    pub origin: Origin,
}

impl Caller {
    /// Event metadata naming this caller as the actor.
    pub fn metadata(&self, via: &str) -> Metadata {
        self.origin.metadata(self.user_id, self.name.clone(), via)
    }

    /// The caller issuing a command in `tenant` through the dialect `via`.
    pub fn acting_in(&self, tenant: TenantId, via: &str) -> Context {
        Context {
            tenant,
            by: By::User {
                user_id: self.user_id,
                home_tenant: self.home_tenant,
            },
            metadata: self.metadata(via),
        }
    }

    /// The caller issuing a command about itself (in its home tenant).
    pub fn at_home(&self, via: &str) -> Context {
        self.acting_in(self.home_tenant, via)
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

/// `?access_token=`, taken only on the routes that declare it (the live
/// change stream: a browser's `EventSource` cannot send an `Authorization`
/// header), so tokens do not end up in the URLs (and logs) of ordinary
/// requests.
fn query_token(parts: &Parts) -> Option<String> {
    super::list::form_pairs(parts.uri.query()?)
        .into_iter()
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// Resolves the caller of a request: its bearer token (or, if
/// `token_in_query`, `?access_token=`) to a live session and user.
pub fn resolve(parts: &Parts, state: &AppState, token_in_query: bool) -> Result<Caller, ApiError> {
    let token = bearer(parts)
        .or_else(|| token_in_query.then(|| query_token(parts)).flatten())
        .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
    let dir = state.queries.read();
    let s = session::resolve(&dir, &token, state.clock.unix_secs()).map_err(|r| match r {
        Refusal::Invalid => ApiError::unauthorized(r.to_string()),
        Refusal::Expired => ApiError::new(StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED", r.to_string()),
    })?;
    Ok(Caller {
        session_id: s.session_id,
        user_id: s.user_id,
        name: s.name,
        role: s.role,
        home_tenant: s.home_tenant,
        tenant: s.acting_tenant,
        access_expires_at: s.access_expires_at,
        read_only: s.read_only,
        token,
        origin: origin_of(parts),
    })
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
        resolve(parts, state, false)
    }
}
