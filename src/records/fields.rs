//! The fields of CDRs and external messages: what ingestion accepts and
//! what the lists and details render, checked against PortSIP's own
//! definitions by the tests below.
//!
//! These records are immutable once reported, so their table is simpler
//! than the directory's field tables (`src/schema/`): no update access, no
//! defaults, no diffs. A record is validated once, normalized (date-times
//! as PortSIP renders them, RFC 3339 UTC in whole seconds, so the store's
//! time index and a filter on the rendered value agree to the instant) and
//! kept as the JSON object it renders as.
//!
//! Ingestion-only fields (never rendered):
//! - `message_id` (messages): the PBX's own id of the message, what makes
//!   a repeated report idempotent (a CDR's is its `call_id`);
//! - `extension_numbers` (both): extension numbers the record also belongs
//!   to (e.g. the extension an SMS to a DID was routed to), besides the
//!   caller/callee (sender/receiver) numbers, which are matched against the
//!   tenant's extensions too.
//!
//! Where PortSIP gives a string no length, ingestion bounds it (1,024
//! characters; a message's `content` 65,536; `user_data` 4,096) so a
//! record cannot be arbitrarily large.

use serde_json::{Map, Value};
use switchboard_events::envelope::format_rfc3339;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A field's type and limits.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// A string of `min..=max` characters.
    Text {
        /// Fewest characters.
        min: usize,
        /// Most characters.
        max: usize,
    },
    /// An RFC 3339 date-time.
    DateTime,
    /// An integer in `min..=max`.
    Int {
        /// Smallest.
        min: i64,
        /// Largest.
        max: i64,
    },
    /// A finite number.
    Number,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
}

/// One field of a record.
#[derive(Debug, Clone, Copy)]
pub struct RecordField {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub kind: FieldKind,
    /// Whether ingestion requires it.
    pub required: bool,
    /// Whether the list items show it (the detail shows every field).
    pub listed: bool,
    /// Rendered but never ingested (a recording's file fields, set from
    /// its file).
    pub read_only: bool,
}

const fn f(name: &'static str, kind: FieldKind) -> RecordField {
    RecordField {
        name,
        kind,
        required: false,
        listed: true,
        read_only: false,
    }
}

const fn required(mut field: RecordField) -> RecordField {
    field.required = true;
    field
}

const fn detail_only(mut field: RecordField) -> RecordField {
    field.listed = false;
    field
}

const fn read_only(mut field: RecordField) -> RecordField {
    field.read_only = true;
    field
}

const fn text(max: usize) -> FieldKind {
    FieldKind::Text { min: 0, max }
}

const TEXT: FieldKind = text(1024);

/// A record kind's fields.
#[derive(Debug)]
pub struct RecordTable {
    /// `cdr` or `external_message`, for messages.
    pub resource: &'static str,
    /// Its fields, in PortSIP's order.
    pub fields: &'static [RecordField],
    /// The field that carries the PBX's own id.
    pub key: &'static str,
    /// Whether the key is an ingestion-only field (not rendered).
    pub key_hidden: bool,
    /// The time field (order, bounds, retention).
    pub time: &'static str,
    /// Fields whose values may be extension numbers of the tenant.
    pub numbers: &'static [&'static str],
}

