//! eTelecom partner PBX calls (`etelecom-pbx-rest.txt`): Twirp-style RPC,
//! `POST /Etelecom/{Method}` with a JSON body and `Authorization: Bearer`.
//! Ids are our ids as decimal strings (proto3 JSON `int64`); requests may
//! send them as strings or numbers. Every method acts in the caller's
//! tenant and needs the tenant Admin's `ManageUsers` capability.
//!
//! | method | body | answer |
//! | --- | --- | --- |
//! | `AssignUserToExtension` | `{extension_id, user_id}` | LinkUserToExtension; `{updated: 1}`, or `{updated: 0}` when it fails (unknown ids, already linked, bad body) |
//! | `RemoveUserOfExtension` | `{extension_id, user_id?}` | UnlinkUserFromExtension (every user of the extension when `user_id` is absent); `{updated: 1}` / `{updated: 0}` |
//! | `ChangeHotlineForExtension` | `{extension_id, hotline_id}` | sets the hotline (below); `{updated: 1}` / `{updated: 0}` |
//! | `CreateExtension` | `{extension_number, extension_name?, user_id?, hotline_id?}` | CreateExtension (+ link, + hotline); the extension |
//! | `GetExtensionInfo` | `{extension_id}` | the extension |
//! | `GetExtensionList` | `{user_id?}` | `{extensions: [extension]}` |
//! | `CreateAccountUser` | `{username, full_name, email, password, extension_number, phone?, role?}` | CreateUser; the user |
//! | `GetListUser` | `{}` | `{users: [user]}` |
//! | `GetCallHistory` | `{date_from, date_to, extension_id?}` | `{call_logs: [{id, call_id, caller, callee, direction, started_at, answered_at, ended_at, duration, status_code, end_reason}], total}`: the tenant's CDRs in the window (the extension's as caller or callee), newest 100, from the call history store |
//!
//! An extension renders as `{id, extension_number, extension_name,
//! user_id, user_ids, hotline_id, tenant_id, tenant_domain, state,
//! created_at, updated_at}`: `user_id` is the user it is primary for (else
//! any linked user, else `""`), `state` `P` (enabled) or `N` (disabled). A
//! user renders as `{id, username, full_name, email, phone, role, status,
//! extension_id, extension_number, created_at}`, `status` `P`/`N`.
//!
//! Hotlines: switchboard has no hotline registry; a hotline is a phone
//! number and `hotline_id` is that number. An extension's hotline is the
//! preferred outbound caller ID of the user it is primary for (PortSIP's
//! `outbound_caller_ids`, entry with provider `etelecom-hotline`).
//!
//! `CreateAccountUser` needs `extension_number` because every switchboard
//! user has a primary extension; the SIP password and voicemail PIN start
//! random. `CreateExtension` with `user_id` creates, links (and sets the
//! hotline) in one atomic append.
//!
//! Errors other than the `updated` answers are Twirp errors:
//! `{code, msg, meta: {code, argument?}}` — `invalid_argument`/`malformed`
//! 400, `unauthenticated` 401, `permission_denied` 403, `not_found` 404
//! (also `bad_route` 404 for unknown methods and non-POST requests),
//! `already_exists`/`aborted` 409, `unavailable` 503.

use crate::auth::roles::Capability;
use crate::commands::extensions::{
    CreateExtension, ExtensionName, ForUser, Hotline, LinkUserToExtension,
};
use crate::commands::users::{CreateUser, ExtensionNumber, NewUserIds, PrimaryChoice, UserName};
use crate::commands::{Command, CommandError, ConflictKind, NewId, Secret, SecretRule};
use crate::field_tables::user::{USER, USER_SKIP};
use crate::field_tables::{to_json, Mode};
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::routes::{Access::Needs, Dialect, Routes};
use crate::http::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::envelope::format_rfc3339;
use switchboard_events::{Id, TenantId};
use switchboard_projections::directory::{Directory, ExtensionView, Scope, UserView};
use time::OffsetDateTime;

