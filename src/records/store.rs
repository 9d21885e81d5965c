//! The on-disk store of call history: CDRs, external messages and call
//! recordings' metadata, per tenant, by time and by user.
//!
//! One redb database (`<data_dir>/read-index/records.redb`). Every kind of
//! record ([`Kind`]) has its own tables; every key starts with the tenant,
//! so one tenant's records are one contiguous range and another tenant's
//! ids are simply not found:
//!
//! ```text
//! rec:   (tenant, id)                → postcard(Stored)   the record
//! time:  (tenant, at_ms, id)         → ()                 the tenant's records by time
//! party: (tenant, user, at_ms, id)   → ()                 a user's records by time
//! key:   (tenant, pbx_key)           → id                 idempotency by the PBX's own id
//! seq:   (tenant, user, offset)      → id                 a user's records by log offset (sync diffs)
//! count: (tenant, user | ALL)        → n                  unfiltered counts
//! meta:  "covered" → the log offset applied through
//! ```
//!
//! Nothing is kept in memory per record: a page walks the time (or party)
//! index in the requested direction inside the bounds the filter puts on
//! the time field ([`ListQuery::time_range`]), reads only the records it
//! must look at, and evaluates the full filter and search on each. redb's
//! page cache is bounded ([`StoreConfig::cache_bytes`]), so process memory
//! does not grow with the number of records.
//!
//! Costs (BENCHMARKS.md, "Call history"): an unfiltered page in time order
//! is `O(log n + skip + top)` key steps, its count a counter; a page
//! bounded by time (`started_at ge … and started_at lt …`) counts by
//! stepping the keys of the range; any other filter or search reads and
//! evaluates every record inside the time bounds. An order other than by
//! the time field keeps a window of the best `skip + top` rows
//! ([`MAX_SORT_WINDOW`]), never every match.
//!
//! Retention ([`RecordStore::prune`]) deletes records older than a horizon
//! in bounded transactions, with every index entry and count.
//!
//! The store is derived: the records are events in the log, and a follower
//! applies them here ([`RecordStore::apply`], idempotent by key), so a lost
//! or damaged store is rebuilt from the log (see ARCHITECTURE.md, "Call
//! history").

use redb::{
    Database, Durability, ReadTransaction, ReadableTable, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::ops::Bound;
use std::path::Path;
use switchboard_events::{Id, TenantId};
use switchboard_projections::query::{Dir, FieldType, ListQuery, Row, Scalar};

/// The largest `skip + top` served in an order other than by time: such a
/// page keeps that many rows in memory while it reads the range.
pub const MAX_SORT_WINDOW: usize = 10_000;

/// The `user` of a count that covers the whole tenant.
const ALL: u64 = u64::MAX;

/// A kind of record, with its own tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// Call detail records (`/cdrs`, `/user/cdrs`), keyed by the call id.
    Cdr,
    /// External (SMS, WhatsApp) messages, keyed by the PBX's message id.
    Message,
    /// Call recordings' metadata, keyed by the PBX's recording id; also
    /// found by their file (`file:<id>`) and their blob
    /// (`blob:<digest>:<id>`), see [`alt_keys`].
    Recording,
}

struct Tables {
    rec: TableDefinition<'static, (u64, u64), &'static [u8]>,
    time: TableDefinition<'static, (u64, i64, u64), ()>,
    party: TableDefinition<'static, (u64, u64, i64, u64), ()>,
    key: TableDefinition<'static, (u64, &'static str), u64>,
    seq: TableDefinition<'static, (u64, u64, u64), u64>,
    count: TableDefinition<'static, (u64, u64), u64>,
}

const CDR: Tables = Tables {
    rec: TableDefinition::new("cdr.rec"),
    time: TableDefinition::new("cdr.time"),
    party: TableDefinition::new("cdr.party"),
    key: TableDefinition::new("cdr.key"),
    seq: TableDefinition::new("cdr.seq"),
    count: TableDefinition::new("cdr.count"),
};

const MESSAGE: Tables = Tables {
    rec: TableDefinition::new("msg.rec"),
    time: TableDefinition::new("msg.time"),
    party: TableDefinition::new("msg.party"),
    key: TableDefinition::new("msg.key"),
    seq: TableDefinition::new("msg.seq"),
    count: TableDefinition::new("msg.count"),
};

