//! What a store that keeps items in the order of one date-time field can
//! use from a query: the bounds its top-level `and` conjuncts put on that
//! field, and the leading sort key.
//!
//! Stores that cannot hold their items in memory (call records, messages)
//! keep an on-disk index by time. They walk that index inside
//! [`TimeRange`] in the direction of [`ListQuery::leading_order`] and still
//! evaluate [`ListQuery::matches`] on every item they read, so the range
//! only narrows what is read; it never decides a match on its own unless
//! [`TimeRange::exact`] says the filter is nothing but these bounds.
//!
//! Such a store may also keep a posting per value of a few string fields
//! (a call's numbers): [`ListQuery::string_eq`] finds the top-level
//! conjunct that such a posting answers, so a page walks that value's
//! entries instead of every item of the time range.

use super::filter::{CmpOp, Expr, Literal};
use super::order::sorted_indices;
use super::value::Row;
use super::FieldType;
use super::{Dir, ListQuery};

/// Bounds on one date-time field, in nanoseconds since the Unix epoch:
/// `from` inclusive, `to` exclusive; `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    /// Smallest instant an item may have (inclusive).
    pub from: Option<i128>,
    /// First instant past the items (exclusive).
    pub to: Option<i128>,
    /// The query has no search and its filter is nothing but bounds on the
    /// field (or absent): every item in the range matches.
    pub exact: bool,
    /// The bounds exclude everything (e.g. `t gt X and t lt X`).
    pub empty: bool,
}

impl TimeRange {
    fn lower(&mut self, at: i128) {
        self.from = Some(self.from.map_or(at, |f| f.max(at)));
    }

    fn upper(&mut self, at: i128) {
        self.to = Some(self.to.map_or(at, |t| t.min(at)));
    }
}

/// A top-level conjunct asking that one of some string fields equal one
/// value: `f eq 'X'`, or `(f eq 'X' or g eq 'X')` with the same `X`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrEq {
    /// The value compared with.
    pub value: String,
    /// The fields of which one must equal it (each once, in filter order).
    pub fields: Vec<&'static str>,
    /// The query has no search and every other top-level conjunct is a
    /// bound on the time field: an item with one of `fields` equal to
    /// `value` inside the [`TimeRange`] matches without being evaluated.
    pub exact: bool,
}

/// Whether `e` is a bound on the date-time `field` that [`TimeRange`] keeps.
fn is_bound(e: &Expr, field: &str) -> bool {
    matches!(e, Expr::Cmp { field: f, op, lit: Literal::DateTime(_), .. } if *f == field && *op != CmpOp::Ne)
}

/// `(value, fields)` when `e` is `f eq 'X'` or an `or` of such terms with
/// one `X`, every `f` a string field among `fields`.
fn str_eq(e: &Expr, fields: &[&str]) -> Option<(String, Vec<&'static str>)> {
    let term = |e: &Expr| match e {
        Expr::Cmp {
            field,
            ty: FieldType::String,
            op: CmpOp::Eq,
            lit: Literal::Str(s),
        } if fields.contains(field) => Some((s.clone(), *field)),
        _ => None,
    };
    match e {
        Expr::Or(terms) => {
            let mut value: Option<String> = None;
            let mut names = Vec::new();
            for t in terms {
                let (v, f) = term(t)?;
                if value.as_ref().is_some_and(|was| *was != v) {
                    return None;
                }
                value = Some(v);
                if !names.contains(&f) {
                    names.push(f);
                }
            }
            value.map(|v| (v, names))
        }
        e => term(e).map(|(v, f)| (v, vec![f])),
    }
}

impl ListQuery {
    /// The first top-level `and` conjunct that is an equality of one of
    /// the string `fields` with a string (`f eq 'X'`), or an `or` of such
    /// equalities with one value (`f eq 'X' or g eq 'X'`): what a posting
    /// of those fields' values answers. `exact` when nothing else but
    /// bounds on `time_field` (see [`ListQuery::time_range`]) filters.
    pub fn string_eq(&self, fields: &[&str], time_field: &str) -> Option<StrEq> {
        let conjuncts: Vec<&Expr> = match &self.filter {
            Some(Expr::And(terms)) => terms.iter().collect(),
            Some(e) => vec![e],
            None => Vec::new(),
        };
        let (at, (value, fields)) = conjuncts
            .iter()
            .enumerate()
            .find_map(|(i, c)| str_eq(c, fields).map(|found| (i, found)))?;
        let exact = self.search.is_none()
            && conjuncts
                .iter()
                .enumerate()
                .all(|(i, c)| i == at || is_bound(c, time_field));
        Some(StrEq {
            value,
            fields,
            exact,
        })
    }

