//! The PortSIP field tables: every attribute of a PortSIP resource declared
//! once (kind, limits, enum values, default, access, list flags).
//!
//! # Design
//!
//! PortSIP resources carry dozens of attributes (a user has ~50, a tenant
//! ~60). Every attribute is described exactly **once**, as a [`Field`] in a
//! static [`Table`] (see [`user::USER`], [`tenant::TENANT`], [`group::GROUP`]).
//! Everything else is derived from that single description:
//!
//! * **request validation** — [`Table::validate`] checks a JSON body for
//!   create or update, producing normalized [`Fields`] ready to be put in an
//!   event;
//! * **response rendering** — [`Table::render`] turns stored [`Fields`] into
//!   the JSON representation (full or list summary), filling in defaults;
//! * **update diffs** — [`Table::diff`] keeps only the attributes whose
//!   *effective* value (stored value or default) really changes, so no-op
//!   updates produce no event;
//! * **list/filter metadata** — [`Table::list_fields`] and
//!   [`Table::search_fields`] tell the list endpoints which attributes can be
//!   filtered/ordered and which are searched.
//!
//! Typed "core" attributes that the caller keeps in its own state (ids,
//! names, roles, extension numbers, creation time) and secrets (passwords,
//! PINs) are deliberately **not** in the tables: the caller passes their names
//! in `skip` to [`Table::validate`], renders them itself, and builds its list
//! schema as "core list fields + table list fields" (see e.g.
//! [`user::USER_CORE_LIST`]).
//!
//! # Storage model
//!
//! Events store only what a client actually set. Defaults are applied when
//! reading ([`Table::render`], [`Table::effective`]), never stored, so a
//! default can be changed without rewriting history. A stored
//! [`Value::Null`] means "cleared back to the default". Nested objects
//! ([`Kind::Object`]) follow the same rule for their own sub-fields.
//!
//! # Decisions
//!
//! * **No trimming.** Strings are stored exactly as sent. Kinds whose values
//!   are names ([`Kind::Name`], e.g. `display_name`) *reject* leading or
//!   trailing whitespace instead of silently fixing it; codes, e-mail
//!   addresses, numbers etc. are rejected by their own shape checks.
//! * **Lengths** are counted in Unicode scalar values (`chars()`), not bytes.
//! * **Nested objects and lists are replaced wholesale** by an update (no deep
//!   merge); unknown nested keys are rejected just like unknown top-level
//!   fields.
//! * **Nulls**: `null` is accepted only for `nullable` fields and means
//!   "clear back to the default". On create a `null` is simply dropped (it is
//!   the same as leaving the field out); on update it is returned as
//!   [`Value::Null`] so the change can be recorded. Inside nested objects a
//!   `null` sub-field is dropped (the object is replaced wholesale anyway).
//! * **Write-only secrets** ([`Kind::Secret`]) are stored but rendered as
//!   `null`. Because clients commonly send back what they read, a `null` for
//!   a secret is ignored (keeps the stored secret); an empty string clears it.
//! * See [`kinds`] for office hours, forward rules and the other structured
//!   kinds.

pub mod contact;
pub mod group;
pub mod holiday;
pub mod kinds;
pub mod meeting;
pub mod phone;
pub mod queue;
pub mod speed_dial;
pub mod tenant;
pub mod user;
pub mod value;
pub mod vendor_user;

pub use value::{Fields, Value};

use serde_json::{Map, Number, Value as Json};
use switchboard_events::{FieldSet, ValueRef};

/// Whether a field may, must, or must not be sent in a given [`Mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Must be present and non-null.
    Required,
    /// May be present.
    Optional,
    /// Must not be sent: set by the service (or never set); rejected with
    /// "is read-only".
    ReadOnly,
}

