//! The tenant field table, from the PortSIP v22 companion API
//! (`POST /tenants`, `POST /tenants/{id}`, `GET /tenants/{id}`,
//! `GET /tenants`, `GET /tenant`, `POST /tenant`).
//!
//! Core fields are kept by the caller and are not in [`TENANT`]: `id`,
//! `name`, `domain`, `created_at` (pass [`TENANT_SKIP`] to
//! [`Table::validate`](super::Table::validate)).
//!
//! The two update endpoints accept different subsets: `POST /tenants/{id}`
//! (system administrator, [`TENANT_UPDATABLE`]) and `POST /tenant` (a
//! tenant's own admin, [`TENANT_SELF_UPDATABLE`]). Use
//! [`restrict`](super::restrict) with the right list before validating.
//! `outbound_caller_ids`, `stir_shaken_cert` and `stir_shaken_key` are only
//! in `POST /tenant`'s body; the table also accepts them on create
//! (harmless leniency).
//!
//! Decisions:
//! * **Webhook credentials** (`cdr_event`/`extension_event` `password` and
//!   `token`) are stored and rendered as-is, as in the spec. They are
//!   credentials switchboard presents to the customer's own receiver (not a
//!   way into switchboard), both GET endpoints are admin-only, and the
//!   objects are replaced wholesale on update, so masking them would make a
//!   GET→edit→POST round trip silently wipe them.
//! * **`stir_shaken_key`** is a private signing key: it is write-only
//!   ([`Kind::Secret`]): rendered `null`, `null` on input keeps it, `""`
//!   clears it.
//! * Webhook objects must be coherent: `auth` `BASIC`/`DIGEST` needs
//!   `username` and `password`, `BEARER` needs `token`, and `enabled: true`
//!   needs `url`. The spec's `url` pattern (`[a-z0-9]{6,64}`, copied from the
//!   credentials) is replaced by an `http(s)://` URL check; the credential
//!   patterns are applied to the whole string.
//! * `currency` and `region` must be 3 uppercase letters (ISO 4217, ISO
//!   3166-1 alpha-3); `timezone` must look like an IANA name; disk quotas are
//!   empty or `<positive integer><KB|MB|GB|TB|PB>` (TB added to the spec's
//!   list); `email_recipients` holds at most 15 comma-separated addresses.
//! * Integer fields without a spec maximum are capped at `i32::MAX`
//!   (their spec format).

use super::{Default as D, Field, FieldError, Fields, Kind, ListType as L, Table, Value};

const ANY: Kind = Kind::Str { min: 0, max: 0 };
const COUNT: Kind = Kind::Int {
    min: 0,
    max: i32::MAX as i64,
};
const DAYS: Kind = Kind::Int {
    min: 1,
    max: i32::MAX as i64,
};
const AUTH: Kind = Kind::Enum(&["DISABLE", "BASIC", "DIGEST", "BEARER"]);
const CREDENTIAL: Kind = Kind::LowerAlnum { min: 6, max: 64 };

/// Sub-fields of `e164` (number normalization).
pub static E164_FIELDS: &[Field] = &[
    Field::new("enabled", Kind::Bool).default(D::Bool(false)),
    Field::new("international_code", ANY),
    Field::new("country", ANY),
    Field::new("area_code", ANY),
    Field::new("national_code", ANY),
    Field::new("prefix", ANY),
    Field::new("remove_special_chars", Kind::Bool).default(D::Bool(false)),
    Field::new("remove_duplicate_countries", Kind::Bool).default(D::Bool(true)),
    Field::new("remove_duplicate_area_codes", Kind::Bool).default(D::Bool(true)),
];

/// Sub-fields of the `cdr_event` and `extension_event` webhooks.
pub static WEBHOOK_FIELDS: &[Field] = &[
    Field::new("enabled", Kind::Bool).default(D::Bool(false)),
    Field::new("auth", AUTH).default(D::Str("DISABLE")),
    Field::new("username", CREDENTIAL),
    Field::new("password", CREDENTIAL),
    Field::new("token", ANY),
    Field::new("url", Kind::Url { max: 128 }),
];

