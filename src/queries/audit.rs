//! The audit log and object history, from a persisted index beside the log.
//!
//! Describing an event needs the directory as it was just *before* it (old
//! values, names at the time), which only an in-order pass over the log
//! has. The applier has exactly that: while the read model applies an event
//! it also describes it ([`describe`]) into an outbox, and a writer task
//! stores each description in a redb database under
//! `<data_dir>/read-index/audit.redb` (never inside the log's own files):
//!
//! ```text
//! entries: (tenant, offset)         → postcard(AuditRecord)
//! all:     offset                   → tenant          (the system administrator's view)
//! streams: (tenant, stream, offset) → postcard(AuditRecord) (an object's history)
//! counts:  tenant                   → entries         (unfiltered counts)
//! stream_counts: (tenant, stream)   → entries         (an object's history count)
//! meta:    "up_to" → offset, "hash" → the log record hash there, "format"
//! ```
//!
//! A page of `audit_logs` (newest first) or of a history (oldest first)
//! reads only the entries it shows; a filter, search or other order reads
//! the tenant's (or the object's) entries from the index, never the log.
//!
//! The index is rebuildable from the log: on start-up, if it is behind the
//! projection's starting point (a new or lost index, a snapshot taken after
//! a crash), the gap is described by replaying from the nearest retained
//! snapshot; if it does not match the log (another log, another format),
//! it is dropped and rebuilt. Commits are not fsynced one by one: after a
//! crash the index is consistent but may be behind, and catches up.
//! Readers wait until the index covers what they see (read-your-writes).

use super::{blocking, ReadError};
use crate::snapshots;
use parking_lot::Mutex;
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::{Envelope, Event, EventLog, Id, TenantId};
use switchboard_projections::audit::{describe, AuditEntry};
use switchboard_projections::query::{FieldType, ListQuery, Row, Scalar};
use switchboard_projections::rebuild::{rebuild, Until};
use switchboard_projections::Directory;
use time::OffsetDateTime;
use tokio::sync::watch;

/// Bump when what [`describe`] produces changes: stored descriptions of
/// another format are dropped and rebuilt from the log.
/// (2: the kept per-object counts, `stream_counts`; 3: a history entry is
/// stored under its stream key too, so a history page reads one B-tree
/// range instead of a lookup per entry scattered over the whole log.)
pub const AUDIT_INDEX_FORMAT: u64 = 3;

const ENTRIES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("entries");
const ALL: TableDefinition<u64, u64> = TableDefinition::new("all");
const STREAMS: TableDefinition<(u64, &str, u64), &[u8]> = TableDefinition::new("streams");
const COUNTS: TableDefinition<u64, u64> = TableDefinition::new("counts");
const STREAM_COUNTS: TableDefinition<(u64, &str), u64> = TableDefinition::new("stream_counts");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// One changed field, values as JSON text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredChange {
    /// Field name.
    pub field: String,
    /// Value before, JSON text.
    pub old: String,
    /// Value after, JSON text.
    pub new: String,
}

/// One described event, as stored in the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The event's offset (its audit id).
    pub offset: u64,
    /// The tenant it was recorded in.
    pub tenant: TenantId,
    /// Its stream (`category-{id}`).
    pub stream: String,
    /// When it was recorded.
    pub recorded_at: OffsetDateTime,
    /// The dialect it came through.
    pub via: String,
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// Who did it.
    pub actor: String,
    /// `CREATE`, `UPDATE`, ...
    pub action: String,
    /// `USER`, `EXTENSION`, ...
    pub object_type: String,
    /// The object's name at the time.
    pub object_name: String,
    /// Changed fields.
    pub changes: Vec<StoredChange>,
    /// The audit id as rendered (filters and orders compare it).
    #[serde(skip)]
    rendered_id: std::sync::OnceLock<String>,
    /// `created_at` as an instant at the rendered (second) precision.
    #[serde(skip)]
    created: std::sync::OnceLock<i128>,
    /// The address as rendered.
    #[serde(skip)]
    rendered_ip: std::sync::OnceLock<String>,
}

