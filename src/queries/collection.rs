//! Indexed collections: any list of the service (a tenant's users,
//! extensions, groups, queues, contacts; one user's personal contacts; the
//! tenants) kept with its indexes in the published read model, so a page
//! costs its page, not the size of the collection.
//!
//! A list is described once by a [`Collection`]:
//! - its [`IndexSpec`] (the list schema, the ordered indexes for the default
//!   order and the usual `orderby` fields, the equality indexes for the
//!   fields clients filter by);
//! - where its items live ([`Collection::at`], [`Collection::ids`]) and how
//!   one item reads as a typed [`Row`] ([`Collection::row`]): the values the
//!   rendered JSON shows, without rendering;
//! - which items an event may change ([`Collection::affected`], read from the
//!   state before the event).
//!
//! Adding a list is implementing [`Collection`] for it (usually a unit
//! struct: a `Row` over the item's core fields and its field table, see
//! [`TableRow`]) and naming it in [`COLLECTIONS`]. The read model then keeps
//! its indexes (one [`IndexedList`] per tenant and owner), builds them when a
//! snapshot is loaded, maintains them in the applier, and gives each item a
//! version for memoized renderings ([`IndexedList::version`]); [`page`] answers
//! a query with the ids of one page, and the dialect renders only those
//! (`http::list::indexed`: memoized per item version, the caller's
//! `favorite` flag spliced). The model-based test (`queries::model_tests`)
//! checks every list against the reference path (rendering every item and
//! running the query over JSON), the maintained indexes against a rebuild,
//! and that no rendering changes without a new version; a new list gets a
//! `View` there.
//!
//! A list is indexed from the first change of one of its items on (or when
//! the model is built from a snapshot); until then, for lists the model
//! never indexed (a tenant's built-in roles), and for past states
//! (`?as_of=`), [`page`] reads the items in one pass instead
//! ([`ListQuery::run_scan`]).

use super::model::ReadModel;
use std::collections::BTreeSet;
use switchboard_events::{Attrs, Envelope, Event, Id, TenantId};
use switchboard_projections::pmap::POrdMap;
use switchboard_projections::query::index::{
    IdPage, IndexSpec, ListIndex, Move, RowKeys, Rows, Source,
};
use switchboard_projections::query::{FieldType, ListQuery, Row, Scalar};
use switchboard_projections::Directory;

/// Whose list an item is in: the tenant's (shared by its users: users,
/// extensions, business contacts...) or one user's own (personal
/// contacts, phones...). The same owner the item events record.
pub use switchboard_events::domain::ItemOwner as Owner;

/// One item of one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Item {
    /// The tenant the list belongs to (the system scope for tenants).
    pub tenant: TenantId,
    /// The list's owner.
    pub owner: Owner,
    /// The item's id in the list.
    pub id: Id,
}

/// What an event may change in a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Affected {
    /// One item (created, changed, removed).
    Item(Item),
    /// A whole list (e.g. a deleted user's personal contacts): built again
    /// from the state after the event.
    List(TenantId, Owner),
}

/// A list of the service, described once (see the module docs).
pub trait Collection: Send + Sync + 'static {
    /// What the items of one list are read through (e.g. the tenant's scope).
    type At<'a>;
    /// One item as filters, `search` and `orderby` read it.
    type Row<'r>: Row;

    /// A name unique among the collections (keys the read model's lists).
    fn name(&self) -> &'static str;

    /// What the list indexes.
    fn spec(&self) -> &'static IndexSpec;

    /// The list of `owner` in `tenant`, if it exists.
    fn at<'a>(&self, dir: &'a Directory, tenant: TenantId, owner: Owner) -> Option<Self::At<'a>>;

    /// Every item's id, ascending (the order the reference path lists them).
    fn ids<'r>(&self, at: &'r Self::At<'_>) -> Box<dyn Iterator<Item = Id> + 'r>;

    /// Item `id` as a row; `favorite` is the caller's flag in lists that
    /// show one (`None` elsewhere).
    fn row<'r>(
        &self,
        at: &'r Self::At<'_>,
        id: Id,
        favorite: Option<bool>,
    ) -> Option<Self::Row<'r>>;

    /// Every list that has items in `dir` (to index a loaded snapshot).
    fn lists(&self, dir: &Directory) -> Vec<(TenantId, Owner)>;

    /// What `event` may change in this collection's lists (as they show
    /// them), read from `before`, the state before the event.
    fn affected(&self, before: &Directory, env: &Envelope, event: &Event, out: &mut Vec<Affected>);
}