/// CDR fields (`GET /cdrs/{id}`; lists leave out `cost` and `billed_account`).
pub static CDR_FIELDS: RecordTable = RecordTable {
    resource: "cdr",
    fields: &[
        f("caller", text(256)),
        f("caller_domain", text(1024)),
        f("caller_display_name", text(1024)),
        f("callee", text(256)),
        f("callee_domain", text(1024)),
        f("callee_display_name", text(1024)),
        required(f("started_at", FieldKind::DateTime)),
        f("rang_at", FieldKind::DateTime),
        f("answered_at", FieldKind::DateTime),
        f("ended_at", FieldKind::DateTime),
        required(f("call_id", FieldKind::Text { min: 1, max: 256 })),
        f(
            "direction",
            FieldKind::Enum(&[
                "INBOUND_CALL",
                "OUTBOUND_CALL",
                "EXTENSION_CALL",
                "INBOUND_OUTBOUND_CALL",
            ]),
        ),
        f(
            "end_reason",
            FieldKind::Enum(&[
                "CALLER_DISCONNECTED",
                "CALLEE_DISCONNECTED",
                "BLIND_TRANSFER_COMPLETED",
                "CONSULT_TRANSFER_COMPLETED",
                "REPLACED",
                "REFERRED",
                "REDIRECTED",
                "CANCELLED",
            ]),
        ),
        f("reroute_reason", FieldKind::Enum(&["TRANSFER", "OVERFLOW"])),
        f("status_code", FieldKind::Int { min: 0, max: 999 }),
        f("destination", TEXT),
        f("outbound_caller_id", FieldKind::Text { min: 1, max: 64 }),
        f("did_cid", TEXT),
        f("trunk", TEXT),
        f(
            "duration",
            FieldKind::Int {
                min: 0,
                max: i32::MAX as i64,
            },
        ),
        detail_only(f("cost", FieldKind::Number)),
        detail_only(f("billed_account", TEXT)),
        f("service_number", TEXT),
        f("user_data", text(4096)),
    ],
    key: "call_id",
    key_hidden: false,
    time: "started_at",
    numbers: &["caller", "callee"],
};

/// External message fields (`GET /external_messages/{id}`, besides `id`).
pub static MESSAGE_FIELDS: RecordTable = RecordTable {
    resource: "external_message",
    fields: &[
        f("config_id", text(64)),
        f("sender", TEXT),
        f("sender_name", TEXT),
        f("receiver", TEXT),
        f("receiver_name", TEXT),
        f("channel_name", TEXT),
        f("channel_number", TEXT),
        f("brand", TEXT),
        f("did", TEXT),
        f("msg_type", FieldKind::Enum(&["UNKNOWN", "SMS", "WHATSAPP"])),
        f("direction", FieldKind::Enum(&["IN", "OUT"])),
        f("content", text(65_536)),
        f("reason", TEXT),
        f(
            "delivery",
            FieldKind::Enum(&["ERR", "SENT", "RECV", "DELIVERED"]),
        ),
        f("provider_msg_id", TEXT),
        required(f("created_at", FieldKind::DateTime)),
    ],
    key: "message_id",
    key_hidden: true,
    time: "created_at",
    numbers: &["sender", "receiver"],
};

/// Call recording fields (`GET /recordings/{id}`; lists show the call's
/// parties and times). The file fields are read-only: they are set from
/// the file the PBX uploaded (`file_id` at ingestion).
pub static RECORDING_FIELDS: RecordTable = RecordTable {
    resource: "recording",
    fields: &[
        f("caller", text(256)),
        f("callee", text(256)),
        required(f("started_at", FieldKind::DateTime)),
        f("ended_at", FieldKind::DateTime),
        detail_only(f(
            "duration",
            FieldKind::Int {
                min: 0,
                max: i32::MAX as i64,
            },
        )),
        read_only(detail_only(f("file_name", TEXT))),
        read_only(detail_only(f(
            "file_size",
            FieldKind::Int {
                min: 0,
                max: i64::MAX,
            },
        ))),
        read_only(detail_only(f("file_url", TEXT))),
    ],
    key: "recording_id",
    key_hidden: true,
    time: "started_at",
    numbers: &["caller", "callee"],
};

/// Most extension numbers an ingested record may name in `extension_numbers`.
pub const MAX_EXTRA_NUMBERS: usize = 8;

/// An ingested record, validated and normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The PBX's own id.
    pub key: String,
    /// The time field, ms since the epoch.
    pub at_ms: i64,
    /// The numbers that may be the tenant's extensions (deduplicated).
    pub numbers: Vec<String>,
    /// The rendered fields (a JSON object without `id`), normalized.
    pub body: String,
}

