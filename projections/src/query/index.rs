//! Indexed lists: a page costs its page, not the size of the collection.
//!
//! A [`ListIndex`] keeps, for one list:
//! - **ordered indexes**: the item ids in the order of a list of fields
//!   (ascending, then by id), e.g. the list's default order or `orderby=name`
//!   followed by the default order's tail, so a page in that order is a slice
//!   of the index (`skip` jumps, `top` stops), and a page in any order that
//!   starts with the index's first field walks it run by run;
//! - **equality indexes**: per value of a field clients filter by with
//!   `eq`, the ids having it, kept in each ordered index's order
//!   (composites), so `field eq value` answers its count and walks its page
//!   without touching an item that does not match; the value most items
//!   have is kept as its complement instead ([`Posting::Except`]);
//! - the number of items (so an unfiltered `count` is not recounted).
//!
//! An index holds ids only (8 bytes an entry in a persistent vector,
//! [`imbl::Vector`]): the order is the items' own values, read through the
//! same [`Row`] accessor the filter and the sort use, so an index can never
//! disagree with the reference evaluation ([`ListQuery::run`] over rendered
//! items; the service's model-based test compares both on random writes and
//! queries). Moving an item is a binary search over the others' rows (the
//! caller hands them in as [`Rows`]), with the item's own keys given before
//! and after the change ([`RowKeys`]).
//!
//! [`ListQuery::run_indexed`] plans a query over a [`Source`]:
//! 1. candidates: the smallest equality posting among the filter's
//!    top-level `eq` conjuncts (or a source's own candidate set, e.g. the
//!    caller's favorites), else every item;
//! 2. count: kept (no filter), the posting's size (one indexed `eq`), or a
//!    typed evaluation of the candidates;
//! 3. page: a walk of the ordered index (or the posting's composite) of the
//!    first sort key — a slice when the query's order is the index's — or,
//!    when the matches are few or no index fits, a typed sort of the matches.
//!
//! Nothing is rendered here; the caller renders the ids of the page.

use super::filter::{CmpOp, Expr};
use super::order::{compare_decorated, SortKey};
use super::{cmp_nullable, Dir, FieldType, Key, ListQuery, ListSchema, Row, Scalar};
use std::cmp::Ordering;
use switchboard_events::Id;

/// An ordered index: ids in the index's order.
type Ordered = super::sorted::SortedIds;

/// What a list indexes.
#[derive(Debug)]
pub struct IndexSpec {
    /// The list schema (field types).
    pub schema: &'static ListSchema,
    /// Ordered indexes, each by these fields (ascending), then by id. The
    /// first field is the one the index serves; the rest should be the
    /// list's usual tie-breakers (the default order's), so that the page of
    /// `orderby=<first>` is a slice of the index.
    pub ordered: &'static [&'static [&'static str]],
    /// Equality indexes (each kept in every ordered index's order).
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

    /// The keys `row` is indexed under.
    pub fn keys<R: Row + ?Sized>(&self, row: &R) -> RowKeys {
        let key = |field: &str| Key::of(row.value(field, self.ty(field)));
        RowKeys {
            ordered: self
                .ordered
                .iter()
                .map(|fields| fields.iter().map(|f| key(f)).collect())
                .collect(),
            eq: self.eq.iter().map(|f| key(f)).collect(),
        }
    }

    /// The sort keys of ordered index `i`.
    fn order(&self, i: usize) -> Vec<SortKey> {
        self.ordered[i]
            .iter()
            .map(|f| SortKey {
                field: f,
                dir: Dir::Asc,
                ty: self.ty(f),
            })
            .collect()
    }
}

/// The indexed keys of one item: each ordered index's fields, and each
/// equality index's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowKeys {
    ordered: Vec<Vec<Key>>,
    eq: Vec<Key>,
}

/// The items of one value of an equality index, in each ordered index's
/// order: listed, or, for the value most items have, the items without it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Posting {
    /// The items with the value.
    Listed(Vec<Ordered>),
    /// The items *without* the value (the index's own orders hold the
    /// rest): a value nearly every item has (`enabled eq true`, a tenant's
    /// one role, extensions of type SIP) then costs nothing per item.
    Except(Vec<Ordered>),
}

/// One equality index: a posting per value. At most one value is kept as
/// [`Posting::Except`] (its *dominant* value): one becomes so when it holds
/// more than two thirds of the items and stops when it holds less than a
/// third, so a flip (a pass over the index) comes only after a third of
/// the items changed.
#[derive(Clone, Debug, Default)]
struct EqIndex {
    postings: imbl::OrdMap<Key, Posting>,
    dominant: Option<Key>,
}