/// The collections the read model indexes.
pub static COLLECTIONS: &[&dyn Maintained] = &[
    &super::users::USERS,
    &super::collections::EXTENSIONS,
    &super::collections::GROUPS,
    &super::collections::ROLES,
    &super::collections::CALL_QUEUES,
    &super::collections::RING_GROUPS,
    &super::collections::TENANTS,
    &super::collections::BUSINESS_CONTACTS,
    &super::collections::PERSONAL_CONTACTS,
];

/// A [`Collection`] as the read model maintains it (object-safe).
pub trait Maintained: Send + Sync {
    /// [`Collection::name`].
    fn name(&self) -> &'static str;
    /// [`Collection::lists`].
    fn lists(&self, dir: &Directory) -> Vec<(TenantId, Owner)>;
    /// [`Collection::affected`].
    fn affected(&self, before: &Directory, env: &Envelope, event: &Event, out: &mut Vec<Affected>);
    /// The index keys of one item (`None`: it is not in the list).
    fn keys(&self, dir: &Directory, item: Item) -> Option<RowKeys>;
    /// Moves items in one list's index (their rows read from `dir`).
    fn update(
        &self,
        dir: &Directory,
        tenant: TenantId,
        owner: Owner,
        index: &mut ListIndex,
        moves: &[Move],
    );
    /// The index of one whole list (`None`: the list has no items).
    fn build(&self, dir: &Directory, tenant: TenantId, owner: Owner) -> Option<ListIndex>;
}

/// The items of one list, read as its collection reads them.
struct RowsOf<'s, 'a, C: Collection> {
    coll: &'s C,
    at: &'s C::At<'a>,
}

impl<C: Collection> Rows for RowsOf<'_, '_, C> {
    type Row<'b>
        = C::Row<'b>
    where
        Self: 'b;

    fn row(&self, id: Id) -> Option<C::Row<'_>> {
        self.coll.row(self.at, id, None)
    }
}

impl<C: Collection> Maintained for C {
    fn name(&self) -> &'static str {
        Collection::name(self)
    }

    fn lists(&self, dir: &Directory) -> Vec<(TenantId, Owner)> {
        Collection::lists(self, dir)
    }

    fn affected(&self, before: &Directory, env: &Envelope, event: &Event, out: &mut Vec<Affected>) {
        Collection::affected(self, before, env, event, out)
    }

    fn keys(&self, dir: &Directory, item: Item) -> Option<RowKeys> {
        let at = self.at(dir, item.tenant, item.owner)?;
        let row = self.row(&at, item.id, None)?;
        Some(self.spec().keys(&row))
    }

    fn update(
        &self,
        dir: &Directory,
        tenant: TenantId,
        owner: Owner,
        index: &mut ListIndex,
        moves: &[Move],
    ) {
        match self.at(dir, tenant, owner) {
            Some(at) => index.update(
                &RowsOf {
                    coll: self,
                    at: &at,
                },
                moves,
            ),
            // The list is gone: nothing left to read (only removals remain).
            None => index.update(&NoRows, moves),
        }
    }

    fn build(&self, dir: &Directory, tenant: TenantId, owner: Owner) -> Option<ListIndex> {
        let at = self.at(dir, tenant, owner)?;
        let spec = self.spec();
        let items: Vec<_> = self
            .ids(&at)
            .filter_map(|id| self.row(&at, id, None).map(|row| (id, spec.keys(&row))))
            .collect();
        (!items.is_empty()).then(|| ListIndex::build(spec, items))
    }
}

/// No items (a list that is gone).
struct NoRows;

impl Rows for NoRows {
    type Row<'b> = serde_json::Map<String, serde_json::Value>;

    fn row(&self, _: Id) -> Option<Self::Row<'_>> {
        None
    }
}

/// Items changed since `base` whose versions a list keeps at most; one
/// more moves `base` to the change's offset and forgets them all (small in
/// tests, so the model-based test crosses it).
const MAX_TOUCHED: usize = if cfg!(test) { 8 } else { 4096 };

