//! Declared collections ([`crate::collections`]) as indexed lists: one
//! [`Collection`] for all of them, driven by the declaration (its listing:
//! core fields, default order, indexes; its field table for every other
//! listed field). A new collection is indexed by naming a [`DeclaredList`]
//! of it in [`super::collection::COLLECTIONS`].

use super::collection::{Affected, Collection, Item, Owner, TableRow};
use super::collections::tenant_lists;
use super::lists::schema_from_table;
use crate::collections::{CollectionSpec, OwnedBy, Recording, DECLARED};
use std::collections::HashMap;
use std::sync::LazyLock;
use switchboard_events::domain::ContactOwner;
use switchboard_events::{Envelope, Event, Id, TenantId};
use switchboard_projections::directory::items::ItemView;
use switchboard_projections::directory::Scope;
use switchboard_projections::pmap::PMap;
use switchboard_projections::query::index::IndexSpec;
use switchboard_projections::query::{ListSchema, Scalar};
use switchboard_projections::Directory;

/// The index of every declared collection, by name. Built once; each
/// lives as long as the program (the declarations are static too).
static INDEXES: LazyLock<HashMap<&'static str, &'static IndexSpec>> = LazyLock::new(|| {
    DECLARED
        .iter()
        .map(|c| {
            let l = c.listing;
            let schema: &'static ListSchema = Box::leak(Box::new(schema_from_table(
                l.core,
                l.search,
                c.table,
                l.default_order,
            )));
            let spec: &'static IndexSpec = Box::leak(Box::new(IndexSpec {
                schema,
                ordered: l.ordered,
                eq: l.eq,
            }));
            (c.name, spec)
        })
        .collect()
});

/// What a declared collection's lists index (`None`: not declared in
/// [`DECLARED`]).
pub fn index_of(spec: &CollectionSpec) -> Option<&'static IndexSpec> {
    INDEXES.get(spec.name).copied()
}

/// A declared collection's list schema (what `filter`, `orderby` and
/// `search` may use).
pub fn list_schema(spec: &CollectionSpec) -> &'static ListSchema {
    match index_of(spec) {
        Some(i) => i.schema,
        // Not in DECLARED: the declaration test fails first; an empty
        // schema here keeps every query a plain 400, never a panic.
        None => &EMPTY,
    }
}

static EMPTY: ListSchema = ListSchema {
    fields: &[],
    search: &[],
    default_order: &[],
};

static NO_INDEX: IndexSpec = IndexSpec {
    schema: &EMPTY,
    ordered: &[],
    eq: &[],
};

/// One declared collection's lists, indexed (see the module docs).
pub struct DeclaredList(pub &'static CollectionSpec);

impl DeclaredList {
    /// The declaration.
    pub fn spec(&self) -> &'static CollectionSpec {
        self.0
    }
}

/// Which item of which list an event about a declared collection names.
fn named(spec: &CollectionSpec, event: &Event) -> Option<(Owner, Id)> {
    let contact = |owner: ContactOwner, id: Id| {
        let (collection, owner) = switchboard_projections::directory::items::contact_list(owner);
        (collection == spec.name).then_some((owner, id))
    };
    let item =
        |collection: &str, owner: Owner, id: Id| (collection == spec.name).then_some((owner, id));
    match (spec.recording, event) {
        (Recording::Contacts, Event::ContactCreated(e)) => contact(e.owner, e.contact_id),
        (Recording::Contacts, Event::ContactUpdated(e)) => contact(e.owner, e.contact_id),
        (Recording::Contacts, Event::ContactDeleted(e)) => contact(e.owner, e.contact_id),
        (Recording::Items, Event::ItemCreated(e)) => item(&e.collection, e.owner, e.item_id),
        (Recording::Items, Event::ItemUpdated(e)) => item(&e.collection, e.owner, e.item_id),
        (Recording::Items, Event::ItemDeleted(e)) => item(&e.collection, e.owner, e.item_id),
        _ => None,
    }
}

impl Collection for DeclaredList {
    type At<'a> = &'a PMap<Id, ItemView>;
    type Row<'r> = TableRow<'r>;

