//! Presence and line status (`/user/presence`, `/user/status`,
//! `/users/{id}/status`), and what the SIP registrar reports with the
//! Replicator role: registrations (`/registrations`,
//! `/users/{id}/status/{instance_id}/destroy_status`) and call state
//! (`/users/{id}/call_state`).
//!
//! `status` (ONLINE / ON_CALL / OFFLINE), the shown presence and which
//! registrations count are evaluated at read time against the clock, so a
//! registration lapses at its expiry without any timer or event.

use super::users::parse_user_id;
use super::VIA;
use crate::auth::roles::Capability;
use crate::commands::presence::{
    RemoveRegistration, ReportCallState, ReportRegistration, SetPresence, UserRef, MAX_EXPIRES,
};
use crate::commands::users::ExtensionNumber;
use crate::commands::Command;
use crate::field_tables::restrict;
use crate::http::access::{allowed, require, self_or, tenant_of};
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{optional_str, JsonBody};
use crate::http::ids::portsip as ids;
use crate::http::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::CallState;
use switchboard_events::{Id, TenantId};
use switchboard_projections::directory::{line_status, shown_presence, Scope};

async fn run(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    cmd: Command,
) -> Result<(), ApiError> {
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(())
}

pub(crate) fn render_status(s: &Scope, user_id: Id, now: i64) -> Result<Json<Value>, ApiError> {
    let u = s
        .users
        .get(&user_id)
        .ok_or_else(|| ApiError::not_found("user"))?;
    let p = s.presence.get(&user_id);
    let registrations: Vec<Value> = p
        .map(|p| {
            p.live_registrations(now)
                .map(|r| {
                    json!({
                        "instance_id": r.instance_id,
                        "user_agent": r.user_agent,
                        "application": r.application,
                        "ip": r.ip,
                        "enable_push": r.enable_push,
                        "contact_address": r.contact_address,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let flag = |name: &str| u.attr(name).and_then(|v| v.as_bool()).unwrap_or(false);
    Ok(Json(json!({
        "status": line_status(p, now),
        "presence": shown_presence(p, now),
        "presence_note": p.and_then(|p| p.presence_note.clone()),
        "registration": registrations,
        "enable_dnd": flag("enable_dnd"),
        "enable_acb": flag("enable_acb"),
    })))
}

/// `GET /user/status`.
pub async fn own_status(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let dir = state.queries.read();
    render_status(
        dir.scope_or_empty(caller.home_tenant),
        caller.user_id,
        state.clock.unix_ms(),
    )
}

/// `GET /users/{id}/status`: the user themselves or anyone who may read users.
pub async fn user_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let user_id = parse_user_id(&id)?;
    self_or(&state, &caller, user_id, Capability::ViewUsers)?;
    let dir = state.queries.read();
    render_status(dir.scope_or_empty(tenant), user_id, state.clock.unix_ms())
}

/// `POST /user/presence`: `{presence?, presence_note?}`.
pub async fn set_presence(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    restrict(&body, &["presence", "presence_note"])
        .map_err(|e| ApiError::validation(&e.field, e.message))?;
    let cmd = Command::SetPresence(SetPresence {
        user_id: caller.user_id,
        presence: optional_str(&body, "presence")?,
        note: optional_str(&body, "presence_note")?,
    });
    run(&state, &caller, caller.home_tenant, cmd).await?;
    Ok(Json(json!({})))
}

fn str_field(body: &Map<String, Value>, name: &str, max: usize) -> Result<String, ApiError> {
    let v = optional_str(body, name)?.unwrap_or_default();
    if v.chars().count() > max {
        return Err(ApiError::validation(
            name,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(v)
}

/// Who a registrar message names: `user` (account name) or
/// `extension_number` (a user's primary extension), exactly one.
fn named(body: &Map<String, Value>) -> Result<UserRef, ApiError> {
    match (
        optional_str(body, "user")?,
        optional_str(body, "extension_number")?,
    ) {
        (Some(n), None) => Ok(UserRef::Name(n)),
        (None, Some(x)) => Ok(UserRef::Number(ExtensionNumber::parse(
            &x,
            "extension_number",
        )?)),
        (Some(_), Some(_)) => Err(ApiError::validation(
            "user",
            "give either user or extension_number, not both",
        )),
        (None, None) => Err(ApiError::validation(
            "user",
            "user or extension_number is required",
        )),
    }
}

/// `POST /registrations` (Replicator): `{user | extension_number,
/// instance_id, user_agent, application, ip, enable_push, contact_address,
/// expires}`. The registration counts for `expires` seconds from now; the
/// same `instance_id` again refreshes it.
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    restrict(
        &body,
        &[
            "user",
            "extension_number",
            "instance_id",
            "user_agent",
            "application",
            "ip",
            "enable_push",
            "contact_address",
            "expires",
        ],
    )
    .map_err(|e| ApiError::validation(&e.field, e.message))?;
    let who = named(&body)?;
    let instance_id = str_field(&body, "instance_id", 256)?;
    if instance_id.is_empty() {
        return Err(ApiError::validation("instance_id", "is required"));
    }
    let expires = match body.get("expires") {
        Some(v) => v
            .as_i64()
            .filter(|e| (1..=MAX_EXPIRES).contains(e))
            .ok_or_else(|| {
                ApiError::validation(
                    "expires",
                    format!("must be an integer from 1 to {MAX_EXPIRES} (seconds)"),
                )
            })?,
        None => return Err(ApiError::validation("expires", "is required")),
    };
    let enable_push = match body.get("enable_push") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::validation("enable_push", "must be a boolean")),
    };
    let cmd = Command::ReportRegistration(ReportRegistration {
        user: who,
        instance_id,
        user_agent: str_field(&body, "user_agent", 256)?,
        application: str_field(&body, "application", 128)?,
        ip: str_field(&body, "ip", 64)?,
        enable_push,
        contact_address: str_field(&body, "contact_address", 512)?,
        expires_at_ms: state.clock.unix_ms() + expires * 1000,
    });
    let out = state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(Json(
        json!({ "user_id": ids::render(out.created()?), "expires": expires }),
    ))
}

/// `POST /registrations/{instance_id}/destroy` (Replicator).
pub async fn unregister(
    State(state): State<AppState>,
    caller: Caller,
    Path(instance_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&caller)?;
    let cmd = Command::RemoveRegistration(RemoveRegistration {
        user_id: None,
        instance_id,
    });
    run(&state, &caller, tenant, cmd).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /users/{id}/status/{instance_id}/destroy_status`: removes one of
/// the user's registrations (the registrar, or a user manager).
pub async fn destroy_status(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, instance_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if !allowed(&state, &caller, Capability::ReportRegistrations) {
        require(&state, &caller, Capability::ManageUsers)?;
    }
    let tenant = tenant_of(&caller)?;
    let cmd = Command::RemoveRegistration(RemoveRegistration {
        user_id: Some(parse_user_id(&id)?),
        instance_id,
    });
    run(&state, &caller, tenant, cmd).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /users/{id}/call_state` (Replicator): `{state: IDLE|ON_CALL, queue_id?}`.
pub async fn call_state(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let user_id = parse_user_id(&id)?;
    restrict(&body, &["state", "queue_id"])
        .map_err(|e| ApiError::validation(&e.field, e.message))?;
    let call = match optional_str(&body, "state")?.as_deref() {
        Some("IDLE") => CallState::Idle,
        Some("ON_CALL") => CallState::OnCall,
        Some(_) => return Err(ApiError::validation("state", "must be IDLE or ON_CALL")),
        None => return Err(ApiError::validation("state", "is required")),
    };
    let queue_id = match optional_str(&body, "queue_id")? {
        Some(q) => Some(
            ids::parse(&q).ok_or_else(|| ApiError::validation("queue_id", "no such call queue"))?,
        ),
        None => None,
    };
    let cmd = Command::ReportCallState(ReportCallState {
        user_id,
        state: call,
        queue_id,
    });
    run(&state, &caller, tenant, cmd).await?;
    Ok(Json(json!({})))
}
