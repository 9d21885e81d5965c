//! [`Changes`]: the changed fields of an update event, without a map.
//!
//! A user update carries a few changed fields. Decoded into a [`Fields`]
//! map, each costs a B-tree entry and two strings, built on the replay's
//! read-ahead thread and dropped after the directory copied the values into
//! its row (decoding and dropping events were a quarter of a replay's
//! instructions, mostly these maps, for a map read once).
//! A `Changes` read from a stored payload lays its fields out flat instead:
//! every name and string value in one string (checked as UTF-8 once), the
//! fields in a small vector beside it (two inline), so reading an update
//! allocates once and the directory reads borrowed `(name, value)` pairs
//! ([`Changes::pairs`], [`Changes::value`]). The [`Fields`] map is built
//! only if someone asks for it (`Deref`), once.
//!
//! The bytes are read by a deliberately narrow reader that accepts only
//! encodings it reads exactly as postcard would (canonical varints, names in
//! strictly increasing order); anything else is decoded by postcard into a
//! map as before, so the two ways always agree on what a payload means and
//! on which payloads are malformed (the tests at the end check both on
//! random and damaged bytes).

use crate::attrs::FieldSet;
use crate::value::{Fields, Value, ValueRef};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock;

/// Changed fields with their new values, sorted by name: a [`Fields`] map,
/// or the fields of a checked encoding laid out flat (see the module docs).
#[derive(Clone, Default)]
pub struct Changes {
    /// The fields, when read from an encoding.
    flat: Option<Flat>,
    /// The map: given, or built from `flat` on first `Deref`.
    fields: OnceLock<Fields>,
}

/// Fields read from a checked encoding: every name and string value in one
/// string (checked as UTF-8 once, when read), the fields in order. Two
/// fields fit without a second allocation (most updates change one or two).
#[derive(Clone)]
struct Flat {
    text: String,
    items: SmallVec<[Item; 2]>,
}

/// A field of a [`Flat`]: its name's place in the text, and its value.
#[derive(Clone)]
struct Item {
    name: (u32, u32),
    value: Slot,
}

/// A value of a [`Flat`]: scalars as they are, a string's place in the text.
#[derive(Clone)]
enum Slot {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(u32, u32),
    Nested(Box<Value>),
}

impl Flat {
    fn str(&self, (from, to): (u32, u32)) -> &str {
        // Places made by `reader::read` from this text: always in it.
        self.text
            .get(from as usize..to as usize)
            .unwrap_or_default()
    }

    fn pair<'a>(&'a self, item: &'a Item) -> (&'a str, ValueRef<'a>) {
        let value = match &item.value {
            Slot::Null => ValueRef::Null,
            Slot::Bool(b) => ValueRef::Bool(*b),
            Slot::Int(i) => ValueRef::Int(*i),
            Slot::Float(f) => ValueRef::Float(*f),
            Slot::Str(from, to) => ValueRef::Str(self.str((*from, *to))),
            Slot::Nested(v) => ValueRef::Nested(Cow::Borrowed(v)),
        };
        (self.str(item.name), value)
    }
}

impl Changes {
    /// These fields.
    pub fn new(fields: Fields) -> Changes {
        Changes {
            flat: None,
            fields: OnceLock::from(fields),
        }
    }

    /// Reads a map at the start of `bytes` as postcard would; returns it
    /// and the bytes after it.
    pub fn take_from_bytes(bytes: &[u8]) -> Result<(Changes, &[u8]), postcard::Error> {
        if let Some((flat, end)) = reader::read(bytes) {
            let changes = Changes {
                flat: Some(flat),
                fields: OnceLock::new(),
            };
            return Ok((changes, &bytes[end..]));
        }
        let (fields, rest) = postcard::take_from_bytes::<Fields>(bytes)?;
        Ok((Changes::new(fields), rest))
    }

    /// The changed fields as `(name, value)`, sorted by name, borrowed.
    pub fn pairs(&self) -> Pairs<'_> {
        match (&self.flat, self.fields.get()) {
            (Some(flat), _) => Pairs(PairsFrom::Flat(flat, flat.items.iter())),
            (None, Some(fields)) => Pairs(PairsFrom::Fields(fields.iter())),
            (None, None) => Pairs(PairsFrom::Fields(Default::default())),
        }
    }

    /// The names of the changed fields, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.pairs().map(|(k, _)| k)
    }

    /// The new value of `name`, if it changed.
    pub fn value(&self, name: &str) -> Option<ValueRef<'_>> {
        self.pairs().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// How many fields changed.
    pub fn count(&self) -> usize {
        match &self.flat {
            Some(flat) => flat.items.len(),
            None => self.fields().len(),
        }
    }

    /// The changes as a map (built on first use when read from bytes).
    pub fn fields(&self) -> &Fields {
        self.fields.get_or_init(|| {
            self.pairs()
                .map(|(k, v)| (k.to_owned(), v.into()))
                .collect()
        })
    }

    /// The changes as an owned map.
    pub fn into_fields(mut self) -> Fields {
        match self.fields.take() {
            Some(fields) => fields,
            None => self
                .pairs()
                .map(|(k, v)| (k.to_owned(), v.into()))
                .collect(),
        }
    }
}

