//! Agent status (SetAgentStatus) from the agent's side: a user's queues,
//! their status in each, and the time-in-status report served from the log.
//!
//! A user sets only their own status; a caller who manages queues (Admin,
//! QueueManager, custom roles with `phone_system.full_access`) may set
//! anyone's in their tenant.

use super::queues::{render_agent, render_brief};
use super::users::parse_user_id;
use super::VIA;
use crate::auth::roles::Capability;
use crate::commands::agents::{self, Requested};
use crate::commands::Command;
use crate::http::access::{self_or, tenant_of};
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::ids::portsip as ids;
use crate::http::list::form_pairs;
use crate::http::AppState;
use crate::queries::agents::REPORTED;
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::AgentStatus;
use switchboard_events::envelope::format_rfc3339;
use switchboard_events::{Id, TenantId};
use switchboard_projections::directory::Scope;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

fn parse_queue_id(raw: &str) -> Result<Id, ApiError> {
    ids::parse_or_404(raw, "call queue")
}

/// Validates `{status}` and runs SetAgentStatus (the agent itself, or a
/// caller who manages queues: decided by the command).
pub async fn set_agent_status(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    queue_id: Id,
    user_id: Id,
    body: &Map<String, Value>,
) -> Result<Json<Value>, ApiError> {
    if let Some(k) = body.keys().find(|k| *k != "status") {
        return Err(ApiError::validation(k, "unknown field"));
    }
    let requested = match body.get("status") {
        Some(Value::String(s)) => Requested::parse(s).ok_or_else(|| {
            ApiError::validation(
                "status",
                "must be one of READY, NOT_READY, WRAP_UP, BREAK, LUNCH, LOGGED_IN, LOGGED_OUT",
            )
        })?,
        None | Some(Value::Null) => return Err(ApiError::validation("status", "is required")),
        Some(_) => return Err(ApiError::validation("status", "must be a string")),
    };
    let cmd = Command::SetAgentStatus {
        queue_id,
        user_id,
        requested,
    };
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(Json(json!({})))
}

fn user_queues(s: &Scope, user_id: Id) -> Result<Json<Value>, ApiError> {
    if !s.users.contains_key(&user_id) {
        return Err(ApiError::not_found("user"));
    }
    let items: Vec<Value> = s
        .call_queues
        .values()
        .filter(|q| q.agents.contains_key(&user_id))
        .map(|q| render_brief(q.id, &q.name, &q.number))
        .collect();
    Ok(Json(json!({ "items": items })))
}

pub(crate) fn one_agent(
    s: &Scope,
    queue_id: Id,
    user_id: Id,
    now_ms: i64,
) -> Result<Json<Value>, ApiError> {
    let u = s
        .users
        .get(&user_id)
        .ok_or_else(|| ApiError::not_found("user"))?;
    let a = agents::agent(s, queue_id, user_id)?;
    Ok(Json(render_agent(
        s,
        u,
        a.skill_level,
        Some((a.status, queue_id)),
        now_ms,
    )))
}

/// `GET /user/call_queues`: the queues the caller is an agent of.
pub async fn own_queues(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let dir = state.queries.read();
    user_queues(dir.scope_or_empty(caller.home_tenant), caller.user_id)
}

/// `GET /user/ring_groups`: the ring groups the caller belongs to.
pub async fn own_ring_groups(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let dir = state.queries.read();
    let s = dir.scope_or_empty(caller.home_tenant);
    let items: Vec<Value> = s
        .ring_groups
        .values()
        .filter(|g| g.agents.contains_key(&caller.user_id))
        .map(|g| render_brief(g.id, &g.name, &g.number))
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `GET /user/call_queues/{id}/agent`.
pub async fn own_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let queue_id = parse_queue_id(&id)?;
    let dir = state.queries.read();
    one_agent(
        dir.scope_or_empty(caller.home_tenant),
        queue_id,
        caller.user_id,
        state.clock.unix_ms(),
    )
}

/// `POST /user/call_queues/{id}/agent`: sets the caller's own status.
pub async fn set_own_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let queue_id = parse_queue_id(&id)?;
    set_agent_status(
        &state,
        &caller,
        caller.home_tenant,
        queue_id,
        caller.user_id,
        &body,
    )
    .await
}

