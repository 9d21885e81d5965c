//! The `orderby` option: parsing, and the stable multi-key sort.
//!
//! ```text
//! orderby   = sort_key { "," sort_key } ;
//! sort_key  = field [ "asc" | "desc" ] ;      (direction case-insensitive, default asc)
//! ```
//!
//! Each field may appear once. After the requested keys, the schema's `default_order` keys
//! that were not requested are appended, so the final order is deterministic. Nulls (missing,
//! null or wrongly typed values) sort first ascending and last descending.

use std::cmp::Ordering;

use super::snippet;
use super::value::{cmp_nullable, Row};

use super::value::Scalar;
use super::{Dir, FieldType, ListSchema};

/// Longest accepted orderby, in characters.
pub const MAX_ORDERBY_LEN: usize = 1024;

/// One key of the effective sort order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SortKey {
    pub(crate) field: &'static str,
    pub(crate) dir: Dir,
    /// The declared type, or `None` for a default-order field the schema does not declare
    /// (its values are then compared by their JSON kind).
    pub(crate) ty: Option<FieldType>,
}

impl SortKey {
    pub(crate) fn extract<'a, R: Row + ?Sized>(&self, item: &'a R) -> Option<Scalar<'a>> {
        item.value(self.field, self.ty)
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn describe(c: Option<char>) -> String {
    match c {
        Some(c) => format!("'{}'", c.escape_debug()),
        None => "end of input".to_string(),
    }
}

/// A word must be followed by whitespace, ',' or the end (catches e.g. `nâme` or `name;age`).
fn ensure_word_ends(chars: &[char], end: usize) -> Result<(), String> {
    match chars.get(end) {
        Some(&c) if !c.is_whitespace() && c != ',' => Err(format!(
            "unexpected character '{}' at position {end}",
            c.escape_debug()
        )),
        _ => Ok(()),
    }
}

