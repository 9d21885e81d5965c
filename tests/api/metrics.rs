//! Prometheus `/metrics`: access (token on the main listener, open on a
//! separate one, absent otherwise) and what the exposition counts.

use crate::helpers::{assert_error, ok, spawn_app, spawn_app_with, user_body, TestApp};
use reqwest::StatusCode;

const TOKEN: &str = "metrics-s3cret";

impl TestApp {
    async fn metrics(&self) -> String {
        let resp = self
            .client
            .get(self.url("/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/plain; version=0.0.4"));
        resp.text().await.expect("text")
    }
}

/// The value of the sample `series` (exact name and labels), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn the_main_listener_serves_metrics_only_to_the_configured_token() {
    let app = spawn_app().await;
    let resp = app.get("/metrics", None).await;
    assert_error(resp, StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND").await;
    let app = spawn_app_with(|c| c.metrics_token = Some(TOKEN.into())).await;
    let resp = app.get("/metrics", None).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let resp = app.get("/metrics", Some("metrics-s3creT")).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    // A user's access token is not the metrics token.
    let admin = app.admin_token().await;
    let resp = app.get("/metrics", Some(&admin)).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    assert!(app.metrics().await.contains("switchboard_log_head_offset"));
}

#[tokio::test]
async fn a_separate_listener_serves_metrics_without_a_token() {
    let app =
        spawn_app_with(|c| c.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"))).await;
    let addr = app.state_metrics_addr();
    let resp = app
        .client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.expect("text");
    assert!(
        text.contains("# TYPE switchboard_log_group_commit_events histogram"),
        "{text}"
    );
    // The main listener still does not serve it.
    let resp = app.get("/metrics", None).await;
    assert_error(resp, StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND").await;
}

#[tokio::test]
async fn requests_sign_ins_log_commits_and_streams_are_counted() {
    let app = spawn_app_with(|c| c.metrics_token = Some(TOKEN.into())).await;
    let t = app.tenant("metrics.example.com").await;
    let id = app.create_user(&t.admin, &user_body("ann", "201")).await;
    ok(app.get(&format!("/api/users/{id}"), Some(&t.admin)).await).await;
    let resp = app.get("/api/users/bm90LWFuLWlk", Some(&t.admin)).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = app.get("/no/such/path/12345", None).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    for _ in 0..7 {
        let resp = app
            .sign_in("ann", "wrong-password", Some("metrics.example.com"))
            .await;
        assert!(
            resp.status() == StatusCode::UNAUTHORIZED
                || resp.status() == StatusCode::TOO_MANY_REQUESTS
        );
    }
    let stream = app
        .client
        .get(app.url("/api/user/events"))
        .bearer_auth(&t.admin)
        .send()
        .await
        .expect("stream opens");
    assert_eq!(stream.status(), StatusCode::OK);
    let text = app.metrics().await;
    let get_user =
        "switchboard_http_requests_total{method=\"GET\",route=\"/api/users/{id}\",status=";
    assert_eq!(
        sample(&text, &format!("{get_user}\"200\"}}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("{get_user}\"404\"}}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "switchboard_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains("12345"), "raw paths never become labels");
    assert!(text.contains(
        "switchboard_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/users\",status=\"201\",le=\"+Inf\"} 2"
    ), "{text}");
    let failures = sample(&text, "switchboard_sign_in_failures_total").expect("failures");
    let throttled = sample(&text, "switchboard_sign_in_throttled_total").expect("throttled");
    assert_eq!(failures + throttled, 7.0, "{text}");
    assert!(
        throttled >= 1.0,
        "the per-account throttle started refusing: {text}"
    );
    assert_eq!(
        sample(&text, "switchboard_sse_streams_open"),
        Some(1.0),
        "{text}"
    );
    let head = sample(&text, "switchboard_log_head_offset").expect("head");
    let events = sample(&text, "switchboard_log_events_appended_total").expect("events");
    assert!(head >= events && events > 0.0, "{text}");
    assert!(sample(&text, "switchboard_log_fsync_duration_seconds_count").expect("fsyncs") > 0.0);
    assert!(sample(&text, "switchboard_projection_lag_events").is_some());
    drop(stream);
    // The stream's end is seen once its body is dropped.
    let mut open = 1.0;
    for _ in 0..200 {
        open = sample(&app.metrics().await, "switchboard_sse_streams_open").unwrap_or(-1.0);
        if open == 0.0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(open, 0.0);
}