const RECORDING: Tables = Tables {
    rec: TableDefinition::new("rec.rec"),
    time: TableDefinition::new("rec.time"),
    party: TableDefinition::new("rec.party"),
    key: TableDefinition::new("rec.key"),
    seq: TableDefinition::new("rec.seq"),
    count: TableDefinition::new("rec.count"),
};

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

impl Kind {
    fn tables(self) -> &'static Tables {
        match self {
            Kind::Cdr => &CDR,
            Kind::Message => &MESSAGE,
            Kind::Recording => &RECORDING,
        }
    }

    /// Every kind.
    pub const ALL: [Kind; 3] = [Kind::Cdr, Kind::Message, Kind::Recording];
}

/// The further keys a record is found by besides the PBX's id: a
/// recording's file (`file:<file id>`, so one file backs one recording)
/// and its blob (`blob:<sha256 hex>:<id>`, so a download of the bytes
/// finds the recordings that may show them), read from the body's
/// `file_id` and `file_digest`.
fn alt_keys(kind: Kind, id: u64, body: &[u8]) -> Vec<String> {
    if kind != Kind::Recording {
        return Vec::new();
    }
    let fields: Map<String, Value> = serde_json::from_slice(body).unwrap_or_default();
    let mut keys = Vec::new();
    if let Some(file) = fields.get(FILE_ID).and_then(Value::as_u64) {
        keys.push(file_key(Id(file)));
    }
    if let Some(digest) = fields.get(FILE_DIGEST).and_then(Value::as_str) {
        keys.push(format!("{}{id}", blob_prefix(digest)));
    }
    keys
}

/// The body field of a recording naming its file (an id, never rendered).
pub const FILE_ID: &str = "file_id";
/// The body field of a recording naming its blob (hex, never rendered).
pub const FILE_DIGEST: &str = "file_digest";

/// The key a recording's file is found by.
pub fn file_key(file: Id) -> String {
    format!("file:{}", file.get())
}

fn blob_prefix(digest_hex: &str) -> String {
    format!("blob:{digest_hex}:")
}

/// One change to the store, in log order.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A record to add.
    Add(NewRecord),
    /// A record to remove (a destroyed recording).
    Remove {
        /// Which kind.
        kind: Kind,
        /// Its tenant.
        tenant: TenantId,
        /// Its id.
        id: Id,
    },
}

/// A store failure: the disk or a damaged file. Clients cannot cause one.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb refused or failed.
    #[error("call history store: {0}")]
    Db(String),
    /// A stored record does not decode.
    #[error("call history store: record {id} of tenant {tenant} does not decode: {reason}")]
    Corrupt {
        /// Its tenant.
        tenant: u64,
        /// Its id.
        id: u64,
        /// What failed.
        reason: String,
    },
}

/// A page that the store refuses to compute (a client asked for it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// An order other than by time with `skip + top` beyond [`MAX_SORT_WINDOW`].
    #[error("skip + top must be at most {MAX_SORT_WINDOW} when ordering by anything but {0}")]
    Window(&'static str),
}

/// Either kind of failure of [`RecordStore::page`].
#[derive(Debug, thiserror::Error)]
pub enum QueryFailure {
    /// The client's query cannot be served.
    #[error(transparent)]
    Page(#[from] PageError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> StoreError {
                StoreError::Db(e.to_string())
            }
        }
        impl From<$t> for QueryFailure {
            fn from(e: $t) -> QueryFailure {
                QueryFailure::Store(StoreError::Db(e.to_string()))
            }
        }
    )*};
}
db_err!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Settings of the store.
#[derive(Debug, Clone, Copy)]
pub struct StoreConfig {
    /// redb's page cache: the bound on what the store keeps in memory.
    pub cache_bytes: usize,
    /// Every how many commits one is made durable (the others are
    /// recovered from the log after a crash).
    pub durable_every: u32,
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            cache_bytes: 64 << 20,
            durable_every: 64,
        }
    }
}

