//! The writer's stream heads: the durable version of recently written
//! streams, for optimistic concurrency, in bounded memory.
//!
//! Every stream of the log has a head (its last version), and the log
//! keeps every stream forever: deleted resources' streams stay, and each
//! sign-in starts a `session-…` stream. Holding every head in memory would
//! grow with the log itself, and a client who can sign in could grow it at
//! will. So the writer holds only recently written streams, in two
//! generations of at most half the bound each: heads are recorded into the
//! young one; when it is full it becomes the old one and the previous old
//! one is dropped. A stream found in neither is looked up in the index
//! ([`crate::index::Index::stream_head`]), which is correct because a
//! generation is dropped only once the index holds every event recorded in
//! it: a stream missing here has all its events in the index.
//!
//! The bound can be exceeded only while the index lags (its thread runs at
//! a lower priority); the writer waits for the indexer when it falls
//! 16k frames behind, which bounds the excess too.

use crate::ids::StreamId;
use std::collections::HashMap;

/// The default bound: a million streams, about 100 MB of heads at most.
pub const DEFAULT_STREAM_HEADS: usize = 1_000_000;

/// Recently written streams' durable versions, in two generations.
#[derive(Debug)]
pub(crate) struct Heads {
    young: HashMap<StreamId, u64>,
    old: HashMap<StreamId, u64>,
    /// The last offset of the group commits recorded into `young`.
    young_through: u64,
    /// The same for `old`.
    old_through: u64,
    /// Streams per generation.
    half: usize,
}

impl Heads {
    /// Empty heads holding at most about `bound` streams.
    pub(crate) fn new(bound: usize) -> Heads {
        Heads {
            young: HashMap::new(),
            old: HashMap::new(),
            young_through: 0,
            old_through: 0,
            half: (bound / 2).max(1),
        }
    }

    /// The stream's durable version, if it is held here.
    pub(crate) fn get(&self, stream: &StreamId) -> Option<u64> {
        self.young
            .get(stream)
            .or_else(|| self.old.get(stream))
            .copied()
    }

    /// Records the heads of a durable group commit that ends at
    /// `last_offset`, while the index holds every event up to
    /// `indexed_through`.
    pub(crate) fn record(
        &mut self,
        heads: impl IntoIterator<Item = (StreamId, u64)>,
        last_offset: u64,
        indexed_through: u64,
    ) {
        self.young.extend(heads);
        self.young_through = last_offset;
        // The old generation may go only once the index has all of it.
        if self.young.len() >= self.half && self.old_through <= indexed_through {
            self.old = std::mem::take(&mut self.young);
            self.old_through = self.young_through;
        }
    }

    /// Streams held (both generations; a stream may be counted twice).
    pub(crate) fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Id;

    fn s(n: u64) -> StreamId {
        StreamId::of("session", Id(n))
    }

    #[test]
    fn heads_stay_within_the_bound_and_keep_the_recent_streams() {
        let mut heads = Heads::new(100);
        for n in 1..=10_000u64 {
            // One new stream per commit, the index caught up.
            heads.record([(s(n), 1)], n, n);
            assert!(heads.len() <= 100, "{} streams held", heads.len());
        }
        // The last 50 written are certainly held; the first are not.
        for n in 9_951..=10_000 {
            assert_eq!(heads.get(&s(n)), Some(1));
        }
        assert_eq!(heads.get(&s(1)), None);
    }

    #[test]
    fn a_generation_the_index_does_not_hold_yet_is_kept() {
        let mut heads = Heads::new(10);
        // The index is stuck at offset 0: nothing may be forgotten.
        for n in 1..=30u64 {
            heads.record([(s(n), n)], n, 0);
        }
        for n in 1..=30u64 {
            assert_eq!(
                heads.get(&s(n)),
                Some(n),
                "stream {n} was dropped unindexed"
            );
        }
        // Once the index has caught up, the bound holds again.
        for n in 31..=60u64 {
            heads.record([(s(n), 1)], n, n);
        }
        assert!(heads.len() <= 10 + 5, "{}", heads.len());
    }

    #[test]
    fn a_rewritten_stream_has_its_latest_version() {
        let mut heads = Heads::new(4);
        heads.record([(s(1), 1)], 1, 1);
        heads.record([(s(2), 1)], 2, 2);
        heads.record([(s(1), 2)], 3, 3);
        heads.record([(s(3), 1)], 4, 4);
        assert_eq!(heads.get(&s(1)), Some(2));
    }
}
