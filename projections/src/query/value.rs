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
pub(crate) enum Scalar<'a> {
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
pub(crate) fn cmp_scalar(a: &Scalar<'_>, b: &Scalar<'_>) -> Ordering {
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
pub(crate) fn cmp_nullable(a: &Option<Scalar<'_>>, b: &Option<Scalar<'_>>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => cmp_scalar(x, y),
    }
}

/// Parses an RFC 3339 date-time into nanoseconds since the Unix epoch.
pub(crate) fn parse_datetime(s: &str) -> Option<i128> {
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
