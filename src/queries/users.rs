//! Users as listed items: the administrator's user list (`GET /users`) and
//! the extension directory (`GET /user/extension_contacts`), read through
//! their indexes.
//!
//! A [`UserRow`] is the typed view of one user that filters, `search` and
//! `orderby` read: the same values the JSON rendering shows (rendered id,
//! the primary extension's number, the schema table's defaults), without
//! rendering. The handlers render only the ids of the page.

use super::lists::schema_from_table;
use super::model::ReadModel;
use crate::field_tables::user::{USER, USER_CORE_LIST, USER_CORE_SEARCH};
use std::collections::BTreeSet;
use std::sync::{LazyLock, OnceLock};
use switchboard_events::{Id, TenantId};
use switchboard_projections::directory::{Scope, UserView};
use switchboard_projections::query::index::{IdPage, IndexSpec, ListIndex, RowKeys, Source};
use switchboard_projections::query::{Dir, FieldType, ListQuery, ListSchema, Row, Scalar};

/// List schema of `GET /users`.
pub static USER_LIST: LazyLock<ListSchema> = LazyLock::new(|| {
    schema_from_table(
        USER_CORE_LIST,
        USER_CORE_SEARCH,
        &USER,
        &[("created_at", Dir::Asc), ("id", Dir::Asc)],
    )
});

/// What `GET /users` indexes: its default order and the usual sort fields,
/// and the fields administrators filter by. The extension directory walks
/// the same index (its `display_name` and `extension_number` orders, its
/// `department` filter).
pub static USER_INDEX: LazyLock<IndexSpec> = LazyLock::new(|| IndexSpec {
    schema: LazyLock::force(&USER_LIST),
    ordered: &[
        ("created_at", "id"),
        ("name", "created_at"),
        ("extension_number", "created_at"),
        ("display_name", "created_at"),
    ],
    eq: &["department", "role", "enabled"],
});

/// List schema of the extension directory.
pub static EXTENSION_CONTACT_LIST: LazyLock<ListSchema> = LazyLock::new(|| ListSchema {
    fields: &[
        ("id", FieldType::String),
        ("display_name", FieldType::String),
        ("email", FieldType::String),
        ("mobile_phone", FieldType::String),
        ("work_phone", FieldType::String),
        ("home_phone", FieldType::String),
        ("address", FieldType::String),
        ("department", FieldType::String),
        ("extension_number", FieldType::String),
        ("favorite", FieldType::Bool),
    ],
    search: &[
        "display_name",
        "email",
        "extension_number",
        "mobile_phone",
        "work_phone",
        "home_phone",
        "department",
    ],
    default_order: &[("display_name", Dir::Asc), ("id", Dir::Asc)],
});

/// One user as a list reads it.
pub struct UserRow<'a> {
    scope: &'a Scope,
    user: &'a UserView,
    /// The caller's favorite flag (the extension directory only).
    favorite: Option<bool>,
    /// Only listed extension-directory fields exist there.
    directory: bool,
    id: OnceLock<String>,
}

impl<'a> UserRow<'a> {
    /// A row of the user list.
    pub fn user(scope: &'a Scope, user: &'a UserView) -> UserRow<'a> {
        UserRow {
            scope,
            user,
            favorite: None,
            directory: false,
            id: OnceLock::new(),
        }
    }

    /// A row of the extension directory as `favorite` says the caller sees it.
    pub fn contact(scope: &'a Scope, user: &'a UserView, favorite: bool) -> UserRow<'a> {
        UserRow {
            scope,
            user,
            favorite: Some(favorite),
            directory: true,
            id: OnceLock::new(),
        }
    }
}

fn is_string(ty: Option<FieldType>) -> bool {
    matches!(ty, None | Some(FieldType::String))
}

impl Row for UserRow<'_> {
    fn value(&self, field: &str, ty: Option<FieldType>) -> Option<Scalar<'_>> {
        let u = self.user;
        match field {
            "id" if is_string(ty) => Some(Scalar::Str(
                self.id.get_or_init(|| crate::ids::render(u.id)),
            )),
            "extension_number" if is_string(ty) => {
                self.scope.extension_number_of(u).map(Scalar::Str)
            }
            "favorite" if self.directory => match ty {
                None | Some(FieldType::Bool) => self.favorite.map(Scalar::Bool),
                _ => None,
            },
            _ if self.directory => {
                if !switchboard_projections::directory::EXTENSION_CONTACT_FIELDS.contains(&field) {
                    return None;
                }
                USER.list_scalar(&u.attrs, field, ty)
            }
            "name" if is_string(ty) => Some(Scalar::Str(&u.name)),
            "role" if is_string(ty) => Some(Scalar::Str(&u.role)),
            // Rendered with second precision: compared as that instant.
            "created_at" => match ty {
                None | Some(FieldType::DateTime) => Some(Scalar::DateTime(
                    i128::from(u.stamp.created_at.unix_timestamp()) * 1_000_000_000,
                )),
                _ => None,
            },
            "id" | "name" | "role" | "extension_number" => None,
            _ => USER.list_scalar(&u.attrs, field, ty),
        }
    }
}

