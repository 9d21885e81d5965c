//! What several nodes on one stream share besides the log: a lease (one
//! node at a time does a job, another takes over when it dies) and a small
//! shared key-value state (that job's cursors), both in JetStream key-value
//! buckets beside the log's stream; and blobs (uploaded files) in a
//! JetStream object store ([`SharedBlobs`]).
//!
//! # The lease
//! One key in the bucket `<stream>_leases`, holding the holder's node id.
//! The holder renews it every `ttl / 6` by a compare-and-set on the key's
//! revision (`Nats-Expected-Last-Subject-Sequence`); a node that does not
//! hold it reads the key at the same pace and takes it over, by the same
//! compare-and-set on the revision it saw, once it has seen the revision
//! unchanged for `ttl` on its own clock. The holder counts itself the
//! holder only up to `ttl / 2` after it *sent* its last successful renewal,
//! so it lets go before anyone can take over (a takeover needs a full `ttl`
//! after that renewal landed), whatever the clocks of the machines say:
//! only durations on each node's monotonic clock are compared. Two
//! takeovers of one revision cannot both succeed (the server refuses the
//! second compare-and-set). What this does not rule out is a holder paused
//! for longer than `ttl / 2` in the middle of its work (a stopped process):
//! work done under a lease must tolerate being done twice (webhooks are at
//! least once).
//!
//! # The shared state
//! The bucket `<stream>_<name>`, one value per key, last write wins. Writes
//! go out in order from one task per bucket (a caller never waits for the
//! server); every node keeps a copy of the bucket in memory, fed by a watch
//! on the whole bucket, for synchronous reads; [`SharedState::refresh`]
//! reads a key from the server when the caller needs the latest value
//! (e.g. when it has just taken over a lease).

