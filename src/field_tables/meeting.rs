//! The meeting (conference room) field table (PortSIP v22 Users API,
//! `/user/meetings…`): a user's scheduled meeting.
//!
//! `id` is rendered by the caller. Choices where the spec is silent or where
//! switchboard departs from it (each listed in the spec test below):
//! * `mode` is required on create and absent from the update body: an
//!   audio room does not become a video room (an update naming it is
//!   refused, "is read-only"). `capacity` is in the update body only: a new
//!   room gets the default (9).
//! * `extension_number` is the room's number in the tenant's number space:
//!   given by the service when the create body has none (PortSIP's has
//!   none), or named by the client (our addition, [`CREATE_ADDED`]); it
//!   never changes afterwards (`crate::commands::meeting_rooms`).
//! * `created_at`, `domain`, `sbc_host`, `sbc_port`, `token` and
//!   `ownership` are the service's, never sent: read-only. `token` is
//!   minted with the meeting; `created_at` (the item's creation time),
//!   `domain` (the tenant's SIP domain) and `ownership` (whether the
//!   reader owns it or is invited) are rendered by the collection's
//!   renderer. switchboard keeps no SBC settings, so `sbc_host` is `null`
//!   and `sbc_port` PortSIP's default.
//! * `admin_pin` and `room_pin` are "numeric sequences": digits.
//! * Free-text strings the spec leaves unbounded are bounded (`language`
//!   is a BCP 47 tag, `timezone` an IANA name, `external_invitees` at most
//!   1024 characters, `sbc_host` and `token` 256), and `internal_invitees`
//!   holds at most 200 ids (the largest room).
//! * `scheduled_end_at` must be after `scheduled_start_at`
//!   ([`scheduled_times`]).

use super::{Access, Default as D, Field, FieldError, Fields, Kind, ListType as L, Table, Value};

const PIN: Kind = Kind::Digits { min: 3, max: 6 };

/// Every meeting attribute, in `GET /user/meetings/{id}` order.
pub static MEETING: Table = Table {
    resource: "meeting",
    fields: &[
        Field {
            update: Access::ReadOnly,
            ..Field::new("extension_number", Kind::Digits { min: 3, max: 64 })
                .summary()
                .list(L::String)
                .search()
        },
        Field::new("mode", Kind::Enum(&["AUDIO", "VIDEO"]))
            .create_only()
            .summary()
            .list(L::String),
        Field::new("control", Kind::Enum(&["FREE", "MASTER"]))
            .default(D::Str("FREE"))
            .not_null()
            .summary(),
        Field::new(
            "height",
            Kind::Int {
                min: 144,
                max: 1920,
            },
        )
        .default(D::Int(720))
        .summary(),
        Field::new(
            "width",
            Kind::Int {
                min: 144,
                max: 1920,
            },
        )
        .default(D::Int(1280))
        .summary(),
        Field::new(
            "bitrate",
            Kind::Int {
                min: 128,
                max: 10240,
            },
        )
        .default(D::Int(1024))
        .summary(),
        Field::new("framerate", Kind::Int { min: 5, max: 30 })
            .default(D::Int(15))
            .summary(),
        Field::new(
            "layout",
            Kind::Enum(&[
                "LAYOUT0", "LAYOUT1", "LAYOUT2", "LAYOUT3", "LAYOUT4", "LAYOUT6", "LAYOUT9",
            ]),
        )
        .default(D::Str("LAYOUT0"))
        .summary(),
        Field::new("subject", Kind::Str { min: 1, max: 64 })
            .required()
            .summary()
            .list(L::String)
            .search(),
        Field::new("language", Kind::LangTag).summary(),
        Field {
            create: Access::ReadOnly,
            ..Field::new("capacity", Kind::Int { min: 1, max: 200 })
                .default(D::Int(9))
                .summary()
        },
        Field::new("admin_pin", PIN).summary(),
        Field::new("room_pin", PIN).summary(),
        Field::new("enable_recording", Kind::Bool)
            .default(D::Bool(false))
            .summary(),
        Field::new("enable_prompt", Kind::Bool)
            .default(D::Bool(true))
            .summary(),
        Field::new("timezone", Kind::TimeZone).required().summary(),
        Field::new("created_at", Kind::DateTime)
            .read_only()
            .summary(),
        Field::new("scheduled_start_at", Kind::DateTime)
            .summary()
            .list(L::DateTime),
        Field::new("scheduled_end_at", Kind::DateTime)
            .summary()
            .list(L::DateTime),
        Field::new(
            "internal_invitees",
            Kind::StrList {
                max_items: 200,
                max_len: 64,
            },
        )
        .summary(),
        Field::new("external_invitees", Kind::Str { min: 0, max: 1024 }).summary(),
        Field::new("close_on_nobody", Kind::Bool)
            .default(D::Bool(false))
            .summary(),
        Field::new("domain", Kind::Str { min: 1, max: 280 }).read_only(),
        Field::new("sbc_host", Kind::Str { min: 0, max: 256 }).read_only(),
        Field::new("sbc_port", Kind::Int { min: 0, max: 65535 })
            .default(D::Int(8883))
            .read_only(),
        Field::new("token", Kind::Str { min: 0, max: 256 }).read_only(),
        Field::new("outbound_caller_ids", Kind::CallerIds { preferred: false }).summary(),
        Field::new("ownership", Kind::Bool).read_only().summary(),
        Field::new("custom_options", Kind::JsonText).summary(),
    ],
};

