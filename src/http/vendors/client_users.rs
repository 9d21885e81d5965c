//! Client internal-number users (`client-internal-number-users.txt`):
//!
//! | route | does |
//! | --- | --- |
//! | `POST /client/{client_id}/user/extension/` | CreateUser on the given extension; 201 with the user |
//! | `GET /client/{client_id}/user/extension/` | the tenant's users, with array filters |
//! | `GET /client/{client_id}/user/extension/{user_id}` | one user |
//! | `PUT /client/{client_id}/user/extension/{user_id}` | UpdateUser (+ SetUserSecret for `password`); 200 with the user |
//! | `DELETE /client/{client_id}/user/extension/{user_id}` | DeleteUser; 204 |
//!
//! (The collection also answers without its trailing slash.) The caller
//! needs the tenant Admin's `ManageUsers` capability.
//!
//! Mapping:
//! * `client_id` is the tenant: its decimal id or its SIP domain; it must
//!   be the tenant the caller acts in (404 otherwise).
//! * `id` and `extension_id` are our ids as JSON integers (all below 2^53);
//!   `extension_id` is the user's primary extension. Creating on an
//!   extension that another user already holds is 409
//!   `EXTENSION_NUMBER_IN_USE`; changing it moves the primary extension
//!   (PortSIP's `extension_number` rule).
//! * `login` is the account name (fixed after creation), `name` the display
//!   name, `email` the e-mail, `password` the sign-in password; `status`
//!   `active`/`blocked` is `enabled` true/false (blocking revokes sessions).
//! * `access` (`full`|`read_only`), `comment`, `extra_params`, `timezone`,
//!   `email_notify`, `email_for_notify` are user attributes of their own
//!   ([`VENDOR_USER`]), recorded in the same events. `read_only` is enforced
//!   in every dialect: such a user can sign in and read, every write is 403.
//!   `email_notify` is recorded intent: switchboard sends no mail.
//! * Users created here get the role `StandardUser`, and a random SIP
//!   password and voicemail PIN (set real ones through PortSIP).
//! * List filters: every field of the filter table takes several values
//!   (`?status=active&status=blocked` or `status[]=...`), ORed within a
//!   field and ANDed across fields; values compare exactly.
//!
//! Errors: `{"error": {"code", "message", "field"}}` with the PortSIP codes
//! and statuses (`field` is null unless one field is at fault).

use crate::auth::roles::Capability;
use crate::commands::users::{CreateUser, NewUserIds, PrimaryChoice, UpdateUser, UserName};
use crate::commands::{Command, CommandError, Secret, SecretRule, Thing};
use crate::field_tables::user::{USER, USER_SKIP};
use crate::field_tables::vendor_user::VENDOR_USER;
use crate::field_tables::{to_json, Mode, Table};
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::ids::int::{self, render as int_id};
use crate::http::list::form_pairs;
use crate::http::routes::{Access::Needs, Dialect, Routes};
use crate::http::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::{Fields, Id, TenantId};
use switchboard_projections::directory::{Directory, Scope, UserView};

/// Provenance recorded on the events this dialect causes.
const VIA: &str = "client-users";

/// The role of users created here.
const ROLE: &str = "StandardUser";

dialect_error!(
    /// An error in this dialect's shape (field names are the dialect's).
    ClientError
);

/// Typed rejections keep PortSIP's statuses and codes, under this
/// dialect's field names; an extension is named by id in a body field, so
/// an unknown one is that field's fault rather than a missing resource.
impl From<CommandError> for ClientError {
    fn from(e: CommandError) -> Self {
        let e = match e {
            CommandError::NotFound(Thing::Extension) => {
                CommandError::invalid("extension_id", "no such extension")
            }
            other => other.rename_field(|f| rename(f).to_owned()),
        };
        ClientError(e.into())
    }
}

impl IntoResponse for ClientError {
    fn into_response(self) -> Response {
        let body = json!({ "error": {
            "code": self.0.code,
            "message": self.0.message,
            "field": super::field_of(&self.0),
        }});
        self.0.respond(body)
    }
}

