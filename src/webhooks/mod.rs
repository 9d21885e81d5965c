//! # Webhooks that deliver
//!
//! A tenant's `extension_event` and `cdr_event` settings (PortSIP's tenant
//! webhook objects) are subscriptions: switchboard POSTs each matching
//! change to the configured URL, **at least once and in log order per
//! subscription**, signed with the tenant's secret, retried with
//! exponential backoff and jitter, and parked in a dead-letter state after
//! `webhook_max_attempts` failures. Delivery runs beside the HTTP service
//! and reads only the log (through [`EventLog::subscribe`]), never the
//! projections, so what is sent is exactly what was recorded.
//!
//! Extension events are the changes to a tenant's extensions and their
//! links to users; CDR events are the CDRs the PBX reports (`cdr.created`;
//! see [`payload`] for the types and the JSON body).
//!
//! # Layout
//! - [`settings`]: a tenant's subscriptions, folded from its stream (pure).
//! - [`payload`]: which events a subscription wants, and the JSON body (pure).
//! - [`signing`]: per-tenant secrets and the signature headers.
//! - [`store`]: the cursor and recent attempts of each subscription, in a
//!   small file beside the log.
//! - [`deliver`]: the per-subscription worker (retries, dead letter, the
//!   HTTP client and its private-address guard).
//! - this file: [`Webhooks`], the supervisor that starts, updates and stops
//!   workers as tenants change their settings, and what the admin routes read.
//!
//! # Several nodes
//! On the JetStream backend every node follows the whole log, but only one
//! delivers: the holder of the `webhooks` lease ([`Cluster`]; see
//! `switchboard_events::jetstream::coordination`). Every node follows the
//! tenants' settings (the admin routes answer on any node); the holder runs
//! the workers, with their cursors in a bucket shared by the nodes. When it
//! dies or loses JetStream, it lets go of the lease and stops its workers,
//! and another node takes over (after the lease's time to live) at the
//! shared cursors: still at least once, the deliveries in flight at the
//! handover being the only ones that may arrive twice.

pub mod deliver;
pub mod payload;
pub mod settings;
pub mod signing;
pub mod store;

use crate::clock::SharedClock;
use crate::config::Config;
use deliver::{Policy, PublicOnly, Shared, Worker};
use futures::StreamExt;
use parking_lot::Mutex;
use settings::{Kind, Subscription, TenantHooks};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use store::{Attempt, Status, Store, SubState};
use switchboard_events::jetstream::coordination::{Lease, SharedState};
use switchboard_events::{Event, EventLog, StreamId, TenantId};
use tokio::sync::watch;

/// The key file beside the data when `webhook_secret` is unset.
pub const KEY_FILE: &str = "webhook.key";

/// The webhook service could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The signing key could not be read or created.
    #[error(transparent)]
    Key(#[from] crate::keyfile::KeyError),
    /// The HTTP client could not be built (TLS roots, ...).
    #[error("webhook HTTP client: {0}")]
    Client(String),
}

/// A subscription as the admin routes show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Which subscription.
    pub kind: Kind,
    /// Its receiver, while on.
    pub url: Option<String>,
    /// `DISABLED`, `ACTIVE`, `DEAD_LETTER`, or `NO_EVENTS` (on, but nothing
    /// of this kind is recorded yet: CDRs).
    pub status: &'static str,
    /// Where delivery starts (the offset that turned it on).
    pub since: u64,
    /// Every wanted event up to this offset has been delivered.
    pub delivered_through: Option<u64>,
    /// The event that exhausted its attempts, while parked.
    pub dead_letter_offset: Option<u64>,
}

/// Why a resume was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    /// The subscription is off.
    #[error("the subscription is disabled")]
    Disabled,
    /// It is delivering; there is nothing to resume.
    #[error("the subscription is not in the dead-letter state")]
    NotParked,
    /// Another node delivers (it holds the webhook lease): only it can
    /// wake its worker.
    #[error("this node does not deliver webhooks; send the resume to the node whose /readyz shows webhooks_delivering")]
    Elsewhere,
}

