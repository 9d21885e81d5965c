//! OData-style list queries (`filter`, `search`, `orderby`, `skip`, `top`, `count`) over
//! items rendered as JSON objects.
//!
//! Every list endpoint renders its items as `serde_json::Map`s, describes what may be queried
//! with a [`ListSchema`], parses the raw query-string values with [`ListQuery::parse`] and then
//! calls [`ListQuery::run`] to filter, search, sort, count and page them.
//!
//! ```text
//! filter     = or_expr ;
//! or_expr    = and_expr { "or" and_expr } ;
//! and_expr   = unary { "and" unary } ;
//! unary      = "not" unary | primary ;
//! primary    = "(" or_expr ")" | function | comparison ;
//! function   = ( "contains" | "startswith" | "endswith" ) "(" field "," string ")" ;
//! comparison = field op literal ;
//! op         = "eq" | "ne" | "gt" | "ge" | "lt" | "le" ;
//! literal    = string | number | "true" | "false" | "null" ;
//! string     = "'" { any char except "'" | "''" } "'" ;
//! number     = [ "-" ] digit { digit } [ "." digit { digit } ] ;
//! field      = ( letter | "_" ) { letter | digit | "_" } ;
//! orderby    = field [ "asc" | "desc" ] { "," field [ "asc" | "desc" ] } ;
//! skip       = digit { digit } ;                  (default 0)
//! top        = digit { digit } ;                  (1..=100, default 100)
//! count      = "true" | "false" ;                 (default false)
//! ```
//!
//! Choices:
//! - Keywords (`and`, `eq`, `asc`, ...), function names, `true`/`false`/`null` and the `count`
//!   value are case-insensitive; field names are case-sensitive and must be in the schema.
//! - `eq`/`ne`/`gt`/... compare strings case-sensitively by Unicode code point;
//!   `contains`/`startswith`/`endswith` and `search` match case-insensitively (Unicode
//!   lower-casing of both sides).
//! - Null: a missing, null or wrongly typed item value is null. `eq null` is true only for
//!   null, `ne` is always the negation of `eq` (so `name ne 'x'` is true for a null name),
//!   ordering operators and functions are false on null.
//! - Date-time literals must be RFC 3339 and compare as instants across offsets.
//! - A parameter whose value is empty or only whitespace is treated as absent.
//! - Error positions are 0-based character offsets into the parameter's value.

mod filter;
pub mod index;
mod order;
mod range;
mod scan;
pub mod sorted;
#[cfg(test)]
mod test_support;
mod value;

use serde_json::{Map, Value};

pub use filter::{MAX_FILTER_DEPTH, MAX_FILTER_LEN};
pub use order::MAX_ORDERBY_LEN;
pub use range::{StrEq, TimeRange};
pub use value::{cmp_nullable, cmp_scalar, number_text, parse_datetime, Key, Num, Row, Scalar};

/// Largest accepted (and default) `top`.
pub const MAX_TOP: usize = 100;
/// Longest accepted `search`, in characters after trimming.
pub const MAX_SEARCH_LEN: usize = 256;

/// The type of a listable field, used to type-check filter literals and to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A JSON string; compared by Unicode code points.
    String,
    /// A JSON number; compared as `f64`.
    Number,
    /// A JSON boolean; `false < true`.
    Bool,
    /// An RFC 3339 JSON string; compared as an instant.
    DateTime,
}

/// What a list endpoint allows: filterable/orderable fields with their types, and the text
/// fields `search` looks in.
#[derive(Debug, Clone, Copy)]
pub struct ListSchema {
    /// Fields usable in `filter` and `orderby`, with their types.
    pub fields: &'static [(&'static str, FieldType)],
    /// Fields whose string (or number) values `search` looks in.
    pub search: &'static [&'static str],
    /// Order applied when no orderby is given (and as a final tie-breaker after the given
    /// orderby): e.g. `&[("created_at", Dir::Asc), ("id", Dir::Asc)]`. Fields should be
    /// declared in `fields`; an undeclared one is compared by its JSON kind
    /// (null < bool < number < string).
    pub default_order: &'static [(&'static str, Dir)],
}

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Ascending; nulls first.
    Asc,
    /// Descending; nulls last.
    Desc,
}

