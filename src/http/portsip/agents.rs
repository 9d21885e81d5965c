//! Agent status (SetAgentStatus) from the agent's side: a user's queues,
//! their status in each, and the time-in-status report served from the log.
//!
//! A user sets only their own status; a caller who manages queues (Admin,
//! QueueManager, custom roles with `phone_system.full_access`) may set
//! anyone's in their tenant.

use super::extensions::scope_in;
use super::ids;
use super::queues::{render_agent, render_brief};
use super::users::parse_user_id;
use crate::auth::caller::Caller;
use crate::auth::roles::Capability;
use crate::commands::agents::{self, reported_time_in_status, time_in_status, Fact, Requested};

use crate::http::access::{allowed, tenant_of};
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::list::form_pairs;
use crate::http::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use switchboard_events::domain::{AgentStatus, CallState};
use switchboard_events::envelope::format_rfc3339;
use switchboard_events::{Event, Id, StreamId, TenantId};
use switchboard_projections::directory::Scope;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The service clock in Unix milliseconds: derived states are evaluated
/// against it when read.
pub fn now_ms(state: &AppState) -> i64 {
    state.clock.unix_ms()
}

/// Whether the caller may act on `user_id`'s agent data: themselves, or
/// anyone with `cap`.
fn may(state: &AppState, caller: &Caller, user_id: Id, cap: Capability) -> bool {
    caller.user_id == user_id || allowed(state, caller, cap)
}

fn parse_queue_id(raw: &str) -> Result<Id, ApiError> {
    ids::parse_or_404(raw, "call queue")
}

/// Validates `{status}` and runs SetAgentStatus, checking who may.
pub async fn set_agent_status(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    queue_id: Id,
    user_id: Id,
    body: &Map<String, Value>,
) -> Result<Json<Value>, ApiError> {
    if !may(state, caller, user_id, Capability::ManageQueues) {
        return Err(ApiError::forbidden(
            "you may only set your own agent status",
        ));
    }
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
    state
        .pipeline
        .execute(tenant, caller.metadata("portsip"), |dir| {
            let d = agents::set_status(scope_in(dir, tenant), queue_id, user_id, requested)?;
            Ok((d, ()))
        })
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
    user_queues(scope_in(&dir, caller.home_tenant), caller.user_id)
}

