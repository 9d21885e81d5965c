//! The log on a NATS JetStream stream, shared by several switchboard nodes.
//!
//! One stream holds the log; one message holds one group commit, framed
//! exactly as the segment log frames it ([`crate::frame`]: the same
//! records, CRCs and hash chain), so a commit costs one JetStream round
//! trip however many events it carries.
//!
//! Offsets stay dense and global because every commit is published with
//! `Nats-Expected-Last-Sequence` set to the last stream message this node
//! knows: the server stores it only if nothing else landed in between
//! (optimistic concurrency on the whole stream), so two writers can never
//! interleave. A writer that loses the race fetches what won, checks its
//! pending appends again (stream versions, and for appends decided against
//! a directory state, whether another node wrote in the same tenant since:
//! [`AppendError::Stale`], on which the command pipeline decides again),
//! frames the survivors at the new head and publishes again.
//!
//! Every commit carries a commit id (`Nats-Msg-Id`). A publish whose
//! outcome is unknown (timeout, lost connection) is resolved before
//! anything else is written: the same message is published again with the
//! same id and the same expected sequence; the server either reports it
//! a duplicate (it had landed), stores it (it had not), or refuses it
//! because something else is at that sequence, in which case the node
//! reads that message back and compares commit ids. Until that is
//! settled the node refuses new appends (`is_writable` is false).
//!
//! Each node mirrors the stream in memory ([`mirror`]), following it with
//! an ordered consumer; reads, stream versions and subscriptions are
//! served from the mirror, so offsets (sync tokens, SSE ids) mean the same
//! on every node.
//!
//! # Layout
//! - [`mirror`]: the checked, indexed in-memory copy of the stream.
//! - [`writer`]: group commits, the publish with its expected sequence,
//!   catch-up after a lost race, unknown outcomes.
//! - [`coordination`]: a lease (one node does a job, another takes over)
//!   and a small shared state, in key-value buckets beside the stream.
//! - [`copy`]: moving a log onto a stream and back, record for record.
//! - [`harness`]: `nats-server` processes for tests (one server, or a
//!   three-server cluster on 127.0.0.1).

pub mod coordination;
pub mod copy;
pub mod harness;
pub(crate) mod mirror;
mod writer;

use crate::envelope::Envelope;
use crate::ids::StreamId;
use crate::log::{
    AppendError, AppendRequest, Appended, Basis, CommitObserver, EnvelopeIter, EventLog, LogError,
};
use async_nats::jetstream;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::StreamExt;
use mirror::{Message, Mirror};
use parking_lot::{Mutex, RwLock};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Notify};

/// The header naming a marker message (no records).
pub const MARKER_HEADER: &str = "Switchboard-Marker";

/// Where the log lives on JetStream and how to reach it.
#[derive(Clone)]
pub struct JetStreamConfig {
    /// Server URLs (`nats://host:port`, user and password may be in the URL).
    pub servers: Vec<String>,
    /// The stream's name (also the subject prefix: commits go to
    /// `<stream>.commits`).
    pub stream: String,
    /// Replicas of the stream when this node creates it (1 or 3; an
    /// existing stream keeps its own).
    pub replicas: usize,
    /// A NATS credentials file (`.creds`), if the servers require one.
    pub credentials: Option<PathBuf>,
    /// How long to wait for a publish acknowledgement or an API answer
    /// before the outcome is treated as unknown.
    pub timeout: Duration,
    /// Most events in one group commit.
    pub max_batch: usize,
    /// This node's name, the prefix of its commit ids (unique per process
    /// by a random suffix).
    pub node: String,
    /// Told about every commit this node makes.
    pub observer: Option<Arc<dyn CommitObserver>>,
    /// Test-only fault: the follower drops every delivery past this stream
    /// sequence, as a consumer that stopped delivering silently would.
    #[cfg(test)]
    pub(crate) follower_drops_after: Option<u64>,
}