/// A refused field: its name and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field (dotted path for array items).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Parses an RFC 3339 date-time and renders it as PortSIP renders every
/// time (UTC, whole seconds, `Z`); returns the instant in ms too (a whole
/// second, so the store's time index and the rendered value agree).
pub fn normalize_datetime(s: &str) -> Option<(String, i64)> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    let t = t
        .replace_nanosecond(0)
        .ok()?
        .to_offset(time::UtcOffset::UTC);
    // Years outside 0000..=9999 have no RFC 3339 rendering.
    if !(0..=9999).contains(&t.year()) {
        return None;
    }
    Some((format_rfc3339(t), t.unix_timestamp().checked_mul(1000)?))
}

fn check(field: &RecordField, raw: &Value) -> Result<Value, FieldError> {
    let name = field.name;
    match field.kind {
        FieldKind::Text { min, max } => {
            let s = raw.as_str().ok_or_else(|| err(name, "must be a string"))?;
            let n = s.chars().count();
            if n < min {
                return Err(err(name, format!("must be at least {min} characters")));
            }
            if n > max {
                return Err(err(name, format!("must be at most {max} characters")));
            }
            Ok(Value::String(s.to_string()))
        }
        FieldKind::DateTime => {
            let s = raw
                .as_str()
                .ok_or_else(|| err(name, "must be an RFC 3339 date-time string"))?;
            let (text, _) = normalize_datetime(s).ok_or_else(|| {
                err(
                    name,
                    "must be an RFC 3339 date-time, e.g. 2017-07-21T17:32:28Z",
                )
            })?;
            Ok(Value::String(text))
        }
        FieldKind::Int { min, max } => {
            let n = raw
                .as_i64()
                .ok_or_else(|| err(name, "must be an integer"))?;
            if n < min || n > max {
                return Err(err(name, format!("must be between {min} and {max}")));
            }
            Ok(Value::from(n))
        }
        FieldKind::Number => {
            if !raw.is_number() {
                return Err(err(name, "must be a number"));
            }
            Ok(raw.clone())
        }
        FieldKind::Enum(values) => {
            let s = raw.as_str().ok_or_else(|| err(name, "must be a string"))?;
            if !values.contains(&s) {
                return Err(err(name, format!("must be one of {}", values.join(", "))));
            }
            Ok(Value::String(s.to_string()))
        }
    }
}

