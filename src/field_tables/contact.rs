//! The contact field table, shared by personal contacts (PortSIP v22 Users
//! API, `/user/contacts…`) and business contacts (companion API,
//! `/contacts…`), which have the same fields.
//!
//! `id` and the caller's `favorite` flag are rendered by the caller.
//! Choices where the spec is silent:
//! * `name` is required on create (the spec gives it `minLength: 1`, and a
//!   phonebook entry without a name cannot be shown).
//! * `email` is a plain string of at most 128 characters: contacts come from
//!   address books (Microsoft 365 sync), so its shape is not policed, and
//!   `""` is a valid way to clear it.
//! * `sync_type` is read-only: contacts created through the API have none.

use super::{Field, Kind, ListType as L, Table};

const TEXT: Kind = Kind::Str { min: 0, max: 128 };

/// Every contact attribute, in `GET /user/contacts/{id}` order.
pub static CONTACT: Table = Table {
    resource: "contact",
    fields: &[
        Field::new("name", Kind::Str { min: 1, max: 64 })
            .required()
            .summary()
            .list(L::String)
            .search(),
        Field::new("email", TEXT).summary().list(L::String).search(),
        Field::new("company", TEXT)
            .summary()
            .list(L::String)
            .search(),
        Field::new("title", TEXT).summary().list(L::String).search(),
        Field::new("business", TEXT)
            .summary()
            .list(L::String)
            .search(),
        Field::new("business2", TEXT)
            .summary()
            .list(L::String)
            .search(),
        Field::new("mobile_phone", TEXT)
            .summary()
            .list(L::String)
            .search(),
        Field::new("mobile_phone2", TEXT)
            .summary()
            .list(L::String)
            .search(),
        Field::new("home_phone", TEXT)
            .summary()
            .list(L::String)
            .search(),
        Field::new("home_phone2", TEXT)
            .summary()
            .list(L::String)
            .search(),
        Field::new("other", TEXT).summary().list(L::String).search(),
        Field::new("business_fax", TEXT)
            .summary()
            .list(L::String)
            .search(),
        Field::new("home_fax", TEXT)
            .summary()
            .list(L::String)
            .search(),
        Field::new("address", TEXT)
            .summary()
            .list(L::String)
            .search(),
        Field::new("notes", Kind::Str { min: 0, max: 1024 })
            .summary()
            .search(),
        Field::new("sync_type", Kind::Enum(&["Microsoft 365"]))
            .read_only()
            .summary()
            .list(L::String),
    ],
};

/// Names the caller handles itself.
pub static CONTACT_SKIP: &[&str] = &["id", "favorite"];

/// Filterable core fields of contact lists (`favorite` is the caller's flag).
pub static CONTACT_CORE_LIST: &[(&str, L)] = &[("id", L::String), ("favorite", L::Bool)];

/// The fields of an extension contact besides `id`, `extension_number` and
/// `favorite`, rendered from the user table.
pub use switchboard_projections::directory::EXTENSION_CONTACT_FIELDS;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_tables::test_support::{obj, set};
    use crate::field_tables::{spec, FieldError, Mode};
    use serde_json::{json, Value as Json};

    const USERS: &str = "portsip-users-openapi.json";
    const COMPANION: &str = "portsip-companion-openapi.json";

    #[test]
    fn personal_contacts_match_the_users_spec() {
        let doc = spec::load(USERS);
        let table = set(CONTACT.fields.iter().map(|f| f.name));
        let writable = set(CONTACT
            .fields
            .iter()
            .filter(|f| f.update != crate::field_tables::Access::ReadOnly)
            .map(|f| f.name));
        for (path, method) in [("/user/contacts", "post"), ("/user/contacts/{id}", "post")] {
            assert_eq!(set(spec::props(&spec::body(&doc, path, method))), writable);
        }
        let show = spec::response(&doc, "/user/contacts/{id}", "get", "200");
        assert_eq!(set(spec::props(&show)), &table | &set(["id", "favorite"]));
        let list = spec::response(&doc, "/user/contacts", "get", "200");
        let items = set(spec::props(&list["properties"]["items"]["items"]));
        assert_eq!(
            items,
            &set(CONTACT.summary_fields()) | &set(["id", "favorite"])
        );
        assert_eq!(
            spec::compare(CONTACT.fields, &show, ""),
            Vec::<String>::new()
        );
        for path in [
            "/user/contacts/sync_tokens/{token}/diff",
            "/user/business_contacts/sync_tokens/{token}/diff",
        ] {
            let diff = spec::response(&doc, path, "post", "200");
            let item = &diff["properties"]["items"]["items"];
            let expected = &(&writable | &set(["id", "favorite", "change_type"]));
            assert_eq!(&set(spec::props(item)), expected, "{path}");
            assert_eq!(
                spec::compare(CONTACT.fields, item, ""),
                Vec::<String>::new()
            );
        }
    }

    #[test]
    fn business_contacts_match_the_companion_spec() {
        let doc = spec::load(COMPANION);
        let table = set(CONTACT.fields.iter().map(|f| f.name));
        let body = set(spec::props(&spec::body(&doc, "/contacts", "post")));
        assert_eq!(&body | &set(["sync_type"]), table);
        let show = spec::response(&doc, "/contacts/{id}", "get", "200");
        assert_eq!(set(spec::props(&show)), &table | &set(["id"]));
        assert_eq!(
            spec::compare(CONTACT.fields, &show, ""),
            Vec::<String>::new()
        );
    }

    #[test]
    fn extension_contacts_match_the_spec() {
        let doc = spec::load(USERS);
        let diff = spec::response(
            &doc,
            "/user/extension_contacts/sync_tokens/{token}/diff",
            "post",
            "200",
        );
        let item = set(spec::props(&diff["properties"]["items"]["items"]));
        assert_eq!(
            item,
            &set(EXTENSION_CONTACT_FIELDS.iter())
                | &set(["id", "extension_number", "favorite", "change_type"])
        );
    }

    #[test]
    fn validation_follows_the_limits() {
        let v = |j: Json, m| CONTACT.validate(&obj(j), m, CONTACT_SKIP);
        assert!(v(json!({"name": "Ann", "email": ""}), Mode::Create).is_ok());
        assert_eq!(
            v(json!({"email": "a@b"}), Mode::Create),
            Err(FieldError::new("name", "is required"))
        );
        assert_eq!(
            v(json!({"name": ""}), Mode::Update),
            Err(FieldError::new("name", "must not be empty"))
        );
        assert_eq!(
            v(json!({"notes": "x".repeat(1025)}), Mode::Update),
            Err(FieldError::new("notes", "must be at most 1024 characters"))
        );
        assert_eq!(
            v(json!({"sync_type": "Microsoft 365"}), Mode::Update),
            Err(FieldError::new("sync_type", "is read-only"))
        );
        assert_eq!(
            v(json!({"nickname": "x"}), Mode::Update),
            Err(FieldError::new("nickname", "unknown field"))
        );
    }
}