impl std::fmt::Debug for JetStreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamConfig")
            .field("servers", &self.servers)
            .field("stream", &self.stream)
            .field("replicas", &self.replicas)
            .field("credentials", &self.credentials)
            .field("timeout", &self.timeout)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl JetStreamConfig {
    /// Defaults for a stream on `servers`: one replica, 5 s timeout.
    pub fn new(servers: Vec<String>, stream: impl Into<String>) -> JetStreamConfig {
        JetStreamConfig {
            servers,
            stream: stream.into(),
            replicas: 1,
            credentials: None,
            timeout: Duration::from_secs(5),
            max_batch: 8192,
            node: "node".into(),
            observer: None,
            #[cfg(test)]
            follower_drops_after: None,
        }
    }

    /// The subject commits are published to.
    pub fn subject(&self) -> String {
        format!("{}.commits", self.stream)
    }
}

/// Why the log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum JetStreamError {
    /// The configuration cannot work.
    #[error("jetstream configuration: {0}")]
    Config(String),
    /// No server could be reached.
    #[error("cannot connect to NATS at {servers}: {reason}")]
    Connect {
        /// The servers tried.
        servers: String,
        /// Why.
        reason: String,
    },
    /// The stream could not be created, found or read.
    #[error("jetstream stream {stream}: {reason}")]
    Stream {
        /// The stream.
        stream: String,
        /// Why.
        reason: String,
    },
    /// The stream's content failed its checks.
    #[error(transparent)]
    Log(#[from] LogError),
}

/// What the writer, the follower and the readers share.
pub(crate) struct Shared {
    pub(crate) mirror: RwLock<Mirror>,
    /// The mirror's head offset.
    pub(crate) head: watch::Sender<u64>,
    /// The last stream sequence applied to the mirror.
    pub(crate) seq: watch::Sender<u64>,
    pub(crate) closed: AtomicBool,
    /// Turns true when the log closes (wakes the writer).
    pub(crate) closing: watch::Sender<bool>,
    /// A publish's outcome is being resolved: no new appends meanwhile.
    pub(crate) unsure: AtomicBool,
    /// The stream's last sequence as last seen (acks, consumer deliveries,
    /// the periodic probe): the lag is this minus `seq`.
    pub(crate) stream_last: AtomicU64,
    /// Why the log stopped (the stream failed its checks).
    pub(crate) failure: Mutex<Option<String>>,
    /// Tells the follower to drop its consumer and follow again from the
    /// mirror's next sequence (the probe saw it stalled).
    pub(crate) refollow: Notify,
    pub(crate) client: async_nats::Client,
    pub(crate) js: jetstream::Context,
    pub(crate) stream: jetstream::stream::Stream,
    pub(crate) config: JetStreamConfig,
}

impl Shared {
    /// Applies one stream message to the mirror; a message that fails its
    /// checks stops the log (reads keep working up to it).
    pub(crate) fn apply(&self, msg: &Message<'_>) -> Result<(), LogError> {
        let (head, seq) = {
            let mut mirror = self.mirror.write();
            if let Err(e) = mirror.apply(msg) {
                drop(mirror);
                tracing::error!(error = %e, "the jetstream log failed its checks; refusing writes");
                *self.failure.lock() = Some(e.to_string());
                return Err(e);
            }
            (mirror.head(), mirror.last_seq())
        };
        // The head first: whoever waits for a sequence reads the head next.
        self.head
            .send_if_modified(|h| std::mem::replace(h, head) != head);
        self.seq
            .send_if_modified(|s| std::mem::replace(s, seq) != seq);
        Ok(())
    }

    /// Applies a message fetched by sequence.
    pub(crate) fn apply_stream_message(
        &self,
        msg: &jetstream::message::StreamMessage,
    ) -> Result<(), LogError> {
        self.apply(&Message {
            seq: msg.sequence,
            commit_id: msg.headers.get("Nats-Msg-Id").map(|v| v.as_str()),
            marker: msg.headers.get(MARKER_HEADER).is_some(),
            payload: &msg.payload,
        })
    }

