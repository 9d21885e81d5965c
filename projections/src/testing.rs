//! Test support shared by the randomized and model-based tests of this
//! crate and of the service (not used by production code).

/// A tiny deterministic xorshift64* generator (seedable, no dependency).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// One of `from` (non-empty).
    pub fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// An envelope as the log would give it for an event of `stream` (its
/// version = `offset`) in tenant 3, recorded at the epoch by the system:
/// for tests that apply events by hand.
pub fn envelope(offset: u64, stream: &str, event_type: &str) -> switchboard_events::Envelope {
    use switchboard_events::{Envelope, Id, Metadata, StreamId};
    Envelope {
        offset,
        stream: StreamId::of(stream, Id(1)),
        stream_version: offset,
        tenant: Id(3),
        event_type: event_type.into(),
        schema_version: 1,
        recorded_at: time::OffsetDateTime::UNIX_EPOCH,
        metadata: Metadata::system("test"),
        payload: vec![],
        prev_hash: [0; 32],
        hash: [0; 32],
    }
}

/// Asserts that `value` encodes exactly as `old` (the layout it replaced)
/// in postcard (snapshots) and in JSON (canonical renderings), and that the
/// postcard bytes decode back to `value`: for compact in-memory types that
/// must keep the encoding of what they replaced.
pub fn assert_encodes_as<T, O>(value: &T, old: &O)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    O: serde::Serialize + ?Sized,
{
    let bytes = postcard::to_allocvec(value).expect("encodes");
    assert_eq!(
        bytes,
        postcard::to_allocvec(old).expect("encodes"),
        "postcard bytes"
    );
    assert_eq!(
        serde_json::to_value(value).expect("json"),
        serde_json::to_value(old).expect("json"),
        "JSON"
    );
    let back: T = postcard::from_bytes(&bytes).expect("decodes");
    assert_eq!(&back, value, "decoded back");
}
