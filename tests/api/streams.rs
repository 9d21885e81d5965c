//! Live change streams end with what opened them (issue 11, item 4): a
//! sign-out, a password change, the user disabled or deleted, or the
//! access token expiring ends the stream with a final `event: error`
//! naming why, then closes it. A user holds a bounded number of streams.

use crate::helpers::{spawn_app, spawn_app_with, user_body, TestApp};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

/// An open stream.
struct Open {
    body: futures::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buf: String,
}

async fn open(app: &TestApp, token: &str) -> Open {
    let resp = app
        .client
        .get(app.url("/api/user/events"))
        .bearer_auth(token)
        .send()
        .await
        .expect("connect");
    assert_eq!(resp.status(), StatusCode::OK);
    Open {
        body: resp.bytes_stream().boxed(),
        buf: String::new(),
    }
}

impl Open {
    /// Reads until the stream's `error` event; returns its code after
    /// checking that the stream then closes. A safety timeout turns a
    /// stream that never ends into a failure instead of a hang.
    async fn final_code(mut self) -> String {
        let wait = Duration::from_secs(15);
        loop {
            while let Some(pos) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..pos + 2).collect();
                let event = block.lines().find_map(|l| l.strip_prefix("event:"));
                let data = block.lines().find_map(|l| l.strip_prefix("data:"));
                if event.map(str::trim) == Some("error") {
                    let data: Value =
                        serde_json::from_str(data.unwrap_or("").trim()).expect("JSON data");
                    let rest = tokio::time::timeout(wait, self.body.next())
                        .await
                        .expect("the stream closes after its final event");
                    assert!(rest.is_none(), "nothing after the final event: {rest:?}");
                    return data["code"].as_str().expect("a code").to_owned();
                }
            }
            let chunk = tokio::time::timeout(wait, self.body.next())
                .await
                .expect("the stream ends in time")
                .expect("the stream sends its final event before closing")
                .expect("chunk");
            self.buf
                .push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
    }
}

/// A tenant with `alice` (StandardUser); returns (admin token, alice's id,
/// alice's token).
async fn alice(app: &TestApp) -> (String, String, String) {
    let t = app.tenant("acme.example").await;
    let id = app.create_user(&t.admin, &user_body("alice", "101")).await;
    let token = app.token_for("alice", "Passw0rd-123", "acme.example").await;
    (t.admin, id, token)
}

#[tokio::test]
async fn signing_out_ends_the_stream() {
    let app = spawn_app().await;
    let (_, _, token) = alice(&app).await;
    let stream = open(&app, &token).await;
    let resp = app
        .post("/api/auth/sign_out", Some(&token), &json!({}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(stream.final_code().await, "SESSION_ENDED");
}

#[tokio::test]
async fn a_password_change_ends_every_stream_of_the_user() {
    let app = spawn_app().await;
    let (admin, id, token) = alice(&app).await;
    // Changed by the user.
    let stream = open(&app, &token).await;
    let resp = app
        .post(
            "/api/user/password",
            Some(&token),
            &json!({"old_password": "Passw0rd-123", "new_password": "Passw0rd-456"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(stream.final_code().await, "PASSWORD_CHANGED");
    // Reset by an administrator.
    let token = app.token_for("alice", "Passw0rd-456", "acme.example").await;
    let stream = open(&app, &token).await;
    let resp = app
        .post(
            &format!("/api/users/{id}/password"),
            Some(&admin),
            &json!({"password": "Passw0rd-789"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(stream.final_code().await, "PASSWORD_CHANGED");
}

#[tokio::test]
async fn disabling_or_deleting_the_user_ends_the_stream() {
    let app = spawn_app().await;
    let (admin, id, token) = alice(&app).await;
    let stream = open(&app, &token).await;
    let resp = app
        .post(
            &format!("/api/users/{id}"),
            Some(&admin),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(stream.final_code().await, "USER_DISABLED");

    let bob = app.create_user(&admin, &user_body("bob", "102")).await;
    let token = app.token_for("bob", "Passw0rd-123", "acme.example").await;
    let stream = open(&app, &token).await;
    let resp = app
        .post(
            &format!("/api/users/{bob}/destroy"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(stream.final_code().await, "USER_DELETED");
}

#[tokio::test]
async fn the_stream_ends_when_its_access_token_expires() {
    // A short lifetime: the stream is opened at once and ends when the
    // token does (the test waits for that signal, not for a fixed time).
    let app = spawn_app_with(|c| c.access_token_ttl_secs = 2).await;
    let (_, _, token) = alice(&app).await;
    let stream = open(&app, &token).await;
    assert_eq!(stream.final_code().await, "TOKEN_EXPIRED");
}

#[tokio::test]
async fn a_user_holds_a_bounded_number_of_streams_and_the_oldest_is_closed() {
    let app = spawn_app_with(|c| c.event_streams_per_user = 2).await;
    let (_, _, token) = alice(&app).await;
    let first = open(&app, &token).await;
    let _second = open(&app, &token).await;
    let _third = open(&app, &token).await;
    assert_eq!(first.final_code().await, "TOO_MANY_STREAMS");
    assert_eq!(app.state().streams.count(user_id(&app)), 2);
}

fn user_id(app: &TestApp) -> switchboard_events::Id {
    let dir = app.state().queries.read();
    dir.tenant_by_domain("acme.example")
        .and_then(|t| dir.scope(t.id))
        .and_then(|s| s.user_by_name("alice"))
        .map(|u| u.id)
        .expect("alice")
}
