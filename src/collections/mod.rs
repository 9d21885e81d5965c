//! Declared collections: the lists a user or a tenant keeps whose items are
//! plain field sets (a user's phones, speed dials, holidays, greetings,
//! personal contacts; a tenant's business contacts, holidays, files).
//!
//! A collection is declared once, as a [`CollectionSpec`]: its name, its
//! field table, whose lists it has, its rules (unique fields, a limit per
//! list, a cross-field check), how it is listed and how its routes are
//! laid out. Everything else is generic and driven by the declaration:
//!
//! - commands: `CreateItem`, `UpdateItem`, `DeleteItem`
//!   ([`crate::commands::items`]): the field table validates and diffs,
//!   the spec's rules are decided, one event family records it
//!   (`ItemCreated/Updated/Deleted`, naming the collection);
//! - projection: `Scope::items` (`switchboard_projections::directory::items`),
//!   one shape for every collection, per tenant and owner, with a sync change
//!   log per list; audit, history, `as_of`, replay and snapshots cover it
//!   because they cover the directory;
//! - queries: each declared collection is an indexed list
//!   ([`crate::queries::items`]) paged like every other list;
//! - routes: the PortSIP router builder ([`crate::http::portsip::items`])
//!   declares `/user/<path>…` and `/users/{id}/<path>…` (or the tenant's
//!   `/<path>…`) in the route table, each with its access.
//!
//! Adding a collection: a field table in `src/field_tables/`, a spec here
//! (a file per collection, named in [`DECLARED`]), and nothing else; see
//! ARCHITECTURE.md, "How to add a collection".
//!
//! # Layout
//! - [`contacts`]: personal and business contacts (which predate the item
//!   events and keep their own: [`Recording::Contacts`]).
//! - [`meetings`]: a user's scheduled meetings.
//! - [`settings`]: a user's phones, speed dials 8 and 100 and holidays; the
//!   tenant's holidays.

pub mod contacts;
pub mod meetings;
pub mod settings;

use crate::auth::roles::Capability;
use crate::commands::CommandError;
use crate::field_tables::{FieldError, ListType, Table};
use switchboard_events::domain::FavoriteCollection;
use switchboard_events::Fields;
use switchboard_projections::directory::Scope;
use switchboard_projections::query::Dir;

/// Whose lists a collection has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnedBy {
    /// One list per user (the user's own: `/user/<path>`).
    User,
    /// One list per tenant (`/<path>`).
    Tenant,
}

/// How a collection's facts are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    /// `ItemCreated/ItemUpdated/ItemDeleted` naming the collection (every
    /// new collection).
    Items,
    /// `ContactCreated/ContactUpdated/ContactDeleted`: contacts were recorded
    /// so before collections were declared, and their log stays as it is.
    Contacts,
}

/// How a collection is listed (`GET` of a list): the core fields the
/// item renders besides its table (`id`, a favorite flag), the default
/// order, and which fields get ordered or equality indexes.
#[derive(Debug, Clone, Copy)]
pub struct Listing {
    /// Core list fields (not in the table).
    pub core: &'static [(&'static str, ListType)],
    /// Core fields `search` reads besides the table's searchable ones.
    pub search: &'static [&'static str],
    /// The default order.
    pub default_order: &'static [(&'static str, Dir)],
    /// Ordered indexes, each by these fields then by id (the default
    /// order's, and the usual `orderby` fields followed by the default
    /// order's tie-breakers; see `IndexSpec::ordered`).
    pub ordered: &'static [&'static [&'static str]],
    /// Equality indexes (fields clients filter by).
    pub eq: &'static [&'static str],
}

/// The routes of a user-owned collection.
#[derive(Debug, Clone, Copy)]
pub struct UserRoutes {
    /// The path segment: `/user/<path>`, `/users/{id}/<path>`.
    pub path: &'static str,
    /// The administrators' routes under `/users/{id}/<path>`, if PortSIP
    /// has them: their item parameter's name and the capabilities to read
    /// and to write another user's list.
    pub admin: Option<AdminRoutes>,
}

/// The administrators' routes of a user-owned collection.
#[derive(Debug, Clone, Copy)]
pub struct AdminRoutes {
    /// The item's path parameter (`phone_id`, `dial_id`...).
    pub param: &'static str,
    /// Reading another user's list.
    pub view: Capability,
    /// Changing another user's list.
    pub manage: Capability,
}

/// The routes of a tenant-owned collection.
#[derive(Debug, Clone, Copy)]
pub struct TenantRoutes {
    /// The path segment: `/<path>`.
    pub path: &'static str,
    /// Reading the list.
    pub view: Capability,
    /// Changing it.
    pub manage: Capability,
    /// Every signed-in user reads the list (with their favorite flags) at
    /// `/user/<this>`, if set.
    pub user_view: Option<&'static str>,
}

/// Where a collection's routes are.
#[derive(Debug, Clone, Copy)]
pub enum Routing {
    /// `/user/<path>…` (and `/users/{id}/<path>…`).
    User(UserRoutes),
    /// `/<path>…` (and the users' read-only view).
    Tenant(TenantRoutes),
}

/// A rule across an item's fields: judged on the item as it would be
/// (every effective field after the change), refusing with the field at fault.
pub type Check = fn(&Table, &Fields) -> Result<(), FieldError>;

