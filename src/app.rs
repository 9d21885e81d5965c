//! Starting and stopping the service.
//!
//! Start-up order: open the log (tail check) → bind the listener (so
//! `/healthz` answers at once) → replay the log into the projections on a
//! blocking thread → follow the log live → bootstrap the system
//! administrator on an empty log → mark ready. A projection snapshot that
//! matches the log is loaded first, so the replay covers only the tail. Shutdown stops taking
//! connections, lets in-flight requests finish, then closes the log (the
//! writer drains its queue and flushes).

use crate::auth::password::SecretHasher;
use crate::auth::throttle::Throttle;
use crate::commands::bootstrap::{self, CreateSystemAdministrator};
use crate::commands::{Command, Context, NewId, Pipeline, Secret};
use crate::config::Config;
use crate::config::LogBackend;
use crate::http::{self, AppState};
use crate::queries::audit::AuditIndex;
use crate::queries::{Queries, ReadModel};
use crate::snapshots;
use rand::distributions::Alphanumeric;
use rand::Rng;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::jetstream::{JetStreamConfig, JetStreamLog};
use switchboard_events::{EventLog, LogConfig, SegmentLog, SYSTEM_TENANT};
use switchboard_projections::Projector;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The service's tokio runtime (the CLI's, and the read bench's so its
/// figures are the binary's). Tokio's defaults: shorter shared-queue and
/// I/O polling intervals, meant to shorten a write's hops while 32
/// connections list, measured no different (BENCHMARKS.md, "Read side at
/// scale").
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// The service failed to start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The log could not be opened (corrupt, locked by another process...).
    #[error(transparent)]
    Open(#[from] switchboard_events::OpenError),
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// Replaying the log failed.
    #[error("replaying the log failed: {0}")]
    Replay(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A running service.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// Where `/metrics` is served without authentication (`metrics_listen`).
    pub metrics_addr: Option<SocketAddr>,
    /// Shared state (the dialects' view: writes through the pipeline,
    /// reads through the queries layer).
    pub state: AppState,
    /// The log itself, for operators' tools and tests that write records
    /// around the commands (never reachable from the HTTP handlers).
    pub log: Arc<dyn EventLog>,
    /// Whether the service opened the log itself (then it also releases the
    /// data directory before [`Running::wait`] returns).
    owns_log: bool,
    shutdown: Arc<watch::Sender<bool>>,
    task: JoinHandle<Result<(), AppError>>,
}

/// How long [`Running::wait`] waits for the last background holders of the
/// log (tasks that saw shutdown but were not polled yet, the audit index's
/// catch-up thread) to let go of it.
const RELEASE_WAIT: Duration = Duration::from_secs(30);

/// Asks a running service to stop (cloneable, for signal handlers).
#[derive(Clone)]
pub struct ShutdownTrigger(Arc<watch::Sender<bool>>);

impl ShutdownTrigger {
    /// Requests a graceful stop.
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl Running {
    /// Asks the service to stop gracefully.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// A handle that can stop the service from elsewhere.
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        ShutdownTrigger(self.shutdown.clone())
    }

    /// Waits until the service has stopped and, when it opened the log
    /// itself, until the data directory is released (the log's lock goes
    /// with its last handle), so the same directory can be opened again at
    /// once: a restart in the same process, or an operator's tool.
    pub async fn wait(self) -> Result<(), AppError> {
        let Running {
            state,
            log,
            owns_log,
            task,
            ..
        } = self;
        // The call history store locks its file like the log does. Its
        // follower lets go of the log an instant before it lets go of the
        // store (parameters drop one after the other), so waiting for the
        // log alone can reopen the directory while the store is still held.
        let history = Arc::clone(&state.history);
        drop(state);
        let result = task
            .await
            .map_err(|e| AppError::Other(format!("server task failed: {e}")))?;
        if owns_log {
            // Background tasks end on shutdown but may not have run yet on a
            // busy machine; each holds the shared state (and so the log).
            let held = || Arc::strong_count(&log) > 1 || Arc::strong_count(&history) > 1;
            let deadline = tokio::time::Instant::now() + RELEASE_WAIT;
            while held() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if held() {
                tracing::warn!(
                    "the log or the call history is still held after stopping; the data directory stays locked"
                );
            }
        }
        result
    }

    /// Stops gracefully and waits.
    pub async fn stop(self) -> Result<(), AppError> {
        self.shutdown();
        self.wait().await
    }

    /// Resolves once the service is ready (replayed and bootstrapped).
    pub async fn ready(&self) {
        while !self.state.ready.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// How the service opens its log: the configured durability, tail check,
/// segment size and preallocation; migration and index rebuilds draw progress bars on a
/// terminal.
pub fn log_config(config: &Config) -> LogConfig {
    let mut lc = LogConfig::new(&config.data_dir);
    lc.durability = config.durability;
    lc.tail_check = config.tail_check;
    lc.segment_bytes = config.log_segment_mib.max(1) * 1024 * 1024;
    lc.preallocate = config.log_preallocate;
    lc.pipeline = config.log_pipeline;
    lc.progress = crate::tools::log_progress();
    lc
}

/// How the service reaches its JetStream log. Several nodes share the
/// stream, so what must be equal on every node is required here: the sync
/// token secret (a token taken on one node is read on another), the key
/// sealing PBX secrets (sealed by one node, opened by another) and the
/// webhook signing secret (a receiver checks one signature whoever sent).
pub fn jetstream_config(config: &Config) -> Result<JetStreamConfig, AppError> {
    let refuse = |what: &str| {
        AppError::Other(format!(
            "log_backend = \"jetstream\" needs {what} (the same on every node)"
        ))
    };
    if config.jetstream_servers.is_empty() {
        return Err(refuse("jetstream_servers"));
    }
    if config.sync_token_secret.is_none() {
        return Err(refuse("sync_token_secret"));
    }
    if config.secrets_key.is_none() && config.secrets_key_file.is_none() {
        return Err(refuse("secrets_key or secrets_key_file"));
    }
    if config.webhook_secret.is_none() {
        return Err(refuse("webhook_secret"));
    }
    if !matches!(config.jetstream_replicas, 1 | 3 | 5) {
        return Err(AppError::Other(format!(
            "jetstream_replicas = {}: 1, 3 or 5",
            config.jetstream_replicas
        )));
    }
    let mut js = JetStreamConfig::new(
        config.jetstream_servers.clone(),
        config.jetstream_stream.clone(),
    );
    js.replicas = config.jetstream_replicas;
    js.credentials = config.jetstream_credentials.clone();
    js.timeout = Duration::from_millis(config.jetstream_timeout_ms.max(100));
    js.node = config
        .node_name
        .clone()
        .unwrap_or_else(|| config.listen.to_string());
    Ok(js)
}

/// Starts the service on the wall clock; returns once it listens.
pub async fn start(config: Config) -> Result<Running, AppError> {
    start_with_clock(config, crate::clock::system()).await
}

/// Starts the service with the given clock (tests pass a
/// [`TestClock`](crate::clock::TestClock)); returns once it listens.
pub async fn start_with_clock(
    config: Config,
    clock: crate::clock::SharedClock,
) -> Result<Running, AppError> {
    start_with(config, clock, None).await
}

/// Starts the service with the given clock on `log` if given (already
/// open: tests wrap the log to inject storage faults), otherwise on the log
/// in `config.data_dir`.
pub async fn start_with(
    config: Config,
    clock: crate::clock::SharedClock,
    log: Option<Arc<dyn EventLog>>,
) -> Result<Running, AppError> {
    http::cors::layer(&config).map_err(|e| AppError::Other(e.to_string()))?;
    // The sync token key is loaded (or created) first: failing here leaves
    // no log open behind.
    let sync_key =
        crate::sync::SyncKey::load(config.sync_token_secret.as_deref(), &config.data_dir)
            .map_err(|e| AppError::Other(e.to_string()))?;
    let secrets = crate::secrets::SecretKey::load(
        config.secrets_key.as_deref(),
        config.secrets_key_file.as_deref(),
        &config.data_dir,
    )
    .map_err(|e| AppError::Other(e.to_string()))?;
    let metrics = crate::metrics::Metrics::new();
    let owns_log = log.is_none();
    let (log, shared_log): (Arc<dyn EventLog>, _) = match log {
        Some(log) => (log, None),
        None => open_log_shared(&config, Some(metrics.clone())).await?,
    };
    let webhook_cluster = webhook_cluster(shared_log.as_ref()).await?;
    let (directory, start) = load_directory(&config, &log).await?;
    // The audit index beside the log; the applier describes into it.
    let (index_dir, index_log) = (config.data_dir.clone(), log.clone());
    let (audit, audit_from) = tokio::task::spawn_blocking(move || {
        AuditIndex::open(&index_dir, index_log.as_ref(), start)
    })
    .await
    .map_err(|e| AppError::Other(e.to_string()))?
    .map_err(|e| AppError::Other(e.to_string()))?;
    let audit = Arc::new(audit);
    // Indexes are built once the replay is done (see `ReadModel::deferred`).
    // The replay keeps `as_of` copies where the log has none (a log
    // written before the service ran).
    let retainer =
        snapshots::ReplayRetainer::new(&config.data_dir, snapshots::Retention::of(&config));
    let model = ReadModel::deferred(directory)
        .with_audit(audit.outbox())
        .with_retainer(retainer);
    let projector = Projector::new(model, start);
    let hasher = SecretHasher::new(config.argon2_memory_kib, config.argon2_iterations)
        .map_err(|e| AppError::Other(e.to_string()))?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // `as_of` bases in memory: recent checkpoints of the live projection
    // and the last past states materialised.
    let past_states = Arc::new(crate::queries::as_of::PastStates::new(
        config.as_of_cached_states,
        config.as_of_recent_states,
    ));
    tokio::spawn(crate::queries::as_of::checkpoint_recent(
        past_states.clone(),
        projector.clone(),
        config.as_of_recent_every_events,
        shutdown_rx.clone(),
    ));
    let webhooks = crate::webhooks::Webhooks::new(
        &config,
        log.clone(),
        clock.clone(),
        shutdown_rx.clone(),
        metrics.clone(),
        webhook_cluster,
    )
    .map_err(|e| AppError::Other(e.to_string()))?;
    let mut files = crate::files::Store::open(config.data_dir.join("files"), config.file_limits())
        .map_err(|e| AppError::Other(format!("opening the file store: {e}")))?;
    if let Some(js) = &shared_log {
        // Uploaded files are shared by the nodes through an object store.
        let blobs = js
            .shared_blobs(crate::files::store::SHARED_BLOBS)
            .await
            .map_err(|e| AppError::Other(format!("the shared file store on JetStream: {e}")))?;
        files = files.with_remote(crate::files::store::Remote::new(
            blobs,
            tokio::runtime::Handle::current(),
        ));
    }
    let secrets = Arc::new(secrets);
    // Call history beside the log; its follower starts at once (it reads
    // only the log) and readers wait for it to cover what they need.
    let retention = match config.records_retention_days {
        0 => None,
        days => Some(Duration::from_secs(days.saturating_mul(86_400))),
    };
    let history_path = config.data_dir.join("read-index").join("records.redb");
    let history_config = crate::records::store::StoreConfig {
        cache_bytes: usize::try_from(config.records_cache_mib.saturating_mul(1 << 20))
            .unwrap_or(usize::MAX),
        ..Default::default()
    };
    let history_clock = clock.clone();
    let history = tokio::task::spawn_blocking(move || {
        crate::records::history::CallHistory::open(
            &history_path,
            history_config,
            retention,
            history_clock,
        )
    })
    .await
    .map_err(|e| AppError::Other(e.to_string()))?
    .map_err(|e| AppError::Other(e.to_string()))?;
    tokio::spawn(history.clone().follow(log.clone()));
    let state = AppState::from(crate::http::Shared {
        pipeline: Arc::new(Pipeline::new(
            log.clone(),
            projector.clone(),
            hasher.clone(),
            secrets.clone(),
        )),
        queries: Arc::new(
            Queries::new(
                projector.clone(),
                log.clone(),
                config.data_dir.clone(),
                audit.clone(),
            )
            .with_past_states(past_states.clone()),
        ),
        render_cache: Arc::default(),
        config: Arc::new(config.clone()),
        hasher,
        ready: Arc::new(AtomicBool::new(false)),
        throttle: Arc::new(Throttle::new(config.throttle_limits(), clock.clone())),
        sync_key: Arc::new(sync_key),
        shutdown: shutdown_rx.clone(),
        clock,
        webhooks,
        secrets,
        admission: Arc::new(tokio::sync::Semaphore::new(
            config.max_concurrent_requests.max(1),
        )),
        streams: Arc::default(),
        metrics,
        history,
        files: Arc::new(files),
    });
    tokio::spawn(prune_history(state.clone(), shutdown_rx.clone()));
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| AppError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| AppError::Other(e.to_string()))?;
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "switchboard listening");
    let metrics_addr = match config.metrics_listen {
        Some(at) => Some(serve_metrics(&state, at, shutdown_rx.clone()).await?),
        None => None,
    };

    // The audit index follows the applier; a gap (new or lost index) is
    // described in the background.
    let audit_writer = tokio::spawn(audit.clone().follow(
        log.clone(),
        projector.watch(),
        shutdown_rx.clone(),
    ));
    let (gap_index, gap_log, gap_dir) = (audit.clone(), log.clone(), config.data_dir.clone());
    tokio::task::spawn_blocking(move || {
        if let Err(e) = gap_index.catch_up(&gap_dir, gap_log.as_ref(), audit_from, start) {
            tracing::error!(error = %e, "audit index: catching up failed");
        }
    });
    let task = tokio::spawn(serve(
        state.clone(),
        listener,
        shutdown_rx,
        log.clone(),
        projector,
        audit_writer,
    ));
    Ok(Running {
        addr,
        metrics_addr,
        state,
        log,
        owns_log,
        shutdown: Arc::new(shutdown_tx),
        task,
    })
}

/// Prunes call history past its retention at start and hourly (call
/// recordings expire through the log, their files with them), until
/// shutdown; then makes what the store applied durable.
async fn prune_history(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let history = state.history.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match history.prune_now().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(pruned = n, "call history past its retention pruned"),
                    Err(e) => tracing::warn!(error = %e, "pruning call history failed"),
                }
                let applied = state.queries.applied();
                match crate::records::recordings::expire(&state.pipeline, &history, applied).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(expired = n, "call recordings past their retention destroyed"),
                    Err(e) => tracing::warn!(error = %e, "expiring call recordings failed"),
                }
            }
            _ = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
        }
    }
    let store = history.clone();
    let synced = tokio::task::spawn_blocking(move || store.sync()).await;
    if let Ok(Err(e)) = synced {
        tracing::warn!(error = %e, "call history: the last commits were not made durable (they are rebuilt from the log)");
    }
}

