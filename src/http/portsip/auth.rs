//! Sign-in: `POST /auth/sign_in` and `POST /login`, `POST /auth/refresh_token`,
//! `POST /auth/sign_out`, `GET /auth/user` and `GET /login`.

use super::VIA;
use crate::auth::tokens::{new_token, token_hash};
use crate::commands::sessions::{RefreshSession, StartSession, TokenHashes};
use crate::commands::{By, Command, Context, NewId};
use crate::http::caller::{Caller, Origin};
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_events::SYSTEM_TENANT;
use time::OffsetDateTime;

/// `{username, password, domain}`; `domain` is left out for the system administrator.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    username: String,
    password: String,
    #[serde(default)]
    domain: Option<String>,
}

/// `{refresh_token}`.
#[derive(Debug, Deserialize)]
pub struct Refresh {
    refresh_token: String,
}

fn new_tokens(state: &AppState) -> (String, String, TokenHashes) {
    let access = new_token();
    let refresh = new_token();
    let now = state.clock.unix_secs();
    let hashes = TokenHashes {
        access_hash: token_hash(&access),
        refresh_hash: token_hash(&refresh),
        access_expires_at: now.saturating_add(state.config.access_token_ttl_secs as i64),
        refresh_expires_at: now.saturating_add(state.config.refresh_token_ttl_secs as i64),
    };
    (access, refresh, hashes)
}

fn token_body(state: &AppState, access: String, refresh: String) -> Json<Value> {
    Json(json!({
        "token_type": "Bearer",
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": state.config.access_token_ttl_secs,
    }))
}

/// The throttle's key for an account: `name@domain`, lower case (the
/// system scope's domain is empty).
pub fn account_key(username: &str, domain: Option<&str>) -> String {
    format!(
        "{}@{}",
        username.to_lowercase(),
        domain.unwrap_or("").to_lowercase()
    )
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
        "the username, password or domain is wrong",
    )
}

/// A hash to verify against when the account does not exist, so a missing
/// account costs as much time as a wrong password.
fn decoy_hash(state: &AppState) -> String {
    use std::sync::OnceLock;
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY
        .get_or_init(|| state.hasher.hash("decoy-password").unwrap_or_default())
        .clone()
}

/// `POST /auth/sign_in`, `POST /login`.
pub async fn sign_in(
    State(state): State<AppState>,
    origin: Origin,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Json<Value>, Response> {
    let username = body.username.trim();
    if username.is_empty() || username.chars().count() > 64 {
        return Err(ApiError::validation("username", "must be 1 to 64 characters").into_response());
    }
    if let Some(d) = &body.domain {
        if d.is_empty() || d.chars().count() > 280 {
            return Err(
                ApiError::validation("domain", "must be 1 to 280 characters").into_response(),
            );
        }
    }
    let account = account_key(username, body.domain.as_deref());
    let attempt = state.throttle.begin(&account, origin.ip).map_err(|wait| {
        state.metrics.sign_in_throttled();
        ApiError::too_many_attempts(wait).into_response()
    })?;
    // Resolve the account without holding the lock across argon2.
    let found = {
        let dir = state.queries.read();
        let tenant = match &body.domain {
            None => Some(SYSTEM_TENANT),
            Some(d) => dir.tenant_by_domain(d).map(|t| t.id),
        };
        tenant.and_then(|t| {
            let tenant_enabled =
                t == SYSTEM_TENANT || dir.tenants.get(&t).is_some_and(|v| v.enabled());
            dir.scope(t)
                .and_then(|s| s.user_by_name(username))
                .map(|u| {
                    (
                        t,
                        u.id,
                        u.name.to_string(),
                        u.password_hash(),
                        u.enabled(),
                        tenant_enabled,
                    )
                })
        })
    };
    let hash = found
        .as_ref()
        .map(|f| f.3.clone())
        .unwrap_or_else(|| decoy_hash(&state));
    let ok = state.hasher.verify_async(hash, body.password.clone()).await;
    let Some((tenant, user_id, name, _, enabled, tenant_enabled)) = found.filter(|_| ok) else {
        attempt.failed();
        state.metrics.sign_in_failed();
        return Err(invalid_credentials().into_response());
    };
    attempt.succeeded();
    if !enabled || !tenant_enabled {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "USER_DISABLED",
            "the account is disabled",
        )
        .into_response());
    }
    let (access, refresh, tokens) = new_tokens(&state);
    let cmd = Command::StartSession(StartSession {
        session_id: NewId::default(),
        user_id,
        tenant,
        tokens,
        max_per_user: state.config.sessions_per_user,
    });
    let ctx = Context {
        tenant,
        by: By::User {
            user_id,
            home_tenant: tenant,
        },
        metadata: origin.metadata(user_id, name, VIA),
    };
    state
        .pipeline
        .run(cmd, ctx)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    Ok(token_body(&state, access, refresh))
}

/// `POST /auth/refresh_token`: rotates both tokens.
pub async fn refresh_token(
    State(state): State<AppState>,
    origin: Origin,
    JsonBody(body): JsonBody<Refresh>,
) -> Result<Json<Value>, ApiError> {
    let presented = token_hash(&body.refresh_token);
    let invalid = || ApiError::unauthorized("the refresh token is not valid");
    let (tenant, actor) = {
        let dir = state.queries.read();
        let s = dir.sessions.by_refresh(&presented).ok_or_else(invalid)?;
        let name = dir
            .scope(s.home_tenant)
            .and_then(|sc| sc.users.get(&s.user_id))
            .map(|u| u.name.to_string())
            .unwrap_or_default();
        (s.home_tenant, (s.user_id, name))
    };
    let (access, refresh, tokens) = new_tokens(&state);
    let cmd = Command::RefreshSession(RefreshSession {
        presented,
        now: state.clock.unix_secs(),
        tokens,
    });
    let ctx = Context {
        tenant,
        by: By::User {
            user_id: actor.0,
            home_tenant: tenant,
        },
        metadata: origin.metadata(actor.0, actor.1, VIA),
    };
    state.pipeline.run(cmd, ctx).await?;
    Ok(token_body(&state, access, refresh))
}

/// `POST /auth/sign_out`: ends the caller's session (both tokens).
pub async fn sign_out(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let cmd = Command::EndSession {
        session_id: caller.session_id,
    };
    state.pipeline.run(cmd, caller.at_home(VIA)).await?;
    Ok(Json(json!({})))
}

/// `GET /auth/user`: the caller's role and password state.
pub async fn auth_user(caller: Caller) -> Json<Value> {
    Json(json!({
        "role": caller.role,
        "password_verified": true,
        "password_force_reset": false,
    }))
}

/// `GET /login`: the caller's session.
pub async fn login_status(State(state): State<AppState>, caller: Caller) -> Json<Value> {
    let now = state.clock.unix_secs();
    let expires_at = OffsetDateTime::from_unix_timestamp(caller.access_expires_at)
        .map(switchboard_events::envelope::format_rfc3339)
        .ok();
    Json(json!({
        "access_token": caller.token,
        "expires_at": expires_at,
        "expires_in": (caller.access_expires_at - now).max(0),
        "role": caller.role,
    }))
}