/// `GET /user/ring_groups`: the ring groups the caller belongs to.
pub async fn own_ring_groups(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let dir = state.queries.read();
    let s = scope_in(&dir, caller.home_tenant);
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
        scope_in(&dir, caller.home_tenant),
        queue_id,
        caller.user_id,
        now_ms(&state),
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
    if !may(&state, &caller, user_id, Capability::ViewQueues) {
        return Err(ApiError::forbidden("your role does not allow this"));
    }
    let dir = state.queries.read();
    user_queues(scope_in(&dir, tenant), user_id)
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
    if !may(&state, &caller, user_id, Capability::ViewQueues) {
        return Err(ApiError::forbidden("your role does not allow this"));
    }
    let dir = state.queries.read();
    one_agent(scope_in(&dir, tenant), queue_id, user_id, now_ms(&state))
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

/// One recorded status change, as read from the agent's stream.
struct Change {
    offset: u64,
    at: OffsetDateTime,
    queue_id: Id,
    status: AgentStatus,
    previous: AgentStatus,
}

/// Every status an agent can be reported in.
const REPORTED: [&str; 9] = [
    "READY",
    "NOT_READY",
    "QUEUE_CALL",
    "OTHER_CALL",
    "WRAP_UP",
    "BREAK",
    "LUNCH",
    "LOGGED_OUT",
    "OFFLINE",
];

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
    if !may(&state, &caller, user_id, Capability::ViewQueues) {
        return Err(ApiError::forbidden("your role does not allow this"));
    }
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
    // Current members (and queue names) from the directory.
    let (queues_now, names): (BTreeMap<Id, AgentStatus>, BTreeMap<Id, (String, String)>) = {
        let dir = state.queries.read();
        let s = scope_in(&dir, tenant);
        if !s.users.contains_key(&user_id) {
            return Err(ApiError::not_found("user"));
        }
        (
            s.call_queues
                .values()
                .filter_map(|q| q.agents.get(&user_id).map(|a| (q.id, a.status)))
                .collect(),
            s.call_queues
                .values()
                .map(|q| (q.id, (q.name.clone(), q.number.clone())))
                .collect(),
        )
    };
    // The agent's own stream, then its presence stream, each in log order.
    let streams = [
        StreamId::of("agent", user_id),
        StreamId::of("presence", user_id),
    ];
    let read = state
        .queries
        .stream_events(tenant, &streams, to)
        .await
        .map_err(|e| {
            tracing::error!(reason = %e, "agent history: log read failed");
            ApiError::unavailable("the history cannot be read right now")
        })?;
    let mut changes = Vec::new();
    let mut line = Vec::new();
    for (env, event) in read {
        let fact = match event {
            Event::AgentStatusSet(e) => {
                changes.push(Change {
                    offset: env.offset,
                    at: env.recorded_at,
                    queue_id: e.queue_id,
                    status: e.status,
                    previous: e.previous,
                });
                continue;
            }
            Event::RegistrationAdded(e) => Fact::Registered {
                instance_id: e.instance_id,
                expires_at_ms: e.expires_at_ms,
            },
            Event::RegistrationRemoved(e) => Fact::Unregistered {
                instance_id: e.instance_id,
            },
            Event::CallStateChanged(e) => match e.state {
                CallState::OnCall => Fact::Call(e.queue_id),
                CallState::Idle => Fact::Idle,
            },
            _ => continue,
        };
        line.push((env.offset, env.recorded_at, fact));
    }

    let mut queue_ids: Vec<Id> = queues_now.keys().copied().collect();
    queue_ids.extend(changes.iter().map(|c| c.queue_id));
    queue_ids.sort();
    queue_ids.dedup();
    queue_ids.retain(|q| only.is_none_or(|o| o == *q));

    let items: Vec<Value> = changes
        .iter()
        .filter(|c| c.at >= from && only.is_none_or(|o| o == c.queue_id))
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
    let queues: Vec<Value> = queue_ids
        .iter()
        .map(|q| {
            let mine: Vec<&Change> = changes.iter().filter(|c| c.queue_id == *q).collect();
            // Before its first recorded change an agent was LOGGED_OUT
            // (new agents start there; `previous` records it).
            let initial = mine
                .first()
                .map(|c| c.previous)
                .or_else(|| queues_now.get(q).copied())
                .unwrap_or(AgentStatus::LoggedOut);
            let timeline: Vec<(OffsetDateTime, AgentStatus)> =
                mine.iter().map(|c| (c.at, c.status)).collect();
            let totals = time_in_status(initial, &timeline, from, to);
            // Settable changes and line facts merged in log order.
            let mut merged: Vec<(u64, OffsetDateTime, Fact)> = mine
                .iter()
                .map(|c| (c.offset, c.at, Fact::Settable(c.status)))
                .chain(line.iter().cloned())
                .collect();
            merged.sort_by_key(|(offset, _, _)| *offset);
            let facts: Vec<(OffsetDateTime, Fact)> =
                merged.into_iter().map(|(_, at, f)| (at, f)).collect();
            let reported = reported_time_in_status(initial, &facts, *q, from, to);
            let mut r = Map::new();
            for s in REPORTED {
                r.insert(
                    s.into(),
                    json!(seconds(reported.get(s).copied().unwrap_or(Duration::ZERO))),
                );
            }
            let mut t = Map::new();
            for s in AgentStatus::ALL {
                t.insert(
                    s.as_str().into(),
                    json!(seconds(totals.get(&s).copied().unwrap_or(Duration::ZERO))),
                );
            }
            let at_from = mine
                .iter()
                .take_while(|c| c.at <= from)
                .last()
                .map(|c| c.status)
                .unwrap_or(initial);
            let (name, number) = names
                .get(q)
                .map(|(n, x)| (json!(n), json!(x)))
                .unwrap_or((Value::Null, Value::Null));
            json!({
                "queue_id": ids::render(*q),
                "name": name,
                "extension_number": number,
                "status_at_from": at_from.as_str(),
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
