//! The current user: `/user...`. Every signed-in user has these for their
//! own account; they act in the user's home tenant.

use super::auth::account_key;
use super::users::{self, apply_update, reset_profiles, set_secret};
use crate::auth::roles::Capability;
use crate::commands::SecretRule;
use crate::field_tables::restrict;
use crate::field_tables::user::USER_SELF_UPDATABLE;
use crate::http::access::allowed;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{required_str, JsonBody};
use crate::http::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::SecretKind;

/// `GET /user`.
pub async fn show(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let dir = state.queries.read();
    let scope = dir
        .scope(caller.home_tenant)
        .ok_or_else(|| ApiError::not_found("user"))?;
    let u = scope
        .users
        .get(&caller.user_id)
        .ok_or_else(|| ApiError::not_found("user"))?;
    let mut m = users::render(scope, u, false);
    // Server transport configuration: not per-user data in switchboard.
    m.insert("transports".into(), json!([]));
    Ok(Json(Value::Object(m)))
}

/// `POST /user`: the fields a user may change about themselves.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    restrict(&body, USER_SELF_UPDATABLE).map_err(|e| ApiError::validation(&e.field, e.message))?;
    if body.contains_key("sms") && !allowed(&state, &caller, Capability::ManageUsers) {
        return Err(ApiError::forbidden(
            "changing sms needs the user management privilege",
        ));
    }
    apply_update(&state, &caller, caller.home_tenant, caller.user_id, body).await?;
    Ok(Json(json!({})))
}

async fn change_own_secret(
    state: &AppState,
    caller: &Caller,
    body: &Map<String, Value>,
    kind: SecretKind,
) -> Result<(), ApiError> {
    let old = required_str(body, "old_password")?;
    let rule = match kind {
        SecretKind::Password => SecretRule::Password,
        _ => SecretRule::ExtensionPassword,
    };
    let new = rule.parse("new_password", &required_str(body, "new_password")?)?;
    let (current, account) = {
        let dir = state.queries.read();
        let u = dir
            .scope(caller.home_tenant)
            .and_then(|s| s.users.get(&caller.user_id))
            .ok_or_else(|| ApiError::not_found("user"))?;
        let domain = dir
            .tenants
            .get(&caller.home_tenant)
            .map(|t| t.domain.clone());
        let hash = match kind {
            SecretKind::Password => Some(u.password_hash()),
            _ => u.extension_password_hash(),
        };
        (hash, account_key(&u.name, domain.as_deref()))
    };
    // The same throttle as sign-in: a stolen session cannot guess the
    // password any faster than the sign-in page.
    let attempt = state
        .throttle
        .begin(&account, caller.origin.ip)
        .map_err(ApiError::too_many_attempts)?;
    let ok = match current {
        Some(hash) => state.hasher.verify_async(hash, old).await,
        None => false,
    };
    if ok {
        attempt.succeeded();
    } else {
        attempt.failed();
        let err = ApiError::new(
            StatusCode::FORBIDDEN,
            "WRONG_PASSWORD",
            "old_password is not correct",
        );
        return Err(err.with_detail(json!({ "field": "old_password" })));
    }
    set_secret(state, caller, caller.home_tenant, caller.user_id, kind, new).await
}

/// `POST /user/password` `{old_password, new_password}`. Ends every session
/// of the user (including this one): sign in again with the new password.
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    change_own_secret(&state, &caller, &body, SecretKind::Password).await?;
    Ok(Json(json!({})))
}

/// `POST /user/extension_password` `{old_password, new_password}`.
pub async fn change_extension_password(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    change_own_secret(&state, &caller, &body, SecretKind::ExtensionPassword).await?;
    Ok(Json(json!({})))
}

/// `POST /user/profile`: resets the caller's own profile.
pub async fn reset_profile(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    reset_profiles(
        &state,
        &caller,
        caller.home_tenant,
        Some(vec![caller.user_id]),
    )
    .await?;
    Ok(Json(json!({})))
}