impl AuditRecord {
    fn new(env: &Envelope, entry: AuditEntry) -> AuditRecord {
        AuditRecord {
            offset: env.offset,
            tenant: env.tenant,
            stream: env.stream.to_string(),
            recorded_at: env.recorded_at,
            via: env.metadata.via.clone(),
            ip: env.metadata.source_ip,
            actor: env.metadata.actor_name.clone(),
            action: entry.action.to_owned(),
            object_type: entry.object_type,
            object_name: entry.object_name,
            changes: entry
                .changes
                .into_iter()
                .map(|c| StoredChange {
                    field: c.field,
                    old: c.old.to_string(),
                    new: c.new.to_string(),
                })
                .collect(),
            rendered_id: Default::default(),
            created: Default::default(),
            rendered_ip: Default::default(),
        }
    }

    /// `{field: old}` over the changed fields, as JSON text.
    pub fn old_state(&self) -> String {
        self.state(|c| &c.old)
    }

    /// `{field: new}` over the changed fields, as JSON text.
    pub fn new_state(&self) -> String {
        self.state(|c| &c.new)
    }

    fn state(&self, side: impl Fn(&StoredChange) -> &String) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .changes
            .iter()
            .map(|c| {
                let v = serde_json::from_str(side(c)).unwrap_or(serde_json::Value::Null);
                (c.field.clone(), v)
            })
            .collect();
        serde_json::Value::Object(map).to_string()
    }

    /// The changes as `(field, old, new)` JSON values.
    pub fn change_values(
        &self,
    ) -> impl Iterator<Item = (&str, serde_json::Value, serde_json::Value)> + '_ {
        let parse = |s: &str| serde_json::from_str(s).unwrap_or(serde_json::Value::Null);
        self.changes
            .iter()
            .map(move |c| (c.field.as_str(), parse(&c.old), parse(&c.new)))
    }

    fn encode(&self) -> Result<Vec<u8>, ReadError> {
        postcard::to_allocvec(self).map_err(|e| ReadError::Log(format!("audit entry: {e}")))
    }

    fn decode(bytes: &[u8]) -> Result<AuditRecord, ReadError> {
        postcard::from_bytes(bytes).map_err(|e| ReadError::Log(format!("audit entry: {e}")))
    }
}

/// What the audit list and history filter, search and order by.
impl Row for AuditRecord {
    fn value(&self, field: &str, ty: Option<FieldType>) -> Option<Scalar<'_>> {
        fn text(ty: Option<FieldType>, v: &str) -> Option<Scalar<'_>> {
            matches!(ty, None | Some(FieldType::String)).then_some(Scalar::Str(v))
        }
        let s = |v| text(ty, v);
        match field {
            "id" => s(self
                .rendered_id
                .get_or_init(|| crate::ids::render(Id(self.offset)))),
            "created_at" => {
                matches!(ty, None | Some(FieldType::DateTime)).then(|| {
                    Scalar::DateTime(*self.created.get_or_init(|| {
                        i128::from(self.recorded_at.unix_timestamp()) * 1_000_000_000
                    }))
                })
            }
            "source" => s(&self.via),
            "action" => s(&self.action),
            "object_type" => s(&self.object_type),
            "user_name" => s(&self.actor),
            "object_name" => s(&self.object_name),
            "ip" => self.ip.and_then(|_| s(self.ip_text())),
            _ => None,
        }
    }
}

impl AuditRecord {
    fn ip_text(&self) -> &str {
        self.rendered_ip
            .get_or_init(|| self.ip.map(|i| i.to_string()).unwrap_or_default())
    }
}

/// Descriptions made by the applier, waiting for the writer.
#[derive(Default)]
pub struct Outbox {
    records: Mutex<Vec<AuditRecord>>,
    /// The index already holds every event up to here (as opened): a
    /// start-up replay of those neither describes nor queues them again.
    covered: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

impl Outbox {
    /// Whether the event at `offset` is to be described (the index does
    /// not hold it yet).
    pub fn wants(&self, offset: u64) -> bool {
        offset > self.covered.load(Ordering::Relaxed)
    }

    /// Describes `event` against the state before it and queues the result
    /// (nothing if the index already holds it).
    pub fn describe(&self, env: &Envelope, event: &Event, before: &Directory) {
        if !self.wants(env.offset) {
            return;
        }
        if let Some(entry) = describe(env, event, before) {
            self.records.lock().push(AuditRecord::new(env, entry));
        }
    }

