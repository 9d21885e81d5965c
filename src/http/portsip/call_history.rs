//! Call detail records and external messages:
//! - the tenant's: `GET /cdrs`, `GET /cdrs/{id}`, `GET /external_messages`,
//!   `GET /external_messages/{id}` (an administrator, or a custom role
//!   with `company_call_log.call_log_*`);
//! - a user's own (those naming one of their numbers): `GET /user/cdrs`,
//!   `GET /user/cdrs/{id}`, `GET /user/external_messages`,
//!   `GET /user/external_messages/{id}`;
//! - ingestion by the PBX (the Replicator role; switchboard's own routes):
//!   `POST /cdrs`, `POST /external_messages` with one record. 201 `{id}`
//!   when recorded, 200 `{id}` with the existing id when the PBX's own id
//!   (a CDR's `call_id`, a message's `message_id`) was already reported:
//!   nothing is written then.
//!
//! Lists take `filter`, `search`, `orderby`, `skip`, `top` over the fields
//! of `records::CDR_LIST` / `records::MESSAGE_LIST`, newest first; they are
//! served by the on-disk call history store (`records::store`), never from
//! memory. Another tenant's or another user's id is 404.

use super::VIA;
use crate::commands::recordings::{RecordRecording, RecordingCommand};
use crate::commands::Command;
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::ids::portsip as ids;
use crate::http::list::{self, ListParams};
use crate::http::AppState;
use crate::records::fields::{RecordTable, CDR_FIELDS, MESSAGE_FIELDS, RECORDING_FIELDS};
use crate::records::history::HistoryError;
use crate::records::ingest::{history_command, ingest, Claim, Ingested};
use crate::records::store::{file_key, Kind, QueryFailure, Record, Scope};
use crate::records::{
    CDR_LIST, CDR_TIME, MESSAGE_LIST, MESSAGE_TIME, RECORDING_LIST, RECORDING_TIME,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::TenantId;
use switchboard_projections::query::ListSchema;

/// What one kind of record needs at the edge.
struct Family {
    kind: Kind,
    table: &'static RecordTable,
    list: &'static ListSchema,
    time: &'static str,
    noun: &'static str,
}

const CDRS: Family = Family {
    kind: Kind::Cdr,
    table: &CDR_FIELDS,
    list: &CDR_LIST,
    time: CDR_TIME,
    noun: "cdr",
};

const MESSAGES: Family = Family {
    kind: Kind::Message,
    table: &MESSAGE_FIELDS,
    list: &MESSAGE_LIST,
    time: MESSAGE_TIME,
    noun: "external message",
};

const RECORDINGS: Family = Family {
    kind: Kind::Recording,
    table: &RECORDING_FIELDS,
    list: &RECORDING_LIST,
    time: RECORDING_TIME,
    noun: "recording",
};

impl From<HistoryError> for ApiError {
    fn from(e: HistoryError) -> ApiError {
        tracing::error!(error = %e, "call history failed");
        ApiError::unavailable("call history is not available right now")
    }
}

impl From<QueryFailure> for ApiError {
    fn from(e: QueryFailure) -> ApiError {
        match e {
            QueryFailure::Page(p) => ApiError::validation("skip", p.to_string()),
            QueryFailure::Store(s) => HistoryError::from(s).into(),
        }
    }
}

/// Whose records a request reads, in which tenant.
fn whose(caller: &Caller, own: bool) -> Result<(TenantId, Scope), ApiError> {
    if own {
        Ok((caller.home_tenant, Scope::User(caller.user_id)))
    } else {
        Ok((tenant_of(caller)?, Scope::Tenant))
    }
}

async fn list(
    state: &AppState,
    caller: &Caller,
    family: &'static Family,
    own: bool,
    params: &ListParams,
) -> Result<Response, ApiError> {
    let (tenant, scope) = whose(caller, own)?;
    let query = list::parse(params, family.list)?;
    let page = state
        .history
        .read(move |store| store.page(family.kind, tenant, scope, &query, family.time))
        .await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|r| Value::Object(family.table.render(&ids::render(r.id), &r.body, true)))
        .collect();
    Ok(Json(json!({"count": page.count, "items": items})).into_response())
}

async fn one(
    state: &AppState,
    caller: &Caller,
    family: &'static Family,
    own: bool,
    raw: &str,
) -> Result<Record, ApiError> {
    let (tenant, scope) = whose(caller, own)?;
    let id = ids::parse_or_404(raw, family.noun)?;
    let found = state
        .history
        .read(move |store| {
            store
                .get(family.kind, tenant, scope, id)
                .map_err(HistoryError::from)
        })
        .await?;
    found.ok_or_else(|| ApiError::not_found(family.noun))
}

fn detail(family: &Family, r: &Record) -> Map<String, Value> {
    family.table.render(&ids::render(r.id), &r.body, false)
}

