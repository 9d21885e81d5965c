//! Users as listed items: the administrator's user list (`GET /users`) and
//! the extension directory (`GET /user/extension_contacts`), read through
//! their indexes.
//!
//! A [`UserRow`] is the typed view of one user that filters, `search` and
//! `orderby` read: the same values the JSON rendering shows (rendered id,
//! the primary extension's number, the schema table's defaults), without
//! rendering. The handlers render only the ids of the page.

use super::collection::{
    favorites_of, instant, is_string, page, Affected, Collection, Item, ListOf, Owner,
};
use super::lists::schema_from_table;
use super::model::ReadModel;
use crate::field_tables::user::{USER, USER_CORE_LIST, USER_CORE_SEARCH};
use std::sync::{LazyLock, OnceLock};
use switchboard_events::domain::FavoriteCollection;
use switchboard_events::{Envelope, Event, Id, TenantId};
use switchboard_projections::directory::classify::affected_users;
use switchboard_projections::directory::{Scope, UserView};
use switchboard_projections::query::index::{IdPage, IndexSpec};
use switchboard_projections::query::{Dir, FieldType, ListQuery, ListSchema, Row, Scalar};
use switchboard_projections::Directory;

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
/// the same index: its default order is `display_name, id` (so that index
/// is in the directory's order, and the user list's `orderby=display_name`
/// walks it run by run), its `extension_number` order and `department`
/// filter are the user list's.
pub static USER_INDEX: LazyLock<IndexSpec> = LazyLock::new(|| IndexSpec {
    schema: LazyLock::force(&USER_LIST),
    ordered: &[
        &["created_at", "id"],
        &["name", "created_at", "id"],
        &["extension_number", "created_at", "id"],
        &["display_name", "id"],
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
            "created_at" => instant(u.stamp.created_at(), ty),
            "id" | "name" | "role" | "extension_number" => None,
            _ => USER.list_scalar(&u.attrs, field, ty),
        }
    }
}

/// A tenant's users: the user list (`GET /users`) and, read with the
/// caller's favorite flags, the extension directory
/// (`GET /user/extension_contacts`), which walks the same index (the fields
/// it sorts and filters by — `display_name`, `extension_number`,
/// `department` — have the same values in both).
pub struct Users;
/// The users of each tenant.
pub static USERS: Users = Users;

impl Collection for Users {
    type At<'a> = &'a Scope;
    type Row<'r> = UserRow<'r>;

    fn name(&self) -> &'static str {
        "users"
    }

    fn spec(&self) -> &'static IndexSpec {
        &USER_INDEX
    }

    fn at<'a>(&self, dir: &'a Directory, tenant: TenantId, _: Owner) -> Option<&'a Scope> {
        dir.scope(tenant)
    }

    fn ids<'r>(&self, at: &'r &Scope) -> Box<dyn Iterator<Item = Id> + 'r> {
        Box::new(at.users.keys().copied())
    }

    /// With a `favorite` flag, the user as an entry of the extension directory.
    fn row<'r>(&self, at: &'r &Scope, id: Id, favorite: Option<bool>) -> Option<UserRow<'r>> {
        let u = at.users.get(&id)?;
        Some(match favorite {
            Some(f) => UserRow::contact(at, u, f),
            None => UserRow::user(at, u),
        })
    }

    fn lists(&self, dir: &Directory) -> Vec<(TenantId, Owner)> {
        dir.scopes
            .iter()
            .filter(|(_, s)| !s.users.is_empty())
            .map(|(t, _)| (*t, Owner::Tenant))
            .collect()
    }

    fn affected(&self, before: &Directory, env: &Envelope, event: &Event, out: &mut Vec<Affected>) {
        out.extend(
            affected_users(before.scope(env.tenant), event)
                .into_iter()
                .map(|id| {
                    Affected::Item(Item {
                        tenant: env.tenant,
                        owner: Owner::Tenant,
                        id,
                    })
                }),
        );
    }
}

/// A page of `GET /users` in `tenant` (empty if the tenant has no users).
pub fn user_page(model: &ReadModel, tenant: TenantId, query: &ListQuery) -> IdPage {
    page(model, &USERS, ListOf::tenant(tenant), query)
}

/// A page of the extension directory of `tenant` as `caller` sees it.
pub fn extension_contact_page(
    model: &ReadModel,
    tenant: TenantId,
    caller: Id,
    query: &ListQuery,
) -> IdPage {
    let favorites = favorites_of(model, tenant, caller, FavoriteCollection::Extension);
    page(
        model,
        &USERS,
        ListOf {
            tenant,
            owner: Owner::Tenant,
            favorites: Some(favorites),
        },
        query,
    )
}
