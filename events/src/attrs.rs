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

use crate::value::{Fields, Value, ValueRef};
use parking_lot::RwLock;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;
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
    fn get(&self, name: &str) -> Option<ValueRef<'_>>;

    /// Every set field, sorted by name.
    fn each(&self) -> Box<dyn Iterator<Item = (&str, ValueRef<'_>)> + '_>;

    /// Whether `name` is set.
    fn contains_key(&self, name: &str) -> bool {
        FieldSet::get(self, name).is_some()
    }

    /// A `Fields` copy.
    fn to_fields(&self) -> Fields {
        self.each()
            .map(|(k, v)| (k.to_owned(), v.to_value()))
            .collect()
    }
}

impl FieldSet for Fields {
    fn get(&self, name: &str) -> Option<ValueRef<'_>> {
        Fields::get(self, name).map(Value::view)
    }

    fn each(&self) -> Box<dyn Iterator<Item = (&str, ValueRef<'_>)> + '_> {
        Box::new(self.iter().map(|(k, v)| (k.as_str(), v.view())))
    }
}

impl FieldSet for Attrs {
    fn get(&self, name: &str) -> Option<ValueRef<'_>> {
        Attrs::get(self, name)
    }

    fn each(&self) -> Box<dyn Iterator<Item = (&str, ValueRef<'_>)> + '_> {
        Box::new(self.iter())
    }
}

/// Changed fields [`Attrs::merge`] applies: a [`Fields`] map or the
/// [`crate::Changes`] of an update (read flat, no map built).
pub trait Changed<'c> {
    /// The pairs, sorted by name, unique.
    type Pairs: Iterator<Item = (&'c str, ValueRef<'c>)> + Clone;
    /// The pairs.
    fn pairs(self) -> Self::Pairs;
}

impl<'c> Changed<'c> for &'c Fields {
    type Pairs = std::iter::Map<
        std::collections::btree_map::Iter<'c, String, Value>,
        fn((&'c String, &'c Value)) -> (&'c str, ValueRef<'c>),
    >;
    fn pairs(self) -> Self::Pairs {
        self.iter().map(|(k, v)| (k.as_str(), v.view()))
    }
}