/// What a collection's items take from their tenant beyond their own
/// fields (a meeting's number in the tenant's number space, its invitees
/// among the tenant's users, its join token), judged by the item commands.
#[derive(Debug, Clone, Copy)]
pub struct TenantRules {
    /// Fills the fields the pipeline mints once, before deciding a
    /// creation (random values a decision must not draw).
    pub mint: fn(&mut Fields),
    /// Judges a new item against the tenant, completing the fields the
    /// service sets (an allocated number).
    pub create: fn(&Scope, &mut Fields) -> Result<(), CommandError>,
    /// Judges an update's effective changes against the tenant.
    pub update: fn(&Scope, &Fields) -> Result<(), CommandError>,
    /// The field of a user's item naming other users of the tenant who
    /// read it too (their `ownership` is false; they cannot change it).
    pub shared_with: Option<&'static str>,
}

impl TenantRules {
    /// Whether `attrs` (an item's) name `user` in the shared field.
    pub fn shares_with(
        &self,
        attrs: &impl switchboard_events::FieldSet,
        user: switchboard_events::Id,
    ) -> bool {
        let Some(field) = self.shared_with else {
            return false;
        };
        let me = crate::ids::render(user);
        attrs.get(field).is_some_and(|v| {
            v.as_list().is_some_and(|l| {
                l.iter()
                    .any(|v| matches!(v, switchboard_events::Value::Str(s) if *s == me))
            })
        })
    }
}

/// A declared collection (see the module docs).
pub struct CollectionSpec {
    /// Its name: what its events and lists are filed under.
    pub name: &'static str,
    /// One item, in messages (`"phone"`: 404 "phone not found").
    pub noun: &'static str,
    /// Its schema's name in the OpenAPI description (`"Phone"`); collections
    /// sharing a field table share it.
    pub schema: &'static str,
    /// Whose lists it has.
    pub owned_by: OwnedBy,
    /// Its fields.
    pub table: &'static Table,
    /// Body keys the table does not validate (rendered by the service).
    pub skip: &'static [&'static str],
    /// Body keys refused with a reason (changed elsewhere).
    pub refused: &'static [(&'static str, &'static str)],
    /// Fields whose effective values are unique within one list (a second
    /// item with the same value is 409 `ALREADY_EXISTS`).
    pub unique: &'static [&'static str],
    /// The most items one list holds (409 `LIST_FULL` beyond).
    pub max_items: usize,
    /// A rule across fields, judged on the item as it would be (all its
    /// effective fields after the change).
    pub check: Option<Check>,
    /// What its items take from their tenant, if anything.
    pub tenant: Option<TenantRules>,
    /// How it is listed.
    pub listing: Listing,
    /// The caller's favorite flag on items, if users favorite them.
    pub favorites: Option<FavoriteCollection>,
    /// How its facts are recorded.
    pub recording: Recording,
    /// Where its routes are.
    pub routing: Routing,
}

impl std::fmt::Debug for CollectionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CollectionSpec({})", self.name)
    }
}

impl CollectionSpec {
    /// The paths of its lists and items, as the router builder declares
    /// them (relative to the dialect's prefix): for the OpenAPI description.
    pub fn paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.routing {
            Routing::User(r) => {
                out.push(format!("/user/{}", r.path));
                out.push(format!("/user/{}/{{id}}", r.path));
                if let Some(a) = r.admin {
                    out.push(format!("/users/{{id}}/{}", r.path));
                    out.push(format!("/users/{{id}}/{}/{{{}}}", r.path, a.param));
                }
            }
            Routing::Tenant(r) => {
                out.push(format!("/{}", r.path));
                out.push(format!("/{}/{{id}}", r.path));
                if let Some(v) = r.user_view {
                    out.push(format!("/user/{v}"));
                }
            }
        }
        out
    }
}

/// Every declared collection.
pub static DECLARED: &[&CollectionSpec] = &[
    &contacts::PERSONAL,
    &contacts::BUSINESS,
    &settings::PHONES,
    &settings::SPEED_DIALS_8,
    &settings::SPEED_DIALS_100,
    &settings::USER_HOLIDAYS,
    &settings::TENANT_HOLIDAYS,
    &meetings::MEETINGS,
];

/// The declared collection called `name`.
pub fn by_name(name: &str) -> Option<&'static CollectionSpec> {
    DECLARED.iter().copied().find(|c| c.name == name)
}

/// A declared collection as commands carry it: compared and shown by name.
#[derive(Clone, Copy)]
pub struct Collection(pub &'static CollectionSpec);

impl PartialEq for Collection {
    fn eq(&self, other: &Collection) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Collection {}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

impl std::ops::Deref for Collection {
    type Target = CollectionSpec;
    fn deref(&self) -> &CollectionSpec {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_collections_have_distinct_names_and_routes() {
        let mut names = std::collections::HashSet::new();
        let mut paths = std::collections::HashSet::new();
        for c in DECLARED {
            assert!(names.insert(c.name), "{} declared twice", c.name);
            let path = match c.routing {
                Routing::User(r) => format!("/user/{}", r.path),
                Routing::Tenant(r) => format!("/{}", r.path),
            };
            assert!(paths.insert(path.clone()), "{path} declared twice");
            assert_eq!(
                matches!(c.routing, Routing::User(_)),
                c.owned_by == OwnedBy::User,
                "{}: a user's collection is routed under /user",
                c.name
            );
            assert!(c.max_items > 0, "{}", c.name);
            for f in c.unique {
                assert!(c.table.field(f).is_some(), "{}: unique {f}", c.name);
            }
            assert_eq!(by_name(c.name).map(|s| s.name), Some(c.name));
        }
    }
}
