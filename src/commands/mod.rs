//! The command layer: everything the service can change, as one enum
//! ([`Command`]), decided by pure functions and carried out by one entry
//! point ([`Pipeline::run`]).
//!
//! ```text
//! dialect: request → Command + Context
//! Pipeline::run:
//!   prepare (mint ids, hash and seal secrets: impure, once, outside the lock)
//!   → lock the tenant → decide(&Directory, &Context, &Command) → append
//!   → wait until projected → unlock
//!   (append lost an optimistic-concurrency race? catch up, decide again)
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
//!
//! # Layout
//! - [`command`]: the [`Command`] enum (the map of every change), [`Context`],
//!   [`Outcome`] and [`decide`], which dispatches to the decisions below.
//! - [`prepare`]: [`Secret`]s and [`NewId`]s, made ready once before deciding.
//! - [`decision`]: [`Decision`] and its checked merge.
//! - [`error`]: [`CommandError`] and its kinds, mapped by each dialect.
//! - one file per command family: [`bootstrap`], [`tenants`], [`sessions`],
//!   [`users`], [`extensions`], [`roles`], [`groups`], [`queues`] (call
//!   queues and ring groups), [`agents`], [`presence`], [`contacts`]
//!   (favorites), [`items`] (items of declared collections),
//!   [`user_import`] (a bulk import's batch).
//! - [`user_input`]: the one parser of a user creation (`POST /users`, CSV
//!   and JSON Lines rows).

pub mod agents;
pub mod balance;
pub mod bootstrap;
pub mod call_history;
pub mod command;
pub mod contacts;
pub mod decision;
pub mod error;
pub mod extensions;
pub mod files;
pub mod groups;
pub mod holidays;
pub mod items;
pub mod meeting_rooms;
pub mod meetings;
pub mod ms365;
pub mod prepare;
pub mod presence;
pub mod queues;
pub mod recordings;
pub mod roles;
pub mod sessions;
pub mod tenants;
#[cfg(test)]
pub mod testing;
pub mod user_import;
pub mod user_input;
pub mod users;
pub mod waiting;

pub use command::{decide, By, Command, Context, Outcome};
pub use decision::Decision;
pub use error::{CommandError, ConflictKind, Denial, Thing};
pub use prepare::{NewId, Secret, SecretRule};

use crate::auth::password::SecretHasher;
use crate::auth::roles::{Authority, Capability};
use crate::ids;
use crate::queries::ReadModel;
use crate::secrets::SecretKey;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::{
    AppendError, AppendRequest, Appended, Basis, EventLog, Id, Metadata, TenantId,
};
use switchboard_projections::{Directory, Projector};

/// Who is acting, for decisions that depend on the actor's privileges
/// (resolved from the state being decided against: [`By::actor`]).
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
                reason: format!("you do not hold {excess} yourself"),
            })
    }

    /// Refuses unless the actor is `user` itself or holds `cap` (the
    /// "yourself, or a capability" rule of self-service commands).
    pub fn must_be_or_hold(
        &self,
        user: Id,
        cap: Capability,
        message: &str,
    ) -> Result<(), CommandError> {
        if self.user_id == user || self.authority.allows(cap) {
            Ok(())
        } else {
            Err(CommandError::forbidden(Denial::NotYours, message))
        }
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

/// How long a command whose appends keep losing optimistic-concurrency
/// races (another writer of a shared log moved what it was decided
/// against) is decided again before the pipeline gives up with
/// [`CommandError::Contended`] (503 with `Retry-After`). A lost race is
/// not a conflict: only a decision against the state that won can refuse
/// a command with 409.
pub const REDECIDE_WITHIN: Duration = Duration::from_secs(10);

/// What the pipeline does after an append lost a race.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterLostRace {
    /// Decide again, at once, against the state that won.
    DecideAgain,
    /// The directory has nothing new to decide against: deciding again
    /// would give the same refused append, so the refusal is the answer
    /// (409 `CONCURRENT_MODIFICATION`).
    Refuse,
    /// Stop: the command is answered [`CommandError::Contended`].
    GiveUp,
}

