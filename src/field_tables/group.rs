//! The user group field table, from the PortSIP v22 Users API
//! (`POST /groups`, `POST /groups/{id}`, `GET /groups/{id}`, `GET /groups`).
//!
//! `id` and `name` are core fields kept by the caller (pass [`GROUP_SKIP`] to
//! [`Table::validate`](super::Table::validate)). Group caller IDs have no
//! `preferred` flag.

use super::{Default as D, Field, Kind, ListType as L, Table};

/// Every non-core user group attribute, in `GET /groups/{id}` order.
pub static GROUP: Table = Table {
    resource: "group",
    fields: &[
        Field::new("outbound_caller_ids", Kind::CallerIds { preferred: false })
            .default(D::EmptyList),
        Field::new("description", Kind::Str { min: 0, max: 1024 })
            .summary()
            .list(L::String)
            .search(),
    ],
};

/// Names the caller handles itself: pass as `skip` to
/// [`Table::validate`](super::Table::validate).
pub static GROUP_SKIP: &[&str] = &["id", "name"];

/// Filterable core fields, to be listed before [`GROUP`]'s own list fields.
pub static GROUP_CORE_LIST: &[(&str, L)] = &[("id", L::String), ("name", L::String)];

/// Searched core fields, to be searched with [`GROUP`]'s search fields.
pub static GROUP_CORE_SEARCH: &[&str] = &["name"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_tables::test_support::{obj, set};
    use crate::field_tables::{spec, FieldError, Fields, Mode, Value};
    use serde_json::{json, Map, Value as Json};

    const USERS: &str = "portsip-users-openapi.json";

    fn validate(v: Json, mode: Mode) -> Result<Fields, FieldError> {
        GROUP.validate(&obj(v), mode, GROUP_SKIP)
    }

    #[test]
    fn spec_bodies_and_responses_match() {
        let doc = spec::load(USERS);
        let table = set(GROUP.fields.iter().map(|f| f.name));
        let core = set(GROUP_CORE_LIST.iter().map(|(n, _)| *n));
        for (path, method) in [("/groups", "post"), ("/groups/{id}", "post")] {
            let body = set(spec::props(&spec::body(&doc, path, method)));
            assert_eq!(body, &table | &set(["name"]), "{method} {path}");
        }
        let show = spec::response(&doc, "/groups/{id}", "get", "200");
        assert_eq!(set(spec::props(&show)), &table | &core);
        let list = spec::response(&doc, "/groups", "get", "200");
        let items = set(spec::props(&list["properties"]["items"]["items"]));
        assert_eq!(items, &core | &set(GROUP.summary_fields()));
        assert_eq!(spec::compare(GROUP.fields, &show, ""), Vec::<String>::new());
    }

    #[test]
    fn create_and_update() {
        let f = validate(
            json!({"name": "Sales", "description": "Sales team",
                   "outbound_caller_ids": [{"provider_id": "trunk1", "caller_id": "+4930123"}]}),
            Mode::Create,
        )
        .unwrap();
        assert_eq!(set(f.keys()), set(["description", "outbound_caller_ids"]));
        assert!(validate(json!({}), Mode::Create).unwrap().is_empty());
        let f = validate(json!({"description": null}), Mode::Update).unwrap();
        assert_eq!(f["description"], Value::Null);
    }

    #[test]
    fn errors() {
        assert_eq!(
            validate(json!({"description": "é".repeat(1025)}), Mode::Update),
            Err(FieldError::new(
                "description",
                "must be at most 1024 characters"
            ))
        );
        assert_eq!(
            validate(
                json!({"outbound_caller_ids": [{"provider_id": "t", "caller_id": "1", "preferred": true}]}),
                Mode::Update
            ),
            Err(FieldError::new(
                "outbound_caller_ids[0].preferred",
                "unknown field"
            ))
        );
        assert_eq!(
            validate(json!({"members": []}), Mode::Update),
            Err(FieldError::new("members", "unknown field"))
        );
    }

    #[test]
    fn render_and_summary() {
        let mut out = Map::new();
        GROUP.render(&Fields::new(), false, &mut out);
        assert_eq!(
            Json::Object(out),
            json!({"outbound_caller_ids": [], "description": null})
        );
        let mut out = Map::new();
        GROUP.render(&Fields::new(), true, &mut out);
        assert_eq!(Json::Object(out), json!({"description": null}));
        assert_eq!(GROUP.list_fields(), vec![("description", L::String)]);
        assert_eq!(GROUP.search_fields(), vec!["description"]);
    }

    #[test]
    fn diff() {
        let current = Fields::new();
        let same = validate(json!({"outbound_caller_ids": []}), Mode::Update).unwrap();
        assert!(GROUP.diff(&current, &same).is_empty());
        let changed = validate(json!({"description": "x"}), Mode::Update).unwrap();
        assert_eq!(GROUP.diff(&current, &changed).len(), 1);
    }
}