/// Provenance recorded on the events this dialect causes.
const VIA: &str = "etelecom";

/// A Twirp error: the edge's error and, for a typed command rejection, the
/// Twirp code chosen from the rejection itself.
#[derive(Debug)]
pub struct TwirpError {
    /// Status, PortSIP code (carried in `meta.code`), message, field.
    pub error: ApiError,
    /// The Twirp code, when the rejection chose it.
    twirp: Option<&'static str>,
}

impl From<ApiError> for TwirpError {
    fn from(error: ApiError) -> Self {
        TwirpError { error, twirp: None }
    }
}

/// The dialect's one mapping of typed rejections: PortSIP's status and code
/// (carried in `meta.code`) under this dialect's field names, and the Twirp
/// code from the rejection (a lost race is `aborted`, another conflict
/// `already_exists`).
impl From<CommandError> for TwirpError {
    fn from(e: CommandError) -> Self {
        let twirp = match &e {
            CommandError::Conflict(ConflictKind::ConcurrentModification, _) => Some("aborted"),
            CommandError::Conflict(..) => Some("already_exists"),
            CommandError::Contended(_) => Some("unavailable"),
            _ => None,
        };
        let e = e.rename_field(|f| match f {
            "hotline" => "hotline_id".into(),
            other => other.to_owned(),
        });
        TwirpError {
            error: e.into(),
            twirp,
        }
    }
}

