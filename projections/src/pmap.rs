//! Persistent (structurally shared) collections for read models that are
//! published by pointer swap.
//!
//! The projector publishes a new version of the directory after every
//! applied batch (see [`crate::runtime`]). That is only cheap if cloning the
//! directory is O(1) and a change copies only the path to what changed, so
//! every collection a [`crate::Directory`] holds is persistent:
//! [`imbl`]'s B-tree ([`PMap`], [`PSet`]) and hash trie ([`PHashMap`]).
//!
//! [`PMap`] keeps its values behind an `Arc`: a B-tree node copy (16 entries)
//! then copies 16 pointers instead of 16 users with their attribute maps,
//! and changing one entry clones only that entry ([`Arc::make_mut`]).

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::RangeBounds;
use std::sync::Arc;

/// A persistent hash map (small values: ids, owners).
pub type PHashMap<K, V> = imbl::HashMap<K, V>;

/// A persistent ordered map of small values kept inline (names and numbers
/// → ids, change offsets): the indexes with one entry per user. imbl's hash
/// trie allocates its 32-slot nodes whole, and at 100k keys most of the
/// lowest ones hold two or three entries: 205–238 bytes per entry measured
/// (`benches/read_memory.rs`), against ~60 for this B-tree's 16-entry nodes.
/// A lookup walks four or five nodes instead of hashing; replay measured no
/// slower (BENCHMARKS.md, "Compact rows"; reads were not re-measured).
pub type POrdMap<K, V> = imbl::OrdMap<K, V>;

/// A persistent ordered set.
pub type PSet<T> = imbl::OrdSet<T>;

/// A persistent ordered map whose values are shared (`Arc`) between versions.
pub struct PMap<K: Ord + Clone, V>(imbl::OrdMap<K, Arc<V>>);

impl<K: Ord + Clone, V> Clone for PMap<K, V> {
    fn clone(&self) -> Self {
        PMap(self.0.clone())
    }
}

impl<K: Ord + Clone, V> Default for PMap<K, V> {
    fn default() -> Self {
        PMap(imbl::OrdMap::new())
    }
}

impl<K: Ord + Clone + fmt::Debug, V: fmt::Debug> fmt::Debug for PMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Ord + Clone, V: PartialEq> PartialEq for PMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl<K: Ord + Clone, V> PMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.get(key).map(|v| &**v)
    }

    /// The shared value of `key` (cheap to keep beyond this version).
    pub fn get_arc<Q>(&self, key: &Q) -> Option<&Arc<V>>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.get(key)
    }

    /// Whether `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.contains_key(key)
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: K, value: V) -> Option<Arc<V>> {
        self.0.insert(key, Arc::new(value))
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + '_ {
        self.0.iter().map(|(k, v)| (k, &**v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + '_ {
        self.0.keys()
    }

    /// Values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + '_ {
        self.0.values().map(|v| &**v)
    }

    /// Entries whose keys fall in `range`, in order.
    pub fn range<R, Q>(&self, range: R) -> impl DoubleEndedIterator<Item = (&K, &V)> + '_
    where
        R: RangeBounds<Q>,
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.range(range).map(|(k, v)| (k, &**v))
    }
}

impl<K: Ord + Clone, V: Clone> PMap<K, V> {
    /// Mutable access to one value; clones that value (only) if another
    /// version still shares it.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.get_mut(key).map(Arc::make_mut)
    }

    /// The value of `key`, inserting `make()` first if absent.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        Arc::make_mut(self.0.entry(key).or_insert_with(|| Arc::new(make())))
    }

    /// Removes `key`; returns its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.remove(key).map(Arc::unwrap_or_clone)
    }

    /// Keeps only the entries `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        let gone: Vec<K> = self
            .iter()
            .filter(|(k, v)| !keep(k, v))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.0.remove(&k);
        }
    }

    /// Applies `change` to the values `wanted` selects, copying only those.
    pub fn update_where(&mut self, wanted: impl Fn(&V) -> bool, mut change: impl FnMut(&mut V)) {
        let keys: Vec<K> = self
            .iter()
            .filter(|(_, v)| wanted(v))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            if let Some(v) = self.get_mut(&k) {
                change(v);
            }
        }
    }
}