/// The re-decision rule: after `lost` lost races (counting this one),
/// `elapsed` since the command's first decision, with `within` allowed;
/// `moved` says whether the projection, caught up with the log's head,
/// has applied anything since the refused decision was made. The first
/// lost race is always decided again (the usual case: another node had
/// just written in the tenant); later ones while the deadline has not
/// passed; none if nothing moved (a version the directory does not see,
/// which no new decision can satisfy).
///
/// Deciding again at once, without a back-off: a race is only decided
/// again once the projection has applied something new (what won), so
/// retrying cannot spin, and the winner's next command does not wait
/// either, so pausing only the loser would lower its odds of ever winning.
pub fn after_lost_race(
    lost: u32,
    elapsed: Duration,
    within: Duration,
    moved: bool,
) -> AfterLostRace {
    if !moved {
        AfterLostRace::Refuse
    } else if lost <= 1 || elapsed < within {
        AfterLostRace::DecideAgain
    } else {
        AfterLostRace::GiveUp
    }
}

/// How a critical section treats a lost race.
#[derive(Debug, Clone, Copy)]
enum Redecide {
    /// Never: the lost race is the command's answer (a 409).
    Never,
    /// By [`after_lost_race`] within this deadline.
    Within(Duration),
}

/// Runs commands: the write side of the service.
pub struct Pipeline {
    log: Arc<dyn EventLog>,
    projector: Arc<Projector<ReadModel>>,
    locks: TenantLocks,
    hasher: SecretHasher,
    key: Arc<SecretKey>,
    /// Why the projection stopped following the log, once it has.
    stopped: tokio::sync::watch::Sender<Option<String>>,
    /// How long a command is decided again after lost races.
    redecide_within: Duration,
    /// Lost races and commands given up as contended, for `/metrics`.
    races: Arc<RaceCounters>,
}

/// Counts of lost races, shared with the critical sections' tasks.
#[derive(Debug, Default)]
struct RaceCounters {
    lost: AtomicU64,
    contended: AtomicU64,
    most: AtomicU64,
}

/// What the pipeline counted about lost races since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RaceStats {
    /// Appends refused because another writer of the log got there first
    /// (each is followed by a new decision or by giving up).
    pub lost: u64,
    /// Commands answered [`CommandError::Contended`] after losing races
    /// until [`REDECIDE_WITHIN`] passed.
    pub contended: u64,
    /// The most races one command lost.
    pub most: u64,
}

/// The projection has stopped following the log.
fn not_following(reason: &str) -> CommandError {
    CommandError::Unavailable(format!("the directory stopped following the log: {reason}"))
}

/// A decision function the pipeline may call more than once (to decide a
/// command again after a lost race).
type Decide<T> = Box<dyn FnMut(&Directory) -> Result<(Decision, T), CommandError> + Send>;

impl Pipeline {
    /// A pipeline over a log and the directory projector, hashing with
    /// `hasher` and sealing PBX secrets with `key`.
    pub fn new(
        log: Arc<dyn EventLog>,
        projector: Arc<Projector<ReadModel>>,
        hasher: SecretHasher,
        key: Arc<SecretKey>,
    ) -> Pipeline {
        Pipeline {
            log,
            projector,
            locks: TenantLocks::default(),
            hasher,
            key,
            stopped: tokio::sync::watch::channel(None).0,
            redecide_within: REDECIDE_WITHIN,
            races: Arc::default(),
        }
    }

    /// The same pipeline deciding again after lost races for `within`
    /// instead of [`REDECIDE_WITHIN`] (tests of the deadline).
    pub fn with_redecide_within(mut self, within: Duration) -> Pipeline {
        self.redecide_within = within;
        self
    }