/// The type and constraints of a field's value. Each variant knows how to
/// validate and normalize a JSON value (see [`kinds`]).
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A string of `min..=max` characters (`max` 0 = unlimited).
    Str {
        /// Minimum length in characters.
        min: usize,
        /// Maximum length in characters; 0 = unlimited.
        max: usize,
    },
    /// A human-facing name: like [`Kind::Str`], but leading/trailing
    /// whitespace is rejected (never trimmed).
    Name {
        /// Minimum length in characters.
        min: usize,
        /// Maximum length in characters; 0 = unlimited.
        max: usize,
    },
    /// An e-mail address: one `@`, non-empty local and domain parts, no
    /// whitespace, at most `max` characters.
    Email {
        /// Maximum length in characters.
        max: usize,
    },
    /// A comma-separated list of e-mail addresses (blank allowed), at most
    /// `max` entries; whitespace around entries is allowed.
    EmailList {
        /// Maximum number of addresses.
        max: usize,
    },
    /// A string made only of ASCII digits, `min..=max` of them (the spec's
    /// `[0-9]{min,max}`, applied to the whole string).
    Digits {
        /// Minimum number of digits.
        min: usize,
        /// Maximum number of digits.
        max: usize,
    },
    /// A string of `min..=max` lowercase ASCII letters or digits (the spec's
    /// `[a-z0-9]{min,max}`, applied to the whole string).
    LowerAlnum {
        /// Minimum length.
        min: usize,
        /// Maximum length.
        max: usize,
    },
    /// Exactly `len` uppercase ASCII letters (ISO 4217 currency, ISO 3166-1
    /// alpha-3 region).
    Code {
        /// Required length.
        len: usize,
    },
    /// An IANA time zone name such as `Asia/Shanghai` or `UTC` (shape check
    /// only; the zone database is not consulted).
    TimeZone,
    /// A BCP 47 language tag such as `en-US` (shape check only).
    LangTag,
    /// An RFC 3339 date-time such as `2017-07-21T17:32:28Z`, stored in UTC
    /// to the second (PortSIP's `date_time` format).
    DateTime,
    /// An absolute `http://` or `https://` URL of at most `max` characters.
    Url {
        /// Maximum length in characters.
        max: usize,
    },
    /// A disk quota: empty (unlimited) or a positive integer followed by
    /// `KB`, `MB`, `GB`, `TB` or `PB`, e.g. `100MB`.
    DiskQuota,
    /// A MAC address: six pairs of hex digits, separated by `:` or `-`
    /// (one separator throughout) or not at all (`001A2B3C4D5E`). Stored as
    /// sent.
    Mac,
    /// A list of at most `max_items` strings of 1 to `max_len` characters
    /// each (a phone's codecs, in order of preference).
    StrList {
        /// Most items.
        max_items: usize,
        /// Longest item, in characters.
        max_len: usize,
    },
    /// A JSON boolean.
    Bool,
    /// A JSON integer in `min..=max`.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// One of the listed strings (exact, case-sensitive).
    Enum(&'static [&'static str]),
    /// Weekly hours: `{mode?, monday..sunday: {enabled, ranges: [{from, to}]}}`.
    WeekHours {
        /// Whether the `mode` key (`GLOBAL`|`CUSTOM`) is allowed.
        with_mode: bool,
    },
    /// A call forward rule `{action, number, timeout?}`.
    ForwardRule {
        /// The actions this rule accepts.
        actions: &'static [&'static str],
        /// Whether the rule has a ringing `timeout`.
        timeout: bool,
    },
    /// The user's list of custom forward rules.
    CustomForwardRules,
    /// A list of outbound caller IDs
    /// `[{provider_id, caller_id, preferred?, description}]`.
    CallerIds {
        /// Whether items carry the `preferred` flag.
        preferred: bool,
    },
    /// A list of BLF keys `[{key, value, first_name, last_name}]`.
    Blfs,
    /// A nested object described by its own field table (sub-fields use their
    /// `create` access and may have defaults).
    Object(&'static [Field]),
    /// Like [`Kind::Object`], plus a cross-field check run on the normalized
    /// nested fields. The check reports paths relative to the object.
    CheckedObject {
        /// The nested field table.
        fields: &'static [Field],
        /// Cross-field rule; errors are prefixed with the object's path.
        check: fn(&Fields) -> Result<(), FieldError>,
    },
    /// A string that must parse as JSON (the empty string is also accepted,
    /// meaning "no options").
    JsonText,
    /// A write-only string of at most `max` characters (0 = unlimited):
    /// stored, but always rendered as `null`. `null` on input keeps the stored
    /// value; `""` clears it.
    Secret {
        /// Maximum length in characters; 0 = unlimited.
        max: usize,
    },
    /// Accepted on input (validated as a string) but neither stored nor
    /// rendered, e.g. `avatar_file_id`, which the caller may read from the
    /// raw body itself.
    Accepted,
    /// A file of the tenant, sent as its id (a string) and stored as the id
    /// (an integer), like a call queue's `moh_prompt_file_id`. Not rendered:
    /// PortSIP shows the file's `*_file_name/size/url` instead, which the
    /// resource's reader fills in. That the file exists and may be used is
    /// the command's decision (`commands::files::prompt_file`).
    FileRef,
}

impl Kind {
    /// Whether a field of this kind is left out of renderings (and so of
    /// lists, summaries, exports and response schemas): input only.
    pub fn input_only(&self) -> bool {
        matches!(self, Kind::Accepted | Kind::FileRef)
    }
}

/// The value a field has when nothing (or `null`) is stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    /// Rendered as JSON `null`.
    Null,
    /// A boolean default.
    Bool(bool),
    /// An integer default.
    Int(i64),
    /// A string default.
    Str(&'static str),
    /// An empty list.
    EmptyList,
    /// For [`Kind::Object`]/[`Kind::CheckedObject`]: the object made of the
    /// nested table's own defaults.
    Nested,
}

/// How a field is exposed to the list endpoints' `filter`/`orderby`; mirrors
/// the query engine's field types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// Compared as a string.
    String,
    /// Compared as a number.
    Number,
    /// Compared as a boolean.
    Bool,
    /// Compared as an RFC 3339 timestamp.
    DateTime,
}

/// One attribute of a resource, described once.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The JSON name.
    pub name: &'static str,
    /// Type and constraints.
    pub kind: Kind,
    /// Access when creating.
    pub create: Access,
    /// Access when updating.
    pub update: Access,
    /// The value when nothing is stored.
    pub default: Default,
    /// Whether `null` is accepted (meaning "clear back to the default").
    pub nullable: bool,
    /// Filter/order type for list endpoints, if filterable.
    pub list: Option<ListType>,
    /// Whether the list endpoints' free-text `search` looks at this field.
    pub search: bool,
    /// Whether the field is part of the list (summary) representation.
    pub summary: bool,
}

