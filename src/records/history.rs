//! The call history service: the store, the follower that keeps it in step
//! with the log, the ingestion locks, and retention.
//!
//! - **Follower** ([`CallHistory::follow`]): subscribes to the log from
//!   the offset the store covers, applies `CdrRecorded`,
//!   `ExternalMessageRecorded`, `RecordingRecorded` and (removing)
//!   `RecordingDestroyed` in order, in batches (one redb transaction per batch
//!   of whatever has arrived), and publishes the offset it has read
//!   through on a `watch`, also past events that are not call history, so
//!   waiting for "the store covers offset N" always ends.
//! - **Readers** wait until the store covers what they must see
//!   ([`CallHistory::wait_covers`]): a write's own offset (read-your-writes),
//!   or a sync diff's head.
//! - **Ingestion** is serialized per tenant and kind
//!   ([`CallHistory::ingest_lock`]); the command layer checks the PBX's id
//!   under it (see ARCHITECTURE.md, "Call history").
//! - **Retention** ([`CallHistory::prune_now`], run by a timer the app
//!   starts): CDRs and messages older than `retention` by their own time
//!   are deleted; the follower does not apply those already past it.
//!   Recordings expire through the log instead, their files with them
//!   (`records::recordings::expire`, on the same timer).

use super::store::{Change, Kind, NewRecord, RecordStore, StoreConfig, StoreError};
use crate::clock::SharedClock;
use futures::StreamExt;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::{Envelope, Event, EventLog, Id, TenantId};
use tokio::sync::watch;

/// Records pruned per transaction: bounds how long a prune holds the
/// store's writer.
const PRUNE_BATCH: usize = 10_000;

/// One lock per tenant and kind of record.
type IngestLocks = Mutex<HashMap<(TenantId, Kind), Arc<tokio::sync::Mutex<()>>>>;

/// The call history service.
pub struct CallHistory {
    store: Arc<RecordStore>,
    covered: watch::Sender<u64>,
    stopped: watch::Sender<Option<String>>,
    locks: IngestLocks,
    retention: Option<Duration>,
    clock: SharedClock,
}

impl std::fmt::Debug for CallHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallHistory")
            .field("covered", &*self.covered.borrow())
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

/// Why call history cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The follower stopped (the log or the store failed).
    #[error("call history stopped following the log: {0}")]
    Stopped(String),
    /// A blocking task failed.
    #[error("call history read interrupted: {0}")]
    Interrupted(String),
}

impl From<HistoryError> for super::store::QueryFailure {
    fn from(e: HistoryError) -> Self {
        match e {
            HistoryError::Store(s) => super::store::QueryFailure::Store(s),
            other => super::store::QueryFailure::Store(StoreError::Db(other.to_string())),
        }
    }
}

/// The record an event adds to the store, if it is call history.
pub fn record_of(env: &Envelope, event: &Event) -> Option<NewRecord> {
    match event {
        Event::CdrRecorded(e) => Some(NewRecord {
            kind: Kind::Cdr,
            tenant: env.tenant,
            id: Id(env.offset),
            key: e.call_id.clone(),
            at_ms: e.started_at_ms,
            parties: e.parties.clone(),
            offset: env.offset,
            body: e.body.clone().into_bytes(),
        }),
        Event::ExternalMessageRecorded(e) => Some(NewRecord {
            kind: Kind::Message,
            tenant: env.tenant,
            id: Id(env.offset),
            key: e.pbx_message_id.clone(),
            at_ms: e.created_at_ms,
            parties: e.parties.clone(),
            offset: env.offset,
            body: e.body.clone().into_bytes(),
        }),
        Event::RecordingRecorded(e) => Some(NewRecord {
            kind: Kind::Recording,
            tenant: env.tenant,
            id: Id(env.offset),
            key: e.recording_id.clone(),
            at_ms: e.started_at_ms,
            parties: e.parties.clone(),
            offset: env.offset,
            body: e.body.clone().into_bytes(),
        }),
        _ => None,
    }
}

