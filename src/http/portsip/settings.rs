//! A user's settings that are not declared lists (issue #16):
//! `GET /user/outbound_caller_ids`, and the user's selection of the
//! tenant's holidays (`GET|POST /user/global_holidays`, and under
//! `/users/{id}`). (Phones, speed dials and holidays are declared
//! collections: `crate::collections::settings`.)

use super::VIA;
use crate::commands::holidays::SelectGlobalHolidays;
use crate::commands::{Command, NewId};
use crate::field_tables::holiday::HOLIDAY;
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::ids::portsip as ids;
use crate::http::AppState;
use crate::queries::settings::{global_holidays, outbound_caller_ids};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::{Id, TenantId};

/// `GET /user/outbound_caller_ids`: the caller IDs the signed-in user may
/// present (`{items: [{provider_id, caller_id, description}]}`).
pub async fn own_outbound_caller_ids(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let dir = state.queries.read();
    let ids = outbound_caller_ids(&dir, caller.home_tenant, caller.user_id)
        .ok_or_else(|| ApiError::not_found("user"))?;
    let items: Vec<Value> = ids
        .into_iter()
        .map(|c| {
            json!({"provider_id": c.provider_id, "caller_id": c.caller_id,
                   "description": c.description})
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// The tenant and user `/users/{id}/…` addresses: the tenant the caller
/// acts in, and one of its users (another tenant's is 404, like a missing one).
fn other_user(state: &AppState, caller: &Caller, raw: &str) -> Result<(TenantId, Id), ApiError> {
    let tenant = tenant_of(caller)?;
    let id = ids::parse_or_404(raw, "user")?;
    let known = state
        .queries
        .read()
        .scope(tenant)
        .is_some_and(|s| s.users.contains_key(&id));
    match known {
        true => Ok((tenant, id)),
        false => Err(ApiError::not_found("user")),
    }
}

fn show_selection(state: &AppState, tenant: TenantId, user: Id) -> Result<Json<Value>, ApiError> {
    let dir = state.queries.read();
    let chosen = global_holidays(&dir, tenant, user).ok_or_else(|| ApiError::not_found("user"))?;
    let items: Vec<Value> = chosen
        .into_iter()
        .map(|(id, attrs)| {
            let mut m = Map::new();
            m.insert("id".into(), Value::String(ids::render(id)));
            HOLIDAY.render(&attrs, false, &mut m);
            Value::Object(m)
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `{items: [holiday id, …]}` → the ids; an entry that is no id of ours
/// cannot name a tenant holiday: 400 naming its place.
fn parse_selection(body: &Map<String, Value>) -> Result<Vec<Id>, ApiError> {
    if let Some(k) = body.keys().find(|k| k.as_str() != "items") {
        return Err(ApiError::validation(k, "unknown field"));
    }
    let items = match body.get("items") {
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(_) => return Err(ApiError::validation("items", "must be an array")),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str().and_then(ids::parse).ok_or_else(|| {
                ApiError::validation(&format!("items[{i}]"), "is not a holiday of the tenant")
            })
        })
        .collect()
}

async fn select(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    user: Id,
    body: &Map<String, Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let command = Command::SelectGlobalHolidays(SelectGlobalHolidays {
        user_id: user,
        selection_id: NewId::default(),
        holidays: parse_selection(body)?,
    });
    state
        .pipeline
        .run(command, caller.acting_in(tenant, VIA))
        .await?;
    // The selection's id (created by the first selection, kept after).
    let dir = state.queries.read();
    let id = dir
        .scope(tenant)
        .and_then(|s| {
            s.items
                .items(
                    crate::commands::holidays::GLOBAL_HOLIDAYS,
                    switchboard_events::domain::ItemOwner::User(user),
                )
                .next()
                .map(|it| it.id)
        })
        .map(ids::render);
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// `GET /user/global_holidays`.
pub async fn own_global_holidays(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    show_selection(&state, caller.home_tenant, caller.user_id)
}

/// `POST /user/global_holidays`: replaces the caller's selection.
pub async fn select_own_global_holidays(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    select(&state, &caller, caller.home_tenant, caller.user_id, &body).await
}

/// `GET /users/{id}/global_holidays`.
pub async fn user_global_holidays(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (tenant, user) = other_user(&state, &caller, &id)?;
    show_selection(&state, tenant, user)
}

/// `POST /users/{id}/global_holidays`: replaces that user's selection.
pub async fn select_user_global_holidays(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (tenant, user) = other_user(&state, &caller, &id)?;
    select(&state, &caller, tenant, user, &body).await
}
