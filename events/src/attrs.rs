//! Compact field sets for the rows a projection keeps by the hundred
//! thousand (users, items): [`Attrs`].
//!
//! Events carry [`Fields`] (a `BTreeMap<String, Value>`): right for a message,
//! wasteful for a row that lives as long as the process. A B-tree leaf has
//! room for eleven entries whatever the row holds (~630 bytes), and every
//! row owns a copy of each field *name*. [`Attrs`] keeps a row's values in
//! one boxed slice, sorted by name, and the names apart: a sorted list of
//! interned names (one shared `Arc<str>` per distinct field name for the
//! whole process) that is itself shared by every row with the same set
//! fields (its *shape*, as a JavaScript engine's hidden class). A row thus
//! pays 32 bytes per set field (the [`Value`]) and nothing for empty slots
//! or names.
//!
//! The interner holds at most [`MAX_NAMES`] names (field names are a finite
//! set: the field tables') and the shape table at most [`MAX_SHAPES`]
//! shapes of at most 128 names; past that a name or a shape is kept by its
//! row only, so a client that sends many distinct names cannot grow either
//! without bound.

use crate::value::{Fields, Value};
use parking_lot::RwLock;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock};

/// Interned field names at most (ten times the field tables' names).
pub const MAX_NAMES: usize = 4096;

/// Longest name the interner keeps (a longer one is kept by its row only).
const MAX_NAME_LEN: usize = 64;

static NAMES: LazyLock<RwLock<HashSet<Arc<str>>>> = LazyLock::new(Default::default);

/// A field name, shared by every row that sets the field.
#[derive(Clone)]
pub struct Name(Arc<str>);

impl Name {
    /// The interned name (one allocation per distinct name per process).
    pub fn intern(name: &str) -> Name {
        if let Some(shared) = NAMES.read().get(name) {
            return Name(shared.clone());
        }
        if name.len() > MAX_NAME_LEN {
            return Name(Arc::from(name));
        }
        let mut names = NAMES.write();
        if let Some(shared) = names.get(name) {
            return Name(shared.clone());
        }
        let shared: Arc<str> = Arc::from(name);
        if names.len() < MAX_NAMES {
            names.insert(shared.clone());
        }
        Name(shared)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for Name {}

/// As the string (equal names hash alike, interned or not).
impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

/// Encoded as the string.
impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Read straight into the interner: no owned copy of the name when the
/// decoder lends its bytes, as postcard does from a snapshot (serde's
/// `Cow<str>` always copies). A snapshot decodes one name per field of
/// every row.
impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Name, E> {
                Ok(Name::intern(s))
            }
        }
        d.deserialize_str(NameVisitor)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// Read access to a set of fields by name, whatever its layout: the field
/// tables read [`Fields`] (a command's input) and [`Attrs`] (a row) alike.
pub trait FieldSet {
    /// The value of `name`, if set.
    fn get(&self, name: &str) -> Option<&Value>;

    /// Every set field, sorted by name.
    fn each(&self) -> Box<dyn Iterator<Item = (&str, &Value)> + '_>;

    /// Whether `name` is set.
    fn contains_key(&self, name: &str) -> bool {
        FieldSet::get(self, name).is_some()
    }

    /// A `Fields` copy.
    fn to_fields(&self) -> Fields {
        self.each()
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect()
    }
}

impl FieldSet for Fields {
    fn get(&self, name: &str) -> Option<&Value> {
        Fields::get(self, name)
    }

    fn each(&self) -> Box<dyn Iterator<Item = (&str, &Value)> + '_> {
        Box::new(self.iter().map(|(k, v)| (k.as_str(), v)))
    }
}

impl FieldSet for Attrs {
    fn get(&self, name: &str) -> Option<&Value> {
        Attrs::get(self, name)
    }

    fn each(&self) -> Box<dyn Iterator<Item = (&str, &Value)> + '_> {
        Box::new(self.iter())
    }
}

