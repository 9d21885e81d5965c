//! One worker per enabled subscription: it follows the log from its cursor,
//! keeps the tenant's wanted events, and delivers them one at a time, in
//! log order, each until the receiver answers 2xx.
//!
//! - **At least once.** The cursor moves (and is saved) only after a 2xx;
//!   after a crash the worker resumes at the saved cursor, so the one
//!   delivery that was in flight may arrive twice, and nothing is skipped.
//! - **In order.** The next event is not sent before the previous one was
//!   acknowledged; a failing receiver holds back its own tenant only.
//! - **Retries** wait `min(max, base·2^(n-1))`, jittered into its upper
//!   half so that receivers recovering from an outage are not hit in
//!   lockstep. A settings change (a fixed URL) retries at once.
//! - **Dead letter.** After `webhook_max_attempts` failures at one event the
//!   subscription is parked: nothing later is sent (that would break the
//!   order) until an administrator resumes it (`POST
//!   /api/webhooks/{kind}/resume`) or changes its settings.

use super::payload;
use super::settings::{self, Auth, Kind, Subscription, Target};
use super::signing::{self, MasterKey};
use super::store::{Attempt, Outcome, Status, Store, SubState};
use crate::clock::SharedClock;
use futures::StreamExt;
use parking_lot::Mutex;
use rand::Rng;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_events::envelope::format_rfc3339;
use switchboard_events::{Envelope, Event, EventLog, StreamId, TenantId};
use tokio::sync::{watch, Notify};

/// Retry and timeout settings.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Attempts at one event before parking.
    pub max_attempts: u32,
    /// First retry delay.
    pub base: Duration,
    /// Longest retry delay.
    pub max: Duration,
    /// One attempt's time limit.
    pub timeout: Duration,
}

/// The delay before retry number `n` (1 = the first retry): the
/// exponential step, jittered into `[step/2, step]` by `unit` ∈ [0, 1).
pub fn backoff(policy: &Policy, n: u32, unit: f64) -> Duration {
    let step = policy
        .base
        .saturating_mul(2u32.saturating_pow(n.saturating_sub(1)))
        .min(policy.max);
    step.mul_f64(0.5 + unit.clamp(0.0, 1.0) / 2.0)
}

/// What every worker shares.
pub struct Shared {
    /// The event log (read only).
    pub log: Arc<dyn EventLog>,
    /// Where cursors are kept.
    pub store: Store,
    /// Signing secrets derive from it.
    pub key: MasterKey,
    /// Timestamps of signatures and attempts.
    pub clock: SharedClock,
    /// The HTTP client (rustls, no redirects, private targets filtered).
    pub client: reqwest::Client,
    /// Retries and timeouts.
    pub policy: Policy,
    /// Whether receivers on loopback/private/link-local addresses are allowed.
    pub allow_private: bool,
    /// Becomes `true` when the service stops.
    pub shutdown: watch::Receiver<bool>,
    /// Counts attempts recorded (and saved) across all subscriptions.
    pub recorded: watch::Sender<u64>,
    /// Attempts by outcome, for `/metrics`.
    pub metrics: crate::metrics::SharedMetrics,
}

/// A running worker's handles.
pub struct Worker {
    /// The subscription's current settings.
    pub settings: watch::Sender<Subscription>,
    /// The state shown by the admin routes (and saved after each attempt).
    pub state: Arc<Mutex<SubState>>,
    /// Wakes a parked worker.
    pub resume: Arc<Notify>,
    /// The task.
    pub task: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Starts delivering `kind` for `tenant`.
    pub fn spawn(shared: Arc<Shared>, tenant: TenantId, kind: Kind, sub: Subscription) -> Worker {
        let mut state = shared
            .store
            .load(tenant, kind)
            .unwrap_or_else(|| SubState::starting_at(sub.since));
        if state.since != sub.since {
            // Switched off and on since this state began: start afresh.
            state = SubState::starting_at(sub.since);
        }
        let state = Arc::new(Mutex::new(state));
        let (settings, rx) = watch::channel(sub);
        let resume = Arc::new(Notify::new());
        let task = tokio::spawn(run(shared, tenant, kind, rx, state.clone(), resume.clone()));
        Worker {
            settings,
            state,
            resume,
            task,
        }
    }
}

