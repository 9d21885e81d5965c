//! Call queues' waiting lists (PortSIP companion API) and the PBX's reports
//! behind them (switchboard's own routes, Replicator role):
//!
//! - `GET /call_queues/{id}/waiting`: `{items: [{session_id,
//!   extension_number, display_name, waiting_time}]}`, longest waiting
//!   first, `waiting_time` in seconds as of the request; for whoever reads
//!   call queues and for the queue's agents;
//! - `POST /call_queues/{id}/waiting/{session_id}/pickup`: an agent of the
//!   queue asks to answer the call: 200 `{id}` (the request, which the PBX
//!   that reported the call sees on its change stream as a
//!   `call_queue_pickups` item); another queue's agent 403, a call not
//!   waiting 404, a call another agent asked for 409
//!   `CALL_ALREADY_PICKED_UP`;
//! - `POST /call_queues/{id}/waiting` (the PBX): `{session_id,
//!   extension_number, display_name?, waiting_since?}` → 201 `{session_id}`,
//!   200 if the session is already waiting (nothing written);
//! - `POST /call_queues/{id}/waiting/{session_id}/destroy` (the PBX): the
//!   caller stopped waiting (with any pickup request): 204, also when it
//!   was gone already.
//!
//! The decisions are [`crate::commands::waiting`]'s.

use super::VIA;
use crate::commands::waiting::{self, WaitingCaller, WaitingCommand};
use crate::commands::{Command, NewId};
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::ids::portsip as ids;
use crate::http::AppState;
use crate::records::fields::normalize_datetime;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::Id;

/// Longest session id the PBX may report.
const MAX_SESSION_ID: usize = 128;

fn queue_id(raw: &str) -> Result<Id, ApiError> {
    ids::parse_or_404(raw, "call queue")
}

/// A session id as the PBX sends it: 1 to 128 visible characters.
fn valid_session(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= MAX_SESSION_ID
        && s.chars().all(|c| c.is_ascii_graphic() && c != '/')
}

/// A caller's number as PortSIP shows it (`[0-9]{3,64}`; a leading `+` is
/// kept for outside callers).
fn valid_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (3..=64).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `GET /call_queues/{id}/waiting`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let queue = queue_id(&id)?;
    let now_ms = state.clock.unix_ms();
    let model = state.queries.read();
    let actor = caller.acting_in(tenant, VIA).by.actor(&model)?;
    let s = model.scope_or_empty(tenant);
    waiting::may_see(s, &actor, queue)?;
    let items: Vec<Value> = waiting::waiting(s, queue)
        .iter()
        .map(|w| {
            json!({
                "session_id": w.session_id,
                "extension_number": w.extension_number,
                "display_name": w.display_name,
                "waiting_time": (now_ms.saturating_sub(w.since_ms) / 1000).clamp(0, i64::from(u32::MAX)),
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `POST /call_queues/{id}/waiting/{session_id}/pickup`.
pub async fn pickup(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, session_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let queue_id = queue_id(&id)?;
    if !valid_session(&session_id) {
        return Err(ApiError::not_found("waiting call"));
    }
    let outcome = state
        .pipeline
        .run(
            Command::Waiting(WaitingCommand::Pickup {
                pickup_id: NewId::default(),
                queue_id,
                session_id,
            }),
            caller.acting_in(tenant, VIA),
        )
        .await?;
    let id = outcome.id.map(ids::render).unwrap_or_default();
    Ok(Json(json!({ "id": id })))
}

fn text_field<'a>(
    body: &'a Map<String, Value>,
    name: &str,
    required: bool,
) -> Result<Option<&'a str>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) if required => Err(ApiError::validation(name, "is required")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::validation(name, "must be a string")),
    }
}

/// `POST /call_queues/{id}/waiting` (the PBX).
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let tenant = tenant_of(&caller)?;
    let queue_id = queue_id(&id)?;
    const KNOWN: [&str; 4] = [
        "session_id",
        "extension_number",
        "display_name",
        "waiting_since",
    ];
    if let Some(k) = body.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::validation(k, "unknown field"));
    }
    let session_id = text_field(&body, "session_id", true)?.unwrap_or_default();
    if !valid_session(session_id) {
        return Err(ApiError::validation(
            "session_id",
            format!("must be 1 to {MAX_SESSION_ID} visible characters without '/'"),
        ));
    }
    let number = text_field(&body, "extension_number", true)?.unwrap_or_default();
    if !valid_number(number) {
        return Err(ApiError::validation(
            "extension_number",
            "must be 3 to 64 digits (a leading + allowed)",
        ));
    }
    let name = text_field(&body, "display_name", false)?.unwrap_or_default();
    if name.chars().count() > 256 {
        return Err(ApiError::validation(
            "display_name",
            "must be at most 256 characters",
        ));
    }
    let since_ms = match text_field(&body, "waiting_since", false)? {
        Some(s) => {
            normalize_datetime(s)
                .ok_or_else(|| {
                    ApiError::validation(
                        "waiting_since",
                        "must be an RFC 3339 date-time, e.g. 2017-07-21T17:32:28Z",
                    )
                })?
                .1
        }
        None => state.clock.unix_ms(),
    };
    let outcome = state
        .pipeline
        .run(
            Command::Waiting(WaitingCommand::Report(WaitingCaller {
                entry_id: NewId::default(),
                queue_id,
                session_id: session_id.to_owned(),
                extension_number: number.to_owned(),
                display_name: name.to_owned(),
                since_ms,
            })),
            caller.acting_in(tenant, VIA),
        )
        .await?;
    let status = if outcome.appended.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "session_id": session_id }))).into_response())
}

/// `POST /call_queues/{id}/waiting/{session_id}/destroy` (the PBX).
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, session_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&caller)?;
    let queue_id = queue_id(&id)?;
    if valid_session(&session_id) {
        state
            .pipeline
            .run(
                Command::Waiting(WaitingCommand::Remove {
                    queue_id,
                    session_id,
                }),
                caller.acting_in(tenant, VIA),
            )
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
