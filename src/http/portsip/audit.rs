//! `GET /audit_logs` and per-object history (`GET /users/{id}/history`,
//! `/extensions/{id}/history`, `/groups/{id}/history`), served from the log.
//!
//! Both replay the log into a scratch directory and describe each chosen
//! event against the state just before it
//! ([`switchboard_projections::audit::describe`]), so old values are the ones
//! the change replaced. That is a pass over the log per request (history
//! stops at the object's last event); see BENCHMARKS.md for replay rates.
//!
//! History is generic over a stream category: adding it for another
//! resource (call queues, contacts) is one handler calling [`history`] with
//! that resource's stream category, and one route.

use super::ids;
use crate::auth::caller::Caller;
use crate::http::access::tenant_of;
use crate::http::error::ApiError;
use crate::http::list::ListParams;
use crate::http::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::{ContactCreated, ContactDeleted, ContactOwner, ContactUpdated};
use switchboard_events::envelope::format_rfc3339;
use switchboard_events::{Envelope, Event, Id, StreamId, TenantId, SYSTEM_TENANT};
use switchboard_projections::audit::{describe, AuditEntry};
use switchboard_projections::query::{Dir, FieldType, ListQuery, ListSchema};
use switchboard_projections::rebuild::{rebuild, Until};
use switchboard_projections::Directory;

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

/// One described event.
struct Described {
    offset: u64,
    recorded_at: time::OffsetDateTime,
    via: String,
    ip: Option<std::net::IpAddr>,
    actor: String,
    entry: AuditEntry,
}

/// Replays the log up to `until` (applied offsets only), describing the
/// events `keep` selects, rendering them with `render` and keeping only
/// those the list query matches (so a filtered query over a long log holds
/// only its matches). Blocking work on a blocking thread.
async fn scan(
    state: &AppState,
    until: u64,
    keep: impl Fn(&Envelope) -> bool + Send + 'static,
    query: ListQuery,
    render: fn(&Described) -> Map<String, Value>,
) -> Result<(ListQuery, Vec<Map<String, Value>>), ApiError> {
    let log = state.pipeline.log().clone();
    let until = until.min(state.pipeline.projector().applied());
    tokio::task::spawn_blocking(move || {
        let mut dir = Directory::default();
        let mut out = Vec::new();
        rebuild(
            &mut dir,
            log.read_all(1),
            Until::Offset(until),
            |env, event, before| {
                if !keep(env) {
                    return;
                }
                if let Some(entry) = describe(env, event, before) {
                    let item = render(&Described {
                        offset: env.offset,
                        recorded_at: env.recorded_at,
                        via: env.metadata.via.clone(),
                        ip: env.metadata.source_ip,
                        actor: env.metadata.actor_name.clone(),
                        entry,
                    });
                    if query.matches(&item) {
                        out.push(item);
                    }
                }
            },
        )
        .map(|_| (query, out))
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("reading the log failed: {e}")))?
    .map_err(|e| ApiError::unavailable(format!("reading the log failed: {e}")))
}

/// Sorts and pages matched items into `{count, items}`.
fn page(query: &ListQuery, items: Vec<Map<String, Value>>) -> Json<Value> {
    let page = query.run(items);
    Json(json!({ "count": page.count, "items": page.items }))
}

/// Parses the list query (refusing a bad one before any log is read).
fn parse_query(params: &ListParams, schema: &ListSchema) -> Result<ListQuery, ApiError> {
    ListQuery::parse(&params.0, schema).map_err(|e| ApiError::validation(&e.param, e.message))
}

fn ip_json(ip: Option<std::net::IpAddr>) -> Value {
    ip.map_or(Value::Null, |i| json!(i.to_string()))
}

fn render_audit(d: &Described) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(Id(d.offset))));
    m.insert("created_at".into(), json!(format_rfc3339(d.recorded_at)));
    m.insert("source".into(), json!(d.via));
    m.insert("ip".into(), ip_json(d.ip));
    m.insert("action".into(), json!(d.entry.action));
    m.insert("object_type".into(), json!(d.entry.object_type));
    m.insert("user_name".into(), json!(d.actor));
    m.insert("object_name".into(), json!(d.entry.object_name));
    // The companion spec types these as strings: JSON text of the changed
    // fields only.
    m.insert("old_state".into(), json!(d.entry.old_state().to_string()));
    m.insert("new_state".into(), json!(d.entry.new_state().to_string()));
    m
}