type Result<T> = std::result::Result<T, ClientError>;

/// Our field names → this dialect's, for error messages.
const FIELD_NAMES: &[(&str, &str)] = &[
    ("display_name", "name"),
    ("enabled", "status"),
    ("extension_number", "extension_id"),
];

fn rename(field: &str) -> &str {
    FIELD_NAMES
        .iter()
        .find(|(ours, _)| *ours == field)
        .map(|(_, theirs)| *theirs)
        .unwrap_or(field)
}

fn invalid(field: &str, message: &str) -> ClientError {
    ClientError(ApiError::validation(field, message))
}

/// The routes, relative to `/client`: all the tenant Admin's
/// (`ManageUsers`).
pub fn routes() -> Routes {
    let manage = Needs(Capability::ManageUsers);
    Routes::new(Dialect::ClientUsers)
        .get("/{client_id}/user/extension/", manage, list)
        .post("/{client_id}/user/extension/", manage, create)
        .get("/{client_id}/user/extension", manage, list)
        .post("/{client_id}/user/extension", manage, create)
        .get("/{client_id}/user/extension/{user_id}", manage, show)
        .put("/{client_id}/user/extension/{user_id}", manage, update)
        .delete("/{client_id}/user/extension/{user_id}", manage, destroy)
}

/// Resolves the caller and checks that `client_id` is its tenant.
fn authorize(
    state: &AppState,
    caller: std::result::Result<Caller, ApiError>,
    client_id: &str,
) -> Result<(Caller, TenantId)> {
    let caller = caller?;
    let tenant = tenant_of(&caller)?;
    let dir = state.queries.read();
    let named = match client_id.parse::<u64>() {
        Ok(n) => dir.tenants.get(&Id(n)).map(|t| t.id),
        Err(_) => dir.tenant_by_domain(client_id).map(|t| t.id),
    };
    if named != Some(tenant) {
        return Err(ApiError::not_found("client").into());
    }
    Ok((caller, tenant))
}

fn attr_str(u: &UserView, table: &Table, name: &str) -> Value {
    to_json(&table.effective(&u.attrs, name))
}

/// Renders a user in this dialect.
pub fn render(scope: &Scope, u: &UserView) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), int_id(u.id));
    m.insert("login".into(), json!(u.name));
    m.insert("name".into(), json!(u.display_name()));
    m.insert("email".into(), attr_str(u, &USER, "email"));
    m.insert(
        "status".into(),
        json!(if u.enabled() { "active" } else { "blocked" }),
    );
    m.insert(
        "extension_id".into(),
        u.primary_extension
            .filter(|e| scope.extensions.contains_key(e))
            .map(int_id)
            .unwrap_or(Value::Null),
    );
    for f in VENDOR_USER.fields {
        m.insert(f.name.into(), attr_str(u, &VENDOR_USER, f.name));
    }
    m
}

fn find_user(dir: &Directory, tenant: TenantId, raw: &str) -> Result<Map<String, Value>> {
    let scope = dir.scope_or_empty(tenant);
    int::parse(raw)
        .and_then(|id| scope.users.get(&id))
        .map(|u| render(scope, u))
        .ok_or_else(|| ApiError::not_found("user").into())
}

fn parse_user_id(raw: &str) -> Result<Id> {
    int::parse(raw).ok_or_else(|| ApiError::not_found("user").into())
}

/// `extension_id` as an integer or a decimal string.
fn extension_id(body: &Map<String, Value>) -> Result<Option<Id>> {
    match body.get("extension_id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|n| *n > 0)
            .map(|n| Some(Id(n)))
            .ok_or_else(|| invalid("extension_id", "must be a positive integer")),
        Some(Value::String(s)) => s
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| Some(Id(n)))
            .ok_or_else(|| invalid("extension_id", "must be a positive integer")),
        Some(_) => Err(invalid("extension_id", "must be a positive integer")),
    }
}

fn string_field(body: &Map<String, Value>, field: &str) -> Result<Option<String>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

/// The validated body: PortSIP user fields and vendor fields, as stored.
struct Parsed {
    user: Fields,
    vendor: Fields,
    extension: Option<Id>,
    password: Option<Secret>,
}

