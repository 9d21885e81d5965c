//! The IP phone field table (PortSIP v22 Users API, `/user/phones…` and
//! `/users/{id}/phones…`): a phone assigned to a user for auto provisioning.
//!
//! `id` is rendered by the caller. Choices where the spec is silent or where
//! switchboard departs from it (each listed in the spec test below):
//! * `mac`, `filename`, `vendor` and `model` are required on create and are
//!   absent from the update body: they identify the device for good, so an
//!   update naming them is refused ("is read-only"). `mac` must have a MAC
//!   address's shape ([`Kind::Mac`]).
//! * `password` (the phone's web interface password) is write-only like
//!   every other secret: the spec lists it in `GET`, switchboard renders
//!   `null` rather than hand a device credential to every reader.
//! * `fwver` (in the spec's items of `GET /user/phones` only) is rendered by `GET` of one
//!   phone too. `fwver` and `url` are reported by provisioning, never sent: read-only
//!   (`null` until a provisioning service records them).
//! * Free-text strings the spec leaves unbounded are bounded (64 characters,
//!   256 for the template file name) so no request can grow an item without
//!   limit; `codecs` holds at most 32 names.
//! * `door_password1/2` are "numeric sequences" of 4 to 8 characters: digits.

use super::{Default as D, Field, Kind, ListType as L, Table};

const TEXT: Kind = Kind::Str { min: 0, max: 64 };
const NAME: Kind = Kind::Str { min: 1, max: 64 };
const VLAN_ID: Kind = Kind::Int { min: 1, max: 4094 };
const VLAN_PRIORITY: Kind = Kind::Int { min: 0, max: 7 };
const DOOR: Kind = Kind::Digits { min: 4, max: 8 };

/// The display languages a phone may use.
pub const LANGUAGES: &[&str] = &[
    "ENGLISH",
    "CHINESE",
    "DUTCH",
    "FRENCH",
    "GERMAN",
    "GREEK",
    "ITALIAN",
    "JAPANESE",
    "POLISH",
    "RUSSIAN",
    "SPANISH",
    "SWEDISH",
    "UKRAINIAN",
    "BULGARIAN",
];

/// Every phone attribute, in `GET /user/phones/{id}` order.
pub static PHONE: Table = Table {
    resource: "phone",
    fields: &[
        Field::new("mac", Kind::Mac)
            .create_only()
            .summary()
            .list(L::String)
            .search(),
        Field::new("filename", Kind::Str { min: 1, max: 256 })
            .create_only()
            .summary(),
        Field::new("vendor", NAME)
            .create_only()
            .summary()
            .list(L::String)
            .search(),
        Field::new("model", NAME)
            .create_only()
            .summary()
            .list(L::String)
            .search(),
        Field::new("fwver", TEXT).read_only().summary(),
        Field::new("password", Kind::Secret { max: 0 })
            .required()
            .summary(),
        Field::new("language", Kind::Enum(LANGUAGES))
            .required()
            .summary()
            .list(L::String),
        Field::new("transfer", Kind::Enum(&["BLIND", "ATTENDED", "NEW_CALL"]))
            .required()
            .default(D::Str("BLIND"))
            .summary(),
        Field::new("timezone", NAME).required().summary(),
        Field::new("ringtone", TEXT).summary(),
        Field::new("queue_ringtone", TEXT).summary(),
        Field::new("external_ringtone", TEXT).summary(),
        Field::new("date_format", TEXT).summary(),
        Field::new("time_format", TEXT).summary(),
        Field::new("powerled", TEXT).summary(),
        Field::new("backlight", TEXT).summary(),
        Field::new("screensaver", TEXT).summary(),
        Field::new("rps", Kind::Bool).summary(),
        Field::new("https", Kind::Bool).summary(),
        Field::new(
            "codecs",
            Kind::StrList {
                max_items: 32,
                max_len: 32,
            },
        )
        .required()
        .summary(),
        Field::new("enable_lldp", Kind::Bool)
            .default(D::Bool(false))
            .summary(),
        Field::new("enable_vlan_wan_port", Kind::Bool)
            .default(D::Bool(false))
            .summary(),
        Field::new("wan_port_id", VLAN_ID).summary(),
        Field::new("wan_port_priority", VLAN_PRIORITY).summary(),
        Field::new("enable_vlan_pc_port", Kind::Bool)
            .default(D::Bool(false))
            .summary(),
        Field::new("pc_port_id", VLAN_ID).summary(),
        Field::new("pc_port_priority", VLAN_PRIORITY).summary(),
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
        )
        .required()
        .summary(),
        Field::new("preferred_transport", Kind::Enum(&["UDP", "TCP", "TLS"]))
            .required()
            .summary(),
        Field::new("serial_number", TEXT)
            .summary()
            .list(L::String)
            .search(),
        Field::new("door_password1", DOOR).summary(),
        Field::new("door_password2", DOOR).summary(),
        Field::new("url", TEXT).read_only().summary(),
    ],
};

