//! Voicemail greetings (`/user/greetings…` for the caller's own,
//! `/users/{id}/greetings…` for an administrator): items of the user's
//! `greetings` collection, each playing one of the tenant's files. The
//! rules (the file must be audio the actor may use; enabling one disables
//! the others) are [`crate::commands::files`]'s.

use super::VIA;
use crate::commands::files::{self, GreetingCommand, GREETINGS};
use crate::commands::{Command, NewId};
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::ids::portsip as ids;
use crate::http::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::ItemOwner;
use switchboard_events::{Id, TenantId, ValueRef};
use switchboard_projections::directory::items::ItemView;
use switchboard_projections::directory::Scope;

/// Whose greetings a request is about.
struct Whose {
    tenant: TenantId,
    user: Id,
}

fn me(caller: &Caller) -> Result<Whose, ApiError> {
    Ok(Whose {
        tenant: tenant_of(caller)?,
        user: caller.user_id,
    })
}

fn of_user(state: &AppState, caller: &Caller, raw: &str) -> Result<Whose, ApiError> {
    let tenant = tenant_of(caller)?;
    let user = ids::parse_or_404(raw, "user")?;
    if !state
        .queries
        .read()
        .scope_or_empty(tenant)
        .users
        .contains_key(&user)
    {
        return Err(ApiError::not_found("user"));
    }
    Ok(Whose { tenant, user })
}

/// Renders a greeting as PortSIP lists it: `id`, `enabled` and its file's
/// `file_name`, `file_size`, `file_url`.
pub fn render_greeting(s: &Scope, g: &ItemView) -> Map<String, Value> {
    let file_id = match g.attrs.get("file_id") {
        Some(ValueRef::Int(n)) => Id(u64::try_from(n).unwrap_or(0)),
        _ => Id(0),
    };
    let file = s
        .items
        .get(files::FILES, ItemOwner::Tenant, file_id)
        .map(files::view);
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(g.id)));
    m.insert(
        "enabled".into(),
        json!(matches!(g.attrs.get("enabled"), Some(ValueRef::Bool(true)))),
    );
    m.insert("file_name".into(), json!(file.as_ref().map(|f| f.name)));
    m.insert("file_size".into(), json!(file.as_ref().map(|f| f.size)));
    m.insert(
        "file_url".into(),
        json!(file.as_ref().map(super::files::url)),
    );
    m
}

fn render_list(state: &AppState, w: &Whose) -> Json<Value> {
    let model = state.queries.read();
    let s = model.scope_or_empty(w.tenant);
    let items: Vec<Value> = s
        .items
        .items(GREETINGS, ItemOwner::User(w.user))
        .map(|g| Value::Object(render_greeting(s, g)))
        .collect();
    Json(json!({ "items": items }))
}

async fn create(
    state: &AppState,
    caller: &Caller,
    w: Whose,
    body: &Map<String, Value>,
) -> Result<impl IntoResponse, ApiError> {
    let raw = body
        .get("file_id")
        .ok_or_else(|| ApiError::validation("file_id", "is required"))?
        .as_str()
        .ok_or_else(|| ApiError::validation("file_id", "must be a string"))?;
    let file_id = ids::parse(raw).ok_or_else(|| {
        ApiError::validation("file_id", "is not a file of this tenant you may use")
    })?;
    let cmd = Command::Greeting(GreetingCommand::Create {
        greeting_id: NewId::default(),
        user_id: w.user,
        file_id,
    });
    let out = state
        .pipeline
        .run(cmd, caller.acting_in(w.tenant, VIA))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": ids::render(out.created()?) })),
    ))
}

async fn run(
    state: &AppState,
    caller: &Caller,
    w: Whose,
    c: GreetingCommand,
) -> Result<(), ApiError> {
    state
        .pipeline
        .run(Command::Greeting(c), caller.acting_in(w.tenant, VIA))
        .await?;
    Ok(())
}

fn greeting_id(raw: &str) -> Result<Id, ApiError> {
    ids::parse_or_404(raw, "greeting")
}

/// `GET /user/greetings`.
pub async fn list_mine(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(render_list(&state, &me(&caller)?))
}

/// `POST /user/greetings` `{file_id}`: 201 `{id}` (disabled).
pub async fn create_mine(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<impl IntoResponse, ApiError> {
    let w = me(&caller)?;
    create(&state, &caller, w, &body).await
}

async fn set(
    state: &AppState,
    caller: &Caller,
    w: Whose,
    raw: &str,
    enabled: bool,
) -> Result<Json<Value>, ApiError> {
    let c = GreetingCommand::SetEnabled {
        user_id: w.user,
        greeting_id: greeting_id(raw)?,
        enabled,
    };
    run(state, caller, w, c).await?;
    Ok(Json(json!({})))
}

async fn delete(
    state: &AppState,
    caller: &Caller,
    w: Whose,
    raw: &str,
) -> Result<StatusCode, ApiError> {
    let c = GreetingCommand::Delete {
        user_id: w.user,
        greeting_id: greeting_id(raw)?,
    };
    run(state, caller, w, c).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /user/greetings/{id}/enable`: the others are disabled.
pub async fn enable_mine(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let w = me(&caller)?;
    set(&state, &caller, w, &id, true).await
}

/// `POST /user/greetings/{id}/disable`.
pub async fn disable_mine(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let w = me(&caller)?;
    set(&state, &caller, w, &id, false).await
}

/// `POST /user/greetings/{id}/destroy`: 204.
pub async fn destroy_mine(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let w = me(&caller)?;
    delete(&state, &caller, w, &id).await
}

/// `GET /users/{id}/greetings`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let w = of_user(&state, &caller, &user)?;
    Ok(render_list(&state, &w))
}

/// `POST /users/{id}/greetings` `{file_id}`.
pub async fn create_for(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<impl IntoResponse, ApiError> {
    let w = of_user(&state, &caller, &user)?;
    create(&state, &caller, w, &body).await
}

/// `POST /users/{id}/greetings/{greeting_id}/enable`.
pub async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    Path((user, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let w = of_user(&state, &caller, &user)?;
    set(&state, &caller, w, &id, true).await
}

/// `POST /users/{id}/greetings/{greeting_id}/disable`.
pub async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Path((user, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let w = of_user(&state, &caller, &user)?;
    set(&state, &caller, w, &id, false).await
}

/// `POST /users/{id}/greetings/{greeting_id}/destroy`.
pub async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path((user, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let w = of_user(&state, &caller, &user)?;
    delete(&state, &caller, w, &id).await
}