    /// Fetches and applies every message after the mirror's last one, up
    /// to the end of the stream (read from the stream's leader).
    pub(crate) async fn catch_up(&self) -> Result<(), AppendError> {
        loop {
            let next = self.mirror.read().last_seq() + 1;
            let fetched =
                tokio::time::timeout(self.config.timeout, self.stream.get_raw_message(next)).await;
            match fetched {
                Ok(Ok(msg)) => self
                    .apply_stream_message(&msg)
                    .map_err(|e| AppendError::Unavailable(e.to_string()))?,
                Ok(Err(e))
                    if e.kind() == jetstream::stream::RawMessageErrorKind::NoMessageFound =>
                {
                    return Ok(())
                }
                Ok(Err(e)) => {
                    return Err(AppendError::Unavailable(format!(
                        "cannot read stream message {next}: {e}"
                    )))
                }
                Err(_) => {
                    return Err(AppendError::Unavailable(format!(
                        "reading stream message {next} timed out"
                    )))
                }
            }
        }
    }
}

/// The log on a JetStream stream (see the module docs).
#[derive(Clone)]
pub struct JetStreamLog {
    shared: Arc<Shared>,
    writer: mpsc::UnboundedSender<writer::Job>,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl JetStreamLog {
    /// Connects, creates the stream if it does not exist (with deletes
    /// and purges denied, no limits), mirrors it up to its current end and
    /// starts the writer and the follower.
    pub async fn open(config: JetStreamConfig) -> Result<JetStreamLog, JetStreamError> {
        if config.servers.is_empty() {
            return Err(JetStreamError::Config("no servers".into()));
        }
        if config.stream.is_empty()
            || !config
                .stream
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(JetStreamError::Config(format!(
                "stream name {:?}: letters, digits, '-' and '_' only",
                config.stream
            )));
        }
        let servers = config.servers.join(",");
        let connect_err = |reason: String| JetStreamError::Connect {
            servers: servers.clone(),
            reason,
        };
        let mut options = async_nats::ConnectOptions::new()
            .connection_timeout(config.timeout)
            .request_timeout(Some(config.timeout))
            .max_reconnects(None);
        if let Some(creds) = &config.credentials {
            options = options
                .credentials_file(creds)
                .await
                .map_err(|e| connect_err(format!("credentials {}: {e}", creds.display())))?;
        }
        let addrs: Vec<async_nats::ServerAddr> = config
            .servers
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_, _>>()
            .map_err(|e: std::io::Error| JetStreamError::Config(format!("server URL: {e}")))?;
        let client = options
            .connect(addrs)
            .await
            .map_err(|e| connect_err(e.to_string()))?;
        let js = jetstream::ContextBuilder::new()
            .timeout(config.timeout)
            .build(client.clone());
        let stream_name = config.stream.clone();
        let stream_err = |reason: String| JetStreamError::Stream {
            stream: stream_name.clone(),
            reason,
        };
        let mut stream = js
            .get_or_create_stream(jetstream::stream::Config {
                name: config.stream.clone(),
                subjects: vec![config.subject()],
                storage: jetstream::stream::StorageType::File,
                num_replicas: config.replicas.max(1),
                duplicate_window: Duration::from_secs(120),
                deny_delete: true,
                deny_purge: true,
                allow_direct: true,
                ..Default::default()
            })
            .await
            .map_err(|e| stream_err(e.to_string()))?;
        let info = stream
            .info()
            .await
            .map_err(|e| stream_err(e.to_string()))?
            .clone();
        if !info.config.subjects.contains(&config.subject()) {
            return Err(stream_err(format!(
                "the stream exists without the subject {} (it has {:?})",
                config.subject(),
                info.config.subjects
            )));
        }
        let mut target = info.state.last_sequence;
        if target == 0 {
            // `Nats-Expected-Last-Sequence: 0` checks nothing on the server,
            // so the first commit would race unchecked: a marker (no
            // records) goes first. Nodes starting together publish it under
            // one message id, so the duplicate window keeps only one.
            let ack = js
                .send_publish(
                    config.subject(),
                    jetstream::message::PublishMessage::build()
                        .payload(Bytes::new())
                        .message_id(format!("{}-genesis", config.stream))
                        .header(MARKER_HEADER, "genesis"),
                )
                .await
                .map_err(|e| stream_err(format!("genesis marker: {e}")))?
                .await
                .map_err(|e| stream_err(format!("genesis marker: {e}")))?;
            target = ack.sequence;
        }
        let shared = Arc::new(Shared {
            mirror: RwLock::new(Mirror::new()),
            head: watch::channel(0).0,
            seq: watch::channel(0).0,
            closed: AtomicBool::new(false),
            closing: watch::channel(false).0,
            unsure: AtomicBool::new(false),
            stream_last: AtomicU64::new(target),
            failure: Mutex::new(None),
            refollow: Notify::new(),
            client,
            js,
            stream,
            config,
        });
        // The probe runs from the start: a consumer that stalls during the
        // initial load is caught up by sequence like any later stall, so it
        // cannot hang `open`.
        let follower = tokio::spawn(follow(shared.clone()));
        let probe = tokio::spawn(probe(shared.clone()));
        let mut seq = shared.seq.subscribe();
        let loaded = seq.wait_for(|s| *s >= target);
        let outcome = tokio::select! {
            r = loaded => r.map(|_| ()).map_err(|_| stream_err("the follower stopped".into())),
            () = wait_failure(&shared) => {
                Err(stream_err(shared.failure.lock().clone().unwrap_or_default()))
            }
        };
        if let Err(e) = outcome {
            shared.closed.store(true, Ordering::Release);
            follower.abort();
            probe.abort();
            return Err(e);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(writer::run(shared.clone(), rx));
        Ok(JetStreamLog {
            shared,
            writer: tx,
            tasks: Arc::new(Mutex::new(vec![follower, probe, writer])),
        })
    }

    /// Opens the lease `name` (see [`coordination`]): at most one node at a
    /// time holds it; another takes over `ttl` after the holder stopped
    /// renewing it.
    pub async fn lease(
        &self,
        name: &str,
        ttl: Duration,
    ) -> Result<coordination::Lease, JetStreamError> {
        let config = &self.shared.config;
        let inbox = self.shared.client.new_inbox();
        // Unique per process, like commit ids: a restarted node is a new holder.
        let id = format!(
            "{}-{}",
            config.node,
            inbox.rsplit('.').next().unwrap_or(&inbox)
        );
        coordination::lease(
            &self.shared.js,
            &config.stream,
            config.replicas,
            id,
            name,
            ttl,
        )
        .await
    }

    /// Opens the shared state `name` (see [`coordination`]).
    pub async fn shared_state(
        &self,
        name: &str,
    ) -> Result<coordination::SharedState, JetStreamError> {
        let config = &self.shared.config;
        coordination::shared_state(&self.shared.js, &config.stream, config.replicas, name).await
    }

    /// Opens the shared blob store `name` (see [`coordination`]).
    pub async fn shared_blobs(
        &self,
        name: &str,
    ) -> Result<coordination::SharedBlobs, JetStreamError> {
        let config = &self.shared.config;
        coordination::shared_blobs(&self.shared.js, &config.stream, config.replicas, name).await
    }

    /// The stream sequence of the last message this node has applied.
    pub fn applied_sequence(&self) -> u64 {
        *self.shared.seq.borrow()
    }

    /// Appends after checking the decision's basis (see [`Basis`]).
    fn submit(
        &self,
        request: AppendRequest,
        basis: Option<Basis>,
    ) -> BoxFuture<'static, Result<Appended, AppendError>> {
        if request.events.is_empty() {
            return Box::pin(async { Err(AppendError::Empty) });
        }
        if let Err(e) = self.writable() {
            return Box::pin(async move { Err(e) });
        }
        let (reply, rx) = oneshot::channel();
        let job = writer::Job {
            request,
            basis,
            reply,
        };
        if self.writer.send(job).is_err() {
            return Box::pin(async { Err(AppendError::Unavailable("the log is closed".into())) });
        }
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(AppendError::Unavailable("the writer stopped".into())))
        })
    }

    fn writable(&self) -> Result<(), AppendError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(AppendError::Unavailable("the log is closed".into()));
        }
        if let Some(reason) = self.shared.failure.lock().clone() {
            return Err(AppendError::Unavailable(reason));
        }
        if self.shared.unsure.load(Ordering::Acquire) {
            return Err(AppendError::Unavailable(
                "a commit's outcome on JetStream is being resolved".into(),
            ));
        }
        if self.shared.client.connection_state() != async_nats::connection::State::Connected {
            return Err(AppendError::Unavailable("JetStream is unreachable".into()));
        }
        Ok(())
    }
}