/// Serves `/metrics` alone, unauthenticated, on its own address until
/// shutdown; returns the bound address.
async fn serve_metrics(
    state: &AppState,
    at: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) -> Result<SocketAddr, AppError> {
    let listener = TcpListener::bind(at)
        .await
        .map_err(|source| AppError::Bind { addr: at, source })?;
    let addr = listener
        .local_addr()
        .map_err(|e| AppError::Other(e.to_string()))?;
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(http::metrics::open))
        .with_state(state.clone());
    tracing::info!(%addr, "metrics listening");
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(addr)
}

/// Opens the log in `config.data_dir` with the configured durability and
/// tail check (on a blocking thread: opening reads and checks the tail),
/// reporting its group commits to `metrics`.
async fn open_log(
    config: &Config,
    metrics: Option<crate::metrics::SharedMetrics>,
) -> Result<Arc<dyn EventLog>, AppError> {
    Ok(open_log_shared(config, metrics).await?.0)
}

/// Opens the configured log; on JetStream also the log itself, for what
/// the nodes coordinate beside it (the webhook lease).
async fn open_log_shared(
    config: &Config,
    metrics: Option<crate::metrics::SharedMetrics>,
) -> Result<(Arc<dyn EventLog>, Option<JetStreamLog>), AppError> {
    let observer = metrics.map(|m| m as Arc<dyn switchboard_events::CommitObserver>);
    if config.log_backend == LogBackend::Jetstream {
        let mut js = jetstream_config(config)?;
        js.observer = observer;
        let log = JetStreamLog::open(js)
            .await
            .map_err(|e| AppError::Other(e.to_string()))?;
        return Ok((Arc::new(log.clone()), Some(log)));
    }
    let mut log_config = log_config(config);
    log_config.observer = observer;
    let log = tokio::task::spawn_blocking(move || SegmentLog::open(log_config))
        .await
        .map_err(|e| AppError::Other(e.to_string()))??;
    Ok((Arc::new(log), None))
}

