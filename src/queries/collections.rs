//! The indexed lists besides users (see [`super::users`]): extensions,
//! groups, roles, call queues, ring groups, tenants, business contacts and
//! personal contacts, each a [`Collection`] whose rows read the values
//! its list renders.
//!
//! Each list's schema is defined here, next to its rows and indexes, so a
//! row can never read a field the list does not declare.

use super::collection::{as_type, instant, is_string, Affected, Collection, Item, Owner, TableRow};
use super::items::DeclaredList;
use super::lists::schema_from_table;
use crate::collections::contacts;
use crate::commands::roles::{BuiltInRole, BUILT_IN};
use crate::field_tables::group::{GROUP, GROUP_CORE_LIST, GROUP_CORE_SEARCH};
use crate::field_tables::queue::{CALL_QUEUE, QUEUE_CORE_LIST, QUEUE_CORE_SEARCH, RING_GROUP};
use crate::field_tables::tenant::{TENANT, TENANT_CORE_LIST, TENANT_CORE_SEARCH};
use crate::field_tables::Table;
use std::collections::BTreeMap;
use std::sync::{LazyLock, OnceLock};
use switchboard_events::ids::ID_LIMIT;
use switchboard_events::{Attrs, Envelope, Event, Id, TenantId};
use switchboard_projections::directory::{
    ext_type_name, ExtensionView, RoleView, Scope, TenantView, SYSTEM,
};
use switchboard_projections::pmap::PMap;
use switchboard_projections::query::index::IndexSpec;
use switchboard_projections::query::{Dir, FieldType, ListSchema, Row, Scalar};
use switchboard_projections::Directory;

/// An item's rendered id, made once per row when a filter or sort reads it.
struct RenderedId(Id, OnceLock<String>);

impl RenderedId {
    fn new(id: Id) -> RenderedId {
        RenderedId(id, OnceLock::new())
    }

    fn get(&self) -> &str {
        self.1.get_or_init(|| crate::ids::render(self.0))
    }
}

/// The lists of a tenant-wide collection kept in each scope.
pub(crate) fn tenant_lists(
    dir: &Directory,
    has: impl Fn(&Scope) -> bool,
) -> Vec<(TenantId, Owner)> {
    dir.scopes
        .iter()
        .filter(|(_, s)| has(s))
        .map(|(t, _)| (*t, Owner::Tenant))
        .collect()
}

fn item(env: &Envelope, id: Id) -> Affected {
    Affected::Item(Item {
        tenant: env.tenant,
        owner: Owner::Tenant,
        id,
    })
}

// --- extensions ---------------------------------------------------------------

/// List schema of `GET /extensions`.
pub static EXTENSION_LIST: ListSchema = ListSchema {
    fields: &[
        ("id", FieldType::String),
        ("number", FieldType::String),
        ("name", FieldType::String),
        ("type", FieldType::String),
        ("enabled", FieldType::Bool),
        ("created_at", FieldType::DateTime),
    ],
    search: &["number", "name"],
    // created_at has one-second precision; the number (unique in the
    // tenant) makes the default order deterministic within a second.
    default_order: &[("created_at", Dir::Asc), ("number", Dir::Asc)],
};

static EXTENSION_INDEX: IndexSpec = IndexSpec {
    schema: &EXTENSION_LIST,
    ordered: &[&["created_at", "number"], &["number", "created_at"]],
    eq: &["type", "enabled"],
};

/// A tenant's extensions (`GET /extensions`).
pub struct Extensions;
/// The extension list.
pub static EXTENSIONS: Extensions = Extensions;

/// An extension as its list reads it.
pub struct ExtensionRow<'r> {
    x: &'r ExtensionView,
    id: RenderedId,
}

impl Row for ExtensionRow<'_> {
    fn value(&self, field: &str, ty: Option<FieldType>) -> Option<Scalar<'_>> {
        let x = self.x;
        match field {
            "created_at" => instant(x.stamp.created_at(), ty),
            "enabled" => {
                matches!(ty, None | Some(FieldType::Bool)).then_some(Scalar::Bool(x.enabled))
            }
            _ if !is_string(ty) => None,
            "id" => Some(Scalar::Str(self.id.get())),
            "number" => Some(Scalar::Str(&x.number)),
            "name" => Some(Scalar::Str(&x.name)),
            "type" => Some(Scalar::Str(ext_type_name(x.ext_type))),
            _ => None,
        }
    }
}

