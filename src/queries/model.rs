//! The read model the projector publishes: the directory plus, per tenant,
//! the list indexes of its users.
//!
//! Indexes are kept here, beside the directory rather than inside it,
//! because their keys are what the lists show (rendered ids, field defaults
//! from the schema tables), which the pure projections do not know. They are
//! maintained in the same `apply` as the directory, for exactly the users
//! [`affected_users`] names, so a published version's indexes always match
//! its directory. They are not in the snapshot: loading one rebuilds them
//! (tens of milliseconds for 100k users).

use super::audit::Outbox;
use super::users::{user_row_keys, USER_INDEX};
use std::ops::Deref;
use std::sync::Arc;
use switchboard_events::{Envelope, Event, Id, TenantId};
use switchboard_projections::directory::classify::affected_users;
use switchboard_projections::directory::Scope;
use switchboard_projections::pmap::{PHashMap, PMap};
use switchboard_projections::query::index::{ListIndex, RowKeys};
use switchboard_projections::{Directory, Projection};

/// The list indexes of one tenant.
#[derive(Clone, Debug)]
pub struct TenantLists {
    /// `GET /users`, and `GET /user/extension_contacts` (the same users as
    /// a directory, sorted and filtered by fields both lists share).
    pub users: ListIndex,
    /// The offset of the last event that may have changed a user's listed
    /// fields, for users changed since `base`.
    touched: PHashMap<Id, u64>,
    /// The offset the indexes were built at (every user's version until
    /// it is touched).
    base: u64,
}

impl TenantLists {
    fn new(base: u64) -> TenantLists {
        TenantLists {
            users: ListIndex::new(&USER_INDEX),
            touched: PHashMap::new(),
            base,
        }
    }

    /// A version of the user's listed fields (as either list shows them,
    /// the caller's favorite flag aside): it changes whenever they may have
    /// changed, so a rendering memoized under it stays right. Versions
    /// compare within one live model's lineage, not across rebuilt ones.
    pub fn version(&self, user: Id) -> u64 {
        self.touched.get(&user).copied().unwrap_or(self.base)
    }
}

/// The directory and its list indexes, published together.
#[derive(Clone, Debug, Default)]
pub struct ReadModel {
    directory: Directory,
    lists: PMap<TenantId, TenantLists>,
    /// Where the applier describes events for the audit index (the live
    /// model only; past states rebuilt for `as_of` have none).
    audit: Option<Arc<Outbox>>,
}

impl ReadModel {
    /// A read model over `directory` (indexes built from it).
    pub fn new(directory: Directory) -> ReadModel {
        let mut lists = PMap::new();
        for (tenant, scope) in directory.scopes.iter() {
            let mut l = TenantLists::new(directory.offset);
            for u in scope.users.values() {
                l.users
                    .update(u.id, None, Some(&user_row_keys(&l.users, scope, u)));
            }
            lists.insert(*tenant, l);
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

    /// A tenant's list indexes (`None`: the tenant has no users yet).
    pub fn lists(&self, tenant: TenantId) -> Option<&TenantLists> {
        self.lists.get(&tenant)
    }

    fn keys_of(&self, tenant: TenantId, user: Id) -> Option<RowKeys> {
        let scope = self.directory.scope(tenant)?;
        let u = scope.users.get(&user)?;
        let l = self.lists.get(&tenant)?;
        Some(user_row_keys(&l.users, scope, u))
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
        let tenant = env.tenant;
        let affected = affected_users(self.directory.scope(tenant), event);
        let before: Vec<(Id, Option<RowKeys>)> = affected
            .iter()
            .map(|u| (*u, self.keys_of(tenant, *u)))
            .collect();
        if let Some(outbox) = &self.audit {
            outbox.describe(env, event, &self.directory);
        }
        self.directory.apply(env, event);
        if let Event::TenantDeleted(e) = event {
            self.lists.remove(&e.tenant_id);
        }
        if before.is_empty() {
            return;
        }
        let Some(scope) = self.directory.scope(tenant) else {
            return;
        };
        let base = self.directory.offset;
        let lists = self
            .lists
            .get_or_insert_with(tenant, || TenantLists::new(base));
        for (id, old) in before {
            if now_exists(scope, id) {
                lists.touched.insert(id, env.offset);
            } else {
                lists.touched.remove(&id);
            }
            let now = scope
                .users
                .get(&id)
                .map(|u| user_row_keys(&lists.users, scope, u));
            lists.users.update(id, old.as_ref(), now.as_ref());
        }
    }
}

fn now_exists(scope: &Scope, user: Id) -> bool {
    scope.users.contains_key(&user)
}