/// The webhook lease and shared cursors of the nodes on a JetStream log.
async fn webhook_cluster(
    log: Option<&JetStreamLog>,
) -> Result<Option<crate::webhooks::Cluster>, AppError> {
    let Some(log) = log else { return Ok(None) };
    let fail = |e: switchboard_events::jetstream::JetStreamError| {
        AppError::Other(format!("webhook coordination on JetStream: {e}"))
    };
    Ok(Some(crate::webhooks::Cluster {
        lease: log
            .lease("webhooks", crate::webhooks::LEASE_TTL)
            .await
            .map_err(fail)?,
        state: log.shared_state("webhooks").await.map_err(fail)?,
    }))
}

/// The directory to start from and the offset it is at: the snapshot if it
/// matches this log (the replay then only covers the tail), else empty.
async fn load_directory(
    config: &Config,
    log: &Arc<dyn EventLog>,
) -> Result<(switchboard_projections::Directory, u64), AppError> {
    let loading = std::time::Instant::now();
    let (snap_dir, snap_log) = (config.data_dir.clone(), log.clone());
    let loaded = tokio::task::spawn_blocking(move || snapshots::load(&snap_dir, snap_log.as_ref()))
        .await
        .map_err(|e| AppError::Other(e.to_string()))?;
    match &loaded.fallback {
        None => tracing::info!(
            offset = loaded.offset,
            seconds = loading.elapsed().as_secs_f64(),
            "projection snapshot loaded"
        ),
        Some(why) => {
            tracing::info!(reason = %why, "no usable projection snapshot; replaying the whole log")
        }
    }
    // The retention horizon is configuration, not state: it applies whatever
    // the snapshot was taken with.
    let mut directory = loaded.directory;
    directory.sync_retention_secs = config.sync_token_retention_secs;
    directory.replay_threads = config.replay_threads;
    Ok((directory, loaded.offset))
}