/// `GET /cdrs`.
pub async fn cdrs(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<Response, ApiError> {
    list(&state, &caller, &CDRS, false, &params).await
}

/// `GET /user/cdrs`.
pub async fn own_cdrs(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<Response, ApiError> {
    list(&state, &caller, &CDRS, true, &params).await
}

/// A CDR's detail: PortSIP's carries no `id` (the caller asked by it).
fn cdr_detail(r: &Record) -> Map<String, Value> {
    let mut m = detail(&CDRS, r);
    m.remove("id");
    m
}

/// `GET /cdrs/{id}`: PortSIP answers `{items: [cdr]}`.
pub async fn cdr(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let r = one(&state, &caller, &CDRS, false, &id).await?;
    Ok(Json(json!({"items": [cdr_detail(&r)]})))
}

/// `GET /user/cdrs/{id}`: PortSIP answers `{items: cdr}`.
pub async fn own_cdr(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let r = one(&state, &caller, &CDRS, true, &id).await?;
    Ok(Json(json!({"items": cdr_detail(&r)})))
}

/// `GET /external_messages`.
pub async fn messages(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<Response, ApiError> {
    list(&state, &caller, &MESSAGES, false, &params).await
}

/// `GET /user/external_messages`.
pub async fn own_messages(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<Response, ApiError> {
    list(&state, &caller, &MESSAGES, true, &params).await
}

/// `GET /external_messages/{id}`.
pub async fn message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let r = one(&state, &caller, &MESSAGES, false, &id).await?;
    Ok(Json(Value::Object(detail(&MESSAGES, &r))))
}

/// `GET /user/external_messages/{id}`.
pub async fn own_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let r = one(&state, &caller, &MESSAGES, true, &id).await?;
    Ok(Json(Value::Object(detail(&MESSAGES, &r))))
}

async fn report(
    state: &AppState,
    caller: &Caller,
    family: &'static Family,
    body: &Map<String, Value>,
) -> Result<Response, ApiError> {
    let tenant = tenant_of(caller)?;
    let mut body = body.clone();
    // A recording names the file the PBX uploaded its audio as.
    let file_id = if family.kind == Kind::Recording {
        let raw = body.remove("file_id");
        let id = raw
            .as_ref()
            .and_then(Value::as_str)
            .and_then(ids::parse)
            .ok_or_else(|| {
                ApiError::validation("file_id", "the id of the uploaded audio file is required")
            })?;
        Some(id)
    } else {
        None
    };
    let parsed = family
        .table
        .parse(&body)
        .map_err(|e| ApiError::validation(&e.field, e.message))?;
    let key = parsed.key.clone();
    let (cmd, claims) = match file_id {
        Some(file_id) => (
            Command::Recording(RecordingCommand::Record(RecordRecording {
                key: parsed.key,
                at_ms: parsed.at_ms,
                numbers: parsed.numbers,
                body: parsed.body,
                file_id,
            })),
            vec![Claim {
                key: file_key(file_id),
                field: "file_id",
            }],
        ),
        None => (history_command(family.kind, parsed), Vec::new()),
    };
    let done = ingest(
        &state.pipeline,
        &state.history,
        state.queries.applied(),
        family.kind,
        key,
        claims,
        cmd,
        caller.acting_in(tenant, VIA),
    )
    .await?;
    Ok(match done {
        Ingested::Created(id) => {
            (StatusCode::CREATED, Json(json!({"id": ids::render(id)}))).into_response()
        }
        Ingested::Existing(id) => {
            (StatusCode::OK, Json(json!({"id": ids::render(id)}))).into_response()
        }
    })
}

/// `POST /cdrs` (the PBX, Replicator role): one CDR.
pub async fn report_cdr(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    report(&state, &caller, &CDRS, &body).await
}

/// `POST /external_messages` (the PBX, Replicator role): one message.
pub async fn report_message(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    report(&state, &caller, &MESSAGES, &body).await
}

/// A recording's detail: PortSIP's carries no `id` and is `{items: [recording]}`.
fn recording_detail(r: &Record) -> Value {
    let mut m = detail(&RECORDINGS, r);
    m.remove("id");
    json!({"items": [m]})
}

/// `GET /recordings`.
pub async fn recordings(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<Response, ApiError> {
    list(&state, &caller, &RECORDINGS, false, &params).await
}

/// `GET /user/recordings`.
pub async fn own_recordings(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<Response, ApiError> {
    list(&state, &caller, &RECORDINGS, true, &params).await
}

/// `GET /recordings/{id}`.
pub async fn recording(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let r = one(&state, &caller, &RECORDINGS, false, &id).await?;
    Ok(Json(recording_detail(&r)))
}

/// `GET /user/recordings/{id}`.
pub async fn own_recording(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let r = one(&state, &caller, &RECORDINGS, true, &id).await?;
    Ok(Json(recording_detail(&r)))
}

/// `POST /recordings` (the PBX, Replicator role): one recording's metadata,
/// naming the file its audio was uploaded as (`file_id`).
pub async fn report_recording(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    report(&state, &caller, &RECORDINGS, &body).await
}

async fn destroy(
    state: &AppState,
    caller: &Caller,
    own: bool,
    raw: &str,
) -> Result<StatusCode, ApiError> {
    let (tenant, scope) = whose(caller, own)?;
    let id = ids::parse_or_404(raw, RECORDINGS.noun)?;
    crate::records::recordings::destroy(
        &state.pipeline,
        &state.history,
        state.queries.applied(),
        scope,
        id,
        caller.acting_in(tenant, VIA),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /recordings/{id}/destroy`: 204; the file goes with it.
pub async fn destroy_recording(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    destroy(&state, &caller, false, &id).await
}

/// `POST /user/recordings/{id}/destroy`: the caller's own; 204.
pub async fn destroy_own_recording(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    destroy(&state, &caller, true, &id).await
}
