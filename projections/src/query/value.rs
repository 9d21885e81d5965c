//! Typed views of JSON item values, shared by filter evaluation and sorting.
//!
//! An item value is looked at through the [`FieldType`] its schema declares. A value whose JSON
//! type does not match (or a `DateTime` string that is not valid RFC 3339) is treated as null,
//! exactly like a missing field.

use std::cmp::Ordering;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;

use super::FieldType;

/// A non-null scalar seen through a field type.
///
/// Date-times are kept as nanoseconds since the Unix epoch, so that equality and ordering
/// compare instants regardless of the UTC offset they were written with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    /// A boolean (`false < true`).
    Bool(bool),
    /// A finite number.
    Num(f64),
    /// A string, compared by Unicode code points.
    Str(&'a str),
    /// An instant, in nanoseconds since the Unix epoch.
    DateTime(i128),
}

impl Scalar<'_> {
    /// Rank used only when two scalars of different kinds meet (which happens only for
    /// default-order fields missing from the schema, whose type is inferred per value).
    fn rank(&self) -> u8 {
        match self {
            Scalar::Bool(_) => 0,
            Scalar::Num(_) => 1,
            Scalar::Str(_) => 2,
            Scalar::DateTime(_) => 3,
        }
    }
}

/// Total order over scalars: same kinds compare naturally, different kinds by [`Scalar::rank`].
///
/// Numbers never contain NaN (JSON numbers and parsed literals are finite), so `partial_cmp`
/// always succeeds; `Equal` is a harmless fallback.
pub fn cmp_scalar(a: &Scalar<'_>, b: &Scalar<'_>) -> Ordering {
    match (a, b) {
        (Scalar::Bool(x), Scalar::Bool(y)) => x.cmp(y),
        (Scalar::Num(x), Scalar::Num(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        // `str`'s byte-wise UTF-8 order is exactly Unicode code point order.
        (Scalar::Str(x), Scalar::Str(y)) => x.cmp(y),
        (Scalar::DateTime(x), Scalar::DateTime(y)) => x.cmp(y),
        _ => a.rank().cmp(&b.rank()),
    }
}

/// Total order over optional scalars, with null (`None`) before every value.
pub fn cmp_nullable(a: &Option<Scalar<'_>>, b: &Option<Scalar<'_>>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => cmp_scalar(x, y),
    }
}

/// Parses an RFC 3339 date-time into nanoseconds since the Unix epoch.
pub fn parse_datetime(s: &str) -> Option<i128> {
    time::OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp_nanos)
}

/// Reads `field` of `item` as a value of type `ty`; `None` means null, missing or mismatched.
pub(crate) fn typed<'a>(
    item: &'a Map<String, Value>,
    field: &str,
    ty: FieldType,
) -> Option<Scalar<'a>> {
    let value = item.get(field)?;
    match (ty, value) {
        (FieldType::String, Value::String(s)) => Some(Scalar::Str(s)),
        (FieldType::Number, Value::Number(n)) => n.as_f64().map(Scalar::Num),
        (FieldType::Bool, Value::Bool(b)) => Some(Scalar::Bool(*b)),
        (FieldType::DateTime, Value::String(s)) => parse_datetime(s).map(Scalar::DateTime),
        _ => None,
    }
}

/// Reads `field` of `item` with its type inferred from the JSON value (strings stay strings).
/// Used for default-order fields that the schema does not declare.
pub(crate) fn inferred<'a>(item: &'a Map<String, Value>, field: &str) -> Option<Scalar<'a>> {
    match item.get(field)? {
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        Value::Number(n) => n.as_f64().map(Scalar::Num),
        Value::String(s) => Some(Scalar::Str(s)),
        _ => None,
    }
}

/// Typed access to one item's list fields: what a filter, `search` and
/// `orderby` read. Rendered JSON items implement it (the reference path);
/// read models implement it over their typed state, so a list filters and
/// sorts without rendering anything but its page.
pub trait Row {
    /// The value of `field` seen as `ty` (`None`: inferred from the value,
    /// for default-order fields a schema does not declare). `None` in the
    /// result means null: missing, null, or of another type.
    fn value(&self, field: &str, ty: Option<FieldType>) -> Option<Scalar<'_>>;

    /// Whether `field` contains the (lower-cased) `needle`: strings
    /// case-insensitively, numbers as their JSON text.
    fn search_hit(&self, field: &str, needle: &str) -> bool {
        match self.value(field, None) {
            Some(Scalar::Str(s)) => s.to_lowercase().contains(needle),
            Some(Scalar::Num(n)) => number_text(n).contains(needle),
            _ => false,
        }
    }
}

/// A number as JSON writes it (integers without a fraction).
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

impl Row for Map<String, Value> {
    fn value(&self, field: &str, ty: Option<FieldType>) -> Option<Scalar<'_>> {
        match ty {
            Some(ty) => typed(self, field, ty),
            None => inferred(self, field),
        }
    }

    fn search_hit(&self, field: &str, needle: &str) -> bool {
        match self.get(field) {
            Some(Value::String(s)) => s.to_lowercase().contains(needle),
            Some(Value::Number(n)) => n.to_string().contains(needle),
            _ => false,
        }
    }
}