impl<'c> Changed<'c> for &'c crate::Changes {
    type Pairs = crate::changes::Pairs<'c>;
    fn pairs(self) -> Self::Pairs {
        crate::Changes::pairs(self)
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

/// How a row's values are packed ([`Attrs`]): each value a tag byte, then
/// a varint (an integer, zigzag; a string's or a nested value's length) and
/// the bytes. Only this module writes them.
mod packed {
    use crate::value::{Value, ValueRef};
    use std::borrow::Cow;

    const NULL: u8 = 0;
    const FALSE: u8 = 1;
    const TRUE: u8 = 2;
    const INT: u8 = 3;
    const FLOAT: u8 = 4;
    const STR: u8 = 5;
    /// A list or a map: its postcard encoding.
    const NESTED: u8 = 6;

    /// `n` as a varint: the bytes and how many of them are used.
    fn varint_bytes(mut n: u64) -> ([u8; 10], usize) {
        let mut buf = [0u8; 10];
        let mut i = 0;
        while n >= 0x80 {
            buf[i] = (n as u8) | 0x80;
            n >>= 7;
            i += 1;
        }
        buf[i] = n as u8;
        (buf, i + 1)
    }

    fn varint(b: &[u8], at: &mut usize) -> u64 {
        let mut n = 0u64;
        let mut shift = 0;
        while let Some(&byte) = b.get(*at) {
            *at += 1;
            if shift < 64 {
                n |= u64::from(byte & 0x7f) << shift;
            }
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        n
    }

    /// Appends `v`.
    pub(super) fn put(out: &mut Vec<u8>, v: &ValueRef<'_>) {
        emit(v, |bytes| out.extend_from_slice(bytes));
    }

    /// Writes `v` over `dst`, which must be exactly [`len`]`(v)` bytes
    /// long (overwriting a value of the same packed length in place).
    pub(super) fn put_over(dst: &mut [u8], v: &ValueRef<'_>) {
        let mut at = 0;
        emit(v, |bytes| {
            if let Some(to) = dst.get_mut(at..at + bytes.len()) {
                to.copy_from_slice(bytes);
            }
            at += bytes.len();
        });
        debug_assert_eq!(at, dst.len(), "put_over: lengths differ");
    }

    /// Hands `v`'s packed bytes to `out`, piece by piece.
    fn emit(v: &ValueRef<'_>, mut out: impl FnMut(&[u8])) {
        match v {
            ValueRef::Null => out(&[NULL]),
            ValueRef::Bool(false) => out(&[FALSE]),
            ValueRef::Bool(true) => out(&[TRUE]),
            ValueRef::Int(i) => {
                let (n, used) = varint_bytes(((i << 1) ^ (i >> 63)) as u64);
                out(&[INT]);
                out(&n[..used]);
            }
            ValueRef::Float(f) => {
                out(&[FLOAT]);
                out(&f.to_le_bytes());
            }
            ValueRef::Str(s) => {
                let (n, used) = varint_bytes(s.len() as u64);
                out(&[STR]);
                out(&n[..used]);
                out(s.as_bytes());
            }
            ValueRef::Nested(v) => {
                // A `Value` always encodes (postcard fails only on types
                // it cannot express); should it not, the field reads Null.
                match postcard::to_allocvec(&**v) {
                    Ok(bytes) => {
                        let (n, used) = varint_bytes(bytes.len() as u64);
                        out(&[NESTED]);
                        out(&n[..used]);
                        out(&bytes);
                    }
                    Err(_) => out(&[NULL]),
                }
            }
        }
    }

    /// The packed length of `v`.
    pub(super) fn len(v: &ValueRef<'_>) -> usize {
        let varint_len = |n: u64| (64 - (n | 1).leading_zeros() as usize).div_ceil(7);
        match v {
            ValueRef::Null | ValueRef::Bool(_) => 1,
            ValueRef::Int(i) => 1 + varint_len(((i << 1) ^ (i >> 63)) as u64),
            ValueRef::Float(_) => 9,
            ValueRef::Str(s) => 1 + varint_len(s.len() as u64) + s.len(),
            ValueRef::Nested(_) => {
                let mut out = Vec::new();
                put(&mut out, v);
                out.len()
            }
        }
    }

    /// Where the value starting at `at` ends.
    pub(super) fn end(b: &[u8], mut at: usize) -> usize {
        let tag = b.get(at).copied().unwrap_or(NULL);
        at += 1;
        match tag {
            INT => {
                varint(b, &mut at);
            }
            FLOAT => at += 8,
            STR | NESTED => {
                let n = varint(b, &mut at) as usize;
                at = at.saturating_add(n);
            }
            _ => {}
        }
        at.min(b.len())
    }

    /// The value starting at `at`.
    pub(super) fn get(b: &[u8], at: usize) -> ValueRef<'_> {
        let mut i = at + 1;
        match b.get(at).copied().unwrap_or(NULL) {
            FALSE => ValueRef::Bool(false),
            TRUE => ValueRef::Bool(true),
            INT => {
                let z = varint(b, &mut i);
                ValueRef::Int(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            FLOAT => {
                let mut f = [0u8; 8];
                if let Some(bytes) = b.get(i..i + 8) {
                    f.copy_from_slice(bytes);
                }
                ValueRef::Float(f64::from_le_bytes(f))
            }
            STR => {
                let n = varint(b, &mut i) as usize;
                // Written from a `&str` by `put`: always valid UTF-8.
                let s = b
                    .get(i..i.saturating_add(n))
                    .and_then(|s| std::str::from_utf8(s).ok());
                s.map_or(ValueRef::Null, ValueRef::Str)
            }
            NESTED => {
                let n = varint(b, &mut i) as usize;
                let v = b
                    .get(i..i.saturating_add(n))
                    .and_then(|s| postcard::from_bytes::<Value>(s).ok());
                v.map_or(ValueRef::Null, |v| ValueRef::Nested(Cow::Owned(v)))
            }
            _ => ValueRef::Null,
        }
    }
}

/// A row's set fields, sorted by name (the order [`Fields`] iterates in):
/// the names as a shared [shape](Shape) of interned names, the values
/// packed in one byte string in the row (a tag, a length and the bytes:
/// ~15 bytes for a typical string field instead of a 32-byte [`Value`]
/// and its string's allocation). Reads hand out borrowed [`ValueRef`]s.
/// Missing means "default", as in [`Fields`].
#[derive(Clone)]
pub struct Attrs {
    names: Shape,
    values: Box<[u8]>,
}

/// Equal when they hold equal values under the same names (as their
/// [`Fields`] would compare: `0.0 == -0.0`, NaN never equal).
impl PartialEq for Attrs {
    fn eq(&self, other: &Attrs) -> bool {
        self.names == other.names && self.values().eq(other.values())
    }
}

impl Default for Attrs {
    fn default() -> Attrs {
        Attrs {
            names: NO_FIELDS.clone(),
            values: Box::default(),
        }
    }
}

/// The values of a row, one after the other.
struct Values<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Values<'a> {
    type Item = ValueRef<'a>;
    fn next(&mut self) -> Option<ValueRef<'a>> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let v = packed::get(self.bytes, self.at);
        self.at = packed::end(self.bytes, self.at);
        Some(v)
    }
}

impl Attrs {
    /// No fields.
    pub fn new() -> Attrs {
        Attrs::default()
    }

    /// Fields from sorted, unique `(name, value)` pairs.
    fn from_sorted<'v>(pairs: impl IntoIterator<Item = (Name, ValueRef<'v>)>) -> Attrs {
        let mut names = Vec::new();
        let mut values = Vec::new();
        for (k, v) in pairs {
            names.push(k);
            packed::put(&mut values, &v);
        }
        Attrs {
            names: shape(names),
            values: values.into_boxed_slice(),
        }
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.names.binary_search_by(|k| k.as_str().cmp(name))
    }

    /// Where value `i` starts.
    fn start(&self, i: usize) -> usize {
        let mut at = 0;
        for _ in 0..i {
            at = packed::end(&self.values, at);
        }
        at
    }

    fn values(&self) -> Values<'_> {
        Values {
            bytes: &self.values,
            at: 0,
        }
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<ValueRef<'_>> {
        let i = self.find(name).ok()?;
        Some(packed::get(&self.values, self.start(i)))
    }

    /// Whether `name` is set.
    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// How many fields are set.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The set fields, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, ValueRef<'_>)> + '_ {
        self.names.iter().map(Name::as_str).zip(self.values())
    }

    /// The names of the set fields, sorted.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.names.iter().map(Name::as_str)
    }

    /// Sets `name` (a `Null` value is stored as given; see [`Attrs::merge`]
    /// for "Null clears"). Returns the value it replaced.
    pub fn insert(&mut self, name: &str, value: Value) -> Option<Value> {
        let old = self.get(name).map(|v| v.to_value());
        self.apply(std::iter::once((name, value.view())), false);
        old
    }

    /// Unsets `name`; returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let old = self.get(name).map(|v| v.to_value())?;
        self.apply(std::iter::once((name, ValueRef::Null)), true);
        Some(old)
    }

    /// Applies changed fields: `Null` clears a field back to its default. A
    /// field already set is overwritten in place when its new value packs
    /// to as many bytes (replaying updates of the same fields allocates
    /// nothing then); otherwise the values are packed again, and the row is
    /// reshaped only when names come or go.
    pub fn merge<'c>(&mut self, changes: impl Changed<'c>) {
        self.apply(changes.pairs(), true);
    }

    /// `changes` (sorted by name, unique) applied; a `Null` clears the field
    /// when `null_clears`, else it is stored.
    fn apply<'c, I>(&mut self, changes: I, null_clears: bool)
    where
        I: Iterator<Item = (&'c str, ValueRef<'c>)> + Clone,
    {
        // In place when every change overwrites a set field with a value
        // of the same packed length; packed again into one buffer of the
        // exact new length (the shape kept) when only lengths differ. A
        // replay applies millions of updates: neither path allocates more
        // than that buffer (the overwrites are noted on the stack).
        let mut overwrites: SmallVec<[(usize, usize, ValueRef<'c>); 8]> = SmallVec::new();
        let (mut fits, mut same_names) = (true, true);
        let mut new_len = self.values.len();
        let (mut i, mut at) = (0, 0);
        for (k, v) in changes.clone() {
            let clears = null_clears && v.is_null();
            match self.find(k) {
                Err(_) if clears => continue,
                Ok(j) if !clears => {
                    // `changes` is sorted as the names are: walk on.
                    while i < j {
                        at = packed::end(&self.values, at);
                        i += 1;
                    }
                    let end = packed::end(&self.values, at);
                    let len = packed::len(&v);
                    fits &= len == end - at;
                    new_len = new_len - (end - at) + len;
                    overwrites.push((at, end, v));
                }
                // A name comes or goes.
                _ => {
                    same_names = false;
                    break;
                }
            }
        }
        if same_names && fits {
            for (at, end, v) in overwrites {
                packed::put_over(&mut self.values[at..end], &v);
            }
            return;
        }
        if same_names {
            let mut out = Vec::with_capacity(new_len);
            let mut from = 0;
            for (at, end, v) in overwrites {
                out.extend_from_slice(&self.values[from..at]);
                packed::put(&mut out, &v);
                from = end;
            }
            out.extend_from_slice(&self.values[from..]);
            self.values = out.into_boxed_slice();
            return;
        }
        // Pack again: one merge of the two sorted sequences.
        let mut out: Vec<(Name, ValueRef<'_>)> =
            Vec::with_capacity(self.len() + changes.size_hint().0);
        let mut old = self.names.iter().zip(self.values()).peekable();
        let mut new = changes.peekable();
        loop {
            let take_old = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((ok, _)), Some((nk, _))) => ok.as_str() < *nk,
            };
            if take_old {
                // Untouched by this change (a stored `Null` included).
                if let Some((k, v)) = old.next() {
                    out.push((k.clone(), v));
                }
                continue;
            }
            let Some((nk, nv)) = new.next() else { break };
            let name = match old.peek() {
                // Replaced or cleared: keep the shared name.
                Some((ok, _)) if ok.as_str() == nk => old.next().map(|(k, _)| k.clone()),
                _ => None,
            };
            if null_clears && nv.is_null() {
                continue;
            }
            out.push((name.unwrap_or_else(|| Name::intern(nk)), nv));
        }
        let new = Attrs::from_sorted(out);
        *self = new;
    }

    /// A `Fields` copy (for code that builds a changed copy of a row).
    pub fn to_fields(&self) -> Fields {
        FieldSet::to_fields(self)
    }
}