impl IntoResponse for TwirpError {
    fn into_response(self) -> Response {
        let mut e = self.error;
        let (status, code) = match (e.status.as_u16(), e.code, self.twirp) {
            (_, _, Some(chosen)) => (e.status, chosen),
            (_, "ROUTE_NOT_FOUND" | "METHOD_NOT_ALLOWED", _) => {
                (StatusCode::NOT_FOUND, "bad_route")
            }
            (400, "MALFORMED", _) => (StatusCode::BAD_REQUEST, "malformed"),
            (400 | 413, _, _) => (e.status, "invalid_argument"),
            (401, _, _) => (e.status, "unauthenticated"),
            (403, _, _) => (e.status, "permission_denied"),
            (404, _, _) => (e.status, "not_found"),
            (409, _, _) => (e.status, "already_exists"),
            (429, _, _) => (e.status, "resource_exhausted"),
            (503, _, _) => (e.status, "unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let mut meta = Map::new();
        meta.insert("code".into(), json!(e.code));
        if let Some(field) = super::field_of(&e) {
            meta.insert("argument".into(), json!(field));
        }
        e.status = status;
        let body = json!({ "code": code, "msg": e.message, "meta": meta });
        e.respond(body)
    }
}

type Result<T> = std::result::Result<T, TwirpError>;

/// The methods, each its own route relative to `/Etelecom` (so each is
/// declared with its effect: the `Get*` calls only read). Unknown methods
/// and other HTTP methods are Twirp's `bad_route` (the dialect's
/// fallbacks).
pub fn routes() -> Routes {
    let manage = Needs(Capability::ManageUsers);
    Routes::new(Dialect::Etelecom)
        .post("/AssignUserToExtension", manage, assign_call)
        .post("/RemoveUserOfExtension", manage, remove_user_call)
        .post("/ChangeHotlineForExtension", manage, change_hotline_call)
        .post("/CreateExtension", manage, create_extension_call)
        .post_read("/GetExtensionInfo", manage, extension_info_call)
        .post_read("/GetExtensionList", manage, extension_list_call)
        .post("/CreateAccountUser", manage, create_user_call)
        .post_read("/GetListUser", manage, user_list_call)
        .post_read("/GetCallHistory", manage, call_history_call)
}

type Body = Map<String, Value>;

/// The caller and the tenant it acts in (authentication and the
/// capability were checked by the route's guard).
fn tenant_in(caller: std::result::Result<Caller, ApiError>) -> Result<(Caller, TenantId)> {
    let caller = caller?;
    let tenant = tenant_of(&caller)?;
    Ok((caller, tenant))
}

/// Declares the handler of an `{updated}` method: `{updated: 1}` when the
/// change was made, `{updated: 0}` when it was not (the reason is logged).
/// Authentication and tenant failures are still Twirp errors: the call was
/// not attempted.
macro_rules! updated_method {
    ($handler:ident, $name:literal, $run:ident) => {
        async fn $handler(
            State(state): State<AppState>,
            caller: std::result::Result<Caller, ApiError>,
            body: std::result::Result<JsonBody<Body>, ApiError>,
        ) -> Response {
            let (caller, tenant) = match tenant_in(caller) {
                Ok(ok) => ok,
                Err(e) => return e.into_response(),
            };
            let outcome = match body {
                Ok(JsonBody(body)) => $run(&state, &caller, tenant, &body).await,
                Err(e) => Err(e.into()),
            };
            let updated = match outcome {
                Ok(()) => 1,
                Err(e) => {
                    tracing::info!(method = $name, reason = %e.error.message, "eTelecom call not carried out");
                    0
                }
            };
            Json(json!({ "updated": updated })).into_response()
        }
    };
}

updated_method!(assign_call, "AssignUserToExtension", assign);
updated_method!(remove_user_call, "RemoveUserOfExtension", remove_user);
updated_method!(
    change_hotline_call,
    "ChangeHotlineForExtension",
    change_hotline
);

/// Declares the handler of a method answering a value (or a Twirp error;
/// a body that is not a JSON object is `malformed`). `async` for methods
/// that write, `read` for those that only read.
macro_rules! value_method {
    ($handler:ident, async $run:ident) => {
        async fn $handler(
            State(state): State<AppState>,
            caller: std::result::Result<Caller, ApiError>,
            body: std::result::Result<JsonBody<Body>, ApiError>,
        ) -> Result<Json<Value>> {
            let (caller, tenant) = tenant_in(caller)?;
            let JsonBody(body) = body.map_err(malformed)?;
            $run(&state, &caller, tenant, &body).await.map(Json)
        }
    };
    ($handler:ident, read $run:ident) => {
        async fn $handler(
            State(state): State<AppState>,
            caller: std::result::Result<Caller, ApiError>,
            body: std::result::Result<JsonBody<Body>, ApiError>,
        ) -> Result<Json<Value>> {
            let (_, tenant) = tenant_in(caller)?;
            let JsonBody(body) = body.map_err(malformed)?;
            $run(&state, tenant, &body).map(Json)
        }
    };
}

value_method!(create_extension_call, async create_extension);
value_method!(create_user_call, async create_user);
value_method!(extension_info_call, read extension_info);
value_method!(extension_list_call, read extension_list);
value_method!(user_list_call, read user_list);
value_method!(call_history_call, async call_history);

/// A body that could not be read as a JSON object is Twirp's `malformed`.
fn malformed(mut e: ApiError) -> TwirpError {
    if e.status == StatusCode::BAD_REQUEST {
        e.code = "MALFORMED";
    }
    e.into()
}

fn invalid(field: &str, message: &str) -> TwirpError {
    ApiError::validation(field, message).into()
}

/// A decimal id sent as a string or a number; `None` when absent.
fn opt_id(body: &Body, field: &str) -> Result<Option<Id>> {
    let n = match body.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        Some(_) => None,
    };
    n.filter(|n| *n > 0)
        .map(|n| Some(Id(n)))
        .ok_or_else(|| invalid(field, "must be an int64 id"))
}

fn req_id(body: &Body, field: &str) -> Result<Id> {
    opt_id(body, field)?.ok_or_else(|| invalid(field, "is required"))
}

fn opt_str(body: &Body, field: &str) -> Result<Option<String>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

fn req_str(body: &Body, field: &str) -> Result<String> {
    opt_str(body, field)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(field, "is required"))
}

fn id_str(id: Id) -> String {
    id.0.to_string()
}

fn time_str(t: OffsetDateTime) -> String {
    format_rfc3339(t)
}