/// One list's index, and its items' versions.
#[derive(Clone, Debug)]
pub struct IndexedList {
    /// The index.
    pub index: ListIndex,
    /// The offset of the last event that may have changed an item as the
    /// list shows it, for items changed since `base` (at most
    /// [`MAX_TOUCHED`]). A B-tree with its values inline, not the hash
    /// trie, whose 32-slot nodes cost ~200 bytes an entry at 100k items
    /// against ~40 (`benches/read_memory.rs`).
    touched: POrdMap<Id, u64>,
    /// The offset the list was indexed at, or last rebased at (every
    /// item's version until it is touched).
    base: u64,
}

impl IndexedList {
    pub(super) fn new(index: ListIndex, base: u64) -> IndexedList {
        IndexedList {
            index,
            touched: POrdMap::new(),
            base,
        }
    }

    /// A version of the item as the list shows it (the caller's favorite
    /// flag aside): it changes whenever the item may have changed, so a
    /// rendering memoized under it stays right. Versions compare within one
    /// live model's lineage, not across rebuilt ones, and never decrease.
    pub fn version(&self, id: Id) -> u64 {
        self.touched.get(&id).copied().unwrap_or(self.base)
    }

    /// Records that item `id` may have changed at `offset` (`present`:
    /// whether it is still in the list).
    ///
    /// Memory stays bounded: past [`MAX_TOUCHED`] changed items the list
    /// rebases, every item's version becoming `offset`. That is a new
    /// version for items that did not change (their renderings are made
    /// once more, once per [`MAX_TOUCHED`] changes) and never an old one,
    /// since `offset` is at least every version handed out so far.
    pub(super) fn touch(&mut self, id: Id, offset: u64, present: bool) {
        if !present || offset <= self.base {
            self.touched.remove(&id);
        } else if self.touched.len() >= MAX_TOUCHED && !self.touched.contains_key(&id) {
            self.touched = POrdMap::new();
            self.base = offset;
        } else {
            self.touched.insert(id, offset);
        }
    }
}

/// A list's items as a query reads them: with the caller's favorite flag
/// in lists that show one.
struct Flagged<'s, 'a, C: Collection> {
    coll: &'s C,
    at: &'s C::At<'a>,
    favorites: Option<&'s BTreeSet<Id>>,
}

impl<C: Collection> Rows for Flagged<'_, '_, C> {
    type Row<'b>
        = C::Row<'b>
    where
        Self: 'b;

    fn row(&self, id: Id) -> Option<C::Row<'_>> {
        let favorite = self.favorites.map(|f| f.contains(&id));
        self.coll.row(self.at, id, favorite)
    }
}

/// A list as a query source: its items (as [`Flagged`]) and its index.
struct Listed<'s, 'a, C: Collection> {
    rows: Flagged<'s, 'a, C>,
    index: &'s ListIndex,
}

impl<C: Collection> Rows for Listed<'_, '_, C> {
    type Row<'b>
        = C::Row<'b>
    where
        Self: 'b;

    fn row(&self, id: Id) -> Option<C::Row<'_>> {
        self.rows.row(id)
    }
}

impl<C: Collection> Source for Listed<'_, '_, C> {
    fn index(&self) -> &ListIndex {
        self.index
    }

    fn ids(&self) -> Box<dyn Iterator<Item = Id> + '_> {
        self.rows.coll.ids(self.rows.at)
    }

    fn candidates(&self, field: &str, value: Option<Scalar<'_>>) -> Option<Vec<Id>> {
        let (coll, at) = (self.rows.coll, self.rows.at);
        match (field, value, self.rows.favorites) {
            ("favorite", Some(Scalar::Bool(true)), Some(f)) => Some(
                f.iter()
                    .copied()
                    .filter(|id| coll.row(at, *id, Some(true)).is_some())
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// Which list a page is read from, and as whom.
#[derive(Debug, Clone, Copy)]
pub struct ListOf<'a> {
    /// The tenant (the system scope for tenants).
    pub tenant: TenantId,
    /// The list's owner.
    pub owner: Owner,
    /// The caller's favorites, in lists that show a `favorite` flag.
    pub favorites: Option<&'a BTreeSet<Id>>,
}

impl ListOf<'_> {
    /// The list of `tenant` as a whole, without favorite flags.
    pub fn tenant(tenant: TenantId) -> ListOf<'static> {
        ListOf {
            tenant,
            owner: Owner::Tenant,
            favorites: None,
        }
    }
}

