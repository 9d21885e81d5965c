//! Users, as an administrator sees them: `/users...`, and the shared
//! rendering used by the current-user endpoints.

use super::VIA;
use crate::commands::user_input::{self, Hashes};
use crate::commands::users::{ExtensionNumber, PrimaryChoice, SetUserSecret, UpdateUser};
use crate::commands::{Command, Secret, SecretRule};
use crate::field_tables::user::{USER, USER_SKIP};
use crate::field_tables::Mode;
use crate::http::access::tenant_of;
use crate::http::as_of::AsOf;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{optional_str, required_str, JsonBody};
use crate::http::ids::portsip as ids;
use crate::http::list::{self, ListParams};
use crate::http::AppState;
use crate::queries::collection::ListOf;
use crate::queries::users::{USERS, USER_LIST};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::SecretKind;
use switchboard_events::envelope::format_rfc3339;
use switchboard_events::{Id, TenantId};
use switchboard_projections::directory::{Scope, UserView};

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
        json!(format_rfc3339(u.stamp.created_at())),
    );
    m
}

pub(crate) fn parse_user_id(raw: &str) -> Result<Id, ApiError> {
    ids::parse_or_404(raw, "user")
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
    let cmd = Command::CreateUser(user_input::parse(&body, Hashes::Refused)?.into_command());
    let out = state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": ids::render(out.created()?) })),
    ))
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
    let extension = match optional_str(&body, "extension_number")? {
        Some(n) => Some(PrimaryChoice::Number(ExtensionNumber::parse(
            &n,
            "extension_number",
        )?)),
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
    let voicemail_pin = match optional_str(&body, "voicemail_pin")? {
        Some(p) => Some(SecretRule::Pin.parse("voicemail_pin", &p)?),
        None => None,
    };
    let attrs = USER
        .validate(&body, Mode::Update, USER_SKIP)
        .map_err(|e| ApiError::validation(&e.field, e.message))?;
    let cmd = Command::UpdateUser(UpdateUser {
        attrs,
        extension,
        voicemail_pin,
        ..UpdateUser::of(user)
    });
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
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

/// Records a new secret for `user` (the pipeline hashes it).
pub(crate) async fn set_secret(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    user: Id,
    kind: SecretKind,
    secret: Secret,
) -> Result<(), ApiError> {
    let cmd = Command::SetUserSecret(SetUserSecret {
        user_id: user,
        kind,
        secret,
    });
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
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
    let rule = match kind {
        SecretKind::Password => SecretRule::Password,
        _ => SecretRule::ExtensionPassword,
    };
    let secret = rule.parse("password", &required_str(body, "password")?)?;
    set_secret(state, caller, tenant, id, kind, secret).await?;
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
    let user_id = parse_user_id(&id)?;
    let role = required_str(&body, "role")?;
    let cmd = Command::ChangeUserRole { user_id, role };
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(Json(json!({})))
}

/// Resets the profile of each user in `users` (all users when `None`).
pub(crate) async fn reset_profiles(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    users: Option<Vec<Id>>,
) -> Result<(), ApiError> {
    let cmd = Command::ResetUserProfiles { users };
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
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
    let user_id = parse_user_id(&id)?;
    let cmd = Command::DeleteUser { user_id };
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