/// What several nodes on one JetStream log share for delivery: the lease
/// that says which node delivers, and the subscriptions' states.
pub struct Cluster {
    /// Held by the node that delivers.
    pub lease: Lease,
    /// The subscriptions' cursors and attempts.
    pub state: SharedState,
}

/// How long a dead delivering node holds up delivery at most: the lease's
/// time to live (its holder lets go of it within two thirds of this).
pub const LEASE_TTL: Duration = Duration::from_secs(6);

/// How often the delivering node looks for resumes other nodes forwarded.
pub const RESUME_POLL: Duration = Duration::from_millis(250);

/// The webhook deliverer: one worker per enabled subscription.
pub struct Webhooks {
    shared: Arc<Shared>,
    workers: Mutex<HashMap<(TenantId, Kind), Worker>>,
    known: Mutex<HashMap<TenantId, TenantHooks>>,
    /// Whether this node delivers (always, alone on its log).
    leading: watch::Receiver<bool>,
    /// Kept for as long as the service runs (dropping it stops renewing).
    lease: Option<Lease>,
}

impl Webhooks {
    /// Prepares delivery (key, HTTP client); nothing runs until [`start`](Self::start).
    pub fn new(
        config: &Config,
        log: Arc<dyn EventLog>,
        clock: SharedClock,
        shutdown: watch::Receiver<bool>,
        metrics: crate::metrics::SharedMetrics,
        cluster: Option<Cluster>,
    ) -> Result<Arc<Webhooks>, SetupError> {
        let key =
            crate::keyfile::load(config.webhook_secret.as_deref(), &config.data_dir, KEY_FILE)?;
        let mut client = reqwest::Client::builder()
            // A redirect would send the signed body somewhere the tenant
            // did not configure.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("switchboard-webhooks/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(config.webhook_timeout_secs.max(1)));
        if !config.webhook_allow_private_targets {
            client = client.dns_resolver(Arc::new(PublicOnly));
        }
        let client = client
            .build()
            .map_err(|e| SetupError::Client(e.to_string()))?;
        let (store, leading, lease) = match cluster {
            Some(Cluster { lease, state }) => (Store::shared(state), lease.held(), Some(lease)),
            None => (Store::new(&config.data_dir), watch::channel(true).1, None),
        };
        Ok(Arc::new(Webhooks {
            shared: Arc::new(Shared {
                log,
                store,
                key: signing::MasterKey::new(key),
                clock,
                client,
                policy: Policy {
                    max_attempts: config.webhook_max_attempts.max(1),
                    base: Duration::from_millis(config.webhook_retry_base_ms),
                    max: Duration::from_millis(
                        config
                            .webhook_retry_max_ms
                            .max(config.webhook_retry_base_ms),
                    ),
                    timeout: Duration::from_secs(config.webhook_timeout_secs.max(1)),
                },
                allow_private: config.webhook_allow_private_targets,
                shutdown,
                recorded: watch::channel(0).0,
                metrics,
            }),
            workers: Mutex::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
            leading,
            lease,
        }))
    }

    /// Whether this node delivers now.
    pub fn leading(&self) -> bool {
        *self.leading.borrow()
    }

