//! The OpenAPI 3.1 description of everything served: `GET /openapi.json`.
//!
//! Generated, never written by hand, so it cannot drift from the code:
//! - **paths and operations** from the route table ([`route_table`]): every
//!   declared route of every dialect, with its method, path parameters, the
//!   dialect as its tag, the declared access (bearer security, and the
//!   capability in the description) and whether it reads or writes;
//! - **request and response bodies** from the field tables in
//!   [`crate::field_tables`] for the resources that have one (users, tenants,
//!   groups, call queues, ring groups, and every declared collection:
//!   contacts...), plus their core fields;
//!   bulk import/export with their media types; other routes say "a JSON
//!   object" and link to the dialect's own documentation;
//! - **errors** in each dialect's own shape.
//!
//! The model is `utoipa`'s `openapi` types (builders that serialize to an
//! OpenAPI 3.1 document); its derive macros are not used: the routes are
//! data, not annotated functions.

use super::routes::{route_table, Access, Dialect, Effect, RouteSpec};
use crate::field_tables::{self, Access as FieldAccess, Field, Kind, Mode, Table};
use crate::records::fields::{
    FieldKind as RecordKind, RecordTable, CDR_FIELDS, MAX_EXTRA_NUMBERS, MESSAGE_FIELDS,
    RECORDING_FIELDS,
};
use axum::http::Method;
use serde_json::{json, Value};
use std::sync::LazyLock;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr,
    Required, ResponseBuilder, ResponsesBuilder, ServerBuilder,
};

/// The document, built once (the routes and tables are static).
pub static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    serde_json::to_string(&document()).unwrap_or_else(|e| {
        // Serializing plain data cannot fail; if it ever did, say so in the
        // document instead of failing the route.
        json!({"openapi": "3.1.0", "info": {"title": "switchboard", "version": "0", "description": e.to_string()}, "paths": {}}).to_string()
    })
});

/// `GET /openapi.json`.
pub async fn serve() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

/// A dialect's tag name and description.
pub fn tag(d: Dialect) -> (&'static str, &'static str) {
    match d {
        Dialect::Service => ("service", "Health, readiness, metrics and this description."),
        Dialect::PortSip => (
            "PortSIP v22",
            "The PortSIP v22 REST API under /api (spec/portsip-*.json), plus switchboard's additions.",
        ),
        Dialect::Voipappz => ("voipappz", "voipappz user actions, merged into /api (spec/vendors/voipappz-api-outline.txt)."),
        Dialect::UserExtensionsV1 => (
            "user-extensions v1",
            "The user↔extension link API v1 (spec/vendors/user-extensions-api-v1.md).",
        ),
        Dialect::ClientUsers => (
            "client users",
            "Client internal-number users (spec/vendors/client-internal-number-users.txt).",
        ),
        Dialect::Etelecom => ("eTelecom", "eTelecom partner PBX methods (spec/vendors/etelecom-pbx-rest.txt)."),
    }
}

/// A resource described by a field table, and the core fields its handlers
/// keep themselves.
struct Resource {
    /// The component name.
    name: &'static str,
    table: &'static Table,
    /// Core fields: name, schema, required on create.
    core: fn() -> Vec<(&'static str, Value, bool)>,
    /// Core fields that are read-only (rendered, never sent).
    read_only: &'static [&'static str],
    /// Core fields that are write-only (secrets: sent, never rendered).
    write_only: &'static [&'static str],
    /// Core fields an update refuses (they have their own endpoints).
    fixed: &'static [&'static str],
    /// Core fields a list item leaves out.
    not_listed: &'static [&'static str],
    /// `(path, keys)`: routes updating with a restricted set of keys.
    restricted: Vec<(&'static str, &'static [&'static str])>,
}

fn s(min: usize, max: usize) -> Value {
    json!({"type": "string", "minLength": min, "maxLength": max})
}

/// The core fields of call queues and ring groups.
fn queue_core() -> Vec<(&'static str, Value, bool)> {
    vec![
        ("id", json!({"type": "string"}), false),
        ("name", s(1, 64), true),
        (
            "extension_number",
            json!({"type": "string", "pattern": "^[0-9]{3,64}$"}),
            true,
        ),
    ]
}

impl Resource {
    /// A resource whose only read-only core field is `id` and which has no
    /// secrets, fixed fields or restricted updates.
    fn plain(
        name: &'static str,
        table: &'static Table,
        core: fn() -> Vec<(&'static str, Value, bool)>,
    ) -> Resource {
        Resource {
            name,
            table,
            core,
            read_only: &["id"],
            write_only: &[],
            fixed: &[],
            not_listed: &[],
            restricted: vec![],
        }
    }
}

static RESOURCES: LazyLock<Vec<Resource>> = LazyLock::new(|| {
    vec![
        Resource {
            name: "User",
            table: &field_tables::user::USER,
            core: || {
                vec![
                    (
                        "id",
                        json!({"type": "string", "description": "The user's id."}),
                        false,
                    ),
                    ("name", s(1, 64), true),
                    ("role", s(1, 64), true),
                    (
                        "extension_number",
                        json!({"type": "string", "pattern": "^[0-9]{3,64}$"}),
                        true,
                    ),
                    ("password", s(8, 128), true),
                    ("extension_password", s(6, 64), true),
                    (
                        "voicemail_pin",
                        json!({"type": "string", "pattern": "^[0-9]{6,10}$"}),
                        true,
                    ),
                    (
                        "created_at",
                        json!({"type": "string", "format": "date-time"}),
                        false,
                    ),
                ]
            },
            read_only: &["id", "created_at"],
            write_only: &["password", "extension_password"],
            fixed: &["name", "role", "password", "extension_password"],
            not_listed: &["voicemail_pin"],
            restricted: vec![("/api/user", field_tables::user::USER_SELF_UPDATABLE)],
        },
        Resource {
            name: "Tenant",
            table: &field_tables::tenant::TENANT,
            core: || {
                vec![
                    ("id", json!({"type": "string"}), false),
                    ("name", s(1, 64), true),
                    ("domain", s(1, 280), true),
                    (
                        "created_at",
                        json!({"type": "string", "format": "date-time"}),
                        false,
                    ),
                ]
            },
            read_only: &["id", "created_at"],
            write_only: &[],
            fixed: &[],
            not_listed: &[],
            restricted: vec![("/api/tenant", field_tables::tenant::TENANT_SELF_UPDATABLE)],
        },
        Resource::plain("Group", &field_tables::group::GROUP, || {
            vec![
                ("id", json!({"type": "string"}), false),
                ("name", s(1, 64), true),
            ]
        }),
        Resource::plain("CallQueue", &field_tables::queue::CALL_QUEUE, queue_core),
        Resource::plain("RingGroup", &field_tables::queue::RING_GROUP, queue_core),
    ]
    .into_iter()
    .chain(declared_resources())
    .collect()
});

/// One resource per schema of the declared collections
/// ([`crate::collections`]): `id` and, where users favorite items, the
/// caller's `favorite` flag besides the field table.
fn declared_resources() -> Vec<Resource> {
    fn id() -> Vec<(&'static str, Value, bool)> {
        vec![("id", json!({"type": "string"}), false)]
    }
    fn id_and_favorite() -> Vec<(&'static str, Value, bool)> {
        vec![
            ("id", json!({"type": "string"}), false),
            ("favorite", json!({"type": "boolean"}), false),
        ]
    }
    let mut out: Vec<Resource> = Vec::new();
    for c in crate::collections::DECLARED {
        if out.iter().any(|r| r.name == c.schema) {
            continue;
        }
        let mut r = Resource::plain(c.schema, c.table, id);
        if c.favorites.is_some() {
            r.core = id_and_favorite;
            r.read_only = &["id", "favorite"];
        }
        out.push(r);
    }
    out
}

/// Which resource a PortSIP path is about (collection and item routes).
fn resource_of(path: &str) -> Option<&'static Resource> {
    let name = match path {
        "/api/users" | "/api/users/{id}" | "/api/user" => "User",
        "/api/tenants" | "/api/tenants/{id}" | "/api/tenant" => "Tenant",
        "/api/groups" | "/api/groups/{id}" => "Group",
        "/api/call_queues" | "/api/call_queues/{id}" => "CallQueue",
        "/api/ring_groups" | "/api/ring_groups/{id}" => "RingGroup",
        _ => {
            crate::collections::DECLARED
                .iter()
                .find(|c| {
                    c.paths()
                        .iter()
                        .any(|p| path.strip_prefix("/api") == Some(p))
                })?
                .schema
        }
    };
    RESOURCES.iter().find(|r| r.name == name)
}

/// What a body or answer of a resource looks like in one direction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Create,
    Update,
    Response,
    /// A list item: the fields the table marks `summary`.
    Summary,
}