/// The raw query-string values (all optional), exactly as received.
#[derive(Debug, Clone, Default)]
pub struct RawListParams {
    /// The `filter` expression.
    pub filter: Option<String>,
    /// The free-text `search`.
    pub search: Option<String>,
    /// The `orderby` sort keys.
    pub orderby: Option<String>,
    /// How many items to skip.
    pub skip: Option<String>,
    /// How many items to return at most.
    pub top: Option<String>,
    /// Whether the total count is wanted.
    pub count: Option<String>,
}

/// A parsed, validated query.
#[derive(Debug, Clone)]
pub struct ListQuery {
    filter: Option<filter::Expr>,
    /// Trimmed, lower-cased search text; `None` when no search was given.
    search: Option<String>,
    search_fields: &'static [&'static str],
    /// Requested keys followed by the default order.
    order: Vec<order::SortKey>,
    /// Whether `orderby` was given (otherwise `order` is the default order).
    requested_order: bool,
    skip: usize,
    top: usize,
    count: bool,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Number of items matching filter and search, before `skip`/`top`.
    pub count: usize,
    /// The items of the page, in order.
    pub items: Vec<Map<String, Value>>,
}

/// A rejected query: `param` is "filter", "search", "orderby", "skip", "top" or "count";
/// `message` is human readable and specific (e.g. "unknown field 'foo' at position 0",
/// "expected ')' at position 17, found end of input", "top must be an integer between 1 and
/// 100, got '0'").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct QueryError {
    /// The offending query parameter.
    pub param: String,
    /// What is wrong with it.
    pub message: String,
}

impl QueryError {
    fn new(param: &str, message: impl Into<String>) -> QueryError {
        QueryError {
            param: param.to_string(),
            message: message.into(),
        }
    }
}

/// Shortens user-supplied text quoted in error messages to at most 40 characters.
pub(crate) fn snippet(s: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = s.chars().take(MAX).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// Returns the trimmed value, or `None` if absent, empty or whitespace-only.
fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn parse_skip(raw: Option<&str>) -> Result<usize, QueryError> {
    let Some(s) = raw else { return Ok(0) };
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QueryError::new(
            "skip",
            format!("skip must be a non-negative integer, got '{}'", snippet(s)),
        ));
    }
    s.parse::<usize>().map_err(|_| {
        QueryError::new(
            "skip",
            format!(
                "skip is too large (at most {}), got '{}'",
                usize::MAX,
                snippet(s)
            ),
        )
    })
}

fn parse_top(raw: Option<&str>) -> Result<usize, QueryError> {
    let Some(s) = raw else { return Ok(MAX_TOP) };
    let bad = || {
        QueryError::new(
            "top",
            format!(
                "top must be an integer between 1 and {MAX_TOP}, got '{}'",
                snippet(s)
            ),
        )
    };
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_TOP).contains(&n) => Ok(n),
        _ => Err(bad()),
    }
}

