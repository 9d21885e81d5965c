//! The sync change index: per collection, the latest change offset of every
//! item, plus tombstones of deleted items.
//!
//! A sync token is a log offset `T`. A diff from `T` to the head `H` is the
//! range `(T, H]` of a collection's index: each changed item appears there
//! once (an item's older entry is removed when it changes again), so a diff
//! costs `O(log n + k)` for `k` changes, whatever the collection's size `n`.
//! Items are classified as RFC 6578 says (see [`classify`]).

use crate::pmap::{POrdMap, PSet as BTreeSet};
use imbl::Vector as VecDeque;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ops::Bound;
use switchboard_events::Id;

/// When a deleted item was created and deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// Offset of the item's creation.
    pub created_offset: u64,
    /// Offset of its deletion.
    pub deleted_offset: u64,
}

/// The change index of one collection (or of one user's favorite flags on a
/// shared collection).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChangeLog {
    /// `(offset, item)` of each item's latest change.
    by_offset: BTreeSet<(u64, Id)>,
    /// item → its latest change offset (to drop the older entry).
    latest: POrdMap<Id, u64>,
    /// Deleted items.
    tombstones: POrdMap<Id, Tombstone>,
    /// `(deleted at, unix seconds; item)` in deletion order, kept only when a
    /// retention horizon is set, so old tombstones can be pruned.
    #[serde(default)]
    expiry: VecDeque<(i64, Id)>,
    /// `by_offset` is not kept up to date (a replay, see
    /// [`ChangeLog::defer`]) until [`ChangeLog::settle`] rebuilds it from
    /// `latest`. Never set in a published or saved version.
    #[serde(skip)]
    deferred: bool,
    /// While deferred: the latest offsets recorded since, not yet in
    /// `latest` (a hash map: a replay touches a random user per event, and
    /// an insert here costs a fraction of a walk down the persistent
    /// B-tree). Folded into `latest` by [`ChangeLog::settle`]; always empty
    /// otherwise.
    #[serde(skip)]
    pending: HashMap<Id, u64, foldhash::fast::RandomState>,
}

/// Slack added to the retention horizon before a tombstone is pruned: a
/// token is issued at the projection's head, which may trail the log's
/// clock by the apply latency; a minute covers it with a wide margin.
pub const PRUNE_MARGIN_SECS: i64 = 60;

impl ChangeLog {
    /// Records that `id` changed at `offset`.
    pub fn touch(&mut self, id: Id, offset: u64) {
        if self.deferred {
            self.pending.insert(id, offset);
            return;
        }
        if let Some(old) = self.latest.insert(id, offset) {
            self.by_offset.remove(&(old, id));
        }
        self.by_offset.insert((offset, id));
    }

    /// Stops keeping the ordered index until [`ChangeLog::settle`]: a
    /// replay then records only each item's latest offset (one hash-map
    /// insert per change instead of a removal and an insertion in the
    /// ordered set and an insertion in `latest` as well) and `latest` and
    /// the order are brought up to date once at the end. Diffs must not be
    /// read in between.
    pub fn defer(&mut self) {
        self.deferred = true;
    }

    /// Rebuilds the ordered index from the latest offsets, if deferred.
    pub fn settle(&mut self) {
        if !std::mem::take(&mut self.deferred) {
            return;
        }
        let mut pending: Vec<(Id, u64)> = std::mem::take(&mut self.pending).into_iter().collect();
        pending.sort_unstable();
        for (id, offset) in pending {
            self.latest.insert(id, offset);
        }
        let mut ordered: Vec<(u64, Id)> = self.latest.iter().map(|(id, o)| (*o, *id)).collect();
        ordered.sort_unstable();
        self.by_offset = ordered.into_iter().collect();
    }

    /// Records that `id` was created at `offset`.
    pub fn created(&mut self, id: Id, offset: u64) {
        self.tombstones.remove(&id);
        self.touch(id, offset);
    }

    /// Records that `id`, created at `created_offset`, was deleted at
    /// `offset` (recorded at unix second `at`). With a retention horizon
    /// (`retention_secs` > 0), tombstones deleted more than the horizon (plus
    /// [`PRUNE_MARGIN_SECS`]) before `at` are pruned first: no unexpired token
    /// can reach back to them (the token check refuses older tokens with
    /// `SYNC_TOKEN_EXPIRED`), so only their memory goes.
    pub fn deleted(
        &mut self,
        id: Id,
        created_offset: u64,
        offset: u64,
        at: i64,
        retention_secs: u64,
    ) {
        if retention_secs > 0 {
            let horizon = i64::try_from(retention_secs).unwrap_or(i64::MAX);
            self.prune(at.saturating_sub(horizon).saturating_sub(PRUNE_MARGIN_SECS));
            self.expiry.push_back((at, id));
        }
        self.touch(id, offset);
        self.tombstones.insert(
            id,
            Tombstone {
                created_offset,
                deleted_offset: offset,
            },
        );
    }