impl Collection for Extensions {
    type At<'a> = &'a Scope;
    type Row<'r> = ExtensionRow<'r>;

    fn name(&self) -> &'static str {
        "extensions"
    }

    fn spec(&self) -> &'static IndexSpec {
        &EXTENSION_INDEX
    }

    fn at<'a>(&self, dir: &'a Directory, tenant: TenantId, _: Owner) -> Option<&'a Scope> {
        dir.scope(tenant)
    }

    fn ids<'r>(&self, at: &'r &Scope) -> Box<dyn Iterator<Item = Id> + 'r> {
        Box::new(at.extensions.keys().copied())
    }

    fn row<'r>(&self, at: &'r &Scope, id: Id, _: Option<bool>) -> Option<ExtensionRow<'r>> {
        let x = at.extensions.get(&id)?;
        Some(ExtensionRow {
            x,
            id: RenderedId::new(id),
        })
    }

    fn lists(&self, dir: &Directory) -> Vec<(TenantId, Owner)> {
        tenant_lists(dir, |s| !s.extensions.is_empty())
    }

    fn affected(&self, _: &Directory, env: &Envelope, event: &Event, out: &mut Vec<Affected>) {
        match event {
            Event::ExtensionCreated(e) => out.push(item(env, e.extension_id)),
            Event::ExtensionUpdated(e) => out.push(item(env, e.extension_id)),
            Event::ExtensionDeleted(e) => out.push(item(env, e.extension_id)),
            _ => {}
        }
    }
}

// --- groups -------------------------------------------------------------------

/// List schema of `GET /groups`.
pub static GROUP_LIST: LazyLock<ListSchema> = LazyLock::new(|| {
    schema_from_table(
        GROUP_CORE_LIST,
        GROUP_CORE_SEARCH,
        &GROUP,
        &[("name", Dir::Asc), ("id", Dir::Asc)],
    )
});

static GROUP_INDEX: LazyLock<IndexSpec> = LazyLock::new(|| IndexSpec {
    schema: LazyLock::force(&GROUP_LIST),
    ordered: &[&["name", "id"]],
    eq: &[],
});

/// A tenant's user groups (`GET /groups`).
pub struct Groups;
/// The group list.
pub static GROUPS: Groups = Groups;

impl Collection for Groups {
    type At<'a> = &'a Scope;
    type Row<'r> = TableRow<'r>;

    fn name(&self) -> &'static str {
        "groups"
    }

    fn spec(&self) -> &'static IndexSpec {
        &GROUP_INDEX
    }

    fn at<'a>(&self, dir: &'a Directory, tenant: TenantId, _: Owner) -> Option<&'a Scope> {
        dir.scope(tenant)
    }

    fn ids<'r>(&self, at: &'r &Scope) -> Box<dyn Iterator<Item = Id> + 'r> {
        Box::new(at.groups.keys().copied())
    }

    fn row<'r>(&self, at: &'r &Scope, id: Id, _: Option<bool>) -> Option<TableRow<'r>> {
        let g = at.groups.get(&id)?;
        Some(TableRow::new(
            &GROUP,
            &g.attrs,
            id,
            &[("name", Some(Scalar::Str(&g.name)))],
        ))
    }

    fn lists(&self, dir: &Directory) -> Vec<(TenantId, Owner)> {
        tenant_lists(dir, |s| !s.groups.is_empty())
    }

    fn affected(&self, _: &Directory, env: &Envelope, event: &Event, out: &mut Vec<Affected>) {
        match event {
            Event::GroupCreated(e) => out.push(item(env, e.group_id)),
            Event::GroupUpdated(e) => out.push(item(env, e.group_id)),
            Event::GroupDeleted(e) => out.push(item(env, e.group_id)),
            _ => {}
        }
    }
}

// --- call queues and ring groups ----------------------------------------------

/// List schema of `GET /call_queues`.
pub static QUEUE_LIST: LazyLock<ListSchema> = LazyLock::new(|| {
    schema_from_table(
        QUEUE_CORE_LIST,
        QUEUE_CORE_SEARCH,
        &CALL_QUEUE,
        &[("extension_number", Dir::Asc), ("id", Dir::Asc)],
    )
});