    /// Lost races and contended commands so far.
    pub fn races(&self) -> RaceStats {
        RaceStats {
            lost: self.races.lost.load(Ordering::Relaxed),
            contended: self.races.contended.load(Ordering::Relaxed),
            most: self.races.most.load(Ordering::Relaxed),
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

    /// Carries out `command` issued in `ctx`: prepares it once (new ids,
    /// hashed and sealed secrets), then decides it under the tenant's lock,
    /// appends, and waits until the projection has applied it. If the
    /// append loses an optimistic-concurrency race (another writer of the
    /// log moved a stream the decision relied on), the pipeline waits for
    /// the projection to catch up with the log's head and decides the same
    /// prepared command again ([`after_lost_race`], until
    /// [`REDECIDE_WITHIN`] has passed, then [`CommandError::Contended`]) —
    /// without minting or hashing anything again.
    pub async fn run(&self, command: Command, ctx: Context) -> Result<Outcome, CommandError> {
        let command = self.prepare(command, &ctx).await?;
        self.run_prepared(command, ctx).await
    }

    /// [`Pipeline::run`]'s first half: the command with its ids minted and
    /// its secrets hashed and sealed.
    pub async fn prepare(
        &self,
        mut command: Command,
        ctx: &Context,
    ) -> Result<Command, CommandError> {
        let dir = self.projector.read();
        let preparer = prepare::Preparer {
            hasher: &self.hasher,
            key: &self.key,
            dir: &dir,
            tenant: ctx.tenant,
        };
        command.prepare(&preparer).await?;
        Ok(command)
    }

    /// [`Pipeline::run`]'s second half: decides a prepared command (again,
    /// after a lost race) and appends it.
    pub async fn run_prepared(
        &self,
        command: Command,
        ctx: Context,
    ) -> Result<Outcome, CommandError> {
        let mut scopes = vec![ctx.tenant];
        scopes.extend(command.extra_scope());
        let (tenant, metadata) = (ctx.tenant, ctx.metadata.clone());
        let name = command.name();
        let decide: Decide<Option<Id>> = Box::new(move |dir| decide(dir, &ctx, &command));
        let (id, appended) = self
            .critical(
                &scopes,
                tenant,
                metadata,
                decide,
                Redecide::Within(self.redecide_within),
            )
            .await
            .inspect_err(|e| tracing::debug!(command = name, error = %e, "command refused"))?;
        Ok(Outcome { id, appended })
    }

    /// Appends what `decide` (a pure function of the directory) decides,
    /// under `tenant`'s lock, once: no deciding again after a lost race.
    /// For decisions made outside the command layer (tests that record
    /// events directly); everything else goes through [`Pipeline::run`].
    pub async fn execute<T: Send + 'static>(
        &self,
        tenant: TenantId,
        metadata: Metadata,
        decide: impl FnOnce(&Directory) -> Result<(Decision, T), CommandError> + Send + 'static,
    ) -> Result<(T, Option<Appended>), CommandError> {
        let mut once = Some(decide);
        let decide: Decide<T> = Box::new(move |dir| match once.take() {
            Some(f) => f(dir),
            None => Err(CommandError::Unavailable("decided twice".into())),
        });
        self.critical(&[tenant], tenant, metadata, decide, Redecide::Never)
            .await
    }

    /// The critical section: locks (ascending order, so two multi-scope
    /// commands cannot deadlock), decide, append, wait for the projection;
    /// on a lost race, catch up and decide again (as `redecide` says).
    /// Events are recorded in `tenant`.
    async fn critical<T: Send + 'static>(
        &self,
        scopes: &[TenantId],
        tenant: TenantId,
        metadata: Metadata,
        mut decide: Decide<T>,
        redecide: Redecide,
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
        let (decision, output, basis) = decide_now(&self.projector, &order, &mut decide)?;
        if decision.is_empty() {
            return Ok((output, None));
        }
        let metadata = Arc::new(metadata);
        let mut decided_at = basis.offset;
        // Queued now: the write happens whether or not anyone awaits it.
        let append = self
            .log
            .append_decided(request(decision, tenant, metadata.clone())?, basis);
        let (log, projector) = (self.log.clone(), self.projector.clone());
        let stopped = self.stopped.subscribe();
        let races = self.races.clone();
        let started = std::time::Instant::now();
        let critical = tokio::spawn(async move {
            let _guards = guards;
            let (mut append, mut output) = (append, output);
            let mut lost = 0u32;
            loop {
                match append.await {
                    Ok(appended) => {
                        wait_applied(&projector, stopped.clone(), appended.last_offset).await?;
                        return Ok((output, Some(appended)));
                    }
                    Err(e @ (AppendError::Conflict { .. } | AppendError::Stale { .. })) => {
                        let Redecide::Within(within) = redecide else {
                            return Err(CommandError::from(e));
                        };
                        races.lost.fetch_add(1, Ordering::Relaxed);
                        lost += 1;
                        races.most.fetch_max(u64::from(lost), Ordering::Relaxed);
                        // What won the race is in the log: decide against it.
                        wait_applied(&projector, stopped.clone(), log.head()).await?;
                        let moved = projector.applied() > decided_at;
                        let elapsed = started.elapsed();
                        match after_lost_race(lost, elapsed, within, moved) {
                            AfterLostRace::DecideAgain => {}
                            AfterLostRace::Refuse => return Err(CommandError::from(e)),
                            AfterLostRace::GiveUp => {
                                races.contended.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(lost, ?elapsed, reason = %e, "a command kept losing races for the log; giving up");
                                return Err(CommandError::Contended(format!(
                                    "lost {lost} races for the log to other writers in {elapsed:?}: {e}"
                                )));
                            }
                        }
                        tracing::debug!(lost, reason = %e, "an append lost a race; deciding again");
                        let (decision, again, basis) = decide_now(&projector, &order, &mut decide)?;
                        decided_at = basis.offset;
                        output = again;
                        if decision.is_empty() {
                            return Ok((output, None));
                        }
                        append =
                            log.append_decided(request(decision, tenant, metadata.clone())?, basis);
                    }
                    Err(e) => return Err(CommandError::from(e)),
                }
            }
        });
        critical
            .await
            .map_err(|e| CommandError::Unavailable(format!("the write did not complete: {e}")))?
    }
}

