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

/// One item of a page to answer from the cache.
#[derive(Debug, Clone, Copy)]
pub struct PageItem {
    /// The item.
    pub id: Id,
    /// Its version ([`RenderCache::get_or_render`]).
    pub version: u64,
    /// The caller's flag to splice (ignored unless the page is `flagged`).
    pub flag: bool,
}

impl RenderCache {
    /// The body `{"count":N,"items":[...]}` of a page of `items` (in this
    /// order), each copied from its memoized rendering, rendering those not
    /// memoized at their version with `render` (the item's JSON given the
    /// caller's flag). `flagged`: the items show the caller's `favorite`
    /// flag (see [`RenderCache::get_or_render`]).
    ///
    /// When every item is memoized (the usual case under load) the body is
    /// copied under the shards' read locks, taken once per page: per item
    /// that is a hash and a lookup, not a lock, an `Arc` clone and drop
    /// (atomic operations on lines every core shares, which were most of
    /// the cost of a memoized page).
    pub fn page(
        &self,
        shape: Shape,
        tenant: TenantId,
        count: usize,
        items: &[PageItem],
        flagged: bool,
        render: impl Fn(Id, bool) -> serde_json::Value,
    ) -> Vec<u8> {
        let shards: Vec<(Key, usize)> = items
            .iter()
            .map(|item| {
                let key = Key {
                    shape,
                    tenant,
                    id: item.id,
                };
                let shard = (self.hasher.hash_one(key) as usize) % SHARDS;
                (key, shard)
            })
            .collect();
        {
            // Every shard, in order (a fixed order: no lock-order cycle with
            // another page; writers hold one shard at a time).
            let guards: Vec<_> = self.shards.iter().map(|s| s.read()).collect();
            let hits: Option<Vec<(&Rendered, bool)>> = shards
                .iter()
                .zip(items)
                .map(|((key, shard), item)| {
                    guards[*shard]
                        .get(key)
                        .filter(|r| r.version == item.version)
                        .map(|r| (r, item.flag))
                })
                .collect();
            if let Some(hits) = hits {
                let capacity = 32 + hits.iter().map(|(r, _)| r.bytes.len() + 1).sum::<usize>();
                return page_body(count, hits, capacity);
            }
        }
        // Some item is not memoized at its version: render it (one shard
        // lock at a time), then copy.
        let rendered: Vec<(Rendered, bool)> = items
            .iter()
            .map(|item| {
                let r = self.get_or_render(shape, tenant, item.id, item.version, flagged, |f| {
                    render(item.id, f)
                });
                (r, item.flag)
            })
            .collect();
        let capacity = 32
            + rendered
                .iter()
                .map(|(r, _)| r.bytes.len() + 1)
                .sum::<usize>();
        page_body(count, rendered.iter().map(|(r, f)| (r, *f)), capacity)
    }
}

/// Writes `{"count":N,"items":[...]}` from renderings, setting each
/// spliced flag as `flag` says (the same bytes `serde_json` would write).
pub fn page_body<'r>(
    count: usize,
    items: impl IntoIterator<Item = (&'r Rendered, bool)>,
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
        let body = page_body(7, [(&b, true), (&b, false)], 0);
        let expected = json!({"count": 7, "items": [
            {"a": {"favorite": false}, "favorite": true, "id": "x", "name": "b"},
            {"a": {"favorite": false}, "favorite": false, "id": "x", "name": "b"},
        ]});
        assert_eq!(body, serde_json::to_vec(&expected).expect("json"));
    }

    #[test]
    fn a_page_is_rendered_on_misses_then_copied_and_a_new_version_shows() {
        let cache = RenderCache::default();
        const SHAPE: Shape = Shape::Item("extension_contacts");
        let item = |id: Id, name: &str, f: bool| json!({"favorite": f, "id": id.0, "name": name});
        let items = |version: u64| -> Vec<PageItem> {
            (1..=40)
                .map(|i| PageItem {
                    id: Id(i),
                    version,
                    flag: i % 3 == 0,
                })
                .collect()
        };
        let expected = |name: &str| {
            let items: Vec<_> = (1..=40).map(|i| item(Id(i), name, i % 3 == 0)).collect();
            serde_json::to_vec(&json!({"count": 99, "items": items})).expect("json")
        };
        // All misses, then all hits (the renderer is not called again).
        let first = cache.page(SHAPE, Id(1), 99, &items(1), true, |id, f| item(id, "a", f));
        assert_eq!(first, expected("a"));
        let hit = cache.page(SHAPE, Id(1), 99, &items(1), true, |id, f| {
            item(id, "zzz", f)
        });
        assert_eq!(hit, expected("a"));
        // One item at a new version: rendered again, the others copied.
        let mut mixed = items(1);
        mixed[4].version = 2;
        let body = cache.page(SHAPE, Id(1), 99, &mixed, true, |id, f| item(id, "b", f));
        let mut want: Vec<_> = (1..=40).map(|i| item(Id(i), "a", i % 3 == 0)).collect();
        want[4] = item(Id(5), "b", false);
        assert_eq!(
            body,
            serde_json::to_vec(&json!({"count": 99, "items": want})).expect("json")
        );
        // Another tenant's items are its own.
        let other = cache.page(SHAPE, Id(2), 99, &items(1), true, |id, f| item(id, "c", f));
        assert_eq!(other, expected("c"));
        assert_eq!(
            cache.page(SHAPE, Id(1), 0, &[], true, |id, f| item(id, "d", f)),
            b"{\"count\":0,\"items\":[]}"
        );
    }
}