/// Cross-field rules of a webhook object (paths relative to the object).
pub fn webhook_rules(f: &Fields) -> Result<(), FieldError> {
    let text = |k: &str| match f.get(k) {
        Some(Value::Str(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    };
    let auth = text("auth").unwrap_or("DISABLE");
    let needed: &[&str] = match auth {
        "BASIC" | "DIGEST" => &["username", "password"],
        "BEARER" => &["token"],
        _ => &[],
    };
    if let Some(missing) = needed.iter().find(|k| text(k).is_none()) {
        return Err(FieldError::new(
            *missing,
            format!("is required when auth is {auth}"),
        ));
    }
    if f.get("enabled") == Some(&Value::Bool(true)) && text("url").is_none() {
        return Err(FieldError::new("url", "is required when enabled"));
    }
    Ok(())
}

const WEBHOOK: Kind = Kind::CheckedObject {
    fields: WEBHOOK_FIELDS,
    check: webhook_rules,
};

/// Every non-core tenant attribute, in `GET /tenants/{id}` order.
pub static TENANT: Table = Table {
    resource: "tenant",
    fields: &[
        Field::new("website", Kind::Str { min: 0, max: 255 })
            .summary()
            .list(L::String)
            .search(),
        Field::new("timezone", Kind::TimeZone)
            .required()
            .summary()
            .list(L::String),
        Field::new("currency", Kind::Code { len: 3 })
            .required()
            .summary()
            .list(L::String),
        Field::new("region", Kind::Code { len: 3 })
            .required()
            .summary()
            .list(L::String),
        Field::new("enabled", Kind::Bool)
            .default(D::Bool(true))
            .summary()
            .list(L::Bool),
        Field::new("enable_video_recording", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new("enable_audio_recording", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new("enable_dual_track_recording", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new("enable_billing", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new("enable_feature_billing", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new("enable_feature_call_statistics", Kind::Bool)
            .default(D::Bool(true))
            .list(L::Bool),
        Field::new("enable_feature_contact_center", Kind::Bool)
            .default(D::Bool(true))
            .list(L::Bool),
        Field::new("enable_feature_message_channels", Kind::Bool)
            .default(D::Bool(true))
            .list(L::Bool),
        Field::new("enable_feature_microsoft_teams", Kind::Bool)
            .default(D::Bool(true))
            .list(L::Bool),
        Field::new("enable_feature_trunks", Kind::Bool)
            .default(D::Bool(true))
            .list(L::Bool),
        Field::new("enable_feature_whats_app", Kind::Bool)
            .default(D::Bool(true))
            .list(L::Bool),
        Field::new("enable_night_mode", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new("enable_two_factor_authentication", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        // Switchboard's: see [`SWITCHBOARD_FIELDS`].
        Field::new("enable_ms365_integration", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new("custom_options", Kind::JsonText),
        Field::new("max_extensions", COUNT)
            .default(D::Int(1000))
            .summary()
            .list(L::Number),
        Field::new("max_concurrent_calls", COUNT)
            .default(D::Int(20))
            .summary()
            .list(L::Number),
        Field::new("max_ring_groups", COUNT)
            .default(D::Int(20))
            .list(L::Number),
        Field::new("max_virtual_receptionists", COUNT)
            .default(D::Int(20))
            .list(L::Number),
        Field::new("max_call_queues", COUNT)
            .default(D::Int(20))
            .list(L::Number),
        Field::new("max_conference_rooms", COUNT)
            .default(D::Int(20))
            .list(L::Number),
        Field::new("disk_quota", Kind::DiskQuota).default(D::Str("")),
        Field::new("used_disk_quota", ANY).read_only(),
        Field::new("im_disk_quota", Kind::DiskQuota).default(D::Str("")),
        Field::new("extension_im_disk_quota", Kind::DiskQuota).default(D::Str("1GB")),
        Field::new("recording_retention", DAYS).default(D::Int(180)),
        Field::new("call_report_retention", DAYS).default(D::Int(30)),
        Field::new("log_retention", DAYS).default(D::Int(180)),
        Field::new("temp_file_retention", DAYS).default(D::Int(30)),
        Field::new("office_hours", Kind::WeekHours { with_mode: false }),
        Field::new("outbound_caller_ids", Kind::CallerIds { preferred: false })
            .default(D::EmptyList),
        Field::new("e164", Kind::Object(E164_FIELDS)).default(D::Nested),
        Field::new("cdr_event", WEBHOOK).default(D::Nested),
        Field::new("extension_event", WEBHOOK).default(D::Nested),
        Field::new(
            "contact_match_type",
            Kind::Enum(&["DISABLE", "MATCH_EXACTLY", "MATCH_LENGTH"]),
        )
        .default(D::Str("MATCH_EXACTLY")),
        Field::new("contact_match_length", COUNT),
        Field::new(
            "contact_append_type",
            Kind::Enum(&["DISABLE", "APPEND", "PREPEND"]),
        )
        .default(D::Str("APPEND")),
        Field::new("contact_update_interval", Kind::Int { min: 1, max: 43200 })
            .default(D::Int(720)),
        Field::new("email_recipients", Kind::EmailList { max: 15 }),
        Field::new("password_force_reset", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new("avatar_file_name", ANY)
            .read_only()
            .summary()
            .list(L::String),
        Field::new(
            "avatar_file_size",
            Kind::Int {
                min: 0,
                max: i64::MAX,
            },
        )
        .read_only()
        .summary()
        .list(L::Number),
        Field::new("avatar_file_url", ANY).read_only().summary(),
        Field::new("stir_shaken_cert", ANY),
        Field::new("stir_shaken_key", Kind::Secret { max: 0 }),
        Field::new("avatar_file_id", Kind::Accepted),
    ],
};

/// Tenant settings that are switchboard's, not in PortSIP's tenant
/// schemas: `enable_ms365_integration`, which PortSIP shows in `GET /info`
/// as tenant metadata and which `POST /users/{id}/ms365_binding` requires,
/// but whose switch PortSIP keeps in its portal's integration settings,
/// outside the API. Here it is a tenant setting like the others (event-
/// sourced, audited; both update bodies accept it).
pub static SWITCHBOARD_FIELDS: &[&str] = &["enable_ms365_integration"];

/// Names the caller handles itself: pass as `skip` to
/// [`Table::validate`](super::Table::validate).
pub static TENANT_SKIP: &[&str] = &["id", "name", "domain", "created_at"];

/// Filterable core fields, to be listed before [`TENANT`]'s own list fields.
pub static TENANT_CORE_LIST: &[(&str, L)] = &[
    ("id", L::String),
    ("name", L::String),
    ("domain", L::String),
    ("created_at", L::DateTime),
];

/// Searched core fields, to be searched with [`TENANT`]'s search fields.
pub static TENANT_CORE_SEARCH: &[&str] = &["name", "domain"];

/// The body keys of `POST /tenants/{id}` (updateTenant, system
/// administrator). Note that `name` is not among them.
pub static TENANT_UPDATABLE: &[&str] = &[
    "domain",
    "website",
    "timezone",
    "currency",
    "region",
    "enabled",
    "enable_video_recording",
    "enable_audio_recording",
    "enable_dual_track_recording",
    "enable_billing",
    "enable_feature_billing",
    "enable_feature_call_statistics",
    "enable_feature_contact_center",
    "enable_feature_message_channels",
    "enable_feature_microsoft_teams",
    "enable_feature_trunks",
    "enable_feature_whats_app",
    "enable_night_mode",
    "enable_two_factor_authentication",
    "enable_ms365_integration",
    "custom_options",
    "max_extensions",
    "max_concurrent_calls",
    "max_ring_groups",
    "max_virtual_receptionists",
    "max_call_queues",
    "max_conference_rooms",
    "disk_quota",
    "im_disk_quota",
    "extension_im_disk_quota",
    "recording_retention",
    "call_report_retention",
    "log_retention",
    "temp_file_retention",
    "office_hours",
    "e164",
    "cdr_event",
    "extension_event",
    "contact_match_type",
    "contact_match_length",
    "contact_append_type",
    "contact_update_interval",
    "email_recipients",
    "password_force_reset",
];

/// The body keys of `POST /tenant` (updateSettings): what a tenant's admin
/// may change about its own tenant (no `enabled`, limits, quotas except the
/// per-extension IM quota, billing/feature switches or `email_recipients`).
pub static TENANT_SELF_UPDATABLE: &[&str] = &[
    "name",
    "domain",
    "website",
    "timezone",
    "currency",
    "region",
    "enable_video_recording",
    "enable_audio_recording",
    "enable_dual_track_recording",
    "enable_night_mode",
    "enable_two_factor_authentication",
    "enable_ms365_integration",
    "custom_options",
    "recording_retention",
    "call_report_retention",
    "log_retention",
    "temp_file_retention",
    "extension_im_disk_quota",
    "office_hours",
    "outbound_caller_ids",
    "e164",
    "cdr_event",
    "extension_event",
    "contact_match_type",
    "contact_match_length",
    "contact_append_type",
    "contact_update_interval",
    "password_force_reset",
    "avatar_file_id",
    "stir_shaken_cert",
    "stir_shaken_key",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_tables::test_support::{obj, set};
    use crate::field_tables::{restrict, spec, Access, Mode};
    use serde_json::{json, Map, Value as Json};
    use std::collections::BTreeSet;

    const COMPANION: &str = "portsip-companion-openapi.json";

    fn table_names(pred: impl Fn(&Field) -> bool) -> BTreeSet<String> {
        set(TENANT.fields.iter().filter(|f| pred(f)).map(|f| f.name))
    }

    fn e(field: &str, message: &str) -> FieldError {
        FieldError::new(field, message)
    }

    fn create_body() -> Json {
        json!({"name": "Acme", "domain": "acme.example.com", "timezone": "Europe/Berlin",
               "currency": "EUR", "region": "DEU"})
    }

    fn validate(v: Json, mode: Mode) -> Result<Fields, FieldError> {
        TENANT.validate(&obj(v), mode, TENANT_SKIP)
    }

    fn update_err(v: Json) -> FieldError {
        match validate(v.clone(), Mode::Update) {
            Err(e) => e,
            Ok(f) => panic!("{v} accepted: {f:?}"),
        }
    }

    // ------------------------------------------------------------ spec

    const CREATE_LENIENT: [&str; 3] =
        ["outbound_caller_ids", "stir_shaken_cert", "stir_shaken_key"];

    #[test]
    fn create_body_matches_table() {
        let doc = spec::load(COMPANION);
        let body = spec::body(&doc, "/tenants", "post");
        let props = set(spec::props(&body));
        let writable =
            table_names(|f| f.create != Access::ReadOnly && !matches!(f.kind, Kind::Accepted));
        assert_eq!(
            &props - &set(TENANT_SKIP.iter()),
            &(&writable - &set(CREATE_LENIENT)) - &set(SWITCHBOARD_FIELDS.iter())
        );
        let required: BTreeSet<String> = spec::required(&body)
            .into_iter()
            .filter(|n| !TENANT_SKIP.contains(&n.as_str()))
            .collect();
        assert_eq!(required, table_names(|f| f.create == Access::Required));
    }

    #[test]
    fn update_allowlists_match_spec() {
        let doc = spec::load(COMPANION);
        let ours = set(SWITCHBOARD_FIELDS.iter());
        let admin = &set(spec::props(&spec::body(&doc, "/tenants/{id}", "post"))) | &ours;
        assert_eq!(admin, set(TENANT_UPDATABLE.iter()));
        let own = &set(spec::props(&spec::body(&doc, "/tenant", "post"))) | &ours;
        assert_eq!(own, set(TENANT_SELF_UPDATABLE.iter()));
        let updatable = table_names(|f| f.update != Access::ReadOnly);
        assert_eq!(&(&admin | &own) - &set(TENANT_SKIP.iter()), updatable);
    }

    #[test]
    fn show_responses_are_core_plus_rendered_fields() {
        let doc = spec::load(COMPANION);
        let show = set(spec::props(&spec::response(
            &doc,
            "/tenants/{id}",
            "get",
            "200",
        )));
        let current = set(spec::props(&spec::response(&doc, "/tenant", "get", "200")));
        let rendered = table_names(|f| !matches!(f.kind, Kind::Accepted));
        let core = set(TENANT_CORE_LIST.iter().map(|(n, _)| *n));
        assert_eq!(
            &(&show | &current) | &set(SWITCHBOARD_FIELDS.iter()),
            &rendered | &core
        );
    }

    #[test]
    fn list_items_are_core_plus_summary_fields() {
        let doc = spec::load(COMPANION);
        let list = spec::response(&doc, "/tenants", "get", "200");
        let items = set(spec::props(&list["properties"]["items"]["items"]));
        let core = set(TENANT_CORE_LIST.iter().map(|(n, _)| *n));
        assert_eq!(items, &core | &set(TENANT.summary_fields()));
    }

    #[test]
    fn constraints_match_spec() {
        let doc = spec::load(COMPANION);
        let mut found = Vec::new();
        for schema in [
            spec::response(&doc, "/tenants/{id}", "get", "200"),
            spec::response(&doc, "/tenant", "get", "200"),
            spec::body(&doc, "/tenants", "post"),
            spec::body(&doc, "/tenant", "post"),
        ] {
            found.extend(spec::compare(TENANT.fields, &schema, ""));
        }
        assert_eq!(found, Vec::<String>::new());
    }

    // ------------------------------------------------------------ validate

    #[test]
    fn create_requires_timezone_currency_region() {
        let f = validate(create_body(), Mode::Create).unwrap();
        assert_eq!(set(f.keys()), set(["timezone", "currency", "region"]));
        for missing in ["timezone", "currency", "region"] {
            let mut body = obj(create_body());
            body.remove(missing);
            assert_eq!(
                TENANT.validate(&body, Mode::Create, TENANT_SKIP),
                Err(e(missing, "is required"))
            );
        }
    }

    #[test]
    fn scalar_errors() {
        assert_eq!(
            update_err(json!({"currency": "eur"})),
            e("currency", "must be 3 uppercase letters")
        );
        assert_eq!(
            update_err(json!({"region": "DE"})),
            e("region", "must be 3 uppercase letters")
        );
        assert_eq!(
            update_err(json!({"timezone": "Berlin time"})),
            e(
                "timezone",
                "must be an IANA time zone name such as Asia/Shanghai"
            )
        );
        assert_eq!(
            update_err(json!({"max_extensions": -1})),
            e(
                "max_extensions",
                "must be an integer between 0 and 2147483647"
            )
        );
        assert_eq!(
            update_err(json!({"contact_update_interval": 0})),
            e(
                "contact_update_interval",
                "must be an integer between 1 and 43200"
            )
        );
        assert_eq!(
            update_err(json!({"log_retention": 0})),
            e(
                "log_retention",
                "must be an integer between 1 and 2147483647"
            )
        );
        assert!(update_err(json!({"disk_quota": "lots"}))
            .message
            .starts_with("must be a positive number"));
        assert_eq!(
            update_err(json!({"website": "w".repeat(256)})),
            e("website", "must be at most 255 characters")
        );
        assert_eq!(
            update_err(json!({"contact_match_type": "EXACT"})),
            e(
                "contact_match_type",
                "must be one of DISABLE, MATCH_EXACTLY, MATCH_LENGTH"
            )
        );
        let many = vec!["a@b.c"; 16].join(",");
        assert_eq!(
            update_err(json!({"email_recipients": many})),
            e(
                "email_recipients",
                "must contain at most 15 email addresses"
            )
        );
        assert_eq!(
            update_err(json!({"used_disk_quota": "1GB"})),
            e("used_disk_quota", "is read-only")
        );
        assert_eq!(
            update_err(json!({"name2": "x"})),
            e("name2", "unknown field")
        );
        assert_eq!(
            update_err(json!({"timezone": null})),
            e("timezone", "must not be null")
        );
    }

    #[test]
    fn enabled_is_optional_on_create_and_update() {
        let mut body = create_body();
        body["enabled"] = json!(false);
        assert_eq!(
            validate(body, Mode::Create).unwrap()["enabled"],
            Value::Bool(false)
        );
        assert!(validate(json!({"enabled": true}), Mode::Update).is_ok());
    }

    #[test]
    fn nested_objects() {
        assert_eq!(
            update_err(json!({"e164": {"enabled": "yes"}})),
            e("e164.enabled", "must be a boolean")
        );
        assert_eq!(
            update_err(json!({"e164": {"country_code": "1"}})),
            e("e164.country_code", "unknown field")
        );
        assert_eq!(
            update_err(
                json!({"cdr_event": {"auth": "BASIC", "username": "Admin01", "password": "secret1"}})
            ),
            e(
                "cdr_event.username",
                "must be 6 to 64 lowercase letters or digits"
            )
        );
        assert_eq!(
            update_err(json!({"cdr_event": {"auth": "DIGEST", "username": "admin01"}})),
            e("cdr_event.password", "is required when auth is DIGEST")
        );
        assert_eq!(
            update_err(json!({"extension_event": {"auth": "BEARER"}})),
            e("extension_event.token", "is required when auth is BEARER")
        );
        assert_eq!(
            update_err(json!({"extension_event": {"enabled": true}})),
            e("extension_event.url", "is required when enabled")
        );
        assert_eq!(
            update_err(json!({"cdr_event": {"url": "hooks.example.com"}})),
            e("cdr_event.url", "must be an http:// or https:// URL")
        );
        assert_eq!(
            update_err(json!({"cdr_event": {"auth": "NTLM"}})),
            e(
                "cdr_event.auth",
                "must be one of DISABLE, BASIC, DIGEST, BEARER"
            )
        );
        assert!(validate(
            json!({"cdr_event": {"enabled": true, "auth": "BASIC", "username": "admin01",
                   "password": "secret1", "url": "https://hooks.example.com/cdr"}}),
            Mode::Update
        )
        .is_ok());
        assert_eq!(
            update_err(
                json!({"outbound_caller_ids": [{"provider_id": "t", "caller_id": "1", "preferred": true}]})
            ),
            e("outbound_caller_ids[0].preferred", "unknown field")
        );
        assert_eq!(
            update_err(json!({"office_hours": {"mode": "GLOBAL"}})),
            e("office_hours.mode", "unknown field")
        );
    }

    // ------------------------------------------------------------ render/diff

    #[test]
    fn render_defaults_including_nested() {
        let f = validate(create_body(), Mode::Create).unwrap();
        let mut out = Map::new();
        TENANT.render(&f, false, &mut out);
        assert_eq!(out["enabled"], json!(true));
        assert_eq!(out["max_extensions"], json!(1000));
        assert_eq!(out["disk_quota"], json!(""));
        assert_eq!(out["extension_im_disk_quota"], json!("1GB"));
        assert_eq!(out["contact_update_interval"], json!(720));
        assert_eq!(out["contact_match_length"], Json::Null);
        assert_eq!(out["outbound_caller_ids"], json!([]));
        assert_eq!(
            out["e164"],
            json!({"enabled": false, "international_code": null, "country": null,
                   "area_code": null, "national_code": null, "prefix": null,
                   "remove_special_chars": false, "remove_duplicate_countries": true,
                   "remove_duplicate_area_codes": true})
        );
        assert_eq!(
            out["cdr_event"],
            json!({"enabled": false, "auth": "DISABLE", "username": null,
                   "password": null, "token": null, "url": null})
        );
        assert!(!out.contains_key("avatar_file_id"));
        assert_eq!(
            set(out.keys()),
            table_names(|f| !matches!(f.kind, Kind::Accepted))
        );
    }

    #[test]
    fn webhook_credentials_render_but_stir_shaken_key_does_not() {
        let f = validate(
            json!({"cdr_event": {"auth": "BASIC", "username": "admin01", "password": "secret1"},
                   "stir_shaken_cert": "CERT", "stir_shaken_key": "KEY"}),
            Mode::Update,
        )
        .unwrap();
        let mut out = Map::new();
        TENANT.render(&f, false, &mut out);
        assert_eq!(out["cdr_event"]["password"], json!("secret1"));
        assert_eq!(out["stir_shaken_cert"], json!("CERT"));
        assert_eq!(out["stir_shaken_key"], Json::Null);
        assert_eq!(
            TENANT.effective(&f, "stir_shaken_key"),
            Value::Str("KEY".into())
        );
        let round_trip = validate(json!({"stir_shaken_key": null}), Mode::Update).unwrap();
        assert!(TENANT.diff(&f, &round_trip).is_empty());
        let clear = validate(json!({"stir_shaken_key": ""}), Mode::Update).unwrap();
        assert_eq!(TENANT.diff(&f, &clear)["stir_shaken_key"], Value::Null);
    }

    #[test]
    fn diff_compares_nested_effective_values() {
        let current = Fields::new();
        let same = validate(
            json!({"e164": {"remove_duplicate_countries": true}, "enabled": true,
                   "disk_quota": "", "cdr_event": {"auth": "DISABLE"}}),
            Mode::Update,
        )
        .unwrap();
        assert!(TENANT.diff(&current, &same).is_empty());
        let changed = validate(json!({"e164": {"prefix": "00"}}), Mode::Update).unwrap();
        assert_eq!(set(TENANT.diff(&current, &changed).keys()), set(["e164"]));
    }

    #[test]
    fn summary_and_list_metadata() {
        let mut out = Map::new();
        TENANT.render(&Fields::new(), true, &mut out);
        assert_eq!(
            set(out.keys()),
            set([
                "max_extensions",
                "max_concurrent_calls",
                "enabled",
                "website",
                "timezone",
                "currency",
                "region",
                "avatar_file_name",
                "avatar_file_size",
                "avatar_file_url"
            ])
        );
        assert!(TENANT
            .list_fields()
            .contains(&("max_extensions", L::Number)));
        assert!(TENANT.list_fields().contains(&("region", L::String)));
        assert_eq!(TENANT.search_fields(), ["website"]);
    }

    #[test]
    fn self_update_allowlist() {
        assert_eq!(
            restrict(&obj(json!({"max_extensions": 5})), TENANT_SELF_UPDATABLE),
            Err(e("max_extensions", "cannot be changed with this request"))
        );
        assert_eq!(
            restrict(&obj(json!({"name": "x"})), TENANT_UPDATABLE),
            Err(e("name", "cannot be changed with this request"))
        );
        assert!(restrict(
            &obj(json!({"name": "x", "stir_shaken_key": "k"})),
            TENANT_SELF_UPDATABLE
        )
        .is_ok());
    }
}