    /// Forgets tombstones (and their index entries) of items deleted before
    /// unix second `before`. Returns how many were pruned.
    pub fn prune(&mut self, before: i64) -> usize {
        let mut pruned = 0;
        while let Some(&(at, id)) = self.expiry.front() {
            if at >= before {
                break;
            }
            self.expiry.pop_front();
            // An id re-created since its deletion has no tombstone any more,
            // and its index entry belongs to the live item: keep it.
            if self.tombstones.remove(&id).is_some() {
                self.pending.remove(&id);
                if let Some(offset) = self.latest.remove(&id) {
                    if !self.deferred {
                        self.by_offset.remove(&(offset, id));
                    }
                }
                pruned += 1;
            }
        }
        pruned
    }

    /// Number of tombstones held.
    pub fn tombstone_count(&self) -> usize {
        self.tombstones.len()
    }

    /// The tombstone of a deleted item.
    pub fn tombstone(&self, id: Id) -> Option<Tombstone> {
        self.tombstones.get(&id).copied()
    }

    /// Number of indexed items (live and deleted).
    pub fn len(&self) -> usize {
        // Pending ids (a replay in progress) may be in `latest` already.
        let new = self
            .pending
            .keys()
            .filter(|id| !self.latest.contains_key(*id))
            .count();
        self.latest.len() + new
    }

    /// Whether nothing was ever indexed.
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty() && self.pending.is_empty()
    }

    /// Entries strictly after `after` and at or before `head`, in order.
    pub fn range(&self, after: (u64, Id), head: u64) -> impl Iterator<Item = (u64, Id)> + '_ {
        debug_assert!(!self.deferred, "a deferred change index is read");
        self.by_offset
            .range((
                Bound::Excluded(after),
                Bound::Included((head, Id(u64::MAX))),
            ))
            .copied()
    }
}

/// The change indexes of one tenant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChangeIndex {
    /// The extension directory (the tenant's users), tenant-wide.
    pub extension: ChangeLog,
    /// Per user: their favorite flag changes on business contacts.
    pub business_favorites: POrdMap<Id, ChangeLog>,
    /// Per user: their favorite flag changes on extension contacts.
    pub extension_favorites: POrdMap<Id, ChangeLog>,
}

/// RFC 6578 change types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeType {
    /// Created after the token and still present.
    Created,
    /// Existed at the token and changed (fields or the caller's favorite flag).
    Updated,
    /// Existed at the token and is gone.
    Deleted,
}

impl ChangeType {
    /// The wire name (`CREATED`, `UPDATED`, `DELETED`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Created => "CREATED",
            ChangeType::Updated => "UPDATED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One entry of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The item.
    pub id: Id,
    /// Its latest change offset within the diff's range (the page cursor).
    pub offset: u64,
    /// What happened to it since the token.
    pub change_type: ChangeType,
}

/// A page of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiffPage {
    /// The changes, ordered by `(offset, id)`.
    pub changes: Vec<Change>,
    /// Whether more changes follow (within the same `(since, head]`).
    pub has_more: bool,
}

/// What a diff is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffRequest {
    /// The token's offset `T`.
    pub since: u64,
    /// The page cursor: only entries after this `(offset, id)`; `None` = from `T`.
    pub after: Option<(u64, Id)>,
    /// The head `H` the diff runs to.
    pub head: u64,
    /// Page size (`None` = everything).
    pub top: Option<usize>,
}

/// Classifies an item that has a change in `(since, head]`: `created_of`
/// gives a present item's creation offset; `tombstone` a deleted item's.
/// Items created and deleted after `since` are skipped (`None`).
pub fn classify(
    since: u64,
    created_of: Option<u64>,
    tombstone: Option<Tombstone>,
) -> Option<ChangeType> {
    match created_of {
        Some(c) if c > since => Some(ChangeType::Created),
        Some(_) => Some(ChangeType::Updated),
        None => match tombstone {
            Some(t) if t.created_offset <= since && since < t.deleted_offset => {
                Some(ChangeType::Deleted)
            }
            _ => None,
        },
    }
}

