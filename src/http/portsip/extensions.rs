//! Extensions and user↔extension links:
//! `GET/POST /extensions`, `GET/POST /extensions/{id}`,
//! `POST /extensions/{id}/destroy`, `GET /users/{id}/extensions`,
//! `POST /users/{id}/extensions/{extension_id}` (link, 200 `{}`) and
//! `POST /users/{id}/extensions/{extension_id}/destroy` (unlink, 204).
//!
//! Handlers only translate: the rules live in [`crate::commands::extensions`].
//! Everything is tenant-scoped: an id of another tenant is a 404, exactly
//! like an id that never existed.

use super::VIA;
use crate::commands::extensions::{
    self, CreateExtension, ExtensionName, LinkUserToExtension, UpdateExtension,
};
use crate::commands::users::ExtensionNumber;
use crate::commands::{Command, NewId};
use crate::http::access::tenant_of;
use crate::http::as_of::AsOf;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{optional_str, JsonBody};
use crate::http::ids::portsip as ids;
use crate::http::list::{self, ListParams};
use crate::http::AppState;
use crate::queries::collection::ListOf;
use crate::queries::collections::{EXTENSIONS, EXTENSION_LIST};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::ExtensionType;
use switchboard_events::envelope::format_rfc3339;
use switchboard_events::Id;
use switchboard_projections::directory::{ext_type_name, ExtensionView};
use switchboard_projections::query::{Dir, FieldType, ListSchema};

/// What `GET /users/{id}/extensions` may filter, search and order by.
static LINKS_SCHEMA: ListSchema = ListSchema {
    fields: &[
        ("id", FieldType::String),
        ("number", FieldType::String),
        ("name", FieldType::String),
        ("type", FieldType::String),
        ("enabled", FieldType::Bool),
        ("primary", FieldType::Bool),
        ("linked_at", FieldType::DateTime),
    ],
    search: &["number", "name"],
    default_order: &[("linked_at", Dir::Asc), ("number", Dir::Asc)],
};

/// The body keys an extension accepts. `id` and `created_at` are read-only
/// and ignored, so that a client may send back what it read.
const BODY_FIELDS: &[&str] = &["number", "name", "type", "enabled"];
const READ_ONLY: &[&str] = &["id", "created_at"];

/// Renders an extension.
pub fn render(x: &ExtensionView) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(x.id)));
    m.insert("number".into(), json!(x.number));
    m.insert("name".into(), json!(x.name));
    m.insert("type".into(), json!(ext_type_name(x.ext_type)));
    m.insert("enabled".into(), json!(x.enabled));
    m.insert(
        "created_at".into(),
        json!(format_rfc3339(x.stamp.created_at())),
    );
    m
}

fn parse_extension_id(raw: &str) -> Result<Id, ApiError> {
    ids::parse_or_404(raw, "extension")
}

use super::users::parse_user_id;

/// The validated fields of a create or update body (all optional here;
/// create checks that `number` is present).
struct Body {
    number: Option<ExtensionNumber>,
    name: Option<ExtensionName>,
    ext_type: Option<ExtensionType>,
    enabled: Option<bool>,
}

fn parse_body(body: &Map<String, Value>) -> Result<Body, ApiError> {
    if let Some(k) = body
        .keys()
        .find(|k| !BODY_FIELDS.contains(&k.as_str()) && !READ_ONLY.contains(&k.as_str()))
    {
        return Err(ApiError::validation(k, "is not a field of an extension"));
    }
    let number = optional_str(body, "number")?
        .as_deref()
        .map(|n| ExtensionNumber::parse(n, "number"))
        .transpose()?;
    let name = optional_str(body, "name")?
        .as_deref()
        .map(ExtensionName::parse)
        .transpose()?;
    let ext_type = optional_str(body, "type")?
        .as_deref()
        .map(extensions::parse_type)
        .transpose()?;
    let enabled = match body.get("enabled") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::Null) => return Err(ApiError::validation("enabled", "must not be null")),
        Some(_) => return Err(ApiError::validation("enabled", "must be a boolean")),
    };
    Ok(Body {
        number,
        name,
        ext_type,
        enabled,
    })
}

