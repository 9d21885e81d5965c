//! Indexed lists: a page costs its page, not the size of the collection.
//!
//! A [`ListIndex`] keeps, for one collection of one tenant:
//! - the number of items (so an unfiltered `count` is not recounted);
//! - **ordered indexes** `(key, then-key, id)` for the fields lists are
//!   commonly sorted by, so `orderby` + `skip`/`top` walks the index and
//!   stops after the page;
//! - **equality indexes** `key → ids` for the fields lists are commonly
//!   filtered by, so `field eq value` (alone or in a conjunction) starts from
//!   the matching ids, and answers its `count` without a scan.
//!
//! Keys are read through the same [`Row`] accessor the filter and the sort
//! use, so an index can never disagree with the reference evaluation
//! ([`ListQuery::run`] over rendered items): the model-based test in the
//! service compares both on random writes and queries.
//!
//! [`ListQuery::run_indexed`] plans a query over a [`Source`]:
//! 1. candidates: the smallest equality-index posting among the filter's
//!    top-level `eq` conjuncts (or a source's own candidate set, e.g. the
//!    caller's favorites), else every item;
//! 2. count: kept (no filter), the posting's size (one indexed `eq`), or a
//!    typed evaluation of the candidates;
//! 3. page: a walk of the first sort key's ordered index (equal keys are
//!    ordered by the remaining keys, run by run), or, when the matches are
//!    few or no index fits, a typed sort of the matches.
//!
//! Nothing is rendered here; the caller renders the ids of the page.

use super::filter::{CmpOp, Expr};
use super::order::{compare_decorated, SortKey};
use super::{Dir, FieldType, Key, ListQuery, ListSchema, Row, Scalar};
use crate::pmap::PSet;
use std::cmp::Ordering;
use switchboard_events::Id;

/// What a collection indexes.
#[derive(Debug)]
pub struct IndexSpec {
    /// The list schema (field types).
    pub schema: &'static ListSchema,
    /// Ordered indexes: `(field, then)`; entries are ordered by `field`, then
    /// by `then` (the next key of the usual order), then by id.
    pub ordered: &'static [(&'static str, &'static str)],
    /// Equality indexes.
    pub eq: &'static [&'static str],
}

impl IndexSpec {
    fn ty(&self, field: &str) -> Option<FieldType> {
        self.schema
            .fields
            .iter()
            .find(|(n, _)| *n == field)
            .map(|&(_, t)| t)
    }
}

/// One ordered index: `(key, then-key, id)` in order.
type Ordered = PSet<(Key, Key, Id)>;

/// The indexed keys of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowKeys {
    ordered: Vec<(Key, Key)>,
    eq: Vec<Key>,
}

/// The indexes of one collection (persistent: cheap to clone and publish).
#[derive(Clone)]
pub struct ListIndex {
    spec: &'static IndexSpec,
    count: usize,
    ordered: Vec<Ordered>,
    eq: Vec<imbl::OrdMap<Key, PSet<Id>>>,
}

/// Equal when they index the same items under the same keys.
impl PartialEq for ListIndex {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.ordered == other.ordered && self.eq == other.eq
    }
}

