//! Roles: `GET/POST /roles`, `GET/POST /roles/{name}`,
//! `POST /roles/{name}/destroy`. Built-in roles are listed and shown next to
//! the tenant's custom roles; only custom roles can be written.

use super::VIA;
use crate::commands::roles::{self, CreateRole, RoleName, UpdateRole};
use crate::commands::{Command, NewId};
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{optional_str, JsonBody};
use crate::http::list::{self, ListParams};
use crate::http::AppState;
use crate::queries::collection::{Collection, ListOf, Owner};
use crate::queries::collections::{Roles, ROLES, ROLE_LIST};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Map, Value};

/// The only fields a role body may carry.
const BODY_FIELDS: &[&str] = &["name", "description", "permissions"];

/// A role as its list shows it.
pub fn item(name: &str, description: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("description".into(), json!(description));
    m
}

fn check_fields(body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.keys().find(|k| !BODY_FIELDS.contains(&k.as_str())) {
        Some(k) => Err(ApiError::validation(k, "unknown field")),
        None => Ok(()),
    }
}

/// `GET /roles`: the built-in roles in PortSIP's order, then the tenant's
/// custom roles as created.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<axum::response::Response, ApiError> {
    let tenant = tenant_of(&caller)?;
    let query = list::parse(&params, &ROLE_LIST)?;
    let model = state.queries.read();
    let roles = ROLES.at(&model, tenant, Owner::Tenant);
    let render = |id, _| {
        let (name, description) = Roles::lookup(roles.as_ref()?, id)?;
        Some(item(name, description))
    };
    let list = ListOf::tenant(tenant);
    Ok(list::indexed(
        &state, &model, false, &ROLES, "roles", list, &query, render,
    ))
}

/// `POST /roles`: answers 201 `{name}`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = tenant_of(&caller)?;
    check_fields(&body)?;
    let name =
        optional_str(&body, "name")?.ok_or_else(|| ApiError::validation("name", "is required"))?;
    let name = RoleName::parse(&name)?;
    let description = optional_str(&body, "description")?.unwrap_or_default();
    roles::validate_description(&description)?;
    let permissions = body
        .get("permissions")
        .ok_or_else(|| ApiError::validation("permissions", "is required"))?;
    let permissions = roles::parse_permissions(permissions, &[])?;
    let created = name.as_str().to_owned();
    let cmd = Command::CreateRole(CreateRole {
        role_id: NewId::default(),
        name,
        description,
        permissions,
    });
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "name": created }))))
}

/// `GET /roles/{name}`: built-in or custom, with the full permission object.
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let (name, description, permissions) = match roles::built_in(&name) {
        Some(b) => (b.name.to_owned(), b.description.to_owned(), b.permissions()),
        None => {
            let dir = state.queries.read();
            let r = dir
                .scope(tenant)
                .and_then(|s| roles::custom(s, &name))
                .ok_or_else(|| ApiError::not_found("role"))?;
            (r.name.clone(), r.description.clone(), r.permissions.clone())
        }
    };
    Ok(Json(json!({
        "name": name,
        "description": description,
        "permissions": roles::render_permissions(&permissions),
    })))
}

/// `POST /roles/{name}`: a partial update. Permission flags not mentioned
/// keep their current value.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(role): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    check_fields(&body)?;
    let name = match optional_str(&body, "name")? {
        Some(n) => Some(RoleName::parse(&n)?),
        None => None,
    };
    let description = optional_str(&body, "description")?;
    if let Some(d) = &description {
        roles::validate_description(d)?;
    }
    // The flags are merged into the role's current ones when decided.
    let cmd = Command::UpdateRole(UpdateRole {
        role,
        name,
        description,
        permissions: body.get("permissions").cloned(),
    });
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(Json(json!({})))
}

/// `POST /roles/{name}/destroy`.
pub async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(role): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&caller)?;
    let cmd = Command::DeleteRole { role };
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
