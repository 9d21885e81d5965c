//! The user↔extension link API v1 (`user-extensions-api-v1.md`), mounted at
//! `/api/v1/user-extensions`:
//!
//! | route | does |
//! | --- | --- |
//! | `GET /` | every link of the tenant, joined with its user and extension |
//! | `GET /by-user/{userUuid}` | the user's links (404 for an unknown user) |
//! | `GET /by-extension/{extUuid}` | the extension's links (404 for an unknown extension) |
//! | `POST /` `{user_uuid, extension_uuid}` | LinkUserToExtension; 201 with the joined link |
//! | `DELETE /{uuid}` | UnlinkUserFromExtension by link uuid; 200, `data: null` |
//!
//! Every answer is `{success, message, data, metadata}`; errors too, with
//! `success: false`, `data: null` and `metadata: {code, field?}` (the same
//! codes as PortSIP's), under the matching HTTP status (400, 401, 403, 404,
//! 405, 409, 413, 503). "Level 0 permission" is the tenant Admin's: the
//! `ManageUsers` capability, for reads as well as writes.
//!
//! Mapping: ids are [`super::uuid`]s of our ids (users, extensions and
//! links each have their own kind); `username` is the account name;
//! `first_name`/`last_name` are the display name split at its first space
//! ([`super::split_name`]); `extension`/`ext_name` are the extension's
//! number and name; `type` is `chan_sip`, `webrtc` or `external` for SIP,
//! WEBRTC and EXTERNAL extensions; `created_at` is when the link was made.

use super::{format_millis, split_name};
use crate::auth::roles::Capability;
use crate::commands::extensions::LinkUserToExtension;
use crate::commands::{Command, CommandError, NewId};
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{required_str, JsonBody};
use crate::http::ids::uuid::{self, Kind};
use crate::http::routes::{Access::Needs, Dialect, Routes};
use crate::http::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::domain::ExtensionType;
use switchboard_events::Id;
use switchboard_projections::directory::{LinkView, Scope};

/// Provenance recorded on the events this dialect causes.
const VIA: &str = "user-extensions-v1";

dialect_error!(
    /// An error in this dialect's envelope.
    V1Error
);

/// Typed rejections keep PortSIP's statuses and codes here (the envelope
/// carries the code in `metadata.code`).
impl From<CommandError> for V1Error {
    fn from(e: CommandError) -> Self {
        V1Error(e.into())
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let mut metadata = Map::new();
        metadata.insert("code".into(), json!(self.0.code));
        if let Some(field) = super::field_of(&self.0) {
            metadata.insert("field".into(), json!(field));
        }
        let body = json!({
            "success": false,
            "message": self.0.message,
            "data": null,
            "metadata": metadata,
        });
        self.0.respond(body)
    }
}

type Result<T> = std::result::Result<T, V1Error>;

/// The success envelope.
fn ok(message: String, data: Value) -> Json<Value> {
    Json(json!({ "success": true, "message": message, "data": data, "metadata": {} }))
}

/// The routes, relative to `/api/v1/user-extensions`. "Level 0
/// permission" is the tenant Admin's `ManageUsers`, for reads too.
pub fn routes() -> Routes {
    let level0 = Needs(Capability::ManageUsers);
    Routes::new(Dialect::UserExtensionsV1)
        .get("/", level0, list)
        .post("/", level0, create)
        .get("/by-user/{user_uuid}", level0, by_user)
        .get("/by-extension/{ext_uuid}", level0, by_extension)
        .delete("/{uuid}", level0, destroy)
}

/// The `type` of an extension in this dialect.
pub fn type_name(t: ExtensionType) -> &'static str {
    match t {
        ExtensionType::Sip => "chan_sip",
        ExtensionType::WebRtc => "webrtc",
        ExtensionType::External => "external",
    }
}

/// Which joined fields a rendering carries.
#[derive(Clone, Copy)]
struct Join {
    user: bool,
    extension: bool,
}

const FULL: Join = Join {
    user: true,
    extension: true,
};

/// Renders a link with the joined fields the route documents.
fn render(scope: &Scope, l: &LinkView, join: Join) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("uuid".into(), json!(uuid::render(Kind::Link, l.id)));
    m.insert(
        "user_uuid".into(),
        json!(uuid::render(Kind::User, l.user_id)),
    );
    m.insert(
        "extension_uuid".into(),
        json!(uuid::render(Kind::Extension, l.extension_id)),
    );
    if join.user {
        let u = scope.users.get(&l.user_id);
        let (first, last) = split_name(u.and_then(|u| u.display_name()).unwrap_or(""));
        m.insert("username".into(), json!(u.map(|u| u.name.as_str())));
        m.insert("first_name".into(), json!(first));
        m.insert("last_name".into(), json!(last));
    }
    if join.extension {
        let x = scope.extensions.get(&l.extension_id);
        m.insert("extension".into(), json!(x.map(|x| x.number.as_str())));
        m.insert("ext_name".into(), json!(x.map(|x| x.name.as_str())));
        m.insert("type".into(), json!(x.map(|x| type_name(x.ext_type))));
    }
    m.insert("created_at".into(), json!(format_millis(l.created_at())));
    m
}

/// Links in a stable order: oldest first, then by id.
fn sorted<'a>(links: impl Iterator<Item = &'a LinkView>) -> Vec<&'a LinkView> {
    let mut v: Vec<_> = links.collect();
    v.sort_by_key(|l| (l.created_at(), l.id));
    v
}