impl std::fmt::Debug for ListIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListIndex")
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl ListIndex {
    /// An empty index.
    pub fn new(spec: &'static IndexSpec) -> ListIndex {
        ListIndex {
            spec,
            count: 0,
            ordered: spec.ordered.iter().map(|_| PSet::new()).collect(),
            eq: spec.eq.iter().map(|_| imbl::OrdMap::new()).collect(),
        }
    }

    /// Number of indexed items.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The keys `row` is indexed under.
    pub fn keys<R: Row + ?Sized>(&self, row: &R) -> RowKeys {
        let key = |field: &str| Key::of(row.value(field, self.spec.ty(field)));
        RowKeys {
            ordered: self
                .spec
                .ordered
                .iter()
                .map(|(f, then)| (key(f), key(then)))
                .collect(),
            eq: self.spec.eq.iter().map(|f| key(f)).collect(),
        }
    }

    /// Moves item `id` from `old` keys (`None`: it was absent) to `new`
    /// (`None`: it is gone).
    pub fn update(&mut self, id: Id, old: Option<&RowKeys>, new: Option<&RowKeys>) {
        if old == new {
            return;
        }
        if let Some(old) = old {
            for (set, (k, then)) in self.ordered.iter_mut().zip(&old.ordered) {
                set.remove(&(k.clone(), then.clone(), id));
            }
            for (map, k) in self.eq.iter_mut().zip(&old.eq) {
                let emptied = match map.get_mut(k) {
                    Some(ids) => {
                        ids.remove(&id);
                        ids.is_empty()
                    }
                    None => false,
                };
                if emptied {
                    map.remove(k);
                }
            }
            self.count -= 1;
        }
        if let Some(new) = new {
            for (set, (k, then)) in self.ordered.iter_mut().zip(&new.ordered) {
                set.insert((k.clone(), then.clone(), id));
            }
            for (map, k) in self.eq.iter_mut().zip(&new.eq) {
                map.entry(k.clone()).or_default().insert(id);
            }
            self.count += 1;
        }
    }

    fn postings(&self, field: &str, value: Option<Scalar<'_>>) -> Option<Candidates<'_>> {
        let i = self.spec.eq.iter().position(|f| *f == field)?;
        Some(match self.eq[i].get(&Key::of(value)) {
            Some(ids) => Candidates::Set(ids),
            None => Candidates::Owned(Vec::new()),
        })
    }

    fn ordered_on(&self, field: &str) -> Option<(&Ordered, &'static str)> {
        let i = self.spec.ordered.iter().position(|(f, _)| *f == field)?;
        Some((&self.ordered[i], self.spec.ordered[i].1))
    }
}

/// A collection a query can run over with its index.
pub trait Source {
    /// The typed view of one item.
    type Row<'a>: Row
    where
        Self: 'a;

    /// The collection's index.
    fn index(&self) -> &ListIndex;

    /// The item `id`, if present.
    fn row(&self, id: Id) -> Option<Self::Row<'_>>;

    /// Every item's id, ascending (the order the reference path lists them).
    fn ids(&self) -> Box<dyn Iterator<Item = Id> + '_>;

    /// The ids (ascending) for which `field eq value` holds, when the source
    /// knows them without a scan although the index does not (e.g. the
    /// caller's own favorites). `None`: unknown.
    fn candidates(&self, _field: &str, _value: Option<Scalar<'_>>) -> Option<Vec<Id>> {
        None
    }
}

/// Ids matching an `eq` conjunct, ascending.
enum Candidates<'a> {
    Set(&'a PSet<Id>),
    Owned(Vec<Id>),
}

impl Candidates<'_> {
    fn len(&self) -> usize {
        match self {
            Candidates::Set(s) => s.len(),
            Candidates::Owned(v) => v.len(),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = Id> + '_> {
        match self {
            Candidates::Set(s) => Box::new(s.iter().copied()),
            Candidates::Owned(v) => Box::new(v.iter().copied()),
        }
    }
}

/// One page of ids and the total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPage {
    /// Items matching filter and search, before skip/top.
    pub count: usize,
    /// The page's ids, in order.
    pub ids: Vec<Id>,
}

impl ListQuery {
    /// Runs the query over an indexed source; the same page as
    /// [`ListQuery::run`] over the source's rendered items.
    pub fn run_indexed<S: Source>(&self, src: &S) -> IdPage {
        let idx = src.index();
        let total = idx.len();

        // 1. Candidates: the smallest posting among the top-level eq conjuncts.
        let conjuncts: Vec<&Expr> = match &self.filter {
            Some(Expr::And(terms)) => terms.iter().collect(),
            Some(e) => vec![e],
            None => Vec::new(),
        };
        let mut best: Option<Candidates<'_>> = None;
        for c in &conjuncts {
            if let Expr::Cmp {
                field,
                op: CmpOp::Eq,
                lit,
                ..
            } = c
            {
                let found = idx.postings(field, lit.as_scalar()).or_else(|| {
                    src.candidates(field, lit.as_scalar())
                        .map(Candidates::Owned)
                });
                if let Some(found) = found {
                    if best.as_ref().is_none_or(|b| found.len() < b.len()) {
                        best = Some(found);
                    }
                }
            }
        }
        // The candidates are exactly the matches: one eq conjunct, no search.
        let exact = best.is_some() && conjuncts.len() == 1 && self.search.is_none();

        // 2. Count (and, when every candidate had to be looked at anyway, the matches).
        let mut matched: Option<Vec<Id>> = None;
        let count = if self.matches_all() {
            total
        } else if exact {
            best.as_ref().map_or(0, Candidates::len)
        } else {
            let source: Box<dyn Iterator<Item = Id> + '_> = match &best {
                Some(c) => c.iter(),
                None => src.ids(),
            };
            let m: Vec<Id> = source
                .filter(|id| src.row(*id).is_some_and(|r| self.matches(&r)))
                .collect();
            let n = m.len();
            matched = Some(m);
            n
        };
        let take = self.top.min(count.saturating_sub(self.skip));
        if take == 0 {
            return IdPage {
                count,
                ids: Vec::new(),
            };
        }
        let want = self.skip + take;

