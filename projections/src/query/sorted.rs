//! A persistent sorted sequence of ids whose order lives outside it.
//!
//! An index holds ids only; their order is the items' values, which the
//! caller compares (reading the items' rows). The sequence is a persistent
//! vector of small sorted chunks (`Arc<[Id]>`, at most [`MAX`] ids): a
//! binary search over the chunks' first ids finds the chunk, another one
//! inside it finds the place, and a change copies that one chunk and the
//! vector's path to it. A clone (to publish a version) is O(1).
//!
//! Measured choice: `imbl::Vector<Id>` itself (an RRB tree) took ~30 µs to
//! insert an id in the middle of 100,000 (split and concatenate), ~70 µs
//! with a published clone; this takes a few µs, mostly the comparisons.

use std::cmp::Ordering;
use std::sync::Arc;
use switchboard_events::Id;

/// Most ids in a chunk (a full one is split in two).
const MAX: usize = 128;

/// Ids in an order the caller defines (see the module docs).
#[derive(Clone, Default)]
pub struct SortedIds {
    chunks: imbl::Vector<Arc<[Id]>>,
    len: usize,
}

impl PartialEq for SortedIds {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for SortedIds {}

impl std::fmt::Debug for SortedIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<Id> for SortedIds {
    /// The ids in the order given (already sorted by the caller).
    fn from_iter<I: IntoIterator<Item = Id>>(iter: I) -> Self {
        let mut chunks = imbl::Vector::new();
        let mut len = 0;
        let mut chunk = Vec::with_capacity(MAX / 2);
        for id in iter {
            chunk.push(id);
            len += 1;
            // Half-full chunks leave room to insert without splitting at once.
            if chunk.len() == MAX / 2 {
                chunks.push_back(Arc::from(std::mem::take(&mut chunk)));
            }
        }
        if !chunk.is_empty() {
            chunks.push_back(Arc::from(chunk));
        }
        SortedIds { chunks, len }
    }
}

impl SortedIds {
    /// No ids.
    pub fn new() -> SortedIds {
        SortedIds::default()
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ids in order (either way).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Id> + '_ {
        self.chunks.iter().flat_map(|c| c.iter().copied())
    }

    /// The ids at positions `start..end` (clamped).
    pub fn slice(&self, start: usize, end: usize) -> Vec<Id> {
        let end = end.min(self.len);
        if start >= end {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(end.saturating_sub(start));
        let mut at = 0;
        for c in self.chunks.iter() {
            if at >= end {
                break;
            }
            let next = at + c.len();
            if next > start {
                let from = start.saturating_sub(at);
                let to = (end - at).min(c.len());
                out.extend_from_slice(&c[from..to]);
            }
            at = next;
        }
        out
    }

    /// Where the id `cmp` describes is: `Ok((chunk, offset))` if an id
    /// compares equal, else where it would go. `cmp(probe)` is the order of
    /// `probe` relative to the wanted id.
    fn search(
        &self,
        mut cmp: impl FnMut(Id) -> Ordering,
    ) -> Result<(usize, usize), (usize, usize)> {
        if self.chunks.is_empty() {
            return Err((0, 0));
        }
        // The last chunk whose first id is not after the wanted one.
        let mut lo = 0;
        let mut hi = self.chunks.len();
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match cmp(self.chunks[mid][0]) {
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok((mid, 0)),
                Ordering::Less => lo = mid,
            }
        }
        let chunk = &self.chunks[lo];
        match chunk.binary_search_by(|probe| cmp(*probe)) {
            Ok(offset) => Ok((lo, offset)),
            Err(offset) => Err((lo, offset)),
        }
    }

    /// An id `cmp` finds equal, if any (`cmp(probe)`: the order of `probe`
    /// relative to the wanted one).
    pub fn find_by(&self, cmp: impl FnMut(Id) -> Ordering) -> Option<Id> {
        let (c, offset) = self.search(cmp).ok()?;
        self.chunks.get(c).and_then(|ids| ids.get(offset)).copied()
    }