/// One record to add.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    /// Which kind.
    pub kind: Kind,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its id (what the API shows).
    pub id: Id,
    /// The PBX's own id (a call id, a message id): unique per tenant and kind.
    pub key: String,
    /// Its time (a CDR's start, a message's creation), ms since the epoch.
    pub at_ms: i64,
    /// The users who see it under `/user/…`.
    pub parties: Vec<Id>,
    /// The log offset that recorded it.
    pub offset: u64,
    /// Its fields as a JSON object (without `id`), as rendered.
    pub body: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    at_ms: i64,
    parties: Vec<u64>,
    offset: u64,
    body: Vec<u8>,
}

/// A record read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Its id.
    pub id: Id,
    /// The PBX's own id.
    pub key: String,
    /// Its time, ms since the epoch.
    pub at_ms: i64,
    /// The users who see it.
    pub parties: Vec<Id>,
    /// The log offset that recorded it.
    pub offset: u64,
    /// Its fields as a JSON object (without `id`).
    pub body: Vec<u8>,
}

impl Record {
    fn decode(tenant: u64, id: u64, bytes: &[u8]) -> Result<Record, StoreError> {
        let s: Stored = postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
            tenant,
            id,
            reason: e.to_string(),
        })?;
        Ok(Record {
            id: Id(id),
            key: s.key,
            at_ms: s.at_ms,
            parties: s.parties.into_iter().map(Id).collect(),
            offset: s.offset,
            body: s.body,
        })
    }

    /// The record's fields, for filters and sorts.
    pub fn fields(&self) -> Map<String, Value> {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }

    /// Whether `user` is one of its parties.
    pub fn visible_to(&self, user: Id) -> bool {
        self.parties.contains(&user)
    }
}

/// Whose records: the tenant's (an administrator) or one user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every record of the tenant.
    Tenant,
    /// The records a user is a party of.
    User(Id),
}

impl Scope {
    fn user(self) -> u64 {
        match self {
            Scope::Tenant => ALL,
            Scope::User(u) => u.get(),
        }
    }
}

/// One page of records and the total matching.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPage {
    /// Matching records, before skip/top.
    pub count: usize,
    /// The page.
    pub items: Vec<Record>,
}

/// What [`RecordStore::apply`] did with a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Records added.
    pub added: usize,
    /// Records skipped because their key was already stored.
    pub duplicates: usize,
}

/// A record paired with its parsed fields, for the query engine.
struct Parsed {
    record: Record,
    fields: Map<String, Value>,
}

impl Row for Parsed {
    fn value(&self, field: &str, ty: Option<FieldType>) -> Option<Scalar<'_>> {
        self.fields.value(field, ty)
    }
}

/// The call history store.
pub struct RecordStore {
    db: Database,
    config: StoreConfig,
    commits: std::sync::atomic::AtomicU32,
}

impl std::fmt::Debug for RecordStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStore").finish_non_exhaustive()
    }
}

