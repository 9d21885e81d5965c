//! Users, as an administrator sees them: `/users...`, and the shared
//! rendering used by the current-user endpoints.

use super::ids;
use crate::auth::caller::Caller;
use crate::commands::user_input::{self, Hashes, Secret};
use crate::commands::users::{self, CreateUser, ExtensionNumber, NewUserIds, UpdateUser};
use crate::commands::{fresh_id, CommandError};
use crate::http::access::{actor, tenant_of};
use crate::http::as_of::AsOf;
use crate::http::error::ApiError;
use crate::http::extract::{optional_str, required_str, JsonBody};
use crate::http::list::{self, ListParams};
use crate::http::AppState;
use crate::queries::collection::ListOf;
use crate::queries::users::{USERS, USER_LIST};
use crate::schema::user::{USER, USER_SKIP};
use crate::schema::Mode;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::SecretKind;
use switchboard_events::envelope::format_rfc3339;
use switchboard_events::{Id, TenantId};
use switchboard_projections::directory::{Scope, UserView};
use switchboard_projections::Directory;

/// Renders a user; `summary` for list items. Secrets are never rendered
/// (`voicemail_pin` is always null).
pub fn render(scope: &Scope, u: &UserView, summary: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(u.id)));
    m.insert("name".into(), json!(u.name));
    m.insert("role".into(), json!(u.role));
    m.insert(
        "extension_number".into(),
        json!(scope.extension_number_of(u)),
    );
    USER.render(&u.attrs, summary, &mut m);
    if !summary {
        m.insert("voicemail_pin".into(), Value::Null);
    }
    m.insert(
        "created_at".into(),
        json!(format_rfc3339(u.stamp.created_at)),
    );
    m
}

pub(crate) fn parse_user_id(raw: &str) -> Result<Id, ApiError> {
    ids::parse_or_404(raw, "user")
}

pub(crate) fn scope_of(dir: &Directory, tenant: TenantId) -> Result<&Scope, CommandError> {
    dir.scope(tenant)
        .ok_or_else(|| CommandError::NotFound("tenant".into()))
}

fn fresh_ids(scope: &Scope) -> NewUserIds {
    NewUserIds {
        user_id: fresh_id(|id| scope.users.contains_key(&id)),
        extension_id: fresh_id(|id| scope.extensions.contains_key(&id)),
        link_id: fresh_id(|id| scope.links.contains_key(&id)),
    }
}

/// `GET /users` (`?as_of=` answers from a past state).
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
    as_of: AsOf,
) -> Result<Response, ApiError> {
    let tenant = tenant_of(&caller)?;
    let query = list::parse(&params, &USER_LIST)?;
    let model = as_of.read(&state);
    let scope = model.scope(tenant);
    let render = |id, _| {
        let s = scope?;
        s.users.get(&id).map(|u| render(s, u, true))
    };
    let list = ListOf::tenant(tenant);
    let past = as_of.is_past();
    Ok(list::indexed(
        &state, &model, past, &USERS, "users", list, &query, render,
    ))
}

/// `POST /users`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tenant = tenant_of(&caller)?;
    let input = user_input::parse(&body, Hashes::Refused)?;
    let hash = |s: Secret| {
        let h = state.hasher.clone();
        async move {
            match s {
                Secret::Clear(s) => h
                    .hash_async(s)
                    .await
                    .map_err(|e| ApiError::unavailable(e.to_string())),
                Secret::Hashed(s) => Ok(s),
            }
        }
    };
    let password_hash = hash(input.password).await?;
    let extension_password_hash = hash(input.extension_password).await?;
    let voicemail_pin_hash = hash(input.voicemail_pin).await?;
    let (name, role, extension_number, attrs) =
        (input.name, input.role, input.extension_number, input.attrs);
    let (id, _) = state
        .pipeline
        .execute(tenant, caller.metadata("portsip"), |dir| {
            let scope = scope_of(dir, tenant)?;
            let ids = fresh_ids(scope);
            let decision = users::create(
                scope,
                CreateUser {
                    ids,
                    name,
                    role,
                    password_hash,
                    extension_password_hash,
                    voicemail_pin_hash,
                    extension_number,
                    attrs,
                    by: actor(dir, &caller),
                },
            )?;
            Ok((decision, ids.user_id))
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": ids::render(id) }))))
}

/// `GET /users/{id}` (`?as_of=` answers from a past state).
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    as_of: AsOf,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_user_id(&id)?;
    let dir = as_of.read(&state);
    let scope = dir
        .scope(tenant)
        .ok_or_else(|| ApiError::not_found("user"))?;
    let u = scope
        .users
        .get(&id)
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(Value::Object(render(scope, u, false))))
}

