//! [`IdSet`]: the few ids a row links to (a user's extensions and groups,
//! an extension's users).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use switchboard_events::Id;

/// A small sorted set of ids, one allocation of exactly its ids.
///
/// A row links to one or two ids as a rule. A `BTreeSet` leaf has room for
/// eleven (~100 bytes for one id) and an `imbl::OrdSet` node for sixteen
/// plus their children (~300 bytes), per row. Inserting and removing copy
/// the ids (a few words); a row that links to thousands belongs in a
/// [`crate::pmap::PSet`] (a group's members do).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IdSet(Box<[Id]>);

impl IdSet {
    /// No ids.
    pub fn new() -> IdSet {
        IdSet::default()
    }

    /// Adds `id`; false if it was there.
    pub fn insert(&mut self, id: Id) -> bool {
        match self.0.binary_search(&id) {
            Ok(_) => false,
            Err(i) => {
                let mut v = std::mem::take(&mut self.0).into_vec();
                v.insert(i, id);
                self.0 = v.into_boxed_slice();
                true
            }
        }
    }

    /// Removes `id`; false if it was not there.
    pub fn remove(&mut self, id: &Id) -> bool {
        match self.0.binary_search(id) {
            Ok(i) => {
                let mut v = std::mem::take(&mut self.0).into_vec();
                v.remove(i);
                self.0 = v.into_boxed_slice();
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &Id) -> bool {
        self.0.binary_search(id).is_ok()
    }

    /// The ids, ascending.
    pub fn iter(&self) -> std::slice::Iter<'_, Id> {
        self.0.iter()
    }

    /// How many ids.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a IdSet {
    type Item = &'a Id;
    type IntoIter = std::slice::Iter<'a, Id>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<Id> for IdSet {
    fn from_iter<I: IntoIterator<Item = Id>>(iter: I) -> IdSet {
        let mut v: Vec<Id> = iter.into_iter().collect();
        v.sort();
        v.dedup();
        IdSet(v.into_boxed_slice())
    }
}

impl fmt::Debug for IdSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

/// Encoded as a sequence of ids (as the sets it replaced).
impl Serialize for IdSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for IdSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IdSet, D::Error> {
        Ok(Vec::<Id>::deserialize(d)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn it_behaves_as_a_btree_set() {
        let mut set = IdSet::new();
        let mut reference = BTreeSet::new();
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..3000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let id = Id(seed % 12);
            if seed.is_multiple_of(3) {
                assert_eq!(set.remove(&id), reference.remove(&id));
            } else {
                assert_eq!(set.insert(id), reference.insert(id));
            }
            assert_eq!(
                set.iter().collect::<Vec<_>>(),
                reference.iter().collect::<Vec<_>>()
            );
            assert_eq!(set.contains(&id), reference.contains(&id));
            assert_eq!(set.len(), reference.len());
        }
        crate::testing::assert_encodes_as(&set, &reference);
    }
}