/// A user's keys in the user list's index.
pub fn user_row_keys(index: &ListIndex, scope: &Scope, u: &UserView) -> RowKeys {
    index.keys(&UserRow::user(scope, u))
}

/// The users of one tenant, as one of the two lists.
struct Users<'a> {
    scope: &'a Scope,
    index: &'a ListIndex,
    /// For the extension directory: the caller's favorites.
    favorites: Option<&'a BTreeSet<Id>>,
}

impl Source for Users<'_> {
    type Row<'b>
        = UserRow<'b>
    where
        Self: 'b;

    fn index(&self) -> &ListIndex {
        self.index
    }

    fn row(&self, id: Id) -> Option<UserRow<'_>> {
        let u = self.scope.users.get(&id)?;
        Some(match self.favorites {
            Some(f) => UserRow::contact(self.scope, u, f.contains(&id)),
            None => UserRow::user(self.scope, u),
        })
    }

    fn ids(&self) -> Box<dyn Iterator<Item = Id> + '_> {
        Box::new(self.scope.users.keys().copied())
    }

    fn candidates(&self, field: &str, value: Option<Scalar<'_>>) -> Option<Vec<Id>> {
        match (field, value, self.favorites) {
            ("favorite", Some(Scalar::Bool(true)), Some(f)) => Some(
                f.iter()
                    .copied()
                    .filter(|id| self.scope.users.contains_key(id))
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// A page of `GET /users` in `tenant` (empty if the tenant has no users).
pub fn user_page(model: &ReadModel, tenant: TenantId, query: &ListQuery) -> IdPage {
    match (model.scope(tenant), model.lists(tenant)) {
        (Some(scope), Some(lists)) => query.run_indexed(&Users {
            scope,
            index: &lists.users,
            favorites: None,
        }),
        _ => IdPage {
            count: 0,
            ids: Vec::new(),
        },
    }
}

/// A page of the extension directory of `tenant` as `caller` sees it.
pub fn extension_contact_page(
    model: &ReadModel,
    tenant: TenantId,
    caller: Id,
    query: &ListQuery,
) -> IdPage {
    static NONE: BTreeSet<Id> = BTreeSet::new();
    match (model.scope(tenant), model.lists(tenant)) {
        (Some(scope), Some(lists)) => query.run_indexed(&Users {
            scope,
            // The directory shares the user list's index: the fields it
            // sorts and filters by (`display_name`, `extension_number`,
            // `department`) have the same values in both; `favorite` comes
            // from the caller's favorites.
            index: &lists.users,
            favorites: Some(
                scope
                    .contacts
                    .favorites
                    .get(&caller)
                    .map_or(&NONE, |f| &f.extension),
            ),
        }),
        _ => IdPage {
            count: 0,
            ids: Vec::new(),
        },
    }
}

#[cfg(test)]
mod model_tests {
    //! Model-based test: random writes (users created, updated, renamed,
    //! renumbered, re-roled, deleted; favorites) applied through the read
    //! model's incremental index maintenance, and random list queries
    //! (filter, search, orderby, skip, top) answered by the indexes, must
    //! give exactly the pages of the reference path: rendering every item
    //! as JSON and running the query over it.

    use super::*;
    use crate::http::portsip::contacts::render_extension_contact;
    use crate::http::portsip::users::render;
    use switchboard_events::domain::*;
    use switchboard_events::{Envelope, Event, Fields, Metadata, Value};
    use switchboard_projections::query::RawListParams;
    use switchboard_projections::Projection;

    const T: Id = Id(7);

    use switchboard_projections::testing::Rng;

    const DEPARTMENTS: &[&str] = &["Ops", "Sales", "R&D", "ops"];
    const NAMES: &[&str] = &["Ann", "Bob", "ann", "Zoë", "Émile", "Bob Smith"];
    const ROLES: &[&str] = &["Admin", "StandardUser", "QueueManager"];

    fn apply(model: &mut ReadModel, at: i64, e: Event) {
        let env = Envelope {
            offset: model.offset + 1,
            stream: e.stream(),
            stream_version: 1,
            tenant: T,
            event_type: e.event_type().into(),
            schema_version: e.schema_version(),
            // Coarse times: many users share a created_at second.
            recorded_at: time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(at),
            metadata: Metadata::system("test"),
            payload: vec![],
            prev_hash: [0; 32],
            hash: [0; 32],
        };
        model.apply(&env, &e);
    }

    fn attrs(rng: &mut Rng) -> Fields {
        let mut f = Fields::new();
        if rng.below(5) > 0 {
            f.insert(
                "department".into(),
                Value::Str(rng.pick(DEPARTMENTS).into()),
            );
        }
        if rng.below(6) > 0 {
            f.insert("display_name".into(), Value::Str(rng.pick(NAMES).into()));
        }
        if rng.below(3) == 0 {
            f.insert("enabled".into(), Value::Bool(rng.below(2) == 0));
        }
        if rng.below(2) == 0 {
            f.insert(
                "email".into(),
                Value::Str(format!("u{}@example.com", rng.below(50))),
            );
        }
        f
    }

    fn query(rng: &mut Rng, directory: bool) -> RawListParams {
        let filters_users = [
            "department eq 'Ops'",
            "department eq 'Ops' and enabled eq true",
            "role eq 'Admin' or department eq 'Sales'",
            "contains(display_name, 'an')",
            "extension_number ge '105'",
            "display_name eq null",
            "department eq 'Nobody'",
            "enabled eq false and role eq 'StandardUser'",
            "not (department eq 'Ops')",
            "created_at gt '1970-01-01T00:00:20Z'",
        ];
        let filters_directory = [
            "department eq 'Ops'",
            "favorite eq true",
            "favorite eq true and department eq 'Sales'",
            "favorite eq false",
            "startswith(display_name, 'b')",
            "extension_number eq null",
        ];
        let orders_users = [
            "name",
            "name desc",
            "display_name",
            "display_name desc",
            "extension_number",
            "extension_number desc",
            "created_at desc",
            "created_at",
            "department, name desc",
            "enabled desc",
            "email",
            "display_name, extension_number desc",
        ];
        let orders_directory = [
            "display_name",
            "display_name desc",
            "extension_number",
            "extension_number desc",
            "favorite desc",
            "department",
        ];
        let (filters, orders): (&[&str], &[&str]) = if directory {
            (&filters_directory, &orders_directory)
        } else {
            (&filters_users, &orders_users)
        };
        let mut raw = RawListParams::default();
        if rng.below(2) == 0 {
            raw.filter = Some(rng.pick(filters).into());
        }
        if rng.below(6) == 0 {
            raw.search = Some(rng.pick(&["ann", "OPS", "10", "example"]).into());
        }
        if rng.below(4) > 0 {
            raw.orderby = Some(rng.pick(orders).into());
        }
        if rng.below(2) == 0 {
            raw.skip = Some(rng.below(40).to_string());
        }
        if rng.below(2) == 0 {
            raw.top = Some((1 + rng.below(30)).to_string());
        }
        raw
    }

    fn ids_of(items: &[serde_json::Map<String, serde_json::Value>]) -> Vec<String> {
        items
            .iter()
            .map(|m| {
                m.get("id")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    }

    /// Compares the indexed pages with the reference for a batch of queries.
    fn check(model: &ReadModel, rng: &mut Rng, caller: Id, seed: u64, step: usize) {
        let Some(scope) = model.scope(T) else { return };
        for _ in 0..20 {
            let directory = rng.below(2) == 0;
            let raw = query(rng, directory);
            let schema = if directory {
                &*EXTENSION_CONTACT_LIST
            } else {
                &*USER_LIST
            };
            let q = ListQuery::parse(&raw, schema).expect("the generated query parses");
            let fav = |id| {
                scope
                    .contacts
                    .is_favorite(caller, FavoriteCollection::Extension, id)
            };
            let (page, reference) = if directory {
                (
                    extension_contact_page(model, T, caller, &q),
                    q.run(
                        scope
                            .users
                            .values()
                            .map(|u| render_extension_contact(scope, u, fav(u.id))),
                    ),
                )
            } else {
                (
                    user_page(model, T, &q),
                    q.run(scope.users.values().map(|u| render(scope, u, true))),
                )
            };
            let got: Vec<String> = page.ids.iter().map(|id| crate::ids::render(*id)).collect();
            assert_eq!(
                (page.count, got),
                (reference.count, ids_of(&reference.items)),
                "step {step}, query {raw:?} (MODEL_SEED={seed})"
            );
        }
    }

    #[test]
    fn indexed_pages_equal_the_reference_pages() {
        let seed: u64 = std::env::var("MODEL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x11d3_c0de_5eed);
        println!("indexed list model test: MODEL_SEED={seed}");
        let mut rng = Rng(seed | 1);
        let mut model = ReadModel::default();
        let mut at = 0i64;
        let mut users: Vec<Id> = Vec::new();
        let mut extensions: Vec<Id> = Vec::new();
        let caller = Id(1);
        let mut next = 100u64;
        for step in 0..3000 {
            next += 1;
            if rng.below(4) == 0 {
                at += 1;
            }
            match rng.below(16) {
                0..=3 => {
                    let id = Id(next);
                    let attrs = attrs(&mut rng);
                    apply(
                        &mut model,
                        at,
                        Event::UserCreated(UserCreated {
                            user_id: id,
                            name: format!("user{}", rng.below(1000)),
                            role: rng.pick(ROLES).into(),
                            password_hash: "h".into(),
                            attrs,
                        }),
                    );
                    users.push(id);
                }
                4..=6 if !users.is_empty() => {
                    let user_id = users[rng.below(users.len())];
                    let mut changes = attrs(&mut rng);
                    if rng.below(4) == 0 {
                        changes.insert("department".into(), Value::Null);
                    }
                    apply(
                        &mut model,
                        at,
                        Event::UserUpdated(UserUpdated { user_id, changes }),
                    );
                }
                7 if !users.is_empty() => {
                    let user_id = users[rng.below(users.len())];
                    let role = rng.pick(ROLES).into();
                    apply(
                        &mut model,
                        at,
                        Event::UserRoleChanged(UserRoleChanged { user_id, role }),
                    );
                }
                8..=9 if !users.is_empty() => {
                    // A new extension made some user's primary.
                    let extension_id = Id(next);
                    let user_id = users[rng.below(users.len())];
                    apply(
                        &mut model,
                        at,
                        Event::ExtensionCreated(ExtensionCreated {
                            extension_id,
                            number: format!("{}", 100 + rng.below(30)),
                            name: String::new(),
                            ext_type: ExtensionType::Sip,
                            enabled: true,
                        }),
                    );
                    apply(
                        &mut model,
                        at,
                        Event::UserLinkedToExtension(UserLinkedToExtension {
                            link_id: Id(next + 500_000),
                            user_id,
                            extension_id,
                        }),
                    );
                    apply(
                        &mut model,
                        at,
                        Event::PrimaryExtensionChanged(PrimaryExtensionChanged {
                            user_id,
                            extension_id: Some(extension_id),
                        }),
                    );
                    extensions.push(extension_id);
                }
                10 if !extensions.is_empty() => {
                    let extension_id = extensions[rng.below(extensions.len())];
                    let mut changes = Fields::new();
                    changes.insert(
                        "number".into(),
                        Value::Str(format!("{}", 100 + rng.below(30))),
                    );
                    apply(
                        &mut model,
                        at,
                        Event::ExtensionUpdated(ExtensionUpdated {
                            extension_id,
                            changes,
                        }),
                    );
                }
                11 if !users.is_empty() => {
                    let user_id = users[rng.below(users.len())];
                    apply(
                        &mut model,
                        at,
                        Event::PrimaryExtensionChanged(PrimaryExtensionChanged {
                            user_id,
                            extension_id: None,
                        }),
                    );
                }
                12 if users.len() > 3 => {
                    let k = rng.below(users.len());
                    let user_id = users.swap_remove(k);
                    apply(&mut model, at, Event::UserDeleted(UserDeleted { user_id }));
                }
                13..=14 if !users.is_empty() => {
                    let item_id = users[rng.below(users.len())];
                    let on = !model.scope(T).is_some_and(|s| {
                        s.contacts
                            .is_favorite(caller, FavoriteCollection::Extension, item_id)
                    });
                    let e = if on {
                        Event::FavoriteAdded(FavoriteAdded {
                            user_id: caller,
                            collection: FavoriteCollection::Extension,
                            item_id,
                        })
                    } else {
                        Event::FavoriteRemoved(FavoriteRemoved {
                            user_id: caller,
                            collection: FavoriteCollection::Extension,
                            item_id,
                        })
                    };
                    apply(&mut model, at, e);
                }
                _ => {}
            }
            if step % 25 == 0 {
                check(&model, &mut rng, caller, seed, step);
            }
        }
        check(&model, &mut rng, caller, seed, 3000);
        // Indexes built in one pass (a snapshot loaded) answer the same.
        let rebuilt = ReadModel::new(model.directory().clone());
        for _ in 0..10 {
            check(&rebuilt, &mut rng, caller, seed, 3001);
        }
    }
}