/// Names the caller handles itself.
pub static PHONE_SKIP: &[&str] = &["id"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_tables::test_support::{obj, set};
    use crate::field_tables::{spec, Access, FieldError, Mode};
    use serde_json::{json, Map, Value as Json};
    use std::collections::BTreeSet;

    fn names(access: impl Fn(&Field) -> bool) -> BTreeSet<String> {
        set(PHONE.fields.iter().filter(|f| access(f)).map(|f| f.name))
    }

    /// Where the table departs from the spec's schema, on purpose (module
    /// docs): bounds on strings the spec leaves unbounded.
    const NARROWED: &[&str] = &[
        "filename: maxLength None vs 256",
        "filename: minLength None vs 1",
        "vendor: maxLength None vs 64",
        "vendor: minLength None vs 1",
        "model: maxLength None vs 64",
        "model: minLength None vs 1",
        "timezone: maxLength None vs 64",
        "timezone: minLength None vs 1",
        "ringtone: maxLength None vs 64",
        "queue_ringtone: maxLength None vs 64",
        "external_ringtone: maxLength None vs 64",
        "date_format: maxLength None vs 64",
        "time_format: maxLength None vs 64",
        "powerled: maxLength None vs 64",
        "backlight: maxLength None vs 64",
        "screensaver: maxLength None vs 64",
        "serial_number: maxLength None vs 64",
        "url: maxLength None vs 64",
    ];

    #[test]
    fn phones_match_the_users_spec() {
        let doc = spec::load("portsip-users-openapi.json");
        for prefix in ["/user/phones", "/users/{id}/phones"] {
            let item = if prefix.starts_with("/users") {
                format!("{prefix}/{{phone_id}}")
            } else {
                format!("{prefix}/{{id}}")
            };
            let create = spec::body(&doc, prefix, "post");
            assert_eq!(
                set(spec::props(&create)),
                names(|f| f.create != Access::ReadOnly),
                "{prefix}"
            );
            assert_eq!(
                set(spec::required(&create)),
                names(|f| f.create == Access::Required),
                "{prefix}"
            );
            let update = spec::body(&doc, &item, "post");
            assert_eq!(
                set(spec::props(&update)),
                names(|f| f.update != Access::ReadOnly),
                "{item}"
            );
            let show = spec::response(&doc, &item, "get", "200");
            // `fwver` is in the spec's list items only; shown in both.
            assert_eq!(
                &set(spec::props(&show)) | &set(["fwver"]),
                &names(|_| true) | &set(["id"])
            );
            let list = spec::response(&doc, prefix, "get", "200");
            let items = set(spec::props(&list["properties"]["items"]["items"]));
            assert_eq!(
                &items | &set(["fwver"]),
                &set(PHONE.summary_fields()) | &set(["id"])
            );
            assert_eq!(spec::compare(PHONE.fields, &show, ""), NARROWED, "{item}");
            let listed = &list["properties"]["items"]["items"];
            if items.contains("fwver") {
                let fwver = spec::compare(PHONE.fields, listed, "");
                assert!(fwver.contains(&"fwver: maxLength None vs 64".to_string()));
            }
        }
    }

    fn valid() -> Json {
        json!({"mac": "00:1A:2B:3C:4D:5E", "filename": "yealink_t46.xml", "vendor": "Yealink",
               "model": "T46U", "password": "admin123", "language": "ENGLISH",
               "transfer": "BLIND", "timezone": "+8", "codecs": ["PCMU", "G722"],
               "interface": "WEB_DOMAIN", "preferred_transport": "TLS"})
    }

    #[test]
    fn given_a_full_body_when_created_then_fields_are_kept_and_the_password_is_not_rendered() {
        let f = PHONE.validate(&obj(valid()), Mode::Create, PHONE_SKIP);
        let Ok(f) = f else { panic!("{f:?}") };
        let mut out = Map::new();
        PHONE.render(&f, false, &mut out);
        assert_eq!(out["mac"], json!("00:1A:2B:3C:4D:5E"));
        assert_eq!(out["codecs"], json!(["PCMU", "G722"]));
        assert_eq!(out["password"], Json::Null);
        assert_eq!(out["enable_lldp"], json!(false));
        assert_eq!(out["url"], Json::Null);
    }

    #[test]
    fn given_bad_values_when_validated_then_the_field_is_named() {
        let cases: &[(&str, Json, Mode)] = &[
            ("mac", json!("00:1A:2B"), Mode::Create),
            ("wan_port_id", json!(4095), Mode::Update),
            ("pc_port_priority", json!(8), Mode::Update),
            ("door_password1", json!("12a4"), Mode::Update),
            ("door_password2", json!("123"), Mode::Update),
            ("language", json!("KLINGON"), Mode::Update),
            ("codecs[1]", json!(["PCMU", ""]), Mode::Update),
        ];
        for (field, value, mode) in cases {
            let key = field.split('[').next().unwrap_or(field);
            let mut body = if *mode == Mode::Create {
                obj(valid())
            } else {
                Map::new()
            };
            body.insert(key.to_string(), value.clone());
            let got = PHONE.validate(&body, *mode, PHONE_SKIP);
            assert_eq!(
                got.err().map(|e: FieldError| e.field),
                Some(field.to_string())
            );
        }
    }

    #[test]
    fn given_an_update_naming_the_device_then_it_is_refused() {
        for key in ["mac", "vendor", "model", "filename", "fwver", "url"] {
            let body = obj(json!({key: "x"}));
            let err = PHONE.validate(&body, Mode::Update, PHONE_SKIP).err();
            assert_eq!(err, Some(FieldError::new(key, "is read-only")), "{key}");
        }
    }
}
