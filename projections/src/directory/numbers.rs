//! [`Numbers`]: a tenant's shared number space (number → owner).

use super::NumberOwner;
use crate::pmap::POrdMap;
use crate::short::Short;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use switchboard_events::Id;

/// Number → owner, for every kind of owner, as one map reads; kept as two:
/// extensions' numbers (nearly all of them) map to a bare id (a 24-byte
/// entry), the few of queues, ring groups and meetings to a
/// [`NumberOwner`] (32 bytes: its kind's tag and padding). A number is in
/// one of them at most. Encoded as the one map it was.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Numbers {
    extensions: POrdMap<Short, Id>,
    others: POrdMap<Short, NumberOwner>,
}

impl Numbers {
    /// The owner of `number`.
    pub fn get(&self, number: &str) -> Option<NumberOwner> {
        match self.extensions.get(number) {
            Some(id) => Some(NumberOwner::Extension(*id)),
            None => self.others.get(number).copied(),
        }
    }

    /// Whether `number` is taken.
    pub fn contains_key(&self, number: &str) -> bool {
        self.extensions.contains_key(number) || self.others.contains_key(number)
    }

    /// Gives `number` to `owner` (replacing any owner it had).
    pub fn insert(&mut self, number: Short, owner: NumberOwner) {
        match owner {
            NumberOwner::Extension(id) => {
                self.others.remove(number.as_str());
                self.extensions.insert(number, id);
            }
            other => {
                self.extensions.remove(number.as_str());
                self.others.insert(number, other);
            }
        }
    }

    /// Frees `number`.
    pub fn remove(&mut self, number: &str) {
        self.extensions.remove(number);
        self.others.remove(number);
    }

    /// How many numbers are taken.
    pub fn len(&self) -> usize {
        self.extensions.len() + self.others.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every number and its owner, in number order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, NumberOwner)> + '_ {
        let mut a = self
            .extensions
            .iter()
            .map(|(k, id)| (k.as_str(), NumberOwner::Extension(*id)))
            .peekable();
        let mut b = self.others.iter().map(|(k, o)| (k.as_str(), *o)).peekable();
        std::iter::from_fn(move || match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if y.0 < x.0 => b.next(),
            (Some(_), _) => a.next(),
            (None, _) => b.next(),
        })
    }
}

/// Encoded as the map of number → owner it was (numbers in order).
impl Serialize for Numbers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, &v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Numbers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Numbers, D::Error> {
        struct NumbersVisitor;
        impl<'de> Visitor<'de> for NumbersVisitor {
            type Value = Numbers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of number to owner")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Numbers, A::Error> {
                let mut out = Numbers::default();
                while let Some((k, v)) = map.next_entry::<Short, NumberOwner>()? {
                    out.insert(k, v);
                }
                Ok(out)
            }
        }
        d.deserialize_map(NumbersVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_reads_encodes_and_decodes_as_one_map() {
        let mut n = Numbers::default();
        let mut reference: POrdMap<Short, NumberOwner> = POrdMap::new();
        let owners = |i: u64| match i % 5 {
            0 => NumberOwner::CallQueue(Id(i)),
            1 => NumberOwner::RingGroup(Id(i)),
            2 => NumberOwner::Meeting(Id(i)),
            _ => NumberOwner::Extension(Id(i)),
        };
        let mut seed: u64 = 0x51_7cc1_b727_220a;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let number = format!("{}", 100 + seed % 60);
            if seed.is_multiple_of(4) {
                n.remove(&number);
                reference.remove(number.as_str());
            } else {
                let owner = owners(seed >> 20);
                n.insert(number.as_str().into(), owner);
                reference.insert(number.as_str().into(), owner);
            }
            assert_eq!(n.get(&number), reference.get(number.as_str()).copied());
            assert_eq!(
                n.contains_key(&number),
                reference.contains_key(number.as_str())
            );
        }
        assert_eq!(n.len(), reference.len());
        assert!(n.iter().eq(reference.iter().map(|(k, v)| (k.as_str(), *v))));
        crate::testing::assert_encodes_as(&n, &reference);
    }
}