/// Why an attempt failed.
struct Failure {
    status: Option<u16>,
    error: String,
}

async fn run(
    shared: Arc<Shared>,
    tenant: TenantId,
    kind: Kind,
    mut settings: watch::Receiver<Subscription>,
    state: Arc<Mutex<SubState>>,
    resume: Arc<Notify>,
) {
    let mut shutdown = shared.shutdown.clone();
    let secret = shared.key.tenant_secret(tenant);
    let tenant_stream = StreamId::of("tenant", tenant);
    // Whether the subscription is on at the log position being read. It is
    // on where the worker starts (the supervisor starts workers for enabled
    // subscriptions, and `since` ≤ the cursor); after that the worker
    // follows the tenant's own events in log order, so an event recorded
    // while the subscription was off is never sent, however late the
    // supervisor notices. (Where to send comes from the latest settings,
    // so a corrected URL helps even the event being retried.)
    let mut on;
    'follow: loop {
        // The cursor only ever moves while the subscription is on, so it is
        // on where reading (re)starts.
        on = true;
        let from = state.lock().delivered_through + 1;
        let mut events = shared.log.subscribe(from);
        loop {
            let next = tokio::select! {
                n = events.next() => n,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            let env = match next {
                Some(Ok(env)) => env,
                Some(Err(e)) => {
                    tracing::warn!(tenant = tenant.0, kind = kind.name(), error = %e, "webhook worker cannot read the log; retrying");
                    if pause(&mut shutdown, shared.policy.base).await {
                        return;
                    }
                    continue 'follow;
                }
                None => return, // the log closed
            };
            if env.stream == tenant_stream {
                match Event::from_envelope(&env) {
                    Ok(Event::TenantDeleted(_)) => return,
                    Ok(Event::TenantUpdated(e)) => {
                        if let Some(v) = e.changes.get(kind.name()) {
                            let now_on = settings::target(v).is_some();
                            if now_on && !on {
                                // Switched on again: delivery starts afresh here.
                                let mut s = state.lock();
                                let attempts = std::mem::take(&mut s.attempts);
                                *s = SubState {
                                    attempts,
                                    ..SubState::starting_at(env.offset)
                                };
                                save(&shared, tenant, kind, &s);
                            }
                            on = now_on;
                        }
                    }
                    _ => {}
                }
                continue;
            }
            if !on || env.tenant != tenant || !payload::wanted(kind, &env.event_type) {
                continue;
            }
            let body = match Event::from_envelope(&env) {
                Ok(event) => payload::body(kind, &env, &event),
                Err(e) => {
                    tracing::error!(offset = env.offset, error = %e, "undecodable event skipped by the webhook worker");
                    None
                }
            };
            let Some((event_type, body)) = body else {
                continue;
            };
            let body = body.to_string().into_bytes();
            if deliver(
                &shared,
                tenant,
                kind,
                &secret,
                &env,
                event_type,
                &body,
                &mut settings,
                &state,
                &resume,
                &mut shutdown,
            )
            .await
            .is_err()
            {
                return;
            }
        }
    }
}

/// The service is stopping.
struct Stopping;