/// Splits and validates a body. Keys this dialect does not have are 400.
fn parse_body(body: &Map<String, Value>, mode: Mode) -> Result<Parsed> {
    const CORE: &[&str] = &[
        "name",
        "email",
        "status",
        "extension_id",
        "password",
        "login",
    ];
    let mut user_body = Map::new();
    let mut vendor_body = Map::new();
    for (k, v) in body {
        match k.as_str() {
            "name" => {
                user_body.insert("display_name".into(), v.clone());
            }
            "email" => {
                user_body.insert("email".into(), v.clone());
            }
            "status" => {
                let enabled = match v {
                    Value::String(s) if s == "active" => true,
                    Value::String(s) if s == "blocked" => false,
                    _ => return Err(invalid("status", "must be active or blocked")),
                };
                user_body.insert("enabled".into(), json!(enabled));
            }
            "id" => {}
            k if CORE.contains(&k) => {}
            k if VENDOR_USER.field(k).is_some() => {
                vendor_body.insert(k.to_owned(), v.clone());
            }
            k => return Err(invalid(k, "unknown field")),
        }
    }
    if mode == Mode::Update && body.contains_key("login") {
        return Err(invalid("login", "cannot be changed"));
    }
    let user = USER
        .validate(&user_body, mode, USER_SKIP)
        .map_err(|e| invalid(rename(&e.field), &e.message))?;
    let vendor = VENDOR_USER
        .validate(&vendor_body, mode, &[])
        .map_err(|e| invalid(&e.field, &e.message))?;
    let password = match string_field(body, "password")? {
        Some(p) => Some(SecretRule::Password.parse("password", &p)?),
        None => None,
    };
    Ok(Parsed {
        user,
        vendor,
        extension: extension_id(body)?,
        password,
    })
}

/// `POST /client/{client_id}/user/extension/`.
pub async fn create(
    State(state): State<AppState>,
    caller: std::result::Result<Caller, ApiError>,
    path: std::result::Result<Path<String>, PathRejection>,
    body: std::result::Result<JsonBody<Map<String, Value>>, ApiError>,
) -> Result<(StatusCode, Json<Value>)> {
    let client_id = super::path(path)?;
    let (caller, tenant) = authorize(&state, caller, &client_id)?;
    let JsonBody(body) = body?;
    let login = string_field(&body, "login")?.ok_or_else(|| invalid("login", "is required"))?;
    let login = UserName::parse(&login).map_err(|e| e.rename_field(|_| "login".into()))?;
    for required in ["name", "email", "password", "extension_id"] {
        if body.get(required).is_none_or(Value::is_null) {
            return Err(invalid(required, "is required"));
        }
    }
    let parsed = parse_body(&body, Mode::Create)?;
    let extension = parsed
        .extension
        .ok_or_else(|| invalid("extension_id", "is required"))?;
    let password = parsed
        .password
        .ok_or_else(|| invalid("password", "is required"))?;
    let mut attrs = parsed.user;
    attrs.extend(parsed.vendor);
    // The SIP password and voicemail PIN are not part of this dialect; the
    // core requires them, so they start random (reset them through PortSIP).
    let cmd = Command::CreateUser(CreateUser {
        ids: NewUserIds::default(),
        name: login,
        role: ROLE.into(),
        password,
        extension_password: Secret::Random,
        voicemail_pin: Secret::Random,
        extension: PrimaryChoice::Extension(extension),
        attrs,
    });
    let id = state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?
        .created()?;
    let dir = state.queries.read();
    let user = find_user(&dir, tenant, &id.0.to_string())?;
    Ok((StatusCode::CREATED, Json(Value::Object(user))))
}

/// The filterable fields and, for the enumerated ones, their values.
const FILTERS: &[&str] = &[
    "comment",
    "status",
    "name",
    "id",
    "access",
    "extension_id",
    "timezone",
    "login",
    "email",
];