/// `Changes` reads as the map it holds (built on first use).
impl Deref for Changes {
    type Target = Fields;
    fn deref(&self) -> &Fields {
        self.fields()
    }
}

impl From<Fields> for Changes {
    fn from(fields: Fields) -> Changes {
        Changes::new(fields)
    }
}

impl<const N: usize> From<[(String, Value); N]> for Changes {
    fn from(pairs: [(String, Value); N]) -> Changes {
        Changes::new(Fields::from(pairs))
    }
}

impl From<Changes> for Fields {
    fn from(changes: Changes) -> Fields {
        changes.into_fields()
    }
}

impl FromIterator<(String, Value)> for Changes {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Changes {
        Changes::new(iter.into_iter().collect())
    }
}

impl PartialEq for Changes {
    fn eq(&self, other: &Changes) -> bool {
        self.count() == other.count() && self.pairs().eq(other.pairs())
    }
}

impl PartialEq<Fields> for Changes {
    fn eq(&self, other: &Fields) -> bool {
        self.count() == other.len()
            && self
                .pairs()
                .eq(other.iter().map(|(k, v)| (k.as_str(), v.view())))
    }
}

impl fmt::Debug for Changes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.pairs()).finish()
    }
}

/// Encoded exactly as the [`Fields`] map it holds.
impl Serialize for Changes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.count()))?;
        for (k, v) in self.pairs() {
            m.serialize_entry(k, &v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Changes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Changes, D::Error> {
        Fields::deserialize(d).map(Changes::new)
    }
}

impl FieldSet for Changes {
    fn get(&self, name: &str) -> Option<ValueRef<'_>> {
        self.value(name)
    }

    fn each(&self) -> Box<dyn Iterator<Item = (&str, ValueRef<'_>)> + '_> {
        Box::new(self.pairs())
    }
}

impl<'a> IntoIterator for &'a Changes {
    type Item = (&'a str, ValueRef<'a>);
    type IntoIter = Pairs<'a>;
    fn into_iter(self) -> Pairs<'a> {
        self.pairs()
    }
}

/// The pairs of a [`Changes`], sorted by name.
#[derive(Clone)]
pub struct Pairs<'a>(PairsFrom<'a>);