    fn drain(&self) -> Vec<AuditRecord> {
        std::mem::take(&mut *self.records.lock())
    }
}

/// The persisted audit index.
pub struct AuditIndex {
    db: Database,
    /// Every event up to this offset is described in the index.
    visible: watch::Sender<u64>,
    /// Where the writer has got to (events applied and their descriptions stored).
    live: std::sync::atomic::AtomicU64,
    /// Whether the gap before the live part (if any) has been described.
    gap_done: AtomicBool,
    /// The outbox the read model fills.
    outbox: Arc<Outbox>,
}

fn storage(e: impl std::fmt::Display) -> ReadError {
    ReadError::Log(format!("audit index: {e}"))
}

/// Where the index lives.
pub fn index_path(data_dir: &Path) -> PathBuf {
    data_dir.join("read-index").join("audit.redb")
}

impl AuditIndex {
    /// Opens (or creates) the index of `log`; `start` is the offset the
    /// projection starts applying after (its snapshot). Blocking.
    pub fn open(
        data_dir: &Path,
        log: &dyn EventLog,
        start: u64,
    ) -> Result<(AuditIndex, u64), ReadError> {
        let path = index_path(data_dir);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(storage)?;
        }
        let mut db = Database::create(&path).map_err(storage)?;
        let up_to = match Self::check(&db, log)? {
            Some(n) => n,
            None => {
                // Another log or format: start over.
                drop(db);
                std::fs::remove_file(&path).map_err(storage)?;
                db = Database::create(&path).map_err(storage)?;
                0
            }
        };
        let txn = db.begin_write().map_err(storage)?;
        {
            txn.open_table(ENTRIES).map_err(storage)?;
            txn.open_table(ALL).map_err(storage)?;
            txn.open_table(STREAMS).map_err(storage)?;
            txn.open_table(COUNTS).map_err(storage)?;
            txn.open_table(STREAM_COUNTS).map_err(storage)?;
            let mut meta = txn.open_table(META).map_err(storage)?;
            meta.insert("format", AUDIT_INDEX_FORMAT.to_le_bytes().as_slice())
                .map_err(storage)?;
        }
        txn.commit().map_err(storage)?;
        let gap = up_to < start;
        let index = AuditIndex {
            db,
            visible: watch::channel(if gap { up_to } else { start.max(up_to) }).0,
            live: (start.max(up_to)).into(),
            gap_done: AtomicBool::new(!gap),
            outbox: Arc::new(Outbox {
                covered: up_to.into(),
                ..Outbox::default()
            }),
        };
        Ok((index, up_to))
    }