/// Parses the list query into field → accepted values.
fn parse_filters(query: &str) -> Result<Vec<(&'static str, Vec<String>)>> {
    let mut out: Vec<(&'static str, Vec<String>)> = Vec::new();
    for (k, v) in form_pairs(query) {
        let key = k.strip_suffix("[]").unwrap_or(&k);
        let field = FILTERS
            .iter()
            .copied()
            .find(|f| *f == key)
            .ok_or_else(|| invalid(key, "is not a filter of this list"))?;
        match field {
            "status" if v != "active" && v != "blocked" => {
                return Err(invalid("status", "must be active or blocked"))
            }
            "access" if v != "full" && v != "read_only" => {
                return Err(invalid("access", "must be full or read_only"))
            }
            "id" | "extension_id" if v.parse::<u64>().is_err() => {
                return Err(invalid(field, "must be an integer"))
            }
            _ => {}
        }
        match out.iter_mut().find(|(f, _)| *f == field) {
            Some((_, values)) => values.push(v),
            None => out.push((field, vec![v])),
        }
    }
    Ok(out)
}

/// How a rendered field compares with a filter value.
fn as_filter_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `GET /client/{client_id}/user/extension/`.
pub async fn list(
    State(state): State<AppState>,
    caller: std::result::Result<Caller, ApiError>,
    path: std::result::Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>> {
    let client_id = super::path(path)?;
    let (_, tenant) = authorize(&state, caller, &client_id)?;
    let filters = parse_filters(query.as_deref().unwrap_or(""))?;
    let dir = state.queries.read();
    let scope = dir.scope_or_empty(tenant);
    let mut users: Vec<&UserView> = scope.users.values().collect();
    users.sort_by_key(|u| (u.stamp.created_offset, u.id));
    let items: Vec<Value> = users
        .into_iter()
        .map(|u| render(scope, u))
        .filter(|m| {
            filters.iter().all(|(field, values)| {
                m.get(*field)
                    .and_then(as_filter_text)
                    .is_some_and(|have| values.contains(&have))
            })
        })
        .map(Value::Object)
        .collect();
    Ok(Json(Value::Array(items)))
}

/// `GET /client/{client_id}/user/extension/{user_id}`.
pub async fn show(
    State(state): State<AppState>,
    caller: std::result::Result<Caller, ApiError>,
    path: std::result::Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Value>> {
    let (client_id, user_id) = super::path(path)?;
    let (_, tenant) = authorize(&state, caller, &client_id)?;
    let dir = state.queries.read();
    Ok(Json(Value::Object(find_user(&dir, tenant, &user_id)?)))
}

/// `PUT /client/{client_id}/user/extension/{user_id}`: the fields of
/// both tables, the extension and the password in one command.
pub async fn update(
    State(state): State<AppState>,
    caller: std::result::Result<Caller, ApiError>,
    path: std::result::Result<Path<(String, String)>, PathRejection>,
    body: std::result::Result<JsonBody<Map<String, Value>>, ApiError>,
) -> Result<Json<Value>> {
    let (client_id, user_id) = super::path(path)?;
    let (caller, tenant) = authorize(&state, caller, &client_id)?;
    let JsonBody(body) = body?;
    let id = parse_user_id(&user_id)?;
    let parsed = parse_body(&body, Mode::Update)?;
    let cmd = Command::UpdateUser(UpdateUser {
        attrs: parsed.user,
        vendor_attrs: parsed.vendor,
        extension: parsed.extension.map(PrimaryChoice::Extension),
        password: parsed.password,
        ..UpdateUser::of(id)
    });
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    let dir = state.queries.read();
    Ok(Json(Value::Object(find_user(&dir, tenant, &user_id)?)))
}

/// `DELETE /client/{client_id}/user/extension/{user_id}`: 204.
pub async fn destroy(
    State(state): State<AppState>,
    caller: std::result::Result<Caller, ApiError>,
    path: std::result::Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode> {
    let (client_id, user_id) = super::path(path)?;
    let (caller, tenant) = authorize(&state, caller, &client_id)?;
    let cmd = Command::DeleteUser {
        user_id: parse_user_id(&user_id)?,
    };
    state
        .pipeline
        .run(cmd, caller.acting_in(tenant, VIA))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