impl Field {
    /// An optional, nullable field with a `Null` default and no list metadata.
    /// Refine it with the builder methods below.
    pub const fn new(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            create: Access::Optional,
            update: Access::Optional,
            default: Default::Null,
            nullable: true,
            list: None,
            search: false,
            summary: false,
        }
    }

    /// Required (and not nullable) on create, optional on update.
    pub const fn required(mut self) -> Field {
        self.create = Access::Required;
        self.nullable = false;
        self
    }

    /// Required on create and read-only afterwards: what identifies an
    /// item for good (a phone's MAC address, vendor and model).
    pub const fn create_only(mut self) -> Field {
        self.create = Access::Required;
        self.update = Access::ReadOnly;
        self.nullable = false;
        self
    }

    /// Read-only in both modes (set by the service).
    pub const fn read_only(mut self) -> Field {
        self.create = Access::ReadOnly;
        self.update = Access::ReadOnly;
        self
    }

    /// Sets the default.
    pub const fn default(mut self, default: Default) -> Field {
        self.default = default;
        self
    }

    /// Rejects `null` on input.
    pub const fn not_null(mut self) -> Field {
        self.nullable = false;
        self
    }

    /// Makes the field filterable/orderable with the given type.
    pub const fn list(mut self, ty: ListType) -> Field {
        self.list = Some(ty);
        self
    }

    /// Makes the field part of the free-text search.
    pub const fn search(mut self) -> Field {
        self.search = true;
        self
    }

    /// Makes the field part of the list (summary) representation.
    pub const fn summary(mut self) -> Field {
        self.summary = true;
        self
    }

    /// The access for the given mode.
    pub const fn access(&self, mode: Mode) -> Access {
        match mode {
            Mode::Create => self.create,
            Mode::Update => self.update,
        }
    }

    /// The default as a [`Value`] (nested defaults filled in for objects).
    pub fn default_value(&self) -> Value {
        match self.default {
            Default::Null => Value::Null,
            Default::Bool(b) => Value::Bool(b),
            Default::Int(i) => Value::Int(i),
            Default::Str(s) => Value::Str(s.to_string()),
            Default::EmptyList => Value::List(Vec::new()),
            Default::Nested => match self.kind {
                Kind::Object(_) | Kind::CheckedObject { .. } => {
                    kinds::effective_value(&self.kind, &Value::Map(Fields::new()))
                }
                _ => Value::Null,
            },
        }
    }
}

/// A resource's field table.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// The resource name, for messages and logs (e.g. `"user"`).
    pub resource: &'static str,
    /// The fields, in rendering order.
    pub fields: &'static [Field],
}

/// Which request is being validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A create request: required fields must be present.
    Create,
    /// A partial update: only the fields present are validated.
    Update,
}

/// A validation failure on one field.
///
/// `field` is a dotted path into the body, with `[index]` for list items,
/// e.g. `office_hours.monday.ranges[0].from`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Dotted path of the offending field.
    pub field: String,
    /// Human-readable reason.
    pub message: String,
}

impl FieldError {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error with `prefix.` prepended to the path (for errors
    /// produced relative to a nested object).
    pub fn under(self, prefix: &str) -> FieldError {
        let field = if self.field.is_empty() {
            prefix.to_string()
        } else if self.field.starts_with('[') {
            format!("{prefix}{}", self.field)
        } else {
            format!("{prefix}.{}", self.field)
        };
        FieldError { field, ..self }
    }
}

impl Table {
    /// The field called `name`, if the table has one.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Validates a JSON body and returns the normalized [`Fields`].
    ///
    /// * `Create`: every `Required` field must be present and non-null;
    ///   absent optional fields stay absent (defaults are applied at render
    ///   time); a `null` for a nullable field is dropped.
    /// * `Update`: only the fields present are validated and returned;
    ///   fields required on create are optional here; a `null` for a nullable
    ///   field is returned as [`Value::Null`] ("clear back to default").
    /// * Both: `ReadOnly` fields → "is read-only"; unknown names → "unknown
    ///   field"; `id` is ignored; `null` on a non-nullable field → "must not
    ///   be null" (or "is required" for a required field on create);
    ///   [`Kind::Accepted`] fields are validated and dropped (a `null` one is
    ///   ignored); a `null` [`Kind::Secret`] is ignored (keeps the secret).
    ///
    /// `skip` lists names the caller handles itself (secrets like `password`,
    /// typed core fields like `name`): they are neither validated, returned,
    /// nor reported unknown.
    ///
    /// Errors are reported deterministically: first unknown names (in key
    /// order), then table fields in table order.
    pub fn validate(
        &self,
        body: &Map<String, Json>,
        mode: Mode,
        skip: &[&str],
    ) -> Result<Fields, FieldError> {
        for key in body.keys() {
            if key == "id" || skip.contains(&key.as_str()) {
                continue;
            }
            if self.field(key).is_none() {
                return Err(FieldError::new(key.as_str(), "unknown field"));
            }
        }
        let mut out = Fields::new();
        for field in self.fields {
            if skip.contains(&field.name) {
                continue;
            }
            let access = field.access(mode);
            let Some(raw) = body.get(field.name) else {
                if access == Access::Required {
                    return Err(FieldError::new(field.name, "is required"));
                }
                continue;
            };
            if access == Access::ReadOnly {
                return Err(FieldError::new(field.name, "is read-only"));
            }
            if raw.is_null() {
                if matches!(field.kind, Kind::Secret { .. } | Kind::Accepted) {
                    continue;
                }
                if access == Access::Required {
                    return Err(FieldError::new(field.name, "is required"));
                }
                if !field.nullable {
                    return Err(FieldError::new(field.name, "must not be null"));
                }
                if mode == Mode::Update {
                    out.insert(field.name.to_string(), Value::Null);
                }
                continue;
            }
            let value = kinds::check(&field.kind, raw, field.name)?;
            if matches!(field.kind, Kind::Accepted) {
                continue;
            }
            out.insert(field.name.to_string(), value);
        }
        Ok(out)
    }

