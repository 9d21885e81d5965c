//! Webhook delivery status, in the PortSIP dialect (switchboard's own
//! routes: PortSIP has the settings, `extension_event` and `cdr_event` on
//! the tenant, but no delivery log). All act in the caller's tenant.
//!
//! | route | needs | answers |
//! | --- | --- | --- |
//! | `GET /webhooks` | `ViewTenantSettings` | `{signing_secret, items: [subscription]}`; the secret only to `ManageTenantSettings` |
//! | `GET /webhooks/{kind}/deliveries` | `ViewTenantSettings` | `{count, items: [attempt]}`, newest first (the last 50) |
//! | `POST /webhooks/{kind}/resume` | `ManageTenantSettings` | the subscription, after waking it from `DEAD_LETTER`; 409 otherwise |
//!
//! `kind` is `extension_event` or `cdr_event`; anything else is 404.

use crate::auth::roles::Capability;
use crate::http::access::{allowed, tenant_of};
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::webhooks::settings::Kind;
use crate::webhooks::{ResumeError, View};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// The `{kind}` segment; an unknown or undecodable one names no
/// subscription (404 in PortSIP's shape, never axum's plain-text 400).
fn kind(raw: Result<Path<String>, PathRejection>) -> Result<Kind, ApiError> {
    raw.ok()
        .and_then(|Path(k)| Kind::parse(&k))
        .ok_or_else(|| ApiError::not_found("webhook subscription"))
}

fn render(v: &View) -> Value {
    json!({
        "kind": v.kind.name(),
        "url": v.url,
        "status": v.status,
        "since_offset": v.since,
        "delivered_through": v.delivered_through,
        "dead_letter_offset": v.dead_letter_offset,
    })
}

/// `GET /webhooks`.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let items: Vec<Value> = Kind::ALL
        .into_iter()
        .map(|k| render(&state.webhooks.view(tenant, k)))
        .collect();
    let secret = allowed(&state, &caller, Capability::ManageTenantSettings)
        .then(|| state.webhooks.signing_secret(tenant));
    Ok(Json(
        json!({"signing_secret": secret, "count": items.len(), "items": items}),
    ))
}

/// `GET /webhooks/{kind}/deliveries`.
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let items = state.webhooks.attempts(tenant, kind(raw)?);
    Ok(Json(json!({"count": items.len(), "items": items})))
}

/// `POST /webhooks/{kind}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let kind = kind(raw)?;
    state.webhooks.resume(tenant, kind).map_err(|e| {
        let code = match e {
            ResumeError::Disabled => "WEBHOOK_DISABLED",
            ResumeError::NotParked => "WEBHOOK_NOT_PARKED",
            ResumeError::Elsewhere => "WEBHOOK_DELIVERED_ELSEWHERE",
        };
        ApiError::new(StatusCode::CONFLICT, code, e.to_string())
    })?;
    Ok(Json(render(&state.webhooks.view(tenant, kind))))
}