async fn wait_failure(shared: &Shared) {
    loop {
        if shared.failure.lock().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Shared {
    /// Records that the stream reaches at least `seq`.
    pub(crate) fn saw(&self, seq: u64) {
        self.stream_last.fetch_max(seq, Ordering::AcqRel);
    }
}

/// How often the probe asks the stream for its last sequence.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// After how many probes in a row that see the stream ahead of the mirror
/// and the mirror not moving the follower counts as stalled.
const STALLED_PROBES: u32 = 2;

/// Asks the server for the stream's last sequence every [`PROBE_EVERY`],
/// so the replication lag shows even while the consumer is cut off.
///
/// It also un-sticks the follower: an ordered consumer whose server died
/// can stop delivering without an error, and a node that does not write
/// never fetches by sequence on its own. When [`STALLED_PROBES`] probes in
/// a row see the stream ahead and the mirror where it was, the probe
/// fetches the missing messages by sequence (from the stream's leader) and
/// has the follower re-create its consumer from the mirror's next
/// sequence. Applying is idempotent and strictly in order, so whatever the
/// old or new consumer still delivers is either already applied or next:
/// no gap, no repeat.
async fn probe(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stall = Stall::new(shared.mirror.read().last_seq());
    loop {
        tick.tick().await;
        if shared.closed.load(Ordering::Acquire) || shared.failure.lock().is_some() {
            return;
        }
        let info = tokio::time::timeout(shared.config.timeout, shared.stream.get_info()).await;
        let last = match info {
            Ok(Ok(info)) => info.state.last_sequence,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "jetstream probe failed");
                continue;
            }
            Err(_) => {
                tracing::debug!("jetstream probe timed out");
                continue;
            }
        };
        shared.saw(last);
        let applied = shared.mirror.read().last_seq();
        if !stall.observe(last, applied) {
            continue;
        }
        tracing::warn!(
            applied,
            stream_last = last,
            "jetstream follower stalled behind the stream; fetching by sequence and re-creating its consumer"
        );
        shared.refollow.notify_one();
        if let Err(e) = shared.catch_up().await {
            tracing::warn!(error = %e, "jetstream probe: catching up by sequence failed");
        }
    }
}