    /// Renders stored [`Fields`] into `out`: every field of the table in
    /// table order, with its stored value or default (`Default::Null` →
    /// JSON `null`), nested defaults filled in, secrets as `null`, and
    /// [`Kind::Accepted`] fields left out. With `summary_only`, only fields
    /// marked `summary` are rendered (the list representation).
    pub fn render(
        &self,
        attrs: &(impl FieldSet + ?Sized),
        summary_only: bool,
        out: &mut Map<String, Json>,
    ) {
        for field in self.fields {
            if field.kind.input_only() || (summary_only && !field.summary) {
                continue;
            }
            let eff = self.effective_of(field, attrs);
            out.insert(
                field.name.to_string(),
                kinds::render_value(&field.kind, &eff),
            );
        }
    }

    /// The changes that `incoming` (validated in [`Mode::Update`]) makes to
    /// `current`: only fields whose effective value (stored or default)
    /// differs. A [`Value::Null`] in `incoming` clears the field; it counts as
    /// a change only if the current effective value differs from the default.
    /// Names that are not in the table (or are [`Kind::Accepted`]) are
    /// dropped. The returned values are the incoming ones, as given.
    pub fn diff(&self, current: &(impl FieldSet + ?Sized), incoming: &Fields) -> Fields {
        let mut out = Fields::new();
        for (name, new) in incoming {
            let Some(field) = self.field(name) else {
                continue;
            };
            if matches!(field.kind, Kind::Accepted) {
                continue;
            }
            let before = self.effective_of(field, current);
            let after = effective_of_value(field, new.view());
            if before != after {
                out.insert(name.clone(), new.clone());
            }
        }
        out
    }

    /// The effective value of a field: the stored value (with nested defaults
    /// filled in) or the field's default. Unknown names give [`Value::Null`].
    /// Secrets are returned as stored (this is not a rendering).
    pub fn effective(&self, attrs: &(impl FieldSet + ?Sized), name: &str) -> Value {
        match self.field(name) {
            Some(field) => self.effective_of(field, attrs),
            None => Value::Null,
        }
    }

    fn effective_of(&self, field: &Field, attrs: &(impl FieldSet + ?Sized)) -> Value {
        match attrs.get(field.name) {
            Some(v) => effective_of_value(field, v),
            None => field.default_value(),
        }
    }

    /// A listed field's value as lists filter and sort it, without rendering:
    /// exactly what [`Table::render`] would produce for it, read as `ty`
    /// (`None`: as rendered). `None` in the result is null (unset without a
    /// default, cleared, a secret, or not a scalar of that type).
    pub fn list_scalar<'a>(
        &self,
        attrs: &'a (impl FieldSet + ?Sized),
        name: &str,
        ty: Option<switchboard_projections::query::FieldType>,
    ) -> Option<switchboard_projections::query::Scalar<'a>> {
        use switchboard_projections::query::{parse_datetime, FieldType, Scalar};
        let field = self.field(name)?;
        if matches!(field.kind, Kind::Secret { .. }) || field.kind.input_only() {
            return None;
        }
        let scalar = match attrs.get(field.name) {
            Some(ValueRef::Null) | None => match field.default {
                Default::Bool(b) => Scalar::Bool(b),
                Default::Int(i) => Scalar::Num(i as f64),
                Default::Str(s) => Scalar::Str(s),
                _ => return None,
            },
            Some(ValueRef::Bool(b)) => Scalar::Bool(b),
            Some(ValueRef::Int(i)) => Scalar::Num(i as f64),
            Some(ValueRef::Float(f)) if f.is_finite() => Scalar::Num(f),
            Some(ValueRef::Str(s)) => Scalar::Str(s),
            Some(_) => return None,
        };
        match (ty, scalar) {
            (None, s)
            | (Some(FieldType::String), s @ Scalar::Str(_))
            | (Some(FieldType::Number), s @ Scalar::Num(_))
            | (Some(FieldType::Bool), s @ Scalar::Bool(_)) => Some(s),
            (Some(FieldType::DateTime), Scalar::Str(s)) => parse_datetime(s).map(Scalar::DateTime),
            _ => None,
        }
    }

    /// `(name, type)` of every filterable field, in table order.
    pub fn list_fields(&self) -> Vec<(&'static str, ListType)> {
        self.fields
            .iter()
            .filter_map(|f| f.list.map(|t| (f.name, t)))
            .collect()
    }

    /// Names of the fields searched by the free-text `search`, in table order.
    pub fn search_fields(&self) -> Vec<&'static str> {
        self.fields
            .iter()
            .filter(|f| f.search)
            .map(|f| f.name)
            .collect()
    }

    /// Names of the fields in the summary (list) representation.
    pub fn summary_fields(&self) -> Vec<&'static str> {
        self.fields
            .iter()
            .filter(|f| f.summary && !f.kind.input_only())
            .map(|f| f.name)
            .collect()
    }
}

