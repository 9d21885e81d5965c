//! `GET /audit_logs` and per-object history (`GET /users/{id}/history`,
//! `/extensions/{id}/history`, `/groups/{id}/history`), served from the log.
//!
//! Both read the queries layer's audit index ([`crate::queries::audit`]):
//! each event was described against the state just before it when it was
//! applied, so old values are the ones the change replaced, and a page
//! reads only the entries it shows.
//!
//! History is generic over a stream category: adding it for another
//! resource (call queues, contacts) is one handler calling [`history`] with
//! that resource's stream category, and one route.

use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::ids::portsip as ids;
use crate::http::list::{self, ListParams};
use crate::http::render_cache::{PageItem, Shape};
use crate::http::AppState;
use crate::queries::audit::AuditRecord;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{json, Map, Value};
use switchboard_events::envelope::format_rfc3339;
use switchboard_events::{Id, StreamId, TenantId, SYSTEM_TENANT};
use switchboard_projections::query::{Dir, FieldType, ListQuery, ListSchema};

static AUDIT_SCHEMA: ListSchema = ListSchema {
    fields: &[
        ("id", FieldType::String),
        ("created_at", FieldType::DateTime),
        ("source", FieldType::String),
        ("ip", FieldType::String),
        ("action", FieldType::String),
        ("object_type", FieldType::String),
        ("user_name", FieldType::String),
        ("object_name", FieldType::String),
    ],
    search: &["user_name", "object_name", "object_type", "action"],
    // Items are produced newest first; the sort is stable, so equal times
    // keep log order.
    default_order: &[("created_at", Dir::Desc)],
};

static HISTORY_SCHEMA: ListSchema = ListSchema {
    fields: &[
        ("id", FieldType::String),
        ("created_at", FieldType::DateTime),
        ("source", FieldType::String),
        ("ip", FieldType::String),
        ("action", FieldType::String),
        ("user_name", FieldType::String),
    ],
    search: &["user_name", "action"],
    default_order: &[("created_at", Dir::Asc)],
};

/// Parses the list query (refusing a bad one before any index is read).
fn parse_query(params: &ListParams, schema: &ListSchema) -> Result<ListQuery, ApiError> {
    ListQuery::parse(&params.0, schema).map_err(|e| ApiError::validation(&e.param, e.message))
}

fn unavailable(e: crate::queries::ReadError) -> ApiError {
    ApiError::unavailable(e.to_string())
}

fn ip_json(ip: Option<std::net::IpAddr>) -> Value {
    ip.map_or(Value::Null, |i| json!(i.to_string()))
}

/// A page of entries, each rendered once (entries never change: an audit
/// id is a log offset).
fn rendered(
    state: &AppState,
    shape: Shape,
    count: usize,
    records: &[AuditRecord],
    render: fn(&AuditRecord) -> Map<String, Value>,
) -> Response {
    // An offset names one entry of the whole log, rendered the same for
    // every viewer, so the system admin's cross-tenant pages and a tenant's
    // share one key space (the system scope's).
    let items: Vec<PageItem> = records
        .iter()
        .map(|r| PageItem {
            id: Id(r.offset),
            version: 0,
            flag: false,
        })
        .collect();
    let by_offset = |id: Id| records.iter().find(|r| r.offset == id.0);
    let body = state
        .render_cache
        .page(shape, SYSTEM_TENANT, count, &items, false, |id, _| {
            Value::Object(by_offset(id).map(render).unwrap_or_default())
        });
    list::answer_body(body)
}

fn render_audit(d: &AuditRecord) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(Id(d.offset))));
    m.insert("created_at".into(), json!(format_rfc3339(d.recorded_at)));
    m.insert("source".into(), json!(d.via));
    m.insert("ip".into(), ip_json(d.ip));
    m.insert("action".into(), json!(d.action));
    m.insert("object_type".into(), json!(d.object_type));
    m.insert("user_name".into(), json!(d.actor));
    m.insert("object_name".into(), json!(d.object_name));
    // The companion spec types these as strings: JSON text of the changed
    // fields only.
    m.insert("old_state".into(), json!(d.old_state()));
    m.insert("new_state".into(), json!(d.new_state()));
    m
}

