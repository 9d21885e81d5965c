//! The writer's stream heads: every stream's durable version, for
//! optimistic concurrency, in memory, within a bound.
//!
//! Every stream of the log has a head (its last version), and the log
//! keeps every stream forever: deleted resources' streams stay, and each
//! sign-in starts a `session-…` stream. The writer must know a stream's
//! head to check an expectation and to number its next event, and asking
//! the index (two sled reads) for a stream it does not hold cost more than
//! everything else a group commit does beside its `fdatasync`
//! (BENCHMARKS.md, "Stream heads in memory").
//!
//! So the heads are **whole** while they fit the bound: a background
//! loader ([`Heads::load`]) adds the head of every stream the index held at
//! open (unless heads saved at the last clean close, [`Heads::save`], fit
//! the log as it is: then they start complete), while the writer records
//! every durable commit ([`Heads::record`]);
//! once the loader is through ([`Heads::loaded`]) the heads are
//! **complete**, and a stream they do not hold has no event at all — a new
//! stream — answered without the index. Every entry is exact at any time,
//! whoever put it there: an entry keeps the larger of what the loader read
//! and what the writer recorded, versions only grow, the loader reads the
//! index (which holds only durable events, never more than the writer
//! recorded), and a stream the writer has not written since open had all
//! its events in the index before the loader started. Nothing is dropped
//! while the heads are whole, so the loader can never bring back a version
//! older than one dropped meanwhile.
//!
//! Past the bound (a client who signs in over and over makes a stream per
//! sign-in), the heads stop being whole: the loader stops, and the writer
//! keeps only recently written streams, in two generations of at most half
//! the bound each (the whole map becomes the old generation): heads are
//! recorded into the young one; when it is full it becomes the old one and
//! the previous old one is dropped. A stream found in neither is looked up
//! in the index ([`crate::index::Index::stream_head`]), which is correct
//! because a generation is dropped only once the index holds every event
//! recorded in it: a stream missing here has all its events in the index.
//! While the loader runs, a stream it has not reached yet is looked up in
//! the index the same way (it was not written since open, or it would be
//! here).
//!
//! Streams are held by the first 128 bits of the blake3 hash of their name
//! (24 bytes an entry with the version, about 25–50 bytes a stream with
//! the table's free slots) rather than by name. Two streams would share an
//! entry only if their names collided in those 128 bits: about N²/2¹²⁹
//! for N streams (10⁻²¹ at a billion streams), and stream names are minted
//! by the server, so nobody can search for a collision. The log's hash
//! chain relies on blake3 the same way.
//!
//! The bound can be exceeded only while the index lags (its thread runs at
//! a lower priority); the writer waits for the indexer when it falls
//! 16k frames behind, which bounds the excess too. Leaving the whole state
//! holds at most one and a half times the bound until the old generation
//! can go.

use crate::ids::StreamId;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// The default bound: 3.5 million streams. The whole map then fits a table
/// of 2²² buckets (7/8 of them usable) of 25 bytes: 105 MB, about what the
/// previous bound of a million streams keyed by name took; past the bound
/// the young generation adds up to 52 MB until the old one can go.
pub const DEFAULT_STREAM_HEADS: usize = 3_500_000;

/// A stream as the heads know it: the first 128 bits of the blake3 hash of
/// its name (see the module docs on collisions).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct HeadKey([u64; 2]);

impl HeadKey {
    /// The key of the stream named `name` (a stream name's bytes).
    pub(crate) fn of(name: &[u8]) -> HeadKey {
        let hash = blake3::hash(name);
        let b = hash.as_bytes();
        let mut lo = [0u8; 8];
        let mut hi = [0u8; 8];
        lo.copy_from_slice(&b[0..8]);
        hi.copy_from_slice(&b[8..16]);
        HeadKey([u64::from_le_bytes(lo), u64::from_le_bytes(hi)])
    }

    /// The key of `stream`.
    pub(crate) fn of_stream(stream: &StreamId) -> HeadKey {
        HeadKey::of(stream.as_str().as_bytes())
    }
}

impl Hash for HeadKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already a uniform hash: the table needs no other.
        state.write_u64(self.0[0]);
    }
}

/// Passes a [`HeadKey`]'s first word through as the table's hash.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `HeadKey`; anything else still hashes.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map keyed by [`HeadKey`] (whose first word is the hash).
pub(crate) type KeyMap<V> = HashMap<HeadKey, V, BuildHasherDefault<KeyHasher>>;

type Map = KeyMap<u64>;

/// What the heads say about a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Head {
    /// Its durable version (0: no event yet).
    Known(u64),
    /// Not held: the index holds every event of it (see the module docs).
    AskIndex,
}

