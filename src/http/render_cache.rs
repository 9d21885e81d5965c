//! Memoized JSON of list items: a page of 100 is copied from bytes rendered
//! once per version of each item, instead of building 100 JSON maps.
//!
//! Rendering an item (a dozen fields through `serde_json` maps, then
//! serialized) costs far more than finding it in an index; under load it
//! was what limited list pages (BENCHMARKS.md, "Read side at scale"). The
//! cache keys each rendering by the item and the version the queries layer
//! gives it ([`crate::queries::TenantLists::version`]), which changes
//! whenever the item's listed fields may have changed, so an entry is never
//! stale: a new version simply misses. The bytes are exactly what
//! `serde_json` writes for the item, so a page reads the same as before.
//!
//! A caller-specific flag (the `favorite` of the extension directory and of
//! contacts as a user sees them) is rendered as `false` and spliced at read
//! time: on a miss the item is rendered with the flag both ways, and the
//! first byte where the two differ is where `false` is replaced by `true`. Only the live model uses
//! the cache (versions are not comparable across rebuilt past states).
//! Memory is bounded: a shard that outgrows its share is cleared.

use foldhash::fast::RandomState;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use switchboard_events::{Id, TenantId};

/// Which rendering of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// An item of the named list rendering (e.g. `"users"`,
    /// `"extension_contacts"`, `"user_contacts"`).
    Item(&'static str),
    /// An item of a declared collection, with or without the caller's
    /// favorite flag (the tenant's view of a list shows none).
    Declared {
        /// The collection.
        collection: &'static str,
        /// Whether the rendering carries a `favorite` flag.
        flagged: bool,
    },
    /// A `GET /audit_logs` item (by offset; immutable: version 0).
    Audit,
    /// An object history item (by offset; immutable: version 0).
    History,
}

impl From<&'static str> for Shape {
    fn from(name: &'static str) -> Shape {
        Shape::Item(name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    shape: Shape,
    tenant: TenantId,
    id: Id,
}

/// One rendering: the JSON bytes, and where a spliced `false` starts.
#[derive(Debug, Clone)]
pub struct Rendered {
    version: u64,
    /// The item's JSON.
    pub bytes: Arc<[u8]>,
    /// Byte offset of the `false` of `"favorite":false`, if spliced.
    pub flag_at: Option<usize>,
}

const SHARDS: usize = 16;
/// Entries kept in all (about 1 KB each at most for a user summary).
const CAPACITY: usize = 262_144;

/// The cache (shared by every handler).
pub struct RenderCache {
    shards: Vec<RwLock<HashMap<Key, Rendered, RandomState>>>,
    /// foldhash, not SipHash: the keys are server-made ids, and SipHash
    /// was the largest single cost of a memoized page (two hashes per item).
    hasher: RandomState,
}

impl Default for RenderCache {
    fn default() -> Self {
        RenderCache {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashMap::with_hasher(RandomState::default())))
                .collect(),
            hasher: RandomState::default(),
        }
    }
}

impl RenderCache {
    fn shard(&self, key: &Key) -> &RwLock<HashMap<Key, Rendered, RandomState>> {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    /// The rendering of item `id` at `version`, rendering it with `render`
    /// (its JSON value, given the caller's flag) on a miss. `flagged`: the
    /// item shows the caller's `favorite` flag (rendered as `false`,
    /// spliced by [`page_body`]).
    pub fn get_or_render(
        &self,
        shape: Shape,
        tenant: TenantId,
        id: Id,
        version: u64,
        flagged: bool,
        render: impl Fn(bool) -> serde_json::Value,
    ) -> Rendered {
        let key = Key { shape, tenant, id };
        let shard = self.shard(&key);
        if let Some(hit) = shard.read().get(&key).filter(|r| r.version == version) {
            return hit.clone();
        }
        // Serializing a JSON value into memory cannot fail (no I/O, string keys).
        let to_vec = |v: serde_json::Value| serde_json::to_vec(&v).unwrap_or_default();
        let bytes = to_vec(render(false));
        let flag_at = if flagged {
            let set = to_vec(render(true));
            bytes
                .iter()
                .zip(&set)
                .position(|(a, b)| a != b)
                .filter(|&at| bytes[at..].starts_with(b"false") && set[at..].starts_with(b"true"))
        } else {
            None
        };
        let rendered = Rendered {
            version,
            bytes: bytes.into(),
            flag_at,
        };
        let mut map = shard.write();
        if map.len() >= CAPACITY / SHARDS {
            map.clear();
        }
        map.insert(key, rendered.clone());
        rendered
    }
}

/// Writes `{"count":N,"items":[...]}` from renderings, setting each
/// spliced flag as `flag` says (the same bytes `serde_json` would write).
pub fn page_body(
    count: usize,
    items: impl IntoIterator<Item = (Rendered, bool)>,
    capacity: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(b"{\"count\":");
    out.extend_from_slice(count.to_string().as_bytes());
    out.extend_from_slice(b",\"items\":[");
    for (i, (r, flag)) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match (r.flag_at, flag) {
            (Some(at), true) => {
                out.extend_from_slice(&r.bytes[..at]);
                out.extend_from_slice(b"true");
                out.extend_from_slice(&r.bytes[at + "false".len()..]);
            }
            _ => out.extend_from_slice(&r.bytes),
        }
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_from_the_cache_is_what_serde_json_writes_and_versions_invalidate() {
        let cache = RenderCache::default();
        // A nested "favorite" before the caller's flag must not be mistaken for it.
        let item = |name: &str, f: bool| json!({"a": {"favorite": false}, "favorite": f, "id": "x", "name": name});
        const SHAPE: Shape = Shape::Item("extension_contacts");
        let a = cache.get_or_render(SHAPE, Id(1), Id(2), 5, true, |f| item("a", f));
        // Same version: the memoized bytes, even if the renderer would differ.
        let again = cache.get_or_render(SHAPE, Id(1), Id(2), 5, true, |f| item("zzz", f));
        assert_eq!(again.bytes, a.bytes);
        // A new version renders again.
        let b = cache.get_or_render(SHAPE, Id(1), Id(2), 6, true, |f| item("b", f));
        let body = page_body(7, [(b.clone(), true), (b, false)], 0);
        let expected = json!({"count": 7, "items": [
            {"a": {"favorite": false}, "favorite": true, "id": "x", "name": "b"},
            {"a": {"favorite": false}, "favorite": false, "id": "x", "name": "b"},
        ]});
        assert_eq!(body, serde_json::to_vec(&expected).expect("json"));
    }
}