impl RecordTable {
    fn field(&self, name: &str) -> Option<&RecordField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Validates an ingested record: unknown fields, then each field in
    /// table order; the first problem is named. `null` is "absent".
    pub fn parse(&self, body: &Map<String, Value>) -> Result<Parsed, FieldError> {
        for key in body.keys() {
            let known = self.field(key).is_some()
                || key == "extension_numbers"
                || (self.key_hidden && key == self.key);
            if !known {
                return Err(err(key, "unknown field"));
            }
            if self.field(key).is_some_and(|f| f.read_only) {
                return Err(err(key, "is read-only"));
            }
        }
        let mut out = Map::new();
        for field in self.fields.iter().filter(|f| !f.read_only) {
            match body.get(field.name) {
                None | Some(Value::Null) if field.required => {
                    return Err(err(field.name, "is required"))
                }
                None | Some(Value::Null) => {}
                Some(raw) => {
                    out.insert(field.name.to_string(), check(field, raw)?);
                }
            }
        }
        let key = if self.key_hidden {
            let key_field = RecordField {
                name: self.key,
                kind: FieldKind::Text { min: 1, max: 256 },
                required: true,
                listed: false,
                read_only: false,
            };
            match body.get(self.key) {
                None | Some(Value::Null) => return Err(err(self.key, "is required")),
                Some(raw) => check(&key_field, raw)?,
            }
        } else {
            out.get(self.key).cloned().unwrap_or_default()
        };
        let key = key.as_str().unwrap_or_default().to_string();
        let at_ms = out
            .get(self.time)
            .and_then(Value::as_str)
            .and_then(normalize_datetime)
            .map(|(_, ms)| ms)
            .ok_or_else(|| err(self.time, "is required"))?;
        let mut numbers: Vec<String> = self
            .numbers
            .iter()
            .filter_map(|n| out.get(*n).and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        match body.get("extension_numbers") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                if items.len() > MAX_EXTRA_NUMBERS {
                    return Err(err(
                        "extension_numbers",
                        format!("must have at most {MAX_EXTRA_NUMBERS} items"),
                    ));
                }
                for (i, item) in items.iter().enumerate() {
                    let path = format!("extension_numbers[{i}]");
                    match item.as_str() {
                        Some(s) if !s.is_empty() && s.chars().count() <= 64 => {
                            numbers.push(s.to_string())
                        }
                        _ => {
                            return Err(err(
                                &path,
                                "must be an extension number (1 to 64 characters)",
                            ))
                        }
                    }
                }
            }
            Some(_) => return Err(err("extension_numbers", "must be an array of strings")),
        }
        numbers.sort();
        numbers.dedup();
        Ok(Parsed {
            key,
            at_ms,
            numbers,
            body: Value::Object(out).to_string(),
        })
    }

    /// A stored body rendered with its `id` first, as a list item (only
    /// the listed fields) or in full.
    pub fn render(&self, id: &str, body: &[u8], listed_only: bool) -> Map<String, Value> {
        let stored: Map<String, Value> = serde_json::from_slice(body).unwrap_or_default();
        let mut out = Map::new();
        out.insert("id".into(), Value::String(id.to_string()));
        for field in self.fields {
            if listed_only && !field.listed {
                continue;
            }
            out.insert(
                field.name.to_string(),
                stored.get(field.name).cloned().unwrap_or(Value::Null),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeSet;

    fn spec(file: &str) -> Value {
        let path = format!("{}/spec/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn flat(s: &Value) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(all) = s["allOf"].as_array() {
            for part in all {
                out.extend(flat(part));
            }
        }
        if let Some(o) = s.as_object() {
            for (k, v) in o {
                if k != "allOf" {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        out
    }

    fn schema<'a>(doc: &'a Value, path: &str) -> &'a Value {
        &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    }

    /// Names, types, enums and lengths of `table` equal the spec's `props`.
    /// `beyond`: fields we render that this operation's definition lacks.
    fn compare(
        table: &RecordTable,
        props: &Map<String, Value>,
        listed_only: bool,
        beyond: &[&str],
    ) {
        let ours: BTreeSet<&str> = table
            .fields
            .iter()
            .filter(|f| !listed_only || f.listed)
            .map(|f| f.name)
            .filter(|n| !beyond.contains(n))
            .collect();
        let theirs: BTreeSet<&str> = props
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "id")
            .collect();
        assert_eq!(ours, theirs, "{}", table.resource);
        for field in table.fields.iter().filter(|f| props.contains_key(f.name)) {
            let p = flat(&props[field.name]);
            let ty = p.get("type").and_then(Value::as_str).unwrap_or("");
            match field.kind {
                FieldKind::Text { min, max } => {
                    assert_eq!(ty, "string", "{}", field.name);
                    assert!(p.get("format").is_none(), "{}", field.name);
                    if let Some(m) = p.get("maxLength").and_then(Value::as_u64) {
                        assert_eq!(m as usize, max, "{} maxLength", field.name);
                    }
                    let spec_min = p.get("minLength").and_then(Value::as_u64).unwrap_or(0);
                    if field.name != "call_id" {
                        assert_eq!(spec_min as usize, min, "{} minLength", field.name);
                    }
                }
                FieldKind::DateTime => {
                    assert_eq!(
                        (ty, p.get("format").and_then(Value::as_str)),
                        ("string", Some("date_time")),
                        "{}",
                        field.name
                    )
                }
                FieldKind::Int { .. } => assert_eq!(ty, "integer", "{}", field.name),
                FieldKind::Number => assert_eq!(ty, "number", "{}", field.name),
                FieldKind::Enum(values) => {
                    let spec_values: Vec<&str> = p["enum"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    assert_eq!(spec_values, values.to_vec(), "{}", field.name);
                }
            }
        }
    }

    fn obj(v: &Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn cdr_fields_match_both_specs() {
        let companion = spec("portsip-companion-openapi.json");
        let users = spec("portsip-users-openapi.json");
        let detail =
            &schema(&companion, "/cdrs/{id}")["properties"]["items"]["items"]["properties"];
        compare(&CDR_FIELDS, &obj(detail), false, &[]);
        let list = &schema(&companion, "/cdrs")["properties"]["items"]["items"]["properties"];
        compare(&CDR_FIELDS, &obj(list), true, &[]);
        let user_list = &schema(&users, "/user/cdrs")["properties"]["items"]["items"]["properties"];
        compare(&CDR_FIELDS, &obj(user_list), true, &[]);
        let user_detail = &schema(&users, "/user/cdrs/{id}")["properties"]["items"]["properties"];
        // PortSIP's `/user/cdrs/{id}` leaves out `duration`, which every
        // other CDR rendering has: one detail rendering serves both.
        compare(&CDR_FIELDS, &obj(user_detail), false, &["duration"]);
    }

    #[test]
    fn message_fields_match_both_specs() {
        let companion = spec("portsip-companion-openapi.json");
        let users = spec("portsip-users-openapi.json");
        for (doc, path) in [
            (&companion, "/external_messages/{id}"),
            (&users, "/user/external_messages/{id}"),
        ] {
            compare(
                &MESSAGE_FIELDS,
                &obj(&schema(doc, path)["properties"]),
                false,
                &[],
            );
        }
        for (doc, path) in [
            (&companion, "/external_messages"),
            (&users, "/user/external_messages"),
        ] {
            let items = &schema(doc, path)["properties"]["items"]["items"]["properties"];
            compare(&MESSAGE_FIELDS, &obj(items), true, &[]);
        }
    }

    #[test]
    fn recording_fields_match_both_specs() {
        let companion = spec("portsip-companion-openapi.json");
        let users = spec("portsip-users-openapi.json");
        for (doc, path) in [(&companion, "/recordings"), (&users, "/user/recordings")] {
            let items = &schema(doc, path)["properties"]["items"]["items"]["properties"];
            compare(&RECORDING_FIELDS, &obj(items), true, &[]);
            let detail = &schema(doc, &format!("{path}/{{id}}"))["properties"]["items"]["items"]
                ["properties"];
            compare(&RECORDING_FIELDS, &obj(detail), false, &[]);
        }
    }

    #[test]
    fn given_a_recording_with_file_fields_when_parsed_then_they_are_read_only() {
        let base = json!({"recording_id": "r-1", "started_at": "2024-05-01T12:00:00Z"});
        let p = RECORDING_FIELDS.parse(&obj(&base)).expect("valid");
        assert_eq!(p.key, "r-1");
        for field in ["file_name", "file_size", "file_url"] {
            let mut b = base.clone();
            b[field] = json!("x");
            assert_eq!(
                RECORDING_FIELDS.parse(&obj(&b)).map_err(|e| e.field),
                Err(field.to_owned())
            );
        }
    }

    fn cdr(v: Value) -> Result<Parsed, FieldError> {
        CDR_FIELDS.parse(&obj(&v))
    }

    #[test]
    fn given_a_cdr_when_parsed_then_normalized_with_its_key_time_and_numbers() {
        let p = cdr(json!({
            "call_id": "abc@pbx", "caller": "101", "callee": "+4930123",
            "started_at": "2024-05-01T12:00:00.123456+02:00", "duration": 30,
            "direction": "OUTBOUND_CALL", "extension_numbers": ["102", "101"],
        }))
        .expect("valid");
        assert_eq!(p.key, "abc@pbx");
        assert_eq!(p.at_ms, 1_714_557_600_000);
        assert_eq!(p.numbers, vec!["+4930123", "101", "102"]);
        let body: Value = serde_json::from_str(&p.body).expect("json");
        assert_eq!(body["started_at"], json!("2024-05-01T10:00:00Z"));
        assert!(body.get("extension_numbers").is_none());
    }

    #[test]
    fn given_bad_cdrs_when_parsed_then_the_field_is_named() {
        let base = json!({"call_id": "c1", "started_at": "2024-05-01T12:00:00Z"});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            cdr(b).map(|_| ()).map_err(|e| e.field)
        };
        assert_eq!(
            cdr(json!({"call_id": "c1"})).map_err(|e| e.field),
            Err("started_at".into())
        );
        assert_eq!(
            cdr(json!({"started_at": "2024-05-01T12:00:00Z"})).map_err(|e| e.field),
            Err("call_id".into())
        );
        assert_eq!(
            with("started_at", json!("yesterday")),
            Err("started_at".into())
        );
        assert_eq!(
            with("direction", json!("SIDEWAYS")),
            Err("direction".into())
        );
        assert_eq!(with("duration", json!(-1)), Err("duration".into()));
        assert_eq!(with("duration", json!("30")), Err("duration".into()));
        assert_eq!(with("caller", json!("x".repeat(257))), Err("caller".into()));
        assert_eq!(with("colour", json!("red")), Err("colour".into()));
        assert_eq!(with("call_id", json!("")), Err("call_id".into()));
        assert_eq!(with("cost", json!("free")), Err("cost".into()));
        assert_eq!(
            with("extension_numbers", json!([1])),
            Err("extension_numbers[0]".into())
        );
        assert_eq!(
            with("extension_numbers", Value::Array(vec![json!("1"); 9])),
            Err("extension_numbers".into())
        );
        assert_eq!(
            with("ended_at", json!("10000-01-01T00:00:00Z")),
            Err("ended_at".into())
        );
        assert!(with("caller", Value::Null).is_ok());
    }

    #[test]
    fn given_a_message_when_parsed_then_its_hidden_key_is_required_and_not_rendered() {
        let m = json!({"created_at": "2024-05-01T12:00:00Z", "sender": "+1555", "content": "hi"});
        assert_eq!(
            MESSAGE_FIELDS.parse(&obj(&m)).map_err(|e| e.field),
            Err("message_id".into())
        );
        let mut m = m;
        m["message_id"] = json!("m-1");
        let p = MESSAGE_FIELDS.parse(&obj(&m)).expect("valid");
        assert_eq!(p.key, "m-1");
        assert!(!p.body.contains("message_id"));
        let shown = MESSAGE_FIELDS.render("NDI=", p.body.as_bytes(), true);
        assert_eq!(shown["id"], json!("NDI="));
        assert_eq!(shown["content"], json!("hi"));
        assert_eq!(shown["receiver"], Value::Null);
    }

    #[test]
    fn given_a_cdr_when_rendered_as_a_list_item_then_cost_and_billing_are_left_out() {
        let p = cdr(json!({"call_id": "c", "started_at": "2024-05-01T12:00:00Z", "cost": 0.25}))
            .expect("valid");
        let item = CDR_FIELDS.render("MQ==", p.body.as_bytes(), true);
        assert!(item.get("cost").is_none());
        let full = CDR_FIELDS.render("MQ==", p.body.as_bytes(), false);
        assert_eq!(full["cost"], json!(0.25));
        assert_eq!(full["id"], json!("MQ=="));
    }
}