/// List schema of `GET /ring_groups`.
pub static RING_GROUP_LIST: LazyLock<ListSchema> = LazyLock::new(|| {
    schema_from_table(
        QUEUE_CORE_LIST,
        QUEUE_CORE_SEARCH,
        &RING_GROUP,
        &[("extension_number", Dir::Asc), ("id", Dir::Asc)],
    )
});

const QUEUE_ORDERED: &[&[&str]] = &[
    &["extension_number", "id"],
    &["name", "extension_number", "id"],
];

static QUEUE_INDEX: LazyLock<IndexSpec> = LazyLock::new(|| IndexSpec {
    schema: LazyLock::force(&QUEUE_LIST),
    ordered: QUEUE_ORDERED,
    eq: &[],
});

static RING_GROUP_INDEX: LazyLock<IndexSpec> = LazyLock::new(|| IndexSpec {
    schema: LazyLock::force(&RING_GROUP_LIST),
    ordered: QUEUE_ORDERED,
    eq: &[],
});

/// A tenant's call queues (`GET /call_queues`).
pub struct CallQueues;
/// The call queue list.
pub static CALL_QUEUES: CallQueues = CallQueues;

/// A tenant's ring groups (`GET /ring_groups`).
pub struct RingGroups;
/// The ring group list.
pub static RING_GROUPS: RingGroups = RingGroups;

fn queue_row<'r>(
    table: &'static Table,
    id: Id,
    name: &'r str,
    number: &'r str,
    attrs: &'r Attrs,
) -> TableRow<'r> {
    TableRow::new(
        table,
        attrs,
        id,
        &[
            ("name", Some(Scalar::Str(name))),
            ("extension_number", Some(Scalar::Str(number))),
        ],
    )
}

impl Collection for CallQueues {
    type At<'a> = &'a Scope;
    type Row<'r> = TableRow<'r>;

    fn name(&self) -> &'static str {
        "call_queues"
    }

    fn spec(&self) -> &'static IndexSpec {
        &QUEUE_INDEX
    }

    fn at<'a>(&self, dir: &'a Directory, tenant: TenantId, _: Owner) -> Option<&'a Scope> {
        dir.scope(tenant)
    }

    fn ids<'r>(&self, at: &'r &Scope) -> Box<dyn Iterator<Item = Id> + 'r> {
        Box::new(at.call_queues.keys().copied())
    }

    fn row<'r>(&self, at: &'r &Scope, id: Id, _: Option<bool>) -> Option<TableRow<'r>> {
        let q = at.call_queues.get(&id)?;
        Some(queue_row(&CALL_QUEUE, id, &q.name, &q.number, &q.attrs))
    }

    fn lists(&self, dir: &Directory) -> Vec<(TenantId, Owner)> {
        tenant_lists(dir, |s| !s.call_queues.is_empty())
    }

    fn affected(&self, _: &Directory, env: &Envelope, event: &Event, out: &mut Vec<Affected>) {
        match event {
            Event::CallQueueCreated(e) => out.push(item(env, e.queue_id)),
            Event::CallQueueUpdated(e) => out.push(item(env, e.queue_id)),
            Event::CallQueueDeleted(e) => out.push(item(env, e.queue_id)),
            _ => {}
        }
    }
}

impl Collection for RingGroups {
    type At<'a> = &'a Scope;
    type Row<'r> = TableRow<'r>;

    fn name(&self) -> &'static str {
        "ring_groups"
    }

    fn spec(&self) -> &'static IndexSpec {
        &RING_GROUP_INDEX
    }

    fn at<'a>(&self, dir: &'a Directory, tenant: TenantId, _: Owner) -> Option<&'a Scope> {
        dir.scope(tenant)
    }

    fn ids<'r>(&self, at: &'r &Scope) -> Box<dyn Iterator<Item = Id> + 'r> {
        Box::new(at.ring_groups.keys().copied())
    }

    fn row<'r>(&self, at: &'r &Scope, id: Id, _: Option<bool>) -> Option<TableRow<'r>> {
        let g = at.ring_groups.get(&id)?;
        Some(queue_row(&RING_GROUP, id, &g.name, &g.number, &g.attrs))
    }

    fn lists(&self, dir: &Directory) -> Vec<(TenantId, Owner)> {
        tenant_lists(dir, |s| !s.ring_groups.is_empty())
    }

    fn affected(&self, _: &Directory, env: &Envelope, event: &Event, out: &mut Vec<Affected>) {
        match event {
            Event::RingGroupCreated(e) => out.push(item(env, e.ring_group_id)),
            Event::RingGroupUpdated(e) => out.push(item(env, e.ring_group_id)),
            Event::RingGroupDeleted(e) => out.push(item(env, e.ring_group_id)),
            _ => {}
        }
    }
}

