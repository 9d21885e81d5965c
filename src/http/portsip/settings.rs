//! A user's settings that are not declared lists (issue #16):
//! `GET /user/outbound_caller_ids`, and the user's selection of the
//! tenant's holidays (`GET|POST /user/global_holidays`, and under
//! `/users/{id}`), the balance (`GET /user/balance`, `GET|POST
//! /users/{id}/balance`, and switchboard's `GET /users/{id}/balance/history`
//! listing the ledger's adjustments), and the Microsoft 365 binding
//! (`POST /users/{id}/ms365_binding`, `…/destroy`). (Phones, speed dials and holidays are
//! declared collections: `crate::collections::settings`.)

use super::VIA;
use crate::commands::balance::{self, Amount, SetBalance};
use crate::commands::holidays::SelectGlobalHolidays;
use crate::commands::ms365::BindMs365;
use crate::commands::{Command, NewId};
use crate::field_tables::holiday::HOLIDAY;
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::ids::portsip as ids;
use crate::http::list::{self, ListParams};
use crate::http::AppState;
use crate::queries::settings::{global_holidays, outbound_caller_ids};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::ItemOwner;
use switchboard_events::envelope::format_rfc3339;
use switchboard_events::{Id, TenantId};
use switchboard_projections::directory::items::ItemView;
use switchboard_projections::directory::Scope;
use switchboard_projections::query::{Dir, FieldType, ListSchema};

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

// --- balance -------------------------------------------------------------------

/// An amount as the JSON number PortSIP answers (`double`, five decimals at
/// most): read from its exact decimal text, which a double holds exactly
/// enough below [`balance::MAX_UNITS`] to give the same text back.
fn money(a: Amount) -> Value {
    serde_json::from_str::<serde_json::Number>(&a.to_decimal())
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn show_balance(state: &AppState, tenant: TenantId, user: Id) -> Result<Json<Value>, ApiError> {
    let dir = state.queries.read();
    let s = dir
        .scope(tenant)
        .filter(|s| s.users.contains_key(&user))
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(
        json!({ "balance": money(balance::balance_of(s, user)) }),
    ))
}

/// `GET /user/balance`: the signed-in user's balance.
pub async fn own_balance(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    show_balance(&state, caller.home_tenant, caller.user_id)
}

/// `GET /users/{id}/balance`.
pub async fn user_balance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (tenant, user) = other_user(&state, &caller, &id)?;
    show_balance(&state, tenant, user)
}

/// A JSON body whose values are kept as their text: the balance is read
/// from the number exactly as the client wrote it, never through a double.
type RawBody = std::collections::BTreeMap<String, Box<serde_json::value::RawValue>>;

/// `{balance, currency?, reason?}` → the command's parts. `balance` is
/// parsed from the number's own decimal text (`Amount::parse`: more than
/// five decimals or too much money is refused, never rounded); `currency`
/// and `reason` are switchboard's additions.
fn parse_balance(body: &RawBody) -> Result<(Amount, Option<String>, Option<String>), ApiError> {
    if let Some(k) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "balance" | "currency" | "reason"))
    {
        return Err(ApiError::validation(k, "unknown field"));
    }
    let amount = match body.get("balance").map(|raw| raw.get().trim()) {
        None | Some("null") => return Err(ApiError::validation("balance", "is required")),
        Some(text) if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => {
            Amount::parse(text).map_err(|m| ApiError::validation("balance", m))?
        }
        Some(_) => return Err(ApiError::validation("balance", "must be a number")),
    };
    let text = |k: &str| match body
        .get(k)
        .map(|raw| serde_json::from_str::<Value>(raw.get()))
    {
        None | Some(Ok(Value::Null)) => Ok(None),
        Some(Ok(Value::String(s))) => Ok(Some(s)),
        Some(_) => Err(ApiError::validation(k, "must be a string")),
    };
    Ok((amount, text("currency")?, text("reason")?))
}

/// `POST /users/{id}/balance`: sets that user's balance (an adjustment of
/// the difference is recorded).
pub async fn set_user_balance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RawBody>,
) -> Result<Json<Value>, ApiError> {
    let (tenant, user) = other_user(&state, &caller, &id)?;
    let (amount, currency, reason) = parse_balance(&body)?;
    let command = Command::SetBalance(SetBalance {
        user_id: user,
        adjustment_id: NewId::default(),
        balance: amount,
        currency,
        reason,
    });
    state
        .pipeline
        .run(command, caller.acting_in(tenant, VIA))
        .await?;
    Ok(Json(json!({})))
}

