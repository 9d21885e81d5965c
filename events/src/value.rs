//! A self-describing value for schema-driven resource fields.
//!
//! PortSIP resources carry dozens of settings (a user has ~50, a tenant ~60).
//! Rather than write each field four times (request, event, view, response),
//! the service describes them once in a field table and moves them through
//! events as [`Fields`]: a sorted map of field name to [`Value`]. `postcard`
//! is not self-describing, so `serde_json::Value` cannot be stored directly;
//! this enum is the postcard-friendly equivalent.

use serde::{Deserialize, Serialize, Serializer};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A JSON-like value that encodes with postcard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum Value {
    /// JSON `null`, also "field cleared".
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A floating point number (only when the number is not integral).
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    List(Vec<Value>),
    /// An object, keys sorted so encodings are canonical.
    Map(BTreeMap<String, Value>),
}

/// Field name → value, sorted by name. Used for created resources (all
/// fields) and for updates (only the fields that changed).
pub type Fields = BTreeMap<String, Value>;

impl Value {
    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean inside, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer inside, if this is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// This value as a borrowed [`ValueRef`] (what field sets hand out).
    pub fn view(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Bool(b) => ValueRef::Bool(*b),
            Value::Int(i) => ValueRef::Int(*i),
            Value::Float(f) => ValueRef::Float(*f),
            Value::Str(s) => ValueRef::Str(s),
            Value::List(_) | Value::Map(_) => ValueRef::Nested(Cow::Borrowed(self)),
        }
    }
}

/// A field's value as a field set hands it out ([`crate::FieldSet::get`],
/// [`crate::Attrs::get`]): scalars and strings borrowed, so a row can keep
/// its values packed in one byte string ([`crate::Attrs`]) instead of one
/// 32-byte [`Value`] each. Lists and maps (rare in rows) are borrowed from
/// a [`Fields`] map and decoded when read from a row.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ValueRef<'a> {
    /// JSON `null`, also "field cleared".
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A floating point number.
    Float(f64),
    /// A string.
    Str(&'a str),
    /// A list or a map ([`Value::List`] or [`Value::Map`]).
    Nested(Cow<'a, Value>),
}

impl<'a> ValueRef<'a> {
    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            ValueRef::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean inside, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ValueRef::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer inside, if this is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            ValueRef::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number inside (an integer or a float), as a float.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ValueRef::Int(i) => Some(*i as f64),
            ValueRef::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The list inside, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            ValueRef::Nested(v) => match &**v {
                Value::List(l) => Some(l),
                _ => None,
            },
            _ => None,
        }
    }

    /// The map inside, if this is a map.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            ValueRef::Nested(v) => match &**v {
                Value::Map(m) => Some(m),
                _ => None,
            },
            _ => None,
        }
    }

    /// True for [`ValueRef::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, ValueRef::Null)
    }

    /// An owned copy.
    pub fn to_value(&self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Bool(b) => Value::Bool(*b),
            ValueRef::Int(i) => Value::Int(*i),
            ValueRef::Float(f) => Value::Float(*f),
            ValueRef::Str(s) => Value::Str((*s).to_owned()),
            ValueRef::Nested(v) => v.clone().into_owned(),
        }
    }
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    fn from(v: &'a Value) -> ValueRef<'a> {
        v.view()
    }
}

impl From<ValueRef<'_>> for Value {
    fn from(v: ValueRef<'_>) -> Value {
        match v {
            ValueRef::Nested(v) => v.into_owned(),
            v => v.to_value(),
        }
    }
}

impl PartialEq<Value> for ValueRef<'_> {
    fn eq(&self, other: &Value) -> bool {
        *self == other.view()
    }
}

impl PartialEq<ValueRef<'_>> for Value {
    fn eq(&self, other: &ValueRef<'_>) -> bool {
        self.view() == *other
    }
}

/// Encoded exactly as the [`Value`] it stands for.
impl Serialize for ValueRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ValueRef::Null => s.serialize_unit_variant("Value", 0, "Null"),
            ValueRef::Bool(b) => s.serialize_newtype_variant("Value", 1, "Bool", b),
            ValueRef::Int(i) => s.serialize_newtype_variant("Value", 2, "Int", i),
            ValueRef::Float(f) => s.serialize_newtype_variant("Value", 3, "Float", f),
            ValueRef::Str(v) => s.serialize_newtype_variant("Value", 4, "Str", v),
            ValueRef::Nested(v) => v.serialize(s),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_round_trip_through_postcard() {
        let mut inner = BTreeMap::new();
        inner.insert("from".to_owned(), Value::from("09:00"));
        inner.insert("to".to_owned(), Value::from("17:00"));
        let v = Value::List(vec![
            Value::Map(inner),
            Value::Null,
            Value::Int(-5),
            Value::Float(1.5),
            Value::Bool(true),
        ]);
        let bytes = postcard::to_allocvec(&v).expect("encode");
        let back: Value = postcard::from_bytes(&bytes).expect("decode");
        assert_eq!(v, back);
    }

    #[test]
    fn a_value_ref_encodes_and_compares_as_its_value() {
        let mut inner = BTreeMap::new();
        inner.insert("k".to_owned(), Value::from("v"));
        for v in [
            Value::Null,
            Value::Bool(true),
            Value::Int(-7),
            Value::Float(2.5),
            Value::from("text"),
            Value::List(vec![Value::Int(1), Value::Null]),
            Value::Map(inner),
        ] {
            let r = v.view();
            assert_eq!(
                postcard::to_allocvec(&r).expect("encode"),
                postcard::to_allocvec(&v).expect("encode")
            );
            assert_eq!(
                serde_json::to_string(&r).expect("json"),
                serde_json::to_string(&v).expect("json")
            );
            assert_eq!(r, v);
            assert_eq!(r.to_value(), v);
            assert_eq!(Value::from(r), v);
        }
        assert_ne!(Value::Int(1).view(), Value::Bool(true));
    }
}