    /// Inserts `id` where `cmp` puts it (nothing if an id compares equal).
    pub fn insert_by(&mut self, id: Id, cmp: impl FnMut(Id) -> Ordering) {
        let Err((c, offset)) = self.search(cmp) else {
            return;
        };
        self.len += 1;
        if self.chunks.is_empty() {
            self.chunks.push_back(Arc::from(vec![id]));
            return;
        }
        let old = &self.chunks[c];
        let mut ids = Vec::with_capacity(old.len() + 1);
        ids.extend_from_slice(&old[..offset]);
        ids.push(id);
        ids.extend_from_slice(&old[offset..]);
        if ids.len() > MAX {
            let right = ids.split_off(ids.len() / 2);
            self.chunks.set(c, Arc::from(ids));
            self.chunks.insert(c + 1, Arc::from(right));
        } else {
            self.chunks.set(c, Arc::from(ids));
        }
    }

    /// Removes `id`, found where `cmp` says it is (or, should the order
    /// have changed under it, by looking at every id). Whether it was there.
    pub fn remove_by(&mut self, id: Id, cmp: impl FnMut(Id) -> Ordering) -> bool {
        let found =
            match self.search(cmp) {
                Ok((c, offset)) if self.chunks[c][offset] == id => Some((c, offset)),
                _ => self.chunks.iter().enumerate().find_map(|(c, ids)| {
                    ids.iter().position(|x| *x == id).map(|offset| (c, offset))
                }),
            };
        let Some((c, offset)) = found else {
            return false;
        };
        self.len -= 1;
        let old = &self.chunks[c];
        if old.len() == 1 {
            self.chunks.remove(c);
            return true;
        }
        let mut ids = Vec::with_capacity(old.len() - 1);
        ids.extend_from_slice(&old[..offset]);
        ids.extend_from_slice(&old[offset + 1..]);
        // Merge a small chunk into its right neighbour when both fit.
        if ids.len() < MAX / 4
            && c + 1 < self.chunks.len()
            && ids.len() + self.chunks[c + 1].len() <= MAX / 2
        {
            ids.extend_from_slice(&self.chunks[c + 1]);
            self.chunks.set(c, Arc::from(ids));
            self.chunks.remove(c + 1);
        } else {
            self.chunks.set(c, Arc::from(ids));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Rng;

    /// Random inserts and removals, in an order given by a key table,
    /// against a plain sorted `Vec`.
    #[test]
    fn keeps_the_order_a_sorted_vec_keeps() {
        let mut rng = Rng(0x05ee_d1d5);
        let key = |id: Id| (id.0 * 7919) % 1000;
        let cmp =
            |target: Id| move |probe: Id| key(probe).cmp(&key(target)).then(probe.cmp(&target));
        let mut seq = SortedIds::new();
        let mut model: Vec<Id> = Vec::new();
        let mut kept = Vec::new();
        for step in 0..20_000u64 {
            if rng.below(3) > 0 || model.is_empty() {
                let id = Id(1 + rng.below(5000) as u64);
                seq.insert_by(id, cmp(id));
                if let Err(at) = model.binary_search_by(|p| cmp(id)(*p)) {
                    model.insert(at, id);
                }
            } else {
                let id = model[rng.below(model.len())];
                assert!(seq.remove_by(id, cmp(id)));
                model.retain(|x| *x != id);
            }
            if step % 997 == 0 {
                // An older version stays as it was.
                kept.push((seq.clone(), model.clone()));
                assert_eq!(seq.iter().collect::<Vec<_>>(), model, "step {step}");
                assert_eq!(seq.len(), model.len());
                let (a, b) = (rng.below(model.len() + 5), rng.below(model.len() + 5));
                let (a, b) = (a.min(b), a.max(b));
                let end = b.min(model.len());
                assert_eq!(seq.slice(a, b), model[a.min(end)..end].to_vec());
                assert!(seq.iter().rev().eq(model.iter().rev().copied()));
            }
        }
        for (s, m) in kept {
            assert_eq!(s.iter().collect::<Vec<_>>(), m);
        }
        let rebuilt: SortedIds = model.iter().copied().collect();
        assert_eq!(rebuilt, seq);
        assert!(!seq.remove_by(Id(999_999), cmp(Id(999_999))));
    }
}