/// Delivers one event until it is acknowledged; `Err` when stopping.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    shared: &Shared,
    tenant: TenantId,
    kind: Kind,
    secret: &str,
    env: &Envelope,
    event_type: &str,
    body: &[u8],
    settings: &mut watch::Receiver<Subscription>,
    state: &Mutex<SubState>,
    resume: &Notify,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), Stopping> {
    let event_id = payload::event_id(env);
    let mut n = 0u32;
    loop {
        // Parked: wait for an administrator (or new settings).
        if state.lock().status == Status::DeadLetter {
            tokio::select! {
                _ = resume.notified() => {}
                _ = settings.changed() => {}
                _ = shutdown.wait_for(|s| *s) => return Err(Stopping),
            }
            let mut s = state.lock();
            s.status = Status::Active;
            s.dead_letter_offset = None;
            save(shared, tenant, kind, &s);
            n = 0;
        }
        let target = settings.borrow_and_update().target.clone();
        let Some(target) = target else {
            // Switched off: the supervisor stops this worker; wait for it.
            tokio::select! {
                _ = settings.changed() => continue,
                _ = shutdown.wait_for(|s| *s) => return Err(Stopping),
            }
        };
        n += 1;
        let at = format_rfc3339(shared.clock.now());
        let started = Instant::now();
        // Not cut off by a graceful shutdown: the attempt (bounded by
        // `webhook_timeout_secs`) finishes and is recorded, so a clean
        // restart sends nothing twice. Only a crash leaves it in flight.
        let result = post(shared, &target, secret, &event_id, body).await;
        let (outcome, status, error) = match &result {
            Ok(code) => (Outcome::Delivered, Some(*code), None),
            Err(f) if n >= shared.policy.max_attempts => {
                (Outcome::DeadLetter, f.status, Some(f.error.clone()))
            }
            Err(f) => (Outcome::Failed, f.status, Some(f.error.clone())),
        };
        shared
            .metrics
            .webhook_delivery(kind.name(), outcome.as_str());
        {
            let mut s = state.lock();
            s.record(Attempt {
                event_id: event_id.clone(),
                offset: env.offset,
                event_type: event_type.to_owned(),
                attempt: n,
                at,
                outcome,
                status,
                error,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
            match outcome {
                Outcome::Delivered => s.delivered_through = env.offset,
                Outcome::DeadLetter => {
                    s.status = Status::DeadLetter;
                    s.dead_letter_offset = Some(env.offset);
                    tracing::warn!(
                        tenant = tenant.0,
                        kind = kind.name(),
                        offset = env.offset,
                        "webhook parked in the dead-letter state"
                    );
                }
                Outcome::Failed => {}
            }
            save(shared, tenant, kind, &s);
        }
        shared.recorded.send_modify(|n| *n += 1);
        match outcome {
            Outcome::Delivered => return Ok(()),
            Outcome::DeadLetter => continue,
            Outcome::Failed => {
                let delay = backoff(&shared.policy, n, rand::thread_rng().gen::<f64>());
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    // New settings (say, a corrected URL): try again now.
                    _ = settings.changed() => n = 0,
                    _ = shutdown.wait_for(|s| *s) => return Err(Stopping),
                }
            }
        }
    }
}

fn save(shared: &Shared, tenant: TenantId, kind: Kind, s: &SubState) {
    // A cursor that cannot be saved costs a redelivery after a restart,
    // never a lost event: go on, loudly.
    if let Err(e) = shared.store.save(tenant, kind, s) {
        tracing::error!(tenant = tenant.0, kind = kind.name(), error = %e, "webhook state not saved");
    }
}

/// Sleeps unless the service stops first (`true` = stopping).
async fn pause(shutdown: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = shutdown.wait_for(|s| *s) => true,
    }
}