fn authorize(
    _state: &AppState,
    caller: std::result::Result<Caller, ApiError>,
) -> Result<(Caller, switchboard_events::TenantId)> {
    let caller = caller?;
    let tenant = tenant_of(&caller)?;
    Ok((caller, tenant))
}

/// `GET /api/v1/user-extensions`.
pub async fn list(
    State(state): State<AppState>,
    caller: std::result::Result<Caller, ApiError>,
) -> Result<Json<Value>> {
    let (_, tenant) = authorize(&state, caller)?;
    let dir = state.queries.read();
    let scope = dir.scope_or_empty(tenant);
    let data: Vec<Value> = sorted(scope.links.values())
        .into_iter()
        .map(|l| Value::Object(render(scope, l, FULL)))
        .collect();
    Ok(ok(
        format!("{} link(s) found", data.len()),
        Value::Array(data),
    ))
}

/// `GET /api/v1/user-extensions/by-user/{userUuid}`.
pub async fn by_user(
    State(state): State<AppState>,
    caller: std::result::Result<Caller, ApiError>,
    path: std::result::Result<Path<String>, PathRejection>,
) -> Result<Json<Value>> {
    let raw = super::path(path)?;
    let (_, tenant) = authorize(&state, caller)?;
    let dir = state.queries.read();
    let scope = dir.scope_or_empty(tenant);
    let user = uuid::parse(Kind::User, &raw)
        .filter(|id| scope.users.contains_key(id))
        .ok_or_else(|| ApiError::not_found("user"))?;
    let join = Join {
        user: false,
        extension: true,
    };
    let data: Vec<Value> = sorted(scope.links.values().filter(|l| l.user_id == user))
        .into_iter()
        .map(|l| Value::Object(render(scope, l, join)))
        .collect();
    Ok(ok(
        format!("{} extension(s) linked to user", data.len()),
        Value::Array(data),
    ))
}

/// `GET /api/v1/user-extensions/by-extension/{extUuid}`.
pub async fn by_extension(
    State(state): State<AppState>,
    caller: std::result::Result<Caller, ApiError>,
    path: std::result::Result<Path<String>, PathRejection>,
) -> Result<Json<Value>> {
    let raw = super::path(path)?;
    let (_, tenant) = authorize(&state, caller)?;
    let dir = state.queries.read();
    let scope = dir.scope_or_empty(tenant);
    let ext = uuid::parse(Kind::Extension, &raw)
        .filter(|id| scope.extensions.contains_key(id))
        .ok_or_else(|| ApiError::not_found("extension"))?;
    let join = Join {
        user: true,
        extension: false,
    };
    let data: Vec<Value> = sorted(scope.links.values().filter(|l| l.extension_id == ext))
        .into_iter()
        .map(|l| Value::Object(render(scope, l, join)))
        .collect();
    Ok(ok(
        format!("{} user(s) linked to extension", data.len()),
        Value::Array(data),
    ))
}

/// A body uuid: 400 if it is not a UUID at all, 404 if it is one we never
/// issued for this kind (indistinguishable from an unknown resource).
fn body_uuid(body: &Map<String, Value>, field: &str, kind: Kind, what: &str) -> Result<Id> {
    let raw = required_str(body, field)?;
    if ::uuid::Uuid::parse_str(&raw).is_err() {
        return Err(ApiError::validation(field, "must be a UUID").into());
    }
    uuid::parse(kind, &raw).ok_or_else(|| ApiError::not_found(what).into())
}

/// `POST /api/v1/user-extensions` `{user_uuid, extension_uuid}`.
pub async fn create(
    State(state): State<AppState>,
    caller: std::result::Result<Caller, ApiError>,
    body: std::result::Result<JsonBody<Map<String, Value>>, ApiError>,
) -> Result<(StatusCode, Json<Value>)> {
    let (caller, tenant) = authorize(&state, caller)?;
    let JsonBody(body) = body?;
    let user_id = body_uuid(&body, "user_uuid", Kind::User, "user")?;
    let extension_id = body_uuid(&body, "extension_uuid", Kind::Extension, "extension")?;
    let cmd = Command::LinkUserToExtension(LinkUserToExtension {
        link_id: NewId::default(),
        user_id,
        extension_id,
    });
    let link_id = state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?
        .created()?;
    let dir = state.queries.read();
    let scope = dir.scope_or_empty(tenant);
    let link = scope
        .links
        .get(&link_id)
        .ok_or_else(|| ApiError::not_found("link"))?;
    Ok((
        StatusCode::CREATED,
        ok(
            "User linked to extension".into(),
            Value::Object(render(scope, link, FULL)),
        ),
    ))
}

/// `DELETE /api/v1/user-extensions/{uuid}`.
pub async fn destroy(
    State(state): State<AppState>,
    caller: std::result::Result<Caller, ApiError>,
    path: std::result::Result<Path<String>, PathRejection>,
) -> Result<Json<Value>> {
    let raw = super::path(path)?;
    let (caller, tenant) = authorize(&state, caller)?;
    let link_id = uuid::parse(Kind::Link, &raw).ok_or_else(|| ApiError::not_found("link"))?;
    let cmd = Command::RemoveLink { link_id };
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(ok("Link deleted".into(), Value::Null))
}