/// `GET /users/{id}/call_queues`.
pub async fn user_call_queues(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let user_id = parse_user_id(&id)?;
    self_or(&state, &caller, user_id, Capability::ViewQueues)?;
    let dir = state.queries.read();
    user_queues(dir.scope_or_empty(tenant), user_id)
}

/// `GET /users/{id}/call_queues/{queue_id}/agent`.
pub async fn user_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, queue)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let user_id = parse_user_id(&id)?;
    let queue_id = parse_queue_id(&queue)?;
    self_or(&state, &caller, user_id, Capability::ViewQueues)?;
    let dir = state.queries.read();
    one_agent(
        dir.scope_or_empty(tenant),
        queue_id,
        user_id,
        state.clock.unix_ms(),
    )
}

/// `POST /users/{id}/call_queues/{queue_id}/agent`.
pub async fn set_user_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, queue)): Path<(String, String)>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let user_id = parse_user_id(&id)?;
    let queue_id = parse_queue_id(&queue)?;
    set_agent_status(&state, &caller, tenant, queue_id, user_id, &body).await
}

fn parse_time(v: &str, field: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(v, &Rfc3339)
        .map_err(|_| ApiError::validation(field, "must be an RFC 3339 timestamp"))
}

fn seconds(d: Duration) -> f64 {
    (d.whole_milliseconds() as f64) / 1000.0
}

/// `GET /users/{id}/agent_status_history?from=&to=&queue_id=`: the status
/// changes in `[from, to]` read from the agent's own stream in the log, and
/// per queue the seconds spent in each settable status (`totals`) and in
/// each reported status, derived ones included (`reported_totals`, which
/// also reads the user's presence stream). The status in effect at `from`
/// counts from `from`; `to` is capped at now. Defaults: the last 24 hours,
/// every queue.
pub async fn status_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let user_id = parse_user_id(&id)?;
    self_or(&state, &caller, user_id, Capability::ViewQueues)?;
    let now = state.clock.now();
    let (mut from, mut to, mut only) = (None, None, None);
    for (k, v) in form_pairs(query.as_deref().unwrap_or("")) {
        match k.as_str() {
            "from" => from = Some(parse_time(&v, "from")?),
            "to" => to = Some(parse_time(&v, "to")?),
            "queue_id" => only = Some(parse_queue_id(&v)?),
            _ => {}
        }
    }
    let to = to.unwrap_or(now).min(now);
    let from = from.unwrap_or(to - Duration::days(1));
    if from > to {
        return Err(ApiError::validation("from", "must not be after to"));
    }
    let history = state
        .queries
        .agent_history(tenant, user_id, from, to, only)
        .await
        .map_err(|e| {
            tracing::error!(reason = %e, "agent history: log read failed");
            ApiError::unavailable("the history cannot be read right now")
        })?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let items: Vec<Value> = history
        .changes
        .iter()
        .map(|c| {
            json!({
                "queue_id": ids::render(c.queue_id),
                "status": c.status.as_str(),
                "previous": c.previous.as_str(),
                "changed_at": format_rfc3339(c.at),
                "changed_at_ms": (c.at.unix_timestamp_nanos() / 1_000_000) as i64,
            })
        })
        .collect();
    let queues: Vec<Value> = history
        .queues
        .iter()
        .map(|q| {
            let mut r = Map::new();
            for s in REPORTED {
                let d = q.reported.get(s).copied().unwrap_or(Duration::ZERO);
                r.insert(s.into(), json!(seconds(d)));
            }
            let mut t = Map::new();
            for s in AgentStatus::ALL {
                let d = q.totals.get(&s).copied().unwrap_or(Duration::ZERO);
                t.insert(s.as_str().into(), json!(seconds(d)));
            }
            let (name, number) = q
                .name_and_number
                .as_ref()
                .map(|(n, x)| (json!(n), json!(x)))
                .unwrap_or((Value::Null, Value::Null));
            json!({
                "queue_id": ids::render(q.queue_id),
                "name": name,
                "extension_number": number,
                "status_at_from": q.status_at_from.as_str(),
                "totals": t,
                "reported_totals": r,
            })
        })
        .collect();
    Ok(Json(json!({
        "from": format_rfc3339(from),
        "to": format_rfc3339(to),
        "window_seconds": seconds(to - from),
        "items": items,
        "queues": queues,
    })))
}
