//! The call history service: the store, the follower that keeps it in step
//! with the log, the ingestion locks, and retention.
//!
//! - **Follower** ([`CallHistory::follow`]): subscribes to the log from
//!   the offset the store covers, applies `CdrRecorded` /
//!   `ExternalMessageRecorded` in batches (one redb transaction per batch
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
//!   starts): records older than `retention` by their own time are
//!   deleted; the follower does not apply records already past it.

use super::store::{Kind, NewRecord, RecordStore, StoreConfig, StoreError};
use crate::clock::SharedClock;
use futures::StreamExt;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::{Envelope, Event, EventLog, TenantId};
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

/// The record an event adds to the store, if it is call history.
pub fn record_of(env: &Envelope, event: &Event) -> Option<NewRecord> {
    match event {
        Event::CdrRecorded(e) => Some(NewRecord {
            kind: Kind::Cdr,
            tenant: env.tenant,
            id: e.cdr_id,
            key: e.call_id.clone(),
            at_ms: e.started_at_ms,
            parties: e.parties.clone(),
            offset: env.offset,
            body: e.body.clone().into_bytes(),
        }),
        Event::ExternalMessageRecorded(e) => Some(NewRecord {
            kind: Kind::Message,
            tenant: env.tenant,
            id: e.message_id,
            key: e.pbx_message_id.clone(),
            at_ms: e.created_at_ms,
            parties: e.parties.clone(),
            offset: env.offset,
            body: e.body.clone().into_bytes(),
        }),
        _ => None,
    }
}

/// Whether an event type is call history (checked before decoding, so the
/// follower decodes nothing else).
fn is_history(event_type: &str) -> bool {
    matches!(event_type, "CdrRecorded" | "ExternalMessageRecorded")
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
    fn horizon_ms(&self) -> Option<i64> {
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
            for kind in Kind::ALL {
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
                    Ok(event) => batch.extend(record_of(&env, &event)),
                    Err(e) => {
                        return self.stop(format!("event {} does not decode: {e}", env.offset))
                    }
                }
            }
            let Some(last) = last else { continue };
            if !batch.is_empty() {
                if let Some(horizon) = self.horizon_ms() {
                    batch.retain(|r| r.at_ms >= horizon);
                }
                let store = Arc::clone(&self.store);
                let applied = tokio::task::spawn_blocking(move || store.apply(&batch, last)).await;
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
