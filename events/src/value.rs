//! A self-describing value for schema-driven resource fields.
//!
//! PortSIP resources carry dozens of settings (a user has ~50, a tenant ~60).
//! Rather than write each field four times (request, event, view, response),
//! the service describes them once in a field table and moves them through
//! events as [`Fields`]: a sorted map of field name to [`Value`]. `postcard`
//! is not self-describing, so `serde_json::Value` cannot be stored directly;
//! this enum is the postcard-friendly equivalent.

use serde::{Deserialize, Serialize};
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
}