// --- tenants ------------------------------------------------------------------

/// List schema of `GET /tenants`.
pub static TENANT_LIST: LazyLock<ListSchema> = LazyLock::new(|| {
    schema_from_table(
        TENANT_CORE_LIST,
        TENANT_CORE_SEARCH,
        &TENANT,
        &[("created_at", Dir::Asc), ("id", Dir::Asc)],
    )
});

static TENANT_INDEX: LazyLock<IndexSpec> = LazyLock::new(|| IndexSpec {
    schema: LazyLock::force(&TENANT_LIST),
    ordered: &[
        &["created_at", "id"],
        &["name", "created_at", "id"],
        &["domain", "created_at", "id"],
    ],
    eq: &[],
});

/// Every tenant (`GET /tenants`, the system administrator's), listed in
/// the system scope.
pub struct Tenants;
/// The tenant list.
pub static TENANTS: Tenants = Tenants;

impl Collection for Tenants {
    type At<'a> = &'a PMap<Id, TenantView>;
    type Row<'r> = TableRow<'r>;

    fn name(&self) -> &'static str {
        "tenants"
    }

    fn spec(&self) -> &'static IndexSpec {
        &TENANT_INDEX
    }

    fn at<'a>(
        &self,
        dir: &'a Directory,
        tenant: TenantId,
        _: Owner,
    ) -> Option<&'a PMap<Id, TenantView>> {
        (tenant == SYSTEM).then_some(&dir.tenants)
    }

    fn ids<'r>(&self, at: &'r &PMap<Id, TenantView>) -> Box<dyn Iterator<Item = Id> + 'r> {
        Box::new(at.keys().copied())
    }

    fn row<'r>(
        &self,
        at: &'r &PMap<Id, TenantView>,
        id: Id,
        _: Option<bool>,
    ) -> Option<TableRow<'r>> {
        let t = at.get(&id)?;
        Some(TableRow::new(
            &TENANT,
            &t.attrs,
            id,
            &[
                ("name", Some(Scalar::Str(&t.name))),
                ("domain", Some(Scalar::Str(&t.domain))),
                ("created_at", instant(t.stamp.created_at(), None)),
            ],
        ))
    }

    fn lists(&self, dir: &Directory) -> Vec<(TenantId, Owner)> {
        if dir.tenants.is_empty() {
            Vec::new()
        } else {
            vec![(SYSTEM, Owner::Tenant)]
        }
    }

    fn affected(&self, _: &Directory, _: &Envelope, event: &Event, out: &mut Vec<Affected>) {
        let id = match event {
            Event::TenantCreated(e) => e.tenant_id,
            Event::TenantUpdated(e) => e.tenant_id,
            Event::TenantDeleted(e) => e.tenant_id,
            _ => return,
        };
        out.push(Affected::Item(Item {
            tenant: SYSTEM,
            owner: Owner::Tenant,
            id,
        }));
    }
}

// --- roles --------------------------------------------------------------------

/// List schema of `GET /roles`: `{name, description}`. No default order:
/// built-in roles come first in PortSIP's order, then custom roles as
/// created.
pub static ROLE_LIST: ListSchema = ListSchema {
    fields: &[
        ("name", FieldType::String),
        ("description", FieldType::String),
    ],
    search: &["name", "description"],
    default_order: &[],
};

static ROLE_INDEX: IndexSpec = IndexSpec {
    schema: &ROLE_LIST,
    ordered: &[&["name"]],
    eq: &[],
};

/// A tenant's roles (`GET /roles`): the built-in ones, then its custom ones.
///
/// The list has no default order, so its items' ids carry the order they
/// are listed in (ties in a sort keep it): built-in role `k` is `Id(k + 1)`,
/// a custom role `Id(2^53 + the offset that created it)` (never a real id).
pub struct Roles;
/// The role list.
pub static ROLES: Roles = Roles;