    /// On the delivering node of a cluster, carries out the resumes other
    /// nodes asked for: every [`RESUME_POLL`], each parked worker whose
    /// parked event a request names is woken; requests for a worker that
    /// is not parked (any more) are dropped.
    fn carry_out_forwarded_resumes(self: &Arc<Self>) {
        if self.lease.is_none() {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let mut shutdown = me.shared.shutdown.clone();
            let mut tick = tokio::time::interval(RESUME_POLL);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                }
                if !me.leading() {
                    continue;
                }
                let store = &me.shared.store;
                for (&(tenant, kind), w) in me.workers.lock().iter() {
                    let Some(asked) = store.resume_requested(tenant, kind) else {
                        continue;
                    };
                    let state = w.state.lock();
                    if state.status == Status::DeadLetter && state.dead_letter_offset == Some(asked)
                    {
                        tracing::info!(
                            tenant = tenant.0,
                            kind = kind.name(),
                            "resuming a parked webhook subscription, as another node asked"
                        );
                        w.resume.notify_one();
                    }
                    store.clear_resume(tenant, kind);
                }
            }
        });
    }

    /// Follows the lease: on taking it, starts the workers of every known
    /// tenant (at the shared cursors); on losing it, stops them all.
    fn follow_lease(self: &Arc<Self>) {
        if self.lease.is_none() {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let mut shutdown = me.shared.shutdown.clone();
            let mut held = me.leading.clone();
            loop {
                tokio::select! {
                    r = held.changed() => if r.is_err() { return },
                    _ = shutdown.wait_for(|s| *s) => return,
                }
                if *held.borrow_and_update() {
                    tracing::info!("this node holds the webhook lease: delivering");
                    let tenants: Vec<TenantId> = me.known.lock().keys().copied().collect();
                    for t in tenants {
                        me.reconcile(t).await;
                    }
                } else {
                    tracing::warn!("this node lost the webhook lease: stopping delivery");
                    let stopped: Vec<_> = me.workers.lock().drain().collect();
                    for (_, w) in stopped {
                        w.task.abort();
                    }
                }
            }
        });
    }

    /// Starts the supervisor: `tenants` are the tenants the projection held
    /// at offset `applied`; tenant changes after it are followed in the log.
    pub fn start(
        self: &Arc<Self>,
        tenants: Vec<TenantId>,
        applied: u64,
    ) -> tokio::task::JoinHandle<()> {
        self.follow_lease();
        self.carry_out_forwarded_resumes();
        let me = self.clone();
        tokio::spawn(async move {
            for t in tenants {
                me.reconcile(t).await;
            }
            let mut shutdown = me.shared.shutdown.clone();
            let mut events = me.shared.log.subscribe(applied + 1);
            loop {
                let next = tokio::select! {
                    n = events.next() => n,
                    _ = shutdown.wait_for(|s| *s) => return,
                };
                match next {
                    Some(Ok(env)) if env.event_type.starts_with("Tenant") => {
                        let tenant = match Event::from_envelope(&env) {
                            Ok(Event::TenantCreated(e)) => e.tenant_id,
                            Ok(Event::TenantUpdated(e)) => e.tenant_id,
                            Ok(Event::TenantDeleted(e)) => e.tenant_id,
                            _ => continue,
                        };
                        me.reconcile(tenant).await;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        // Reading stopped; the workers keep their own cursors.
                        tracing::error!(error = %e, "webhook supervisor cannot follow the log");
                        return;
                    }
                    None => return,
                }
            }
        })
    }

    /// Brings a tenant's workers in line with its settings in the log.
    async fn reconcile(&self, tenant: TenantId) {
        let log = self.shared.log.clone();
        let hooks = tokio::task::spawn_blocking(move || {
            let stream = StreamId::of("tenant", tenant);
            settings::fold(log.read_stream(&stream, 1).filter_map(|r| {
                let env = r.ok()?;
                Some((env.offset, Event::from_envelope(&env).ok()?))
            }))
        })
        .await
        .unwrap_or_default();
        if let (Some(h), true) = (&hooks, self.leading()) {
            // A worker about to start reads the latest shared cursor.
            for kind in Kind::ALL {
                let idle = !self.workers.lock().contains_key(&(tenant, kind));
                if idle && h.get(kind).target.is_some() {
                    self.shared.store.refresh(tenant, kind).await;
                }
            }
        }
        let mut workers = self.workers.lock();
        for kind in Kind::ALL {
            let sub = hooks
                .as_ref()
                .map(|h| h.get(kind).clone())
                .unwrap_or_default();
            let wanted = sub.target.is_some() && payload::deliverable(kind);
            let key = (tenant, kind);
            if hooks.is_none() {
                // The tenant is gone (its worker has seen that too).
                if let Some(w) = workers.remove(&key) {
                    w.task.abort();
                }
                self.shared.store.remove(tenant, kind);
                continue;
            }
            match workers.get(&key) {
                // A running worker follows switching off and on in log order
                // itself; it only needs the latest target.
                Some(w) => {
                    w.settings.send_replace(sub);
                }
                // Checked under the workers' lock: a lease lost meanwhile
                // either prevents this or stops the worker right after.
                None if wanted && self.leading() => {
                    let w = Worker::spawn(self.shared.clone(), tenant, kind, sub);
                    workers.insert(key, w);
                }
                None => {}
            }
        }
        let mut known = self.known.lock();
        match hooks {
            Some(h) => known.insert(tenant, h),
            None => known.remove(&tenant),
        };
    }

    /// Changes after every recorded (and saved) delivery attempt, with the
    /// count so far: something to await instead of polling the status.
    pub fn recorded(&self) -> watch::Receiver<u64> {
        self.shared.recorded.subscribe()
    }

    /// The signing secret of a tenant.
    pub fn signing_secret(&self, tenant: TenantId) -> String {
        self.shared.key.tenant_secret(tenant)
    }

    fn saved(&self, tenant: TenantId, kind: Kind) -> Option<SubState> {
        match self.workers.lock().get(&(tenant, kind)) {
            Some(w) => Some(w.state.lock().clone()),
            None => self.shared.store.load(tenant, kind),
        }
    }

    /// A subscription's status.
    pub fn view(&self, tenant: TenantId, kind: Kind) -> View {
        let sub: Subscription = self
            .known
            .lock()
            .get(&tenant)
            .map(|h| h.get(kind).clone())
            .unwrap_or_default();
        let saved = self.saved(tenant, kind).filter(|s| s.since == sub.since);
        let status = match (&sub.target, &saved) {
            (None, _) => "DISABLED",
            (Some(_), _) if !payload::deliverable(kind) => "NO_EVENTS",
            (Some(_), Some(s)) if s.status == Status::DeadLetter => "DEAD_LETTER",
            (Some(_), _) => "ACTIVE",
        };
        View {
            kind,
            url: sub.target.map(|t| t.url),
            status,
            since: sub.since,
            delivered_through: saved.as_ref().map(|s| s.delivered_through),
            dead_letter_offset: saved.and_then(|s| s.dead_letter_offset),
        }
    }

    /// Recent attempts, newest first.
    pub fn attempts(&self, tenant: TenantId, kind: Kind) -> Vec<Attempt> {
        self.saved(tenant, kind)
            .map(|s| s.attempts.into_iter().rev().collect())
            .unwrap_or_default()
    }

    /// Wakes a parked subscription: the event it gave up on is tried again.
    /// On a node that does not deliver (JetStream, another node holds the
    /// lease) the resume is forwarded through the shared bucket to the node
    /// that does, which carries it out within [`RESUME_POLL`].
    pub fn resume(&self, tenant: TenantId, kind: Kind) -> Result<(), ResumeError> {
        if !self.leading() {
            let enabled = self
                .known
                .lock()
                .get(&tenant)
                .is_some_and(|h| h.get(kind).target.is_some());
            if !enabled {
                return Err(ResumeError::Disabled);
            }
            let parked = self
                .shared
                .store
                .load(tenant, kind)
                .filter(|s| s.status == Status::DeadLetter)
                .and_then(|s| s.dead_letter_offset)
                .ok_or(ResumeError::NotParked)?;
            if self.shared.store.request_resume(tenant, kind, parked) {
                return Ok(());
            }
            return Err(ResumeError::Elsewhere);
        }
        let workers = self.workers.lock();
        let w = workers.get(&(tenant, kind)).ok_or(ResumeError::Disabled)?;
        if w.state.lock().status != Status::DeadLetter {
            return Err(ResumeError::NotParked);
        }
        w.resume.notify_one();
        Ok(())
    }

    /// Waits (up to `grace`) for the workers to finish their in-flight
    /// attempt and stop.
    pub async fn stopped(&self, grace: Duration) {
        let tasks: Vec<_> = self.workers.lock().drain().map(|(_, w)| w.task).collect();
        let all = futures::future::join_all(tasks);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("webhook workers did not stop in time");
        }
    }
}