fn json_schema(v: Value) -> RefOr<Schema> {
    // The values built here are JSON Schema objects; utoipa's Schema reads
    // them back (its serde form is JSON Schema).
    serde_json::from_value::<Schema>(v.clone())
        .map(RefOr::T)
        .unwrap_or_else(|_| {
            RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .description(Some(v.to_string()))
                    .build(),
            ))
        })
}

/// The JSON Schema of a field kind.
pub fn kind_schema(kind: &Kind) -> Value {
    let string = |min: usize, max: usize| {
        let mut v = json!({"type": "string"});
        if min > 0 {
            v["minLength"] = json!(min);
        }
        if max > 0 {
            v["maxLength"] = json!(max);
        }
        v
    };
    match *kind {
        Kind::Str { min, max } | Kind::Name { min, max } => string(min, max),
        Kind::Email { max } => json!({"type": "string", "format": "email", "maxLength": max}),
        Kind::EmailList { max } => {
            json!({"type": "string", "description": format!("comma-separated e-mail addresses, at most {max}")})
        }
        Kind::Digits { min, max } => {
            json!({"type": "string", "pattern": format!("^[0-9]{{{min},{max}}}$")})
        }
        Kind::LowerAlnum { min, max } => {
            json!({"type": "string", "pattern": format!("^[a-z0-9]{{{min},{max}}}$")})
        }
        Kind::Code { len } => json!({"type": "string", "pattern": format!("^[A-Z]{{{len}}}$")}),
        Kind::TimeZone => {
            json!({"type": "string", "description": "an IANA time zone, e.g. Europe/Paris"})
        }
        Kind::LangTag => {
            json!({"type": "string", "description": "a BCP 47 language tag, e.g. en-US"})
        }
        Kind::DateTime => json!({"type": "string", "format": "date-time"}),
        Kind::Url { max } => json!({"type": "string", "format": "uri", "maxLength": max}),
        Kind::DiskQuota => json!({"type": "string", "pattern": "^([1-9][0-9]*(KB|MB|GB|TB|PB))?$"}),
        Kind::Mac => json!({"type": "string",
            "pattern": "^([0-9A-Fa-f]{12}|([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}|([0-9A-Fa-f]{2}-){5}[0-9A-Fa-f]{2})$"}),
        Kind::StrList { max_items, max_len } => json!({"type": "array", "maxItems": max_items,
            "items": {"type": "string", "minLength": 1, "maxLength": max_len}}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Int { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        Kind::Enum(values) => json!({"type": "string", "enum": values}),
        Kind::WeekHours { with_mode } => {
            let day = json!({"type": "object", "properties": {
                "enabled": {"type": "boolean"},
                "ranges": {"type": "array", "items": {"type": "object", "properties": {
                    "from": {"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}$"},
                    "to": {"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}$"}}}}}});
            let mut props = serde_json::Map::new();
            if with_mode {
                props.insert(
                    "mode".into(),
                    json!({"type": "string", "enum": field_tables::kinds::OFFICE_HOURS_MODES}),
                );
            }
            for d in field_tables::kinds::WEEKDAYS {
                props.insert(d.into(), day.clone());
            }
            json!({"type": "object", "properties": props})
        }
        Kind::ForwardRule { actions, timeout } => {
            let mut v = json!({"type": "object", "properties": {
                "action": {"type": "string", "enum": actions},
                "number": {"type": "string"}}});
            if timeout {
                v["properties"]["timeout"] = json!({"type": "integer"});
            }
            v
        }
        Kind::CustomForwardRules => json!({"type": "array", "items": {"type": "object"}}),
        Kind::CallerIds { preferred } => {
            let mut item = json!({"type": "object", "properties": {
                "provider_id": {"type": "string"}, "caller_id": {"type": "string"},
                "description": {"type": "string"}}});
            if preferred {
                item["properties"]["preferred"] = json!({"type": "boolean"});
            }
            json!({"type": "array", "items": item})
        }
        Kind::Blfs => json!({"type": "array", "items": {"type": "object", "properties": {
            "key": {"type": "string"}, "value": {"type": "string"},
            "first_name": {"type": "string"}, "last_name": {"type": "string"}}}}),
        Kind::Object(fields) | Kind::CheckedObject { fields, .. } => {
            fields_schema(fields, Direction::Create, &[])
        }
        Kind::JsonText => json!({"type": "string", "description": "JSON text (empty: none)"}),
        Kind::Secret { max } => {
            let mut v = string(0, max);
            v["writeOnly"] = json!(true);
            v
        }
        Kind::Accepted => json!({"type": "string"}),
        Kind::FileRef => {
            json!({"type": "string", "description": "The unique ID of a file of the tenant."})
        }
    }
}

/// An object schema of `fields` in `direction`, `skip` left out.
fn fields_schema(fields: &[Field], direction: Direction, skip: &[&str]) -> Value {
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    for f in fields {
        if skip.contains(&f.name) {
            continue;
        }
        let access = match direction {
            Direction::Create => f.access(Mode::Create),
            Direction::Update => f.access(Mode::Update),
            Direction::Response | Direction::Summary => FieldAccess::Optional,
        };
        let rendered = matches!(direction, Direction::Response | Direction::Summary);
        if (!rendered && access == FieldAccess::ReadOnly)
            || (rendered && f.kind.input_only())
            || (direction == Direction::Summary && !f.summary)
        {
            continue;
        }
        let mut v = match f.kind {
            // Rendered nested objects show their blanks as null, like the top level.
            Kind::Object(nested) | Kind::CheckedObject { fields: nested, .. } if rendered => {
                fields_schema(nested, Direction::Response, &[])
            }
            _ => kind_schema(&f.kind),
        };
        if f.nullable && direction != Direction::Create {
            if let Some(t) = v.get("type").cloned() {
                v["type"] = json!([t, "null"]);
            }
        }
        let default = f.default_value();
        if rendered {
            // A secret's default renders as null; a null default says nothing.
            let shown = field_tables::kinds::render_value(&f.kind, &default);
            if !shown.is_null() {
                v["default"] = shown;
            }
        }
        if access == FieldAccess::Required && direction == Direction::Create {
            required.push(f.name);
        }
        props.insert(f.name.to_owned(), v);
    }
    let mut v = json!({"type": "object", "properties": props});
    if !required.is_empty() {
        v["required"] = json!(required);
    }
    v
}

/// A resource's schema in `direction`: its core fields, then its table.
fn resource_schema(r: &Resource, direction: Direction) -> Value {
    let mut v = fields_schema(r.table.fields, direction, &[]);
    let mut core = serde_json::Map::new();
    let mut required: Vec<Value> = Vec::new();
    for (name, mut schema, req) in (r.core)() {
        let read_only = r.read_only.contains(&name);
        let write_only = r.write_only.contains(&name);
        match direction {
            Direction::Response | Direction::Summary if write_only => continue,
            Direction::Summary if r.not_listed.contains(&name) => continue,
            Direction::Create | Direction::Update if read_only => continue,
            Direction::Update if r.fixed.contains(&name) => continue,
            _ => {}
        }
        if write_only {
            schema["writeOnly"] = json!(true);
        }
        if req && direction == Direction::Create {
            required.push(json!(name));
        }
        core.insert(name.to_owned(), schema);
    }
    if let Some(props) = v["properties"].as_object() {
        for (k, x) in props {
            core.insert(k.clone(), x.clone());
        }
    }
    v["properties"] = Value::Object(core);
    if let Some(table_required) = v["required"].as_array() {
        required.extend(table_required.iter().cloned());
    }
    if required.is_empty() {
        if let Some(o) = v.as_object_mut() {
            o.remove("required");
        }
    } else {
        v["required"] = json!(required);
    }
    v
}

/// The update schema of a route that takes only `keys`.
fn restricted_schema(r: &Resource, keys: &[&str]) -> Value {
    let mut v = resource_schema(r, Direction::Update);
    if let Some(props) = v["properties"].as_object_mut() {
        props.retain(|k, _| keys.contains(&k.as_str()));
    }
    v
}

/// `UserSelfUpdate` for `/api/user`, `TenantSelfUpdate` for `/api/tenant`.
fn restricted_name(r: &Resource, _path: &str) -> String {
    format!("{}SelfUpdate", r.name)
}

fn component_name(r: &Resource, direction: Direction) -> String {
    match direction {
        Direction::Create => format!("{}Create", r.name),
        Direction::Update => format!("{}Update", r.name),
        Direction::Response => r.name.to_owned(),
        Direction::Summary => format!("{}Summary", r.name),
    }
}

/// The error body of a dialect.
fn error_schema(d: Dialect) -> (&'static str, Value) {
    match d {
        Dialect::Service | Dialect::PortSip => (
            "PortSipError",
            json!({"type": "object", "required": ["errors"], "properties": {
            "errors": {"type": "array", "items": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string", "description": "UPPER_SNAKE_CASE, e.g. VALIDATE_FAILED"},
                "message": {"type": "string"},
                "detail": {"description": "e.g. {field, reason} for validation errors"}}}}}}),
        ),
        Dialect::Voipappz => (
            "VoipappzError",
            json!({"type": "object", "properties": {
            "statusCode": {"type": "integer"}, "error": {"type": "string"}, "message": {"type": "string"},
            "code": {"type": "string"}, "field": {"type": "string"}}}),
        ),
        Dialect::UserExtensionsV1 => (
            "UserExtensionsV1Error",
            json!({"type": "object", "properties": {
            "success": {"type": "boolean", "enum": [false]}, "message": {"type": "string"},
            "data": {"type": "null"}, "metadata": {"type": "object", "properties": {
                "code": {"type": "string"}, "field": {"type": "string"}}}}}),
        ),
        Dialect::ClientUsers => (
            "ClientUsersError",
            json!({"type": "object", "properties": {
            "error": {"type": "object", "properties": {"code": {"type": "string"},
            "message": {"type": "string"}, "field": {"type": "string"}}}}}),
        ),
        Dialect::Etelecom => (
            "TwirpError",
            json!({"type": "object", "properties": {
            "code": {"type": "string"}, "msg": {"type": "string"}, "meta": {"type": "object"}}}),
        ),
    }
}