/// Counts probes that see the stream ahead of a mirror that is not moving.
struct Stall {
    applied: u64,
    probes: u32,
}

impl Stall {
    fn new(applied: u64) -> Stall {
        Stall { applied, probes: 0 }
    }

    /// Records one probe (the stream's last sequence, the mirror's);
    /// true when the follower counts as stalled (the count starts again).
    fn observe(&mut self, stream_last: u64, applied: u64) -> bool {
        if stream_last > applied && applied == self.applied {
            self.probes += 1;
        } else {
            self.probes = 0;
        }
        self.applied = applied;
        if self.probes >= STALLED_PROBES {
            self.probes = 0;
            return true;
        }
        false
    }
}

/// Follows the stream with an ordered consumer from the mirror's next
/// sequence, applying every message; re-creates the consumer after an
/// error. Ends when the log closes or fails.
async fn follow(shared: Arc<Shared>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        if shared.closed.load(Ordering::Acquire) || shared.failure.lock().is_some() {
            return;
        }
        let start = shared.mirror.read().last_seq() + 1;
        let config = jetstream::consumer::push::OrderedConfig {
            deliver_subject: shared.client.new_inbox(),
            filter_subject: shared.config.subject(),
            deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            ..Default::default()
        };
        let messages = match shared.stream.create_consumer(config).await {
            Ok(consumer) => consumer.messages().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match messages {
            Ok(mut messages) => {
                let refollow = shared.refollow.notified();
                tokio::pin!(refollow);
                loop {
                    let next = tokio::select! {
                        next = messages.next() => next,
                        () = &mut refollow => {
                            tracing::info!("jetstream follower: re-creating the consumer");
                            break;
                        }
                    };
                    let Some(next) = next else { break };
                    let msg = match next {
                        Ok(msg) => msg,
                        Err(e) => {
                            tracing::warn!(error = %e, "jetstream follower: consumer error");
                            break;
                        }
                    };
                    let Ok(info) = msg.info() else {
                        tracing::warn!("jetstream follower: a message without its sequence");
                        break;
                    };
                    let seq = info.stream_sequence;
                    shared.saw(seq + info.pending);
                    #[cfg(test)]
                    if shared.config.follower_drops_after.is_some_and(|n| seq > n) {
                        continue;
                    }
                    let headers = msg.headers.as_ref();
                    let applied = shared.apply(&Message {
                        seq,
                        commit_id: headers
                            .and_then(|h| h.get("Nats-Msg-Id"))
                            .map(|v| v.as_str()),
                        marker: headers.and_then(|h| h.get(MARKER_HEADER)).is_some(),
                        payload: &msg.payload,
                    });
                    if applied.is_err() {
                        return;
                    }
                    backoff = Duration::from_millis(50);
                }
            }
            Err(e) => tracing::warn!(error = %e, "jetstream follower: cannot create the consumer"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Reads records from the mirror a chunk at a time, decoding outside the lock.
struct Reader {
    shared: Arc<Shared>,
    next: u64,
    buffer: VecDeque<(Bytes, [u8; 32])>,
    failed: bool,
}

impl Iterator for Reader {
    type Item = Result<Envelope, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.buffer.is_empty() {
            self.buffer
                .extend(self.shared.mirror.read().raw(self.next, 1024));
        }
        let (bytes, hash) = self.buffer.pop_front()?;
        let offset = self.next;
        self.next += 1;
        let decoded = crate::codec::decode_checked(&bytes, hash).map_err(|e| LogError::Corrupt {
            offset,
            reason: e.to_string(),
        });
        self.failed = decoded.is_err();
        Some(decoded)
    }
}

impl EventLog for JetStreamLog {
    fn append(&self, request: AppendRequest) -> BoxFuture<'static, Result<Appended, AppendError>> {
        self.submit(request, None)
    }

    fn append_decided(
        &self,
        request: AppendRequest,
        basis: Basis,
    ) -> BoxFuture<'static, Result<Appended, AppendError>> {
        self.submit(request, Some(basis))
    }

    fn read_all(&self, from: u64) -> EnvelopeIter<'_> {
        Box::new(Reader {
            shared: self.shared.clone(),
            next: from.max(1),
            buffer: VecDeque::new(),
            failed: false,
        })
    }

    fn read_stream(&self, stream: &StreamId, from_version: u64) -> EnvelopeIter<'_> {
        let offsets = self
            .shared
            .mirror
            .read()
            .stream_offsets(stream, from_version);
        let shared = self.shared.clone();
        Box::new(
            offsets
                .into_iter()
                .filter_map(move |o| shared.mirror.read().envelope(o)),
        )
    }

    fn subscribe(&self, from: u64) -> BoxStream<'static, Result<Envelope, LogError>> {
        struct State {
            shared: Arc<Shared>,
            next: u64,
            buffer: VecDeque<(Bytes, [u8; 32])>,
            head: watch::Receiver<u64>,
            done: bool,
        }
        let state = State {
            shared: self.shared.clone(),
            next: from.max(1),
            buffer: VecDeque::new(),
            head: self.shared.head.subscribe(),
            done: false,
        };
        Box::pin(futures::stream::unfold(state, |mut st| async move {
            loop {
                if st.done {
                    return None;
                }
                if let Some((bytes, hash)) = st.buffer.pop_front() {
                    let offset = st.next;
                    st.next += 1;
                    let env =
                        crate::codec::decode_checked(&bytes, hash).map_err(|e| LogError::Corrupt {
                            offset,
                            reason: e.to_string(),
                        });
                    st.done = env.is_err();
                    return Some((env, st));
                }
                let head = *st.head.borrow_and_update();
                if st.next <= head {
                    let chunk = st.shared.mirror.read().raw(st.next, 512);
                    st.buffer.extend(chunk);
                    continue;
                }
                if st.shared.closed.load(Ordering::Acquire) {
                    return None;
                }
                if st.head.changed().await.is_err() {
                    return None;
                }
            }
        }))
    }

    fn head(&self) -> u64 {
        *self.shared.head.borrow()
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.shared.head.subscribe()
    }

    fn stream_version(&self, stream: &StreamId) -> Result<u64, LogError> {
        Ok(self.shared.mirror.read().version(stream))
    }

    fn get(&self, offset: u64) -> Result<Option<Envelope>, LogError> {
        self.shared.mirror.read().envelope(offset).transpose()
    }

    fn close(&self) -> BoxFuture<'static, ()> {
        let shared = self.shared.clone();
        let tasks = self.tasks.clone();
        Box::pin(async move {
            shared.closed.store(true, Ordering::Release);
            shared.closing.send_replace(true);
            let handles: Vec<_> = std::mem::take(&mut *tasks.lock());
            let mut handles = handles.into_iter();
            // The follower and the probe never end by themselves.
            for task in handles.by_ref().take(2) {
                task.abort();
                let _ = task.await;
            }
            // The writer finishes the group it holds and refuses the rest.
            for writer in handles {
                let _ = writer.await;
            }
            // Subscribers see `closed` once woken at the head.
            shared.head.send_modify(|_| {});
            let _ = shared.client.flush().await;
        })
    }

    fn is_writable(&self) -> bool {
        self.writable().is_ok()
    }

    fn replication_lag(&self) -> Option<u64> {
        let last = self.shared.stream_last.load(Ordering::Acquire);
        Some(last.saturating_sub(self.applied_sequence()))
    }
}