/// The write side without HTTP, for offline commands (`switchboard users
/// import`): the log opened with its writer (so the directory must not be
/// in use by a server: the log's lock refuses), the projection replayed and
/// following it. The audit index is not maintained here; the next start of
/// the server describes what was written meanwhile (it catches up gaps).
pub struct Offline {
    /// Runs commands.
    pub pipeline: Arc<Pipeline>,
    /// argon2id with the configured cost.
    pub hasher: SecretHasher,
    projector: Arc<Projector<ReadModel>>,
    log: Arc<dyn EventLog>,
}

impl Offline {
    /// Opens `config.data_dir` and replays it.
    pub async fn open(config: &Config) -> Result<Offline, AppError> {
        // Keys and hasher first: failing here leaves no log open behind.
        let secrets = crate::secrets::SecretKey::load(
            config.secrets_key.as_deref(),
            config.secrets_key_file.as_deref(),
            &config.data_dir,
        )
        .map_err(|e| AppError::Other(e.to_string()))?;
        let hasher = SecretHasher::new(config.argon2_memory_kib, config.argon2_iterations)
            .map_err(|e| AppError::Other(e.to_string()))?;
        let log = open_log(config, None).await?;
        let (directory, start) = load_directory(config, &log).await?;
        let projector = Projector::new(ReadModel::deferred(directory), start);
        let (replay_log, replay_projector) = (log.clone(), projector.clone());
        tokio::task::spawn_blocking(move || {
            replay_projector.replay(replay_log.as_ref())?;
            replay_projector.update(ReadModel::index_all);
            Ok::<_, switchboard_projections::ReplayError>(())
        })
        .await
        .map_err(|e| AppError::Replay(e.to_string()))?
        .map_err(|e| AppError::Replay(e.to_string()))?;
        let pipeline = Arc::new(Pipeline::new(
            log.clone(),
            projector.clone(),
            hasher.clone(),
            Arc::new(secrets),
        ));
        let follower = tokio::spawn(projector.clone().follow(log.clone()));
        let stopped = pipeline.clone();
        tokio::spawn(async move {
            let reason = match follower.await {
                Ok(Err(e)) => e.to_string(),
                Err(e) => format!("the projection task failed: {e}"),
                Ok(Ok(())) => return,
            };
            stopped.projection_stopped(reason);
        });
        Ok(Offline {
            pipeline,
            hasher,
            projector,
            log,
        })
    }

