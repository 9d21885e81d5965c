//! The command pipeline: commands become events through pure decision
//! functions, then the events are appended and projected.
//!
//! ```text
//! request → (hash secrets, mint ids: impure, outside the lock)
//!         → lock tenant → decide(&Directory, command) → append → wait projected → unlock
//! ```
//!
//! Decide-and-append is serialized per tenant: the tenant's lock is held
//! until the projection has applied the command's events, so the next
//! decision in that tenant sees them. That is what keeps invariants such as
//! unique names and unique extension numbers under concurrent requests.
//! Different tenants proceed in parallel and share group commits.
//!
//! The critical section survives the request: nothing awaits between
//! taking the locks and queueing the append, and from the append on a task
//! owns the lock guards until the events are applied. A client that goes
//! away (or a handler aborted at shutdown or by its deadline) therefore
//! never releases the lock while its events are still on their way, where
//! the next decision would see stale state and could, say, give out the
//! same extension number twice.
//!
//! If the projection stops following the log, writes are refused at once
//! (`Unavailable`, 503) instead of waiting forever for an apply that will
//! not come while holding a tenant's lock; readiness turns red.

pub mod agents;
pub mod bootstrap;
pub mod contacts;
pub mod extensions;
pub mod groups;
pub mod presence;
pub mod queues;
pub mod roles;
pub mod sessions;
pub mod tenants;
#[cfg(test)]
pub mod testing;
pub mod user_import;
pub mod user_input;
pub mod users;

use crate::auth::roles::Authority;
use crate::ids;
use crate::queries::ReadModel;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use switchboard_events::{
    AppendError, AppendRequest, Appended, CodecError, Event, EventLog, Expected, Id, Metadata,
    StreamId, TenantId,
};
use switchboard_projections::{Directory, Projector};

/// What a decision produced: events to append (possibly none) and the
/// version expectations they rely on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// Events, in order; appended atomically.
    pub events: Vec<Event>,
    /// Optimistic-concurrency expectations, checked by the log.
    pub expected: Vec<(StreamId, Expected)>,
}

impl Decision {
    /// A decision to do nothing (e.g. setting a value it already has).
    pub fn none() -> Decision {
        Decision::default()
    }

    /// A decision to append these events.
    pub fn events(events: Vec<Event>) -> Decision {
        Decision {
            events,
            expected: Vec::new(),
        }
    }

    /// Adds an expectation.
    pub fn expect(mut self, stream: StreamId, expected: Expected) -> Decision {
        self.expected.push((stream, expected));
        self
    }
}

/// Why a command was not carried out. Each dialect maps these to its own
/// status codes and error bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// A field failed validation.
    #[error("{field}: {message}")]
    Validation {
        /// The field (dotted path for nested fields).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The target does not exist (or belongs to another tenant).
    #[error("{0} not found")]
    NotFound(String),
    /// The command conflicts with current state.
    #[error("{message}")]
    Conflict {
        /// UPPER_SNAKE_CASE code, e.g. `ALREADY_EXISTS`.
        code: &'static str,
        /// Human-readable message.
        message: String,
    },
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The log cannot take writes right now.
    #[error("{0}")]
    Unavailable(String),
    /// The caller would give or touch more than it holds itself (a role
    /// with a capability it lacks, an Admin it is not, a user above it).
    #[error("{field}: {message}")]
    Escalation {
        /// The field whose value asks for too much.
        field: String,
        /// What the caller lacks.
        message: String,
    },
}

impl CommandError {
    /// A validation error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> CommandError {
        CommandError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A conflict.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> CommandError {
        CommandError::Conflict {
            code,
            message: message.into(),
        }
    }
}

impl From<AppendError> for CommandError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::Conflict { stream, .. } => CommandError::conflict(
                "CONCURRENT_MODIFICATION",
                format!("{stream} was changed concurrently; retry"),
            ),
            AppendError::Empty => CommandError::Unavailable("empty append".into()),
            AppendError::Unavailable(m) => CommandError::Unavailable(m),
        }
    }
}

impl From<CodecError> for CommandError {
    fn from(e: CodecError) -> Self {
        CommandError::Unavailable(format!("cannot encode event: {e}"))
    }
}

/// Who is acting, for decisions that depend on the actor's privileges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The acting user.
    pub user_id: Id,
    /// What it holds.
    pub authority: Authority,
}

impl Actor {
    /// Refuses unless the actor holds everything `other` holds; `field`
    /// names what asked for it in the error.
    pub fn must_cover(&self, other: &Authority, field: &str) -> Result<(), CommandError> {
        self.authority
            .covers(other)
            .map_err(|excess| CommandError::Escalation {
                field: field.to_owned(),
                message: format!("you do not hold {excess} yourself"),
            })
    }
}