    fn name(&self) -> &'static str {
        self.0.name
    }

    fn spec(&self) -> &'static IndexSpec {
        index_of(self.0).unwrap_or(&NO_INDEX)
    }

    fn at<'a>(
        &self,
        dir: &'a Directory,
        tenant: TenantId,
        owner: Owner,
    ) -> Option<&'a PMap<Id, ItemView>> {
        dir.scope(tenant)?
            .items
            .list(self.0.name, owner)
            .map(|l| &l.items)
    }

    fn ids<'r>(&self, at: &'r &PMap<Id, ItemView>) -> Box<dyn Iterator<Item = Id> + 'r> {
        Box::new(at.keys().copied())
    }

    fn row<'r>(
        &self,
        at: &'r &PMap<Id, ItemView>,
        id: Id,
        favorite: Option<bool>,
    ) -> Option<TableRow<'r>> {
        let core: &[(&'static str, Option<Scalar<'r>>)] = match self.0.favorites {
            Some(_) => &[("favorite", favorite.map(Scalar::Bool))],
            None => &[],
        };
        at.get(&id)
            .map(|it| TableRow::new(self.0.table, &it.attrs, it.id, core))
    }

    fn lists(&self, dir: &Directory) -> Vec<(TenantId, Owner)> {
        let name = self.0.name;
        match self.0.owned_by {
            OwnedBy::Tenant => tenant_lists(dir, |s| s.items.count(name, Owner::Tenant) > 0),
            OwnedBy::User => dir
                .scopes
                .iter()
                .flat_map(|(t, s)| {
                    s.items
                        .lists()
                        .into_iter()
                        .filter(|(c, o)| {
                            *c == name && matches!(o, Owner::User(_)) && s.items.count(c, *o) > 0
                        })
                        .map(|(_, o)| (*t, o))
                })
                .collect(),
        }
    }

    fn affected(&self, _: &Directory, env: &Envelope, event: &Event, out: &mut Vec<Affected>) {
        if let Some((owner, id)) = named(self.0, event) {
            out.push(Affected::Item(Item {
                tenant: env.tenant,
                owner,
                id,
            }));
        } else if let (OwnedBy::User, Event::UserDeleted(e)) = (self.0.owned_by, event) {
            // A deleted user's lists go with them.
            out.push(Affected::List(env.tenant, Owner::User(e.user_id)));
        }
    }
}

/// An item of a user's collection as `reader` may read it: their own
/// (`true`), or another user's that names them in the collection's shared
/// field (`false`: a meeting they are invited to). `None` otherwise.
pub fn readable<'a>(
    scope: &'a Scope,
    spec: &CollectionSpec,
    reader: Id,
    id: Id,
) -> Option<(&'a ItemView, bool)> {
    if let Some(own) = scope.items.get(spec.name, Owner::User(reader), id) {
        return Some((own, true));
    }
    let rules = spec.tenant.filter(|t| t.shared_with.is_some())?;
    let (collection, owner) = scope.items.owners.get(&id)?;
    if collection != spec.name {
        return None;
    }
    let it = scope.items.get(spec.name, *owner, id)?;
    rules.shares_with(&it.attrs, reader).then_some((it, false))
}

/// Every item of a user's collection `reader` may read: their own list,
/// then every other user's item naming them in the shared field (a scan
/// of the tenant's lists of this collection).
pub fn readable_all<'a>(
    scope: &'a Scope,
    spec: &CollectionSpec,
    reader: Id,
) -> Vec<(&'a ItemView, bool)> {
    let own = Owner::User(reader);
    let mut out: Vec<(&ItemView, bool)> = scope
        .items
        .items(spec.name, own)
        .map(|i| (i, true))
        .collect();
    let Some(rules) = spec.tenant.filter(|t| t.shared_with.is_some()) else {
        return out;
    };
    if let Some(lists) = scope.items.collections.get(spec.name) {
        for (user, list) in lists.users.iter() {
            if *user == reader {
                continue;
            }
            out.extend(
                list.items
                    .values()
                    .filter(|i| rules.shares_with(&i.attrs, reader))
                    .map(|i| (i, false)),
            );
        }
    }
    out
}

/// The list schema of a collection whose items are shared: its own, plus
/// the rendered `ownership` flag (`filter=ownership eq false`: the items
/// one is invited to).
pub fn shared_schema(spec: &CollectionSpec) -> &'static ListSchema {
    static SHARED: LazyLock<HashMap<&'static str, &'static ListSchema>> = LazyLock::new(|| {
        DECLARED
            .iter()
            .filter(|c| c.tenant.is_some_and(|t| t.shared_with.is_some()))
            .map(|c| {
                let l = c.listing;
                let mut core = l.core.to_vec();
                core.push(("ownership", crate::field_tables::ListType::Bool));
                let schema: &'static ListSchema = Box::leak(Box::new(schema_from_table(
                    &core,
                    l.search,
                    c.table,
                    l.default_order,
                )));
                (c.name, schema)
            })
            .collect()
    });
    SHARED.get(spec.name).copied().unwrap_or(&EMPTY)
}