    /// The directory as the projection holds it now.
    pub fn read(&self) -> Arc<ReadModel> {
        self.projector.read()
    }

    /// Drains the writer and flushes the log.
    pub async fn close(self) {
        self.log.close().await;
    }
}

async fn serve(
    state: AppState,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    log: Arc<dyn EventLog>,
    projector: Arc<Projector<ReadModel>>,
    audit_writer: JoinHandle<()>,
) -> Result<(), AppError> {
    let app = http::router(state.clone());
    let mut graceful = shutdown.clone();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = graceful.wait_for(|stop| *stop).await;
    });
    let server = tokio::spawn(async move { server.await });

    // Startup work runs beside the server so /healthz answers meanwhile.
    let snapshot_stop = shutdown.clone();
    let mut closing = shutdown.clone();
    let startup = async {
        let started = std::time::Instant::now();
        let replay_log = log.clone();
        let replay_projector = projector.clone();
        let replayed =
            tokio::task::spawn_blocking(move || replay_projector.replay(replay_log.as_ref()))
                .await
                .map_err(|e| AppError::Replay(e.to_string()))?
                .map_err(|e| AppError::Replay(e.to_string()))?;
        let index_projector = projector.clone();
        tokio::task::spawn_blocking(move || index_projector.update(ReadModel::index_all))
            .await
            .map_err(|e| AppError::Replay(e.to_string()))?;
        let secs = started.elapsed().as_secs_f64();
        tracing::info!(
            events = replayed,
            seconds = secs,
            "projections rebuilt from the log"
        );
        let every = state.config.snapshot_every_events;
        let snapshotter = tokio::spawn(snapshots::periodic(
            state.config.data_dir.clone(),
            projector.clone(),
            log.clone(),
            (every, snapshots::Retention::of(&state.config)),
            projector.applied(),
            snapshot_stop,
        ));
        let follower = tokio::spawn(projector.clone().follow(log.clone()));
        let pipeline = state.pipeline.clone();
        tokio::spawn(async move {
            // However the follower ends (an error, a panic, the log closing
            // under it), writes must stop waiting for it.
            let reason = match follower.await {
                Ok(Err(e)) => e.to_string(),
                Err(e) => format!("the projection task failed: {e}"),
                Ok(Ok(())) if *closing.borrow_and_update() => return,
                Ok(Ok(())) => "the log's subscription ended".to_owned(),
            };
            pipeline.projection_stopped(reason);
        });
        bootstrap_admin(&state).await?;
        // Webhooks start from the tenants the projection holds now and
        // follow tenant changes after that offset in the log.
        let (tenants, applied) = {
            let dir = projector.read();
            (dir.tenants.keys().copied().collect::<Vec<_>>(), dir.offset)
        };
        state.webhooks.start(tenants, applied);
        spawn_file_collector(&state);
        state.ready.store(true, Ordering::Release);
        tracing::info!("ready");
        Ok::<_, AppError>(snapshotter)
    };
    let startup_result = tokio::select! {
        r = startup => r.map(Some),
        _ = stopped(&mut shutdown) => Ok(None),
    };
    let snapshotter = match startup_result {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "start-up failed");
            log.close().await;
            return Err(e);
        }
    };
    let grace = Duration::from_secs(state.config.shutdown_grace_secs);
    let mut server = server;
    let served = tokio::select! {
        r = &mut server => r,
        _ = stopped(&mut shutdown) => {
            // In-flight requests get `grace` to finish; their writes are
            // acknowledged only once durable, so cutting them off loses nothing
            // that was acknowledged.
            match tokio::time::timeout(grace, &mut server).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!("in-flight requests did not finish within the grace period");
                    server.abort();
                    Ok(Ok(()))
                }
            }
        }
    };
    // Snapshot what has been applied so the next start replays only the tail.
    if let Some(task) = snapshotter {
        task.abort();
    }
    if state.ready.load(Ordering::Acquire) && state.config.snapshot_every_events > 0 {
        let (d, p, l) = (
            state.config.data_dir.clone(),
            projector.clone(),
            log.clone(),
        );
        let retention = snapshots::Retention::of(&state.config);
        match tokio::task::spawn_blocking(move || {
            snapshots::take_and_retain(&d, &p, l.as_ref(), retention)
        })
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "shutdown snapshot failed"),
            Err(e) => tracing::warn!(error = %e, "shutdown snapshot task failed"),
        }
    }
    // The audit writer stores what was applied and flushes on shutdown.
    let _ = audit_writer.await;
    // An in-flight delivery finishes (bounded by its timeout) and is recorded.
    state
        .webhooks
        .stopped(Duration::from_secs(state.config.webhook_timeout_secs + 1))
        .await;
    log.close().await;
    tracing::info!("stopped; the log is flushed");
    match served {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(AppError::Other(e.to_string())),
        Err(e) => Err(AppError::Other(e.to_string())),
    }
}