/// The user an extension is primary for, else its first linked user.
fn user_of(x: &ExtensionView) -> Option<Id> {
    x.primary_of.or_else(|| x.users.iter().next().copied())
}

/// The hotline of an extension: the preferred outbound caller ID of the
/// user it is primary for.
fn hotline_of(scope: &Scope, x: &ExtensionView) -> Option<String> {
    let u = scope.users.get(&x.primary_of?)?;
    let ids = to_json(&USER.effective(&u.attrs, "outbound_caller_ids"));
    ids.as_array()?
        .iter()
        .find(|c| c["preferred"] == json!(true))
        .and_then(|c| c["caller_id"].as_str())
        .map(str::to_owned)
}

/// Renders an extension in this dialect.
fn render_extension(dir: &Directory, tenant: TenantId, x: &ExtensionView) -> Value {
    let scope = dir.scope_or_empty(tenant);
    json!({
        "id": id_str(x.id),
        "extension_number": x.number,
        "extension_name": x.name,
        "user_id": user_of(x).map(id_str).unwrap_or_default(),
        "user_ids": x.users.iter().copied().map(id_str).collect::<Vec<_>>(),
        "hotline_id": hotline_of(scope, x).unwrap_or_default(),
        "tenant_id": id_str(tenant),
        "tenant_domain": dir.tenants.get(&tenant).map(|t| t.domain.as_str()).unwrap_or(""),
        "state": if x.enabled { "P" } else { "N" },
        "created_at": time_str(x.stamp.created_at()),
        "updated_at": time_str(x.stamp.updated_at()),
    })
}

/// Renders a user in this dialect.
fn render_user(scope: &Scope, u: &UserView) -> Value {
    let primary = u.primary_extension.and_then(|e| scope.extensions.get(&e));
    json!({
        "id": id_str(u.id),
        "username": u.name,
        "full_name": u.display_name().unwrap_or(""),
        "email": to_json(&USER.effective(&u.attrs, "email")),
        "phone": to_json(&USER.effective(&u.attrs, "mobile_phone")),
        "role": u.role,
        "status": if u.enabled() { "P" } else { "N" },
        "extension_id": primary.map(|x| id_str(x.id)).unwrap_or_default(),
        "extension_number": primary.map(|x| x.number.as_str()).unwrap_or(""),
        "created_at": time_str(u.stamp.created_at()),
    })
}

/// `AssignUserToExtension`.
async fn assign(state: &AppState, caller: &Caller, tenant: TenantId, body: &Body) -> Result<()> {
    let cmd = Command::LinkUserToExtension(LinkUserToExtension {
        link_id: NewId::default(),
        user_id: req_id(body, "user_id")?,
        extension_id: req_id(body, "extension_id")?,
    });
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(())
}

/// `RemoveUserOfExtension`: one user, or every user of the extension.
async fn remove_user(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    body: &Body,
) -> Result<()> {
    let extension_id = req_id(body, "extension_id")?;
    let cmd = match opt_id(body, "user_id")? {
        Some(user_id) => Command::UnlinkUserFromExtension {
            user_id,
            extension_id,
        },
        None => Command::UnlinkAllUsersOfExtension { extension_id },
    };
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(())
}

/// `hotline_id`, if given (empty counts as absent).
fn hotline(body: &Body) -> Result<Option<Hotline>> {
    match opt_str(body, "hotline_id")?.filter(|s| !s.is_empty()) {
        Some(h) => Ok(Some(Hotline::parse(&h, "hotline_id")?)),
        None => Ok(None),
    }
}

/// `ChangeHotlineForExtension`.
async fn change_hotline(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    body: &Body,
) -> Result<()> {
    let extension_id = req_id(body, "extension_id")?;
    let hotline = hotline(body)?.ok_or_else(|| invalid("hotline_id", "is required"))?;
    let cmd = Command::AssignHotline {
        extension_id,
        hotline,
    };
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(())
}