/// Parses `orderby` into the requested keys. Positions in messages are 0-based characters.
pub(crate) fn parse_orderby(
    input: &str,
    schema: &ListSchema,
) -> Result<Vec<(&'static str, Dir)>, String> {
    let chars: Vec<char> = input.chars().take(MAX_ORDERBY_LEN + 1).collect();
    if chars.len() > MAX_ORDERBY_LEN {
        return Err(format!(
            "orderby is too long (more than {MAX_ORDERBY_LEN} characters)"
        ));
    }
    let skip_ws = |mut i: usize| {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        i
    };
    let word_at = |start: usize| {
        let mut end = start;
        while chars.get(end).is_some_and(|&c| is_ident_continue(c)) {
            end += 1;
        }
        let word: String = chars.get(start..end).unwrap_or_default().iter().collect();
        (word, end)
    };

    let mut keys: Vec<(&'static str, Dir)> = Vec::new();
    let mut i = skip_ws(0);
    loop {
        // Field name.
        let start = i;
        if !chars.get(i).is_some_and(|&c| is_ident_start(c)) {
            return Err(format!(
                "expected a field name at position {start}, found {}",
                describe(chars.get(i).copied())
            ));
        }
        let (word, end) = word_at(i);
        ensure_word_ends(&chars, end)?;
        let Some(&(field, _)) = schema.fields.iter().find(|(n, _)| *n == word) else {
            return Err(format!(
                "unknown field '{}' at position {start}",
                snippet(&word)
            ));
        };
        if keys.iter().any(|(f, _)| *f == field) {
            return Err(format!(
                "field '{field}' at position {start} appears more than once"
            ));
        }
        i = skip_ws(end);

        // Optional direction.
        let mut dir = Dir::Asc;
        if chars.get(i).is_some_and(|&c| is_ident_continue(c)) {
            let dir_start = i;
            let (word, end) = word_at(i);
            ensure_word_ends(&chars, end)?;
            dir = if word.eq_ignore_ascii_case("asc") {
                Dir::Asc
            } else if word.eq_ignore_ascii_case("desc") {
                Dir::Desc
            } else {
                return Err(format!(
                    "invalid sort direction '{}' at position {dir_start} (expected asc or desc)",
                    snippet(&word)
                ));
            };
            i = skip_ws(end);
        }
        keys.push((field, dir));

        // Separator or end.
        match chars.get(i) {
            None => return Ok(keys),
            Some(',') => i = skip_ws(i + 1),
            other => {
                return Err(format!(
                    "expected ',' or end of input at position {i}, found {}",
                    describe(other.copied())
                ));
            }
        }
    }
}

/// The effective sort: the requested keys, then the schema's default order for fields not
/// already used (each field at most once).
pub(crate) fn plan(requested: &[(&'static str, Dir)], schema: &ListSchema) -> Vec<SortKey> {
    let type_of = |field: &str| {
        schema
            .fields
            .iter()
            .find(|(n, _)| *n == field)
            .map(|&(_, ty)| ty)
    };
    let mut keys: Vec<SortKey> = Vec::new();
    for &(field, dir) in requested.iter().chain(schema.default_order.iter()) {
        if keys.iter().all(|k| k.field != field) {
            keys.push(SortKey {
                field,
                dir,
                ty: type_of(field),
            });
        }
    }
    keys
}

/// Returns the indices of `items` in sorted order. The sort is stable: items equal on every
/// key keep their input order. Each item's keys are extracted (and date-times parsed) once.
pub(crate) fn sorted_indices<R: Row>(items: &[R], keys: &[SortKey]) -> Vec<usize> {
    if keys.is_empty() {
        return (0..items.len()).collect();
    }
    let mut decorated: Vec<(Vec<Option<Scalar<'_>>>, usize)> = items
        .iter()
        .enumerate()
        .map(|(idx, item)| (keys.iter().map(|k| k.extract(item)).collect(), idx))
        .collect();
    decorated.sort_by(|(a, _), (b, _)| compare_decorated(keys, a, b));
    decorated.into_iter().map(|(_, idx)| idx).collect()
}

/// Compares two items' extracted sort values under `keys` (directions applied).
pub(crate) fn compare_decorated(
    keys: &[SortKey],
    a: &[Option<Scalar<'_>>],
    b: &[Option<Scalar<'_>>],
) -> Ordering {
    for ((key, x), y) in keys.iter().zip(a).zip(b) {
        let ord = cmp_nullable(x, y);
        let ord = match key.dir {
            Dir::Asc => ord,
            Dir::Desc => ord.reverse(),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    use crate::query::test_support::SCHEMA;

    use crate::query::test_support::item;

    fn parse(s: &str) -> Result<Vec<(&'static str, Dir)>, String> {
        parse_orderby(s, &SCHEMA)
    }

    fn err(s: &str) -> String {
        match parse(s) {
            Ok(keys) => panic!("orderby {s:?} should fail, parsed as {keys:?}"),
            Err(e) => e,
        }
    }

    fn sorted_ids(values: Vec<Value>, requested: &[(&'static str, Dir)]) -> Vec<i64> {
        let items: Vec<_> = values.into_iter().map(item).collect();
        let keys = plan(requested, &SCHEMA);
        sorted_indices(&items, &keys)
            .into_iter()
            .map(|i| items[i].get("id").and_then(Value::as_i64).unwrap_or(-1))
            .collect()
    }

    #[test]
    fn given_keys_with_and_without_direction_when_parsing_then_default_is_asc() {
        assert_eq!(
            parse("name asc, created_at desc"),
            Ok(vec![("name", Dir::Asc), ("created_at", Dir::Desc)])
        );
        assert_eq!(parse("name"), Ok(vec![("name", Dir::Asc)]));
        assert_eq!(
            parse("  age DESC ,name   Asc  "),
            Ok(vec![("age", Dir::Desc), ("name", Dir::Asc)])
        );
        assert_eq!(
            parse("age,name"),
            Ok(vec![("age", Dir::Asc), ("name", Dir::Asc)])
        );
    }

    #[test]
    fn given_bad_orderby_when_parsing_then_specific_errors() {
        assert_eq!(err("foo"), "unknown field 'foo' at position 0");
        assert_eq!(err("name, Age"), "unknown field 'Age' at position 6");
        assert_eq!(
            err("name asc, name desc"),
            "field 'name' at position 10 appears more than once"
        );
        assert_eq!(
            err("name up"),
            "invalid sort direction 'up' at position 5 (expected asc or desc)"
        );
        assert_eq!(
            err("name asc desc"),
            "expected ',' or end of input at position 9, found 'd'"
        );
        assert_eq!(
            err("name,"),
            "expected a field name at position 5, found end of input"
        );
        assert_eq!(
            err("name,,age"),
            "expected a field name at position 5, found ','"
        );
        assert_eq!(
            err(",name"),
            "expected a field name at position 0, found ','"
        );
        assert_eq!(err("name;age"), "unexpected character ';' at position 4");
        assert_eq!(err("name desc;"), "unexpected character ';' at position 9");
        assert_eq!(
            err("1name"),
            "expected a field name at position 0, found '1'"
        );
        assert_eq!(err("nâme"), "unexpected character 'â' at position 1");
        assert_eq!(
            err(&"name,".repeat(300)),
            "orderby is too long (more than 1024 characters)"
        );
    }

    #[test]
    fn given_no_orderby_when_planning_then_default_order_applies() {
        let keys = plan(&[], &SCHEMA);
        assert_eq!(
            keys.iter().map(|k| (k.field, k.dir)).collect::<Vec<_>>(),
            vec![("created_at", Dir::Asc), ("id", Dir::Asc)]
        );
    }

    #[test]
    fn given_orderby_overlapping_default_when_planning_then_defaults_are_not_repeated() {
        let keys = plan(&[("id", Dir::Desc), ("name", Dir::Asc)], &SCHEMA);
        assert_eq!(
            keys.iter().map(|k| (k.field, k.dir)).collect::<Vec<_>>(),
            vec![
                ("id", Dir::Desc),
                ("name", Dir::Asc),
                ("created_at", Dir::Asc)
            ]
        );
    }

    #[test]
    fn given_multi_key_orderby_when_sorting_then_later_keys_break_ties() {
        let items = vec![
            json!({"id": 1, "name": "b", "age": 1}),
            json!({"id": 2, "name": "a", "age": 1}),
            json!({"id": 3, "name": "c", "age": 2}),
            json!({"id": 4, "name": "a", "age": 2}),
        ];
        assert_eq!(
            sorted_ids(items.clone(), &[("age", Dir::Desc), ("name", Dir::Asc)]),
            vec![4, 3, 2, 1]
        );
        assert_eq!(
            sorted_ids(items, &[("name", Dir::Asc), ("age", Dir::Desc)]),
            vec![4, 2, 1, 3]
        );
    }

    #[test]
    fn given_nulls_when_sorting_then_first_in_asc_and_last_in_desc() {
        let items = vec![
            json!({"id": 1, "age": 5}),
            json!({"id": 2}),
            json!({"id": 3, "age": -1}),
            json!({"id": 4, "age": null}),
            json!({"id": 5, "age": "7"}), // wrong type: null
        ];
        assert_eq!(
            sorted_ids(items.clone(), &[("age", Dir::Asc)]),
            vec![2, 4, 5, 3, 1]
        );
        assert_eq!(
            sorted_ids(items, &[("age", Dir::Desc)]),
            vec![1, 3, 2, 4, 5]
        );
    }

    #[test]
    fn given_typed_fields_when_sorting_then_each_type_compares_naturally() {
        // Numbers numerically, not lexically.
        let items = vec![
            json!({"id": 1, "age": 10}),
            json!({"id": 2, "age": 9}),
            json!({"id": 3, "age": 100.5}),
        ];
        assert_eq!(sorted_ids(items, &[("age", Dir::Asc)]), vec![2, 1, 3]);
        // Bools: false < true.
        let items = vec![
            json!({"id": 1, "enabled": true}),
            json!({"id": 2, "enabled": false}),
        ];
        assert_eq!(sorted_ids(items, &[("enabled", Dir::Asc)]), vec![2, 1]);
        // Strings by code point: uppercase before lowercase, accents after ASCII.
        let items = vec![
            json!({"id": 1, "name": "é"}),
            json!({"id": 2, "name": "a"}),
            json!({"id": 3, "name": "Z"}),
        ];
        assert_eq!(sorted_ids(items, &[("name", Dir::Asc)]), vec![3, 2, 1]);
        // Date-times as instants, across offsets.
        let items = vec![
            json!({"id": 1, "created_at": "2022-01-01T00:30:00+01:00"}), // 23:30Z
            json!({"id": 2, "created_at": "2021-12-31T23:45:00Z"}),
            json!({"id": 3, "created_at": "2021-12-31T20:00:00-05:00"}), // 01:00Z
        ];
        assert_eq!(
            sorted_ids(items, &[("created_at", Dir::Asc)]),
            vec![1, 2, 3]
        );
    }

    #[test]
    fn given_equal_requested_keys_when_sorting_then_default_order_breaks_ties() {
        let items = vec![
            json!({"id": 3, "name": "x", "created_at": "2022-01-02T00:00:00Z"}),
            json!({"id": 2, "name": "x", "created_at": "2022-01-01T00:00:00Z"}),
            json!({"id": 1, "name": "x", "created_at": "2022-01-02T00:00:00Z"}),
        ];
        // name ties everywhere; created_at asc then id asc decide.
        assert_eq!(sorted_ids(items, &[("name", Dir::Asc)]), vec![2, 1, 3]);
    }

    #[test]
    fn given_items_equal_on_every_key_when_sorting_then_input_order_is_kept() {
        let items: Vec<_> = (0..50)
            .map(|i| item(json!({"seq": i, "name": if i % 2 == 0 { "a" } else { "b" }})))
            .collect();
        let keys = plan(&[("name", Dir::Desc)], &SCHEMA);
        let order = sorted_indices(&items, &keys);
        let odds: Vec<usize> = (0..50).filter(|i| i % 2 == 1).collect();
        let evens: Vec<usize> = (0..50).filter(|i| i % 2 == 0).collect();
        assert_eq!(order, [odds, evens].concat());
    }

    #[test]
    fn given_default_field_not_in_schema_when_sorting_then_type_is_inferred() {
        const SCHEMA_WITH_UNDECLARED: ListSchema = ListSchema {
            fields: &[("name", FieldType::String)],
            search: &[],
            default_order: &[("rank", Dir::Asc)],
        };
        let items: Vec<_> = vec![
            json!({"id": 1, "rank": "a"}),
            json!({"id": 2, "rank": 10}),
            json!({"id": 3, "rank": 2}),
            json!({"id": 4}),
            json!({"id": 5, "rank": true}),
        ]
        .into_iter()
        .map(item)
        .collect();
        let keys = plan(&[], &SCHEMA_WITH_UNDECLARED);
        assert_eq!(keys[0].ty, None);
        let ids: Vec<i64> = sorted_indices(&items, &keys)
            .into_iter()
            .map(|i| items[i].get("id").and_then(Value::as_i64).unwrap_or(-1))
            .collect();
        assert_eq!(ids, vec![4, 5, 3, 2, 1]);
    }

    use crate::testing::Rng;

    #[test]
    fn given_random_token_soup_when_parsing_orderby_then_never_panics() {
        const TOKENS: &[&str] = &[
            "name",
            "age",
            "id",
            "created_at",
            "asc",
            "DESC",
            "up",
            ",",
            " ",
            "\t",
            "é",
            ";",
            "1",
            "_",
            "",
        ];
        let mut rng = Rng(7);
        let mut parsed = 0;
        for _ in 0..10_000 {
            let s: String = (0..rng.below(8))
                .map(|_| TOKENS[rng.below(TOKENS.len())])
                .collect();
            if parse(&s).is_ok() {
                parsed += 1;
            }
        }
        assert!(parsed > 0);
    }
}