/// Distinct shapes (sets of field names) kept in the shape table at most;
/// past that a row keeps its own.
pub const MAX_SHAPES: usize = 4096;

/// Most names of a shape the table keeps (a row with more keeps its own), so
/// the table's bytes are bounded too: at most 4096 × 128 names of 16 bytes.
const MAX_SHAPE_LEN: usize = 128;

/// The names of a row's set fields, sorted: its *shape*. Rows with the same
/// set fields share one (a tenant's users mostly have a handful of shapes),
/// so a row pays for its values only.
type Shape = Arc<Box<[Name]>>;

/// A shape in the table, looked up by its names.
struct ShapeKey(Shape);

impl std::borrow::Borrow<[Name]> for ShapeKey {
    fn borrow(&self) -> &[Name] {
        &self.0
    }
}

impl std::hash::Hash for ShapeKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As the `[Name]` it is looked up by.
        <[Name] as std::hash::Hash>::hash(&self.0, state)
    }
}

impl PartialEq for ShapeKey {
    fn eq(&self, other: &ShapeKey) -> bool {
        self.0 == other.0
    }
}

impl Eq for ShapeKey {}

static SHAPES: LazyLock<RwLock<HashSet<ShapeKey>>> = LazyLock::new(Default::default);

static NO_FIELDS: LazyLock<Shape> = LazyLock::new(|| Arc::new(Box::default()));

/// The shared shape of these (sorted, unique) names.
fn shape(names: Vec<Name>) -> Shape {
    if names.is_empty() {
        return NO_FIELDS.clone();
    }
    if names.len() > MAX_SHAPE_LEN {
        return Arc::new(names.into_boxed_slice());
    }
    if let Some(shared) = SHAPES.read().get(names.as_slice()) {
        return shared.0.clone();
    }
    let mut shapes = SHAPES.write();
    if let Some(shared) = shapes.get(names.as_slice()) {
        return shared.0.clone();
    }
    let new: Shape = Arc::new(names.into_boxed_slice());
    if shapes.len() < MAX_SHAPES {
        shapes.insert(ShapeKey(new.clone()));
    }
    new
}

/// A row's set fields, sorted by name (the order [`Fields`] iterates in):
/// the names as a shared [shape](Shape) of interned names, the values in
/// the row. Missing means "default", as in [`Fields`].
#[derive(Clone, PartialEq)]
pub struct Attrs {
    names: Shape,
    values: Box<[Value]>,
}

impl Default for Attrs {
    fn default() -> Attrs {
        Attrs {
            names: NO_FIELDS.clone(),
            values: Box::default(),
        }
    }
}

impl Attrs {
    /// No fields.
    pub fn new() -> Attrs {
        Attrs::default()
    }

    /// Fields from sorted, unique `(name, value)` pairs.
    fn from_sorted(pairs: Vec<(Name, Value)>) -> Attrs {
        let (names, values): (Vec<Name>, Vec<Value>) = pairs.into_iter().unzip();
        Attrs {
            names: shape(names),
            values: values.into_boxed_slice(),
        }
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.names.binary_search_by(|k| k.as_str().cmp(name))
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.find(name).ok().and_then(|i| self.values.get(i))
    }