fn effective_of_value(field: &Field, v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => field.default_value(),
        ValueRef::Nested(v) => kinds::effective_value(&field.kind, &v),
        // A scalar is its own effective value.
        v => v.to_value(),
    }
}

/// Rejects any body key that is not in `allowed` (`id` is always allowed),
/// with "cannot be changed with this request". Use it with an allowlist such
/// as [`user::USER_SELF_UPDATABLE`] before [`Table::validate`], for
/// endpoints that accept only part of a table (the caller picks the status
/// code: 400 or 403).
pub fn restrict(body: &Map<String, Json>, allowed: &[&str]) -> Result<(), FieldError> {
    for key in body.keys() {
        if key != "id" && !allowed.contains(&key.as_str()) {
            return Err(FieldError::new(
                key.as_str(),
                "cannot be changed with this request",
            ));
        }
    }
    Ok(())
}

/// Converts a [`Value`] to JSON. Non-finite floats become `null`.
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Number(Number::from(*i)),
        Value::Float(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::String(s.clone()),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// Converts JSON to a [`Value`]: integers that fit `i64` become
/// [`Value::Int`], every other number [`Value::Float`].
pub fn from_json(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(from_json).collect()),
        Json::Object(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
    }
}

/// Test support: loading and flattening the OpenAPI documents.
#[cfg(test)]
pub(crate) mod spec {
    use serde_json::{Map, Value as Json};

    /// Directory holding `portsip-users-openapi.json` and
    /// `portsip-companion-openapi.json`: the repository's own copy
    /// (`spec/README.md` says where it comes from), so a clone alone passes.
    pub const SPEC_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/spec");

    /// Loads a spec file; panics loudly when it is missing.
    pub fn load(file: &str) -> Json {
        let path = format!("{SPEC_DIR}/{file}");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("spec file {path} not readable ({e}); adjust SPEC_DIR"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("spec file {path} is not JSON: {e}"))
    }