impl From<&Fields> for Attrs {
    fn from(fields: &Fields) -> Attrs {
        // `Fields` is sorted and unique by name already.
        Attrs::from_sorted(fields.iter().map(|(k, v)| (Name::intern(k), v.view())))
    }
}

impl From<Fields> for Attrs {
    fn from(fields: Fields) -> Attrs {
        Attrs::from(&fields)
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
        Attrs::from_sorted(v.iter().map(|(k, v)| (k.clone(), v.view())))
    }
}

impl PartialEq<Fields> for Attrs {
    fn eq(&self, other: &Fields) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((a, x), (b, y))| a == b && x == *y)
    }
}

impl<'a> IntoIterator for &'a Attrs {
    type Item = (&'a str, ValueRef<'a>);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, ValueRef<'a>)> + 'a>;
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
            m.serialize_entry(k, &v)?;
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
            /// Names interned as read (a snapshot decodes every row's
            /// fields: no owned name).
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
                // Every kind, and lengths that pack alike and differently
                // (in place and packed again).
                let v = match next(8) {
                    0 => Value::Null,
                    1 => Value::Int(next(10) as i64 - 5),
                    2 => Value::Bool(next(2) == 0),
                    3 => Value::Float(next(100) as f64 / 8.0 - 6.0),
                    4 => Value::Int(if next(2) == 0 {
                        i64::MIN + next(3) as i64
                    } else {
                        i64::MAX - next(3) as i64
                    }),
                    5 => Value::List(vec![Value::Int(next(3) as i64), Value::from("é")]),
                    _ => Value::from("x".repeat(next(200) as usize).as_str()),
                };
                changes.insert(names[next(names.len() as u64) as usize].into(), v);
            }
            attrs.merge(&changes);
            reference_merge(&mut reference, &changes);
            assert_eq!(attrs, reference);
            for name in names {
                assert_eq!(attrs.get(name), reference.get(name).map(Value::view));
            }
        }
        let bytes = postcard::to_allocvec(&attrs).expect("encode");
        assert_eq!(bytes, postcard::to_allocvec(&reference).expect("encode"));
        assert_eq!(
            serde_json::to_string(&attrs).expect("json"),
            serde_json::to_string(&reference).expect("json")
        );
    }

    #[test]
    fn values_pack_into_one_byte_string_and_read_back() {
        let mut inner = std::collections::BTreeMap::new();
        inner.insert("from".to_owned(), Value::from("09:00"));
        let f = fields(&[
            ("a_null", Value::Null),
            ("b_false", Value::Bool(false)),
            ("c_true", Value::Bool(true)),
            ("d_int", Value::Int(-1_234_567)),
            ("e_min", Value::Int(i64::MIN)),
            ("f_float", Value::Float(-0.25)),
            ("g_str", Value::from("user1@example.com")),
            ("h_long", Value::from("y".repeat(300).as_str())),
            (
                "i_list",
                Value::List(vec![Value::Map(inner), Value::Int(3)]),
            ),
            ("j_empty", Value::from("")),
        ]);
        let attrs = Attrs::from(&f);
        assert_eq!(attrs, f);
        for (k, v) in &f {
            assert_eq!(attrs.get(k), Some(v.view()), "{k}");
        }
        // A tag, then a varint or the bytes: a short string costs its bytes
        // and two more; null and booleans one byte, -1234567 five, a float
        // nine, the list its postcard bytes (18) and two.
        let sizes = [1, 1, 1, 5, 11, 9, 2 + 17, 3 + 300, 2 + 18, 2];
        assert_eq!(attrs.values.len(), sizes.iter().sum::<usize>());
        let mut again = attrs.clone();
        // Same packed length: overwritten in place (no new allocation).
        let before = again.values.as_ptr();
        again.merge(&fields(&[("g_str", Value::from("user2@example.com"))]));
        assert_eq!(again.values.as_ptr(), before);
        assert_eq!(again.get("g_str"), Some(ValueRef::Str("user2@example.com")));
        // Another length: the values packed again, the shape kept.
        let shape = again.names.clone();
        again.merge(&fields(&[("g_str", Value::from("u@x"))]));
        assert!(Arc::ptr_eq(&again.names, &shape));
        assert_eq!(again.get("g_str"), Some(ValueRef::Str("u@x")));
        assert_eq!(again.get("h_long"), Some(ValueRef::Str(&"y".repeat(300))));
        again.merge(&fields(&[("d_int", Value::Int(1))]));
        assert_eq!(again.get("d_int"), Some(ValueRef::Int(1)));
        assert_eq!(again.get("e_min"), Some(ValueRef::Int(i64::MIN)));
        assert_eq!(again.get("j_empty"), Some(ValueRef::Str("")));
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
        assert_eq!(attrs.get("b"), Some(ValueRef::Int(3)), "the last one wins");
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
        assert_eq!(b.get("shape_y"), Some(ValueRef::Str("two")));
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
        assert_eq!(back.get("display_name"), Some(ValueRef::Str("Ann")));
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
