//! A page of a list that has no index: one pass over its items, keeping
//! only the best `skip + top` matches.
//!
//! A past state (`?as_of=`) answers one request or a few, and a list of the
//! live model that was never indexed is small; building a [`ListIndex`]
//! (every ordered index sorted, every equality posting) to read one page of
//! either costs far more than the page: ~1 s for 100k users, measured
//! (BENCHMARKS.md, "Read side at scale"). [`ListQuery::run_scan`] reads each
//! item once instead: it evaluates the filter and the search, counts, and
//! keeps the matches that can still be on the page in a buffer it cuts back
//! to the best `skip + top` whenever it holds twice that (a selection, not a
//! sort). Once cut, an item that does not rank before the last one kept is
//! passed over after comparing its first sort key or two, so the sort keys
//! of most items are never copied.
//!
//! The order is the reference's ([`ListQuery::run`]: a stable sort of the
//! matches in the order they are given): the query's keys, then the
//! position in the given order, which makes it total, so the selection
//! picks the very page the stable sort would.
//!
//! [`ListIndex`]: super::index::ListIndex

use super::index::{IdPage, Rows};
use super::order::SortKey;
use super::{cmp_nullable, Dir, Key, ListQuery, Row};
use std::cmp::Ordering;
use switchboard_events::Id;

/// A match that may be on the page: its sort keys, its position in the
/// given order (the tie-breaker) and its id.
struct Kept {
    keys: Vec<Key>,
    at: usize,
    id: Id,
}