fn http_method(m: &Method) -> HttpMethod {
    match *m {
        Method::GET => HttpMethod::Get,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        _ => HttpMethod::Post,
    }
}

/// A stable operation id: method and path, e.g. `post_api_users_id_destroy`.
pub fn operation_id(r: &RouteSpec) -> String {
    let path: String = r
        .path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let mut id = format!("{}_{}", r.method.as_str().to_ascii_lowercase(), path);
    while id.contains("__") {
        id = id.replace("__", "_");
    }
    let id = id.trim_end_matches('_').to_owned();
    // `/client/{client_id}/user/extension/` and `.../extension` are two routes.
    if r.path.ends_with('/') && r.path.len() > 1 {
        format!("{id}_slash")
    } else {
        id
    }
}

fn access_text(a: Access) -> String {
    match a {
        Access::Public => "Public: no token.".into(),
        Access::SignedIn => "Any signed-in user (acts on the caller's own data, or checks \"yourself, or a capability\").".into(),
        Access::Needs(c) => format!("Needs the `{c:?}` capability."),
        Access::NeedsAny(cs) => format!("Needs any of: {}.", cs.iter().map(|c| format!("`{c:?}`")).collect::<Vec<_>>().join(", ")),
        Access::SystemAdmin => "The system administrator only.".into(),
    }
}

