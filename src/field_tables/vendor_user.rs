//! User attributes that only the vendor dialects carry (the client
//! internal-number API): `access`, `comment`, `extra_params`, `timezone`,
//! `email_notify`, `email_for_notify`.
//!
//! They are stored like every other user attribute — in the same `attrs` map,
//! through the same `UserCreated`/`UserUpdated` events and the same
//! [`users::update`](crate::commands::users::update) decision, which takes
//! the table to diff against — but in a table of their own rather than in
//! [`USER`](super::user::USER). `USER` mirrors the PortSIP spec field by
//! field (its tests compare it with the spec JSON), and PortSIP must neither
//! render nor accept these names; a separate table keeps that contract while
//! giving these fields the same validation, defaults and change diffs.
//!
//! `access` is not just recorded: `read_only` users are refused every write
//! in every dialect (see [`crate::auth::caller`]).

use super::{Default as D, Field, Kind, Table};

/// Name of the access attribute.
pub const ACCESS: &str = "access";
/// The `access` value that forbids writes.
pub const READ_ONLY: &str = "read_only";

/// The vendor-only user attributes.
pub static VENDOR_USER: Table = Table {
    resource: "user",
    fields: &[
        Field::new("comment", Kind::Str { min: 0, max: 1024 }),
        Field::new(ACCESS, Kind::Enum(&["full", READ_ONLY]))
            .default(D::Str("full"))
            .not_null(),
        Field::new("extra_params", Kind::Str { min: 0, max: 4096 }),
        Field::new("timezone", Kind::TimeZone),
        Field::new("email_notify", Kind::Bool).default(D::Bool(false)),
        Field::new("email_for_notify", Kind::Email { max: 128 }),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_tables::user::USER;
    use crate::field_tables::{Mode, Value};
    use serde_json::json;

    #[test]
    fn names_do_not_collide_with_portsip_fields() {
        for f in VENDOR_USER.fields {
            assert!(
                USER.field(f.name).is_none(),
                "{} is a PortSIP field",
                f.name
            );
        }
    }

    #[test]
    fn validates_and_diffs() {
        let body = json!({"access": "read_only", "timezone": "Europe/Paris"});
        let got = VENDOR_USER
            .validate(body.as_object().expect("object"), Mode::Create, &[])
            .expect("valid");
        assert_eq!(got.get(ACCESS), Some(&Value::Str(READ_ONLY.into())));
        let bad = json!({"access": "root"});
        let e = VENDOR_USER
            .validate(bad.as_object().expect("object"), Mode::Update, &[])
            .expect_err("enum");
        assert_eq!(e.field, "access");
        // Setting the default on a user without the attribute changes nothing.
        let incoming = [(ACCESS.to_owned(), Value::Str("full".into()))].into();
        assert!(VENDOR_USER
            .diff(&crate::field_tables::Fields::new(), &incoming)
            .is_empty());
    }
}