#[cfg(test)]
mod tests {
    use super::{JetStreamConfig, JetStreamLog, Stall, STALLED_PROBES};
    use crate::domain::UserUpdated;
    use crate::jetstream::harness::NatsServer;
    use crate::{AppendRequest, Event, EventLog, Fields, Id, Metadata, Value};
    use std::sync::Arc;
    use std::time::Duration;

    fn one_event(n: i64) -> AppendRequest {
        let mut changes = Fields::new();
        changes.insert("display_name".into(), Value::Int(n));
        let event = Event::UserUpdated(UserUpdated {
            user_id: Id(1),
            changes: changes.into(),
        })
        .to_new_event(Id(1))
        .expect("encodes");
        AppendRequest {
            events: vec![event],
            expected: vec![],
            metadata: Arc::new(Metadata::system("test")),
        }
    }

    /// A node whose consumer stops delivering in the middle of the initial
    /// load (the fault point drops every delivery past sequence 5) still
    /// opens, with the whole stream, and keeps following what is written
    /// afterwards: the stall probe runs from the start of `open`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_consumer_stalling_during_open_does_not_hang_it() {
        let server = NatsServer::start().expect("nats-server starts");
        let config = JetStreamConfig::new(vec![server.url.clone()], "stall");
        let writer = JetStreamLog::open(config.clone()).await.expect("opens");
        for n in 0..20 {
            writer.append(one_event(n)).await.expect("appended");
        }
        let mut stalled = config;
        stalled.follower_drops_after = Some(5);
        // Bounded so that a regression fails instead of hanging the suite.
        let reader = tokio::time::timeout(Duration::from_secs(120), JetStreamLog::open(stalled))
            .await
            .expect("open does not hang")
            .expect("opens despite the stall");
        assert_eq!(reader.head(), 20, "the whole stream is loaded");
        assert_eq!(reader.replication_lag(), Some(0));
        // Later commits reach it too (by the probe's catch-up alone).
        writer.append(one_event(20)).await.expect("appended");
        let mut head = reader.watch_head();
        head.wait_for(|h| *h >= 21).await.expect("open");
        let last = reader.get(21).expect("reads").expect("there");
        assert_eq!(last, writer.get(21).expect("reads").expect("there"));
        reader.close().await;
        writer.close().await;
    }

    #[test]
    fn a_mirror_that_keeps_up_or_moves_is_never_stalled() {
        let mut stall = Stall::new(5);
        // Given the stream at the mirror's sequence, or the mirror moving,
        // when probed many times, then never stalled.
        for i in 0..10 {
            assert!(!stall.observe(5, 5));
            assert!(!stall.observe(20 + i, 6 + i));
        }
    }

    #[test]
    fn a_mirror_behind_and_not_moving_is_stalled_after_some_probes_then_counts_again() {
        let mut stall = Stall::new(5);
        for _ in 1..STALLED_PROBES {
            assert!(!stall.observe(9, 5));
        }
        assert!(stall.observe(9, 5));
        // The count starts again: one more probe is not yet a stall.
        assert!(!stall.observe(9, 5));
        // Progress resets it.
        assert!(!stall.observe(9, 6));
    }
}