fn json_content(schema: RefOr<Schema>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn any_object() -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Object))
            .build(),
    ))
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn list_of(name: &str) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .property("count", ObjectBuilder::new().schema_type(Type::Integer))
            .property("items", ArrayBuilder::new().items(reference(name)))
            .required("count")
            .required("items")
            .build(),
    ))
}

/// The JSON Schema of a call history record (`records::fields`): every
/// field (`listed_only`: a list item's), with `id` for responses; for
/// ingestion (`report`) without `id`, with the required fields and the
/// ingestion-only ones.
fn record_schema(table: &RecordTable, listed_only: bool, report: bool, with_id: bool) -> Value {
    let mut props = serde_json::Map::new();
    if with_id {
        props.insert("id".into(), json!({"type": "string"}));
    }
    let mut required: Vec<&str> = Vec::new();
    for f in table
        .fields
        .iter()
        .filter(|f| !listed_only || f.listed)
        .filter(|f| !(report && f.read_only))
    {
        let schema = match f.kind {
            RecordKind::Text { min, max } => {
                json!({"type": "string", "minLength": min, "maxLength": max})
            }
            RecordKind::DateTime => json!({"type": "string", "format": "date-time"}),
            RecordKind::Int { min, max } => {
                json!({"type": "integer", "minimum": min, "maximum": max})
            }
            RecordKind::Number => json!({"type": "number"}),
            RecordKind::Enum(values) => json!({"type": "string", "enum": values}),
        };
        props.insert(f.name.into(), schema);
        if report && f.required {
            required.push(f.name);
        }
    }
    if report {
        if table.key_hidden {
            props.insert(
                table.key.into(),
                json!({"type": "string", "minLength": 1, "maxLength": 256,
                       "description": "the PBX's own id of the record: a repeat is answered 200 with the existing id"}),
            );
            required.push(table.key);
        }
        props.insert(
            "extension_numbers".into(),
            json!({"type": "array", "maxItems": MAX_EXTRA_NUMBERS, "items": {"type": "string", "minLength": 1, "maxLength": 64},
                   "description": "extension numbers the record also belongs to"}),
        );
        if table.resource == RECORDING_FIELDS.resource {
            props.insert(
                "file_id".into(),
                json!({"type": "string", "description": "the file the PBX uploaded the audio as (`/blobs/uploads`, may be temporary): the recording keeps it, and destroying the recording deletes it"}),
            );
            required.push("file_id");
        }
        return json!({"type": "object", "properties": props, "required": required, "additionalProperties": false});
    }
    json!({"type": "object", "properties": props})
}

