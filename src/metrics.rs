//! Prometheus metrics: what `/metrics` shows.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `switchboard_http_requests_total` | counter | `method`, `route` (the route's path template, `unmatched` for none), `status` |
//! | `switchboard_http_request_duration_seconds` | histogram | `method`, `route`, `status` |
//! | `switchboard_log_appends_total` | counter | |
//! | `switchboard_log_events_appended_total` | counter | |
//! | `switchboard_log_group_commits_total` | counter | |
//! | `switchboard_log_group_commit_events` | histogram (events per group commit) | |
//! | `switchboard_log_fsync_duration_seconds` | histogram | |
//! | `switchboard_log_head_offset` | gauge | |
//! | `switchboard_projection_applied_offset` | gauge | |
//! | `switchboard_projection_lag_events` | gauge (log head − applied) | |
//! | `switchboard_log_replication_lag_commits` | gauge (commits of the shared log not yet applied on this node; JetStream backend only) | |
//! | `switchboard_sse_streams_open` | gauge | |
//! | `switchboard_sign_in_failures_total` | counter | |
//! | `switchboard_sign_in_throttled_total` | counter | |
//! | `switchboard_webhook_deliveries_total` | counter | `kind`, `outcome` (`DELIVERED`, `FAILED`, `DEAD_LETTER`) |
//! | `switchboard_command_races_lost_total` | counter (appends refused because another writer of the log got there first; each is decided again) | |
//! | `switchboard_command_contended_total` | counter (commands answered 503 after losing races until the re-decision deadline) | |
//!
//! One [`Metrics`] per service instance, not a process-wide recorder: the
//! `metrics-exporter-prometheus` recorder is used directly (no global
//! `metrics::set_recorder`), so two services in one process (every test
//! binary) never mix their numbers. Route labels are path templates, never
//! raw paths, so an id in a URL cannot grow the number of series.

