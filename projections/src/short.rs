//! [`Short`]: a string of 16 bytes that keeps short text inline.
//!
//! The directory keys indexes by names and numbers (`users_by_name`,
//! `numbers`) with one entry per user. A `String` key is 24 bytes plus a
//! heap allocation of a few bytes (which the allocator rounds up to its
//! smallest chunk); user names and extension numbers are nearly always at
//! most 15 bytes, so a [`Short`] holds them in its 16 bytes with no
//! allocation at all, and a longer one behind one pointer.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// Bytes kept inline at most.
const INLINE: usize = 15;

/// The length of an inline string. An enum rather than a `u8`, so that the
/// values past 15 are free for the compiler to tell the variants apart:
/// [`Short`] is 16 bytes, not 24.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
#[rustfmt::skip]
enum Len { L0, L1, L2, L3, L4, L5, L6, L7, L8, L9, L10, L11, L12, L13, L14, L15 }

impl Len {
    const ALL: [Len; INLINE + 1] = [
        Len::L0,
        Len::L1,
        Len::L2,
        Len::L3,
        Len::L4,
        Len::L5,
        Len::L6,
        Len::L7,
        Len::L8,
        Len::L9,
        Len::L10,
        Len::L11,
        Len::L12,
        Len::L13,
        Len::L14,
        Len::L15,
    ];
}

/// A string: inline up to 15 bytes, else boxed. Compares, hashes and
/// encodes as the `str` it holds.
#[derive(Clone)]
pub struct Short(Repr);

#[derive(Clone)]
enum Repr {
    Inline([u8; INLINE], Len),
    // A thin pointer (8 bytes) beside the inline variant is what keeps a
    // `Short` at 16 bytes; a `String` or `Box<str>` here would make it 24.
    #[allow(clippy::box_collection)]
    Heap(Box<String>),
}

const _: () = assert!(std::mem::size_of::<Short>() == 16);

impl Short {
    /// `s`, inline if it fits.
    pub fn new(s: &str) -> Short {
        let len = s.len();
        if len <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..len].copy_from_slice(s.as_bytes());
            Short(Repr::Inline(bytes, Len::ALL[len]))
        } else {
            Short(Repr::Heap(Box::new(s.to_owned())))
        }
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Always valid: the bytes were copied from a whole `str`.
            Repr::Inline(bytes, len) => std::str::from_utf8(&bytes[..*len as usize]).unwrap_or(""),
            Repr::Heap(s) => s,
        }
    }
}

impl Default for Short {
    fn default() -> Short {
        Short::new("")
    }
}

impl std::ops::Deref for Short {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Short {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Short {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Short {
    fn from(s: &str) -> Short {
        Short::new(s)
    }
}

impl From<String> for Short {
    fn from(s: String) -> Short {
        if s.len() <= INLINE {
            Short::new(&s)
        } else {
            Short(Repr::Heap(Box::new(s)))
        }
    }
}

impl From<&String> for Short {
    fn from(s: &String) -> Short {
        Short::new(s)
    }
}

impl PartialEq for Short {
    fn eq(&self, other: &Short) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Short {}

impl PartialEq<str> for Short {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Short {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Short {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<Short> for str {
    fn eq(&self, other: &Short) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Short> for &str {
    fn eq(&self, other: &Short) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Short> for String {
    fn eq(&self, other: &Short) -> bool {
        self == other.as_str()
    }
}

impl PartialOrd for Short {
    fn partial_cmp(&self, other: &Short) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Short {
    fn cmp(&self, other: &Short) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Short {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Encoded as the string (the same bytes as a `String`).
impl Serialize for Short {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Short {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Short, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Short::new(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_compares_and_encodes_as_the_string_it_holds() {
        let samples = [
            "",
            "1",
            "101",
            "alice",
            "exactly15bytes!",
            "sixteen bytes!!!",
            "a much longer user name than fits",
            "ünïcödé",
            "ünïcödé-ünïcödé-ünïcödé",
        ];
        for a in samples {
            let s = Short::new(a);
            assert_eq!(s.as_str(), a);
            assert_eq!(Short::from(a.to_owned()).as_str(), a);
            crate::testing::assert_encodes_as(&s, a);
            for b in samples {
                assert_eq!(
                    Short::new(a).cmp(&Short::new(b)),
                    a.cmp(b),
                    "{a:?} vs {b:?}"
                );
                assert_eq!(Short::new(a) == Short::new(b), a == b);
            }
        }
        let mut m: imbl::OrdMap<Short, u8> = imbl::OrdMap::new();
        m.insert(Short::new("102"), 2);
        m.insert(Short::new("101"), 1);
        assert_eq!(m.get("101"), Some(&1));
        assert_eq!(
            m.keys().map(Short::as_str).collect::<Vec<_>>(),
            ["101", "102"]
        );
    }
}