/// Call history and waiting-list routes: (request body component, success
/// status, response schema).
fn record_route(route: &RouteSpec) -> Option<(Option<&'static str>, &'static str, RefOr<Schema>)> {
    let items_of = |name: &str| {
        json_schema(
            json!({"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}}}}),
        )
    };
    let id = || json_schema(json!({"type": "object", "properties": {"id": {"type": "string"}}}));
    Some(match (route.method.as_str(), route.path.as_str()) {
        ("GET", "/api/cdrs" | "/api/user/cdrs") => (None, "200", list_of("CdrSummary")),
        ("GET", "/api/cdrs/{id}") => (None, "200", items_of("Cdr")),
        ("GET", "/api/user/cdrs/{id}") => (
            None,
            "200",
            json_schema(
                json!({"type": "object", "properties": {"items": {"$ref": "#/components/schemas/Cdr"}}}),
            ),
        ),
        ("GET", "/api/external_messages" | "/api/user/external_messages") => {
            (None, "200", list_of("ExternalMessage"))
        }
        ("GET", "/api/external_messages/{id}" | "/api/user/external_messages/{id}") => {
            (None, "200", reference("ExternalMessage"))
        }
        ("POST", "/api/cdrs") => (Some("CdrReport"), "201", id()),
        ("POST", "/api/external_messages") => (Some("ExternalMessageReport"), "201", id()),
        ("GET", "/api/recordings" | "/api/user/recordings") => {
            (None, "200", list_of("RecordingSummary"))
        }
        ("GET", "/api/recordings/{id}" | "/api/user/recordings/{id}") => {
            (None, "200", items_of("Recording"))
        }
        ("POST", "/api/recordings") => (Some("RecordingReport"), "201", id()),
        ("GET", "/api/call_queues/{id}/waiting") => (
            None,
            "200",
            json_schema(
                json!({"type": "object", "properties": {"items": {"type": "array", "items": {
                "type": "object", "properties": {
                    "session_id": {"type": "string"},
                    "extension_number": {"type": "string", "minLength": 3, "maxLength": 65},
                    "display_name": {"type": "string"},
                    "waiting_time": {"type": "integer", "minimum": 0}}}}}}),
            ),
        ),
        ("POST", "/api/call_queues/{id}/waiting/{session_id}/pickup") => (None, "200", id()),
        ("POST", "/api/call_queues/{id}/waiting") => (
            Some("WaitingCallReport"),
            "201",
            json_schema(
                json!({"type": "object", "properties": {"session_id": {"type": "string"}}}),
            ),
        ),
        _ => return None,
    })
}

/// A running meeting's participant as `GET …/participants` shows it.
fn meeting_participant_schema() -> Value {
    json!({"type": "object", "properties": {
        "id": {"type": "string"}, "display_name": {"type": "string"},
        "muted": {"type": "boolean"}, "chairman": {"type": "boolean"},
        "position": {"type": "integer", "minimum": -1, "maximum": 8},
        "desired": {"type": "object", "description":
            "what was asked about the participant and is not so yet (empty: they agree)",
            "properties": {"muted": {"type": "boolean"},
                           "position": {"type": "integer", "minimum": -1, "maximum": 8},
                           "chairman": {"type": "boolean"},
                           "present": {"type": "boolean"}}}}})
}

/// The meeting schemas beside the `Meeting` resource (issue #17).
fn meeting_schemas() -> Vec<(&'static str, Value)> {
    let status = json!({"type": "string", "enum": ["ONLINE", "OFFLINE", "ON_CALL"]});
    vec![
        (
            "MeetingStatus",
            json!({"type": "object", "properties": {
                "status": status, "locked": {"type": "boolean"},
                "muted": {"type": "boolean"}, "recording": {"type": "boolean"},
                "desired": {"type": "object", "description":
                    "what was asked of the meeting and is not so yet (empty: they agree)",
                    "properties": {"status": status, "locked": {"type": "boolean"},
                                   "muted": {"type": "boolean"}, "recording": {"type": "boolean"},
                                   "layout": {"type": "array", "items": {"type": "string"}}}}}}),
        ),
        ("MeetingParticipant", meeting_participant_schema()),
        (
            "MeetingStateReport",
            json!({"type": "object", "required": ["status"], "additionalProperties": false,
                "description": "the actual state of a meeting, as the media server reports it \
                    (replaces the previous report; the same report again writes nothing)",
                "properties": {
                "status": status, "locked": {"type": "boolean"},
                "muted": {"type": "boolean"}, "recording": {"type": "boolean"},
                "sequence": {"type": "integer", "minimum": 0, "description":
                    "the media server's counter of its reports of this meeting: a report at or \
                     below the last recorded is stale and writes nothing"},
                "participants": {"type": "array", "maxItems": 200, "items": {
                    "type": "object", "required": ["id"], "additionalProperties": false,
                    "properties": {
                        "id": {"type": "string", "minLength": 1, "maxLength": 64,
                               "not": {"enum": ["layout", "invite"]}},
                        "display_name": {"type": "string", "maxLength": 128},
                        "muted": {"type": "boolean"}, "chairman": {"type": "boolean"},
                        "position": {"type": "integer", "minimum": -1, "maximum": 8},
                        "extension_number": {"type": "string", "pattern": "^[0-9]{1,64}$",
                            "description": "the tenant extension the participant joined from"}}}}}}),
        ),
    ]
}

/// Meeting routes with their own shapes: (request body component, response
/// schema), answered 200.
fn meeting_route(route: &RouteSpec) -> Option<(Option<&'static str>, RefOr<Schema>)> {
    let base = "/api/user/meetings/{id}";
    let path = route.path.as_str();
    Some(match (route.method.as_str(), path.strip_prefix(base)) {
        ("GET", Some("/status")) => (None, reference("MeetingStatus")),
        ("GET", Some("/participants")) => (
            None,
            json_schema(
                json!({"type": "object", "properties": {"items": {"type": "array",
                "items": {"$ref": "#/components/schemas/MeetingParticipant"}}}}),
            ),
        ),
        ("GET", Some("/participants/{participant_id}")) => (None, reference("MeetingParticipant")),
        _ if route.method == Method::POST && path == "/api/meetings/{id}/state" => (
            Some("MeetingStateReport"),
            json_schema(json!({"type": "object", "properties": {
                "id": {"type": "string"},
                "recorded": {"type": "boolean", "description": "false: the same as the last report, nothing written"}}})),
        ),
        _ => return None,
    })
}

/// Builds the document from the route table and the field tables.
pub fn document() -> OpenApi {
    let mut components = ComponentsBuilder::new().security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An access token from POST /api/auth/sign_in (all dialects use it).",
                ))
                .build(),
        ),
    );
    for r in RESOURCES.iter() {
        for d in [
            Direction::Create,
            Direction::Update,
            Direction::Response,
            Direction::Summary,
        ] {
            components =
                components.schema(component_name(r, d), json_schema(resource_schema(r, d)));
        }
    }
    for r in RESOURCES.iter() {
        for (path, keys) in &r.restricted {
            components = components.schema(
                restricted_name(r, path),
                json_schema(restricted_schema(r, keys)),
            );
        }
    }
    for d in Dialect::ALL {
        let (name, schema) = error_schema(d);
        components = components.schema(name, json_schema(schema));
    }
    components = components.schema(
        "ImportReport",
        json_schema(json!({"type": "object", "properties": {
            "dry_run": {"type": "boolean"}, "batch_size": {"type": "integer"},
            "rows": {"type": "integer"}, "imported": {"type": "integer"},
            "valid": {"type": "integer"}, "batches_committed": {"type": "integer"},
            "failed_batch": {"type": ["object", "null"], "properties": {
                "first_row": {"type": "integer"}, "last_row": {"type": "integer"}}},
            "errors": {"type": "array", "items": {"type": "object", "properties": {
                "row": {"type": "integer"}, "line": {"type": "integer"},
                "column": {"type": "string"}, "code": {"type": "string"},
                "message": {"type": "string"}}}}}})),
    );
    components = components.schema(
        "WaitingCallReport",
        json_schema(json!({"type": "object", "additionalProperties": false,
            "required": ["session_id", "extension_number"], "properties": {
            "session_id": {"type": "string", "minLength": 1, "maxLength": 128,
                           "description": "the PBX's own id of the call in the queue: a repeat is answered 200 and writes nothing"},
            "extension_number": {"type": "string", "pattern": "^\\+?[0-9]{3,64}$"},
            "display_name": {"type": "string", "maxLength": 256},
            "waiting_since": {"type": "string", "format": "date-time",
                              "description": "when the caller started waiting (default: now)"}}})),
    );
    // PortSIP's CDR details carry no `id` (the caller asked by it); its
    // message details do.
    for (name, table, listed_only, report, with_id) in [
        ("Cdr", &CDR_FIELDS, false, false, false),
        ("CdrSummary", &CDR_FIELDS, true, false, true),
        ("CdrReport", &CDR_FIELDS, false, true, false),
        ("ExternalMessage", &MESSAGE_FIELDS, false, false, true),
        ("ExternalMessageReport", &MESSAGE_FIELDS, false, true, false),
        ("Recording", &RECORDING_FIELDS, false, false, false),
        ("RecordingSummary", &RECORDING_FIELDS, true, false, true),
        ("RecordingReport", &RECORDING_FIELDS, false, true, false),
    ] {
        components = components.schema(
            name,
            json_schema(record_schema(table, listed_only, report, with_id)),
        );
    }
    for (name, schema) in meeting_schemas() {
        components = components.schema(name, json_schema(schema));
    }
    let mut paths = Paths::new();
    for route in route_table() {
        let op = operation(&route);
        paths.add_path_operation(route.path.clone(), vec![http_method(&route.method)], op);
    }
    let tags = Dialect::ALL
        .iter()
        .map(|d| {
            let (name, text) = tag(*d);
            TagBuilder::new().name(name).description(Some(text)).build()
        })
        .collect::<Vec<_>>();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("switchboard")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Every route switchboard serves, in every dialect, generated from its route \
                     table and field tables. Errors answer in each dialect's own shape. See the \
                     README for lists (filter, search, orderby, skip, top), sync tokens and the \
                     differences from PortSIP's own v22 definitions.",
                ))
                .build(),
        )
        .servers(Some(vec![ServerBuilder::new().url("/").build()]))
        .tags(Some(tags))
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