/// Per-tenant locks for decide-and-append. A lock nobody holds or waits
/// for is dropped from the map when the next lock is handed out, so the map
/// holds only tenants with writes in progress (plus at most one idle one
/// per call).
#[derive(Default)]
struct TenantLocks {
    locks: Mutex<HashMap<TenantId, Arc<tokio::sync::Mutex<()>>>>,
}

impl TenantLocks {
    fn get(&self, tenant: TenantId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock();
        // Only the map refers to an idle lock (holders and waiters own a
        // clone of the `Arc`), so it can go: the next writer of that tenant
        // makes a fresh one, and nobody can be waiting on the old one.
        locks.retain(|t, l| *t == tenant || Arc::strong_count(l) > 1);
        locks.entry(tenant).or_default().clone()
    }

    fn len(&self) -> usize {
        self.locks.lock().len()
    }
}

/// Runs commands: the write side of the service.
pub struct Pipeline {
    log: Arc<dyn EventLog>,
    projector: Arc<Projector<ReadModel>>,
    locks: TenantLocks,
    /// Why the projection stopped following the log, once it has.
    stopped: tokio::sync::watch::Sender<Option<String>>,
}

/// The projection has stopped following the log.
fn not_following(reason: &str) -> CommandError {
    CommandError::Unavailable(format!("the directory stopped following the log: {reason}"))
}

impl Pipeline {
    /// A pipeline over a log and the directory projector.
    pub fn new(log: Arc<dyn EventLog>, projector: Arc<Projector<ReadModel>>) -> Pipeline {
        Pipeline {
            log,
            projector,
            locks: TenantLocks::default(),
            stopped: tokio::sync::watch::channel(None).0,
        }
    }

    /// Whether the log takes writes (readiness).
    pub fn is_writable(&self) -> bool {
        self.log.is_writable()
    }

    /// Records that the projection stopped following the log (its task
    /// failed or ended): writes are refused from now on, and any write
    /// waiting for its events to be applied gives up (`Unavailable`).
    pub fn projection_stopped(&self, reason: impl Into<String>) {
        let reason = reason.into();
        tracing::error!(%reason, "the projection stopped following the log; refusing writes");
        self.stopped.send_replace(Some(reason));
    }

    /// Resolves once the projection has stopped following the log.
    pub async fn stopped(&self) {
        let _ = self.stopped.subscribe().wait_for(Option::is_some).await;
    }

    /// Whether the projection still follows the log.
    pub fn following(&self) -> bool {
        self.stopped.borrow().is_none()
    }

    /// Waits for the writes in progress in `tenant`, then holds further
    /// ones back until the returned guard is dropped (for maintenance that
    /// needs a tenant quiet, and for tests of what waiting writes do).
    pub async fn quiesce(&self, tenant: TenantId) -> tokio::sync::OwnedMutexGuard<()> {
        self.locks.get(tenant).lock_owned().await
    }

    /// How many tenant locks are kept (for tests of the bound).
    pub fn tenant_locks(&self) -> usize {
        self.locks.len()
    }

    /// Resolves once `offset` is applied, or fails if the projection stops
    /// following the log first.
    pub async fn wait_applied(&self, offset: u64) -> Result<(), CommandError> {
        wait_applied(&self.projector, self.stopped.subscribe(), offset).await
    }

    /// Decides under `tenant`'s lock and appends. `decide` must be a pure
    /// function of the directory; it returns the decision and the caller's
    /// output. Resolves after the events are durable and projected.
    pub async fn execute<T>(
        &self,
        tenant: TenantId,
        metadata: Metadata,
        decide: impl FnOnce(&Directory) -> Result<(Decision, T), CommandError>,
    ) -> Result<(T, Option<Appended>), CommandError> {
        self.execute_scopes(&[tenant], tenant, metadata, decide)
            .await
    }