/// Streams' durable versions: every stream while they fit the bound,
/// recently written ones past it (see the module docs).
#[derive(Debug)]
pub(crate) struct Heads {
    young: Map,
    old: Map,
    /// The last offset of the group commits recorded into `young`.
    young_through: u64,
    /// The same for `old`.
    old_through: u64,
    /// Streams held while whole.
    bound: usize,
    /// Streams per generation once not whole.
    half: usize,
    /// Nothing was dropped since open: `young` holds every stream written
    /// since, and the loader may add the index's heads.
    whole: bool,
    /// Whole, and the loader added every stream the index held at open: a
    /// stream missing has no event.
    complete: bool,
}

impl Heads {
    /// Empty heads holding at most about `bound` streams, waiting for the
    /// loader.
    pub(crate) fn new(bound: usize) -> Heads {
        let bound = bound.max(2);
        Heads {
            young: Map::default(),
            old: Map::default(),
            young_through: 0,
            old_through: 0,
            bound,
            half: bound / 2,
            whole: true,
            complete: false,
        }
    }

    /// What the heads know of the stream keyed `key`.
    pub(crate) fn get(&self, key: &HeadKey) -> Head {
        match self.young.get(key).or_else(|| self.old.get(key)) {
            Some(v) => Head::Known(*v),
            None if self.complete => Head::Known(0),
            None => Head::AskIndex,
        }
    }

    /// Records the heads of a durable group commit that ends at
    /// `last_offset`, while the index holds every event up to
    /// `indexed_through`.
    pub(crate) fn record(
        &mut self,
        heads: impl IntoIterator<Item = (HeadKey, u64)>,
        last_offset: u64,
        indexed_through: u64,
    ) {
        for (key, version) in heads {
            raise(&mut self.young, key, version);
        }
        self.young_through = last_offset;
        self.rotate_if_full(indexed_through);
    }

    /// The loader's part: adds heads read from the index. Returns whether
    /// the loader should go on (`false`: the heads are no longer whole;
    /// heads added then are kept as the writer's are, until dropped).
    pub(crate) fn load(&mut self, heads: impl IntoIterator<Item = (HeadKey, u64)>) -> bool {
        if !self.whole {
            return false;
        }
        for (key, version) in heads {
            raise(&mut self.young, key, version);
            if self.young.len() >= self.bound {
                // Nothing is dropped here (the old generation is empty while
                // whole); what was loaded is in the index already, and the
                // writer's entries keep their `young_through`.
                self.rotate_if_full(self.young_through);
                return false;
            }
        }
        true
    }

    /// The loader went through every stream of the index: if nothing was
    /// dropped meanwhile, the heads are complete.
    pub(crate) fn loaded(&mut self) {
        self.complete = self.whole;
    }

    /// Whether every stream is held (a missing one has no event).
    pub(crate) fn is_complete(&self) -> bool {
        self.complete
    }

    fn rotate_if_full(&mut self, indexed_through: u64) {
        let limit = if self.whole { self.bound } else { self.half };
        // The old generation may go only once the index has all of it.
        if self.young.len() >= limit && self.old_through <= indexed_through {
            self.old = std::mem::take(&mut self.young);
            self.old_through = self.young_through;
            self.whole = false;
            self.complete = false;
        }
    }

    /// Streams held (both generations; a stream may be counted twice).
    pub(crate) fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    /// Bytes the tables take (from their capacity: a slot and a control
    /// byte per bucket, buckets = capacity · 8/7 in hashbrown).
    pub(crate) fn bytes(&self) -> usize {
        let slot = std::mem::size_of::<(HeadKey, u64)>() + 1;
        [&self.young, &self.old]
            .iter()
            .map(|m| match m.capacity() {
                0 => 0,
                c if c < 8 => (c + 1).next_power_of_two() * slot,
                c => c / 7 * 8 * slot,
            })
            .sum()
    }
}

/// The file format of saved heads (see [`Heads::save`]).
const SAVED_MAGIC: &[u8; 8] = b"SBHEADS1";

/// Bytes of a saved entry: the key's two words and the version.
const SAVED_ENTRY: usize = 24;