fn operation(route: &RouteSpec) -> utoipa::openapi::path::Operation {
    let (tag_name, _) = tag(route.dialect);
    let (error_name, _) = error_schema(route.dialect);
    let mut op = OperationBuilder::new()
        .operation_id(Some(operation_id(route)))
        .tag(tag_name)
        .summary(Some(format!(
            "{} {} ({})",
            route.method,
            route.path,
            match route.effect {
                Effect::Read => "reads",
                Effect::Write => "writes",
                Effect::OwnSession => "ends the caller's own session",
            }
        )))
        .description(Some(access_text(route.access)));
    for p in route.params() {
        op = op.parameter(
            ParameterBuilder::new()
                .name(p)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        );
    }
    if route.access != Access::Public {
        op = op.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
    }
    let resource = if route.dialect == Dialect::PortSip {
        resource_of(&route.path)
    } else {
        None
    };
    // An item route ends with its item parameter, whatever its name
    // (`/users/{id}/phones/{phone_id}`).
    let item_route =
        route.path.ends_with('}') || route.path == "/api/user" || route.path == "/api/tenant";
    let mut responses = ResponsesBuilder::new();
    let (ok_status, ok_body) = match (resource, &route.method, item_route) {
        (Some(r), &Method::GET, false) => {
            ("200", Some(list_of(&component_name(r, Direction::Summary))))
        }
        (Some(r), &Method::GET, true) => ("200", Some(reference(r.name))),
        (Some(_), &Method::POST, false) => (
            "201",
            Some(json_schema(
                json!({"type": "object", "properties": {"id": {"type": "string"}}}),
            )),
        ),
        _ => ("200", Some(any_object())),
    };
    let done = || {
        ResponseBuilder::new()
            .description("done")
            .content(
                "application/json",
                json_content(ok_body.clone().unwrap_or_else(any_object)),
            )
            .build()
    };
    // Call history and meeting routes: their own bodies and answers (a
    // call history report may also answer 200 for a repeat).
    let special = record_route(route)
        .map(|(body, status, schema)| (body, status, schema, true))
        .or_else(|| meeting_route(route).map(|(body, schema)| (body, "200", schema, false)));
    match (route.path.as_str(), resource, &route.method, item_route) {
        _ if special.is_some() => {
            if let Some((body, status, schema, repeat)) = special {
                if let Some(name) = body {
                    op = op.request_body(Some(
                        RequestBodyBuilder::new()
                            .content("application/json", json_content(reference(name)))
                            .required(Some(Required::True))
                            .build(),
                    ));
                    if repeat {
                        responses = responses.response(
                            "200",
                            ResponseBuilder::new()
                                .description("already reported: the existing id, nothing written")
                                .content("application/json", json_content(schema.clone()))
                                .build(),
                        );
                    }
                }
                responses = responses.response(
                    status,
                    ResponseBuilder::new()
                        .description("done")
                        .content("application/json", json_content(schema))
                        .build(),
                );
            }
        }
        ("/api/users/import", _, _, _) => {
            let body = RequestBodyBuilder::new()
                .description(Some(
                    "CSV (header of API field names; password_hash, extension_password_hash and \
                     voicemail_pin_hash take PHC hashes) or JSON Lines (one user object per line).",
                ))
                .content(
                    "text/csv",
                    ContentBuilder::new()
                        .schema(Some(RefOr::T(Schema::Object(
                            ObjectBuilder::new().schema_type(Type::String).build(),
                        ))))
                        .build(),
                )
                .content(
                    "application/x-ndjson",
                    json_content(reference("UserCreate")),
                )
                .required(Some(Required::True))
                .build();
            op = op
                .request_body(Some(body))
                .parameter(query("format", "csv or jsonl (else from the Content-Type)"))
                .parameter(query("dry_run", "true: check every row, write nothing"))
                .parameter(query(
                    "batch_size",
                    "rows per all-or-nothing batch (1 to 2000, default 500)",
                ));
            responses = responses.response(
                "200",
                ResponseBuilder::new()
                    .description("every row imported (or, in a dry run, valid)")
                    .content("application/json", json_content(reference("ImportReport")))
                    .build(),
            );
        }
        ("/api/users/export", _, _, _) => {
            op = op
                .parameter(query("format", "csv (default) or jsonl"))
                .parameter(query("filter", "a list filter expression"))
                .parameter(query("search", "free-text search"));
            responses = responses.response(
                "200",
                ResponseBuilder::new()
                    .description("the matching users, in creation order, secrets never included")
                    .content("text/csv", ContentBuilder::new().build())
                    .content("application/x-ndjson", json_content(reference("User")))
                    .build(),
            );
        }
        (p, _, _, _) if settings_route(p).is_some() => {
            if let Some(r) = settings_route(p) {
                let (status, answer) = if route.method == Method::POST {
                    if let Some(b) = r.post_body {
                        op = op.request_body(Some(
                            RequestBodyBuilder::new()
                                .content("application/json", json_content(json_schema(b)))
                                .required(Some(Required::True))
                                .build(),
                        ));
                    }
                    (r.post_status, r.post_answer)
                } else {
                    ("200", r.get_answer)
                };
                let mut done = ResponseBuilder::new().description("done");
                if let Some(a) = answer {
                    done = done.content("application/json", json_content(json_schema(a)));
                }
                responses = responses.response(status, done.build());
            }
        }
        (p, _, _, _) if p.starts_with("/api/blobs/") => {
            let (o, r) = blob_operation(route, op, responses);
            op = o;
            responses = r;
        }
        (_, Some(r), &Method::POST, item) if route.effect == Effect::Write => {
            let direction = if item {
                Direction::Update
            } else {
                Direction::Create
            };
            let name = match r.restricted.iter().find(|(p, _)| *p == route.path) {
                Some((p, _)) => restricted_name(r, p),
                None => component_name(r, direction),
            };
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", json_content(reference(&name)))
                    .required(Some(Required::True))
                    .build(),
            ));
            responses = responses.response(ok_status, done());
        }
        _ => {
            if route.method != Method::GET {
                op = op.request_body(Some(
                    RequestBodyBuilder::new()
                        .description(Some("see the dialect's documentation"))
                        .content("application/json", json_content(any_object()))
                        .build(),
                ));
            }
            responses = responses.response(ok_status, done());
        }
    }
    let error = |text: &str| {
        ResponseBuilder::new()
            .description(text)
            .content("application/json", json_content(reference(error_name)))
            .build()
    };
    if route.access != Access::Public {
        responses = responses
            .response("401", error("no valid access token"))
            .response("403", error("the caller's role does not allow this"));
    }
    responses = responses.response("4XX", error("a refused request (400 names the field)"));
    op.responses(responses.build()).build()
}