/// The order of two kept matches: the query's keys, then their positions.
fn cmp_kept(order: &[SortKey], a: &Kept, b: &Kept) -> Ordering {
    for ((key, x), y) in order.iter().zip(&a.keys).zip(&b.keys) {
        let ord = directed(key.dir, cmp_nullable(&x.scalar(), &y.scalar()));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.at.cmp(&b.at)
}

/// The order of an item not kept yet (it comes after every kept one in the
/// given order) relative to a kept one: its keys are read one by one, only
/// as far as they tie.
fn cmp_new<R: Row + ?Sized>(order: &[SortKey], row: &R, kept: &Kept) -> Ordering {
    for (key, k) in order.iter().zip(&kept.keys) {
        let ord = directed(key.dir, cmp_nullable(&key.extract(row), &k.scalar()));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Greater
}

fn directed(dir: Dir, ord: Ordering) -> Ordering {
    match dir {
        Dir::Asc => ord,
        Dir::Desc => ord.reverse(),
    }
}

/// How many matches the buffer holds before it is cut back to `want`.
fn capacity(want: usize) -> usize {
    want.saturating_mul(2).max(256)
}

impl ListQuery {
    /// Runs the query over `ids` (in the order the reference lists them:
    /// ascending) read through `src`, without an index; the same page as
    /// [`ListQuery::run`] over those items rendered. Ids `src` cannot read
    /// are not in the list.
    pub fn run_scan<S: Rows>(&self, src: &S, ids: impl IntoIterator<Item = Id>) -> IdPage {
        let mut count = 0usize;
        if self.order.is_empty() {
            // The given order is the page's: the matches from `skip` on.
            let mut page = Vec::new();
            for id in ids {
                let Some(row) = src.row(id) else { continue };
                if !self.matches(&row) {
                    continue;
                }
                if count >= self.skip && page.len() < self.top {
                    page.push(id);
                }
                count += 1;
            }
            return IdPage { count, ids: page };
        }
        let want = self.skip.saturating_add(self.top);
        let mut kept: Vec<Kept> = Vec::new();
        // Once the buffer was cut: the last match it keeps (anything that
        // does not rank before it is not on the page).
        let mut last: Option<usize> = None;
        for (at, id) in ids.into_iter().enumerate() {
            let Some(row) = src.row(id) else { continue };
            if !self.matches(&row) {
                continue;
            }
            count += 1;
            if let Some(l) = last {
                if cmp_new(&self.order, &row, &kept[l]) != Ordering::Less {
                    continue;
                }
            }
            kept.push(Kept {
                keys: self
                    .order
                    .iter()
                    .map(|k| Key::of(k.extract(&row)))
                    .collect(),
                at,
                id,
            });
            if kept.len() >= capacity(want) {
                kept.select_nth_unstable_by(want - 1, |a, b| cmp_kept(&self.order, a, b));
                kept.truncate(want);
                // After the selection the `want`th is at `want - 1` and no
                // kept match ranks after it.
                last = Some(want - 1);
            }
        }
        kept.sort_unstable_by(|a, b| cmp_kept(&self.order, a, b));
        IdPage {
            count,
            ids: kept
                .into_iter()
                .skip(self.skip)
                .take(self.top)
                .map(|k| k.id)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{item, SCHEMA};
    use super::super::RawListParams;
    use super::*;
    use serde_json::{json, Map, Value};

    struct Items(Vec<Map<String, Value>>);

    impl Rows for Items {
        type Row<'a> = Map<String, Value>;

        fn row(&self, id: Id) -> Option<Map<String, Value>> {
            self.0.get(usize::try_from(id.0).ok()?).cloned()
        }
    }

    /// A small deterministic generator (xorshift).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Items with few distinct values, so sort keys tie often and the
    /// tie-breakers decide; some values null or missing.
    fn items(rng: &mut Rng, n: usize) -> Vec<Map<String, Value>> {
        (0..n)
            .map(|i| {
                let mut m = item(json!({ "id": i }));
                if rng.below(5) != 0 {
                    m.insert("name".into(), json!(format!("n{}", rng.below(7))));
                }
                m.insert("age".into(), json!(rng.below(4)));
                if rng.below(3) != 0 {
                    m.insert("enabled".into(), json!(rng.below(2) == 0));
                }
                m.insert(
                    "created_at".into(),
                    json!(format!("2024-01-0{}T00:00:00Z", 1 + rng.below(3))),
                );
                m.insert("email".into(), json!(format!("u{}@x", rng.below(50))));
                m
            })
            .collect()
    }

    fn query(rng: &mut Rng) -> RawListParams {
        let filters = [
            None,
            Some("age ge 2"),
            Some("enabled eq true"),
            Some("name eq null or age eq 0"),
            Some("startswith(name, 'n1')"),
        ];
        let orders = [
            None,
            Some("name"),
            Some("name desc, age"),
            Some("enabled desc"),
            Some("age, name desc"),
            Some("created_at desc"),
        ];
        let pick = |rng: &mut Rng, n: usize| rng.below(n as u64) as usize;
        RawListParams {
            filter: filters[pick(rng, filters.len())].map(str::to_owned),
            search: (rng.below(6) == 0).then(|| "U1".to_owned()),
            orderby: orders[pick(rng, orders.len())].map(str::to_owned),
            skip: Some(rng.below(700).to_string()),
            top: Some((1 + rng.below(100)).to_string()),
            count: None,
        }
    }

    #[test]
    fn a_scanned_page_is_the_reference_page() {
        let mut rng = Rng(0x5ca1_ab1e);
        for round in 0..300 {
            let n = [0, 1, 5, 90, 300, 1500][round % 6];
            let all = items(&mut rng, n);
            let raw = query(&mut rng);
            let q = ListQuery::parse(&raw, &SCHEMA).expect("the query parses");
            let reference = q.run(all.clone());
            let want: Vec<Id> = reference
                .items
                .iter()
                .map(|m| Id(m["id"].as_u64().expect("an id")))
                .collect();
            let got = q.run_scan(&Items(all), (0..n as u64).map(Id));
            assert_eq!(
                (got.count, got.ids),
                (reference.count, want),
                "round {round}, {n} items, {raw:?}"
            );
        }
    }

    #[test]
    fn items_that_cannot_be_read_are_not_in_the_list() {
        let all = Items(vec![item(json!({"id": 0})), item(json!({"id": 1}))]);
        let q = ListQuery::parse(&RawListParams::default(), &SCHEMA).expect("parses");
        let page = q.run_scan(&all, [Id(0), Id(7), Id(1)]);
        assert_eq!((page.count, page.ids), (2, vec![Id(0), Id(1)]));
    }
}