use metrics::{Counter, Gauge, Histogram, Key, Label, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::sync::Arc;
use std::time::Duration;
use switchboard_events::{CommitObserver, CommitStats};

const HTTP_REQUESTS: &str = "switchboard_http_requests_total";
const HTTP_DURATION: &str = "switchboard_http_request_duration_seconds";
const LOG_APPENDS: &str = "switchboard_log_appends_total";
const LOG_EVENTS: &str = "switchboard_log_events_appended_total";
const LOG_COMMITS: &str = "switchboard_log_group_commits_total";
const LOG_COMMIT_EVENTS: &str = "switchboard_log_group_commit_events";
const LOG_FSYNC: &str = "switchboard_log_fsync_duration_seconds";
const LOG_HEAD: &str = "switchboard_log_head_offset";
const APPLIED: &str = "switchboard_projection_applied_offset";
const LAG: &str = "switchboard_projection_lag_events";
const REPLICATION_LAG: &str = "switchboard_log_replication_lag_commits";
const SSE_OPEN: &str = "switchboard_sse_streams_open";
const SIGN_IN_FAILURES: &str = "switchboard_sign_in_failures_total";
const SIGN_IN_THROTTLED: &str = "switchboard_sign_in_throttled_total";
const WEBHOOK_DELIVERIES: &str = "switchboard_webhook_deliveries_total";
const RACES_LOST: &str = "switchboard_command_races_lost_total";
const CONTENDED: &str = "switchboard_command_contended_total";

/// Latency buckets in seconds: 0.5 ms to 10 s.
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Events per group commit: 1 to 8192 (the writer's cap).
const COMMIT_SIZES: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0,
];

const META: metrics::Metadata<'static> =
    metrics::Metadata::new("switchboard", metrics::Level::INFO, None);

/// The service's metrics.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    log_appends: Counter,
    log_events: Counter,
    log_commits: Counter,
    log_commit_events: Histogram,
    log_fsync: Histogram,
    log_head: Gauge,
    applied: Gauge,
    lag: Gauge,
    sse_open: Gauge,
    sign_in_failures: Counter,
    sign_in_throttled: Counter,
    races_lost: Counter,
    contended: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// The shared metrics of one service.
pub type SharedMetrics = Arc<Metrics>;

impl Metrics {
    /// Fresh metrics, every series described (so each has its `# HELP`).
    pub fn new() -> SharedMetrics {
        let builder = [HTTP_DURATION, LOG_FSYNC]
            .into_iter()
            .try_fold(PrometheusBuilder::new(), |b, name| {
                b.set_buckets_for_metric(Matcher::Full(name.into()), SECONDS)
            })
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(LOG_COMMIT_EVENTS.into()), COMMIT_SIZES)
            });
        // The bucket lists are constants and non-empty: building cannot fail;
        // if it ever did, summaries instead of histograms still serve.
        let recorder = match builder {
            Ok(b) => b.build_recorder(),
            Err(e) => {
                tracing::warn!(error = %e, "metrics buckets refused; using summaries");
                PrometheusBuilder::new().build_recorder()
            }
        };
        let describe =
            |kind: char, name: &'static str, unit: Option<Unit>, help: &'static str| match kind {
                'c' => recorder.describe_counter(name.into(), unit, help.into()),
                'g' => recorder.describe_gauge(name.into(), unit, help.into()),
                _ => recorder.describe_histogram(name.into(), unit, help.into()),
            };
        describe(
            'c',
            HTTP_REQUESTS,
            None,
            "HTTP requests answered, by route template, method and status.",
        );
        describe('h', HTTP_DURATION, Some(Unit::Seconds), "Time to answer an HTTP request (until the response head), by route template, method and status.");
        describe(
            'c',
            LOG_APPENDS,
            None,
            "Appends acknowledged by the event log (one per command).",
        );
        describe('c', LOG_EVENTS, None, "Events written to the event log.");
        describe(
            'c',
            LOG_COMMITS,
            None,
            "Group commits of the event log (one write and one fsync each).",
        );
        describe('h', LOG_COMMIT_EVENTS, None, "Events per group commit.");
        describe(
            'h',
            LOG_FSYNC,
            Some(Unit::Seconds),
            "Time the event log's fsync took per group commit.",
        );
        describe(
            'g',
            LOG_HEAD,
            None,
            "Offset of the last durable event in the log.",
        );
        describe(
            'g',
            APPLIED,
            None,
            "Offset of the last event the directory projection has applied.",
        );
        describe(
            'g',
            LAG,
            None,
            "Events written but not yet applied by the projection (log head minus applied offset).",
        );
        describe(
            'g',
            SSE_OPEN,
            None,
            "Server-Sent Events change streams open now.",
        );
        describe(
            'c',
            SIGN_IN_FAILURES,
            None,
            "Sign-in attempts refused for a wrong account or password.",
        );
        describe(
            'c',
            SIGN_IN_THROTTLED,
            None,
            "Sign-in attempts refused by the throttle before checking the password.",
        );
        describe(
            'g',
            REPLICATION_LAG,
            None,
            "Commits of the shared log (JetStream) this node has not applied yet.",
        );
        describe(
            'c',
            WEBHOOK_DELIVERIES,
            None,
            "Webhook delivery attempts, by subscription kind and outcome.",
        );
        describe(
            'c',
            RACES_LOST,
            None,
            "Appends refused because another writer of the log (another node) got there first; each command is decided again.",
        );
        describe(
            'c',
            CONTENDED,
            None,
            "Commands answered 503 after losing races for the log until the re-decision deadline.",
        );
        let plain = |name: &'static str| Key::from_static_name(name);
        let handle = recorder.handle();
        Arc::new(Metrics {
            log_appends: recorder.register_counter(&plain(LOG_APPENDS), &META),
            log_events: recorder.register_counter(&plain(LOG_EVENTS), &META),
            log_commits: recorder.register_counter(&plain(LOG_COMMITS), &META),
            log_commit_events: recorder.register_histogram(&plain(LOG_COMMIT_EVENTS), &META),
            log_fsync: recorder.register_histogram(&plain(LOG_FSYNC), &META),
            log_head: recorder.register_gauge(&plain(LOG_HEAD), &META),
            applied: recorder.register_gauge(&plain(APPLIED), &META),
            lag: recorder.register_gauge(&plain(LAG), &META),
            sse_open: recorder.register_gauge(&plain(SSE_OPEN), &META),
            sign_in_failures: recorder.register_counter(&plain(SIGN_IN_FAILURES), &META),
            sign_in_throttled: recorder.register_counter(&plain(SIGN_IN_THROTTLED), &META),
            races_lost: recorder.register_counter(&plain(RACES_LOST), &META),
            contended: recorder.register_counter(&plain(CONTENDED), &META),
            recorder,
            handle,
        })
    }

    /// One HTTP request answered.
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let labels = vec![
            Label::new("method", method.to_owned()),
            Label::new("route", route.to_owned()),
            Label::new("status", status.to_string()),
        ];
        self.recorder
            .register_counter(&Key::from_parts(HTTP_REQUESTS, labels.clone()), &META)
            .increment(1);
        self.recorder
            .register_histogram(&Key::from_parts(HTTP_DURATION, labels), &META)
            .record(elapsed.as_secs_f64());
    }

    /// A sign-in refused for its credentials.
    pub fn sign_in_failed(&self) {
        self.sign_in_failures.increment(1);
    }

    /// A sign-in refused by the throttle.
    pub fn sign_in_throttled(&self) {
        self.sign_in_throttled.increment(1);
    }

    /// A webhook delivery attempt ended with `outcome`.
    pub fn webhook_delivery(&self, kind: &str, outcome: &str) {
        let labels = vec![
            Label::new("kind", kind.to_owned()),
            Label::new("outcome", outcome.to_owned()),
        ];
        self.recorder
            .register_counter(&Key::from_parts(WEBHOOK_DELIVERIES, labels), &META)
            .increment(1);
    }

    /// The command pipeline's lost races and contended commands so far.
    pub fn races(&self, stats: crate::commands::RaceStats) {
        self.races_lost.absolute(stats.lost);
        self.contended.absolute(stats.contended);
    }

    /// A change stream opened; it counts as open until the guard drops.
    pub fn sse_opened(self: &Arc<Self>) -> StreamGuard {
        self.sse_open.increment(1.0);
        StreamGuard(self.clone())
    }

    /// The exposition text, with the log and projection gauges read now.
    pub fn render(&self, log_head: u64, applied: u64) -> String {
        self.log_head.set(log_head as f64);
        self.applied.set(applied as f64);
        self.lag.set(log_head.saturating_sub(applied) as f64);
        self.handle.render()
    }
}