/// One signed POST; the status code on 2xx.
async fn post(
    shared: &Shared,
    target: &Target,
    secret: &str,
    event_id: &str,
    body: &[u8],
) -> Result<u16, Failure> {
    let url = reqwest::Url::parse(&target.url).map_err(|e| Failure {
        status: None,
        error: format!("invalid url: {e}"),
    })?;
    if !shared.allow_private {
        check_host(&url)?;
    }
    let request = |authorization: Option<String>| {
        let ts = shared.clock.unix_secs();
        let mut r = shared
            .client
            .post(url.clone())
            .timeout(shared.policy.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(signing::EVENT_ID_HEADER, event_id)
            .header(signing::TIMESTAMP_HEADER, ts.to_string())
            .header(
                signing::SIGNATURE_HEADER,
                signing::signature(secret, ts, body),
            )
            .body(body.to_vec());
        r = match (&target.auth, authorization) {
            (_, Some(h)) => r.header(reqwest::header::AUTHORIZATION, h),
            (Auth::Basic { username, password }, None) => r.basic_auth(username, Some(password)),
            (Auth::Bearer(token), None) => r.bearer_auth(token),
            (Auth::None | Auth::Digest { .. }, None) => r,
        };
        r.send()
    };
    let fail = |e: reqwest::Error| Failure {
        status: None,
        error: if e.is_timeout() {
            "timed out".to_owned()
        } else if e.is_connect() {
            "connection failed".to_owned()
        } else {
            // Without the URL: it may carry credentials.
            e.without_url().to_string()
        },
    };
    let mut resp = request(None).await.map_err(fail)?;
    if let (Auth::Digest { username, password }, 401) = (&target.auth, resp.status().as_u16()) {
        // Answer the receiver's challenge once.
        let challenge = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(challenge) = challenge {
            let uri = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_owned(),
            };
            let header = digest_auth::parse(&challenge)
                .and_then(|mut w| {
                    w.respond(&digest_auth::AuthContext::new_post(
                        username.as_str(),
                        password.as_str(),
                        uri,
                        Some(body),
                    ))
                })
                .map(|h| h.to_header_string())
                .map_err(|e| Failure {
                    status: Some(401),
                    error: format!("digest challenge not understood: {e}"),
                })?;
            resp = request(Some(header)).await.map_err(fail)?;
        }
    }
    let status = resp.status();
    if status.is_success() {
        Ok(status.as_u16())
    } else {
        Err(Failure {
            status: Some(status.as_u16()),
            error: format!("the receiver answered {status}"),
        })
    }
}

/// Refuses receivers named by an address a tenant must not reach through
/// switchboard (loopback, private, link-local such as cloud metadata,
/// unspecified). Names are checked after resolution by [`PublicOnly`].
fn check_host(url: &reqwest::Url) -> Result<(), Failure> {
    let refused = |what: &str| Failure {
        status: None,
        error: format!("{what} receivers are not allowed (webhook_allow_private_targets)"),
    };
    let Some(host) = url.host_str() else {
        return Err(refused("host-less"));
    };
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<IpAddr>() {
        Ok(ip) if !public(ip) => Err(refused("private")),
        Ok(_) => Ok(()),
        Err(_) if host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost") => {
            Err(refused("loopback"))
        }
        Err(_) => Ok(()),
    }
}

/// Whether an address is on the public internet.
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // CGNAT 100.64/10
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))) // benchmarking
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80) // link local
        }
    }
}

/// A resolver that drops non-public addresses, so a receiver name that
/// resolves (or is re-pointed) to an internal address is refused too.
pub struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            max_attempts: 10,
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn backoff_doubles_caps_and_jitters_into_the_upper_half() {
        let p = policy();
        assert_eq!(backoff(&p, 1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(&p, 1, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(&p, 4, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(&p, 4, 0.5), Duration::from_secs(6));
        assert_eq!(backoff(&p, 12, 1.0), Duration::from_secs(300), "capped");
        assert_eq!(
            backoff(&p, 200, 1.0),
            Duration::from_secs(300),
            "no overflow"
        );
    }

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!public(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(public(ip.parse().expect("ip")), "{ip}");
        }
        let url = |s: &str| reqwest::Url::parse(s).expect("url");
        assert!(check_host(&url("http://127.0.0.1:9/x")).is_err());
        assert!(check_host(&url("http://[::1]/x")).is_err());
        assert!(check_host(&url("http://localhost/x")).is_err());
        assert!(check_host(&url("https://hooks.example.com/x")).is_ok());
    }
}