fn render_history(d: &AuditRecord) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(Id(d.offset))));
    m.insert("created_at".into(), json!(format_rfc3339(d.recorded_at)));
    m.insert("source".into(), json!(d.via));
    m.insert("ip".into(), ip_json(d.ip));
    m.insert("action".into(), json!(d.action));
    m.insert("user_name".into(), json!(d.actor));
    m.insert("object_name".into(), json!(d.object_name));
    m.insert(
        "changes".into(),
        Value::Array(
            d.change_values()
                .map(|(field, old, new)| json!({"field": field, "old": old, "new": new}))
                .collect(),
        ),
    );
    m
}

/// `GET /audit_logs`: an Admin sees its own tenant, the system
/// administrator every tenant and the system scope.
pub async fn audit_logs(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<Response, ApiError> {
    let query = parse_query(&params, &AUDIT_SCHEMA)?;
    let only: Option<TenantId> =
        (caller.home_tenant != SYSTEM_TENANT).then_some(caller.home_tenant);
    let (count, records) = state
        .queries
        .audit_page(only, query)
        .await
        .map_err(unavailable)?;
    Ok(rendered(
        &state,
        Shape::Audit,
        count,
        &records,
        render_audit,
    ))
}

/// Lists every change to one object: the events of stream
/// `category-{id}` in the caller's tenant, with actor, time and field-level
/// before → after. 404 if the object never existed in this tenant.
pub async fn history(
    state: &AppState,
    caller: &Caller,
    category: &'static str,
    what: &'static str,
    raw_id: &str,
    params: &ListParams,
    is_kind: fn(&str) -> bool,
) -> Result<Response, ApiError> {
    let tenant = tenant_of(caller)?;
    let id = ids::parse_or_404(raw_id, what)?;
    let query = parse_query(params, &HISTORY_SCHEMA)?;
    let stream = StreamId::of(category, id);
    let found = state
        .queries
        .history_page(tenant, stream, query)
        .await
        .map_err(unavailable)?;
    match found {
        Some((object_type, count, records)) if is_kind(&object_type) => Ok(rendered(
            state,
            Shape::History,
            count,
            &records,
            render_history,
        )),
        _ => Err(ApiError::not_found(what)),
    }
}

/// `GET /users/{id}/history`.
pub async fn user_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    history(&state, &caller, "user", "user", &id, &params, any_kind).await
}

/// `GET /extensions/{id}/history`.
pub async fn extension_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    history(
        &state,
        &caller,
        "extension",
        "extension",
        &id,
        &params,
        any_kind,
    )
    .await
}

/// `GET /groups/{id}/history`.
pub async fn group_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    history(&state, &caller, "group", "group", &id, &params, any_kind).await
}

/// `GET /call_queues/{id}/history`.
pub async fn call_queue_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    history(
        &state,
        &caller,
        "call-queue",
        "call queue",
        &id,
        &params,
        any_kind,
    )
    .await
}

/// Every event of the stream is of the object's kind (streams are per kind).
fn any_kind(_: &str) -> bool {
    true
}

/// Personal and business contacts share the `contact` stream category; only
/// business contacts (the tenant's phonebook) have an admin history, so a
/// personal contact's id answers 404 like an unknown one.
fn business_contact(object_type: &str) -> bool {
    object_type == "CONTACT"
}

/// `GET /ring_groups/{id}/history`.
pub async fn ring_group_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    history(
        &state,
        &caller,
        "ring-group",
        "ring group",
        &id,
        &params,
        any_kind,
    )
    .await
}

/// `GET /contacts/{id}/history`: a business contact's changes.
pub async fn contact_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    history(
        &state,
        &caller,
        "contact",
        "contact",
        &id,
        &params,
        business_contact,
    )
    .await
}