/// A tenant's roles by their place in the list.
pub struct RolesAt<'a> {
    custom: BTreeMap<u64, &'a RoleView>,
}

/// A role as its list reads it.
pub struct RoleRow<'r> {
    name: &'r str,
    description: &'r str,
}

impl Row for RoleRow<'_> {
    fn value(&self, field: &str, ty: Option<FieldType>) -> Option<Scalar<'_>> {
        let s = match field {
            "name" => self.name,
            "description" => self.description,
            _ => return None,
        };
        as_type(Some(Scalar::Str(s)), ty)
    }
}

/// The id a custom role has in the role list.
pub fn role_list_id(role: &RoleView) -> Id {
    Id(ID_LIMIT + role.stamp.created_offset)
}

fn built_in_list_id(k: usize) -> Id {
    Id(k as u64 + 1)
}

impl Roles {
    /// The built-in role of a list id, if it is one.
    fn built_in(id: Id) -> Option<&'static BuiltInRole> {
        usize::try_from(id.0)
            .ok()
            .and_then(|k| k.checked_sub(1))
            .and_then(|k| BUILT_IN.get(k))
    }

    /// A tenant's role of a list id: its name and description.
    pub fn lookup<'r>(at: &'r RolesAt<'_>, id: Id) -> Option<(&'r str, &'r str)> {
        match Roles::built_in(id) {
            Some(b) => Some((b.name, b.description)),
            None => at
                .custom
                .get(&id.0)
                .map(|r| (r.name.as_str(), r.description.as_str())),
        }
    }
}

impl Collection for Roles {
    type At<'a> = RolesAt<'a>;
    type Row<'r> = RoleRow<'r>;

    fn name(&self) -> &'static str {
        "roles"
    }

    fn spec(&self) -> &'static IndexSpec {
        &ROLE_INDEX
    }

    fn at<'a>(&self, dir: &'a Directory, tenant: TenantId, _: Owner) -> Option<RolesAt<'a>> {
        let custom = dir
            .scope(tenant)
            .map(|s| s.roles.values().map(|r| (role_list_id(r).0, r)).collect())
            .unwrap_or_default();
        Some(RolesAt { custom })
    }

    fn ids<'r>(&self, at: &'r RolesAt<'_>) -> Box<dyn Iterator<Item = Id> + 'r> {
        Box::new(
            (0..BUILT_IN.len())
                .map(built_in_list_id)
                .chain(at.custom.keys().map(|k| Id(*k))),
        )
    }

    fn row<'r>(&self, at: &'r RolesAt<'_>, id: Id, _: Option<bool>) -> Option<RoleRow<'r>> {
        let (name, description) = Roles::lookup(at, id)?;
        Some(RoleRow { name, description })
    }

    fn lists(&self, dir: &Directory) -> Vec<(TenantId, Owner)> {
        tenant_lists(dir, |s| !s.roles.is_empty())
    }

    fn affected(&self, before: &Directory, env: &Envelope, event: &Event, out: &mut Vec<Affected>) {
        let existing = |role: &Id| {
            before
                .scope(env.tenant)
                .and_then(|s| s.roles.get(role))
                .map(role_list_id)
        };
        let id = match event {
            Event::RoleCreated(_) => Some(Id(ID_LIMIT + env.offset)),
            Event::RoleUpdated(e) => existing(&e.role_id),
            Event::RoleDeleted(e) => existing(&e.role_id),
            _ => None,
        };
        if let Some(id) = id {
            out.push(item(env, id));
        }
    }
}

// --- contacts -----------------------------------------------------------------

/// List schema of personal and business contacts (their declared listing).
pub static CONTACT_LIST: LazyLock<ListSchema> =
    LazyLock::new(|| *super::items::list_schema(&contacts::PERSONAL));

/// A tenant's business phonebook (`GET /contacts`, and with the caller's
/// favorite flags `GET /user/business_contacts`): a declared collection.
pub static BUSINESS_CONTACTS: DeclaredList = DeclaredList(&contacts::BUSINESS);

/// One user's personal contacts (`GET /user/contacts`, with their flags):
/// a declared collection.
pub static PERSONAL_CONTACTS: DeclaredList = DeclaredList(&contacts::PERSONAL);
