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
use crate::snapshots::ReplayRetainer;
use std::ops::Deref;
use std::sync::Arc;
use switchboard_events::{Envelope, EnvelopeRef, Event, EventBatches, Id, TenantId};
use switchboard_projections::parallel;
use switchboard_projections::pmap::PMap;
use switchboard_projections::query::index::Move;
use switchboard_projections::runtime::replay_in_order;
use switchboard_projections::{Directory, Projection, ReplayError};

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
    /// Indexes are not kept (a replay at start-up; see [`ReadModel::deferred`]).
    deferring: bool,
    /// Keeps `as_of` copies as the start-up replay passes each retention
    /// multiple (one replay only: dropped when it finishes).
    retainer: Option<Arc<ReplayRetainer>>,
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
            deferring: false,
            retainer: None,
        }
    }

    /// A read model over `directory` that keeps no indexes until
    /// [`ReadModel::index_all`]: a replay applies events to the directory
    /// alone, then every list is indexed in one pass (sorting each order
    /// once instead of a binary search per moved item). Meanwhile lists
    /// are read by one pass over their items ([`super::collection::page`]),
    /// so every published version still answers correctly.
    pub fn deferred(directory: Directory) -> ReadModel {
        ReadModel {
            directory,
            lists: PMap::new(),
            audit: None,
            deferring: true,
            retainer: None,
        }
    }

    /// A past state (for `as_of`): never indexed; each page is read by one
    /// pass over its list ([`super::collection::page`]), which costs less
    /// than indexing the list for the one request or few a past state answers.
    pub fn past(directory: Directory) -> ReadModel {
        ReadModel::deferred(directory)
    }

    /// Indexes every list from the directory and keeps them from now on.
    pub fn index_all(&mut self) {
        let directory = std::mem::take(&mut self.directory);
        let indexed = ReadModel::new(directory);
        self.directory = indexed.directory;
        self.lists = indexed.lists;
        self.deferring = false;
    }

    /// The same model, describing every event it applies into `outbox`.
    pub fn with_audit(mut self, outbox: Arc<Outbox>) -> ReadModel {
        self.audit = Some(outbox);
        self
    }

    /// The same model, keeping `as_of` copies through `retainer` during
    /// its next replay ([`Projection::replay_finished`] drops it).
    pub fn with_retainer(mut self, retainer: Option<Arc<ReplayRetainer>>) -> ReadModel {
        self.retainer = retainer;
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

    /// Brings one list up to date after an event at `offset`: its items
    /// move in its index (or the list is indexed from the state, when it was
    /// not yet, or when the event named the whole list).
    fn refresh(
        &mut self,
        c: &'static dyn Maintained,
        list: (TenantId, Owner),
        moves: Vec<Move>,
        whole: bool,
        offset: u64,
    ) {
        let (tenant, owner) = list;
        let key = (tenant, c.name(), owner);
        if whole || !self.lists.contains_key(&key) {
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
        let directory = &self.directory;
        let Some(list) = self.lists.get_mut(&key) else {
            return;
        };
        c.update(directory, tenant, owner, &mut list.index, &moves);
        for m in &moves {
            list.touch(m.id, offset, m.new.is_some());
        }
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

/// What a deferred model's replay applies in order, to the whole directory:
/// events to describe for the audit index, and those after which an
/// `as_of` copy is due.
struct InOrder<'a> {
    audit: Option<&'a Outbox>,
    retainer: Option<&'a ReplayRetainer>,
}

impl parallel::Barriers for InOrder<'_> {
    fn wants(&mut self, env: &EnvelopeRef<'_>, _: &Event) -> bool {
        self.audit.is_some_and(|o| o.wants(env.offset))
            || self.retainer.is_some_and(|r| r.due(env.offset))
    }

    /// As [`ReadModel::apply_ref`] does while deferring.
    fn apply(&mut self, dir: &mut Directory, env: &EnvelopeRef<'_>, event: &Event) {
        match self.audit.filter(|o| o.wants(env.offset)) {
            Some(outbox) => {
                let env = env.to_envelope();
                outbox.describe(&env, event, dir);
                dir.apply(&env, event);
            }
            None => dir.apply_ref(env, event),
        }
        if let Some(retainer) = self.retainer {
            if retainer.due(env.offset) {
                retainer.keep(dir, env.hash);
            }
        }
    }
}

impl Projection for ReadModel {
    fn replay_started(&mut self) {
        self.directory.replay_started();
    }

    fn replay_finished(&mut self) {
        self.directory.replay_finished();
        self.retainer = None;
    }

    /// A deferred model (start-up) replays the directory with its tenants
    /// spread over threads; an event to describe for the audit index or
    /// where an `as_of` copy is due is applied to the whole directory, in
    /// order, as [`ReadModel::apply_ref`] does (a barrier of
    /// [`parallel::replay`]).
    fn replay_batches(
        &mut self,
        applied: u64,
        batches: EventBatches<'_>,
    ) -> (u64, Option<ReplayError>) {
        let threads = self.directory.threads_for_replay();
        if !self.deferring || threads <= 1 {
            return replay_in_order(self, applied, batches);
        }
        let mut barriers = InOrder {
            audit: self.audit.as_deref(),
            retainer: self.retainer.as_deref(),
        };
        parallel::replay(
            &mut self.directory,
            applied,
            batches,
            threads,
            &mut barriers,
        )
    }

    /// Without indexes to keep or a description to make (no audit outbox,
    /// or an event the audit index already holds), the directory applies
    /// the borrowed envelope itself (no owned envelope per replayed event).
    fn apply_ref(&mut self, env: &EnvelopeRef<'_>, event: &Event) {
        let describe = self.audit.as_ref().is_some_and(|o| o.wants(env.offset));
        if self.deferring && !describe {
            self.directory.apply_ref(env, event);
        } else {
            self.apply(&env.to_envelope(), event);
        }
        if let Some(retainer) = &self.retainer {
            if retainer.due(env.offset) {
                retainer.keep(&self.directory, env.hash);
            }
        }
    }

    fn apply(&mut self, env: &Envelope, event: &Event) {
        if self.deferring {
            if let Some(outbox) = &self.audit {
                outbox.describe(env, event, &self.directory);
            }
            self.directory.apply(env, event);
            return;
        }
        // What the event changes, list by list, with the items' keys before it.
        let mut lists: Vec<Changed> = Vec::new();
        let mut found = Vec::new();
        for c in COLLECTIONS {
            c.affected(&self.directory, env, event, &mut found);
            for a in found.drain(..) {
                let (list, item) = match a {
                    Affected::Item(i) => ((i.tenant, i.owner), Some(i)),
                    Affected::List(t, o) => ((t, o), None),
                };
                let at = match lists
                    .iter()
                    .position(|l| l.c.name() == c.name() && l.list == list)
                {
                    Some(at) => at,
                    None => {
                        lists.push(Changed {
                            c: *c,
                            list,
                            moves: Vec::new(),
                            whole: false,
                        });
                        lists.len() - 1
                    }
                };
                let changed = &mut lists[at];
                match item {
                    None => changed.whole = true,
                    // An item named twice moves once.
                    Some(i) if changed.moves.iter().any(|m| m.id == i.id) => {}
                    Some(i) => {
                        let indexed = self.lists.contains_key(&(list.0, c.name(), list.1));
                        changed.moves.push(Move {
                            id: i.id,
                            old: indexed.then(|| c.keys(&self.directory, i)).flatten(),
                            new: None,
                        });
                    }
                }
            }
        }
        if let Some(outbox) = &self.audit {
            outbox.describe(env, event, &self.directory);
        }
        self.directory.apply(env, event);
        if let Event::TenantDeleted(e) = event {
            self.lists
                .retain(|(tenant, _, _), _| *tenant != e.tenant_id);
        }
        for mut changed in lists {
            for m in &mut changed.moves {
                let item = Item {
                    tenant: changed.list.0,
                    owner: changed.list.1,
                    id: m.id,
                };
                m.new = changed.c.keys(&self.directory, item);
            }
            self.refresh(
                changed.c,
                changed.list,
                changed.moves,
                changed.whole,
                env.offset,
            );
        }
    }
}

/// The items of one list an event changes.
struct Changed {
    c: &'static dyn Maintained,
    list: (TenantId, Owner),
    moves: Vec<Move>,
    /// The whole list is indexed again.
    whole: bool,
}
