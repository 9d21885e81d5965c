//! CORS: off by default; with allowed origins, preflights are answered and
//! every answer (errors too) names the origin, other origins get nothing.
//! (A real browser opening the change stream from another origin is
//! `scripts/browser-cors.py`, run by CI.)

use crate::helpers::{spawn_app, spawn_app_with};
use reqwest::{Method, StatusCode};

const PORTAL: &str = "https://portal.example";

async fn preflight(app: &crate::helpers::TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url("/api/users"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("preflight")
}

/// A plain GET sent by a page of `origin`.
async fn get_from(app: &crate::helpers::TestApp, origin: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/users"))
        .header("Origin", origin)
        .send()
        .await
        .expect("get")
}

fn allow_origin(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().expect("ascii").to_owned())
}

#[tokio::test]
async fn without_configured_origins_no_cors_header_is_sent() {
    let app = spawn_app().await;
    let resp = preflight(&app, PORTAL).await;
    assert_eq!(
        resp.status(),
        StatusCode::METHOD_NOT_ALLOWED,
        "no preflight handling"
    );
    assert_eq!(allow_origin(&resp), None);
    let resp = get_from(&app, PORTAL).await;
    assert_eq!(allow_origin(&resp), None);
}

#[tokio::test]
async fn allowed_origins_get_preflights_and_headers_on_every_answer() {
    let app = spawn_app_with(|c| c.cors_allowed_origins = vec![PORTAL.into()]).await;
    let resp = preflight(&app, PORTAL).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(allow_origin(&resp).as_deref(), Some(PORTAL));
    let methods = resp.headers()["access-control-allow-methods"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );
    let headers = resp.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert_eq!(resp.headers()["access-control-max-age"], "600");

    // An error answer (401) carries the header too, so the page can read it.
    let resp = get_from(&app, PORTAL).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(allow_origin(&resp).as_deref(), Some(PORTAL));
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(exposed.contains("x-request-id"), "{exposed}");

    // Another origin is not named: the browser refuses to hand it the answer.
    let resp = preflight(&app, "https://evil.example").await;
    assert_eq!(allow_origin(&resp), None);
    let resp = get_from(&app, "https://evil.example").await;
    assert_eq!(allow_origin(&resp), None);
}

#[tokio::test]
async fn an_invalid_cors_setting_stops_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = crate::helpers::test_config(dir.path().join("data"));
    config.cors_allowed_origins = vec!["https://portal.example/app".into()];
    let err = switchboard::app::start(config)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("cors_allowed_origins"), "{err}");
}