/// `CreateExtension`: created, linked to `user_id` (and given the
/// hotline) in one append.
async fn create_extension(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    body: &Body,
) -> Result<Value> {
    let number = ExtensionNumber::parse(&req_str(body, "extension_number")?, "extension_number")?;
    let name = ExtensionName::parse(&opt_str(body, "extension_name")?.unwrap_or_default())
        .map_err(|e| e.rename_field(|_| "extension_name".into()))?;
    let user_id = opt_id(body, "user_id")?;
    let hotline = hotline(body)?;
    if hotline.is_some() && user_id.is_none() {
        return Err(invalid(
            "hotline_id",
            "needs user_id: a hotline is the outbound caller ID of the extension's user",
        ));
    }
    let cmd = Command::CreateExtension(CreateExtension {
        extension_id: NewId::default(),
        number,
        name,
        ext_type: switchboard_events::domain::ExtensionType::Sip,
        enabled: true,
        for_user: user_id.map(|user_id| ForUser {
            user_id,
            link_id: NewId::default(),
            hotline,
        }),
    });
    let extension_id = state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?
        .created()?;
    let dir = state.queries.read();
    let x = dir
        .scope_or_empty(tenant)
        .extensions
        .get(&extension_id)
        .ok_or_else(|| ApiError::not_found("extension"))?;
    Ok(render_extension(&dir, tenant, x))
}

/// `GetExtensionInfo`.
fn extension_info(state: &AppState, tenant: TenantId, body: &Body) -> Result<Value> {
    let id = req_id(body, "extension_id")?;
    let dir = state.queries.read();
    let x = dir
        .scope_or_empty(tenant)
        .extensions
        .get(&id)
        .ok_or_else(|| ApiError::not_found("extension"))?;
    Ok(render_extension(&dir, tenant, x))
}

/// `GetExtensionList`.
fn extension_list(state: &AppState, tenant: TenantId, body: &Body) -> Result<Value> {
    let user = opt_id(body, "user_id")?;
    let dir = state.queries.read();
    let scope = dir.scope_or_empty(tenant);
    if let Some(u) = user {
        if !scope.users.contains_key(&u) {
            return Err(ApiError::not_found("user").into());
        }
    }
    let mut xs: Vec<&ExtensionView> = scope
        .extensions
        .values()
        .filter(|x| user.is_none_or(|u| x.users.contains(&u)))
        .collect();
    xs.sort_by(|a, b| a.number.cmp(&b.number));
    let items: Vec<Value> = xs
        .into_iter()
        .map(|x| render_extension(&dir, tenant, x))
        .collect();
    Ok(json!({ "extensions": items }))
}

/// `CreateAccountUser`.
async fn create_user(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    body: &Body,
) -> Result<Value> {
    let name = UserName::parse(&req_str(body, "username")?)
        .map_err(|e| e.rename_field(|_| "username".into()))?;
    let number = ExtensionNumber::parse(&req_str(body, "extension_number")?, "extension_number")?;
    let password = SecretRule::Password.parse("password", &req_str(body, "password")?)?;
    let role = opt_str(body, "role")?.unwrap_or_else(|| "StandardUser".into());
    let mut user_body = Map::new();
    user_body.insert("display_name".into(), json!(req_str(body, "full_name")?));
    user_body.insert("email".into(), json!(req_str(body, "email")?));
    if let Some(p) = opt_str(body, "phone")? {
        user_body.insert("mobile_phone".into(), json!(p));
    }
    const KNOWN: &[&str] = &[
        "username",
        "full_name",
        "email",
        "phone",
        "password",
        "extension_number",
        "role",
    ];
    if let Some(k) = body.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(invalid(k, "unknown field"));
    }
    let attrs = USER
        .validate(&user_body, Mode::Create, USER_SKIP)
        .map_err(|e| {
            let field = match e.field.as_str() {
                "display_name" => "full_name",
                "mobile_phone" => "phone",
                f => f,
            };
            invalid(field, &e.message)
        })?;
    // The SIP password and voicemail PIN are not part of this dialect; they
    // start random.
    let cmd = Command::CreateUser(CreateUser {
        ids: NewUserIds::default(),
        name,
        role,
        password,
        extension_password: Secret::Random,
        voicemail_pin: Secret::Random,
        extension: PrimaryChoice::Number(number),
        attrs,
    });
    let id = state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?
        .created()?;
    let dir = state.queries.read();
    let scope = dir.scope_or_empty(tenant);
    let u = scope
        .users
        .get(&id)
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(render_user(scope, u))
}