/// Validates and applies a partial update of `user` (shared by the admin
/// and current-user endpoints).
pub(crate) async fn apply_update(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    user: Id,
    body: Map<String, Value>,
) -> Result<(), ApiError> {
    let extension_number = match optional_str(&body, "extension_number")? {
        Some(n) => Some(ExtensionNumber::parse(&n, "extension_number")?),
        None => None,
    };
    for read_only in ["name", "role", "password", "extension_password"] {
        if body.contains_key(read_only) {
            return Err(ApiError::validation(
                read_only,
                "cannot be changed here; use its own endpoint",
            ));
        }
    }
    let pin = optional_str(&body, "voicemail_pin")?;
    if let Some(p) = &pin {
        users::validate_pin("voicemail_pin", p)?;
    }
    let incoming = USER
        .validate(&body, Mode::Update, USER_SKIP)
        .map_err(|e| ApiError::validation(&e.field, e.message))?;
    let voicemail_pin_hash = match pin {
        Some(p) => Some(
            state
                .hasher
                .hash_async(p)
                .await
                .map_err(|e| ApiError::unavailable(e.to_string()))?,
        ),
        None => None,
    };
    state
        .pipeline
        .execute(tenant, caller.metadata("portsip"), |dir| {
            let scope = scope_of(dir, tenant)?;
            let ids = fresh_ids(scope);
            let decision = users::update(
                scope,
                &USER,
                UpdateUser {
                    user_id: user,
                    incoming,
                    extension_number,
                    voicemail_pin_hash,
                    ids,
                    by: actor(dir, caller),
                },
            )?;
            Ok((decision, ()))
        })
        .await?;
    Ok(())
}

/// `POST /users/{id}`.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_user_id(&id)?;
    apply_update(&state, &caller, tenant, id, body).await?;
    Ok(Json(json!({})))
}

/// Hashes and records a new secret for `user`.
pub(crate) async fn set_secret(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    user: Id,
    kind: SecretKind,
    value: String,
) -> Result<(), ApiError> {
    let hash = state
        .hasher
        .hash_async(value)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    state
        .pipeline
        .execute(tenant, caller.metadata("portsip"), |dir| {
            Ok((
                users::set_secret(
                    scope_of(dir, tenant)?,
                    &actor(dir, caller),
                    user,
                    kind,
                    hash,
                )?,
                (),
            ))
        })
        .await?;
    Ok(())
}

/// Sets a user's secret from `{password}` on behalf of an administrator.
async fn admin_reset_secret(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: &Map<String, Value>,
    kind: SecretKind,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(caller)?;
    let id = parse_user_id(id)?;
    let password = required_str(body, "password")?;
    match kind {
        SecretKind::Password => users::validate_password("password", &password)?,
        _ => users::validate_extension_password("password", &password)?,
    }
    set_secret(state, caller, tenant, id, kind, password).await?;
    Ok(Json(json!({})))
}

/// `POST /users/{id}/password` `{password}`.
pub async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    admin_reset_secret(&state, &caller, &id, &body, SecretKind::Password).await
}

/// `POST /users/{id}/extension_password` `{password}`.
pub async fn reset_extension_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    admin_reset_secret(&state, &caller, &id, &body, SecretKind::ExtensionPassword).await
}

/// `POST /users/{id}/role` `{role}`.
pub async fn change_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_user_id(&id)?;
    let role = required_str(&body, "role")?;
    state
        .pipeline
        .execute(tenant, caller.metadata("portsip"), |dir| {
            Ok((
                users::change_role(scope_of(dir, tenant)?, &actor(dir, &caller), id, &role)?,
                (),
            ))
        })
        .await?;
    Ok(Json(json!({})))
}

/// Resets the profile of each user in `targets` (all users when `None`).
pub(crate) async fn reset_profiles(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    targets: Option<Vec<Id>>,
) -> Result<(), ApiError> {
    state
        .pipeline
        .execute(tenant, caller.metadata("portsip"), |dir| {
            let scope = scope_of(dir, tenant)?;
            let ids: Vec<Id> = match &targets {
                Some(t) => t.clone(),
                None => scope.users.keys().copied().collect(),
            };
            let mut all = crate::commands::Decision::none();
            for id in ids {
                let d = users::reset_profile(scope, &USER, id, users::PROFILE_FIELDS)?;
                all.events.extend(d.events);
                all.expected.extend(d.expected);
            }
            Ok((all, ()))
        })
        .await?;
    Ok(())
}

/// `POST /users/{id}/profile`.
pub async fn reset_profile(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_user_id(&id)?;
    reset_profiles(&state, &caller, tenant, Some(vec![id])).await?;
    Ok(Json(json!({})))
}

/// `POST /users/profile[?id=a,b]`: resets the listed users' profiles, or
/// every user's.
pub async fn reset_all_profiles(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let mut targets: Option<Vec<Id>> = None;
    for (k, v) in list::form_pairs(query.as_deref().unwrap_or("")) {
        if k == "id" {
            for raw in v.split(',').filter(|s| !s.is_empty()) {
                targets
                    .get_or_insert_with(Vec::new)
                    .push(parse_user_id(raw)?);
            }
        }
    }
    reset_profiles(&state, &caller, tenant, targets).await?;
    Ok(Json(json!({})))
}

/// `POST /users/{id}/destroy`.
pub async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_user_id(&id)?;
    state
        .pipeline
        .execute(tenant, caller.metadata("portsip"), |dir| {
            Ok((
                users::delete(scope_of(dir, tenant)?, &actor(dir, &caller), id)?,
                (),
            ))
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
