//! Identifiers: resource ids, tenant ids and stream names.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A resource id. Ids are random non-zero numbers below 2^53 (so integer
/// dialects and JavaScript clients can carry them exactly). Each dialect
/// renders them its own way (PortSIP: an opaque base64 string; the v1 link
/// API: a UUID; the client API: an integer) without keeping any state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Id(pub u64);

/// The largest id value (exclusive): 2^53.
pub const ID_LIMIT: u64 = 1 << 53;

impl Id {
    /// The raw number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A tenant is identified by an [`Id`]; the system scope (the system
/// administrator, the tenant list itself) is tenant `0`.
pub type TenantId = Id;

/// The system scope: events that are not inside any tenant.
pub const SYSTEM_TENANT: TenantId = Id(0);

/// The name of a stream (one aggregate), e.g. `user-123`. Stream names are
/// ASCII without NUL so they can be used as key prefixes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Debug)]
pub struct StreamId(String);

/// A stream name was empty, too long, or contained a byte that cannot be a
/// key prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid stream name {0:?}")]
pub struct InvalidStreamId(pub String);

impl StreamId {
    /// Moves the name out, leaving an empty one (for a stream name no one
    /// reads again: the writer takes a framed event's name for the index).
    pub(crate) fn take(&mut self) -> StreamId {
        StreamId(std::mem::take(&mut self.0))
    }

    /// Builds a stream name from a category and an id: `user-42`.
    pub fn of(category: &str, id: Id) -> StreamId {
        StreamId(format!("{category}-{}", id.0))
    }

    /// Parses a stream name, refusing empty names, names over 200 bytes and
    /// anything outside printable ASCII.
    pub fn parse(s: &str) -> Result<StreamId, InvalidStreamId> {
        if !StreamId::is_valid(s) {
            return Err(InvalidStreamId(s.to_owned()));
        }
        Ok(StreamId(s.to_owned()))
    }

    /// Whether `s` is a valid stream name (what [`StreamId::parse`] accepts).
    pub fn is_valid(s: &str) -> bool {
        !s.is_empty() && s.len() <= 200 && s.bytes().all(|b| (0x21..0x7f).contains(&b))
    }

    /// A stream name already checked by [`StreamId::is_valid`].
    pub(crate) fn trusted(s: &str) -> StreamId {
        debug_assert!(StreamId::is_valid(s), "unchecked stream name {s:?}");
        StreamId(s.to_owned())
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_refuse_separators_and_empties() {
        assert!(StreamId::parse("user-1").is_ok());
        assert!(StreamId::parse("").is_err());
        assert!(StreamId::parse("a\0b").is_err());
        assert!(StreamId::parse("a b").is_err());
        assert!(StreamId::parse(&"x".repeat(201)).is_err());
        assert_eq!(StreamId::of("user", Id(7)).as_str(), "user-7");
    }
}