/// The items of one posting in one order.
#[derive(Clone, Copy)]
enum Members<'a> {
    /// Exactly these.
    Listed(&'a Ordered),
    /// `all` without `except` (a subsequence of `all`: both are in the
    /// same order).
    Except {
        all: &'a Ordered,
        except: &'a Ordered,
    },
}

impl<'a> Members<'a> {
    fn len(&self) -> usize {
        match self {
            Members::Listed(s) => s.len(),
            Members::Except { all, except } => all.len().saturating_sub(except.len()),
        }
    }

    /// The ids in order, or in reverse.
    fn iter(self, rev: bool) -> Box<dyn Iterator<Item = Id> + 'a> {
        match (self, rev) {
            (Members::Listed(s), false) => Box::new(s.iter()),
            (Members::Listed(s), true) => Box::new(s.iter().rev()),
            (Members::Except { all, except }, false) => Box::new(Without {
                all: all.iter(),
                except: except.iter().peekable(),
            }),
            (Members::Except { all, except }, true) => Box::new(Without {
                all: all.iter().rev(),
                except: except.iter().rev().peekable(),
            }),
        }
    }

    /// The ids at positions `start..end` (clamped).
    fn slice(self, start: usize, end: usize) -> Vec<Id> {
        match self {
            Members::Listed(s) => s.slice(start, end),
            // Walked: the common value's deep pages cost their depth.
            Members::Except { .. } => self
                .iter(false)
                .skip(start)
                .take(end.saturating_sub(start))
                .collect(),
        }
    }
}

/// `all` without the ids of `except`, a subsequence of it in the same order.
struct Without<I: Iterator<Item = Id>, J: Iterator<Item = Id>> {
    all: I,
    except: std::iter::Peekable<J>,
}

impl<I: Iterator<Item = Id>, J: Iterator<Item = Id>> Iterator for Without<I, J> {
    type Item = Id;
    fn next(&mut self) -> Option<Id> {
        loop {
            let id = self.all.next()?;
            if self.except.peek() == Some(&id) {
                self.except.next();
                continue;
            }
            return Some(id);
        }
    }
}

/// The indexes of one list (persistent: cheap to clone and publish).
#[derive(Clone)]
pub struct ListIndex {
    spec: &'static IndexSpec,
    count: usize,
    ordered: Vec<Ordered>,
    eq: Vec<EqIndex>,
}

/// Equal when they index the same items in the same orders (a value kept
/// as its complement in one and listed in the other compares by its items).
impl PartialEq for ListIndex {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count
            && self.ordered == other.ordered
            && self.eq.len() == other.eq.len()
            && (0..self.eq.len()).all(|e| self.members_of(e) == other.members_of(e))
    }
}

impl std::fmt::Debug for ListIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListIndex")
            .field("count", &self.len())
            .finish_non_exhaustive()
    }
}

/// Items by id, as an index reads them while it moves one of them.
pub trait Rows {
    /// The typed view of one item.
    type Row<'a>: Row
    where
        Self: 'a;

    /// The item `id`, if present.
    fn row(&self, id: Id) -> Option<Self::Row<'_>>;
}

/// Compares an item's row with keys under an order (ascending keys).
fn cmp_row<R: Row + ?Sized>(order: &[SortKey], row: &R, keys: &[Key]) -> Ordering {
    for (k, key) in order.iter().zip(keys) {
        let ord = cmp_nullable(&k.extract(row), &key.scalar());
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// One item moving in an index: its keys before (`None`: it was absent)
/// and after (`None`: it is gone).
#[derive(Debug, Clone)]
pub struct Move {
    /// The item.
    pub id: Id,
    /// Its keys before the change.
    pub old: Option<RowKeys>,
    /// Its keys after the change.
    pub new: Option<RowKeys>,
}

/// Reads the items of an index while some of them move: the ones still
/// waiting to be taken out are compared by their former keys.
struct Probe<'a, S> {
    rows: &'a S,
    pending: &'a std::collections::HashMap<Id, &'a RowKeys>,
}

impl<S: Rows> Probe<'_, S> {
    /// The order of `probe` relative to item `id` with `keys` (index `i`'s):
    /// by `order`, then by id. Items still to be taken out compare by
    /// their former keys.
    fn cmp(
        &self,
        i: usize,
        order: &[SortKey],
        id: Id,
        keys: &[Key],
    ) -> impl FnMut(Id) -> Ordering + '_ {
        let keys = keys.to_vec();
        let order = order.to_vec();
        move |probe| {
            if probe == id {
                return Ordering::Equal;
            }
            let ord = match self.pending.get(&probe) {
                Some(k) => cmp_keys(&order, &k.ordered[i], &keys),
                None => match self.rows.row(probe) {
                    Some(r) => cmp_row(&order, &r, &keys),
                    // Not readable: an index out of step with its rows.
                    None => Ordering::Equal,
                },
            };
            ord.then(probe.cmp(&id))
        }
    }

    /// Removes `id` from `seq`, found by its former `keys`.
    fn remove(&self, seq: &mut Ordered, i: usize, order: &[SortKey], id: Id, keys: &[Key]) {
        seq.remove_by(id, self.cmp(i, order, id, keys));
    }

    /// Inserts `id` into `seq` where its `keys` put it.
    fn insert(&self, seq: &mut Ordered, i: usize, order: &[SortKey], id: Id, keys: &[Key]) {
        seq.insert_by(id, self.cmp(i, order, id, keys));
    }
}