/// Decides against the projection's latest state, and says what the
/// decision was made against: the applied offset is read before the state,
/// so it is a lower bound of what the decision saw (a log shared by several
/// nodes refuses the append if another node wrote in these tenants after
/// it; see [`Basis`]).
fn decide_now<T>(
    projector: &Projector<ReadModel>,
    tenants: &[TenantId],
    decide: &mut Decide<T>,
) -> Result<(Decision, T, Basis), CommandError> {
    let offset = projector.applied();
    let state = projector.read();
    let (decision, output) = decide(&state)?;
    let basis = Basis {
        offset,
        tenants: tenants.to_vec(),
    };
    Ok((decision, output, basis))
}

/// The log request for a decision recorded in `tenant`.
fn request(
    decision: Decision,
    tenant: TenantId,
    metadata: Arc<Metadata>,
) -> Result<AppendRequest, CommandError> {
    let events = decision
        .events
        .iter()
        .map(|e| e.to_new_event(tenant))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AppendRequest {
        events,
        expected: decision.expected,
        metadata,
    })
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
    use crate::commands::users::{
        CreateUser, ExtensionNumber, NewUserIds, PrimaryChoice, UserName,
    };
    use futures::future::BoxFuture;
    use futures::stream::BoxStream;
    use switchboard_events::domain::{UserCreated, UserUpdated};
    use switchboard_events::{Durability, Envelope, Event, LogConfig, LogError, SledLog, StreamId};
    use switchboard_projections::directory::Scope;
    use tokio::sync::{Notify, Semaphore};

    /// A log whose appends are queued at once (as the real writer's are)
    /// but reach the real log only when the test opens the gate. Before
    /// the first append of ours, it may let a competitor win a race: the
    /// competitor's events are appended and ours is refused as a lost
    /// optimistic-concurrency race, as a log shared by several nodes
    /// refuses an append whose expected head moved.
    struct Gated {
        inner: Arc<dyn EventLog>,
        gate: Arc<Semaphore>,
        queued: Arc<Notify>,
        /// Appended just before our next append, which then loses.
        competitors: Mutex<Vec<AppendRequest>>,
        /// Appends refused as lost races so far.
        lost: Arc<std::sync::atomic::AtomicU32>,
    }

    impl EventLog for Gated {
        fn append(&self, r: AppendRequest) -> BoxFuture<'static, Result<Appended, AppendError>> {
            let (inner, gate) = (self.inner.clone(), self.gate.clone());
            let competitor = self.competitors.lock().pop();
            let lost = self.lost.clone();
            let task = tokio::spawn(async move {
                let _open = gate.acquire().await;
                if let Some(c) = competitor {
                    inner.append(c).await?;
                    lost.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    return Err(AppendError::Conflict {
                        stream: StreamId::of("head", Id(1)),
                        expected: switchboard_events::Expected::Exactly(0),
                        actual: inner.head(),
                    });
                }
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
            competitors: Mutex::new(Vec::new()),
            lost: Arc::default(),
        });
        let hasher = SecretHasher::new(1024, 1).expect("argon2 params");
        let key = Arc::new(SecretKey::new([7; 32]));
        let pipeline = Pipeline::new(gated.clone(), projector.clone(), hasher, key);
        World {
            _dir: dir,
            gated,
            pipeline,
            projector,
        }
    }

    fn ctx() -> Context {
        Context::system(T, "test")
    }

    /// CreateUser `name` with extension `number`, its ids given.
    fn create(name: &str, number: &str, n: u64) -> Command {
        Command::CreateUser(CreateUser {
            ids: NewUserIds {
                user_id: NewId::given(Id(n)),
                extension_id: NewId::given(Id(n + 100)),
                link_id: NewId::given(Id(n + 200)),
            },
            name: UserName::parse(name).expect("name"),
            role: "StandardUser".into(),
            password: Secret::Hashed("p".into()),
            extension_password: Secret::Hashed("e".into()),
            voicemail_pin: Secret::Hashed("v".into()),
            extension: PrimaryChoice::Number(ExtensionNumber::parse(number, "n").expect("number")),
            attrs: Default::default(),
        })
    }

    /// What a competing node appends: events recorded in `T` as is.
    fn competitor(events: Vec<Event>) -> AppendRequest {
        AppendRequest {
            events: events
                .iter()
                .map(|e| e.to_new_event(T))
                .collect::<Result<Vec<_>, _>>()
                .expect("encodes"),
            expected: Vec::new(),
            metadata: Arc::new(Metadata::system("other node")),
        }
    }

    fn scope(p: &Projector<ReadModel>) -> Scope {
        p.read().scope(T).cloned().unwrap_or_default()
    }

    #[tokio::test]
    async fn a_dropped_request_keeps_its_tenant_locked_until_its_events_are_applied() {
        let w = world(true);
        let first = w.pipeline.run(create("ann", "101", 1), ctx());
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
        let second = w.pipeline.run(create("bob", "101", 2), ctx()).await;
        assert!(
            matches!(
                second,
                Err(CommandError::Conflict(
                    ConflictKind::ExtensionNumberInUse,
                    _
                ))
            ),
            "{second:?}"
        );
        assert_eq!(scope(&w.projector).users.len(), 1);
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
            async move { p.run(create("ann", "101", 1), ctx()).await }
        });
        w.gated.queued.notified().await;
        assert!(pipeline.following());
        pipeline.projection_stopped("test");
        let r = waiting.await.expect("task");
        assert!(matches!(r, Err(CommandError::Unavailable(_))), "{r:?}");
        assert!(pipeline.locks.get(T).try_lock().is_ok(), "the lock is free");
        let r = pipeline.run(create("bob", "102", 2), ctx()).await;
        assert!(matches!(r, Err(CommandError::Unavailable(_))), "{r:?}");
        assert!(!pipeline.following());
    }

    #[tokio::test]
    async fn idle_tenant_locks_are_dropped() {
        let w = world(true);
        w.gated.gate.add_permits(1000);
        for n in 0..20u64 {
            // A sign-out of an unknown session decides nothing.
            let cmd = Command::EndSession { session_id: Id(1) };
            w.pipeline
                .run(cmd, Context::system(Id(100 + n), "test"))
                .await
                .expect("no-op");
        }
        assert!(
            w.pipeline.tenant_locks() <= 1,
            "{}",
            w.pipeline.tenant_locks()
        );
    }

    #[tokio::test]
    async fn a_lost_race_is_decided_again_against_the_state_that_won() {
        let w = world(true);
        w.gated.gate.add_permits(1000);
        w.pipeline
            .run(create("ann", "101", 1), ctx())
            .await
            .expect("ann");
        // Another node changes ann's e-mail just before our update of her
        // display name reaches the log.
        let mut email = switchboard_events::Fields::new();
        email.insert("email".into(), "ann@example.com".into());
        w.gated
            .competitors
            .lock()
            .push(competitor(vec![Event::UserUpdated(UserUpdated {
                user_id: Id(1),
                changes: email.into(),
            })]));
        let mut name = switchboard_events::Fields::new();
        name.insert("display_name".into(), "Ann".into());
        let update = Command::UpdateUser(users::UpdateUser {
            user_id: Id(1),
            attrs: name,
            ..users::UpdateUser::of(Id(1))
        });
        let out = w.pipeline.run(update, ctx()).await.expect("decided again");
        assert!(out.appended.is_some());
        assert_eq!(w.gated.lost.load(std::sync::atomic::Ordering::SeqCst), 1);
        let s = scope(&w.projector);
        let ann = s.users.get(&Id(1)).expect("ann");
        assert_eq!(
            ann.attr("email"),
            Some(switchboard_events::ValueRef::Str("ann@example.com"))
        );
        assert_eq!(
            ann.attr("display_name"),
            Some(switchboard_events::ValueRef::Str("Ann"))
        );
        assert!(w.pipeline.locks.get(T).try_lock().is_ok(), "released");
    }

    #[tokio::test]
    async fn a_race_lost_to_a_conflicting_write_is_refused_by_the_new_decision() {
        let w = world(true);
        w.gated.gate.add_permits(1000);
        // Another node creates bob first: deciding again sees him, so the
        // name is taken (a mere retry of the first decision would create a
        // second bob).
        w.gated
            .competitors
            .lock()
            .push(competitor(vec![Event::UserCreated(UserCreated {
                user_id: Id(50),
                name: "bob".into(),
                role: "StandardUser".into(),
                password_hash: "h".into(),
                attrs: Default::default(),
            })]));
        let r = w.pipeline.run(create("bob", "102", 2), ctx()).await;
        assert!(
            matches!(
                r,
                Err(CommandError::Conflict(ConflictKind::AlreadyExists, _))
            ),
            "{r:?}"
        );
        let s = scope(&w.projector);
        assert_eq!(s.users.len(), 1);
        assert!(s.users.contains_key(&Id(50)));
    }

    /// `n` competing creations of users other than ours.
    fn competitors(w: &World, n: u32) {
        for n in 0..n {
            w.gated
                .competitors
                .lock()
                .push(competitor(vec![Event::UserCreated(UserCreated {
                    user_id: Id(50 + u64::from(n)),
                    name: format!("other{n}"),
                    role: "StandardUser".into(),
                    password_hash: "h".into(),
                    attrs: Default::default(),
                })]));
        }
    }

    #[tokio::test]
    async fn races_lost_again_and_again_are_decided_again_until_one_wins() {
        let w = world(true);
        w.gated.gate.add_permits(1000);
        // Given ten writers of other nodes, each winning one race against
        // our command (three were once enough to refuse it with 409),
        competitors(&w, 10);
        // when it runs, then it is created after the ten lost races.
        let out = w
            .pipeline
            .run(create("bob", "102", 2), ctx())
            .await
            .expect("created in the end");
        assert_eq!(out.created(), Ok(Id(2)));
        assert_eq!(w.gated.lost.load(std::sync::atomic::Ordering::SeqCst), 10);
        assert_eq!(
            w.pipeline.races(),
            RaceStats {
                lost: 10,
                contended: 0,
                most: 10
            }
        );
        assert_eq!(scope(&w.projector).users.len(), 11);
        assert!(w.pipeline.locks.get(T).try_lock().is_ok(), "released");
    }

    #[tokio::test]
    async fn races_lost_past_the_deadline_are_contended_not_a_conflict_and_release_the_lock() {
        let w = world(true);
        let w = World {
            pipeline: w.pipeline.with_redecide_within(Duration::ZERO),
            ..w
        };
        w.gated.gate.add_permits(1000);
        competitors(&w, 3);
        let r = w.pipeline.run(create("bob", "102", 2), ctx()).await;
        // The first lost race is decided again even past the deadline; the
        // second gives up: unavailable (retry), never 409.
        assert!(matches!(r, Err(CommandError::Contended(_))), "{r:?}");
        assert_eq!(w.gated.lost.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(
            w.pipeline.races(),
            RaceStats {
                lost: 2,
                contended: 1,
                most: 2
            }
        );
        assert!(!scope(&w.projector).users.contains_key(&Id(2)));
        assert!(w.pipeline.locks.get(T).try_lock().is_ok(), "released");
        let api = crate::http::error::ApiError::from(r.expect_err("refused"));
        assert_eq!(api.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(api.retry_after, Some(1));
    }

    #[test]
    fn a_lost_race_is_decided_again_until_the_deadline_and_always_once() {
        let within = Duration::from_secs(10);
        // Given the first lost race, when it comes even past the deadline,
        // then the command is decided again.
        for elapsed in [Duration::ZERO, within, within * 3] {
            assert_eq!(
                after_lost_race(1, elapsed, within, true),
                AfterLostRace::DecideAgain
            );
        }
        // Given any later lost race, when the deadline has not passed, then
        // again; when it has, then give up.
        for lost in [2, 3, 10, 1000] {
            assert_eq!(
                after_lost_race(lost, within - Duration::from_millis(1), within, true),
                AfterLostRace::DecideAgain
            );
            assert_eq!(
                after_lost_race(lost, within, within, true),
                AfterLostRace::GiveUp
            );
        }
        // Given no time at all, then exactly one new decision.
        assert_eq!(
            after_lost_race(2, Duration::ZERO, Duration::ZERO, true),
            AfterLostRace::GiveUp
        );
    }

    #[test]
    fn a_lost_race_with_nothing_new_to_decide_against_is_refused_at_once() {
        let within = Duration::from_secs(10);
        // Given a projection that applied nothing since the refused
        // decision, when the race is the first or any later one, inside the
        // deadline or past it, then the refusal stands (409): the same state
        // would give the same refused append.
        for lost in [1, 2, 50] {
            for elapsed in [Duration::ZERO, within * 2] {
                assert_eq!(
                    after_lost_race(lost, elapsed, within, false),
                    AfterLostRace::Refuse
                );
            }
        }
    }

    #[tokio::test]
    async fn preparing_mints_ids_and_hashes_secrets_once() {
        let w = world(true);
        w.gated.gate.add_permits(1000);
        let cmd = Command::CreateUser(CreateUser {
            ids: NewUserIds::default(),
            name: UserName::parse("cy").expect("name"),
            role: "StandardUser".into(),
            password: SecretRule::Password
                .parse("password", "correct horse")
                .expect("ok"),
            extension_password: Secret::Random,
            voicemail_pin: Secret::Random,
            extension: PrimaryChoice::Number(ExtensionNumber::parse("103", "n").expect("n")),
            attrs: Default::default(),
        });
        let prepared = w.pipeline.prepare(cmd, &ctx()).await.expect("prepared");
        let Command::CreateUser(c) = &prepared else {
            panic!("{prepared:?}");
        };
        assert!(c.ids.user_id.get().is_ok() && c.ids.link_id.get().is_ok());
        for s in [&c.password, &c.extension_password, &c.voicemail_pin] {
            assert!(s.hashed().expect("hashed").starts_with("$argon2id$"));
        }
        // Deciding it twice gives the same events: nothing is minted or
        // hashed in a decision.
        let dir = w.projector.read();
        let a = decide(&dir, &ctx(), &prepared).expect("decides");
        let b = decide(&dir, &ctx(), &prepared).expect("decides");
        assert_eq!(a, b);
        let out = w
            .pipeline
            .run_prepared(prepared, ctx())
            .await
            .expect("runs");
        let user = scope(&w.projector)
            .users
            .get(&out.created().expect("id"))
            .cloned()
            .expect("created");
        assert!(SecretHasher::new(1024, 1)
            .expect("params")
            .verify(&user.password_hash(), "correct horse"));
    }
}