impl Metrics {
    /// The exposition, with the log head and applied offset `queries` sees.
    pub fn render_for(&self, queries: &crate::queries::Queries) -> String {
        // Only a shared log has a replication lag: the series exists only then.
        if let Some(lag) = queries.replication_lag() {
            let key = Key::from_static_name(REPLICATION_LAG);
            self.recorder.register_gauge(&key, &META).set(lag as f64);
        }
        self.render(queries.log_head(), queries.applied())
    }
}

/// The media type of the exposition (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl CommitObserver for Metrics {
    fn committed(&self, stats: &CommitStats) {
        self.log_appends.increment(stats.appends as u64);
        self.log_events.increment(stats.events as u64);
        self.log_commits.increment(1);
        self.log_commit_events.record(stats.events as f64);
        self.log_fsync.record(stats.fsync.as_secs_f64());
        self.log_head.set(stats.head as f64);
    }
}

/// Holds one open change stream in [`Metrics`]'s gauge.
pub struct StreamGuard(Arc<Metrics>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.sse_open.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_commits_and_streams_show_in_the_exposition() {
        let m = Metrics::new();
        m.http_request("GET", "/api/users/{id}", 200, Duration::from_millis(3));
        m.http_request("GET", "/api/users/{id}", 200, Duration::from_millis(30));
        m.committed(&CommitStats {
            appends: 2,
            events: 7,
            fsync: Duration::from_micros(300),
            head: 42,
            ..CommitStats::default()
        });
        let guard = m.sse_opened();
        let _second = m.sse_opened();
        drop(guard);
        m.webhook_delivery("extension_event", "DELIVERED");
        m.sign_in_failed();
        m.races(crate::commands::RaceStats {
            lost: 9,
            contended: 2,
            most: 4,
        });
        let text = m.render(45, 40);
        for line in [
            "switchboard_http_requests_total{method=\"GET\",route=\"/api/users/{id}\",status=\"200\"} 2",
            "switchboard_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/users/{id}\",status=\"200\",le=\"0.005\"} 1",
            "switchboard_http_request_duration_seconds_count{method=\"GET\",route=\"/api/users/{id}\",status=\"200\"} 2",
            "switchboard_log_appends_total 2",
            "switchboard_log_events_appended_total 7",
            "switchboard_log_group_commit_events_bucket{le=\"8\"} 1",
            "switchboard_log_fsync_duration_seconds_count 1",
            "switchboard_log_head_offset 45",
            "switchboard_projection_lag_events 5",
            "switchboard_sse_streams_open 1",
            "switchboard_sign_in_failures_total 1",
            "switchboard_sign_in_throttled_total 0",
            "switchboard_command_races_lost_total 9",
            "switchboard_command_contended_total 2",
            "switchboard_webhook_deliveries_total{kind=\"extension_event\",outcome=\"DELIVERED\"} 1",
            "# HELP switchboard_projection_lag_events",
            "# TYPE switchboard_http_request_duration_seconds histogram",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn two_instances_do_not_share_numbers() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.sign_in_failed();
        assert!(a
            .render(0, 0)
            .contains("switchboard_sign_in_failures_total 1"));
        assert!(b
            .render(0, 0)
            .contains("switchboard_sign_in_failures_total 0"));
    }
}