    /// The indexed offset if the stored index belongs to this log and
    /// format; `None` if it must be rebuilt.
    fn check(db: &Database, log: &dyn EventLog) -> Result<Option<u64>, ReadError> {
        let txn = db.begin_read().map_err(storage)?;
        let meta = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Some(0)),
            Err(e) => return Err(storage(e)),
        };
        let get = |k: &str| -> Result<Option<Vec<u8>>, ReadError> {
            Ok(meta.get(k).map_err(storage)?.map(|v| v.value().to_vec()))
        };
        let format = get("format")?.and_then(|b| b.try_into().ok().map(u64::from_le_bytes));
        if format != Some(AUDIT_INDEX_FORMAT) {
            return Ok(None);
        }
        let up_to = get("up_to")?
            .and_then(|b| b.try_into().ok().map(u64::from_le_bytes))
            .unwrap_or(0);
        if up_to == 0 {
            return Ok(Some(0));
        }
        let hash = get("hash")?;
        match log.get(up_to) {
            Ok(Some(env)) if Some(env.hash.to_vec()) == hash => Ok(Some(up_to)),
            _ => Ok(None),
        }
    }

    /// The outbox the read model describes into.
    pub fn outbox(&self) -> Arc<Outbox> {
        self.outbox.clone()
    }

    /// Stores records and marks the index as covering `up_to` (with the
    /// log's record hash there).
    fn store(
        &self,
        records: &[AuditRecord],
        up_to: u64,
        hash: Option<[u8; 32]>,
    ) -> Result<(), ReadError> {
        let mut txn = self.db.begin_write().map_err(storage)?;
        txn.set_durability(Durability::None);
        {
            let mut entries = txn.open_table(ENTRIES).map_err(storage)?;
            let mut all = txn.open_table(ALL).map_err(storage)?;
            let mut streams = txn.open_table(STREAMS).map_err(storage)?;
            let mut counts = txn.open_table(COUNTS).map_err(storage)?;
            let mut stream_counts = txn.open_table(STREAM_COUNTS).map_err(storage)?;
            for r in records {
                let bytes = r.encode()?;
                let fresh = entries
                    .insert((r.tenant.0, r.offset), bytes.as_slice())
                    .map_err(storage)?
                    .is_none();
                all.insert(r.offset, r.tenant.0).map_err(storage)?;
                streams
                    .insert((r.tenant.0, r.stream.as_str(), r.offset), bytes.as_slice())
                    .map_err(storage)?;
                if fresh {
                    let n = counts
                        .get(r.tenant.0)
                        .map_err(storage)?
                        .map_or(0, |v| v.value());
                    counts.insert(r.tenant.0, n + 1).map_err(storage)?;
                    let key = (r.tenant.0, r.stream.as_str());
                    let n = stream_counts
                        .get(key)
                        .map_err(storage)?
                        .map_or(0, |v| v.value());
                    stream_counts.insert(key, n + 1).map_err(storage)?;
                }
            }
            if let Some(hash) = hash {
                let mut meta = txn.open_table(META).map_err(storage)?;
                meta.insert("up_to", up_to.to_le_bytes().as_slice())
                    .map_err(storage)?;
                meta.insert("hash", hash.as_slice()).map_err(storage)?;
            }
        }
        txn.commit().map_err(storage)
    }

    /// Makes everything committed so far durable (shutdown).
    pub fn flush(&self) -> Result<(), ReadError> {
        let mut txn = self.db.begin_write().map_err(storage)?;
        txn.set_durability(Durability::Immediate);
        txn.commit().map_err(storage)
    }

    fn publish(&self) {
        let live = self.live.load(Ordering::Acquire);
        if self.gap_done.load(Ordering::Acquire) {
            self.visible.send_if_modified(|v| {
                let moved = live > *v;
                *v = (*v).max(live);
                moved
            });
        }
    }

    /// Resolves once the index covers `offset`, or fails after `patience`
    /// (a rebuild of a long log is still running).
    pub async fn wait_for(&self, offset: u64, patience: Duration) -> Result<(), ReadError> {
        let mut rx = self.visible.subscribe();
        let waited = tokio::time::timeout(patience, async {
            rx.wait_for(|v| *v >= offset).await.map(|_| ())
        })
        .await;
        if matches!(waited, Ok(Ok(()))) {
            return Ok(());
        }
        let at = *rx.borrow();
        Err(ReadError::Log(format!(
            "the audit index is being rebuilt (at offset {at} of {offset}); retry shortly"
        )))
    }

    /// Describes the gap `(from, start]` by replaying from the nearest
    /// retained snapshot (blocking; run at start-up in the background).
    pub fn catch_up(
        &self,
        data_dir: &Path,
        log: &dyn EventLog,
        from: u64,
        start: u64,
    ) -> Result<(), ReadError> {
        if self.gap_done.load(Ordering::Acquire) {
            return Ok(());
        }
        let (mut dir, base) = base_state(data_dir, log, from);
        tracing::info!(from, to = start, "audit index: describing the log");
        let outbox = Outbox::default();
        let mut batch_end = base;
        let envelopes = log.read_all(base + 1).take_while(|e| match e {
            Ok(env) => env.offset <= start,
            Err(_) => true,
        });
        let mut pending = 0usize;
        let mut last_hash = None;
        rebuild(
            &mut dir,
            envelopes,
            Until::Offset(start),
            |env, event, before| {
                if env.offset > from {
                    outbox.describe(env, event, before);
                    pending += 1;
                }
                batch_end = env.offset;
                last_hash = Some(env.hash);
                if pending >= 4096 {
                    pending = 0;
                    let records = outbox.drain();
                    if let Err(e) = self.store(&records, batch_end, last_hash) {
                        tracing::warn!(error = %e, "audit index: storing failed");
                    }
                    self.visible.send_replace(batch_end);
                }
            },
        )
        .map_err(|e| ReadError::Log(e.to_string()))?;
        self.store(&outbox.drain(), batch_end, last_hash)?;
        self.gap_done.store(true, Ordering::Release);
        self.publish();
        tracing::info!(to = start, "audit index: caught up");
        Ok(())
    }

    /// Stores what the applier described up to `applied` (the writer's step).
    fn write_live(&self, log: &dyn EventLog, applied: u64) -> Result<(), ReadError> {
        let records = self.outbox.drain();
        let hash = match log.get(applied) {
            Ok(Some(env)) if self.gap_done.load(Ordering::Acquire) => Some(env.hash),
            _ => None,
        };
        self.store(&records, applied, hash)?;
        self.live.fetch_max(applied, Ordering::AcqRel);
        self.publish();
        Ok(())
    }

    /// Follows the applied offset, storing descriptions as they come.
    pub async fn follow(
        self: Arc<Self>,
        log: Arc<dyn EventLog>,
        mut applied: watch::Receiver<u64>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let at = *applied.borrow_and_update();
            let me = self.clone();
            let l = log.clone();
            match tokio::task::spawn_blocking(move || me.write_live(l.as_ref(), at)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "audit index: write failed"),
                Err(e) => tracing::warn!(error = %e, "audit index: writer task failed"),
            }
            tokio::select! {
                r = applied.changed() => if r.is_err() { break },
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        let me = self.clone();
        let at = *applied.borrow();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = me.write_live(log.as_ref(), at);
            me.flush()
        })
        .await;
    }

    /// Entries of `tenant` (every tenant: `None`), newest first, up to
    /// `applied`, through `f` until it returns false.
    fn newest_first(
        &self,
        tenant: Option<TenantId>,
        applied: u64,
        mut f: impl FnMut(AuditRecord) -> bool,
    ) -> Result<(), ReadError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let entries = txn.open_table(ENTRIES).map_err(storage)?;
        match tenant {
            Some(t) => {
                for item in entries
                    .range((t.0, 0)..=(t.0, applied))
                    .map_err(storage)?
                    .rev()
                {
                    let (_, v) = item.map_err(storage)?;
                    if !f(AuditRecord::decode(v.value())?) {
                        break;
                    }
                }
            }
            None => {
                let all = txn.open_table(ALL).map_err(storage)?;
                for item in all.range(0..=applied).map_err(storage)?.rev() {
                    let (k, t) = item.map_err(storage)?;
                    let Some(v) = entries.get((t.value(), k.value())).map_err(storage)? else {
                        continue;
                    };
                    if !f(AuditRecord::decode(v.value())?) {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// A page of the audit log, newest first by default: `(count, records)`.
    pub fn audit_page(
        &self,
        tenant: Option<TenantId>,
        applied: u64,
        query: &ListQuery,
    ) -> Result<(usize, Vec<AuditRecord>), ReadError> {
        if query.matches_all() && query.default_order() {
            let count = self.count(tenant, applied)?;
            let mut page = Vec::new();
            let mut seen = 0usize;
            self.newest_first(tenant, applied, |r| {
                if seen >= query.skip() {
                    page.push(r);
                }
                seen += 1;
                page.len() < query.top()
            })?;
            return Ok((count, page));
        }
        let mut matched = Vec::new();
        self.newest_first(tenant, applied, |r| {
            if query.matches(&r) {
                matched.push(r);
            }
            true
        })?;
        Ok(query.run_rows(matched))
    }

    fn count(&self, tenant: Option<TenantId>, applied: u64) -> Result<usize, ReadError> {
        let txn = self.db.begin_read().map_err(storage)?;
        // Entries beyond `applied` (described, not yet visible) are not counted.
        let beyond = |t: Option<u64>| -> Result<u64, ReadError> {
            let all = txn.open_table(ALL).map_err(storage)?;
            let mut n = 0;
            for item in all.range(applied + 1..).map_err(storage)? {
                let (_, tt) = item.map_err(storage)?;
                if t.is_none_or(|t| t == tt.value()) {
                    n += 1;
                }
            }
            Ok(n)
        };
        let total = match tenant {
            Some(t) => {
                let counts = txn.open_table(COUNTS).map_err(storage)?;
                let n = counts.get(t.0).map_err(storage)?.map_or(0, |v| v.value());
                n - beyond(Some(t.0))?
            }
            None => {
                let all = txn.open_table(ALL).map_err(storage)?;
                all.len().map_err(storage)? - beyond(None)?
            }
        };
        Ok(usize::try_from(total).unwrap_or(usize::MAX))
    }

    /// An object's history (its stream's described events in `tenant`),
    /// oldest first by default, with the object type of its first entry
    /// (what kind of object it is); `None` if it has none.
    pub fn history_page(
        &self,
        tenant: TenantId,
        stream: &str,
        applied: u64,
        query: &ListQuery,
    ) -> Result<Option<(String, usize, Vec<AuditRecord>)>, ReadError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let streams = txn.open_table(STREAMS).map_err(storage)?;
        let range = streams
            .range((tenant.0, stream, 0)..=(tenant.0, stream, applied))
            .map_err(storage)?;
        if query.matches_all() && query.default_order() {
            // The default page (oldest first, no filter) costs its page: the
            // count is kept (less the entries described but not yet
            // visible), the object's type is its first entry's, and the
            // skipped entries are passed over by key, never decoded (an
            // object with thousands of changes cost a decode, then a lookup,
            // of each: 0.3 s, then 6 ms a page at 1,000 changes). The
            // entries sit under the stream key, side by side.
            let kept = txn.open_table(STREAM_COUNTS).map_err(storage)?;
            let kept = kept
                .get((tenant.0, stream))
                .map_err(storage)?
                .map_or(0, |v| v.value());
            let beyond = streams
                .range((tenant.0, stream, applied.saturating_add(1))..=(tenant.0, stream, u64::MAX))
                .map_err(storage)?
                .count();
            let count = usize::try_from(kept)
                .unwrap_or(usize::MAX)
                .saturating_sub(beyond);
            let mut range = range;
            let Some(first) = range.next() else {
                return Ok(None);
            };
            let first = AuditRecord::decode(first.map_err(storage)?.1.value())?;
            let kind = first.object_type.clone();
            let mut page = Vec::new();
            let wanted = query.skip().saturating_add(query.top()).min(count);
            if query.skip() == 0 && wanted > 0 {
                page.push(first);
            }
            // `range` is past the first entry (position 0); the skipped
            // ones are passed by key, never decoded.
            let from = query.skip().max(1);
            for item in range.skip(from - 1).take(wanted.saturating_sub(from)) {
                let (_, v) = item.map_err(storage)?;
                page.push(AuditRecord::decode(v.value())?);
            }
            return Ok(Some((kind, count, page)));
        }
        let mut records = Vec::new();
        for item in range {
            let (_, v) = item.map_err(storage)?;
            records.push(AuditRecord::decode(v.value())?);
        }
        let Some(kind) = records.first().map(|r| r.object_type.clone()) else {
            return Ok(None);
        };
        let (count, page) = query.run_rows(records);
        Ok(Some((kind, count, page)))
    }
}

/// The directory at `offset` (from the nearest retained snapshot, replaying
/// the rest): `(state, offset)` (blocking).
fn base_state(data_dir: &Path, log: &dyn EventLog, offset: u64) -> (Directory, u64) {
    let mut dir = Directory::default();
    let mut at = 0;
    for kept in snapshots::retained(data_dir).into_iter().rev() {
        if kept > offset {
            continue;
        }
        if let Ok(d) = snapshots::load_retained(data_dir, kept, log) {
            dir = d;
            at = kept;
            break;
        }
    }
    if at < offset {
        let envelopes = log.read_all(at + 1);
        match rebuild(&mut dir, envelopes, Until::Offset(offset), |_, _, _| {}) {
            Ok(n) => at += n,
            Err(e) => tracing::warn!(error = %e, "audit index: rebuilding the base state failed"),
        }
    }
    (dir, at)
}

/// Runs a read against the index off the async threads.
pub(crate) async fn read<T: Send + 'static>(
    index: Arc<AuditIndex>,
    work: impl FnOnce(&AuditIndex) -> Result<T, ReadError> + Send + 'static,
) -> Result<T, ReadError> {
    blocking(move || work(&index)).await
}