/// One adjustment as the balance history lists it (`sequence`: its place
/// in the ledger, from 1).
fn render_adjustment(a: &balance::Adjustment<'_>, sequence: usize) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(a.item.id)));
    m.insert("sequence".into(), json!(sequence));
    m.insert("amount".into(), money(a.amount));
    m.insert("balance".into(), money(a.balance));
    m.insert("currency".into(), json!(a.currency));
    m.insert("reason".into(), json!(a.reason));
    let actor = (a.actor != Id(0)).then(|| ids::render(a.actor));
    m.insert("actor_id".into(), json!(actor));
    m.insert(
        "created_at".into(),
        json!(format_rfc3339(a.item.stamp.created_at())),
    );
    m
}

/// What `GET /users/{id}/balance/history` may filter, search and order by.
static ADJUSTMENTS_SCHEMA: ListSchema = ListSchema {
    fields: &[
        ("id", FieldType::String),
        ("sequence", FieldType::Number),
        ("amount", FieldType::Number),
        ("balance", FieldType::Number),
        ("currency", FieldType::String),
        ("reason", FieldType::String),
        ("actor_id", FieldType::String),
        ("created_at", FieldType::DateTime),
    ],
    search: &["reason"],
    default_order: &[("sequence", Dir::Desc)],
};

/// `GET /users/{id}/balance/history` (switchboard's): the ledger's
/// adjustments, newest first, `{count, items: [{id, sequence, amount,
/// balance, currency, reason, actor_id, created_at}]}` (`sequence`: 1 for
/// the first adjustment; `actor_id` `null`: the service itself).
pub async fn user_balance_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Json<Value>, ApiError> {
    let (tenant, user) = other_user(&state, &caller, &id)?;
    let dir = state.queries.read();
    let s = dir.scope_or_empty(tenant);
    let items: Vec<Map<String, Value>> = balance::adjustments(s, user)
        .into_iter()
        .enumerate()
        .map(|(i, a)| render_adjustment(&a, i + 1))
        .collect();
    list::respond(&params, &ADJUSTMENTS_SCHEMA, items)
}

// --- Microsoft 365 binding -----------------------------------------------------

/// `POST /users/{id}/ms365_binding {id}`: binds that user to a Microsoft
/// 365 account (its object id or principal name); nothing is called.
pub async fn bind_ms365(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let (tenant, user) = other_user(&state, &caller, &id)?;
    if let Some(k) = body.keys().find(|k| k.as_str() != "id") {
        return Err(ApiError::validation(k, "unknown field"));
    }
    let account = match body.get("id") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => return Err(ApiError::validation("id", "is required")),
        Some(_) => return Err(ApiError::validation("id", "must be a string")),
    };
    let command = Command::BindMs365(BindMs365 {
        user_id: user,
        binding_id: NewId::default(),
        account,
    });
    state
        .pipeline
        .run(command, caller.acting_in(tenant, VIA))
        .await?;
    Ok(Json(json!({})))
}

/// `POST /users/{id}/ms365_binding/destroy`: removes that user's binding
/// (204; 404 when it has none).
pub async fn unbind_ms365(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (tenant, user) = other_user(&state, &caller, &id)?;
    state
        .pipeline
        .run(
            Command::UnbindMs365 { user_id: user },
            caller.acting_in(tenant, VIA),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A settings item that is no declared collection's, rendered as its own
/// route shows it (for the change stream): a greeting, a balance
/// adjustment, the global holiday selection (`{id, items: [holiday ids]}`)
/// or the Microsoft 365 binding (`{id, object_id | principal_name}`).
/// `None`: a declared collection's item (rendered by its table).
pub fn render_setting(s: &Scope, it: &ItemView) -> Option<Map<String, Value>> {
    let ItemOwner::User(user) = it.owner else {
        return None;
    };
    let collection = s.items.owners.get(&it.id).map(|(c, _)| c.as_str())?;
    Some(match collection {
        c if c == crate::commands::files::GREETINGS => super::greetings::render_greeting(s, it),
        c if c == balance::ADJUSTMENTS => {
            let all = balance::adjustments(s, user);
            let place = all.iter().position(|a| a.item.id == it.id)?;
            render_adjustment(&all[place], place + 1)
        }
        c if c == crate::commands::holidays::GLOBAL_HOLIDAYS => {
            let chosen: Vec<Value> = crate::commands::holidays::selected(&it.attrs)
                .into_iter()
                .map(|id| json!(ids::render(id)))
                .collect();
            let mut m = Map::new();
            m.insert("id".into(), json!(ids::render(it.id)));
            m.insert("items".into(), Value::Array(chosen));
            m
        }
        c if c == crate::commands::ms365::BINDINGS => {
            let mut m = Map::new();
            m.insert("id".into(), json!(ids::render(it.id)));
            for k in ["object_id", "principal_name"] {
                let v = it.attrs.get(k).and_then(|v| v.as_str());
                m.insert(k.into(), json!(v));
            }
            m
        }
        _ => return None,
    })
}
