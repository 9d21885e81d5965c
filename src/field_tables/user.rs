//! The user (extension) field table, from the PortSIP v22 Users API
//! (`POST /users`, `POST /users/{id}`, `GET /users/{id}`, `GET /users`,
//! `GET /user`, `POST /user`).
//!
//! Core fields are kept by the caller and are not in [`USER`]: `id`, `name`,
//! `role`, `extension_number`, `created_at`, and the secrets `password`,
//! `extension_password`, `voicemail_pin` (pass [`USER_SKIP`] to
//! [`Table::validate`](super::Table::validate)). List schemas are
//! [`USER_CORE_LIST`] followed by [`USER.list_fields()`](super::Table::list_fields).
//!
//! Choices where the spec is silent:
//! * `enable_dnd` and `enable_acb` have no spec default; they render `false`
//!   (feature off) rather than `null`, to keep the booleans typed.
//! * `display_name` must not be empty and must not start or end with
//!   whitespace (it is required on create).
//! * The list fields (`outbound_caller_ids`, `custom_forward_rules`, `blfs`)
//!   render `[]` when unset.
//! * `voicemail_prompt` is checked as a BCP 47 language tag, as its spec
//!   description says.
//! * `transports` (only in `GET /user`) is server configuration, not user
//!   state; the caller adds it to that one response.
//! * `avatar_file_id` (only in `POST /user`) is accepted and dropped; the
//!   caller reads it from the raw body to attach an uploaded avatar.

use super::kinds::{FORWARD_ACTIONS, FORWARD_ACTIONS_WITH_RING};
use super::{Default as D, Field, Kind, ListType as L, Table};

const RULE_RING: Kind = Kind::ForwardRule {
    actions: FORWARD_ACTIONS_WITH_RING,
    timeout: false,
};
const RULE: Kind = Kind::ForwardRule {
    actions: FORWARD_ACTIONS,
    timeout: false,
};
const RULE_NO_ANSWER: Kind = Kind::ForwardRule {
    actions: FORWARD_ACTIONS,
    timeout: true,
};
const PHONE: Kind = Kind::Str { min: 0, max: 32 };
const ANY: Kind = Kind::Str { min: 0, max: 0 };