    /// Like [`Pipeline::execute`], holding several scopes' locks (always
    /// taken in ascending order, so two such commands cannot deadlock).
    /// Events are recorded in `tenant`.
    pub async fn execute_scopes<T>(
        &self,
        scopes: &[TenantId],
        tenant: TenantId,
        metadata: Metadata,
        decide: impl FnOnce(&Directory) -> Result<(Decision, T), CommandError>,
    ) -> Result<(T, Option<Appended>), CommandError> {
        if let Some(reason) = self.stopped.borrow().as_deref() {
            return Err(not_following(reason));
        }
        let mut order: Vec<TenantId> = scopes.to_vec();
        order.sort();
        order.dedup();
        let mut guards = Vec::with_capacity(order.len());
        for t in &order {
            guards.push(self.locks.get(*t).lock_owned().await);
        }
        // Nothing awaits from here until the task below owns the guards: a
        // request dropped before this point has appended nothing.
        let (decision, output) = {
            let state = self.projector.read();
            decide(&state)?
        };
        if decision.events.is_empty() {
            return Ok((output, None));
        }
        let events = decision
            .events
            .iter()
            .map(|e| e.to_new_event(tenant))
            .collect::<Result<Vec<_>, _>>()?;
        // Queued now: the write happens whether or not anyone awaits it.
        let append = self.log.append(AppendRequest {
            events,
            expected: decision.expected,
            metadata: Arc::new(metadata),
        });
        let projector = self.projector.clone();
        let stopped = self.stopped.subscribe();
        let critical = tokio::spawn(async move {
            let appended = append.await?;
            wait_applied(&projector, stopped, appended.last_offset).await?;
            drop(guards);
            Ok::<_, CommandError>(appended)
        });
        let appended = critical
            .await
            .map_err(|e| CommandError::Unavailable(format!("the write did not complete: {e}")))??;
        Ok((output, Some(appended)))
    }
}

/// Resolves once `offset` is applied, or fails once the projection stops.
async fn wait_applied(
    projector: &Projector<ReadModel>,
    mut stopped: tokio::sync::watch::Receiver<Option<String>>,
    offset: u64,
) -> Result<(), CommandError> {
    tokio::select! {
        _ = projector.wait_for(offset) => Ok(()),
        r = stopped.wait_for(Option::is_some) => {
            let reason = match r {
                Ok(reason) => reason.clone().unwrap_or_default(),
                Err(_) => "the pipeline is gone".to_owned(),
            };
            Err(not_following(&reason))
        }
    }
}