/// `GetListUser`.
fn user_list(state: &AppState, tenant: TenantId, body: &Body) -> Result<Value> {
    if let Some(k) = body.keys().next() {
        return Err(invalid(k, "unknown field"));
    }
    let dir = state.queries.read();
    let scope = dir.scope_or_empty(tenant);
    let mut us: Vec<&UserView> = scope.users.values().collect();
    us.sort_by_key(|u| (u.stamp.created_offset, u.id));
    let items: Vec<Value> = us.into_iter().map(|u| render_user(scope, u)).collect();
    Ok(json!({ "users": items }))
}

/// `GetCallHistory`: the tenant's CDRs started in `[date_from, date_to]`
/// (and with the extension's number as caller or callee when
/// `extension_id` is given), newest first, at most 100, with the total;
/// read from the same call history store as PortSIP's `/cdrs`.
async fn call_history(
    state: &AppState,
    _caller: &Caller,
    tenant: TenantId,
    body: &Body,
) -> Result<Value> {
    let parse = |field: &str| -> Result<OffsetDateTime> {
        let raw = req_str(body, field)?;
        OffsetDateTime::parse(&raw, &time::format_description::well_known::Rfc3339)
            .map_err(|_| invalid(field, "must be an RFC 3339 date-time"))
    };
    let from = parse("date_from")?;
    let to = parse("date_to")?;
    if from > to {
        return Err(invalid("date_to", "must not be before date_from"));
    }
    let number = match opt_id(body, "extension_id")? {
        Some(x) => {
            let dir = state.queries.read();
            let ext = dir.scope_or_empty(tenant).extensions.get(&x).cloned();
            match ext {
                Some(e) => Some(e.number.clone()),
                None => return Err(ApiError::not_found("extension").into()),
            }
        }
        None => None,
    };
    let mut filter = format!(
        "started_at ge '{}' and started_at le '{}'",
        format_rfc3339(from),
        format_rfc3339(to)
    );
    if let Some(n) = &number {
        let quoted = n.replace('\'', "''");
        filter.push_str(&format!(
            " and (caller eq '{quoted}' or callee eq '{quoted}')"
        ));
    }
    let raw = switchboard_projections::query::RawListParams {
        filter: Some(filter),
        ..Default::default()
    };
    let query = switchboard_projections::query::ListQuery::parse(&raw, &crate::records::CDR_LIST)
        .map_err(|e| invalid(&e.param, &e.message))?;
    let page = state
        .history
        .read(move |store| {
            store.page(
                crate::records::store::Kind::Cdr,
                tenant,
                crate::records::store::Scope::Tenant,
                &query,
                crate::records::CDR_TIME,
            )
        })
        .await
        .map_err(ApiError::from)?;
    let call_logs: Vec<Value> = page
        .items
        .iter()
        .map(|r| {
            let f: Map<String, Value> = serde_json::from_slice(&r.body).unwrap_or_default();
            let get = |k: &str| f.get(k).cloned().unwrap_or(Value::Null);
            json!({
                "id": r.id.0.to_string(),
                "call_id": get("call_id"),
                "caller": get("caller"),
                "callee": get("callee"),
                "direction": get("direction"),
                "started_at": get("started_at"),
                "answered_at": get("answered_at"),
                "ended_at": get("ended_at"),
                "duration": get("duration"),
                "status_code": get("status_code"),
                "end_reason": get("end_reason"),
            })
        })
        .collect();
    Ok(json!({ "call_logs": call_logs, "total": page.count }))
}