/// How [`settings_route`] describes a route (JSON Schemas).
struct SettingsRoute {
    /// The POST's request body.
    post_body: Option<Value>,
    /// The POST's success status.
    post_status: &'static str,
    /// The POST's answer.
    post_answer: Option<Value>,
    /// The GET's answer.
    get_answer: Option<Value>,
}

/// A user's settings routes that are no declared collection's (issue #16:
/// global holidays, outbound caller ids, balance, Microsoft 365 binding),
/// as PortSIP's definitions give them; the balance's `currency` and
/// `reason` are switchboard's additions.
fn settings_route(path: &str) -> Option<SettingsRoute> {
    let money = json!({"type": "number", "format": "double",
                       "description": "Exact to five decimals; below 10000000000 in magnitude."});
    let balance = json!({"type": "object", "properties": {"balance": money}});
    let items = |item: Value| json!({"type": "object", "properties": {"items": {"type": "array", "items": item}}});
    let get = |answer: Value| SettingsRoute {
        post_body: None,
        post_status: "200",
        post_answer: None,
        get_answer: Some(answer),
    };
    Some(match path {
        "/api/user/balance" => get(balance),
        "/api/users/{id}/balance" => SettingsRoute {
            post_body: Some(
                json!({"type": "object", "required": ["balance"], "properties": {
                "balance": money,
                "currency": {"type": "string", "description": "The tenant's currency (nothing is converted)."},
                "reason": {"type": "string", "maxLength": 255}}}),
            ),
            post_status: "200",
            post_answer: None,
            get_answer: Some(balance),
        },
        "/api/users/{id}/balance/history" => {
            let item = json!({"type": "object", "properties": {
                "id": {"type": "string"}, "sequence": {"type": "integer"},
                "amount": money, "balance": money, "currency": {"type": "string"},
                "reason": {"type": ["string", "null"]}, "actor_id": {"type": ["string", "null"]},
                "created_at": {"type": "string", "format": "date-time"}}});
            get(
                json!({"type": "object", "required": ["count", "items"], "properties": {
                "count": {"type": "integer"}, "items": {"type": "array", "items": item}}}),
            )
        }
        "/api/users/{id}/ms365_binding" => SettingsRoute {
            post_body: Some(
                json!({"type": "object", "required": ["id"], "properties": {"id": {
                "type": "string",
                "description": "The `OID` or `Principal Name` of Microsoft 365 user."}}}),
            ),
            post_status: "200",
            post_answer: None,
            get_answer: None,
        },
        "/api/users/{id}/ms365_binding/destroy" => SettingsRoute {
            post_body: None,
            post_status: "204",
            post_answer: None,
            get_answer: None,
        },
        "/api/user/global_holidays" | "/api/users/{id}/global_holidays" => SettingsRoute {
            post_body: Some(items(
                json!({"type": "string", "description": "The unique ID of a tenant holiday."}),
            )),
            post_status: "201",
            post_answer: Some(json!({"type": "object", "properties": {"id": {"type": "string"}}})),
            get_answer: Some(items(json!({"$ref": "#/components/schemas/Holiday"}))),
        },
        "/api/user/outbound_caller_ids" => get(items(json!({"type": "object", "properties": {
            "provider_id": {"type": "string"}, "caller_id": {"type": "string"},
            "description": {"type": ["string", "null"]}}}))),
        _ => return None,
    })
}

/// The file store's routes: octet-stream bodies, the upload headers, and
/// the status codes PortSIP's definitions give them.
fn blob_operation(
    route: &RouteSpec,
    mut op: OperationBuilder,
    responses: ResponsesBuilder,
) -> (OperationBuilder, ResponsesBuilder) {
    let string = || ObjectBuilder::new().schema_type(Type::String).build();
    let header = |text: &str| {
        utoipa::openapi::HeaderBuilder::new()
            .schema(string())
            .description(Some(text))
            .build()
    };
    let upload_headers = |r: ResponseBuilder| {
        r.header("PortSIP-Upload-ID", header("the upload's UUID"))
            .header("PortSIP-Upload-Token", header("the upload's token"))
            .header(
                "Range",
                header("bytes received: 0-<last byte> (0-0 before any)"),
            )
    };
    let in_header = |name: &str, required: bool, text: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(if required {
                Required::True
            } else {
                Required::False
            })
            .description(Some(text))
            .schema(Some(string()))
            .build()
    };
    let octets = |text: &str| {
        RequestBodyBuilder::new()
            .description(Some(text))
            .content(
                "application/octet-stream",
                ContentBuilder::new()
                    .schema(Some(RefOr::T(Schema::Object(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                                utoipa::openapi::KnownFormat::Binary,
                            )))
                            .build(),
                    ))))
                    .build(),
            )
            .build()
    };
    let token = || in_header("PortSIP-Upload-Token", true, "the upload's token");
    let (code, response) = match route.path.as_str() {
        "/api/blobs/uploads" => {
            op = op
                .parameter(query("filename", "the file's name"))
                .parameter(query(
                    "temporary",
                    "true: collected once nothing references it",
                ));
            (
                "202",
                upload_headers(ResponseBuilder::new().description("upload begun")),
            )
        }
        "/api/blobs/uploads/{id}/append" => {
            op = op
                .parameter(token())
                .parameter(in_header(
                    "Content-Range",
                    false,
                    "<start>-<end>: where the bytes go (must be where the upload ends)",
                ))
                .request_body(Some(octets("the next bytes")));
            (
                "203",
                upload_headers(ResponseBuilder::new().description("bytes appended and synced")),
            )
        }
        "/api/blobs/uploads/{id}/status" => (
            "204",
            upload_headers(ResponseBuilder::new().description("how much arrived")),
        ),
        "/api/blobs/uploads/{id}/complete" => {
            op = op
                .parameter(token())
                .parameter(query(
                    "digest",
                    "sha256:<hex> or <hex> of the whole content",
                ))
                .request_body(Some(octets("the last bytes, if any")));
            (
                "201",
                ResponseBuilder::new().description("the file").content(
                    "application/json",
                    json_content(json_schema(
                        json!({"type": "object", "properties": {"id": {"type": "string"}}}),
                    )),
                ),
            )
        }
        "/api/blobs/{digest}" => (
            "200",
            ResponseBuilder::new()
                .description("the bytes")
                .header(
                    "Content-Disposition",
                    header("attachment; filename=\"<the file's name>\""),
                )
                .content("application/octet-stream", ContentBuilder::new().build()),
        ),
        _ => ("204", ResponseBuilder::new().description("done")),
    };
    (op, responses.response(code, response.build()))
}

fn query(name: &str, text: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(text))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