    /// The bounds the query's top-level `and` conjuncts put on the
    /// date-time `field` (`eq`, `gt`, `ge`, `lt`, `le` against a date-time
    /// literal). Any other conjunct, an `or` at the top, or a search makes
    /// the range inexact.
    pub fn time_range(&self, field: &str) -> TimeRange {
        let mut range = TimeRange {
            exact: self.search.is_none(),
            ..TimeRange::default()
        };
        let conjuncts: Vec<&Expr> = match &self.filter {
            Some(Expr::And(terms)) => terms.iter().collect(),
            Some(e) => vec![e],
            None => Vec::new(),
        };
        for c in conjuncts {
            match c {
                Expr::Cmp {
                    field: f,
                    op,
                    lit: Literal::DateTime(at),
                    ..
                } if *f == field && *op != CmpOp::Ne => match op {
                    CmpOp::Eq => {
                        range.lower(*at);
                        range.upper(at.saturating_add(1));
                    }
                    CmpOp::Gt => range.lower(at.saturating_add(1)),
                    CmpOp::Ge => range.lower(*at),
                    CmpOp::Lt => range.upper(*at),
                    CmpOp::Le => range.upper(at.saturating_add(1)),
                    CmpOp::Ne => {}
                },
                _ => range.exact = false,
            }
        }
        if let (Some(f), Some(t)) = (range.from, range.to) {
            range.empty = f >= t;
        }
        range
    }

    /// The first key of the effective order (the requested one, or the
    /// schema's default) and its direction; `None` when there is none.
    pub fn leading_order(&self) -> Option<(&'static str, Dir)> {
        self.order.first().map(|k| (k.field, k.dir))
    }

    /// Every key of the effective order, in order.
    pub fn order_keys(&self) -> Vec<(&'static str, Dir)> {
        self.order.iter().map(|k| (k.field, k.dir)).collect()
    }

    /// `rows` stably sorted by the effective order (no filtering, no
    /// paging): what a store that keeps only a bounded window of the best
    /// rows so far needs to merge a new batch into it.
    pub fn sort_rows<R: Row>(&self, rows: Vec<R>) -> Vec<R> {
        let order = sorted_indices(&rows, &self.order);
        let mut slots: Vec<Option<R>> = rows.into_iter().map(Some).collect();
        order
            .into_iter()
            .filter_map(|idx| slots.get_mut(idx).and_then(Option::take))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FieldType, ListSchema, RawListParams};
    use super::*;

    const SCHEMA: ListSchema = ListSchema {
        fields: &[
            ("started_at", FieldType::DateTime),
            ("caller", FieldType::String),
            ("callee", FieldType::String),
            ("duration", FieldType::Number),
        ],
        search: &["caller"],
        default_order: &[("started_at", Dir::Desc)],
    };

    fn q(filter: Option<&str>, search: Option<&str>, orderby: Option<&str>) -> ListQuery {
        let raw = RawListParams {
            filter: filter.map(str::to_string),
            search: search.map(str::to_string),
            orderby: orderby.map(str::to_string),
            ..RawListParams::default()
        };
        match ListQuery::parse(&raw, &SCHEMA) {
            Ok(q) => q,
            Err(e) => panic!("{filter:?} should parse: {e}"),
        }
    }

    const T0: i128 = 1_700_000_000_000_000_000;

    #[test]
    fn given_no_filter_when_planning_then_unbounded_and_exact() {
        let r = q(None, None, None).time_range("started_at");
        assert_eq!((r.from, r.to, r.exact, r.empty), (None, None, true, false));
    }

    #[test]
    fn given_bounds_when_planning_then_from_inclusive_to_exclusive() {
        let r = q(
            Some("started_at ge '2023-11-14T22:13:20Z' and started_at lt '2023-11-14T22:13:21Z'"),
            None,
            None,
        )
        .time_range("started_at");
        assert_eq!(
            (r.from, r.to, r.exact),
            (Some(T0), Some(T0 + 1_000_000_000), true)
        );
        let r = q(
            Some("started_at gt '2023-11-14T22:13:20Z' and started_at le '2023-11-14T22:13:21Z'"),
            None,
            None,
        )
        .time_range("started_at");
        assert_eq!((r.from, r.to), (Some(T0 + 1), Some(T0 + 1_000_000_001)));
    }