/// Mints a fresh id that `taken` does not report as used.
pub fn fresh_id(taken: impl Fn(Id) -> bool) -> Id {
    loop {
        let id = ids::random_id();
        if !taken(id) {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::system_actor;
    use crate::commands::users::{CreateUser, ExtensionNumber, NewUserIds, UserName};
    use futures::future::BoxFuture;
    use futures::stream::BoxStream;
    use switchboard_events::{Durability, Envelope, LogConfig, LogError, SledLog};
    use switchboard_projections::directory::Scope;
    use tokio::sync::{Notify, Semaphore};

    /// A log whose appends are queued at once (as the real writer's are)
    /// but reach the real log only when the test opens the gate.
    struct Gated {
        inner: Arc<dyn EventLog>,
        gate: Arc<Semaphore>,
        queued: Arc<Notify>,
    }

    impl EventLog for Gated {
        fn append(&self, r: AppendRequest) -> BoxFuture<'static, Result<Appended, AppendError>> {
            let (inner, gate) = (self.inner.clone(), self.gate.clone());
            let task = tokio::spawn(async move {
                let _open = gate.acquire().await;
                inner.append(r).await
            });
            self.queued.notify_one();
            Box::pin(async move {
                task.await
                    .unwrap_or_else(|e| Err(AppendError::Unavailable(e.to_string())))
            })
        }
        fn read_all(&self, from: u64) -> switchboard_events::log::EnvelopeIter<'_> {
            self.inner.read_all(from)
        }
        fn read_stream(&self, s: &StreamId, v: u64) -> switchboard_events::log::EnvelopeIter<'_> {
            self.inner.read_stream(s, v)
        }
        fn subscribe(&self, from: u64) -> BoxStream<'static, Result<Envelope, LogError>> {
            self.inner.subscribe(from)
        }
        fn head(&self) -> u64 {
            self.inner.head()
        }
        fn watch_head(&self) -> tokio::sync::watch::Receiver<u64> {
            self.inner.watch_head()
        }
        fn stream_version(&self, s: &StreamId) -> Result<u64, LogError> {
            self.inner.stream_version(s)
        }
        fn get(&self, offset: u64) -> Result<Option<Envelope>, LogError> {
            self.inner.get(offset)
        }
        fn close(&self) -> BoxFuture<'static, ()> {
            self.inner.close()
        }
        fn is_writable(&self) -> bool {
            self.inner.is_writable()
        }
    }

    const T: TenantId = Id(3);

    struct World {
        _dir: tempfile::TempDir,
        gated: Arc<Gated>,
        pipeline: Pipeline,
        projector: Arc<Projector<ReadModel>>,
    }

    fn world(follow: bool) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = LogConfig::new(dir.path().join("log"));
        config.durability = Durability::Os;
        let inner: Arc<dyn EventLog> = Arc::new(SledLog::open(config).expect("log"));
        let projector = Projector::new(ReadModel::default(), 0);
        if follow {
            tokio::spawn(projector.clone().follow(inner.clone()));
        }
        let gated = Arc::new(Gated {
            inner,
            gate: Arc::new(Semaphore::new(0)),
            queued: Arc::new(Notify::new()),
        });
        let pipeline = Pipeline::new(gated.clone(), projector.clone());
        World {
            _dir: dir,
            gated,
            pipeline,
            projector,
        }
    }

    /// CreateUser `name` with extension `number`, as the HTTP handler
    /// decides it.
    fn create(
        name: &str,
        number: &str,
        n: u64,
    ) -> impl FnOnce(&Directory) -> Result<(Decision, ()), CommandError> {
        let cmd = CreateUser {
            ids: NewUserIds {
                user_id: Id(n),
                extension_id: Id(n + 100),
                link_id: Id(n + 200),
            },
            name: UserName::parse(name).expect("name"),
            role: "StandardUser".into(),
            password_hash: "p".into(),
            extension_password_hash: "e".into(),
            voicemail_pin_hash: "v".into(),
            extension_number: ExtensionNumber::parse(number, "n").expect("number"),
            attrs: Default::default(),
            by: system_actor(),
        };
        move |dir: &Directory| {
            let empty = Scope::default();
            let scope = dir.scope(T).unwrap_or(&empty);
            Ok((users::create(scope, cmd)?, ()))
        }
    }

    #[tokio::test]
    async fn a_dropped_request_keeps_its_tenant_locked_until_its_events_are_applied() {
        let w = world(true);
        let first = w
            .pipeline
            .execute(T, Metadata::system("test"), create("ann", "101", 1));
        let mut first = Box::pin(first);
        // Run the request until its append is queued, then drop it (the
        // client went away).
        tokio::select! {
            _ = &mut first => panic!("the append cannot finish while the gate is shut"),
            _ = w.gated.queued.notified() => {}
        }
        drop(first);
        assert!(
            w.pipeline.locks.get(T).try_lock().is_err(),
            "the tenant stays locked while the dropped request's events are on their way"
        );
        w.gated.gate.add_permits(1000);
        let second = w
            .pipeline
            .execute(T, Metadata::system("test"), create("bob", "101", 2))
            .await;
        assert!(
            matches!(
                second,
                Err(CommandError::Conflict {
                    code: "EXTENSION_NUMBER_IN_USE",
                    ..
                })
            ),
            "{second:?}"
        );
        let dir = w.projector.read();
        let scope = dir.scope(T).expect("scope");
        assert_eq!(scope.users.len(), 1);
        assert!(w.pipeline.locks.get(T).try_lock().is_ok(), "released");
    }

    #[tokio::test]
    async fn a_stopped_projection_fails_waiting_writes_and_refuses_new_ones() {
        // Nobody follows the log: the apply a write waits for never comes.
        let w = world(false);
        w.gated.gate.add_permits(1000);
        let pipeline = Arc::new(w.pipeline);
        let waiting = tokio::spawn({
            let p = pipeline.clone();
            async move {
                p.execute(T, Metadata::system("test"), create("ann", "101", 1))
                    .await
            }
        });
        w.gated.queued.notified().await;
        assert!(pipeline.following());
        pipeline.projection_stopped("test");
        let r = waiting.await.expect("task");
        assert!(matches!(r, Err(CommandError::Unavailable(_))), "{r:?}");
        assert!(pipeline.locks.get(T).try_lock().is_ok(), "the lock is free");
        let r = pipeline
            .execute(T, Metadata::system("test"), create("bob", "102", 2))
            .await;
        assert!(matches!(r, Err(CommandError::Unavailable(_))), "{r:?}");
        assert!(!pipeline.following());
    }

    #[tokio::test]
    async fn idle_tenant_locks_are_dropped() {
        let w = world(true);
        w.gated.gate.add_permits(1000);
        for n in 0..20u64 {
            w.pipeline
                .execute(Id(100 + n), Metadata::system("test"), |_| {
                    Ok((Decision::none(), ()))
                })
                .await
                .expect("no-op");
        }
        assert!(
            w.pipeline.tenant_locks() <= 1,
            "{}",
            w.pipeline.tenant_locks()
        );
    }
}
