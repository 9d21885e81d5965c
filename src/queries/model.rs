//! The read model the projector publishes: the directory plus the indexes
//! of its lists (every [`Collection`](super::collection::Collection) in
//! [`COLLECTIONS`]).
//!
//! Indexes are kept here, beside the directory rather than inside it,
//! because their keys are what the lists show (rendered ids, field defaults
//! from the schema tables), which the pure projections do not know. They are
//! maintained in the same `apply` as the directory, for exactly the items
//! each collection's `affected` names, so a published version's indexes
//! always match its directory. They are not in the snapshot: loading one
//! rebuilds them (tens of milliseconds for 100k users).

use super::audit::Outbox;
use super::collection::{Affected, IndexedList, Item, Maintained, Owner, COLLECTIONS};
use std::ops::Deref;
use std::sync::Arc;
use switchboard_events::{Envelope, Event, Id, TenantId};
use switchboard_projections::pmap::PMap;
use switchboard_projections::query::index::RowKeys;
use switchboard_projections::{Directory, Projection};

/// Which list: its tenant, its collection and its owner.
type ListKey = (TenantId, &'static str, Owner);

/// The directory and its list indexes, published together.
#[derive(Clone, Debug, Default)]
pub struct ReadModel {
    directory: Directory,
    lists: PMap<ListKey, IndexedList>,
    /// Where the applier describes events for the audit index (the live
    /// model only; past states rebuilt for `as_of` have none).
    audit: Option<Arc<Outbox>>,
}

impl ReadModel {
    /// A read model over `directory` (indexes built from it).
    pub fn new(directory: Directory) -> ReadModel {
        let mut lists = PMap::new();
        for c in COLLECTIONS {
            for (tenant, owner) in c.lists(&directory) {
                if let Some(index) = c.build(&directory, tenant, owner) {
                    lists.insert(
                        (tenant, c.name(), owner),
                        IndexedList::new(index, directory.offset),
                    );
                }
            }
        }
        ReadModel {
            directory,
            lists,
            audit: None,
        }
    }

    /// The same model, describing every event it applies into `outbox`.
    pub fn with_audit(mut self, outbox: Arc<Outbox>) -> ReadModel {
        self.audit = Some(outbox);
        self
    }

    /// The directory.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// One list's index (`None`: not indexed, see
    /// [`page`](super::collection::page)).
    pub fn list(
        &self,
        collection: &'static str,
        tenant: TenantId,
        owner: Owner,
    ) -> Option<&IndexedList> {
        self.lists.get(&(tenant, collection, owner))
    }

    /// The version of an item as its list shows it (see
    /// [`IndexedList::version`]); for a list that is not indexed, the
    /// directory's offset.
    pub fn version(&self, collection: &'static str, tenant: TenantId, owner: Owner, id: Id) -> u64 {
        self.list(collection, tenant, owner)
            .map_or(self.directory.offset, |l| l.version(id))
    }

    /// The lists `affected` names, with their items' keys before the event.
    fn before(&self, affected: &[(&'static dyn Maintained, Affected)]) -> Vec<Option<RowKeys>> {
        affected
            .iter()
            .map(|(c, a)| match a {
                Affected::Item(item) => {
                    let list = self.lists.get(&(item.tenant, c.name(), item.owner))?;
                    c.keys(&self.directory, *item, &list.index)
                }
                Affected::List(..) => None,
            })
            .collect()
    }

    /// Brings one list up to date after an event at `offset`: an item
    /// moves in its index (or the list is indexed from the state, when it
    /// was not yet), a whole list is indexed again.
    fn refresh(
        &mut self,
        c: &'static dyn Maintained,
        a: Affected,
        old: Option<RowKeys>,
        offset: u64,
    ) {
        let (tenant, owner) = match a {
            Affected::Item(Item { tenant, owner, .. }) | Affected::List(tenant, owner) => {
                (tenant, owner)
            }
        };
        let key = (tenant, c.name(), owner);
        let item = match a {
            Affected::Item(item) if self.lists.contains_key(&key) => item,
            _ => {
                match c.build(&self.directory, tenant, owner) {
                    Some(index) => {
                        self.lists.insert(key, IndexedList::new(index, offset));
                    }
                    None => {
                        self.lists.remove(&key);
                    }
                }
                return;
            }
        };
        let directory = &self.directory;
        let Some(list) = self.lists.get_mut(&key) else {
            return;
        };
        let new = c.keys(directory, item, &list.index);
        list.index.update(item.id, old.as_ref(), new.as_ref());
        list.touch(item.id, offset, new.is_some());
        if list.index.is_empty() {
            self.lists.remove(&key);
        }
    }
}

impl Deref for ReadModel {
    type Target = Directory;

    fn deref(&self) -> &Directory {
        &self.directory
    }
}

impl AsRef<Directory> for ReadModel {
    fn as_ref(&self) -> &Directory {
        &self.directory
    }
}

impl Projection for ReadModel {
    fn apply(&mut self, env: &Envelope, event: &Event) {
        let mut affected: Vec<(&'static dyn Maintained, Affected)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut found = Vec::new();
        for c in COLLECTIONS {
            c.affected(&self.directory, env, event, &mut found);
            for a in found.drain(..) {
                // An item named twice moves once.
                if seen.insert((c.name(), a)) {
                    affected.push((*c, a));
                }
            }
        }
        let before = self.before(&affected);
        if let Some(outbox) = &self.audit {
            outbox.describe(env, event, &self.directory);
        }
        self.directory.apply(env, event);
        if let Event::TenantDeleted(e) = event {
            self.lists
                .retain(|(tenant, _, _), _| *tenant != e.tenant_id);
        }
        // Lists indexed from the state during this event already show it.
        let mut indexed: Vec<(&'static str, TenantId, Owner)> = Vec::new();
        for ((c, a), old) in affected.into_iter().zip(before) {
            let (tenant, owner) = match a {
                Affected::Item(i) => (i.tenant, i.owner),
                Affected::List(t, o) => (t, o),
            };
            if indexed.contains(&(c.name(), tenant, owner)) {
                continue;
            }
            let existed = self.lists.contains_key(&(tenant, c.name(), owner));
            if !existed || matches!(a, Affected::List(..)) {
                indexed.push((c.name(), tenant, owner));
            }
            self.refresh(c, a, old, env.offset);
        }
    }
}