fn render_history(d: &Described) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(Id(d.offset))));
    m.insert("created_at".into(), json!(format_rfc3339(d.recorded_at)));
    m.insert("source".into(), json!(d.via));
    m.insert("ip".into(), ip_json(d.ip));
    m.insert("action".into(), json!(d.entry.action));
    m.insert("user_name".into(), json!(d.actor));
    m.insert("object_name".into(), json!(d.entry.object_name));
    m.insert(
        "changes".into(),
        Value::Array(
            d.entry
                .changes
                .iter()
                .map(|c| json!({"field": c.field, "old": c.old, "new": c.new}))
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
) -> Result<Json<Value>, ApiError> {
    let query = parse_query(&params, &AUDIT_SCHEMA)?;
    let only: Option<TenantId> =
        (caller.home_tenant != SYSTEM_TENANT).then_some(caller.home_tenant);
    let head = state.pipeline.projector().applied();
    let keep = move |env: &Envelope| only.is_none_or(|t| env.tenant == t);
    let (query, mut found) = scan(&state, head, keep, query, render_audit).await?;
    // Newest first before the (stable) sort, so equal times keep log order.
    found.reverse();
    Ok(page(&query, found))
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
    is_kind: fn(&Envelope) -> bool,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(caller)?;
    let id = ids::parse_or_404(raw_id, what)?;
    let query = parse_query(params, &HISTORY_SCHEMA)?;
    let stream = StreamId::of(category, id);
    let applied = state.pipeline.projector().applied();
    let log = state.pipeline.log().clone();
    let s = stream.clone();
    let last = tokio::task::spawn_blocking(move || {
        let mut last = None;
        for env in log.read_stream(&s, 1) {
            let env = env?;
            if env.tenant == tenant && env.offset <= applied {
                if !is_kind(&env) {
                    return Ok(None);
                }
                last = Some(env.offset);
            }
        }
        Ok::<_, switchboard_events::LogError>(last)
    })
    .await
    .map_err(|e| ApiError::unavailable(e.to_string()))?
    .map_err(|e| ApiError::unavailable(format!("reading the log failed: {e}")))?;
    let Some(last) = last else {
        return Err(ApiError::not_found(what));
    };
    let keep = move |env: &Envelope| env.tenant == tenant && env.stream == stream;
    let (query, found) = scan(state, last, keep, query, render_history).await?;
    Ok(page(&query, found))
}

/// `GET /users/{id}/history`.
pub async fn user_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Json<Value>, ApiError> {
    history(&state, &caller, "user", "user", &id, &params, any_kind).await
}

/// `GET /extensions/{id}/history`.
pub async fn extension_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Json<Value>, ApiError> {
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
) -> Result<Json<Value>, ApiError> {
    history(&state, &caller, "group", "group", &id, &params, any_kind).await
}

/// `GET /call_queues/{id}/history`.
pub async fn call_queue_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Json<Value>, ApiError> {
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
fn any_kind(_: &Envelope) -> bool {
    true
}

/// Personal and business contacts share the `contact` stream category; only
/// business contacts (the tenant's phonebook) have an admin history, so a
/// personal contact's id answers 404 like an unknown one.
fn business_contact(env: &Envelope) -> bool {
    matches!(
        Event::from_envelope(env),
        Ok(Event::ContactCreated(ContactCreated {
            owner: ContactOwner::Business,
            ..
        }) | Event::ContactUpdated(ContactUpdated {
            owner: ContactOwner::Business,
            ..
        }) | Event::ContactDeleted(ContactDeleted {
            owner: ContactOwner::Business,
            ..
        }))
    )
}

/// `GET /ring_groups/{id}/history`.
pub async fn ring_group_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Json<Value>, ApiError> {
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
) -> Result<Json<Value>, ApiError> {
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