fn parse_count(raw: Option<&str>) -> Result<bool, QueryError> {
    match raw {
        None => Ok(false),
        Some(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(s) => Err(QueryError::new(
            "count",
            format!("count must be 'true' or 'false', got '{}'", snippet(s)),
        )),
    }
}

fn parse_search(raw: Option<&str>) -> Result<Option<String>, QueryError> {
    let Some(s) = raw else { return Ok(None) };
    if s.chars().nth(MAX_SEARCH_LEN).is_some() {
        return Err(QueryError::new(
            "search",
            format!("search is too long (more than {MAX_SEARCH_LEN} characters)"),
        ));
    }
    Ok(Some(s.to_lowercase()))
}

impl ListQuery {
    /// Parse and validate against the schema. Errors name the parameter and the problem.
    ///
    /// Parameters are checked in the order filter, search, orderby, skip, top, count; the
    /// first problem found is returned.
    pub fn parse(raw: &RawListParams, schema: &ListSchema) -> Result<ListQuery, QueryError> {
        let filter = match present(&raw.filter) {
            Some(f) => {
                Some(filter::parse_filter(f, schema).map_err(|m| QueryError::new("filter", m))?)
            }
            None => None,
        };
        let search = parse_search(present(&raw.search))?;
        let requested = match present(&raw.orderby) {
            Some(o) => {
                order::parse_orderby(o, schema).map_err(|m| QueryError::new("orderby", m))?
            }
            None => Vec::new(),
        };
        Ok(ListQuery {
            filter,
            search,
            search_fields: schema.search,
            requested_order: !requested.is_empty(),
            order: order::plan(&requested, schema),
            skip: parse_skip(present(&raw.skip))?,
            top: parse_top(present(&raw.top))?,
            count: parse_count(present(&raw.count))?,
        })
    }

    /// Number of matching items to skip before the page starts (default 0).
    pub fn skip(&self) -> usize {
        self.skip
    }

    /// Maximum number of items in the page (1..=100, default 100).
    pub fn top(&self) -> usize {
        self.top
    }

    /// Whether the client asked for the total count (`count=true`).
    pub fn wants_count(&self) -> bool {
        self.count
    }

    /// True if the item matches filter AND search.
    pub fn matches<R: Row + ?Sized>(&self, item: &R) -> bool {
        self.filter.as_ref().is_none_or(|f| f.eval(item)) && self.matches_search(item)
    }

    /// Whether the query has neither a filter nor a search (every item matches).
    pub fn matches_all(&self) -> bool {
        self.filter.is_none() && self.search.is_none()
    }

    /// Case-insensitive substring match of the search text against any search field.
    /// String values are searched as they are, numbers as their JSON text.
    fn matches_search<R: Row + ?Sized>(&self, item: &R) -> bool {
        let Some(needle) = &self.search else {
            return true;
        };
        self.search_fields
            .iter()
            .any(|field| item.search_hit(field, needle))
    }

    /// Filter, search, sort, then page, over rendered items: the reference
    /// path (and what lists without an index use). `count` in the result is
    /// the total after filtering/search, before skip/top.
    pub fn run(&self, items: impl IntoIterator<Item = Map<String, Value>>) -> Page {
        let (count, items) = self.run_rows(items);
        Page { count, items }
    }

    /// [`ListQuery::run`] over any rows: filter, search, stable sort, page.
    /// Returns the count and the page's rows.
    pub fn run_rows<R: Row>(&self, items: impl IntoIterator<Item = R>) -> (usize, Vec<R>) {
        let matching: Vec<R> = items.into_iter().filter(|it| self.matches(it)).collect();
        let count = matching.len();
        let order = order::sorted_indices(&matching, &self.order);
        let mut slots: Vec<Option<R>> = matching.into_iter().map(Some).collect();
        let items = order
            .into_iter()
            .skip(self.skip)
            .take(self.top)
            .filter_map(|idx| slots.get_mut(idx).and_then(Option::take))
            .collect();
        (count, items)
    }

    /// Whether the order is the schema's default (no `orderby` given).
    pub fn default_order(&self) -> bool {
        !self.requested_order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use super::test_support::SCHEMA;

    use super::test_support::item;

    fn params(pairs: &[(&str, &str)]) -> RawListParams {
        let mut raw = RawListParams::default();
        for &(k, v) in pairs {
            let v = Some(v.to_string());
            match k {
                "filter" => raw.filter = v,
                "search" => raw.search = v,
                "orderby" => raw.orderby = v,
                "skip" => raw.skip = v,
                "top" => raw.top = v,
                "count" => raw.count = v,
                other => panic!("unknown test param {other}"),
            }
        }
        raw
    }

    fn query(pairs: &[(&str, &str)]) -> ListQuery {
        match ListQuery::parse(&params(pairs), &SCHEMA) {
            Ok(q) => q,
            Err(e) => panic!("{pairs:?} should parse: {e}"),
        }
    }

    fn error(pairs: &[(&str, &str)]) -> QueryError {
        match ListQuery::parse(&params(pairs), &SCHEMA) {
            Ok(q) => panic!("{pairs:?} should fail, got {q:?}"),
            Err(e) => e,
        }
    }

    fn users() -> Vec<Map<String, Value>> {
        (1..=25)
            .map(|i| {
                item(json!({
                    "id": i,
                    "name": format!("User {i:02}"),
                    "email": format!("user{i}@example.COM"),
                    "age": 20 + (i % 5),
                    "enabled": i % 2 == 0,
                    "created_at": format!("2024-01-{:02}T00:00:00Z", 26 - i),
                }))
            })
            .collect()
    }

    fn ids(page: &Page) -> Vec<i64> {
        page.items
            .iter()
            .map(|it| it.get("id").and_then(Value::as_i64).unwrap_or(-1))
            .collect()
    }

    // --- defaults and paging -----------------------------------------------------------------

    #[test]
    fn given_no_params_when_parsing_then_defaults_apply() {
        let q = query(&[]);
        assert_eq!((q.skip(), q.top(), q.wants_count()), (0, 100, false));
        let page = q.run(users());
        assert_eq!(page.count, 25);
        // Default order: created_at asc (which is id descending in the fixture).
        assert_eq!(ids(&page), (1..=25).rev().collect::<Vec<_>>());
    }

    #[test]
    fn given_empty_or_blank_params_when_parsing_then_treated_as_absent() {
        let q = query(&[
            ("filter", ""),
            ("search", "   "),
            ("orderby", " "),
            ("skip", ""),
            ("top", "\t"),
            ("count", ""),
        ]);
        assert_eq!((q.skip(), q.top(), q.wants_count()), (0, 100, false));
        assert_eq!(q.run(users()).count, 25);
    }

    #[test]
    fn given_skip_and_top_when_running_then_page_is_sliced_and_count_is_total() {
        let q = query(&[
            ("orderby", "id"),
            ("skip", "10"),
            ("top", "5"),
            ("count", "true"),
        ]);
        let page = q.run(users());
        assert_eq!(page.count, 25);
        assert_eq!(ids(&page), vec![11, 12, 13, 14, 15]);
        assert!(q.wants_count());
    }

    #[test]
    fn given_last_partial_page_when_running_then_only_remaining_items() {
        let page = query(&[("orderby", "id"), ("skip", "20"), ("top", "10")]).run(users());
        assert_eq!((page.count, ids(&page)), (25, vec![21, 22, 23, 24, 25]));
    }

    #[test]
    fn given_skip_past_end_when_running_then_empty_page_with_full_count() {
        let page = query(&[("skip", "25")]).run(users());
        assert_eq!((page.count, page.items.len()), (25, 0));
        let page = query(&[("skip", "18446744073709551615")]).run(users());
        assert_eq!((page.count, page.items.len()), (25, 0));
    }

    #[test]
    fn given_filter_when_running_then_count_is_after_filter_before_paging() {
        let q = query(&[
            ("filter", "enabled eq true"),
            ("orderby", "id desc"),
            ("top", "3"),
        ]);
        let page = q.run(users());
        assert_eq!(page.count, 12);
        assert_eq!(ids(&page), vec![24, 22, 20]);
    }

    #[test]
    fn given_top_bounds_when_parsing_then_1_and_100_are_accepted() {
        assert_eq!(query(&[("top", "1")]).top(), 1);
        assert_eq!(query(&[("top", "100")]).top(), 100);
        assert_eq!(query(&[("top", " 007 ")]).top(), 7);
        assert_eq!(query(&[("skip", "0")]).skip(), 0);
    }

    #[test]
    fn given_count_values_when_parsing_then_case_insensitive_true_false() {
        assert!(query(&[("count", "TRUE")]).wants_count());
        assert!(query(&[("count", "True")]).wants_count());
        assert!(!query(&[("count", "false")]).wants_count());
    }

    // --- error paths -------------------------------------------------------------------------

    #[test]
    fn given_bad_skip_when_parsing_then_skip_error() {
        for bad in ["-1", "1.5", "abc", "+3", "1 0", "１"] {
            let e = error(&[("skip", bad)]);
            assert_eq!(e.param, "skip", "{bad}");
            assert_eq!(
                e.message,
                format!("skip must be a non-negative integer, got '{bad}'")
            );
        }
        let e = error(&[("skip", "99999999999999999999999")]);
        assert_eq!(e.param, "skip");
        assert!(e.message.starts_with("skip is too large"), "{e}");
    }

    #[test]
    fn given_bad_top_when_parsing_then_top_error() {
        for bad in ["0", "101", "-5", "ten", "1e2", "99999999999999999999999"] {
            let e = error(&[("top", bad)]);
            assert_eq!(e.param, "top", "{bad}");
            assert_eq!(
                e.message,
                format!("top must be an integer between 1 and 100, got '{bad}'")
            );
        }
    }

    #[test]
    fn given_bad_count_when_parsing_then_count_error() {
        let e = error(&[("count", "yes")]);
        assert_eq!(
            e,
            QueryError {
                param: "count".into(),
                message: "count must be 'true' or 'false', got 'yes'".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "count: count must be 'true' or 'false', got 'yes'"
        );
        assert_eq!(error(&[("count", "1")]).param, "count");
    }

    #[test]
    fn given_bad_filter_or_orderby_when_parsing_then_error_names_param() {
        let e = error(&[("filter", "foo eq 1")]);
        assert_eq!(e.param, "filter");
        assert_eq!(e.message, "unknown field 'foo' at position 0");
        assert_eq!(e.to_string(), "filter: unknown field 'foo' at position 0");
        let e = error(&[("orderby", "foo desc")]);
        assert_eq!(e.param, "orderby");
        assert_eq!(e.message, "unknown field 'foo' at position 0");
    }

    #[test]
    fn given_overlong_search_when_parsing_then_search_error() {
        let ok = "x".repeat(MAX_SEARCH_LEN);
        assert!(ListQuery::parse(&params(&[("search", &ok)]), &SCHEMA).is_ok());
        let padded = format!("   {ok}   ");
        assert!(ListQuery::parse(&params(&[("search", &padded)]), &SCHEMA).is_ok());
        let e = error(&[("search", &"x".repeat(MAX_SEARCH_LEN + 1))]);
        assert_eq!(e.param, "search");
        assert_eq!(e.message, "search is too long (more than 256 characters)");
    }

    #[test]
    fn given_long_user_text_when_reporting_errors_then_it_is_truncated() {
        let e = error(&[("top", &"x".repeat(1000))]);
        assert!(e.message.chars().count() < 100, "{e}");
        assert!(e.message.ends_with("…'"), "{e}");
    }

    // --- search ------------------------------------------------------------------------------

    #[test]
    fn given_search_when_matching_then_case_insensitive_substring_of_any_search_field() {
        let q = query(&[("search", "  EXAMPLE.com ")]);
        assert_eq!(q.run(users()).count, 25);
        let q = query(&[("search", "user 0")]);
        assert_eq!(q.run(users()).count, 9);
        let q = query(&[("search", "user7@")]);
        assert_eq!(ids(&q.run(users())), vec![7]);
        // Fields not listed in schema.search are ignored: five users have age 22, but only
        // user 22 has "22" in its name or email.
        assert_eq!(ids(&query(&[("search", "22")]).run(users())), vec![22]);
    }

    #[test]
    fn given_search_when_values_are_numbers_or_missing_then_numbers_match_as_text() {
        let q = query(&[("search", "10")]);
        assert!(q.matches(&item(json!({"extension": 1010}))));
        assert!(!q.matches(&item(json!({"extension": true, "name": null}))));
        assert!(!q.matches(&item(json!({}))));
        let q = query(&[("search", "ÉCOLE")]);
        assert!(q.matches(&item(json!({"name": "Une école"}))));
    }

    #[test]
    fn given_filter_and_search_when_matching_then_both_must_hold() {
        let q = query(&[("filter", "age ge 23"), ("search", "user 1")]);
        let page = q.run(users());
        // "User 1x" and "User 01" with age 23 or 24 (i % 5 in {3, 4}).
        assert_eq!(page.count, 4);
        let mut got = ids(&page);
        got.sort_unstable();
        assert_eq!(got, vec![13, 14, 18, 19]);
    }

    // --- ordering end to end -----------------------------------------------------------------

    #[test]
    fn given_multi_key_orderby_when_running_then_sorted_with_default_tiebreak() {
        let page = query(&[("orderby", "age desc, enabled")]).run(users());
        // age 24: ids 4,9,14,19,24; enabled false first (9, 19), then true (4, 14, 24);
        // ties broken by created_at asc (i.e. larger id first).
        assert_eq!(ids(&page)[..5], [19, 9, 24, 14, 4]);
    }

    #[test]
    fn given_nulls_when_running_with_orderby_then_nulls_first_asc_last_desc() {
        let items = vec![
            item(json!({"id": 1, "name": "b"})),
            item(json!({"id": 2})),
            item(json!({"id": 3, "name": "a"})),
        ];
        assert_eq!(
            ids(&query(&[("orderby", "name")]).run(items.clone())),
            [2, 3, 1]
        );
        assert_eq!(
            ids(&query(&[("orderby", "name desc")]).run(items)),
            [1, 3, 2]
        );
    }

    #[test]
    fn given_datetime_filter_when_running_then_offsets_do_not_matter() {
        let q = query(&[
            ("filter", "created_at ge '2024-01-20T01:00:00+01:00'"),
            ("orderby", "created_at desc"),
        ]);
        let page = q.run(users());
        // created_at >= 2024-01-20T00:00Z  <=>  26 - i >= 20  <=>  i <= 6.
        assert_eq!(ids(&page), vec![1, 2, 3, 4, 5, 6]);
    }
}