        // 3. The page.
        let Some(first) = self.order.first() else {
            let all: Box<dyn Iterator<Item = Id> + '_> = match (matched, &best) {
                (Some(m), _) => Box::new(m.into_iter()),
                (None, Some(c)) if exact => c.iter(),
                _ => Box::new(src.ids()),
            };
            let ids = all.skip(self.skip).take(take).collect();
            return IdPage { count, ids };
        };
        if let Some((set, then)) = idx.ordered_on(first.field) {
            // Walking visits about want × total / count entries; sorting the
            // matches costs count × log(count).
            let walk = want.saturating_mul(total) / count.max(1);
            let sort = count.saturating_mul(usize::BITS as usize - count.leading_zeros() as usize);
            if matched.is_none() || walk <= sort {
                let passes = |id: Id| {
                    if self.matches_all() {
                        return true;
                    }
                    if exact {
                        if let Some(Candidates::Set(s)) = &best {
                            return s.contains(&id);
                        }
                    }
                    src.row(id).is_some_and(|r| self.matches(&r))
                };
                let ids = self.walk(src, set, then, first, &passes, take);
                return IdPage { count, ids };
            }
        }
        let list: Vec<Id> = match (matched, &best) {
            (Some(m), _) => m,
            (None, Some(c)) if exact => c.iter().collect(),
            _ => src.ids().collect(),
        };
        let sorted = self.sort_ids(src, list);
        IdPage {
            count,
            ids: sorted.into_iter().skip(self.skip).take(take).collect(),
        }
    }

    /// Sorts ids (given ascending) by the query's keys; ties keep the
    /// given order, as the reference's stable sort does.
    fn sort_ids<S: Source>(&self, src: &S, ids: Vec<Id>) -> Vec<Id> {
        let rows: Vec<(Id, S::Row<'_>)> = ids
            .into_iter()
            .filter_map(|id| src.row(id).map(|r| (id, r)))
            .collect();
        let mut decorated: Vec<(Vec<Option<Scalar<'_>>>, Id)> = rows
            .iter()
            .map(|(id, r)| (self.order.iter().map(|k| k.extract(r)).collect(), *id))
            .collect();
        decorated.sort_by(|(a, _), (b, _)| compare_decorated(&self.order, a, b));
        decorated.into_iter().map(|(_, id)| id).collect()
    }

    /// Walks an ordered index in the first key's direction, ordering each
    /// run of equal keys by the remaining keys, until the page is complete.
    fn walk<S: Source>(
        &self,
        src: &S,
        set: &Ordered,
        then: &str,
        first: &SortKey,
        passes: &dyn Fn(Id) -> bool,
        take: usize,
    ) -> Vec<Id> {
        // Ascending with the usual next key: entries with equal (key, then)
        // form a run; otherwise entries with an equal key do.
        let by_then = first.dir == Dir::Asc
            && self
                .order
                .get(1)
                .is_some_and(|k| k.field == then && k.dir == Dir::Asc);
        let entries: Box<dyn Iterator<Item = &(Key, Key, Id)> + '_> = match first.dir {
            Dir::Asc => Box::new(set.iter()),
            Dir::Desc => Box::new(set.iter().rev()),
        };
        let mut out = Vec::with_capacity(take);
        let mut skipped = 0usize;
        let mut run: Vec<Id> = Vec::new();
        let mut run_key: Option<(&Key, &Key)> = None;
        let mut flush = |run: &mut Vec<Id>, out: &mut Vec<Id>| {
            let ordered = if run.len() > 1 {
                run.sort_unstable();
                self.sort_ids(src, std::mem::take(run))
            } else {
                std::mem::take(run)
            };
            for id in ordered {
                if out.len() == take {
                    break;
                }
                if skipped < self.skip {
                    skipped += 1;
                } else {
                    out.push(id);
                }
            }
        };
        for (k, t, id) in entries {
            let same = run_key.is_some_and(|(rk, rt)| {
                rk.cmp(k) == Ordering::Equal && (!by_then || rt.cmp(t) == Ordering::Equal)
            });
            if !same {
                flush(&mut run, &mut out);
                if out.len() == take {
                    return out;
                }
                run_key = Some((k, t));
            }
            if passes(*id) {
                run.push(*id);
            }
        }
        flush(&mut run, &mut out);
        out
    }
}