use super::JetStreamError;
use async_nats::jetstream::{self, kv, object_store};
use bytes::Bytes;
use futures::StreamExt;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Opens (or creates) a key-value bucket with the log stream's replicas.
async fn bucket(
    js: &jetstream::Context,
    name: String,
    replicas: usize,
) -> Result<kv::Store, JetStreamError> {
    let err = |reason: String| JetStreamError::Stream {
        stream: name.clone(),
        reason,
    };
    // The bucket's stream is created here, as `create_key_value` would
    // (one value per key, roll-ups allowed, deletes as markers, direct
    // gets), because that call first reads the account's info, whose
    // answer from nats-server 2.9 the client cannot parse.
    js.get_or_create_stream(jetstream::stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        storage: jetstream::stream::StorageType::File,
        num_replicas: replicas.max(1),
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .map_err(|e| err(e.to_string()))?;
    js.get_key_value(name.clone())
        .await
        .map_err(|e| err(e.to_string()))
}

/// A lease held by at most one node at a time (see the module docs).
pub struct Lease {
    held: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Whether this node holds the lease now, and every change of it.
    pub fn held(&self) -> watch::Receiver<bool> {
        self.held.clone()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where a node stands with a lease (pure: the task feeds it what it reads
/// and what its compare-and-sets answer, with the monotonic time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Holding revision `revision`, last renewal sent at `sent`.
    Holding { revision: u64, sent: Instant },
    /// Not holding; the key was last seen at `revision` (0: absent) since
    /// `since`.
    Waiting { revision: u64, since: Instant },
}

/// What the task should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Compare-and-set the key from `revision` to this node's id
    /// (`revision` 0: create it).
    Claim(u64),
    /// Read the key.
    Read,
}

impl Standing {
    /// Whether this node counts as the holder at `now`.
    pub(crate) fn holds(&self, now: Instant, ttl: Duration) -> bool {
        matches!(self, Standing::Holding { sent, .. } if now.duration_since(*sent) < ttl / 2)
    }

    /// The next step at `now`: a holder renews, a waiter claims a key that
    /// is absent or has not moved for `ttl`, else reads it.
    pub(crate) fn next(&self, now: Instant, ttl: Duration) -> Step {
        match self {
            Standing::Holding { revision, .. } => Step::Claim(*revision),
            Standing::Waiting { revision: 0, .. } => Step::Claim(0),
            Standing::Waiting { revision, since } if now.duration_since(*since) >= ttl => {
                Step::Claim(*revision)
            }
            Standing::Waiting { .. } => Step::Read,
        }
    }

    /// A compare-and-set sent at `sent` answered: `Some(revision)` stored,
    /// `None` refused (someone else's revision is there).
    pub(crate) fn claimed(&self, sent: Instant, answer: Option<u64>) -> Standing {
        match answer {
            Some(revision) => Standing::Holding { revision, sent },
            // Refused: someone else moved the key; watch it afresh.
            None => Standing::Waiting {
                revision: u64::MAX,
                since: sent,
            },
        }
    }

    /// The key was read at `now`: `revision` 0 when absent or deleted.
    pub(crate) fn read(&self, now: Instant, revision: u64) -> Standing {
        match self {
            Standing::Waiting {
                revision: seen,
                since,
            } if *seen == revision => Standing::Waiting {
                revision,
                since: *since,
            },
            _ => Standing::Waiting {
                revision,
                since: now,
            },
        }
    }

    /// A renewal failed without an answer (timeout, no connection): a
    /// holder stays one until `ttl / 2` after its last renewal, then waits
    /// like anyone else, counting from that renewal.
    pub(crate) fn unanswered(&self, now: Instant, ttl: Duration) -> Standing {
        match self {
            Standing::Holding { revision, sent } if now.duration_since(*sent) >= ttl / 2 => {
                Standing::Waiting {
                    revision: *revision,
                    since: *sent,
                }
            }
            other => other.clone(),
        }
    }
}

/// Opens the lease `name` on the log's stream's lease bucket and starts
/// renewing or contending for it.
pub(crate) async fn lease(
    js: &jetstream::Context,
    stream: &str,
    replicas: usize,
    node: String,
    name: &str,
    ttl: Duration,
) -> Result<Lease, JetStreamError> {
    let store = bucket(js, format!("{stream}_leases"), replicas).await?;
    let (tx, held) = watch::channel(false);
    let key = name.to_owned();
    let task = tokio::spawn(async move {
        let every = ttl / 6;
        let mut standing = Standing::Waiting {
            revision: u64::MAX,
            since: Instant::now(),
        };
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = Instant::now();
            standing = match standing.next(now, ttl) {
                Step::Claim(revision) => {
                    let value = Bytes::from(node.clone());
                    let answer = if revision == 0 {
                        tokio::time::timeout(every, store.create(&key, value))
                            .await
                            .map(|r| r.map_err(|e| e.kind() == kv::CreateErrorKind::AlreadyExists))
                    } else {
                        tokio::time::timeout(every, store.update(&key, value, revision))
                            .await
                            .map(|r| {
                                r.map_err(|e| e.kind() == kv::UpdateErrorKind::WrongLastRevision)
                            })
                    };
                    match answer {
                        Ok(Ok(revision)) => standing.claimed(now, Some(revision)),
                        Ok(Err(true)) => standing.claimed(now, None),
                        _ => standing.unanswered(Instant::now(), ttl),
                    }
                }
                Step::Read => match tokio::time::timeout(every, store.entry(&key)).await {
                    Ok(Ok(entry)) => {
                        let revision = entry
                            .filter(|e| e.operation == kv::Operation::Put)
                            .map_or(0, |e| e.revision);
                        standing.read(Instant::now(), revision)
                    }
                    _ => standing.clone(),
                },
            };
            let holds = standing.holds(Instant::now(), ttl);
            tx.send_if_modified(|h| std::mem::replace(h, holds) != holds);
        }
    });
    Ok(Lease { held, task })
}

/// A shared key-value state (see the module docs).
pub struct SharedState {
    store: kv::Store,
    cache: Arc<Mutex<HashMap<String, Bytes>>>,
    writes: mpsc::UnboundedSender<(String, Option<Bytes>)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for SharedState {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl SharedState {
    /// The value of `key` as this node last knew it.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        self.cache.lock().get(key).cloned()
    }

    /// Sets `key` (sent in order, in the background).
    pub fn put(&self, key: &str, value: Bytes) {
        self.cache.lock().insert(key.to_owned(), value.clone());
        let _ = self.writes.send((key.to_owned(), Some(value)));
    }

    /// Removes `key` (in the background).
    pub fn remove(&self, key: &str) {
        self.cache.lock().remove(key);
        let _ = self.writes.send((key.to_owned(), None));
    }

    /// Reads `key` from the server into the local copy; on failure the
    /// local copy stays as it was (and the error is returned).
    pub async fn refresh(&self, key: &str) -> Result<Option<Bytes>, String> {
        let value = self.store.get(key).await.map_err(|e| e.to_string())?;
        let mut cache = self.cache.lock();
        match &value {
            Some(v) => cache.insert(key.to_owned(), v.clone()),
            None => cache.remove(key),
        };
        Ok(value)
    }
}

/// Opens (or creates) the shared state bucket `<stream>_<name>`.
pub(crate) async fn shared_state(
    js: &jetstream::Context,
    stream: &str,
    replicas: usize,
    name: &str,
) -> Result<SharedState, JetStreamError> {
    let store = bucket(js, format!("{stream}_{name}"), replicas).await?;
    let cache: Arc<Mutex<HashMap<String, Bytes>>> = Arc::default();
    let (writes, mut rx) = mpsc::unbounded_channel::<(String, Option<Bytes>)>();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            while let Some((key, value)) = rx.recv().await {
                let done = match value {
                    Some(v) => store
                        .put(&key, v)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    None => store.delete(&key).await.map_err(|e| e.to_string()),
                };
                // The next write of the key supersedes this one; what a lost
                // write costs is the caller's to say (a cursor: a redelivery).
                if let Err(e) = done {
                    tracing::warn!(key, error = %e, "shared state write failed");
                }
            }
        })
    };
    let watcher = {
        let (store, cache) = (store.clone(), cache.clone());
        tokio::spawn(async move {
            loop {
                match store.watch_all().await {
                    Ok(mut changes) => {
                        while let Some(Ok(entry)) = changes.next().await {
                            let mut cache = cache.lock();
                            match entry.operation {
                                kv::Operation::Put => cache.insert(entry.key, entry.value),
                                _ => cache.remove(&entry.key),
                            };
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "shared state watch failed"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    Ok(SharedState {
        store,
        cache,
        writes,
        tasks: vec![writer, watcher],
    })
}

/// Blobs shared by the nodes: a JetStream object store `<stream>_<name>`,
/// objects named by the caller (content digests: a name's bytes never
/// change, so a blob already there is never written again).
pub struct SharedBlobs {
    store: object_store::ObjectStore,
}

impl SharedBlobs {
    /// Stores the file at `path` as `name`, unless `name` is there already
    /// (`false`). Returns once the object store acknowledged every chunk.
    pub async fn put_file(&self, name: &str, path: &Path) -> Result<bool, String> {
        match self.store.info(name).await {
            Ok(info) if !info.deleted => return Ok(false),
            Ok(_) => {}
            Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => {}
            Err(e) => return Err(e.to_string()),
        }
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.store
            .put(name, &mut file)
            .await
            .map(|_| true)
            .map_err(|e| e.to_string())
    }

    /// The names of every object in the store (deleted ones left out).
    pub async fn names(&self) -> Result<Vec<String>, String> {
        let mut list = self.store.list().await.map_err(|e| e.to_string())?;
        let mut names = Vec::new();
        while let Some(info) = list.next().await {
            let info = info.map_err(|e| e.to_string())?;
            if !info.deleted {
                names.push(info.name);
            }
        }
        Ok(names)
    }

    /// Copies `name` into a new file at `path` (synced); `false` if there
    /// is no such object.
    pub async fn get_file(&self, name: &str, path: &Path) -> Result<bool, String> {
        let mut object = match self.store.get(name).await {
            Ok(o) => o,
            Err(e) if e.kind() == object_store::GetErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e.to_string()),
        };
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        tokio::io::copy(&mut object, &mut file)
            .await
            .map_err(|e| e.to_string())?;
        file.sync_all().await.map_err(|e| e.to_string())?;
        Ok(true)
    }
}

/// Opens (or creates) the object store `<stream>_<name>`.
pub(crate) async fn shared_blobs(
    js: &jetstream::Context,
    stream: &str,
    replicas: usize,
    name: &str,
) -> Result<SharedBlobs, JetStreamError> {
    let bucket = format!("{stream}_{name}");
    let store = match js.get_object_store(&bucket).await {
        Ok(store) => store,
        Err(_) => js
            .create_object_store(object_store::Config {
                bucket: bucket.clone(),
                num_replicas: replicas.max(1),
                storage: jetstream::stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| JetStreamError::Stream {
                stream: bucket.clone(),
                reason: e.to_string(),
            })?,
    };
    Ok(SharedBlobs { store })
}

#[cfg(test)]
mod tests {
    use super::{Standing, Step};
    use std::time::{Duration, Instant};

    const TTL: Duration = Duration::from_secs(6);

    #[test]
    fn a_waiter_claims_an_absent_key_at_once_and_a_still_one_only_after_the_ttl() {
        let t0 = Instant::now();
        let absent = Standing::Waiting {
            revision: u64::MAX,
            since: t0,
        }
        .read(t0, 0);
        assert_eq!(absent.next(t0, TTL), Step::Claim(0));
        let seen = absent.read(t0, 7);
        assert_eq!(seen.next(t0 + TTL / 2, TTL), Step::Read);
        // Seen again unchanged: the clock keeps running from the first sight.
        let again = seen.read(t0 + TTL / 2, 7);
        assert_eq!(again.next(t0 + TTL, TTL), Step::Claim(7));
        // Renewed meanwhile: the clock starts over.
        let renewed = again.read(t0 + TTL / 2, 8);
        assert_eq!(renewed.next(t0 + TTL, TTL), Step::Read);
        assert!(!renewed.holds(t0 + TTL, TTL));
    }

    #[test]
    fn a_holder_lets_go_half_a_ttl_after_its_last_renewal_before_anyone_can_take_over() {
        let t0 = Instant::now();
        let holding = Standing::Waiting {
            revision: 0,
            since: t0,
        }
        .claimed(t0, Some(3));
        assert!(holding.holds(t0, TTL));
        assert_eq!(holding.next(t0, TTL), Step::Claim(3));
        // Renewals go unanswered: still the holder up to ttl/2 ...
        let later = holding.unanswered(t0 + TTL / 3, TTL);
        assert!(later.holds(t0 + TTL / 3, TTL));
        // ... then not, and it waits like the others, counting from t0.
        let lost = later.unanswered(t0 + TTL / 2, TTL);
        assert!(!lost.holds(t0 + TTL / 2, TTL));
        assert_eq!(lost.next(t0 + TTL / 2, TTL), Step::Read);
        // Another node that saw revision 3 no earlier than t0 claims it no
        // earlier than t0 + ttl: later than the holder let go.
        let other = Standing::Waiting {
            revision: 3,
            since: t0,
        };
        assert_eq!(other.next(t0 + TTL / 2, TTL), Step::Read);
        assert_eq!(other.next(t0 + TTL, TTL), Step::Claim(3));
    }

    #[test]
    fn a_refused_claim_leaves_the_node_waiting() {
        let t0 = Instant::now();
        let holding = Standing::Holding {
            revision: 3,
            sent: t0,
        };
        let refused = holding.claimed(t0, None);
        assert!(!refused.holds(t0, TTL));
        assert_eq!(refused.next(t0, TTL), Step::Read);
    }
}