/// The ids of one page of `list` in `coll` (an empty page when the list
/// does not exist).
///
/// A list the model does not index (a past state's, a replay's, or one whose
/// items never changed) is read by one pass over its items
/// ([`ListQuery::run_scan`]): building its index to read one page cost far
/// more than the page (~1 s for a past state's 100k users).
pub fn page<C: Collection>(
    model: &ReadModel,
    coll: &C,
    list: ListOf<'_>,
    query: &ListQuery,
) -> IdPage {
    let Some(at) = coll.at(model.directory(), list.tenant, list.owner) else {
        return IdPage {
            count: 0,
            ids: Vec::new(),
        };
    };
    let rows = Flagged {
        coll,
        at: &at,
        favorites: list.favorites,
    };
    match model.list(Collection::name(coll), list.tenant, list.owner) {
        Some(l) => query.run_indexed(&Listed {
            rows,
            index: &l.index,
        }),
        None => query.run_scan(&rows, coll.ids(&at)),
    }
}

/// The caller's favorites in one of the collections that has them.
pub fn favorites_of(
    dir: &Directory,
    tenant: TenantId,
    user: Id,
    collection: switchboard_events::domain::FavoriteCollection,
) -> &BTreeSet<Id> {
    static NONE: BTreeSet<Id> = BTreeSet::new();
    dir.scope(tenant)
        .and_then(|s| s.contacts.favorites.get(&user))
        .map_or(&NONE, |f| f.of(collection))
}

/// Whether a field type reads as a string (the core fields are strings).
pub(super) fn is_string(ty: Option<FieldType>) -> bool {
    matches!(ty, None | Some(FieldType::String))
}

/// An instant as a list reads it: rendered with second precision, so
/// compared as that second.
pub(super) fn instant(at: time::OffsetDateTime, ty: Option<FieldType>) -> Option<Scalar<'static>> {
    match ty {
        None | Some(FieldType::DateTime) => Some(Scalar::DateTime(
            i128::from(at.unix_timestamp()) * 1_000_000_000,
        )),
        _ => None,
    }
}

/// Reads a core field's value as `ty` (`None`: as rendered), as a JSON
/// item of that value would be read.
pub fn as_type<'r>(value: Option<Scalar<'r>>, ty: Option<FieldType>) -> Option<Scalar<'r>> {
    match (ty, value?) {
        (None, s)
        | (Some(FieldType::String), s @ Scalar::Str(_))
        | (Some(FieldType::Number), s @ Scalar::Num(_))
        | (Some(FieldType::Bool), s @ Scalar::Bool(_))
        | (Some(FieldType::DateTime), s @ Scalar::DateTime(_)) => Some(s),
        _ => None,
    }
}

/// Most core fields an item renders itself besides `id`.
const CORE: usize = 4;

/// A row over an item's core fields and its field table: `id` (rendered
/// once, when a filter or sort reads it), up to four other core fields
/// the item renders itself, and every other listed field from the table,
/// exactly as [`crate::field_tables::Table::render`] shows it.
pub struct TableRow<'r> {
    table: &'static crate::field_tables::Table,
    attrs: &'r Attrs,
    id: Id,
    rendered: std::sync::OnceLock<String>,
    core: [(&'static str, Option<Scalar<'r>>); CORE],
}

impl<'r> TableRow<'r> {
    /// A row of item `id` with `core` fields (at most four; `None` values
    /// are null) and its `attrs` read through `table`.
    pub fn new(
        table: &'static crate::field_tables::Table,
        attrs: &'r Attrs,
        id: Id,
        core: &[(&'static str, Option<Scalar<'r>>)],
    ) -> TableRow<'r> {
        debug_assert!(core.len() <= CORE, "at most {CORE} core fields");
        let mut fields = [("", None); CORE];
        for (slot, field) in fields.iter_mut().zip(core) {
            *slot = *field;
        }
        TableRow {
            table,
            attrs,
            id,
            rendered: std::sync::OnceLock::new(),
            core: fields,
        }
    }
}

impl Row for TableRow<'_> {
    fn value(&self, field: &str, ty: Option<FieldType>) -> Option<Scalar<'_>> {
        if field == "id" {
            let id = self.rendered.get_or_init(|| crate::ids::render(self.id));
            return as_type(Some(Scalar::Str(id)), ty);
        }
        match self
            .core
            .iter()
            .find(|(name, _)| !name.is_empty() && *name == field)
        {
            Some((_, value)) => as_type(*value, ty),
            None => self.table.list_scalar(self.attrs, field, ty),
        }
    }
}