    /// Flattens `allOf` recursively (properties are unioned, other keys:
    /// first wins), also inside `properties` and `items`.
    pub fn flatten(s: &Json) -> Json {
        let Some(obj) = s.as_object() else {
            return s.clone();
        };
        let mut out = Map::new();
        let mut props = Map::new();
        let mut required: Vec<Json> = Vec::new();
        let mut absorb = |m: &Map<String, Json>, out: &mut Map<String, Json>| {
            for (k, v) in m {
                match k.as_str() {
                    "properties" => {
                        if let Some(p) = v.as_object() {
                            for (pk, pv) in p {
                                props.insert(pk.clone(), flatten(pv));
                            }
                        }
                    }
                    "required" => {
                        if let Some(r) = v.as_array() {
                            required.extend(r.iter().cloned());
                        }
                    }
                    "items" => {
                        out.entry(k.clone()).or_insert_with(|| flatten(v));
                    }
                    "allOf" => {}
                    _ => {
                        out.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
        };
        if let Some(all) = obj.get("allOf").and_then(Json::as_array) {
            for sub in all {
                if let Json::Object(m) = flatten(sub) {
                    absorb(&m, &mut out);
                }
            }
        }
        absorb(obj, &mut out);
        if !props.is_empty() {
            out.insert("properties".into(), Json::Object(props));
        }
        if !required.is_empty() {
            out.insert("required".into(), Json::Array(required));
        }
        Json::Object(out)
    }

    /// The flattened request body schema of `method path`.
    pub fn body(doc: &Json, path: &str, method: &str) -> Json {
        let s = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
        assert!(!s.is_null(), "no request body for {method} {path}");
        flatten(s)
    }

    /// The flattened 2xx response schema of `method path`.
    pub fn response(doc: &Json, path: &str, method: &str, code: &str) -> Json {
        let s =
            &doc["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"];
        assert!(!s.is_null(), "no {code} response for {method} {path}");
        flatten(s)
    }

    /// Property names of a flattened object schema.
    pub fn props(schema: &Json) -> Vec<String> {
        schema["properties"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The `required` list of a flattened object schema.
    pub fn required(schema: &Json) -> Vec<String> {
        schema["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Compares a field table with an object schema's properties and returns
    /// human-readable mismatches (`path: what`), recursing into nested kinds.
    pub fn compare(fields: &[super::Field], schema: &Json, path: &str) -> Vec<String> {
        let mut out = Vec::new();
        let props = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for f in fields {
            let Some(p) = props.get(f.name) else {
                continue;
            };
            compare_field(f, p, &format!("{path}{}", f.name), &mut out);
        }
        out
    }

    fn compare_field(f: &super::Field, p: &Json, path: &str, out: &mut Vec<String>) {
        use super::{Default, Kind};
        let ty = p["type"].as_str().unwrap_or("");
        let max_len = p["maxLength"].as_u64().map(|n| n as usize);
        let min_len = p["minLength"].as_u64().map(|n| n as usize);
        let mut expect = |cond: bool, what: String| {
            if !cond {
                out.push(format!("{path}: {what}"));
            }
        };
        match f.kind {
            Kind::Str { min, max } => {
                expect(ty == "string", format!("type {ty}"));
                expect(
                    max_len.unwrap_or(0) == max,
                    format!("maxLength {max_len:?} vs {max}"),
                );
                expect(
                    min_len.unwrap_or(0) == min,
                    format!("minLength {min_len:?} vs {min}"),
                );
            }
            Kind::Name { max, .. }
            | Kind::Email { max }
            | Kind::Url { max }
            | Kind::Secret { max } => {
                expect(ty == "string", format!("type {ty}"));
                expect(
                    max_len.unwrap_or(0) == max,
                    format!("maxLength {max_len:?} vs {max}"),
                );
            }
            Kind::Digits { min, max } | Kind::LowerAlnum { min, max } => {
                expect(ty == "string", format!("type {ty}"));
                expect(
                    max_len == Some(max),
                    format!("maxLength {max_len:?} vs {max}"),
                );
                expect(
                    min_len == Some(min),
                    format!("minLength {min_len:?} vs {min}"),
                );
            }
            Kind::Enum(values) => {
                let spec: Vec<&str> = p["enum"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Json::as_str).collect())
                    .unwrap_or_default();
                expect(spec == values, format!("enum {spec:?} vs {values:?}"));
            }
            Kind::Bool => expect(ty == "boolean", format!("type {ty}")),
            Kind::Int { min, max } => {
                expect(ty == "integer", format!("type {ty}"));
                let smin = p["minimum"].as_i64();
                expect(smin == Some(min), format!("minimum {smin:?} vs {min}"));
                let smax = p["maximum"].as_i64().unwrap_or(match p["format"].as_str() {
                    Some("int64") => i64::MAX,
                    _ => i64::from(i32::MAX),
                });
                expect(smax == max, format!("maximum {smax} vs {max}"));
            }
            Kind::ForwardRule { actions, timeout } => {
                let spec: Vec<&str> = p["properties"]["action"]["enum"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Json::as_str).collect())
                    .unwrap_or_default();
                expect(spec == actions, format!("actions {spec:?} vs {actions:?}"));
                let has = p["properties"].get("timeout").is_some();
                expect(has == timeout, format!("timeout {has} vs {timeout}"));
            }
            Kind::CallerIds { preferred } => {
                let has = p["items"]["properties"].get("preferred").is_some();
                expect(has == preferred, format!("preferred {has} vs {preferred}"));
            }
            Kind::WeekHours { with_mode } => {
                let has = p["properties"].get("mode").is_some();
                expect(has == with_mode, format!("mode {has} vs {with_mode}"));
            }
            Kind::Object(fields) | Kind::CheckedObject { fields, .. } => {
                let mut names: Vec<String> = fields.iter().map(|f| f.name.to_string()).collect();
                let mut spec = props(p);
                names.sort();
                spec.sort();
                expect(names == spec, format!("sub-fields {spec:?} vs {names:?}"));
                out.extend(compare(fields, p, &format!("{path}.")));
                return;
            }
            _ => {}
        }
        let sdef = p.get("default");
        let ok = match (f.default, sdef) {
            (Default::Null | Default::EmptyList | Default::Nested, None) => true,
            (Default::Bool(b), Some(Json::Bool(s))) => b == *s,
            (Default::Int(i), Some(s)) => s.as_i64() == Some(i),
            (Default::Str(v), Some(Json::String(s))) => v == s,
            _ => false,
        };
        if !ok {
            out.push(format!("{path}: default {sdef:?} vs {:?}", f.default));
        }
    }
    #[cfg(test)]
    mod tests {
        use super::SPEC_DIR;
        use sha2::{Digest, Sha256};

        /// The copies are the reference the code conforms to: an edit that
        /// makes a conformance test pass by changing the spec must show up.
        #[test]
        fn the_spec_copies_are_unaltered() {
            let sums = std::fs::read_to_string(format!("{SPEC_DIR}/SHA256SUMS")).expect("sums");
            let mut checked = 0;
            for line in sums.lines().filter(|l| !l.trim().is_empty()) {
                let (want, file) = line.split_once("  ").expect("`sha256  file` lines");
                let bytes = std::fs::read(format!("{SPEC_DIR}/{file}")).expect(file);
                let got: String = Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert_eq!(got, want, "spec/{file} differs from SHA256SUMS");
                checked += 1;
            }
            assert_eq!(checked, 7, "every spec file is listed");
        }
    }
}

/// Helpers the field tables' tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use serde_json::{Map, Value as Json};
    use std::collections::BTreeSet;

    /// The object a test's `json!` literal holds (empty for anything else).
    pub(crate) fn obj(v: Json) -> Map<String, Json> {
        match v {
            Json::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// Names as a set, to compare field lists whatever their order.
    pub(crate) fn set(items: impl IntoIterator<Item = impl ToString>) -> BTreeSet<String> {
        items.into_iter().map(|s| s.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use test_support::obj;

    static NESTED: &[Field] = &[
        Field::new("flag", Kind::Bool).default(Default::Bool(true)),
        Field::new("label", Kind::Str { min: 0, max: 8 }),
    ];

    static T: Table = Table {
        resource: "thing",
        fields: &[
            Field::new("title", Kind::Name { min: 1, max: 10 })
                .required()
                .summary()
                .list(ListType::String)
                .search(),
            Field::new("on", Kind::Bool)
                .default(Default::Bool(true))
                .summary()
                .list(ListType::Bool),
            Field::new("mode", Kind::Enum(&["A", "B"])).default(Default::Str("A")),
            Field::new("count", Kind::Int { min: 0, max: 5 }).not_null(),
            Field::new("tags", Kind::Blfs).default(Default::EmptyList),
            Field::new("nested", Kind::Object(NESTED)).default(Default::Nested),
            Field::new(
                "size",
                Kind::Int {
                    min: 0,
                    max: i64::MAX,
                },
            )
            .read_only()
            .summary(),
            Field::new("key", Kind::Secret { max: 0 }),
            Field::new("file_id", Kind::Accepted),
        ],
    };

    fn err(v: Json, mode: Mode) -> FieldError {
        match T.validate(&obj(v), mode, &[]) {
            Err(e) => e,
            Ok(f) => panic!("expected an error, got {f:?}"),
        }
    }

    #[test]
    fn create_requires_required_fields() {
        let e = err(json!({"on": false}), Mode::Create);
        assert_eq!(e, FieldError::new("title", "is required"));
        let e = err(json!({"title": null}), Mode::Create);
        assert_eq!(e, FieldError::new("title", "is required"));
    }

    #[test]
    fn create_keeps_only_what_was_sent() {
        let f = T
            .validate(&obj(json!({"title": "x", "mode": null})), Mode::Create, &[])
            .unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f["title"], Value::Str("x".into()));
    }

    #[test]
    fn update_is_partial_and_keeps_nulls() {
        let f = T
            .validate(&obj(json!({"mode": null, "on": false})), Mode::Update, &[])
            .unwrap();
        assert_eq!(f["mode"], Value::Null);
        assert_eq!(f["on"], Value::Bool(false));
        assert!(!f.contains_key("title"));
    }

    #[test]
    fn unknown_read_only_and_id() {
        assert_eq!(
            err(json!({"title": "x", "bogus": 1}), Mode::Create),
            FieldError::new("bogus", "unknown field")
        );
        assert_eq!(
            err(json!({"size": 3}), Mode::Update),
            FieldError::new("size", "is read-only")
        );
        let f = T
            .validate(&obj(json!({"id": "abc", "on": true})), Mode::Update, &[])
            .unwrap();
        assert!(!f.contains_key("id"));
    }

    #[test]
    fn skip_is_neither_validated_nor_returned() {
        let f = T
            .validate(
                &obj(json!({"password": 12, "title": 5, "on": true})),
                Mode::Update,
                &["password", "title"],
            )
            .unwrap();
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn non_nullable_null_is_rejected() {
        assert_eq!(
            err(json!({"count": null}), Mode::Update),
            FieldError::new("count", "must not be null")
        );
        assert_eq!(
            err(json!({"title": null}), Mode::Update),
            FieldError::new("title", "must not be null")
        );
    }

    #[test]
    fn accepted_is_validated_then_dropped() {
        let f = T
            .validate(&obj(json!({"file_id": "abc"})), Mode::Update, &[])
            .unwrap();
        assert!(f.is_empty());
        let f = T
            .validate(&obj(json!({"file_id": null})), Mode::Update, &[])
            .unwrap();
        assert!(f.is_empty());
        assert_eq!(
            err(json!({"file_id": 1}), Mode::Update),
            FieldError::new("file_id", "must be a string")
        );
    }

    #[test]
    fn secret_null_keeps_empty_clears_render_hides() {
        let f = T
            .validate(&obj(json!({"key": null})), Mode::Update, &[])
            .unwrap();
        assert!(f.is_empty());
        let f = T
            .validate(&obj(json!({"key": ""})), Mode::Update, &[])
            .unwrap();
        assert_eq!(f["key"], Value::Null);
        let mut stored = Fields::new();
        stored.insert("key".into(), Value::Str("s3cret".into()));
        let mut out = Map::new();
        T.render(&stored, false, &mut out);
        assert_eq!(out["key"], Json::Null);
        assert_eq!(T.effective(&stored, "key"), Value::Str("s3cret".into()));
        assert_eq!(T.diff(&stored, &f).len(), 1);
    }

    #[test]
    fn render_fills_defaults_in_table_order() {
        let mut out = Map::new();
        T.render(&Fields::new(), false, &mut out);
        assert_eq!(
            Json::Object(out),
            json!({
                "title": null, "on": true, "mode": "A", "count": null, "tags": [],
                "nested": {"flag": true, "label": null}, "size": null, "key": null
            })
        );
    }

    #[test]
    fn render_nested_merges_stored_with_defaults() {
        let f = T
            .validate(
                &obj(json!({"title": "t", "nested": {"label": "x"}})),
                Mode::Create,
                &[],
            )
            .unwrap();
        let mut out = Map::new();
        T.render(&f, false, &mut out);
        assert_eq!(out["nested"], json!({"flag": true, "label": "x"}));
    }

    #[test]
    fn summary_only_renders_summary_fields() {
        let mut out = Map::new();
        T.render(&Fields::new(), true, &mut out);
        let keys: Vec<&String> = out.keys().collect();
        assert_eq!(keys, ["on", "size", "title"]);
        assert_eq!(T.summary_fields(), ["title", "on", "size"]);
    }

    #[test]
    fn diff_reports_only_effective_changes() {
        let current = Fields::new();
        let incoming = T
            .validate(
                &obj(json!({"mode": "A", "on": true, "count": 2, "nested": {"flag": true}})),
                Mode::Update,
                &[],
            )
            .unwrap();
        let d = T.diff(&current, &incoming);
        assert_eq!(d.keys().collect::<Vec<_>>(), ["count"]);
    }

    #[test]
    fn diff_null_counts_only_when_effective_value_changes() {
        let mut current = Fields::new();
        current.insert("mode".into(), Value::Str("A".into()));
        current.insert("on".into(), Value::Bool(false));
        let mut incoming = Fields::new();
        incoming.insert("mode".into(), Value::Null);
        incoming.insert("on".into(), Value::Null);
        let d = T.diff(&current, &incoming);
        assert_eq!(d.len(), 1);
        assert_eq!(d["on"], Value::Null);
    }

    #[test]
    fn list_and_search_metadata() {
        assert_eq!(
            T.list_fields(),
            vec![("title", ListType::String), ("on", ListType::Bool)]
        );
        assert_eq!(T.search_fields(), vec!["title"]);
    }

    #[test]
    fn restrict_allows_only_listed_keys() {
        let body = obj(json!({"id": 1, "a": 1, "b": 2}));
        assert!(restrict(&body, &["a", "b"]).is_ok());
        assert_eq!(
            restrict(&body, &["a"]),
            Err(FieldError::new("b", "cannot be changed with this request"))
        );
    }

    #[test]
    fn json_round_trip() {
        let j = json!({
            "a": [1, -2, 3.5, "x", true, null, {"b": {}}],
            "big": 18446744073709551615u64,
            "min": i64::MIN,
        });
        let v = from_json(&j);
        match &v {
            Value::Map(m) => {
                assert_eq!(m["big"], Value::Float(18446744073709551615.0));
                assert_eq!(m["min"], Value::Int(i64::MIN));
            }
            other => panic!("not a map: {other:?}"),
        }
        let back = to_json(&v);
        assert_eq!(back["a"], j["a"]);
        assert_eq!(from_json(&back), v);
        assert_eq!(to_json(&Value::Float(f64::NAN)), Json::Null);
    }

    #[test]
    fn no_panic_on_any_shape_for_any_field() {
        let samples = [
            json!(null),
            json!(true),
            json!(0),
            json!(-1),
            json!(1.5),
            json!(u64::MAX),
            json!(""),
            json!(" "),
            json!("é"),
            json!("24:00"),
            json!("+"),
            json!([]),
            json!([null, 1, "x", [], {}]),
            json!([{"from": "24:00", "to": "00:00"}]),
            json!({}),
            json!({"monday": {"ranges": [{"from": "23:59", "to": "24:00"}, {}]}}),
            json!({"action": "FORWARD_TO_NUMBER", "number": "+", "timeout": u64::MAX}),
            json!([{"action": "HANGUP", "type": "SPECIFIC_HOURS", "hours": []}]),
            json!({"enabled": true, "auth": "BEARER", "token": ""}),
        ];
        for table in [&user::USER, &tenant::TENANT, &group::GROUP] {
            for field in table.fields {
                for sample in &samples {
                    for mode in [Mode::Create, Mode::Update] {
                        let mut body = Map::new();
                        body.insert(field.name.to_string(), sample.clone());
                        if let Ok(f) = table.validate(&body, mode, &[]) {
                            let mut out = Map::new();
                            table.render(&f, false, &mut out);
                            let _ = table.diff(&f, &f);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn error_display_is_path_colon_message() {
        let e = FieldError::new("a.b[0]", "must be HH:MM");
        assert_eq!(e.to_string(), "a.b[0]: must be HH:MM");
        assert_eq!(
            FieldError::new("x", "m").under("p").field,
            "p.x".to_string()
        );
        assert_eq!(FieldError::new("[2]", "m").under("p").field, "p[2]");
        assert_eq!(FieldError::new("", "m").under("p").field, "p");
    }
}