/// Resolves once shutdown is requested (the watch guard is not `Send`, so it
/// must not be held across the select).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Creates the system administrator on an empty directory.
async fn bootstrap_admin(state: &AppState) -> Result<(), AppError> {
    let exists = state
        .queries
        .read()
        .scope(SYSTEM_TENANT)
        .and_then(|s| s.user_by_name(bootstrap::ADMIN_NAME))
        .is_some();
    if exists {
        return Ok(());
    }
    let (password, generated) = match &state.config.admin_password {
        Some(p) if !p.is_empty() => (p.clone(), false),
        _ => (
            rand::thread_rng()
                .sample_iter(&Alphanumeric)
                .take(20)
                .map(char::from)
                .collect::<String>(),
            true,
        ),
    };
    let cmd = Command::CreateSystemAdministrator(CreateSystemAdministrator {
        user_id: NewId::default(),
        password: Secret::Clear(password.clone()),
    });
    let appended = state
        .pipeline
        .run(cmd, Context::system(SYSTEM_TENANT, "bootstrap"))
        .await
        .map_err(|e| AppError::Other(e.to_string()))?
        .appended;
    if appended.is_some() && generated {
        // Printed once, on the run that created the account; never logged.
        println!("switchboard: created the system administrator 'admin' with password: {password}");
        println!("switchboard: set SWITCHBOARD_ADMIN_PASSWORD to choose it instead; this is the only time it is shown.");
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Runs the file collector every `file_gc_interval_secs` (0: never) until
/// shutdown begins. A failed pass is logged and retried at the next tick.
fn spawn_file_collector(state: &AppState) {
    let every = state.config.file_gc_interval_secs;
    if every == 0 {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        let mut shutdown = state.shutdown.clone();
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate: start after one interval
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let grace = std::time::Duration::from_secs(state.config.temporary_file_grace_secs);
            match crate::files::gc::collect(
                &state.pipeline,
                &state.queries,
                &state.files,
                state.clock.now(),
                grace,
            )
            .await
            {
                Ok(c) => tracing::info!(
                    files = c.files,
                    blobs = c.blobs,
                    uploads = c.uploads,
                    "file collector pass"
                ),
                Err(e) => tracing::warn!(error = %e, "file collector pass failed"),
            }
        }
    });
}