/// Computes a diff page over `main` (the collection, holding tombstones) and
/// `extra` (the caller's favorite flag changes on it, if any). Each item
/// appears at most once, at its latest change offset in range; cost is
/// proportional to the number of changes after the cursor.
pub fn diff(
    main: Option<&ChangeLog>,
    extra: Option<&ChangeLog>,
    req: DiffRequest,
    created_of: impl Fn(Id) -> Option<u64>,
) -> DiffPage {
    let after = req.after.unwrap_or((req.since, Id(u64::MAX)));
    let mut latest: POrdMap<Id, u64> = POrdMap::new();
    for log in [main, extra].into_iter().flatten() {
        for (offset, id) in log.range(after, req.head) {
            let slot = latest.entry(id).or_insert(offset);
            *slot = (*slot).max(offset);
        }
    }
    let mut ordered: Vec<(u64, Id)> = latest.into_iter().map(|(id, o)| (o, id)).collect();
    ordered.sort_unstable();
    let limit = req.top.unwrap_or(usize::MAX);
    let mut page = DiffPage::default();
    for (offset, id) in ordered {
        let tomb = main.and_then(|m| m.tombstone(id));
        let Some(change_type) = classify(req.since, created_of(id), tomb) else {
            continue;
        };
        if page.changes.len() == limit {
            page.has_more = true;
            break;
        }
        page.changes.push(Change {
            id,
            offset,
            change_type,
        });
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(since: u64, head: u64) -> DiffRequest {
        DiffRequest {
            since,
            after: None,
            head,
            top: None,
        }
    }

    #[test]
    fn each_item_once_with_rfc6578_types() {
        let mut log = ChangeLog::default();
        let mut created = POrdMap::new();
        // A created at 1, B at 2, C at 3.
        for (o, id) in [(1, Id(10)), (2, Id(20)), (3, Id(30))] {
            log.created(id, o);
            created.insert(id, o);
        }
        // Token at 3. A updated twice, B deleted, D created, E created+deleted.
        log.touch(Id(10), 4);
        log.touch(Id(10), 5);
        log.deleted(Id(20), 2, 6, 0, 0);
        created.remove(&Id(20));
        log.created(Id(40), 7);
        created.insert(Id(40), 7);
        log.created(Id(50), 8);
        log.deleted(Id(50), 8, 9, 0, 0);
        let page = diff(Some(&log), None, req(3, 9), |id| created.get(&id).copied());
        let got: Vec<(Id, ChangeType)> =
            page.changes.iter().map(|c| (c.id, c.change_type)).collect();
        assert_eq!(
            got,
            vec![
                (Id(10), ChangeType::Updated),
                (Id(20), ChangeType::Deleted),
                (Id(40), ChangeType::Created)
            ]
        );
        assert!(!page.has_more);
        assert_eq!(log.len(), 5, "one entry per item");
        // Paging: one at a time, resuming after the cursor.
        let mut after = None;
        let mut seen = Vec::new();
        loop {
            let p = diff(
                Some(&log),
                None,
                DiffRequest {
                    after,
                    top: Some(1),
                    ..req(3, 9)
                },
                |id| created.get(&id).copied(),
            );
            seen.extend(p.changes.iter().map(|c| c.id));
            after = p.changes.last().map(|c| (c.offset, c.id));
            if !p.has_more {
                break;
            }
        }
        assert_eq!(seen, vec![Id(10), Id(20), Id(40)]);
    }

    #[test]
    fn tombstones_beyond_the_horizon_are_pruned() {
        let mut log = ChangeLog::default();
        log.created(Id(1), 1);
        log.created(Id(2), 2);
        log.created(Id(3), 3);
        // Deleted at t=1000 and t=1100 with a 100 s horizon.
        log.deleted(Id(1), 1, 4, 1000, 100);
        log.deleted(Id(2), 2, 5, 1100, 100);
        assert_eq!(log.tombstone_count(), 2);
        // At t=1161 the first is 161 s old: beyond 100 + 60 s of margin.
        log.deleted(Id(3), 3, 6, 1161, 100);
        assert_eq!(log.tombstone_count(), 2);
        assert!(log.tombstone(Id(1)).is_none());
        assert_eq!(log.len(), 2, "its index entry went with it");
        // Without a horizon nothing is queued or pruned.
        let mut forever = ChangeLog::default();
        forever.created(Id(1), 1);
        forever.deleted(Id(1), 1, 2, 0, 0);
        assert_eq!(forever.prune(i64::MAX), 0);
        assert_eq!(forever.tombstone_count(), 1);
    }

    #[test]
    fn favorite_flags_merge_with_the_collection() {
        let mut main = ChangeLog::default();
        main.created(Id(1), 1);
        main.created(Id(2), 2);
        let mut fav = ChangeLog::default();
        fav.touch(Id(1), 3);
        main.touch(Id(1), 4);
        let created = |id: Id| Some(id.0);
        let p = diff(Some(&main), Some(&fav), req(2, 4), created);
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].offset, 4);
        assert_eq!(p.changes[0].change_type, ChangeType::Updated);
        let p = diff(Some(&main), Some(&fav), req(0, 3), created);
        assert_eq!(
            p.changes.len(),
            2,
            "created items, favorite change folded in"
        );
    }
}
