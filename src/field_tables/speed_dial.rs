//! The speed dial field tables (PortSIP v22 Users API): `speed_dial_8`
//! (one-digit codes `2`…`9`, eight keys) and `speed_dial_100` (two-digit
//! codes `00`…`99`, a hundred keys), under `/user/…` and `/users/{id}/…`.
//!
//! A code is unique within one user's list: a second dial with the same
//! code is a conflict (409), decided by the collection's unique fields, not
//! here. The key range of speed dial 8 is a rule the string kind cannot say
//! ([`speed_dial_8_code`]); speed dial 100's two digits cover its range.
//!
//! Choices where the spec is silent: `phone_number` is required non-empty
//! and at most 64 characters (the spec bounds nothing); `description` is at
//! most 1024 characters (the spec writes `maximum: 1024` on a string, meaning
//! its length).

use super::{Field, FieldError, Fields, Kind, ListType as L, Table};

/// The lowest and highest code of speed dial 8 (`1` is voicemail's and `0`
/// the operator's on PortSIP phones).
pub const SPEED_DIAL_8_CODES: (char, char) = ('2', '9');

const PHONE_NUMBER: Kind = Kind::Str { min: 1, max: 64 };
const DESCRIPTION: Kind = Kind::Str { min: 0, max: 1024 };

/// A speed dial's fields, in `GET /user/speed_dial_8/{id}` order; the two
/// lists differ only in their code's width.
const fn dial_fields(code: Kind) -> [Field; 3] {
    [
        Field::new("code", code)
            .required()
            .summary()
            .list(L::String),
        Field::new("phone_number", PHONE_NUMBER)
            .required()
            .summary()
            .list(L::String)
            .search(),
        Field::new("description", DESCRIPTION).summary().search(),
    ]
}

static DIAL_8_FIELDS: [Field; 3] = dial_fields(Kind::Digits { min: 1, max: 1 });
static DIAL_100_FIELDS: [Field; 3] = dial_fields(Kind::Digits { min: 2, max: 2 });

/// Speed dial 8: one-digit codes.
pub static SPEED_DIAL_8: Table = Table {
    resource: "speed dial 8",
    fields: &DIAL_8_FIELDS,
};

/// Speed dial 100: two-digit codes.
pub static SPEED_DIAL_100: Table = Table {
    resource: "speed dial 100",
    fields: &DIAL_100_FIELDS,
};

/// Names the caller handles itself.
pub static SPEED_DIAL_SKIP: &[&str] = &["id"];

/// The fields that identify a dial within one list: its code (a duplicate
/// is 409 `ALREADY_EXISTS`).
pub static SPEED_DIAL_UNIQUE: &[&str] = &["code"];

/// Speed dial 8's key range, judged on the dial as it would be: the code is
/// one of `2`…`9`.
pub fn speed_dial_8_code(_table: &Table, item: &Fields) -> Result<(), FieldError> {
    let (low, high) = SPEED_DIAL_8_CODES;
    match item.get("code").and_then(|v| v.as_str()) {
        Some(code)
            if code.chars().count() == 1 && code.chars().all(|c| (low..=high).contains(&c)) =>
        {
            Ok(())
        }
        _ => Err(FieldError::new(
            "code",
            format!("must be one of {low} to {high}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_tables::test_support::{obj, set};
    use crate::field_tables::{spec, Mode, Value};
    use serde_json::json;

    /// On purpose (module docs): bounds the spec does not give.
    const NARROWED: &[&str] = &[
        "phone_number: maxLength None vs 64",
        "phone_number: minLength None vs 1",
        "description: maxLength None vs 1024",
    ];

    #[test]
    fn speed_dials_match_the_users_spec() {
        let doc = spec::load("portsip-users-openapi.json");
        for (table, coll) in [
            (&SPEED_DIAL_8, "speed_dial_8"),
            (&SPEED_DIAL_100, "speed_dial_100"),
        ] {
            let names = set(table.fields.iter().map(|f| f.name));
            for (list, item) in [
                (format!("/user/{coll}"), format!("/user/{coll}/{{id}}")),
                (
                    format!("/users/{{id}}/{coll}"),
                    format!("/users/{{id}}/{coll}/{{dial_id}}"),
                ),
            ] {
                let create = spec::body(&doc, &list, "post");
                assert_eq!(set(spec::props(&create)), names, "{list}");
                assert_eq!(set(spec::required(&create)), set(["code", "phone_number"]));
                assert_eq!(set(spec::props(&spec::body(&doc, &item, "post"))), names);
                let show = spec::response(&doc, &item, "get", "200");
                assert_eq!(set(spec::props(&show)), &names | &set(["id"]), "{item}");
                let listed = spec::response(&doc, &list, "get", "200");
                let items = &listed["properties"]["items"]["items"];
                assert_eq!(
                    set(spec::props(items)),
                    &set(table.summary_fields()) | &set(["id"])
                );
                assert_eq!(spec::compare(table.fields, &show, ""), NARROWED, "{item}");
            }
        }
    }

    fn item(code: &str) -> Fields {
        let mut f = Fields::new();
        f.insert("code".into(), Value::Str(code.into()));
        f.insert("phone_number".into(), Value::Str("100".into()));
        f
    }

    #[test]
    fn given_speed_dial_8_when_the_code_is_2_to_9_then_it_is_accepted() {
        for code in ["2", "5", "9"] {
            assert_eq!(
                speed_dial_8_code(&SPEED_DIAL_8, &item(code)),
                Ok(()),
                "{code}"
            );
        }
    }

    #[test]
    fn given_speed_dial_8_when_the_code_is_0_or_1_then_code_is_named() {
        for code in ["0", "1"] {
            let err = speed_dial_8_code(&SPEED_DIAL_8, &item(code));
            assert_eq!(err, Err(FieldError::new("code", "must be one of 2 to 9")));
        }
    }

    #[test]
    fn given_codes_of_the_wrong_width_then_the_tables_refuse_them() {
        for (table, code) in [
            (&SPEED_DIAL_8, "22"),
            (&SPEED_DIAL_8, "a"),
            (&SPEED_DIAL_100, "7"),
            (&SPEED_DIAL_100, "100"),
            (&SPEED_DIAL_100, "1x"),
        ] {
            let body = obj(json!({"code": code, "phone_number": "100"}));
            let err = table.validate(&body, Mode::Create, SPEED_DIAL_SKIP).err();
            assert_eq!(err.map(|e| e.field), Some("code".to_string()), "{code}");
        }
        for code in ["00", "42", "99"] {
            let body = obj(json!({"code": code, "phone_number": "100"}));
            assert!(SPEED_DIAL_100
                .validate(&body, Mode::Create, SPEED_DIAL_SKIP)
                .is_ok());
        }
    }

    #[test]
    fn given_no_phone_number_then_it_is_required() {
        let body = obj(json!({"code": "3"}));
        let err = SPEED_DIAL_8
            .validate(&body, Mode::Create, SPEED_DIAL_SKIP)
            .err();
        assert_eq!(err, Some(FieldError::new("phone_number", "is required")));
    }
}