/// Fields a create body may carry that PortSIP's does not: a client may
/// name the room's number instead of taking the one the service gives.
pub const CREATE_ADDED: &[&str] = &["extension_number"];

/// Names the caller handles itself.
pub static MEETING_SKIP: &[&str] = &["id"];

/// A meeting ends after it starts (judged on the meeting as it would be).
pub fn scheduled_times(_table: &Table, item: &Fields) -> Result<(), FieldError> {
    let at = |k: &str| match item.get(k) {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    };
    // Both are stored normalized (UTC, whole seconds, `Z`), so they order
    // as strings do.
    match (at("scheduled_start_at"), at("scheduled_end_at")) {
        (Some(start), Some(end)) if end <= start => Err(FieldError::new(
            "scheduled_end_at",
            "must be after scheduled_start_at",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_tables::test_support::{obj, set};
    use crate::field_tables::{spec, Mode};
    use serde_json::json;
    use std::collections::BTreeSet;

    fn names(access: impl Fn(&Field) -> bool) -> BTreeSet<String> {
        set(MEETING.fields.iter().filter(|f| access(f)).map(|f| f.name))
    }

    /// Where the table departs from the spec's schema, on purpose (module
    /// docs): bounds on strings the spec leaves unbounded.
    const NARROWED: &[&str] = &[
        "external_invitees: maxLength None vs 1024",
        "sbc_host: maxLength None vs 256",
        "token: maxLength None vs 256",
    ];

    #[test]
    fn meetings_match_the_users_spec() {
        let doc = spec::load("portsip-users-openapi.json");
        let create = spec::body(&doc, "/user/meetings", "post");
        assert_eq!(
            &set(spec::props(&create)) | &set(CREATE_ADDED.iter().copied()),
            names(|f| f.create != Access::ReadOnly)
        );
        assert_eq!(
            set(spec::required(&create)),
            names(|f| f.create == Access::Required)
        );
        let update = spec::body(&doc, "/user/meetings/{id}", "post");
        assert_eq!(
            set(spec::props(&update)),
            names(|f| f.update != Access::ReadOnly)
        );
        let show = spec::response(&doc, "/user/meetings/{id}", "get", "200");
        assert_eq!(set(spec::props(&show)), &names(|_| true) | &set(["id"]));
        let list = spec::response(&doc, "/user/meetings", "get", "200");
        let items = set(spec::props(&list["properties"]["items"]["items"]));
        assert_eq!(items, &set(MEETING.summary_fields()) | &set(["id"]));
        assert_eq!(spec::compare(MEETING.fields, &show, ""), NARROWED);
    }

    fn valid() -> serde_json::Value {
        json!({"mode": "VIDEO", "subject": "Weekly", "timezone": "Europe/Paris",
               "scheduled_start_at": "2026-12-02T09:00:00Z",
               "scheduled_end_at": "2026-12-02T10:00:00+00:00"})
    }

    #[test]
    fn given_a_body_when_created_then_defaults_render_and_times_are_normalized() {
        let f = MEETING.validate(&obj(valid()), Mode::Create, MEETING_SKIP);
        let Ok(f) = f else { panic!("{f:?}") };
        assert_eq!(scheduled_times(&MEETING, &f), Ok(()));
        let mut out = serde_json::Map::new();
        MEETING.render(&f, false, &mut out);
        assert_eq!(out["capacity"], json!(9));
        assert_eq!(out["layout"], json!("LAYOUT0"));
        assert_eq!(out["enable_prompt"], json!(true));
        assert_eq!(out["scheduled_end_at"], json!("2026-12-02T10:00:00Z"));
    }

    #[test]
    fn given_an_end_before_the_start_then_the_end_is_named() {
        let mut body = obj(valid());
        body.insert("scheduled_end_at".into(), json!("2026-12-02T08:00:00Z"));
        let f = MEETING.validate(&body, Mode::Create, MEETING_SKIP);
        let Ok(f) = f else { panic!("{f:?}") };
        assert_eq!(
            scheduled_times(&MEETING, &f).map_err(|e| e.field),
            Err("scheduled_end_at".to_string())
        );
    }

    #[test]
    fn given_bad_values_then_the_field_is_named() {
        for (key, value, mode) in [
            ("mode", json!("HOLOGRAM"), Mode::Create),
            ("capacity", json!(5), Mode::Create),
            ("capacity", json!(201), Mode::Update),
            ("mode", json!("AUDIO"), Mode::Update),
            ("room_pin", json!("12a"), Mode::Update),
            ("height", json!(100), Mode::Update),
            ("scheduled_start_at", json!("soon"), Mode::Update),
            ("extension_number", json!("100"), Mode::Update),
        ] {
            let mut body = if mode == Mode::Create {
                obj(valid())
            } else {
                serde_json::Map::new()
            };
            body.insert(key.into(), value);
            let got = MEETING.validate(&body, mode, MEETING_SKIP);
            assert_eq!(got.err().map(|e| e.field), Some(key.to_string()), "{key}");
        }
    }
}