/// A number with a total order (JSON numbers are finite; `-0` is `0`).
#[derive(Debug, Clone, Copy)]
pub struct Num(f64);

impl Num {
    /// Wraps a finite number.
    pub fn new(n: f64) -> Num {
        Num(if n == 0.0 { 0.0 } else { n })
    }
}

impl PartialEq for Num {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for Num {}
impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl std::hash::Hash for Num {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.to_bits().hash(h);
    }
}

/// An owned, totally ordered field value: what indexes store. The order is
/// [`cmp_nullable`]'s: null first, then values (booleans, numbers, strings,
/// instants, should kinds ever meet).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// Null, missing or mistyped.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(Num),
    /// A string (shared, so copies of the key are cheap).
    Str(std::sync::Arc<str>),
    /// An instant, nanoseconds since the Unix epoch.
    DateTime(i128),
}

impl Key {
    /// The key of a (nullable) scalar.
    pub fn of(value: Option<Scalar<'_>>) -> Key {
        match value {
            None => Key::Null,
            Some(Scalar::Bool(b)) => Key::Bool(b),
            Some(Scalar::Num(n)) => Key::Num(Num::new(n)),
            Some(Scalar::Str(s)) => Key::Str(s.into()),
            Some(Scalar::DateTime(t)) => Key::DateTime(t),
        }
    }

    /// The key as a scalar (`None` for null).
    pub fn scalar(&self) -> Option<Scalar<'_>> {
        match self {
            Key::Null => None,
            Key::Bool(b) => Some(Scalar::Bool(*b)),
            Key::Num(n) => Some(Scalar::Num(n.0)),
            Key::Str(s) => Some(Scalar::Str(s)),
            Key::DateTime(t) => Some(Scalar::DateTime(*t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn given_matching_json_types_when_read_typed_then_scalars_are_returned() {
        let item = obj(json!({"s": "x", "n": 1.5, "b": true, "d": "2022-01-01T00:00:00Z"}));
        assert_eq!(typed(&item, "s", FieldType::String), Some(Scalar::Str("x")));
        assert_eq!(typed(&item, "n", FieldType::Number), Some(Scalar::Num(1.5)));
        assert_eq!(typed(&item, "b", FieldType::Bool), Some(Scalar::Bool(true)));
        assert_eq!(
            typed(&item, "d", FieldType::DateTime),
            Some(Scalar::DateTime(1_640_995_200_000_000_000))
        );
    }

    #[test]
    fn given_mismatched_or_missing_values_when_read_typed_then_null() {
        let item = obj(json!({"s": 1, "n": "1", "b": "true", "d": "yesterday", "z": null}));
        assert_eq!(typed(&item, "s", FieldType::String), None);
        assert_eq!(typed(&item, "n", FieldType::Number), None);
        assert_eq!(typed(&item, "b", FieldType::Bool), None);
        assert_eq!(typed(&item, "d", FieldType::DateTime), None);
        assert_eq!(typed(&item, "z", FieldType::String), None);
        assert_eq!(typed(&item, "missing", FieldType::String), None);
    }

    #[test]
    fn given_offsets_when_parsing_datetimes_then_same_instant_is_equal() {
        assert_eq!(
            parse_datetime("2022-01-01T00:00:00+01:00"),
            parse_datetime("2021-12-31T23:00:00Z")
        );
        assert_eq!(parse_datetime("2022-01-01"), None);
        assert_eq!(parse_datetime(""), None);
    }

    #[test]
    fn given_nulls_when_comparing_nullable_then_null_is_smallest() {
        assert_eq!(
            cmp_nullable(&None, &Some(Scalar::Num(-1e300))),
            Ordering::Less
        );
        assert_eq!(
            cmp_nullable(&Some(Scalar::Bool(false)), &None),
            Ordering::Greater
        );
        assert_eq!(cmp_nullable(&None, &None), Ordering::Equal);
        assert_eq!(
            cmp_scalar(&Scalar::Bool(false), &Scalar::Bool(true)),
            Ordering::Less
        );
        assert_eq!(
            cmp_scalar(&Scalar::Num(-0.0), &Scalar::Num(0.0)),
            Ordering::Equal
        );
        // Code point order: 'Z' (U+005A) < 'a' (U+0061) < 'é' (U+00E9).
        assert_eq!(
            cmp_scalar(&Scalar::Str("Z"), &Scalar::Str("a")),
            Ordering::Less
        );
        assert_eq!(
            cmp_scalar(&Scalar::Str("a"), &Scalar::Str("é")),
            Ordering::Less
        );
        // Mixed kinds (inferred fields only): bool < number < string.
        assert_eq!(
            cmp_scalar(&Scalar::Bool(true), &Scalar::Num(0.0)),
            Ordering::Less
        );
        assert_eq!(
            cmp_scalar(&Scalar::Num(9.0), &Scalar::Str("")),
            Ordering::Less
        );
    }
}