/// Like `BTreeMap`'s: panics if the key is absent (callers check first).
impl<K: Ord + Clone + Borrow<Q>, Q: Ord + ?Sized, V> std::ops::Index<&Q> for PMap<K, V> {
    type Output = V;
    fn index(&self, key: &Q) -> &V {
        match self.get(key) {
            Some(v) => v,
            None => panic!("PMap: no entry for the key"),
        }
    }
}

impl<'a, K: Ord + Clone, V> IntoIterator for &'a PMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Box<dyn DoubleEndedIterator<Item = (&'a K, &'a V)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<K: Ord + Clone, V> FromIterator<(K, V)> for PMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        PMap(iter.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

/// Serialized exactly like a `BTreeMap` (a map in key order), so snapshots
/// and canonical JSON keep their format.
impl<K: Ord + Clone + Serialize, V: Serialize> Serialize for PMap<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de, K, V> Deserialize<'de> for PMap<K, V>
where
    K: Ord + Clone + Deserialize<'de>,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Seen<K, V>(PhantomData<(K, V)>);
        impl<'de, K, V> Visitor<'de> for Seen<K, V>
        where
            K: Ord + Clone + Deserialize<'de>,
            V: Deserialize<'de>,
        {
            type Value = PMap<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut out = imbl::OrdMap::new();
                while let Some((k, v)) = access.next_entry::<K, V>()? {
                    out.insert(k, Arc::new(v));
                }
                Ok(PMap(out))
            }
        }
        d.deserialize_map(Seen(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_clone_is_a_snapshot_and_changes_copy_only_what_changed() {
        let mut a: PMap<u32, String> = (0..100).map(|i| (i, i.to_string())).collect();
        let b = a.clone();
        if let Some(v) = a.get_mut(&7) {
            v.push('!');
        }
        a.remove(&8);
        assert_eq!(b.get(&7).map(String::as_str), Some("7"));
        assert_eq!(a.get(&7).map(String::as_str), Some("7!"));
        assert_eq!((a.len(), b.len()), (99, 100));
        // Untouched values are the same allocation in both versions.
        assert!(Arc::ptr_eq(
            a.get_arc(&9).expect("9"),
            b.get_arc(&9).expect("9")
        ));
    }

    #[test]
    fn serializes_like_a_btreemap() {
        let p: PMap<u32, String> = [(2, "b".to_string()), (1, "a".to_string())]
            .into_iter()
            .collect();
        let b: BTreeMap<u32, String> = p.iter().map(|(k, v)| (*k, v.clone())).collect();
        let pb = postcard::to_allocvec(&p).expect("encodes");
        assert_eq!(pb, postcard::to_allocvec(&b).expect("encodes"));
        let back: PMap<u32, String> = postcard::from_bytes(&pb).expect("decodes");
        assert_eq!(back, p);
        assert_eq!(
            serde_json::to_string(&p).expect("json"),
            r#"{"1":"a","2":"b"}"#
        );
    }

    #[test]
    fn retain_and_update_where_touch_only_selected_entries() {
        let mut a: PMap<u32, u32> = (0..10).map(|i| (i, i)).collect();
        let b = a.clone();
        a.update_where(|v| *v % 2 == 0, |v| *v += 100);
        a.retain(|k, _| *k < 5);
        assert_eq!(
            a.values().copied().collect::<Vec<_>>(),
            [100, 1, 102, 3, 104]
        );
        assert!(Arc::ptr_eq(
            a.get_arc(&1).expect("1"),
            b.get_arc(&1).expect("1")
        ));
    }
}