    /// Whether `name` is set.
    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// How many fields are set.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The set fields, sorted by name.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &Value)> + ExactSizeIterator + '_ {
        self.names
            .iter()
            .zip(self.values.iter())
            .map(|(k, v)| (k.as_str(), v))
    }

    /// The names of the set fields, sorted.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.names.iter().map(Name::as_str)
    }

    /// The row's pairs, to be reshaped.
    fn take_pairs(&mut self) -> Vec<(Name, Value)> {
        let names = std::mem::replace(&mut self.names, NO_FIELDS.clone());
        let values = std::mem::take(&mut self.values).into_vec();
        names.iter().cloned().zip(values).collect()
    }

    /// Sets `name` (a `Null` value is stored as given; see [`Attrs::merge`]
    /// for "Null clears"). Returns the value it replaced.
    pub fn insert(&mut self, name: &str, value: Value) -> Option<Value> {
        match self.find(name) {
            Ok(i) => self.values.get_mut(i).map(|v| std::mem::replace(v, value)),
            Err(i) => {
                let mut v = self.take_pairs();
                v.insert(i, (Name::intern(name), value));
                *self = Attrs::from_sorted(v);
                None
            }
        }
    }

    /// Unsets `name`; returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.find(name).ok()?;
        let mut v = self.take_pairs();
        let (_, old) = v.remove(i);
        *self = Attrs::from_sorted(v);
        Some(old)
    }

    /// Applies changed fields: `Null` clears a field back to its default. A
    /// field already set is overwritten in place (a string reuses its
    /// buffer when it fits), so replaying updates of the same fields
    /// allocates nothing; the row is reshaped only when names come or go.
    pub fn merge(&mut self, changes: &Fields) {
        let mut reshaped = false;
        for (k, v) in changes {
            match (self.find(k), v) {
                (Ok(_), Value::Null) => reshaped = true,
                (Ok(i), v) => match (&mut self.values[i], v) {
                    (Value::Str(old), Value::Str(new)) => old.clone_from(new),
                    (slot, v) => *slot = v.clone(),
                },
                (Err(_), Value::Null) => {}
                (Err(_), _) => reshaped = true,
            }
        }
        if !reshaped {
            return;
        }
        // Names come or go: one merge of the two sorted sequences.
        let old = self.take_pairs();
        let mut out = Vec::with_capacity(old.len() + changes.len());
        let mut old = old.into_iter().peekable();
        let mut new = changes.iter().peekable();
        loop {
            let take_old = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((ok, _)), Some((nk, _))) => ok.as_str() < nk.as_str(),
            };
            if take_old {
                // Untouched by this change (a stored `Null` included).
                out.extend(old.next());
                continue;
            }
            let Some((nk, nv)) = new.next() else { break };
            // An existing field of the same name was already overwritten
            // above: keep it (with its shared name) unless this clears it.
            if let Some((ok, _)) = old.peek() {
                if ok.as_str() == nk.as_str() {
                    let kept = old.next();
                    if !nv.is_null() {
                        out.extend(kept);
                    }
                    continue;
                }
            }
            if !nv.is_null() {
                out.push((Name::intern(nk), nv.clone()));
            }
        }
        *self = Attrs::from_sorted(out);
    }

    /// A `Fields` copy (for code that builds a changed copy of a row).
    pub fn to_fields(&self) -> Fields {
        FieldSet::to_fields(self)
    }
}

impl From<&Fields> for Attrs {
    fn from(fields: &Fields) -> Attrs {
        // `Fields` is sorted and unique by name already.
        Attrs {
            names: shape(fields.keys().map(|k| Name::intern(k)).collect()),
            values: fields.values().cloned().collect(),
        }
    }
}

impl From<Fields> for Attrs {
    fn from(fields: Fields) -> Attrs {
        Attrs::from_sorted(
            fields
                .into_iter()
                .map(|(k, v)| (Name::intern(&k), v))
                .collect(),
        )
    }
}

impl<'a> FromIterator<(&'a str, Value)> for Attrs {
    fn from_iter<I: IntoIterator<Item = (&'a str, Value)>>(iter: I) -> Attrs {
        Attrs::from_entries(
            iter.into_iter()
                .map(|(k, v)| (Name::intern(k), v))
                .collect(),
        )
    }
}

impl Attrs {
    /// Entries in any order: sorted by name; of equal names the last one
    /// wins, as in a map.
    fn from_entries(mut v: Vec<(Name, Value)>) -> Attrs {
        v.reverse();
        v.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        v.dedup_by(|later, earlier| later.0 == earlier.0);
        Attrs::from_sorted(v)
    }
}

impl PartialEq<Fields> for Attrs {
    fn eq(&self, other: &Fields) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((a, x), (b, y))| a == b && x == y)
    }
}

impl<'a> IntoIterator for &'a Attrs {
    type Item = (&'a str, &'a Value);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a Value)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl fmt::Debug for Attrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Encoded as a map of name → value: the same bytes as the [`Fields`] it
