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
use crate::schema::user::{USER, USER_CORE_LIST, USER_CORE_SEARCH};
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
/// and the fields administrators filter by.
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

/// What the extension directory indexes (`favorite` is the caller's own and
/// comes from their favorites instead).
pub static EXTENSION_CONTACT_INDEX: LazyLock<IndexSpec> = LazyLock::new(|| IndexSpec {
    schema: LazyLock::force(&EXTENSION_CONTACT_LIST),
    ordered: &[("display_name", "id"), ("extension_number", "display_name")],
    eq: &["department"],
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

/// A user's keys in the extension directory's index (the caller's favorite
/// flag is not indexed).
pub fn extension_contact_row_keys(index: &ListIndex, scope: &Scope, u: &UserView) -> RowKeys {
    index.keys(&UserRow::contact(scope, u, false))
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
            index: &lists.extension_contacts,
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