#[derive(Clone)]
enum PairsFrom<'a> {
    Fields(std::collections::btree_map::Iter<'a, String, Value>),
    Flat(&'a Flat, std::slice::Iter<'a, Item>),
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a str, ValueRef<'a>);
    fn next(&mut self) -> Option<(&'a str, ValueRef<'a>)> {
        match &mut self.0 {
            PairsFrom::Fields(it) => it.next().map(|(k, v)| (k.as_str(), v.view())),
            PairsFrom::Flat(flat, it) => it.next().map(|item| flat.pair(item)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            PairsFrom::Fields(it) => it.size_hint(),
            PairsFrom::Flat(_, it) => it.size_hint(),
        }
    }
}

/// The narrow postcard reader (see the module docs).
mod reader {
    use super::*;

    /// Postcard's variant indexes of [`Value`].
    const NULL: u64 = 0;
    const BOOL: u64 = 1;
    const INT: u64 = 2;
    const FLOAT: u64 = 3;
    const STR: u64 = 4;
    const LIST: u64 = 5;
    const MAP: u64 = 6;

    /// A canonical varint below 2^63 at `*at` (at most nine bytes, no
    /// trailing zero byte): postcard reads it as the same number.
    fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
        let mut n = 0u64;
        for i in 0..9 {
            let byte = *b.get(*at + i)?;
            n |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if i > 0 && byte == 0 {
                    return None;
                }
                *at += i + 1;
                return Some(n);
            }
        }
        None
    }

    /// A length-prefixed UTF-8 string at `*at`.
    fn str<'a>(b: &'a [u8], at: &mut usize) -> Option<&'a str> {
        let n = usize::try_from(varint(b, at)?).ok()?;
        let bytes = b.get(*at..at.checked_add(n)?)?;
        *at += n;
        std::str::from_utf8(bytes).ok()
    }

    /// The value at `*at` and where it ends; `None` if this reader does not
    /// accept it.
    fn value<'a>(b: &'a [u8], at: &mut usize) -> Option<ValueRef<'a>> {
        let start = *at;
        Some(match varint(b, at)? {
            NULL => ValueRef::Null,
            BOOL => {
                let v = match b.get(*at)? {
                    0 => false,
                    1 => true,
                    _ => return None,
                };
                *at += 1;
                ValueRef::Bool(v)
            }
            INT => {
                let z = varint(b, at)?;
                ValueRef::Int(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            FLOAT => {
                let bytes: [u8; 8] = b.get(*at..*at + 8)?.try_into().ok()?;
                *at += 8;
                ValueRef::Float(f64::from_le_bytes(bytes))
            }
            STR => ValueRef::Str(str(b, at)?),
            LIST | MAP => {
                // Rare in updates: postcard reads it (and says where it ends).
                let from = b.get(start..)?;
                let (v, rest) = postcard::take_from_bytes::<Value>(from).ok()?;
                *at = b.len() - rest.len();
                ValueRef::Nested(Cow::Owned(v))
            }
            _ => return None,
        })
    }

    /// Reads a map at the start of `b`: its fields laid out flat and where
    /// it ends, if this reader accepts it.
    pub(super) fn read(b: &[u8]) -> Option<(Flat, usize)> {
        let mut at = 0;
        let len = usize::try_from(varint(b, &mut at)?).ok()?;
        // The text is at most the encoding long: one allocation.
        let mut text = String::with_capacity(b.len().min(4096));
        let mut items = SmallVec::new();
        let place = |text: &mut String, s: &str| -> Option<(u32, u32)> {
            let from = u32::try_from(text.len()).ok()?;
            text.push_str(s);
            Some((from, u32::try_from(text.len()).ok()?))
        };
        let mut last: Option<(u32, u32)> = None;
        for _ in 0..len {
            let k = str(b, &mut at)?;
            if let Some((from, to)) = last {
                if text.get(from as usize..to as usize)? >= k {
                    return None;
                }
            }
            let name = place(&mut text, k)?;
            last = Some(name);
            let value = match value(b, &mut at)? {
                ValueRef::Null => Slot::Null,
                ValueRef::Bool(v) => Slot::Bool(v),
                ValueRef::Int(i) => Slot::Int(i),
                ValueRef::Float(f) => Slot::Float(f),
                ValueRef::Str(s) => {
                    let (from, to) = place(&mut text, s)?;
                    Slot::Str(from, to)
                }
                ValueRef::Nested(v) => Slot::Nested(Box::new(v.into_owned())),
            };
            items.push(Item { name, value });
        }
        Some((Flat { text, items }, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn random_value(rng: &mut StdRng, depth: u32) -> Value {
        match rng.gen_range(0..if depth > 1 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(rng.gen()),
            2 => Value::Int(match rng.gen_range(0..3) {
                0 => rng.gen_range(-100..100),
                1 => rng.gen(),
                _ => i64::MIN + rng.gen_range(0..3),
            }),
            3 => Value::Float(rng.gen()),
            4 => Value::Str(
                (0..rng.gen_range(0..20))
                    .map(|_| if rng.gen_bool(0.9) { 'a' } else { 'é' })
                    .collect(),
            ),
            5 => Value::List(
                (0..rng.gen_range(0..3))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            _ => Value::Map(random_fields(rng, depth + 1)),
        }
    }

    fn random_fields(rng: &mut StdRng, depth: u32) -> Fields {
        (0..rng.gen_range(0..6))
            .map(|_| {
                (
                    format!("f{}", rng.gen_range(0..8)),
                    random_value(rng, depth),
                )
            })
            .collect()
    }

    /// A map read, and how many bytes follow it.
    type Read<T> = Result<(T, usize), postcard::Error>;

    /// What postcard makes of `bytes`, and what `Changes` makes of them.
    fn both(bytes: &[u8]) -> (Read<Fields>, Read<Changes>) {
        let theirs = postcard::take_from_bytes::<Fields>(bytes).map(|(f, rest)| (f, rest.len()));
        let ours = Changes::take_from_bytes(bytes).map(|(c, rest)| (c, rest.len()));
        (theirs, ours)
    }

    #[test]
    fn given_encoded_fields_when_read_then_they_are_postcards_map_without_building_it() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut lazy = 0;
        for _ in 0..3000 {
            let fields = random_fields(&mut rng, 0);
            let mut bytes = postcard::to_allocvec(&fields).unwrap();
            bytes.extend_from_slice(b"tail");
            let (changes, rest) = Changes::take_from_bytes(&bytes).unwrap();
            assert_eq!(rest, b"tail");
            lazy += usize::from(changes.fields.get().is_none() && changes.flat.is_some());
            // Read without the map...
            assert_eq!(changes, fields);
            assert_eq!(changes.count(), fields.len());
            for (k, v) in &fields {
                assert_eq!(changes.value(k), Some(v.view()));
            }
            assert_eq!(changes.value("nope"), None);
            assert_eq!(
                postcard::to_allocvec(&changes).unwrap(),
                bytes[..bytes.len() - 4]
            );
            // ...and with it.
            assert_eq!(*changes, fields);
            assert_eq!(changes.into_fields(), fields);
        }
        assert!(lazy > 2000, "most maps are read from their bytes ({lazy})");
    }

    #[test]
    fn given_damaged_or_unusual_bytes_when_read_then_postcard_and_changes_agree() {
        let mut rng = StdRng::seed_from_u64(11);
        for round in 0..20_000 {
            let fields = random_fields(&mut rng, 0);
            let mut bytes = postcard::to_allocvec(&fields).unwrap();
            match round % 4 {
                // A byte changed.
                0 if !bytes.is_empty() => {
                    let i = rng.gen_range(0..bytes.len());
                    bytes[i] = rng.gen();
                }
                // Cut short.
                1 => bytes.truncate(rng.gen_range(0..=bytes.len())),
                // Names out of order or repeated (postcard sorts them; so must we).
                2 => {
                    let mut entries: Vec<(String, Value)> = fields.into_iter().collect();
                    entries.reverse();
                    if let Some(first) = entries.first().cloned() {
                        entries.push(first);
                    }
                    let mut out = postcard::to_allocvec(&entries.len()).unwrap();
                    for e in &entries {
                        out.extend(postcard::to_allocvec(e).unwrap());
                    }
                    bytes = out;
                }
                // Random bytes.
                _ => bytes = (0..rng.gen_range(0..24)).map(|_| rng.gen()).collect(),
            }
            match both(&bytes) {
                (Ok((f, rest)), Ok((c, our_rest))) => {
                    // Compared by encoding: a damaged float may be NaN.
                    let f = postcard::to_allocvec(&f).unwrap();
                    assert_eq!(postcard::to_allocvec(&c).unwrap(), f, "{bytes:?}");
                    assert_eq!(postcard::to_allocvec(&*c).unwrap(), f);
                    assert_eq!(rest, our_rest);
                }
                (Err(_), Err(_)) => {}
                (theirs, ours) => panic!("{bytes:?}: postcard {theirs:?}, changes {ours:?}"),
            }
        }
    }

    #[test]
    fn given_non_canonical_numbers_when_read_then_postcard_decides() {
        // 0 as a two-byte varint (count), an `Int` of 2^62 (a ten-byte varint).
        for bytes in [
            &[0x80, 0x00][..],
            &[
                1, 1, b'a', 2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
            ],
        ] {
            let (theirs, ours) = both(bytes);
            let (theirs, ours) = (theirs.unwrap(), ours.unwrap());
            assert_eq!(ours.0, theirs.0);
            assert!(ours.0.flat.is_none(), "decoded by postcard");
        }
    }

    #[test]
    fn given_an_update_event_when_decoded_then_its_changes_are_read_flat_and_equal() {
        use crate::domain::{UserProfileReset, UserUpdated};
        use crate::{Event, Id};
        let mut rng = StdRng::seed_from_u64(3);
        let mut flat = 0;
        for _ in 0..500 {
            let fields = random_fields(&mut rng, 0);
            for event in [
                Event::UserUpdated(UserUpdated {
                    user_id: Id(rng.gen()),
                    changes: fields.clone().into(),
                }),
                Event::UserProfileReset(UserProfileReset {
                    user_id: Id(rng.gen()),
                    reset: fields.clone().into(),
                }),
            ] {
                let payload = event.encode().unwrap();
                let decoded =
                    Event::decode(event.event_type(), event.schema_version(), &payload).unwrap();
                assert_eq!(decoded, event);
                let changes = match &decoded {
                    Event::UserUpdated(e) => &e.changes,
                    Event::UserProfileReset(e) => &e.reset,
                    _ => unreachable!(),
                };
                // Not when a number needs ten bytes (postcard reads those).
                flat += usize::from(changes.flat.is_some());
                assert_eq!(decoded.encode().unwrap(), payload);
                // What postcard alone makes of the payload.
                match decoded {
                    Event::UserUpdated(e) => {
                        assert_eq!(postcard::from_bytes::<UserUpdated>(&payload).unwrap(), e)
                    }
                    Event::UserProfileReset(e) => assert_eq!(
                        postcard::from_bytes::<UserProfileReset>(&payload).unwrap(),
                        e
                    ),
                    _ => unreachable!(),
                }
            }
        }
        assert!(flat > 500, "most are read flat ({flat} of 1000)");
        // A malformed payload is refused as before.
        let err = Event::decode("UserUpdated", 1, &[1, 2, 0xff]).unwrap_err();
        assert!(
            matches!(err, crate::CodecError::Malformed { .. }),
            "{err:?}"
        );
    }
}
