//! User groups: `GET/POST /groups`, `GET/POST /groups/{id}`,
//! `POST /groups/{id}/destroy`, and members addressed by extension number
//! under `/groups/{id}/members`.

use super::VIA;
use crate::commands::groups::{self, CreateGroup, GroupName, UpdateGroup};
use crate::commands::users::ExtensionNumber;
use crate::commands::{Command, NewId};
use crate::field_tables::group::{GROUP, GROUP_SKIP};
use crate::field_tables::Mode;
use crate::http::access::tenant_of;
use crate::http::as_of::AsOf;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::ids::portsip as ids;
use crate::http::list::{self, ListParams};
use crate::http::AppState;
use crate::queries::collection::ListOf;
use crate::queries::collections::{GROUPS, GROUP_LIST};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::{Id, TenantId};
use switchboard_projections::directory::{GroupView, Scope, UserView};

/// Renders a group: `summary` for list items, full otherwise.
pub fn render(g: &GroupView, summary: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(g.id)));
    m.insert("name".into(), json!(g.name));
    GROUP.render(&g.attrs, summary, &mut m);
    m
}

/// Renders a group member as `{id, name, display_name, extension_number}`.
pub fn render_member(scope: &Scope, u: &UserView) -> Value {
    json!({
        "id": ids::render(u.id),
        "name": u.name,
        "display_name": u.display_name(),
        "extension_number": scope.extension_number_of(u),
    })
}

/// A group id from the path: anything we could not have issued is unknown.
fn parse_id(raw: &str) -> Result<Id, ApiError> {
    ids::parse_or_404(raw, "group")
}

fn parse_number(raw: &str) -> Result<ExtensionNumber, ApiError> {
    Ok(ExtensionNumber::parse(raw, "extension_number")?)
}

fn name_field(body: &Map<String, Value>) -> Result<Option<GroupName>, ApiError> {
    match body.get("name") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(GroupName::parse(s)?)),
        Some(_) => Err(ApiError::validation("name", "must be a string")),
    }
}

/// Runs `f` over the tenant's scope (an empty one if the tenant has nothing yet).
fn with_scope<T>(
    state: &AppState,
    tenant: TenantId,
    f: impl FnOnce(&Scope) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    f(state.queries.read().scope_or_empty(tenant))
}

/// Like [`with_scope`], from the state `as_of` names (live without it).
fn with_scope_at<T>(
    state: &AppState,
    as_of: &AsOf,
    tenant: TenantId,
    f: impl FnOnce(&Scope) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    f(as_of.read(state).scope_or_empty(tenant))
}

/// Runs a group command in the tenant.
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

/// `GET /groups` (`?as_of=` answers from a past state).
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
    as_of: AsOf,
) -> Result<axum::response::Response, ApiError> {
    let tenant = tenant_of(&caller)?;
    let query = list::parse(&params, &GROUP_LIST)?;
    let model = as_of.read(&state);
    let scope = model.scope(tenant);
    let render = |id, _| scope?.groups.get(&id).map(|g| render(g, true));
    let list = ListOf::tenant(tenant);
    let past = as_of.is_past();
    Ok(list::indexed(
        &state, &model, past, &GROUPS, "groups", list, &query, render,
    ))
}

/// `POST /groups`: answers 201 `{id}`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = tenant_of(&caller)?;
    let name = name_field(&body)?.ok_or_else(|| ApiError::validation("name", "is required"))?;
    let attrs = GROUP
        .validate(&body, Mode::Create, GROUP_SKIP)
        .map_err(|e| ApiError::validation(&e.field, e.message))?;
    let cmd = Command::CreateGroup(CreateGroup {
        group_id: NewId::default(),
        name,
        attrs,
    });
    let out = state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": ids::render(out.created()?) })),
    ))
}

/// `GET /groups/{id}` (`?as_of=` answers from a past state).
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    as_of: AsOf,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_id(&id)?;
    with_scope_at(&state, &as_of, tenant, |s| {
        Ok(Json(Value::Object(render(groups::group(s, id)?, false))))
    })
}

/// `POST /groups/{id}`: a partial update.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let group_id = parse_id(&id)?;
    let name = name_field(&body)?;
    let incoming = GROUP
        .validate(&body, Mode::Update, GROUP_SKIP)
        .map_err(|e| ApiError::validation(&e.field, e.message))?;
    let cmd = Command::UpdateGroup(UpdateGroup {
        group_id,
        name,
        incoming,
    });
    run(&state, &caller, tenant, cmd).await?;
    Ok(Json(json!({})))
}

/// `POST /groups/{id}/destroy`.
pub async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&caller)?;
    let group_id = parse_id(&id)?;
    run(&state, &caller, tenant, Command::DeleteGroup { group_id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /groups/{id}/members`: members ordered by extension number.
pub async fn members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_id(&id)?;
    with_scope(&state, tenant, |s| {
        let g = groups::group(s, id)?;
        let mut users: Vec<&UserView> = g.members.iter().filter_map(|u| s.users.get(u)).collect();
        users.sort_by(|a, b| {
            s.extension_number_of(a)
                .cmp(&s.extension_number_of(b))
                .then(a.id.cmp(&b.id))
        });
        let items: Vec<Value> = users.into_iter().map(|u| render_member(s, u)).collect();
        Ok(Json(json!({ "items": items })))
    })
}

/// `GET /groups/{id}/members/{extension_number}`: 200 with the member, or 404.
pub async fn member(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, number)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_id(&id)?;
    let number = parse_number(&number)?;
    with_scope(&state, tenant, |s| {
        let g = groups::group(s, id)?;
        let u = groups::member_user(s, &number)?;
        if !g.members.contains(&u.id) {
            return Err(ApiError::not_found("group member"));
        }
        Ok(Json(render_member(s, u)))
    })
}

/// `POST /groups/{id}/members/{extension_number}`: adds the user whose
/// primary extension has that number.
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, number)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let group_id = parse_id(&id)?;
    let number = parse_number(&number)?;
    let cmd = Command::AddGroupMember { group_id, number };
    run(&state, &caller, tenant, cmd).await?;
    Ok(Json(json!({})))
}

/// `POST /groups/{id}/members/{extension_number}/destroy`.
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, number)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&caller)?;
    let group_id = parse_id(&id)?;
    let number = parse_number(&number)?;
    let cmd = Command::RemoveGroupMember { group_id, number };
    run(&state, &caller, tenant, cmd).await?;
    Ok(StatusCode::NO_CONTENT)
}