/// holds.
impl Serialize for Attrs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Attrs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Attrs, D::Error> {
        struct AttrsVisitor;
        impl<'de> Visitor<'de> for AttrsVisitor {
            type Value = Attrs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of field name to value")
            }
            /// Names interned as read and values moved in (a snapshot
            /// decodes every row's fields: no owned name, no value copy).
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Attrs, A::Error> {
                let mut v: Vec<(Name, Value)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(0).min(256));
                while let Some(entry) = map.next_entry::<Name, Value>()? {
                    v.push(entry);
                }
                Ok(Attrs::from_entries(v))
            }
        }
        d.deserialize_map(AttrsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, Value)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    /// `merge` on `Attrs` and the same changes applied to a `Fields` map
    /// the reference way (Null removes, anything else inserts) agree.
    fn reference_merge(attrs: &mut Fields, changes: &Fields) {
        for (k, v) in changes {
            if v.is_null() {
                attrs.remove(k);
            } else {
                attrs.insert(k.clone(), v.clone());
            }
        }
    }

    #[test]
    fn merge_sets_replaces_and_clears_fields_whatever_their_kind_was() {
        let start = fields(&[
            ("display_name", Value::from("Ann")),
            ("email", Value::from("ann@example.com")),
            ("ring_timeout", Value::Int(30)),
            ("mobile_phone", Value::Int(1)),
        ]);
        let steps = [
            fields(&[
                // string over string (the buffer is reused), longer and shorter
                ("display_name", Value::from("Ann Example-Longer-Name")),
                ("email", Value::from("a@x")),
                // other kinds over each other
                ("ring_timeout", Value::from("thirty")),
                ("mobile_phone", Value::Bool(true)),
                // new, and cleared
                ("language", Value::from("en")),
                ("enabled", Value::Null),
            ]),
            fields(&[("email", Value::Null)]),
            fields(&[("aaa", Value::Int(1)), ("zzz", Value::Int(2))]),
            fields(&[
                ("aaa", Value::Null),
                ("language", Value::Null),
                ("b", Value::Null),
            ]),
        ];
        let mut attrs = Attrs::from(&start);
        let mut reference = start;
        // A stored `Null` (a created row may carry one) stays until cleared.
        attrs.insert("stored_null", Value::Null);
        reference.insert("stored_null".into(), Value::Null);
        for step in &steps {
            attrs.merge(step);
            reference_merge(&mut reference, step);
            assert_eq!(attrs, reference);
            assert_eq!(attrs.to_fields(), reference);
        }
        assert_eq!(
            attrs,
            fields(&[
                ("display_name", Value::from("Ann Example-Longer-Name")),
                ("mobile_phone", Value::Bool(true)),
                ("ring_timeout", Value::from("thirty")),
                ("stored_null", Value::Null),
                ("zzz", Value::Int(2)),
            ])
        );
    }

    #[test]
    fn a_random_sequence_of_merges_matches_the_map() {
        // A small deterministic generator: names from a short list, values
        // of every kind and Null, many rounds.
        let names = ["a", "b", "c", "display_name", "email", "z"];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let mut attrs: Attrs = [("c", Value::Null)].into_iter().collect();
        let mut reference = Fields::from([("c".to_owned(), Value::Null)]);
        for _ in 0..2000 {
            let mut changes = Fields::new();
            for _ in 0..next(4) {
                let v = match next(4) {
                    0 => Value::Null,
                    1 => Value::Int(next(10) as i64),
                    2 => Value::Bool(next(2) == 0),
                    _ => Value::from("x".repeat(next(20) as usize).as_str()),
                };
                changes.insert(names[next(names.len() as u64) as usize].into(), v);
            }
            attrs.merge(&changes);
            reference_merge(&mut reference, &changes);
            assert_eq!(attrs, reference);
        }
    }

    #[test]
    fn names_are_shared_and_lookups_insert_and_remove_like_a_map() {
        let a = Name::intern("display_name");
        let b = Name::intern(&String::from("display_name"));
        assert!(Arc::ptr_eq(&a.0, &b.0), "one copy per name");
        let mut attrs: Attrs = [
            ("b", Value::Int(2)),
            ("a", Value::Int(1)),
            ("b", Value::Int(3)),
        ]
        .into_iter()
        .collect();
        assert_eq!(attrs.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(attrs.get("b"), Some(&Value::Int(3)), "the last one wins");
        assert_eq!(attrs.insert("c", Value::Bool(true)), None);
        assert_eq!(attrs.insert("a", Value::Int(9)), Some(Value::Int(1)));
        assert_eq!(attrs.remove("b"), Some(Value::Int(3)));
        assert_eq!(attrs.remove("b"), None);
        assert!(attrs.contains_key("c") && !attrs.contains_key("b"));
        assert_eq!(attrs.len(), 2);
    }

    #[test]
    fn rows_with_the_same_names_share_one_shape() {
        let a: Attrs = [("shape_x", Value::Int(1)), ("shape_y", Value::Int(2))]
            .into_iter()
            .collect();
        let mut b = Attrs::from(&fields(&[
            ("shape_y", Value::from("two")),
            ("shape_x", Value::Bool(true)),
        ]));
        assert!(Arc::ptr_eq(&a.names, &b.names), "one shape for both rows");
        assert_ne!(a, b, "values differ");
        b.insert("shape_z", Value::Int(3));
        assert!(!Arc::ptr_eq(&a.names, &b.names));
        b.remove("shape_z");
        assert!(Arc::ptr_eq(&a.names, &b.names), "back to the shared shape");
        assert_eq!(b.keys().collect::<Vec<_>>(), ["shape_x", "shape_y"]);
        assert_eq!(b.get("shape_y"), Some(&Value::from("two")));
        let empty = Attrs::from(&Fields::new());
        assert!(Arc::ptr_eq(&empty.names, &Attrs::new().names));
        assert_eq!(empty, Attrs::new());
        // A row with more names than a shared shape may hold keeps its own.
        let wide: Attrs = (0..=MAX_SHAPE_LEN)
            .map(|i| (format!("wide_{i:03}"), Value::Int(i as i64)))
            .collect::<Vec<_>>()
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let twin = wide.clone();
        let again = Attrs::from(&wide.to_fields());
        assert!(Arc::ptr_eq(&wide.names, &twin.names), "a clone shares it");
        assert!(!Arc::ptr_eq(&wide.names, &again.names), "not in the table");
        assert_eq!(wide, again);
    }

    #[test]
    fn attrs_encode_as_the_fields_they_hold() {
        let f = fields(&[
            ("display_name", Value::from("Ann")),
            ("enabled", Value::Bool(false)),
            ("x".repeat(100).as_str(), Value::Int(7)),
        ]);
        let attrs = Attrs::from(&f);
        let bytes = postcard::to_allocvec(&attrs).expect("encode");
        assert_eq!(bytes, postcard::to_allocvec(&f).expect("encode"));
        let back: Attrs = postcard::from_bytes(&bytes).expect("decode");
        assert_eq!(back, attrs);
        assert_eq!(back.get("display_name"), Some(&Value::from("Ann")));
    }

    #[test]
    fn attrs_decoded_out_of_order_sort_and_keep_the_last_of_a_repeated_name() {
        // A map's encoding is its length and its entries, as a list of pairs.
        let pairs = vec![
            ("b", Value::Int(1)),
            ("a", Value::from("x")),
            ("b", Value::Int(2)),
        ];
        let bytes = postcard::to_allocvec(&pairs).expect("encode");
        let back: Attrs = postcard::from_bytes(&bytes).expect("decode");
        let want = fields(&[("a", Value::from("x")), ("b", Value::Int(2))]);
        assert_eq!(back, Attrs::from(&want));
        assert!(postcard::from_bytes::<Attrs>(&bytes[..bytes.len() - 1]).is_err());
    }
}
