//! Sign-in, refresh, sign-out and the session endpoints.

use crate::helpers::{assert_error, spawn_app, spawn_app_with, ADMIN_PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn the_system_administrator_signs_in_without_a_domain() {
    let app = spawn_app().await;
    let resp = app.sign_in("admin", ADMIN_PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().expect("access");
    assert!(body["refresh_token"].as_str().is_some());

    let me: Value = app
        .get("/api/auth/user", Some(token))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["role"], "SystemAdmin");
    let status: Value = app
        .get("/api/login", Some(token))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(status["role"], "SystemAdmin");
    assert_eq!(status["access_token"], token);
    assert!(status["expires_in"].as_i64().expect("expires_in") > 3500);
    assert!(status["expires_at"]
        .as_str()
        .expect("expires_at")
        .ends_with('Z'));

    // POST /api/login is the same operation.
    let resp = app
        .post(
            "/api/login",
            None,
            &json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_credentials_get_401_and_are_throttled() {
    let app = spawn_app().await;
    for _ in 0..5 {
        assert_error(
            app.sign_in("admin", "wrong", None).await,
            StatusCode::UNAUTHORIZED,
            "INVALID_CREDENTIALS",
        )
        .await;
    }
    // Blocked now, even with the right password.
    let resp = app.sign_in("admin", ADMIN_PASSWORD, None).await;
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("whole seconds");
    assert!(
        (1..=300).contains(&retry_after),
        "the wait is what is left of the 5-minute window: {retry_after}"
    );
    assert_error(resp, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS").await;
    // Still blocked just before the window ends, free once it has passed.
    app.clock.advance(std::time::Duration::from_secs(
        retry_after.saturating_sub(2),
    ));
    let resp = app.sign_in("admin", ADMIN_PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(std::time::Duration::from_secs(3));
    let resp = app.sign_in("admin", ADMIN_PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::OK, "the window expired");
    // Unknown accounts and unknown domains are 401 too, indistinguishably.
    assert_error(
        app.sign_in("nobody", "x", Some("no.such.domain")).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
}

#[tokio::test]
async fn missing_bad_and_expired_tokens_get_401() {
    let app = spawn_app_with(|c| c.access_token_ttl_secs = 60).await;
    assert_error(
        app.get("/api/auth/user", None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    assert_error(
        app.get("/api/auth/user", Some("garbage")).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    let token = app.admin_token().await;
    let resp = app.get("/api/auth/user", Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::OK, "valid within its lifetime");
    app.clock.advance(std::time::Duration::from_secs(61));
    assert_error(
        app.get("/api/auth/user", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}

#[tokio::test]
async fn refresh_rotates_tokens_and_sign_out_revokes_them() {
    let app = spawn_app().await;
    let body: Value = app
        .sign_in("admin", ADMIN_PASSWORD, None)
        .await
        .json()
        .await
        .expect("json");
    let access = body["access_token"].as_str().expect("a").to_owned();
    let refresh = body["refresh_token"].as_str().expect("r").to_owned();

    let resp = app
        .post(
            "/api/auth/refresh_token",
            None,
            &json!({ "refresh_token": refresh }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let rotated: Value = resp.json().await.expect("json");
    let access2 = rotated["access_token"].as_str().expect("a2").to_owned();
    assert_ne!(access, access2);
    // The old pair is dead: rotation.
    assert_error(
        app.get("/api/auth/user", Some(&access)).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    assert_error(
        app.post(
            "/api/auth/refresh_token",
            None,
            &json!({ "refresh_token": refresh }),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    assert_eq!(
        app.get("/api/auth/user", Some(&access2)).await.status(),
        StatusCode::OK
    );

    let resp = app
        .post("/api/auth/sign_out", Some(&access2), &json!({}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_error(
        app.get("/api/auth/user", Some(&access2)).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    let refresh2 = rotated["refresh_token"].as_str().expect("r2");
    assert_error(
        app.post(
            "/api/auth/refresh_token",
            None,
            &json!({ "refresh_token": refresh2 }),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
}