impl ListIndex {
    /// An empty index.
    pub fn new(spec: &'static IndexSpec) -> ListIndex {
        ListIndex {
            spec,
            count: 0,
            ordered: spec.ordered.iter().map(|_| Ordered::new()).collect(),
            eq: spec.eq.iter().map(|_| EqIndex::default()).collect(),
        }
    }

    /// An index of `items` (built in one pass: each order sorted once).
    pub fn build(spec: &'static IndexSpec, items: Vec<(Id, RowKeys)>) -> ListIndex {
        let mut index = ListIndex::new(spec);
        index.count = items.len();
        let orders: Vec<Vec<SortKey>> = (0..spec.ordered.len()).map(|i| spec.order(i)).collect();
        for (i, order) in orders.iter().enumerate() {
            let mut sorted: Vec<&(Id, RowKeys)> = items.iter().collect();
            sorted.sort_by(|(a, ka), (b, kb)| {
                cmp_keys(order, &ka.ordered[i], &kb.ordered[i]).then(a.cmp(b))
            });
            index.ordered[i] = sorted.iter().map(|(id, _)| *id).collect();
            for (e, eq) in index.eq.iter_mut().enumerate() {
                let mut by_value: std::collections::BTreeMap<&Key, Vec<Id>> = Default::default();
                for (id, keys) in &sorted {
                    by_value.entry(&keys.eq[e]).or_default().push(*id);
                }
                for (value, ids) in by_value {
                    if let Posting::Listed(p) = eq
                        .postings
                        .entry(value.clone())
                        .or_insert_with(|| Posting::Listed(vec![Ordered::new(); orders.len()]))
                    {
                        p[i] = ids.into_iter().collect();
                    }
                }
            }
        }
        for e in 0..index.eq.len() {
            let biggest = index.eq[e]
                .postings
                .iter()
                .filter_map(|(k, p)| match p {
                    Posting::Listed(p) => Some((p.first().map_or(0, Ordered::len), k.clone())),
                    Posting::Except(_) => None,
                })
                .max_by(|a, b| a.0.cmp(&b.0));
            if let Some((_, value)) = biggest {
                index.rebalance(e, &value);
            }
        }
        index
    }

    /// Every value's items, per order (for comparing two indexes).
    fn members_of(&self, e: usize) -> Vec<(&Key, Vec<Vec<Id>>)> {
        self.eq[e]
            .postings
            .keys()
            .map(|k| {
                let ids = (0..self.ordered.len())
                    .map(|i| {
                        self.members(e, k, i)
                            .map_or_else(Vec::new, |m| m.iter(false).collect())
                    })
                    .collect();
                (k, ids)
            })
            .collect()
    }

