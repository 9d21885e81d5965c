//! The foundation's HTTP surface: health, readiness, routing errors, body
//! limits, durability across restarts.

use crate::helpers::{assert_error, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn healthz_and_readyz_answer_json_once_ready() {
    let app = spawn_app().await;
    let resp = app.get("/healthz", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.expect("json")["status"], "ok");
    let resp = app.get("/readyz", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["log_head"], body["projected"], "projections caught up");
    assert!(
        body["log_head"].as_u64().expect("head") >= 1,
        "the admin was bootstrapped"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let resp = app.get("/healthz", None).await;
    assert!(resp.headers().contains_key("x-request-id"));
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_told_apart_from_missing_resources() {
    let app = spawn_app().await;
    let err = assert_error(
        app.get("/api/no/such/route", None).await,
        StatusCode::NOT_FOUND,
        "ROUTE_NOT_FOUND",
    )
    .await;
    assert!(err["message"]
        .as_str()
        .expect("msg")
        .contains("/api/no/such/route"));
    assert_error(
        app.get("/nowhere", None).await,
        StatusCode::NOT_FOUND,
        "ROUTE_NOT_FOUND",
    )
    .await;
    assert_error(
        app.get("/api/auth/sign_in", None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
    )
    .await;
    assert_error(
        app.post("/healthz", None, &json!({})).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
    )
    .await;
}

#[tokio::test]
async fn oversized_bodies_get_413_and_malformed_json_gets_400_naming_the_problem() {
    let app = spawn_app_with(|c| c.max_body_bytes = 4096).await;
    let big = json!({ "username": "x".repeat(10_000), "password": "p" });
    assert_error(
        app.post("/api/auth/sign_in", None, &big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
    let resp = app
        .client
        .post(app.url("/api/auth/sign_in"))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .expect("request");
    assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    let err = assert_error(
        app.post(
            "/api/auth/sign_in",
            None,
            &json!({"username": 7, "password": "x"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "username");
    let err = assert_error(
        app.post("/api/auth/sign_in", None, &json!({"username": "admin"}))
            .await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "password");
}

#[tokio::test]
async fn acknowledged_writes_survive_a_restart() {
    let mut app = spawn_app().await;
    let token = app.admin_token().await;
    let head_before: Value = app.get("/readyz", None).await.json().await.expect("json");
    app.restart().await;
    let head_after: Value = app.get("/readyz", None).await.json().await.expect("json");
    assert_eq!(head_before["log_head"], head_after["log_head"]);
    // The session (an event) survived: the old token still works.
    let resp = app.get("/api/auth/user", Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // And the admin was not bootstrapped twice.
    let resp = app
        .sign_in("admin", crate::helpers::ADMIN_PASSWORD, None)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}