/// The differences between the PortSIP part of [`document`] and PortSIP's
/// own v22 definitions in `spec/`, one line each, sorted: routes served
/// beyond the spec, and for operations both describe, request and response
/// fields or enum values one has and the other lacks. The README lists
/// them (a test keeps that list equal to this one).
#[cfg(test)]
pub(crate) fn portsip_differences(doc: &Value) -> Vec<String> {
    use crate::field_tables::spec::{body, flatten, load, props};
    let specs = [
        load("portsip-users-openapi.json"),
        load("portsip-companion-openapi.json"),
    ];
    let mut out = Vec::new();
    let ours = doc["paths"].as_object().cloned().unwrap_or_default();
    for route in route_table() {
        if route.dialect != Dialect::PortSip {
            continue;
        }
        let method = route.method.as_str().to_ascii_lowercase();
        let spec_path = route.path.trim_start_matches("/api").to_owned();
        let Some(spec) = specs
            .iter()
            .find(|s| !s["paths"][&spec_path][&method].is_null())
        else {
            out.push(format!(
                "{} {}: served, not in PortSIP's definitions",
                route.method, route.path
            ));
            continue;
        };
        let op = &ours[&route.path][&method];
        let resolve = |v: &Value| -> Value {
            match v["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                Some(name) => doc["components"]["schemas"][name].clone(),
                None => v.clone(),
            }
        };
        let mut compare = |what: &str, mine: Value, theirs: Value| {
            let (mine, theirs) = (flatten(&mine), flatten(&theirs));
            let (m, t) = (props(&mine), props(&theirs));
            if m.is_empty() || t.is_empty() {
                return;
            }
            for p in t.iter().filter(|p| !m.contains(p)) {
                out.push(format!(
                    "{} {}: {what} field `{p}` not served",
                    route.method, route.path
                ));
            }
            for p in m.iter().filter(|p| !t.contains(p)) {
                out.push(format!(
                    "{} {}: {what} field `{p}` is switchboard's own",
                    route.method, route.path
                ));
            }
            for p in m.iter().filter(|p| t.contains(p)) {
                let enum_of = |s: &Value| -> Vec<String> {
                    let f = flatten(&s["properties"][p]);
                    let mut v: Vec<String> = f["enum"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    v.sort();
                    v
                };
                let (me, te) = (enum_of(&mine), enum_of(&theirs));
                if !me.is_empty() && !te.is_empty() && me != te {
                    out.push(format!(
                        "{} {}: {what} field `{p}` enum {me:?} (PortSIP: {te:?})",
                        route.method, route.path
                    ));
                }
            }
        };
        let spec_op = &spec["paths"][&spec_path][&method];
        let json_body = &spec_op["requestBody"]["content"]["application/json"];
        if !json_body.is_null() && route.method != Method::GET {
            let mine = resolve(&op["requestBody"]["content"]["application/json"]["schema"]);
            compare("request", mine, body(spec, &spec_path, &method));
        }
        if route.method == Method::GET {
            let mine = resolve(&op["responses"]["200"]["content"]["application/json"]["schema"]);
            let theirs =
                flatten(&spec_op["responses"]["200"]["content"]["application/json"]["schema"]);
            // A list answers {count, items}: compare the items.
            let (mine, theirs) = match (
                mine["properties"]["items"].clone(),
                theirs["properties"]["items"].clone(),
            ) {
                (Value::Object(m), Value::Object(t)) => match (m.get("items"), t.get("items")) {
                    (Some(mi), Some(ti)) => (resolve(mi), ti.clone()),
                    // `{items: object}` (PortSIP's `GET /user/cdrs/{id}`).
                    _ => (resolve(&Value::Object(m)), Value::Object(t)),
                },
                _ => (mine, theirs),
            };
            compare("response", mine, theirs);
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        serde_json::from_str(&DOCUMENT).expect("the document is JSON")
    }

    #[test]
    fn every_declared_route_is_described_with_its_method_and_parameters() {
        let doc = doc();
        assert_eq!(doc["openapi"], "3.1.0");
        let table = route_table();
        let mut operations = 0;
        for r in &table {
            let op = &doc["paths"][&r.path][r.method.as_str().to_ascii_lowercase()];
            assert!(op.is_object(), "{} {} is missing", r.method, r.path);
            let params: Vec<&str> = op["parameters"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(params, r.params(), "{} {}", r.method, r.path);
            assert_eq!(
                op["security"].is_array(),
                r.access != Access::Public,
                "{} {}",
                r.method,
                r.path
            );
            operations += 1;
        }
        let described: usize = doc["paths"]
            .as_object()
            .expect("paths")
            .values()
            .map(|item| {
                item.as_object().map_or(0, |m| {
                    m.keys().filter(|k| k.as_str() != "parameters").count()
                })
            })
            .sum();
        assert_eq!(
            described, operations,
            "nothing described that is not served"
        );
    }

    #[test]
    fn field_table_schemas_survive_the_model_unchanged() {
        for r in RESOURCES.iter() {
            for d in [
                Direction::Create,
                Direction::Update,
                Direction::Response,
                Direction::Summary,
            ] {
                let v = resource_schema(r, d);
                let back = serde_json::to_value(json_schema(v.clone())).expect("serializes");
                assert_eq!(back, v, "{}", component_name(r, d));
            }
        }
    }

    #[test]
    fn the_user_schemas_follow_the_user_table() {
        let doc = doc();
        let create = &doc["components"]["schemas"]["UserCreate"];
        let required: Vec<&str> = create["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for f in [
            "name",
            "role",
            "extension_number",
            "password",
            "email",
            "display_name",
        ] {
            assert!(required.contains(&f), "{f} required on create");
        }
        let user = &doc["components"]["schemas"]["User"]["properties"];
        assert!(user["password"].is_null(), "secrets are never rendered");
        assert_eq!(user["id"]["type"], "string");
        assert_eq!(
            doc["paths"]["/api/users/{id}"]["post"]["requestBody"]["content"]["application/json"]
                ["schema"]["$ref"],
            "#/components/schemas/UserUpdate"
        );
    }

    #[test]
    fn the_differences_from_portsip_are_the_ones_the_readme_lists() {
        let found = portsip_differences(&doc());
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let block = readme
            .split("<!-- openapi-differences:begin -->")
            .nth(1)
            .and_then(|rest| rest.split("<!-- openapi-differences:end -->").next())
            .unwrap_or("");
        let listed: Vec<String> = block
            .lines()
            .filter_map(|l| l.strip_prefix("- "))
            .map(|l| l.replace('`', "").trim().to_owned())
            .collect();
        let found_plain: Vec<String> = found.iter().map(|l| l.replace('`', "")).collect();
        assert_eq!(
            listed,
            found_plain,
            "README's list of differences from PortSIP is stale; the list is:\n{}",
            found
                .iter()
                .map(|l| format!("- {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