    /// The items of value `value` of equality index `e`, in order `i`.
    fn members(&self, e: usize, value: &Key, i: usize) -> Option<Members<'_>> {
        match self.eq[e].postings.get(value)? {
            Posting::Listed(p) => p.get(i).map(Members::Listed),
            Posting::Except(c) => Some(Members::Except {
                all: self.ordered.get(i)?,
                except: c.get(i)?,
            }),
        }
    }

    /// Keeps `value` of equality index `e` as its complement when it holds
    /// more than two thirds of the items, and listed when less than a
    /// third (the dominant value is checked first). A flip is one pass
    /// over each order.
    fn rebalance(&mut self, e: usize, value: &Key) {
        let count = self.count;
        if let Some(d) = self.eq[e].dominant.clone() {
            let except = match self.eq[e].postings.get(&d) {
                Some(Posting::Except(c)) => c.first().map_or(0, Ordered::len),
                _ => count,
            };
            let size = count.saturating_sub(except);
            if size * 3 < count || count == 0 {
                let listed: Vec<Ordered> = (0..self.ordered.len())
                    .map(|i| {
                        self.members(e, &d, i)
                            .map_or_else(Ordered::new, |m| m.iter(false).collect())
                    })
                    .collect();
                self.eq[e].dominant = None;
                if listed.iter().all(Ordered::is_empty) {
                    self.eq[e].postings.remove(&d);
                } else {
                    self.eq[e].postings.insert(d, Posting::Listed(listed));
                }
            }
        }
        if self.eq[e].dominant.is_some() {
            return;
        }
        let Some(Posting::Listed(p)) = self.eq[e].postings.get(value) else {
            return;
        };
        let size = p.first().map_or(0, Ordered::len);
        if size * 3 <= count * 2 || count == 0 {
            return;
        }
        let except: Vec<Ordered> = self
            .ordered
            .iter()
            .zip(p)
            .map(|(all, listed)| {
                Without {
                    all: all.iter(),
                    except: listed.iter().peekable(),
                }
                .collect()
            })
            .collect();
        self.eq[e]
            .postings
            .insert(value.clone(), Posting::Except(except));
        self.eq[e].dominant = Some(value.clone());
    }

    /// Number of indexed items.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys `row` is indexed under.
    pub fn keys<R: Row + ?Sized>(&self, row: &R) -> RowKeys {
        self.spec.keys(row)
    }

    /// Moves items from their old keys to their new ones (see [`Move`]).
    /// `rows` reads every item as it is now; an item that does not move
    /// must not have changed its place since it was indexed.
    ///
    /// Items are first taken out (compared with the others, those still to
    /// be taken out by their former keys), then put in by their new keys,
    /// so an event that moves many items (a role renamed) keeps every
    /// binary search on consistent neighbours.
    pub fn update<S: Rows>(&mut self, rows: &S, moves: &[Move]) {
        let moves: Vec<&Move> = moves.iter().filter(|m| m.old != m.new).collect();
        if moves.is_empty() {
            return;
        }
        let orders: Vec<Vec<SortKey>> = (0..self.ordered.len())
            .map(|i| self.spec.order(i))
            .collect();
        let moved = |m: &Move, i: usize| {
            m.old.as_ref().map(|k| &k.ordered[i]) != m.new.as_ref().map(|k| &k.ordered[i])
        };
        let regrouped = |m: &Move, e: usize| {
            m.old.as_ref().map(|k| &k.eq[e]) != m.new.as_ref().map(|k| &k.eq[e])
        };
        // Out with the old keys.
        let mut pending: std::collections::HashMap<Id, &RowKeys> = moves
            .iter()
            .filter_map(|m| m.old.as_ref().map(|k| (m.id, k)))
            .collect();
        let mut emptied: Vec<(usize, Key)> = Vec::new();
        for m in &moves {
            let Some(old) = &m.old else { continue };
            for (i, order) in orders.iter().enumerate() {
                let probe = Probe {
                    rows,
                    pending: &pending,
                };
                let keys = &old.ordered[i];
                if moved(m, i) {
                    probe.remove(&mut self.ordered[i], i, order, m.id, keys);
                }
                for (e, eq) in self.eq.iter_mut().enumerate() {
                    if !moved(m, i) && !regrouped(m, e) {
                        continue;
                    }
                    let value = &old.eq[e];
                    if eq.dominant.as_ref() == Some(value) {
                        // In no sequence of this index: the order's own.
                        continue;
                    }
                    if let Some(Posting::Listed(p)) = eq.postings.get_mut(value) {
                        probe.remove(&mut p[i], i, order, m.id, keys);
                        if p[i].is_empty() {
                            emptied.push((e, value.clone()));
                        }
                    }
                    if let Some(d) = &eq.dominant {
                        if let Some(Posting::Except(c)) = eq.postings.get_mut(d) {
                            probe.remove(&mut c[i], i, order, m.id, keys);
                        }
                    }
                }
            }
            pending.remove(&m.id);
            self.count -= 1;
        }
        for (e, value) in emptied {
            if matches!(
                self.eq[e].postings.get(&value),
                Some(Posting::Listed(p)) if p.iter().all(Ordered::is_empty)
            ) {
                self.eq[e].postings.remove(&value);
            }
        }
        // In with the new ones.
        let none = std::collections::HashMap::new();
        let probe = Probe {
            rows,
            pending: &none,
        };
        let n = orders.len();
        for m in &moves {
            let Some(new) = &m.new else { continue };
            for (i, order) in orders.iter().enumerate() {
                let keys = &new.ordered[i];
                if moved(m, i) {
                    probe.insert(&mut self.ordered[i], i, order, m.id, keys);
                }
                for (e, eq) in self.eq.iter_mut().enumerate() {
                    if !moved(m, i) && !regrouped(m, e) {
                        continue;
                    }
                    let value = &new.eq[e];
                    if eq.dominant.as_ref() == Some(value) {
                        continue;
                    }
                    if let Posting::Listed(p) = eq
                        .postings
                        .entry(value.clone())
                        .or_insert_with(|| Posting::Listed(vec![Ordered::new(); n]))
                    {
                        probe.insert(&mut p[i], i, order, m.id, keys);
                    }
                    if let Some(d) = &eq.dominant {
                        if let Some(Posting::Except(c)) = eq.postings.get_mut(d) {
                            probe.insert(&mut c[i], i, order, m.id, keys);
                        }
                    }
                }
            }
            self.count += 1;
        }
        // Values that grew or shrank: kept listed or as their complement.
        for e in 0..self.eq.len() {
            // The dominant value too: it shrinks as others grow.
            let mut values: Vec<Key> = moves
                .iter()
                .flat_map(|m| [&m.old, &m.new])
                .filter_map(|k| k.as_ref().map(|k| k.eq[e].clone()))
                .chain(self.eq[e].dominant.clone())
                .collect();
            values.sort();
            values.dedup();
            for value in &values {
                self.rebalance(e, value);
            }
        }
    }

    fn posting(&self, field: &str, value: Option<Scalar<'_>>) -> Option<Candidates<'_>> {
        let e = self.spec.eq.iter().position(|f| *f == field)?;
        let value = Key::of(value);
        let members: Option<Vec<Members<'_>>> = (0..self.ordered.len())
            .map(|i| self.members(e, &value, i))
            .collect();
        Some(match members {
            Some(p) if !p.is_empty() => Candidates::Posting(p),
            _ => Candidates::Owned(Vec::new()),
        })
    }

    /// The ordered index for a query's `order`: one in exactly that order
    /// if there is one, else one whose first field is the order's first.
    fn ordered_for(&self, order: &[SortKey]) -> Option<usize> {
        let first = order.first()?;
        let exact = |fields: &[&str]| {
            fields.len() == order.len()
                && fields
                    .iter()
                    .zip(order)
                    .all(|(f, k)| *f == k.field && k.dir == Dir::Asc)
        };
        let ordered = self.spec.ordered;
        ordered
            .iter()
            .position(|f| exact(f))
            .or_else(|| ordered.iter().position(|f| f.first() == Some(&first.field)))
    }
}