/// The change an event makes to the store, if it is call history.
pub fn change_of(env: &Envelope, event: &Event) -> Option<Change> {
    match event {
        Event::RecordingDestroyed(e) => Some(Change::Remove {
            kind: Kind::Recording,
            tenant: env.tenant,
            id: e.id,
        }),
        _ => record_of(env, event).map(Change::Add),
    }
}

/// Whether an event type is call history (checked before decoding, so the
/// follower decodes nothing else).
fn is_history(event_type: &str) -> bool {
    matches!(
        event_type,
        "CdrRecorded" | "ExternalMessageRecorded" | "RecordingRecorded" | "RecordingDestroyed"
    )
}

/// Whether the store prunes `kind` by itself. A recording has a file in
/// the directory, so it expires through the log instead
/// (`records::recordings::expire`), its file with it.
fn pruned_here(kind: Kind) -> bool {
    kind != Kind::Recording
}

impl CallHistory {
    /// Opens the store at `path`. `retention`: how long records are kept
    /// (by their own time); `None` keeps them.
    pub fn open(
        path: &Path,
        config: StoreConfig,
        retention: Option<Duration>,
        clock: SharedClock,
    ) -> Result<Arc<CallHistory>, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(e.to_string()))?;
        }
        let store = Arc::new(RecordStore::open(path, config)?);
        let covered = store.covered()?;
        Ok(Arc::new(CallHistory {
            store,
            covered: watch::channel(covered).0,
            stopped: watch::channel(None).0,
            locks: Mutex::new(HashMap::new()),
            retention,
            clock,
        }))
    }

    /// The store (blocking calls: use [`CallHistory::read`] from async code).
    pub fn store(&self) -> &Arc<RecordStore> {
        &self.store
    }

    /// The log offset the store covers.
    pub fn covered(&self) -> u64 {
        *self.covered.borrow()
    }

    /// Runs a blocking read of the store off the async threads.
    pub async fn read<T: Send + 'static, E: Send + 'static + From<HistoryError>>(
        &self,
        work: impl FnOnce(&RecordStore) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|e| E::from(HistoryError::Interrupted(e.to_string())))?
    }

    /// Waits until the store covers `offset` (or the follower stopped).
    pub async fn wait_covers(&self, offset: u64) -> Result<(), HistoryError> {
        let mut covered = self.covered.subscribe();
        let mut stopped = self.stopped.subscribe();
        loop {
            if *covered.borrow_and_update() >= offset {
                return Ok(());
            }
            if let Some(why) = stopped.borrow_and_update().clone() {
                return Err(HistoryError::Stopped(why));
            }
            tokio::select! {
                r = covered.changed() => if r.is_err() {
                    return Err(HistoryError::Stopped("the service is shutting down".into()));
                },
                r = stopped.changed() => if r.is_err() {
                    return Err(HistoryError::Stopped("the service is shutting down".into()));
                },
            }
        }
    }

    /// The lock that serializes ingestion of `kind` in `tenant`: held from
    /// the check of the PBX's id until the store has applied the new record.
    pub async fn ingest_lock(
        &self,
        tenant: TenantId,
        kind: Kind,
    ) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock();
            // Idle locks go as new ones are handed out (as the tenant locks do).
            if locks.len() > 1024 {
                locks.retain(|_, l| Arc::strong_count(l) > 1);
            }
            Arc::clone(locks.entry((tenant, kind)).or_default())
        };
        lock.lock_owned().await
    }

    /// The oldest time (ms) a record may have and still be kept.
    pub fn horizon_ms(&self) -> Option<i64> {
        let keep = i64::try_from(self.retention?.as_millis()).unwrap_or(i64::MAX);
        Some(self.clock.unix_ms().saturating_sub(keep))
    }

    /// Deletes every record past the retention horizon; returns how many.
    pub async fn prune_now(&self) -> Result<usize, HistoryError> {
        let Some(before) = self.horizon_ms() else {
            return Ok(0);
        };
        self.read(move |store| {
            let mut n = 0;
            for kind in Kind::ALL.into_iter().filter(|k| pruned_here(*k)) {
                n += store.prune(kind, before, PRUNE_BATCH)?;
            }
            Ok::<_, HistoryError>(n)
        })
        .await
    }

    /// Follows the log from what the store covers, applying call history
    /// as it arrives, until the log's stream ends. A failure of the store
    /// stops following (readers waiting get [`HistoryError::Stopped`]).
    pub async fn follow(self: Arc<Self>, log: Arc<dyn EventLog>) {
        let from = self.covered() + 1;
        let mut events = log.subscribe(from).ready_chunks(1024);
        while let Some(chunk) = events.next().await {
            let mut batch = Vec::new();
            let mut last = None;
            for item in chunk {
                let env = match item {
                    Ok(env) => env,
                    Err(e) => return self.stop(format!("reading the log: {e}")),
                };
                last = Some(env.offset);
                if !is_history(&env.event_type) {
                    continue;
                }
                match Event::decode(&env.event_type, env.schema_version, &env.payload) {
                    Ok(event) => batch.extend(change_of(&env, &event)),
                    Err(e) => {
                        return self.stop(format!("event {} does not decode: {e}", env.offset))
                    }
                }
            }
            let Some(last) = last else { continue };
            if !batch.is_empty() {
                if let Some(horizon) = self.horizon_ms() {
                    batch.retain(|c| match c {
                        Change::Add(r) => r.at_ms >= horizon || !pruned_here(r.kind),
                        Change::Remove { .. } => true,
                    });
                }
                let store = Arc::clone(&self.store);
                let applied =
                    tokio::task::spawn_blocking(move || store.apply_changes(&batch, last)).await;
                match applied {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return self.stop(e.to_string()),
                    Err(e) => return self.stop(e.to_string()),
                }
            }
            self.covered.send_replace(last);
        }
    }

    fn stop(&self, why: String) {
        tracing::error!(reason = %why, "call history stopped following the log");
        self.stopped.send_replace(Some(why));
    }

    /// Whether the follower still runs (readiness).
    pub fn following(&self) -> bool {
        self.stopped.borrow().is_none()
    }

    /// Makes what the store applied durable (at shutdown).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.store.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::records::store::Scope;
    use switchboard_events::domain::{CdrRecorded, UserDeleted};
    use switchboard_events::{AppendRequest, LogConfig, Metadata, SegmentLog};

    const T: TenantId = Id(7);

    fn cdr(call_id: &str, at_ms: i64) -> Event {
        Event::CdrRecorded(CdrRecorded {
            tenant_id: T,
            call_id: call_id.into(),
            started_at_ms: at_ms,
            parties: vec![Id(100)],
            body: format!(r#"{{"call_id":"{call_id}"}}"#),
        })
    }

    async fn append(log: &Arc<dyn EventLog>, events: Vec<Event>) -> u64 {
        let events = events
            .iter()
            .map(|e| e.to_new_event(T).expect("encodes"))
            .collect();
        let appended = log
            .append(AppendRequest {
                events,
                expected: Vec::new(),
                metadata: Arc::new(Metadata::system("test")),
            })
            .await
            .expect("appended");
        appended.last_offset
    }

    fn open(
        dir: &Path,
        retention: Option<Duration>,
        clock: SharedClock,
    ) -> (Arc<dyn EventLog>, Arc<CallHistory>) {
        let log: Arc<dyn EventLog> =
            Arc::new(SegmentLog::open(LogConfig::new(dir.to_path_buf())).expect("log"));
        let history = CallHistory::open(
            &dir.join("read-index/records.redb"),
            StoreConfig::default(),
            retention,
            clock,
        )
        .expect("store");
        (log, history)
    }

    #[tokio::test]
    async fn given_call_history_in_the_log_when_followed_then_the_store_has_it_under_the_offsets() {
        let dir = tempfile::tempdir().expect("dir");
        let (log, history) = open(dir.path(), None, crate::clock::system());
        tokio::spawn(Arc::clone(&history).follow(Arc::clone(&log)));
        let first = append(&log, vec![cdr("a", 1_000), cdr("b", 2_000)]).await;
        // Not call history: the follower moves past it too.
        let last = append(
            &log,
            vec![Event::UserDeleted(UserDeleted { user_id: Id(5) })],
        )
        .await;
        history.wait_covers(last).await.expect("covered");
        let store = history.store();
        assert_eq!(store.count(Kind::Cdr, T, Scope::Tenant).expect("count"), 2);
        assert_eq!(
            store.find_key(Kind::Cdr, T, "b").expect("find"),
            Some(Id(first))
        );
        assert_eq!(
            store.find_key(Kind::Cdr, T, "a").expect("find"),
            Some(Id(first - 1))
        );
        // A repeated call id in the log (another writer) is stored once.
        let again = append(&log, vec![cdr("a", 1_000)]).await;
        history.wait_covers(again).await.expect("covered");
        assert_eq!(store.count(Kind::Cdr, T, Scope::Tenant).expect("count"), 2);
    }

    #[tokio::test]
    async fn given_a_restart_when_followed_again_then_it_resumes_where_the_store_was() {
        let dir = tempfile::tempdir().expect("dir");
        let offset = {
            let (log, history) = open(dir.path(), None, crate::clock::system());
            let task = tokio::spawn(Arc::clone(&history).follow(Arc::clone(&log)));
            let offset = append(&log, vec![cdr("a", 1_000)]).await;
            history.wait_covers(offset).await.expect("covered");
            history.sync().expect("sync");
            task.abort();
            // The follower holds the log and the store: both must be gone
            // (their file locks released) before they are opened again.
            let _ = task.await;
            log.close().await;
            drop(history);
            drop(log);
            offset
        };
        let (log, history) = open(dir.path(), None, crate::clock::system());
        assert_eq!(history.covered(), offset);
        tokio::spawn(Arc::clone(&history).follow(Arc::clone(&log)));
        let next = append(&log, vec![cdr("b", 2_000)]).await;
        history.wait_covers(next).await.expect("covered");
        assert_eq!(
            history
                .store()
                .count(Kind::Cdr, T, Scope::Tenant)
                .expect("count"),
            2
        );
    }

    #[tokio::test]
    async fn given_a_retention_when_pruned_then_only_records_inside_it_remain() {
        let dir = tempfile::tempdir().expect("dir");
        let clock = crate::clock::TestClock::new();
        let (log, history) = open(dir.path(), Some(Duration::from_secs(3600)), clock.clone());
        tokio::spawn(Arc::clone(&history).follow(Arc::clone(&log)));
        let now = clock.unix_ms();
        let offset = append(
            &log,
            vec![
                cdr("old", now - 2 * 3_600_000),
                cdr("recent", now - 45 * 60_000),
                cdr("new", now),
            ],
        )
        .await;
        history.wait_covers(offset).await.expect("covered");
        let store = history.store();
        // Already past the horizon when applied: never stored.
        assert_eq!(store.find_key(Kind::Cdr, T, "old").expect("find"), None);
        assert_eq!(store.count(Kind::Cdr, T, Scope::Tenant).expect("count"), 2);
        clock.advance(Duration::from_secs(30 * 60));
        assert_eq!(history.prune_now().await.expect("prune"), 1);
        assert_eq!(store.find_key(Kind::Cdr, T, "recent").expect("find"), None);
        assert!(store.find_key(Kind::Cdr, T, "new").expect("find").is_some());
    }
}