/// Every non-core user attribute, in `GET /users/{id}` order.
pub static USER: Table = Table {
    resource: "user",
    fields: &[
        Field::new("email", Kind::Email { max: 128 })
            .required()
            .summary()
            .list(L::String)
            .search(),
        Field::new("display_name", Kind::Name { min: 1, max: 1024 })
            .required()
            .summary()
            .list(L::String)
            .search(),
        Field::new("enabled", Kind::Bool)
            .default(D::Bool(true))
            .summary()
            .list(L::Bool),
        Field::new("mobile_phone", PHONE)
            .summary()
            .list(L::String)
            .search(),
        Field::new("work_phone", PHONE)
            .summary()
            .list(L::String)
            .search(),
        Field::new("home_phone", PHONE)
            .summary()
            .list(L::String)
            .search(),
        Field::new("address", Kind::Str { min: 0, max: 128 })
            .summary()
            .list(L::String),
        Field::new("department", Kind::Str { min: 0, max: 128 })
            .summary()
            .list(L::String)
            .search(),
        Field::new("enable_audio_recording", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new("enable_video_recording", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new("enable_dnd", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new("enable_acb", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new("enable_hot_desking", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new("anonymous_outbound_calls", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new("delivery_outbound_cid", Kind::Bool)
            .default(D::Bool(true))
            .list(L::Bool),
        Field::new(
            "sms",
            Kind::Enum(&["DISABLE", "ALLOW", "ALLOW_WITH_SENDER_ID"]),
        )
        .default(D::Str("DISABLE"))
        .list(L::String),
        Field::new("outbound_caller_ids", Kind::CallerIds { preferred: true })
            .default(D::EmptyList),
        Field::new("custom_options", Kind::JsonText),
        Field::new("office_hours", Kind::WeekHours { with_mode: true }),
        Field::new("available_office_hours_forward_rule", RULE_RING),
        Field::new("available_non_office_hours_forward_rule", RULE_RING),
        Field::new("available_no_answer_forward_rule", RULE_NO_ANSWER),
        Field::new("busy_office_hours_forward_rule", RULE_RING),
        Field::new("busy_non_office_hours_forward_rule", RULE_RING),
        Field::new("busy_no_answer_forward_rule", RULE_NO_ANSWER),
        Field::new("dnd_office_hours_forward_rule", RULE),
        Field::new("dnd_non_office_hours_forward_rule", RULE),
        Field::new("away_office_hours_forward_rule", RULE),
        Field::new("away_non_office_hours_forward_rule", RULE),
        Field::new("lunch_office_hours_forward_rule", RULE),
        Field::new("lunch_non_office_hours_forward_rule", RULE),
        Field::new("trip_office_hours_forward_rule", RULE),
        Field::new("trip_non_office_hours_forward_rule", RULE),
        Field::new("offline_office_hours_forward_rule", RULE),
        Field::new("offline_non_office_hours_forward_rule", RULE),
        Field::new("custom_forward_rules", Kind::CustomForwardRules).default(D::EmptyList),
        Field::new("voicemail_prompt", Kind::LangTag),
        Field::new("enable_voicemail_pin", Kind::Bool)
            .default(D::Bool(true))
            .list(L::Bool),
        Field::new("enable_voicemail_notify", Kind::Bool)
            .default(D::Bool(false))
            .list(L::Bool),
        Field::new(
            "voicemail_play_datetime",
            Kind::Enum(&["DISABLE", "12_HOUR_CLOCK", "24_HOUR_CLOCK"]),
        ),
        Field::new(
            "interface",
            Kind::Enum(&[
                "WEB_DOMAIN",
                "PUBLIC_IPV4",
                "PUBLIC_IPV6",
                "PRIVATE_IPV4",
                "PRIVATE_IPV6",
                "SBC_DOMAIN",
            ]),
        ),
        Field::new("preferred_transport", Kind::Enum(&["UDP", "TCP", "TLS"])),
        Field::new("blfs", Kind::Blfs).default(D::EmptyList),
        Field::new("profile", ANY).read_only(),
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
        Field::new("sync_type", Kind::Enum(&["Microsoft 365"]))
            .read_only()
            .summary()
            .list(L::String),
        Field::new("avatar_file_id", Kind::Accepted),
    ],
};

/// Names the caller handles itself: pass as `skip` to
/// [`Table::validate`](super::Table::validate).
pub static USER_SKIP: &[&str] = &[
    "id",
    "name",
    "role",
    "extension_number",
    "created_at",
    "password",
    "extension_password",
    "voicemail_pin",
];

/// Filterable core fields, to be listed before [`USER`]'s own list fields.
pub static USER_CORE_LIST: &[(&str, L)] = &[
    ("id", L::String),
    ("name", L::String),
    ("role", L::String),
    ("extension_number", L::String),
    ("created_at", L::DateTime),
];

/// Searched core fields, to be searched with [`USER`]'s search fields.
pub static USER_CORE_SEARCH: &[&str] = &["name", "extension_number"];

/// The body keys of `POST /user` (updateCurrentUser): what users may change
/// about themselves. Use with [`restrict`](super::restrict) before
/// validating. Note that the spec additionally reserves `sms` to users with
/// the `UserManagement::Users` privilege; that check is the caller's.
pub static USER_SELF_UPDATABLE: &[&str] = &[
    "email",
    "display_name",
    "mobile_phone",
    "work_phone",
    "home_phone",
    "address",
    "department",
    "enable_audio_recording",
    "enable_video_recording",
    "enable_dnd",
    "enable_acb",
    "enable_hot_desking",
    "anonymous_outbound_calls",
    "delivery_outbound_cid",
    "sms",
    "outbound_caller_ids",
    "custom_options",
    "office_hours",
    "available_office_hours_forward_rule",
    "available_non_office_hours_forward_rule",
    "available_no_answer_forward_rule",
    "busy_office_hours_forward_rule",
    "busy_non_office_hours_forward_rule",
    "busy_no_answer_forward_rule",
    "dnd_office_hours_forward_rule",
    "dnd_non_office_hours_forward_rule",
    "away_office_hours_forward_rule",
    "away_non_office_hours_forward_rule",
    "lunch_office_hours_forward_rule",
    "lunch_non_office_hours_forward_rule",
    "trip_office_hours_forward_rule",
    "trip_non_office_hours_forward_rule",
    "offline_office_hours_forward_rule",
    "offline_non_office_hours_forward_rule",
    "custom_forward_rules",
    "voicemail_prompt",
    "enable_voicemail_pin",
    "voicemail_pin",
    "enable_voicemail_notify",
    "voicemail_play_datetime",
    "interface",
    "preferred_transport",
    "blfs",
    "avatar_file_id",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_tables::test_support::{obj, set};
    use crate::field_tables::{restrict, spec, Access, FieldError, Fields, Mode, Value};
    use serde_json::{json, Map, Value as Json};
    use std::collections::BTreeSet;

    const USERS: &str = "portsip-users-openapi.json";

    fn create_body() -> Json {
        json!({
            "name": "alice", "password": "Secret-1", "role": "StandardUser",
            "extension_number": "1001", "extension_password": "pw", "voicemail_pin": "135790",
            "email": "alice@example.com", "display_name": "Alice Ängström"
        })
    }

    fn validate(v: Json, mode: Mode) -> Result<Fields, FieldError> {
        USER.validate(&obj(v), mode, USER_SKIP)
    }

    fn update_err(v: Json) -> FieldError {
        match validate(v.clone(), Mode::Update) {
            Err(e) => e,
            Ok(f) => panic!("{v} accepted: {f:?}"),
        }
    }

    fn e(field: &str, message: &str) -> FieldError {
        FieldError::new(field, message)
    }

    fn table_names(pred: impl Fn(&Field) -> bool) -> BTreeSet<String> {
        set(USER.fields.iter().filter(|f| pred(f)).map(|f| f.name))
    }

    fn rendered() -> BTreeSet<String> {
        table_names(|f| !matches!(f.kind, Kind::Accepted))
    }

    // ------------------------------------------------------------ spec

    #[test]
    fn create_body_fields_are_in_table_or_skip() {
        let doc = spec::load(USERS);
        let body = spec::body(&doc, "/users", "post");
        for name in spec::props(&body) {
            let in_table = USER
                .field(&name)
                .is_some_and(|f| f.create != Access::ReadOnly);
            assert!(
                in_table || USER_SKIP.contains(&name.as_str()),
                "createUser field {name} is neither in USER nor in USER_SKIP"
            );
        }
        let writable =
            table_names(|f| f.create != Access::ReadOnly && !matches!(f.kind, Kind::Accepted));
        assert!(writable.is_subset(&set(spec::props(&body))));
        let required: BTreeSet<String> = spec::required(&body)
            .into_iter()
            .filter(|n| !USER_SKIP.contains(&n.as_str()))
            .collect();
        assert_eq!(required, table_names(|f| f.create == Access::Required));
    }

    #[test]
    fn update_body_matches_table() {
        let doc = spec::load(USERS);
        let body = set(spec::props(&spec::body(&doc, "/users/{id}", "post")));
        let skip = set(USER_SKIP.iter());
        let updatable =
            table_names(|f| f.update != Access::ReadOnly && !matches!(f.kind, Kind::Accepted));
        assert_eq!(&body - &skip, updatable);
        let self_body = set(spec::props(&spec::body(&doc, "/user", "post")));
        assert_eq!(self_body, set(USER_SELF_UPDATABLE.iter()));
        for name in USER_SELF_UPDATABLE {
            assert!(
                USER.field(name).is_some() || USER_SKIP.contains(name),
                "{name}"
            );
        }
    }

    #[test]
    fn show_response_is_core_plus_rendered_fields() {
        let doc = spec::load(USERS);
        let show = set(spec::props(&spec::response(
            &doc,
            "/users/{id}",
            "get",
            "200",
        )));
        let core = set(USER_CORE_LIST.iter().map(|(n, _)| *n));
        let expected = &(&rendered() | &core) | &set(["voicemail_pin"]);
        assert_eq!(show, expected);
        let me = set(spec::props(&spec::response(&doc, "/user", "get", "200")));
        assert_eq!(&me - &set(["transports"]), show);
    }

    #[test]
    fn list_items_are_core_plus_summary_fields() {
        let doc = spec::load(USERS);
        let list = spec::response(&doc, "/users", "get", "200");
        let items = set(spec::props(&list["properties"]["items"]["items"]));
        let core = set(USER_CORE_LIST.iter().map(|(n, _)| *n));
        assert_eq!(items, &core | &set(USER.summary_fields()));
    }

    #[test]
    fn constraints_match_spec() {
        let doc = spec::load(USERS);
        let mut found = spec::compare(
            USER.fields,
            &spec::response(&doc, "/users/{id}", "get", "200"),
            "",
        );
        found.extend(spec::compare(
            USER.fields,
            &spec::body(&doc, "/users", "post"),
            "",
        ));
        found.extend(spec::compare(
            USER.fields,
            &spec::body(&doc, "/user", "post"),
            "",
        ));
        found.sort();
        found.dedup();
        let deviations = [
            "enable_acb: default None vs Bool(false)",
            "enable_dnd: default None vs Bool(false)",
        ];
        assert_eq!(found, deviations);
    }

    // ------------------------------------------------------------ validate

    #[test]
    fn create_requires_email_and_display_name() {
        let f = validate(create_body(), Mode::Create).unwrap();
        assert_eq!(set(f.keys()), set(["email", "display_name"]));
        let mut body = create_body();
        body["email"] = Json::Null;
        assert_eq!(validate(body, Mode::Create), Err(e("email", "is required")));
        let mut body = obj(create_body());
        body.remove("display_name");
        assert_eq!(
            USER.validate(&body, Mode::Create, USER_SKIP),
            Err(e("display_name", "is required"))
        );
    }

    #[test]
    fn update_is_partial() {
        let f = validate(json!({"sms": "ALLOW", "id": "x"}), Mode::Update).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f["sms"], Value::Str("ALLOW".into()));
        assert!(validate(json!({}), Mode::Update).unwrap().is_empty());
    }

    #[test]
    fn unknown_and_read_only() {
        assert_eq!(
            update_err(json!({"nickname": "x"})),
            e("nickname", "unknown field")
        );
        assert_eq!(
            update_err(json!({"profile": "p"})),
            e("profile", "is read-only")
        );
        assert_eq!(
            update_err(json!({"avatar_file_url": "/x"})),
            e("avatar_file_url", "is read-only")
        );
        assert_eq!(
            update_err(json!({"transports": []})),
            e("transports", "unknown field")
        );
        let mut body = create_body();
        body["sync_type"] = json!("Microsoft 365");
        assert_eq!(
            validate(body, Mode::Create),
            Err(e("sync_type", "is read-only"))
        );
    }

    #[test]
    fn nulls() {
        let f = validate(json!({"enabled": null, "office_hours": null}), Mode::Update).unwrap();
        assert_eq!(f["enabled"], Value::Null);
        assert_eq!(f["office_hours"], Value::Null);
        assert_eq!(
            update_err(json!({"email": null})),
            e("email", "must not be null")
        );
        assert_eq!(
            update_err(json!({"display_name": null})),
            e("display_name", "must not be null")
        );
    }

    #[test]
    fn scalar_errors() {
        assert_eq!(
            update_err(json!({"sms": "YES"})),
            e("sms", "must be one of DISABLE, ALLOW, ALLOW_WITH_SENDER_ID")
        );
        assert_eq!(
            update_err(json!({"enabled": 1})),
            e("enabled", "must be a boolean")
        );
        assert_eq!(
            update_err(json!({"email": "not-an-email"})),
            e("email", "must be a valid email address")
        );
        assert_eq!(
            update_err(json!({"address": "ü".repeat(129)})),
            e("address", "must be at most 128 characters")
        );
        assert!(validate(json!({"address": "ü".repeat(128)}), Mode::Update).is_ok());
        assert!(validate(json!({"display_name": "名".repeat(1024)}), Mode::Update).is_ok());
        assert_eq!(
            update_err(json!({"display_name": "名".repeat(1025)})),
            e("display_name", "must be at most 1024 characters")
        );
        assert_eq!(
            update_err(json!({"display_name": "Bob "})),
            e("display_name", "must not start or end with whitespace")
        );
        assert_eq!(
            update_err(json!({"mobile_phone": "1".repeat(33)})),
            e("mobile_phone", "must be at most 32 characters")
        );
        assert_eq!(
            update_err(json!({"custom_options": "{oops"})),
            e("custom_options", "must be a valid JSON string")
        );
        assert_eq!(
            update_err(json!({"voicemail_prompt": "en_US"})),
            e(
                "voicemail_prompt",
                "must be a BCP 47 language tag such as en-US"
            )
        );
        assert_eq!(
            update_err(json!({"preferred_transport": "udp"})),
            e("preferred_transport", "must be one of UDP, TCP, TLS")
        );
    }

    #[test]
    fn office_hours_paths() {
        let body = json!({"office_hours": {"mode": "CUSTOM", "friday": {"enabled": true, "ranges": [
            {"from": "08:00", "to": "12:00"}, {"from": "13:00", "to": "1700"}
        ]}}});
        assert_eq!(
            update_err(body),
            e("office_hours.friday.ranges[1].to", "must be HH:MM")
        );
        let body = json!({"office_hours": {"monday": {"ranges": [
            {"from": "09:00", "to": "12:00"}, {"from": "11:59", "to": "13:00"}
        ]}}});
        assert_eq!(
            update_err(body),
            e(
                "office_hours.monday.ranges[1]",
                "must not overlap ranges[0]"
            )
        );
        let body =
            json!({"office_hours": {"tuesday": {"ranges": [{"from": "17:00", "to": "09:00"}]}}});
        assert_eq!(
            update_err(body),
            e(
                "office_hours.tuesday.ranges[0]",
                "'from' must be earlier than 'to'"
            )
        );
    }

    #[test]
    fn forward_rule_action_sets_differ_per_rule() {
        assert!(validate(
            json!({"available_office_hours_forward_rule": {"action": "RING_ANYWAY"}}),
            Mode::Update
        )
        .is_ok());
        assert_eq!(
            update_err(json!({"available_no_answer_forward_rule": {"action": "RING_ANYWAY"}})),
            e(
                "available_no_answer_forward_rule.action",
                "must be one of FORWARD_TO_NUMBER, FORWARD_TO_VOICEMAIL, HANGUP"
            )
        );
        assert_eq!(
            update_err(json!({"dnd_office_hours_forward_rule": {"action": "RING_ANYWAY"}})),
            e(
                "dnd_office_hours_forward_rule.action",
                "must be one of FORWARD_TO_NUMBER, FORWARD_TO_VOICEMAIL, HANGUP"
            )
        );
        assert_eq!(
            update_err(json!({"busy_office_hours_forward_rule": {"action": "FORWARD_TO_NUMBER"}})),
            e(
                "busy_office_hours_forward_rule.number",
                "is required when action is FORWARD_TO_NUMBER"
            )
        );
        assert_eq!(
            update_err(
                json!({"busy_office_hours_forward_rule": {"action": "HANGUP", "timeout": 5}})
            ),
            e("busy_office_hours_forward_rule.timeout", "unknown field")
        );
        assert_eq!(
            update_err(json!({"busy_no_answer_forward_rule": {"action": "HANGUP", "timeout": -1}})),
            e(
                "busy_no_answer_forward_rule.timeout",
                "must be an integer between 0 and 600"
            )
        );
        let rule_count = USER
            .fields
            .iter()
            .filter(|f| matches!(f.kind, Kind::ForwardRule { .. }))
            .count();
        assert_eq!(rule_count, 16);
    }

    #[test]
    fn custom_rules_and_caller_ids_paths() {
        assert_eq!(
            update_err(json!({"custom_forward_rules": [
                {"action": "HANGUP", "type": "ALL_HOURS"},
                {"action": "HANGUP", "type": "SPECIFIC_HOURS", "hours": {"sunday": {"ranges": [{"from": "x", "to": "10:00"}]}}}
            ]})),
            e(
                "custom_forward_rules[1].hours.sunday.ranges[0].from",
                "must be HH:MM"
            )
        );
        assert_eq!(
            update_err(json!({"outbound_caller_ids": [{"provider_id": "t", "caller_id": ""}]})),
            e("outbound_caller_ids[0].caller_id", "must not be empty")
        );
        assert_eq!(
            update_err(json!({"blfs": [{"key": "1", "extra": "x"}]})),
            e("blfs[0].extra", "unknown field")
        );
    }

    #[test]
    fn avatar_file_id_is_accepted_and_dropped() {
        assert!(validate(json!({"avatar_file_id": "abc"}), Mode::Update)
            .unwrap()
            .is_empty());
        assert_eq!(
            update_err(json!({"avatar_file_id": 5})),
            e("avatar_file_id", "must be a string")
        );
    }

    #[test]
    fn self_update_allowlist() {
        let ok = obj(json!({"display_name": "A", "voicemail_pin": "135790", "sms": "ALLOW"}));
        assert!(restrict(&ok, USER_SELF_UPDATABLE).is_ok());
        let bad = obj(json!({"display_name": "A", "enabled": false}));
        assert_eq!(
            restrict(&bad, USER_SELF_UPDATABLE),
            Err(e("enabled", "cannot be changed with this request"))
        );
    }

    // ------------------------------------------------------------ render/diff

    #[test]
    fn render_fills_defaults_and_nulls() {
        let f = validate(create_body(), Mode::Create).unwrap();
        let mut out = Map::new();
        USER.render(&f, false, &mut out);
        assert_eq!(set(out.keys()), rendered());
        assert_eq!(out["email"], json!("alice@example.com"));
        assert_eq!(out["enabled"], json!(true));
        assert_eq!(out["sms"], json!("DISABLE"));
        assert_eq!(out["delivery_outbound_cid"], json!(true));
        assert_eq!(out["enable_voicemail_pin"], json!(true));
        assert_eq!(out["enable_voicemail_notify"], json!(false));
        assert_eq!(out["enable_dnd"], json!(false));
        assert_eq!(out["outbound_caller_ids"], json!([]));
        assert_eq!(out["blfs"], json!([]));
        assert_eq!(out["office_hours"], Json::Null);
        assert_eq!(out["available_no_answer_forward_rule"], Json::Null);
        assert_eq!(out["sync_type"], Json::Null);
        assert_eq!(out["avatar_file_size"], Json::Null);
        assert!(!out.contains_key("avatar_file_id"));
        assert!(!out.contains_key("password"));
    }

    #[test]
    fn render_forward_rule_timeout_default() {
        let f = validate(
            json!({"busy_no_answer_forward_rule": {"action": "FORWARD_TO_VOICEMAIL"}}),
            Mode::Update,
        )
        .unwrap();
        let mut out = Map::new();
        USER.render(&f, false, &mut out);
        assert_eq!(
            out["busy_no_answer_forward_rule"],
            json!({"action": "FORWARD_TO_VOICEMAIL", "number": null, "timeout": 60})
        );
    }

    #[test]
    fn summary_has_exactly_list_item_fields() {
        let mut out = Map::new();
        USER.render(&Fields::new(), true, &mut out);
        assert_eq!(
            set(out.keys()),
            set([
                "enabled",
                "email",
                "display_name",
                "mobile_phone",
                "work_phone",
                "home_phone",
                "address",
                "department",
                "avatar_file_name",
                "avatar_file_size",
                "avatar_file_url",
                "sync_type"
            ])
        );
    }

    #[test]
    fn diff_only_effective_changes() {
        let current = validate(create_body(), Mode::Create).unwrap();
        let incoming = validate(
            json!({
                "sms": "DISABLE", "enabled": true, "email": "alice@example.com",
                "busy_no_answer_forward_rule": {"action": "HANGUP"},
                "department": "Sales"
            }),
            Mode::Update,
        )
        .unwrap();
        let d = USER.diff(&current, &incoming);
        assert_eq!(
            set(d.keys()),
            set(["busy_no_answer_forward_rule", "department"])
        );

        let mut current = current;
        current.extend(d);
        let again = validate(
            json!({"busy_no_answer_forward_rule": {"action": "HANGUP", "timeout": 60, "number": ""}}),
            Mode::Update,
        )
        .unwrap();
        assert!(USER.diff(&current, &again).is_empty());

        let cleared = validate(json!({"department": null, "sms": null}), Mode::Update).unwrap();
        let d = USER.diff(&current, &cleared);
        assert_eq!(set(d.keys()), set(["department"]));
        assert_eq!(d["department"], Value::Null);
    }

    #[test]
    fn effective_values() {
        let mut attrs = Fields::new();
        attrs.insert("sms".into(), Value::Str("ALLOW".into()));
        assert_eq!(USER.effective(&attrs, "sms"), Value::Str("ALLOW".into()));
        assert_eq!(USER.effective(&attrs, "enabled"), Value::Bool(true));
        assert_eq!(USER.effective(&attrs, "nope"), Value::Null);
    }

    #[test]
    fn list_metadata() {
        let list = USER.list_fields();
        assert!(list.contains(&("email", L::String)));
        assert!(list.contains(&("enabled", L::Bool)));
        assert!(list.contains(&("sms", L::String)));
        assert!(list.contains(&("avatar_file_size", L::Number)));
        assert!(!list.iter().any(|(n, _)| *n == "office_hours"));
        assert_eq!(
            USER.search_fields(),
            [
                "email",
                "display_name",
                "mobile_phone",
                "work_phone",
                "home_phone",
                "department"
            ]
        );
        for (name, _) in USER_CORE_LIST {
            assert!(USER.field(name).is_none(), "{name} is core");
        }
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let bodies = [
            json!({"office_hours": {"monday": {"ranges": [{"from": "é9:00", "to": "10:00"}]}}}),
            json!({"office_hours": {"monday": {"ranges": [null]}}}),
            json!({"custom_forward_rules": [null]}),
            json!({"outbound_caller_ids": "x"}),
            json!({"available_office_hours_forward_rule": []}),
            json!({"email": "\u{0}@x"}),
            json!({"enabled": 1e308}),
        ];
        for b in bodies {
            assert!(validate(b, Mode::Update).is_err());
        }
    }
}