/// Compares two items' keys under an order (ascending keys).
fn cmp_keys(order: &[SortKey], a: &[Key], b: &[Key]) -> Ordering {
    for ((_, x), y) in order.iter().zip(a).zip(b) {
        let ord = cmp_nullable(&x.scalar(), &y.scalar());
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// A collection a query can run over with its index.
pub trait Source: Rows {
    /// The collection's index.
    fn index(&self) -> &ListIndex;

    /// Every item's id, ascending (the order the reference path lists them).
    fn ids(&self) -> Box<dyn Iterator<Item = Id> + '_>;

    /// The ids (ascending) for which `field eq value` holds, when the source
    /// knows them without a scan although the index does not (e.g. the
    /// caller's own favorites). `None`: unknown.
    fn candidates(&self, _field: &str, _value: Option<Scalar<'_>>) -> Option<Vec<Id>> {
        None
    }
}

/// Ids matching an `eq` conjunct.
enum Candidates<'a> {
    /// An equality posting (in each ordered index's order).
    Posting(Vec<Members<'a>>),
    /// Ascending ids.
    Owned(Vec<Id>),
}

impl Candidates<'_> {
    fn len(&self) -> usize {
        match self {
            Candidates::Posting(p) => p.first().map_or(0, Members::len),
            Candidates::Owned(v) => v.len(),
        }
    }

    /// The ids, ascending.
    fn ascending(&self) -> Vec<Id> {
        match self {
            Candidates::Posting(p) => {
                let mut ids: Vec<Id> = p
                    .first()
                    .map(|s| s.iter(false).collect())
                    .unwrap_or_default();
                ids.sort_unstable();
                ids
            }
            Candidates::Owned(v) => v.clone(),
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
                let found = idx.posting(field, lit.as_scalar()).or_else(|| {
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
            let source: Vec<Id> = match &best {
                Some(c) => c.ascending(),
                None => src.ids().collect(),
            };
            let m: Vec<Id> = source
                .into_iter()
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
        if self.order.is_empty() {
            let all: Vec<Id> = match (matched, &best) {
                (Some(m), _) => m,
                (None, Some(c)) if exact => c.ascending(),
                _ => src.ids().collect(),
            };
            let ids = all.into_iter().skip(self.skip).take(take).collect();
            return IdPage { count, ids };
        }
        if let Some(i) = idx.ordered_for(&self.order) {
            // What to walk: the posting's own order when the candidates are
            // a posting (every entry a candidate), else the whole index.
            let (seq, every_entry_a_candidate) = match &best {
                Some(Candidates::Posting(p)) => (p[i], true),
                _ => (Members::Listed(&idx.ordered[i]), false),
            };
            // Walking visits about want × walked / count entries; sorting
            // the matches costs count × log(count).
            let walked = seq.len();
            let walk = want.saturating_mul(walked) / count.max(1);
            let sort = count.saturating_mul(usize::BITS as usize - count.leading_zeros() as usize);
            if matched.is_none() || walk <= sort {
                let unchecked = self.matches_all() || (exact && every_entry_a_candidate);
                let favorites: Option<std::collections::HashSet<Id>> = match &best {
                    Some(Candidates::Owned(v)) if exact => Some(v.iter().copied().collect()),
                    _ => None,
                };
                let passes = |id: Id| {
                    if unchecked {
                        return true;
                    }
                    if let Some(f) = &favorites {
                        return f.contains(&id);
                    }
                    src.row(id).is_some_and(|r| self.matches(&r))
                };
                let order = idx.spec.order(i);
                let ids = self.walk(src, seq, &order, &passes, unchecked, take);
                return IdPage { count, ids };
            }
        }
        let list: Vec<Id> = match (matched, &best) {
            (Some(m), _) => m,
            (None, Some(c)) if exact => c.ascending(),
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
    fn sort_ids<S: Rows>(&self, src: &S, ids: Vec<Id>) -> Vec<Id> {
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

    /// Walks an ordered index (`order`: its keys) until the page is
    /// complete. When the query's order is the index's, the index is the
    /// answer: a slice of it (`unchecked`: every entry passes) or its
    /// passing entries. Otherwise it is walked in the first key's
    /// direction, and each run of entries with an equal first key is
    /// ordered by the query's keys.
    fn walk<S: Rows>(
        &self,
        src: &S,
        seq: Members<'_>,
        order: &[SortKey],
        passes: &dyn Fn(Id) -> bool,
        unchecked: bool,
        take: usize,
    ) -> Vec<Id> {
        let aligned = order.len() == self.order.len()
            && order
                .iter()
                .zip(&self.order)
                .all(|(a, b)| a.field == b.field && a.dir == b.dir);
        if aligned {
            if unchecked {
                return seq.slice(self.skip, self.skip.saturating_add(take));
            }
            return seq
                .iter(false)
                .filter(|id| passes(*id))
                .skip(self.skip)
                .take(take)
                .collect();
        }
        let first = self.order[0];
        let entries = seq.iter(first.dir == Dir::Desc);
        let mut out = Vec::with_capacity(take);
        let mut skipped = 0usize;
        let mut run: Vec<Id> = Vec::new();
        let mut run_key: Option<Key> = None;
        let mut flush = |run: &mut Vec<Id>, out: &mut Vec<Id>| {
            if skipped + run.len() <= self.skip {
                // The whole run is skipped: no need to order it.
                skipped += run.len();
                run.clear();
                return;
            }
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
        for id in entries {
            let Some(row) = src.row(id) else { continue };
            let key = Key::of(first.extract(&row));
            if run_key.as_ref() != Some(&key) {
                flush(&mut run, &mut out);
                if out.len() == take {
                    return out;
                }
                run_key = Some(key);
            }
            if passes(id) {
                run.push(id);
            }
        }
        flush(&mut run, &mut out);
        out
    }
}