impl Heads {
    /// The complete heads as bytes, for the next open to start complete
    /// without the loader's pass over the index (written at a clean close):
    /// `SBHEADS1 · head:u64 · head hash · count:u64 · (key, version)* ·
    /// crc32`, little-endian. `None` unless complete. They are valid only
    /// for the log whose last record is `head` with hash `head_hash`: the
    /// hash chain then vouches that the records, so the heads, are the
    /// same.
    pub(crate) fn save(&self, head: u64, head_hash: &[u8; 32]) -> Option<Vec<u8>> {
        if !self.complete {
            return None;
        }
        let mut out = Vec::with_capacity(60 + self.young.len() * SAVED_ENTRY);
        out.extend_from_slice(SAVED_MAGIC);
        out.extend_from_slice(&head.to_le_bytes());
        out.extend_from_slice(head_hash);
        out.extend_from_slice(&(self.young.len() as u64).to_le_bytes());
        for (key, version) in &self.young {
            out.extend_from_slice(&key.0[0].to_le_bytes());
            out.extend_from_slice(&key.0[1].to_le_bytes());
            out.extend_from_slice(&version.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Some(out)
    }

    /// Complete heads from bytes [`Heads::save`] wrote for the log whose
    /// last record is `head` with hash `head_hash`; `None` if they are
    /// damaged, of another log state, or do not fit `bound` (then the
    /// loader reads the index as usual).
    pub(crate) fn restore(
        bytes: &[u8],
        head: u64,
        head_hash: &[u8; 32],
        bound: usize,
    ) -> Option<Heads> {
        let (body, crc) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
        if crc32fast::hash(body).to_le_bytes() != crc
            || body.get(..8)? != SAVED_MAGIC
            || u64::from_le_bytes(body.get(8..16)?.try_into().ok()?) != head
            || body.get(16..48)? != head_hash
        {
            return None;
        }
        let count = usize::try_from(u64::from_le_bytes(body.get(48..56)?.try_into().ok()?)).ok()?;
        let entries = body.get(56..)?;
        if entries.len() != count.checked_mul(SAVED_ENTRY)? {
            return None;
        }
        let word = |b: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            u64::from_le_bytes(w)
        };
        let mut heads = Heads::new(bound);
        if count >= heads.bound {
            return None;
        }
        heads.young.reserve(count);
        let whole = heads.load(
            entries
                .chunks_exact(SAVED_ENTRY)
                .map(|e| (HeadKey([word(&e[0..8]), word(&e[8..16])]), word(&e[16..24]))),
        );
        if !whole {
            return None;
        }
        heads.loaded();
        Some(heads)
    }
}

/// Sets `key`'s version to `version` unless it holds a larger one.
fn raise(map: &mut Map, key: HeadKey, version: u64) {
    map.entry(key)
        .and_modify(|v| *v = (*v).max(version))
        .or_insert(version);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Id;

    fn s(n: u64) -> StreamId {
        StreamId::of("session", Id(n))
    }

    fn k(n: u64) -> HeadKey {
        HeadKey::of_stream(&s(n))
    }

    #[test]
    fn loaded_heads_are_complete_and_answer_a_new_stream_without_the_index() {
        // Given heads whole, while the loader runs.
        let mut heads = Heads::new(100);
        heads.record([(k(1), 4)], 10, 0);
        assert!(heads.load([(k(2), 7), (k(3), 1)]));
        // A stream the loader has not reached is the index's to answer.
        assert_eq!(heads.get(&k(9)), Head::AskIndex);
        assert_eq!(heads.get(&k(2)), Head::Known(7));
        // When the loader is through, a missing stream has no event.
        heads.loaded();
        assert!(heads.is_complete());
        assert_eq!(heads.get(&k(9)), Head::Known(0));
        assert_eq!(heads.get(&k(1)), Head::Known(4));
        assert_eq!(heads.get(&k(3)), Head::Known(1));
    }

    #[test]
    fn the_loader_never_lowers_what_the_writer_recorded_nor_the_other_way() {
        let mut heads = Heads::new(100);
        // The writer commits version 5 after the loader read 3 from the index.
        heads.record([(k(1), 5)], 10, 0);
        assert!(heads.load([(k(1), 3)]));
        assert_eq!(heads.get(&k(1)), Head::Known(5));
        // The loader read 8 (the index caught up) before the writer's
        // record of 6 was applied: the larger stays.
        assert!(heads.load([(k(2), 8)]));
        heads.record([(k(2), 6)], 11, 0);
        assert_eq!(heads.get(&k(2)), Head::Known(8));
    }

    #[test]
    fn past_the_bound_the_heads_are_not_complete_and_the_loader_stops() {
        // Given a bound of 4, loaded.
        let mut heads = Heads::new(4);
        assert!(heads.load([(k(1), 1), (k(2), 1)]));
        heads.loaded();
        assert_eq!(heads.get(&k(50)), Head::Known(0));
        // When a fourth and fifth stream are written, the heads stop being
        // whole: a missing stream is the index's to answer again.
        heads.record([(k(3), 1), (k(4), 1)], 2, 2);
        heads.record([(k(5), 1)], 3, 3);
        assert!(!heads.is_complete());
        assert_eq!(heads.get(&k(50)), Head::AskIndex);
        // The recent streams are still held, and the loader takes nothing.
        assert_eq!(heads.get(&k(5)), Head::Known(1));
        assert_eq!(heads.get(&k(4)), Head::Known(1));
        assert!(!heads.load([(k(60), 9)]));
        assert_eq!(heads.get(&k(60)), Head::AskIndex);
        heads.loaded();
        assert!(!heads.is_complete());
    }

    #[test]
    fn a_loader_past_the_bound_stops_too() {
        let mut heads = Heads::new(4);
        assert!(!heads.load((1..=9).map(|n| (k(n), n))));
        assert_eq!(heads.len(), 4, "the loader stops at the bound");
        heads.loaded();
        assert!(!heads.is_complete());
        assert_eq!(heads.get(&k(99)), Head::AskIndex);
    }

    #[test]
    fn heads_stay_within_the_bound_and_keep_the_recent_streams() {
        let mut heads = Heads::new(100);
        heads.loaded();
        for n in 1..=10_000u64 {
            // One new stream per commit, the index caught up.
            heads.record([(k(n), 1)], n, n);
            assert!(heads.len() <= 150, "{} streams held", heads.len());
        }
        // The last 50 written are certainly held; the first are not.
        for n in 9_951..=10_000 {
            assert_eq!(heads.get(&k(n)), Head::Known(1));
        }
        assert_eq!(heads.get(&k(1)), Head::AskIndex);
        assert!(heads.len() <= 100, "{}", heads.len());
    }

    #[test]
    fn a_generation_the_index_does_not_hold_yet_is_kept() {
        let mut heads = Heads::new(10);
        // The index is stuck at offset 0: nothing may be forgotten.
        for n in 1..=30u64 {
            heads.record([(k(n), n)], n, 0);
        }
        for n in 1..=30u64 {
            assert_eq!(
                heads.get(&k(n)),
                Head::Known(n),
                "stream {n} was dropped unindexed"
            );
        }
        // Once the index has caught up, the bound holds again.
        for n in 31..=60u64 {
            heads.record([(k(n), 1)], n, n);
        }
        assert!(heads.len() <= 10 + 5, "{}", heads.len());
    }

    #[test]
    fn a_rewritten_stream_has_its_latest_version() {
        let mut heads = Heads::new(4);
        heads.record([(k(1), 1)], 1, 1);
        heads.record([(k(2), 1)], 2, 2);
        heads.record([(k(1), 2)], 3, 3);
        heads.record([(k(3), 1)], 4, 4);
        heads.record([(k(4), 1)], 5, 5);
        assert_eq!(heads.get(&k(1)), Head::Known(2));
    }

    #[test]
    fn saved_heads_restore_complete_only_for_the_same_log_state_and_intact() {
        let hash = [7u8; 32];
        let mut heads = Heads::new(100);
        assert!(
            heads.save(5, &hash).is_none(),
            "incomplete heads are not saved"
        );
        heads.record([(k(1), 3), (k(2), 1)], 5, 5);
        heads.loaded();
        let bytes = heads.save(5, &hash).expect("complete");
        let restored = Heads::restore(&bytes, 5, &hash, 100).expect("restores");
        assert!(restored.is_complete());
        assert_eq!(restored.get(&k(1)), Head::Known(3));
        assert_eq!(restored.get(&k(2)), Head::Known(1));
        assert_eq!(restored.get(&k(3)), Head::Known(0));
        // Another head or hash (records appended since, another log), a
        // damaged byte, a cut file, or a bound they do not fit: refused.
        assert!(Heads::restore(&bytes, 6, &hash, 100).is_none());
        assert!(Heads::restore(&bytes, 5, &[8u8; 32], 100).is_none());
        for at in [0, 9, 20, 50, 60, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            assert!(Heads::restore(&bad, 5, &hash, 100).is_none(), "byte {at}");
        }
        assert!(Heads::restore(&bytes[..bytes.len() - 5], 5, &hash, 100).is_none());
        assert!(Heads::restore(&[], 5, &hash, 100).is_none());
        assert!(Heads::restore(&bytes, 5, &hash, 2).is_none());
    }

    #[test]
    fn keys_differ_for_names_that_extend_each_other_and_the_bytes_are_counted() {
        assert_ne!(k(1), k(10));
        assert_eq!(HeadKey::of(b"session-1"), k(1));
        let mut heads = Heads::new(1_000);
        heads.record((1..=800).map(|n| (k(n), 1)), 800, 800);
        // 800 streams in 1,024 buckets of 25 bytes.
        assert_eq!(heads.bytes(), 1_024 * 25);
    }
}