/// `GET /extensions` (`?as_of=` answers from a past state).
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
    as_of: AsOf,
) -> Result<axum::response::Response, ApiError> {
    let tenant = tenant_of(&caller)?;
    let query = list::parse(&params, &EXTENSION_LIST)?;
    let model = as_of.read(&state);
    let scope = model.scope_or_empty(tenant);
    let render = |id, _| scope.extensions.get(&id).map(render);
    let list = ListOf::tenant(tenant);
    let past = as_of.is_past();
    Ok(list::indexed(
        &state,
        &model,
        past,
        &EXTENSIONS,
        "extensions",
        list,
        &query,
        render,
    ))
}

/// `POST /extensions`: 201 `{id}`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = tenant_of(&caller)?;
    let body = parse_body(&body)?;
    let number = body
        .number
        .ok_or_else(|| ApiError::validation("number", "is required"))?;
    let cmd = Command::CreateExtension(CreateExtension {
        extension_id: NewId::default(),
        number,
        name: body.name.unwrap_or_default(),
        ext_type: body.ext_type.unwrap_or(ExtensionType::Sip),
        enabled: body.enabled.unwrap_or(true),
        for_user: None,
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

/// `GET /extensions/{id}` (`?as_of=` answers from a past state).
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    as_of: AsOf,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_extension_id(&id)?;
    let dir = as_of.read(&state);
    let x = dir
        .scope_or_empty(tenant)
        .extensions
        .get(&id)
        .ok_or_else(|| ApiError::not_found("extension"))?;
    Ok(Json(Value::Object(render(x))))
}

/// `POST /extensions/{id}`: partial update, 200 `{}`.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let id = parse_extension_id(&id)?;
    let body = parse_body(&body)?;
    let cmd = Command::UpdateExtension(UpdateExtension {
        extension_id: id,
        number: body.number,
        name: body.name,
        ext_type: body.ext_type,
        enabled: body.enabled,
    });
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(Json(json!({})))
}

/// `POST /extensions/{id}/destroy`: 204; 409 `EXTENSION_IN_USE` while linked.
pub async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&caller)?;
    let extension_id = parse_extension_id(&id)?;
    let cmd = Command::DeleteExtension { extension_id };
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /users/{id}/extensions`: the extensions linked to a user, each
/// with `primary` (is it the user's `extension_number`?) and `linked_at`.
pub async fn user_links(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let user_id = parse_user_id(&id)?;
    let items: Vec<_> = {
        let dir = state.queries.read();
        let scope = dir.scope_or_empty(tenant);
        let user = scope
            .users
            .get(&user_id)
            .ok_or_else(|| ApiError::not_found("user"))?;
        scope
            .links
            .values()
            .filter(|l| l.user_id == user_id)
            .filter_map(|l| {
                let x = scope.extensions.get(&l.extension_id)?;
                let mut m = render(x);
                m.remove("created_at");
                m.insert(
                    "primary".into(),
                    json!(user.primary_extension == Some(x.id)),
                );
                m.insert("linked_at".into(), json!(format_rfc3339(l.created_at())));
                Some(m)
            })
            .collect()
    };
    list::respond(&params, &LINKS_SCHEMA, items)
}

/// `POST /users/{id}/extensions/{extension_id}`: link, 200 `{}`.
/// 404 for an unknown user or extension, 409 `ALREADY_LINKED`.
pub async fn link(
    State(state): State<AppState>,
    caller: Caller,
    Path((user, extension)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let user_id = parse_user_id(&user)?;
    let extension_id = parse_extension_id(&extension)?;
    let cmd = Command::LinkUserToExtension(LinkUserToExtension {
        link_id: NewId::default(),
        user_id,
        extension_id,
    });
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(Json(json!({})))
}

/// `POST /users/{id}/extensions/{extension_id}/destroy`: unlink, 204.
/// 404 when there is no such link.
pub async fn unlink(
    State(state): State<AppState>,
    caller: Caller,
    Path((user, extension)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&caller)?;
    let user_id = parse_user_id(&user)?;
    let extension_id = parse_extension_id(&extension)?;
    let cmd = Command::UnlinkUserFromExtension {
        user_id,
        extension_id,
    };
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