    #[test]
    fn given_eq_when_planning_then_a_one_instant_range() {
        let r =
            q(Some("started_at eq '2023-11-14T22:13:20Z'"), None, None).time_range("started_at");
        assert_eq!((r.from, r.to, r.exact), (Some(T0), Some(T0 + 1), true));
    }

    #[test]
    fn given_other_conjuncts_or_search_when_planning_then_inexact_but_still_bounded() {
        let r = q(
            Some("started_at ge '2023-11-14T22:13:20Z' and caller eq '101'"),
            None,
            None,
        )
        .time_range("started_at");
        assert_eq!((r.from, r.exact), (Some(T0), false));
        let r = q(None, Some("10"), None).time_range("started_at");
        assert!(!r.exact);
        let r =
            q(Some("started_at ne '2023-11-14T22:13:20Z'"), None, None).time_range("started_at");
        assert_eq!((r.from, r.to, r.exact), (None, None, false));
    }

    #[test]
    fn given_an_or_when_planning_then_unbounded() {
        let r = q(
            Some("started_at ge '2023-11-14T22:13:20Z' or caller eq '1'"),
            None,
            None,
        )
        .time_range("started_at");
        assert_eq!((r.from, r.to, r.exact), (None, None, false));
    }

    #[test]
    fn given_contradicting_bounds_when_planning_then_empty() {
        let r = q(
            Some("started_at gt '2023-11-14T22:13:20Z' and started_at lt '2023-11-14T22:13:20Z'"),
            None,
            None,
        )
        .time_range("started_at");
        assert!(r.empty);
    }

    #[test]
    fn given_orderby_when_planning_then_leading_key_is_the_requested_one() {
        assert_eq!(
            q(None, None, None).leading_order(),
            Some(("started_at", Dir::Desc))
        );
        assert_eq!(
            q(None, None, Some("caller desc")).order_keys(),
            vec![("caller", Dir::Desc), ("started_at", Dir::Desc)]
        );
    }

    const NUMBERS: &[&str] = &["caller", "callee"];

    fn eq(filter: &str) -> Option<(String, Vec<&'static str>, bool)> {
        q(Some(filter), None, None)
            .string_eq(NUMBERS, "started_at")
            .map(|e| (e.value, e.fields, e.exact))
    }

    #[test]
    fn given_a_number_eq_when_planning_then_it_is_the_posting_and_exact() {
        assert_eq!(
            eq("caller eq '101'"),
            Some(("101".into(), vec!["caller"], true))
        );
        assert_eq!(
            eq("started_at ge '2023-11-14T22:13:20Z' and callee eq '+49'"),
            Some(("+49".into(), vec!["callee"], true))
        );
    }

    #[test]
    fn given_an_or_of_one_number_when_planning_then_both_fields() {
        assert_eq!(
            eq("(caller eq '101' or callee eq '101') and started_at lt '2023-11-14T22:13:20Z'"),
            Some(("101".into(), vec!["caller", "callee"], true))
        );
        assert_eq!(
            eq("caller eq '101' or caller eq '101'"),
            Some(("101".into(), vec!["caller"], true))
        );
    }

    #[test]
    fn given_other_conjuncts_or_a_search_when_planning_then_inexact() {
        assert_eq!(
            eq("caller eq '101' and duration gt 5"),
            Some(("101".into(), vec!["caller"], false))
        );
        let searched = q(Some("caller eq '101'"), Some("x"), None).string_eq(NUMBERS, "started_at");
        assert_eq!(searched.map(|e| e.exact), Some(false));
    }

    #[test]
    fn given_no_single_number_equality_when_planning_then_none() {
        for filter in [
            "caller eq '101' or callee eq '102'",
            "caller eq '101' or duration gt 5",
            "caller ne '101'",
            "not (caller eq '101')",
            "caller eq null",
            "duration eq 5",
            "contains(caller, '101')",
        ] {
            assert_eq!(eq(filter), None, "{filter}");
        }
    }
}