fn ms_ceil(ns: i128) -> i64 {
    let ms = ns.div_euclid(1_000_000) + i128::from(ns.rem_euclid(1_000_000) != 0);
    ms.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

impl RecordStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path, config: StoreConfig) -> Result<RecordStore, StoreError> {
        let db = Database::builder()
            .set_cache_size(config.cache_bytes)
            .create(path)?;
        let store = RecordStore {
            db,
            config,
            commits: Default::default(),
        };
        // Create every table, so reads never meet a missing one.
        let tx = store.db.begin_write()?;
        for kind in Kind::ALL {
            let t = kind.tables();
            tx.open_table(t.rec)?;
            tx.open_table(t.time)?;
            tx.open_table(t.party)?;
            tx.open_table(t.key)?;
            tx.open_table(t.seq)?;
            tx.open_table(t.count)?;
        }
        tx.open_table(META)?;
        tx.commit()?;
        Ok(store)
    }

    fn commit(&self, mut tx: WriteTransaction, durable: bool) -> Result<(), StoreError> {
        let n = self
            .commits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let every = self.config.durable_every.max(1);
        if !durable && !(n + 1).is_multiple_of(every) {
            tx.set_durability(Durability::None);
        }
        tx.commit()?;
        Ok(())
    }

    /// Makes every commit so far durable.
    pub fn sync(&self) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        self.commit(tx, true)
    }

    /// The log offset the store has applied through (0: nothing).
    pub fn covered(&self) -> Result<u64, StoreError> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        Ok(meta.get("covered")?.map_or(0, |v| v.value()))
    }

    /// Adds `batch` in one transaction and records that the log is applied
    /// through `covered`. A record whose key (or id) is already stored is
    /// skipped, so applying the same events again changes nothing.
    pub fn apply(&self, batch: &[NewRecord], covered: u64) -> Result<Applied, StoreError> {
        let changes: Vec<Change> = batch.iter().cloned().map(Change::Add).collect();
        self.apply_changes(&changes, covered)
    }

    /// Applies `changes` in order in one transaction (see [`Self::apply`]);
    /// removing a record that is not there changes nothing.
    pub fn apply_changes(&self, changes: &[Change], covered: u64) -> Result<Applied, StoreError> {
        let tx = self.db.begin_write()?;
        let mut applied = Applied::default();
        for c in changes {
            match c {
                Change::Add(r) => {
                    if insert(&tx, r)? {
                        applied.added += 1;
                    } else {
                        applied.duplicates += 1;
                    }
                }
                Change::Remove { kind, tenant, id } => {
                    remove(&tx, *kind, tenant.get(), id.get())?;
                }
            }
        }
        {
            let mut meta = tx.open_table(META)?;
            let was = meta.get("covered")?.map_or(0, |v| v.value());
            meta.insert("covered", was.max(covered))?;
        }
        self.commit(tx, false)?;
        Ok(applied)
    }

    /// The id stored under the PBX's own id `key`, if any.
    pub fn find_key(
        &self,
        kind: Kind,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<Id>, StoreError> {
        let tx = self.db.begin_read()?;
        let keys = tx.open_table(kind.tables().key)?;
        Ok(keys.get((tenant.get(), key))?.map(|v| Id(v.value())))
    }

    /// The ids of `tenant`'s recordings whose audio is the blob `digest_hex`.
    pub fn recordings_of_blob(
        &self,
        tenant: TenantId,
        digest_hex: &str,
    ) -> Result<Vec<Id>, StoreError> {
        let tx = self.db.begin_read()?;
        let keys = tx.open_table(Kind::Recording.tables().key)?;
        let prefix = blob_prefix(digest_hex);
        let mut out = Vec::new();
        for entry in keys.range((tenant.get(), prefix.as_str())..)? {
            let (k, v) = entry?;
            let (t, key) = k.value();
            if t != tenant.get() || !key.starts_with(&prefix) {
                break;
            }
            out.push(Id(v.value()));
        }
        Ok(out)
    }

    /// Up to `limit` records of `kind` (all tenants) older than
    /// `before_ms`, oldest first per tenant: what retention must remove
    /// through the log (recordings, whose files go with them).
    pub fn older_than(
        &self,
        kind: Kind,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<(TenantId, Record)>, StoreError> {
        let t = kind.tables();
        let tx = self.db.begin_read()?;
        let counts = tx.open_table(t.count)?;
        let time = tx.open_table(t.time)?;
        let rec = tx.open_table(t.rec)?;
        let mut out = Vec::new();
        for entry in counts.iter()? {
            let (k, _) = entry?;
            let (tenant, user) = k.value();
            if user != ALL {
                continue;
            }
            for e in time.range((tenant, i64::MIN, 0)..(tenant, before_ms, 0))? {
                let id = e?.0.value().2;
                if let Some(bytes) = rec.get((tenant, id))? {
                    out.push((Id(tenant), Record::decode(tenant, id, bytes.value())?));
                }
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    /// The record `id` of `tenant`, if `scope` sees it (a user sees only
    /// records they are a party of).
    pub fn get(
        &self,
        kind: Kind,
        tenant: TenantId,
        scope: Scope,
        id: Id,
    ) -> Result<Option<Record>, StoreError> {
        let tx = self.db.begin_read()?;
        let rec = tx.open_table(kind.tables().rec)?;
        let Some(bytes) = rec.get((tenant.get(), id.get()))? else {
            return Ok(None);
        };
        let record = Record::decode(tenant.get(), id.get(), bytes.value())?;
        Ok(match scope {
            Scope::Tenant => Some(record),
            Scope::User(u) if record.visible_to(u) => Some(record),
            Scope::User(_) => None,
        })
    }

    /// How many records `scope` sees, from the counters.
    pub fn count(&self, kind: Kind, tenant: TenantId, scope: Scope) -> Result<u64, StoreError> {
        let tx = self.db.begin_read()?;
        let counts = tx.open_table(kind.tables().count)?;
        Ok(counts
            .get((tenant.get(), scope.user()))?
            .map_or(0, |v| v.value()))
    }

    /// One page of `scope`'s records of `kind` for `query`, whose records'
    /// time (what the store orders and prunes by) is `time_field`.
    pub fn page(
        &self,
        kind: Kind,
        tenant: TenantId,
        scope: Scope,
        query: &ListQuery,
        time_field: &'static str,
    ) -> Result<RecordPage, QueryFailure> {
        let range = query.time_range(time_field);
        let keys = query.order_keys();
        let by_time = match keys.as_slice() {
            [] => Some(Dir::Asc),
            [(f, dir)] if *f == time_field => Some(*dir),
            _ => None,
        };
        if by_time.is_none() && query.skip().saturating_add(query.top()) > MAX_SORT_WINDOW {
            return Err(PageError::Window(time_field).into());
        }
        if range.empty {
            return Ok(RecordPage {
                count: 0,
                items: Vec::new(),
            });
        }
        let from = range.from.map_or(i64::MIN, ms_ceil);
        let to = range.to.map(ms_ceil);
        let tx = self.db.begin_read()?;
        let walk = Walk {
            tx: &tx,
            kind,
            tenant: tenant.get(),
            scope,
            from,
            to,
            desc: by_time == Some(Dir::Desc),
        };
        match by_time {
            Some(_) if range.exact => {
                let unbounded = range.from.is_none() && range.to.is_none();
                let count = if unbounded {
                    let counts = tx.open_table(kind.tables().count)?;
                    counts
                        .get((tenant.get(), scope.user()))?
                        .map_or(0, |v| v.value()) as usize
                } else {
                    let mut n = 0usize;
                    walk.ids(&mut |_| {
                        n += 1;
                        true
                    })?;
                    n
                };
                let mut ids = Vec::with_capacity(query.top());
                if query.skip() < count {
                    let mut seen = 0usize;
                    walk.ids(&mut |id| {
                        if seen >= query.skip() {
                            ids.push(id);
                        }
                        seen += 1;
                        ids.len() < query.top()
                    })?;
                }
                let items = walk.load_all(&ids)?;
                Ok(RecordPage { count, items })
            }
            Some(_) => {
                let (skip, top) = (query.skip(), query.top());
                let mut count = 0usize;
                let mut items = Vec::new();
                walk.records(&mut |p| {
                    if query.matches(&p) {
                        if count >= skip && items.len() < top {
                            items.push(p.record);
                        }
                        count += 1;
                    }
                    Ok(true)
                })?;
                Ok(RecordPage { count, items })
            }
            None => {
                let window = query.skip() + query.top();
                let mut count = 0usize;
                let mut best: Vec<Parsed> = Vec::new();
                walk.records(&mut |p| {
                    if query.matches(&p) {
                        count += 1;
                        best.push(p);
                        if best.len() >= 2 * window.max(64) {
                            best = query.sort_rows(std::mem::take(&mut best));
                            best.truncate(window);
                        }
                    }
                    Ok(true)
                })?;
                let items = query
                    .sort_rows(best)
                    .into_iter()
                    .skip(query.skip())
                    .take(query.top())
                    .map(|p| p.record)
                    .collect();
                Ok(RecordPage { count, items })
            }
        }
    }

    /// `user`'s records of `kind` recorded at log offsets in `(after,
    /// upto]`, in offset order, at most `limit`: what a sync diff reports
    /// as created.
    pub fn recorded_between(
        &self,
        kind: Kind,
        tenant: TenantId,
        user: Id,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Id)>, StoreError> {
        if after >= upto {
            return Ok(Vec::new());
        }
        let tx = self.db.begin_read()?;
        let seq = tx.open_table(kind.tables().seq)?;
        let (t, u) = (tenant.get(), user.get());
        let mut out = Vec::new();
        for entry in seq.range((t, u, after + 1)..=(t, u, upto))? {
            let (k, v) = entry?;
            out.push((k.value().2, Id(v.value())));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// The log offset of the earliest recorded of `user`'s records of
    /// `kind` whose time is at or after `from_ms` (a record's id is the
    /// offset of its event), if any: where a sync token "from a date"
    /// starts. Steps the user's keys from `from_ms` on.
    pub fn first_recorded_since(
        &self,
        kind: Kind,
        tenant: TenantId,
        user: Id,
        from_ms: i64,
    ) -> Result<Option<u64>, StoreError> {
        let tx = self.db.begin_read()?;
        let party = tx.open_table(kind.tables().party)?;
        let (t, u) = (tenant.get(), user.get());
        let mut first: Option<u64> = None;
        for entry in party.range((t, u, from_ms, 0)..=(t, u, i64::MAX, u64::MAX))? {
            let id = entry?.0.value().3;
            first = Some(first.map_or(id, |f| f.min(id)));
        }
        Ok(first)
    }

    /// Deletes every record of `kind` older than `before_ms` (all tenants),
    /// at most `batch` per transaction. Returns how many went.
    pub fn prune(&self, kind: Kind, before_ms: i64, batch: usize) -> Result<usize, StoreError> {
        let t = kind.tables();
        let tenants: Vec<u64> = {
            let tx = self.db.begin_read()?;
            let counts = tx.open_table(t.count)?;
            let mut v = Vec::new();
            for entry in counts.iter()? {
                let (k, _) = entry?;
                let (tenant, user) = k.value();
                if user == ALL {
                    v.push(tenant);
                }
            }
            v
        };
        let mut pruned = 0;
        for tenant in tenants {
            loop {
                let tx = self.db.begin_write()?;
                let victims: Vec<u64> = {
                    let time = tx.open_table(t.time)?;
                    let mut v = Vec::new();
                    for entry in time.range((tenant, i64::MIN, 0)..(tenant, before_ms, 0))? {
                        v.push(entry?.0.value().2);
                        if v.len() >= batch.max(1) {
                            break;
                        }
                    }
                    v
                };
                if victims.is_empty() {
                    break;
                }
                for id in &victims {
                    remove(&tx, kind, tenant, *id)?;
                }
                pruned += victims.len();
                self.commit(tx, false)?;
            }
        }
        Ok(pruned)
    }
}

/// Inserts one record with its index entries and counts; false if its key
/// or id is already there.
fn insert(tx: &WriteTransaction, r: &NewRecord) -> Result<bool, StoreError> {
    let t = r.kind.tables();
    let tenant = r.tenant.get();
    let id = r.id.get();
    {
        let mut keys = tx.open_table(t.key)?;
        if keys.get((tenant, r.key.as_str()))?.is_some() {
            return Ok(false);
        }
        let rec = tx.open_table(t.rec)?;
        if rec.get((tenant, id))?.is_some() {
            return Ok(false);
        }
        keys.insert((tenant, r.key.as_str()), id)?;
        for k in alt_keys(r.kind, id, &r.body) {
            keys.insert((tenant, k.as_str()), id)?;
        }
    }
    let mut parties: Vec<u64> = r.parties.iter().map(|p| p.get()).collect();
    parties.sort_unstable();
    parties.dedup();
    let stored = Stored {
        key: r.key.clone(),
        at_ms: r.at_ms,
        parties: parties.clone(),
        offset: r.offset,
        body: r.body.clone(),
    };
    let bytes = postcard::to_allocvec(&stored).map_err(|e| StoreError::Db(e.to_string()))?;
    tx.open_table(t.rec)?
        .insert((tenant, id), bytes.as_slice())?;
    tx.open_table(t.time)?.insert((tenant, r.at_ms, id), ())?;
    let mut party = tx.open_table(t.party)?;
    let mut seq = tx.open_table(t.seq)?;
    let mut counts = tx.open_table(t.count)?;
    bump(&mut counts, (tenant, ALL), 1)?;
    for p in parties {
        party.insert((tenant, p, r.at_ms, id), ())?;
        seq.insert((tenant, p, r.offset), id)?;
        bump(&mut counts, (tenant, p), 1)?;
    }
    Ok(true)
}

/// Removes one record with its index entries and counts.
fn remove(tx: &WriteTransaction, kind: Kind, tenant: u64, id: u64) -> Result<(), StoreError> {
    let t = kind.tables();
    let Some(bytes) = tx
        .open_table(t.rec)?
        .remove((tenant, id))?
        .map(|v| v.value().to_vec())
    else {
        return Ok(());
    };
    let r = Record::decode(tenant, id, &bytes)?;
    tx.open_table(t.time)?.remove((tenant, r.at_ms, id))?;
    {
        let mut keys = tx.open_table(t.key)?;
        keys.remove((tenant, r.key.as_str()))?;
        for k in alt_keys(kind, id, &r.body) {
            keys.remove((tenant, k.as_str()))?;
        }
    }
    let mut party = tx.open_table(t.party)?;
    let mut seq = tx.open_table(t.seq)?;
    let mut counts = tx.open_table(t.count)?;
    bump(&mut counts, (tenant, ALL), -1)?;
    for p in r.parties {
        party.remove((tenant, p.get(), r.at_ms, id))?;
        seq.remove((tenant, p.get(), r.offset))?;
        bump(&mut counts, (tenant, p.get()), -1)?;
    }
    Ok(())
}

fn bump(
    counts: &mut redb::Table<'_, (u64, u64), u64>,
    key: (u64, u64),
    by: i64,
) -> Result<(), StoreError> {
    let was = counts.get(key)?.map_or(0, |v| v.value());
    let now = was.saturating_add_signed(by);
    if now == 0 {
        counts.remove(key)?;
    } else {
        counts.insert(key, now)?;
    }
    Ok(())
}

/// A walk over one scope's time range in one direction.
struct Walk<'a> {
    tx: &'a ReadTransaction,
    kind: Kind,
    tenant: u64,
    scope: Scope,
    from: i64,
    to: Option<i64>,
    desc: bool,
}

impl Walk<'_> {
    /// Calls `f` with each id in order until it returns false.
    fn ids(&self, f: &mut dyn FnMut(u64) -> bool) -> Result<(), StoreError> {
        let t = self.kind.tables();
        let tn = self.tenant;
        match self.scope {
            Scope::Tenant => {
                let table = self.tx.open_table(t.time)?;
                let lo = Bound::Included((tn, self.from, 0));
                let hi = match self.to {
                    Some(to) => Bound::Excluded((tn, to, 0)),
                    None => Bound::Included((tn, i64::MAX, u64::MAX)),
                };
                let range = table.range::<(u64, i64, u64)>((lo, hi))?;
                let iter: Box<dyn Iterator<Item = _>> = if self.desc {
                    Box::new(range.rev())
                } else {
                    Box::new(range)
                };
                for entry in iter {
                    if !f(entry?.0.value().2) {
                        break;
                    }
                }
            }
            Scope::User(u) => {
                let u = u.get();
                let table = self.tx.open_table(t.party)?;
                let lo = Bound::Included((tn, u, self.from, 0));
                let hi = match self.to {
                    Some(to) => Bound::Excluded((tn, u, to, 0)),
                    None => Bound::Included((tn, u, i64::MAX, u64::MAX)),
                };
                let range = table.range::<(u64, u64, i64, u64)>((lo, hi))?;
                let iter: Box<dyn Iterator<Item = _>> = if self.desc {
                    Box::new(range.rev())
                } else {
                    Box::new(range)
                };
                for entry in iter {
                    if !f(entry?.0.value().3) {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Calls `f` with each record (and its fields) in order until it
    /// returns false.
    fn records(
        &self,
        f: &mut dyn FnMut(Parsed) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let rec = self.tx.open_table(self.kind.tables().rec)?;
        let mut failure = None;
        self.ids(&mut |id| {
            let mut step = || -> Result<bool, StoreError> {
                let Some(bytes) = rec.get((self.tenant, id))? else {
                    return Ok(true);
                };
                let record = Record::decode(self.tenant, id, bytes.value())?;
                let fields = record.fields();
                f(Parsed { record, fields })
            };
            match step() {
                Ok(go_on) => go_on,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        })?;
        failure.map_or(Ok(()), Err)
    }

    /// The records of `ids`, in that order.
    fn load_all(&self, ids: &[u64]) -> Result<Vec<Record>, StoreError> {
        let rec = self.tx.open_table(self.kind.tables().rec)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(bytes) = rec.get((self.tenant, *id))? {
                out.push(Record::decode(self.tenant, *id, bytes.value())?);
            }
        }
        Ok(out)
    }
}
