//! Webhooks: a tenant's `extension_event` subscription delivers extension
//! changes to a local receiver, signed, in log order; failures are retried,
//! then parked and resumed; other tenants and weaker roles see nothing.
//! (Surviving kill -9 is `tests/webhooks_crash.rs`.)

use crate::helpers::{assert_error, spawn_app_with, user_body, TenantCtx, TestApp};
use crate::receiver::{Plan, Receiver};
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard::webhooks::signing;

async fn hooked_app() -> TestApp {
    spawn_app_with(|c| {
        c.webhook_allow_private_targets = true;
        c.webhook_retry_base_ms = 5;
        c.webhook_retry_max_ms = 20;
        c.webhook_max_attempts = 3;
    })
    .await
}

async fn subscribe(app: &TestApp, t: &TenantCtx, hook: Value) {
    let resp = app
        .post(
            "/api/tenant",
            Some(&t.admin),
            &json!({ "extension_event": hook }),
        )
        .await;
    let status = resp.status();
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap_or_default()
    );
}

async fn create_extension(app: &TestApp, t: &TenantCtx, number: &str) -> String {
    let resp = app
        .post(
            "/api/extensions",
            Some(&t.admin),
            &json!({ "number": number, "name": format!("Desk {number}") }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// Waits until `n` attempts have been recorded by the deliverer.
async fn recorded(app: &TestApp, n: u64) {
    let mut rx = app.state().webhooks.recorded();
    let done =
        tokio::time::timeout(std::time::Duration::from_secs(60), rx.wait_for(|c| *c >= n)).await;
    assert!(done.is_ok(), "{n} attempts recorded");
}

async fn webhooks(app: &TestApp, token: &str) -> Value {
    let resp = app.get("/api/webhooks", Some(token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.expect("json")
}

async fn deliveries(app: &TestApp, token: &str) -> Value {
    let resp = app
        .get("/api/webhooks/extension_event/deliveries", Some(token))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.expect("json")
}

#[tokio::test]
async fn extension_changes_are_delivered_signed_authenticated_and_in_log_order() {
    let app = hooked_app().await;
    let rx = Receiver::start().await;
    let t = app.tenant("hooks.example").await;
    // The Admin's own extension (created with the tenant) predates the
    // subscription and is not delivered.
    subscribe(
        &app,
        &t,
        json!({"enabled": true, "url": rx.url, "auth": "BEARER", "token": "t0k3n-abc"}),
    )
    .await;
    let a = create_extension(&app, &t, "201").await;
    let b = create_extension(&app, &t, "202").await;
    let resp = app
        .post(
            &format!("/api/extensions/{a}"),
            Some(&t.admin),
            &json!({"name": "Reception"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .post(
            &format!("/api/extensions/{b}/destroy"),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    assert!(resp.status().is_success());
    // A user with a number: its extension and link are extension events too;
    // the user itself is not.
    app.create_user(&t.admin, &user_body("ann", "203")).await;

    let got = rx.wait_for(4).await;
    let types: Vec<&str> = got
        .iter()
        .take(4)
        .map(|r| r.json["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        [
            "extension.created",
            "extension.created",
            "extension.updated",
            "extension.deleted"
        ]
    );
    assert_eq!(got[0].json["data"]["extension_id"], a);
    assert_eq!(got[0].json["data"]["number"], "201");
    assert_eq!(got[2].json["data"]["changes"], json!({"name": "Reception"}));
    assert_eq!(got[3].json["data"]["extension_id"], b);
    assert_eq!(got[0].json["tenant_id"], t.id);
    assert_eq!(got[0].json["actor"]["name"], "boss");

    let hooks = webhooks(&app, &t.admin).await;
    let secret = hooks["signing_secret"]
        .as_str()
        .expect("an Admin sees the secret");
    let now = switchboard::clock::Clock::unix_secs(&switchboard::clock::SystemClock);
    for r in &got {
        assert_eq!(r.header("authorization"), "Bearer t0k3n-abc");
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(
            r.header("switchboard-event-id"),
            r.json["id"].as_str().unwrap_or("")
        );
        let ts: i64 = r
            .header("switchboard-timestamp")
            .parse()
            .expect("timestamp");
        assert!(
            signing::verify(
                secret,
                ts,
                &r.body,
                &r.header("switchboard-signature"),
                now,
                300
            ),
            "signature of {}",
            r.json
        );
        assert!(
            !signing::verify(
                "whsec_other",
                ts,
                &r.body,
                &r.header("switchboard-signature"),
                now,
                300
            ),
            "another secret does not verify"
        );
    }
    let offsets: Vec<u64> = got.iter().map(|r| r.offset()).collect();
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "log order: {offsets:?}"
    );

    // The user's extension and link follow, still in order.
    let got = rx.wait_for(6).await;
    let more: Vec<&str> = got[4..]
        .iter()
        .map(|r| r.json["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(more[0], "extension.created");
    assert!(more.contains(&"extension.user_linked"), "{more:?}");
    let ext = hooks["items"][0].clone();
    assert_eq!(ext["kind"], "extension_event");
    assert_eq!(ext["status"], "ACTIVE");
    assert_eq!(hooks["items"][1]["status"], "DISABLED", "cdr_event");
}

#[tokio::test]
async fn failures_are_retried_then_parked_and_an_admin_resumes_in_order() {
    let app = hooked_app().await;
    let rx = Receiver::start().await;
    let t = app.tenant("retry.example").await;
    subscribe(&app, &t, json!({"enabled": true, "url": rx.url})).await;
    rx.plan(&[Plan::Status(503), Plan::Status(500)]);
    create_extension(&app, &t, "301").await;
    let got = rx.wait_for(3).await;
    assert!(
        got.iter().all(|r| r.json["data"]["number"] == "301"),
        "the same event, retried"
    );
    let signed_at: Vec<String> = got
        .iter()
        .map(|r| r.header("switchboard-signature"))
        .collect();
    assert!(signed_at.iter().all(|s| s.starts_with("v1=")));
    recorded(&app, 3).await;
    let d = deliveries(&app, &t.admin).await;
    let outcomes: Vec<(&str, u64)> = d["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| {
            (
                a["outcome"].as_str().unwrap_or(""),
                a["attempt"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [("DELIVERED", 3), ("FAILED", 2), ("FAILED", 1)],
        "newest first: {d}"
    );
    assert_eq!(d["items"][1]["status"], 500);

    // Three failures in a row park the subscription; later events wait.
    rx.plan(&[Plan::Status(500), Plan::Status(500), Plan::Status(500)]);
    create_extension(&app, &t, "302").await;
    create_extension(&app, &t, "303").await;
    rx.wait_for(6).await;
    // The sixth attempt is recorded right after the receiver answers.
    recorded(&app, 6).await;
    let parked = webhooks(&app, &t.admin).await;
    assert_eq!(parked["items"][0]["status"], "DEAD_LETTER");
    let d = deliveries(&app, &t.admin).await;
    assert_eq!(d["items"][0]["outcome"], "DEAD_LETTER");
    assert_eq!(
        parked["items"][0]["dead_letter_offset"],
        d["items"][0]["offset"]
    );
    assert_eq!(
        rx.received().len(),
        6,
        "nothing after the parked event is sent"
    );

    // Only a manager may resume; then 302 and 303 arrive, in order.
    let (_, user) = crate::queues::user_with_role(&app, &t, "sam", "150", "StandardUser").await;
    assert_error(
        app.post(
            "/api/webhooks/extension_event/resume",
            Some(&user),
            &json!({}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    let resp = app
        .post(
            "/api/webhooks/extension_event/resume",
            Some(&t.admin),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let got = rx.wait_for(8).await;
    let numbers: Vec<&str> = got[6..8]
        .iter()
        .map(|r| r.json["data"]["number"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(numbers, ["302", "303"]);
    assert_error(
        app.post(
            "/api/webhooks/extension_event/resume",
            Some(&t.admin),
            &json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "WEBHOOK_NOT_PARKED",
    )
    .await;
}

#[tokio::test]
async fn other_tenants_weaker_roles_and_unknown_kinds_see_nothing() {
    let app = hooked_app().await;
    let rx = Receiver::start().await;
    let a = app.tenant("a.example").await;
    let b = app.tenant("b.example").await;
    subscribe(&app, &a, json!({"enabled": true, "url": rx.url})).await;
    create_extension(&app, &a, "401").await;
    create_extension(&app, &b, "401").await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].json["tenant_id"], a.id);

    let hb = webhooks(&app, &b.admin).await;
    assert_eq!(
        hb["items"][0]["status"], "DISABLED",
        "B has no subscription"
    );
    let ha = webhooks(&app, &a.admin).await;
    assert_ne!(
        ha["signing_secret"], hb["signing_secret"],
        "per-tenant secrets"
    );
    let d = deliveries(&app, &b.admin).await;
    assert_eq!(d["count"], 0, "B sees none of A's deliveries");
    assert_error(
        app.post(
            "/api/webhooks/extension_event/resume",
            Some(&b.admin),
            &json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "WEBHOOK_DISABLED",
    )
    .await;

    let (_, user) = crate::queues::user_with_role(&app, &a, "sam", "150", "StandardUser").await;
    assert_error(
        app.get("/api/webhooks", Some(&user)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.get("/api/webhooks", None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    assert_error(
        app.get("/api/webhooks/nope/deliveries", Some(&a.admin))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    // An undecodable kind names no subscription either (JSON, not plain text).
    assert_error(
        app.get("/api/webhooks/%FF/deliveries", Some(&a.admin))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let sys = app.admin_token().await;
    assert_error(
        app.get("/api/webhooks", Some(&sys)).await,
        StatusCode::FORBIDDEN,
        "TENANT_REQUIRED",
    )
    .await;
    // Nothing of B's reached A's receiver.
    assert!(rx.received().iter().all(|r| r.json["tenant_id"] == a.id));
}

#[tokio::test]
async fn switching_off_stops_and_switching_on_starts_from_then() {
    let app = hooked_app().await;
    let rx = Receiver::start().await;
    let t = app.tenant("onoff.example").await;
    subscribe(&app, &t, json!({"enabled": true, "url": rx.url})).await;
    create_extension(&app, &t, "501").await;
    rx.wait_for(1).await;
    subscribe(&app, &t, json!({"enabled": false, "url": rx.url})).await;
    create_extension(&app, &t, "502").await;
    subscribe(&app, &t, json!({"enabled": true, "url": rx.url})).await;
    create_extension(&app, &t, "503").await;
    let got = rx.wait_for(2).await;
    let numbers: Vec<&str> = got
        .iter()
        .map(|r| r.json["data"]["number"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        numbers,
        ["501", "503"],
        "502 was created while the subscription was off"
    );
}

#[tokio::test]
async fn a_restart_resumes_after_the_last_delivered_event() {
    let mut app = hooked_app().await;
    let rx = Receiver::start().await;
    let t = app.tenant("restart.example").await;
    subscribe(&app, &t, json!({"enabled": true, "url": rx.url})).await;
    create_extension(&app, &t, "601").await;
    rx.wait_for(1).await;
    app.restart().await;
    let admin = app
        .token_for("boss", "Passw0rd-123", "restart.example")
        .await;
    let ctx = TenantCtx { admin, ..t };
    create_extension(&app, &ctx, "602").await;
    let got = rx.wait_for(2).await;
    let numbers: Vec<&str> = got
        .iter()
        .map(|r| r.json["data"]["number"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(numbers, ["601", "602"], "no redelivery after a clean stop");
}

#[tokio::test]
async fn private_receivers_are_refused_unless_allowed() {
    let app = spawn_app_with(|c| {
        c.webhook_retry_base_ms = 5;
        c.webhook_retry_max_ms = 20;
        c.webhook_max_attempts = 2;
    })
    .await;
    let rx = Receiver::start().await;
    let t = app.tenant("ssrf.example").await;
    subscribe(&app, &t, json!({"enabled": true, "url": rx.url})).await;
    create_extension(&app, &t, "701").await;
    recorded(&app, 2).await;
    let d = deliveries(&app, &t.admin).await;
    assert_eq!(d["count"], 2);
    assert_eq!(d["items"][0]["outcome"], "DEAD_LETTER");
    let error = d["items"][0]["error"].as_str().unwrap_or("");
    assert!(error.contains("private"), "{error}");
    assert!(
        rx.received().is_empty(),
        "nothing reached the loopback receiver"
    );
}

#[tokio::test]
async fn basic_and_digest_credentials_are_presented() {
    let app = hooked_app().await;
    let rx = Receiver::start().await;
    let t = app.tenant("auth.example").await;
    subscribe(
        &app,
        &t,
        json!({"enabled": true, "url": rx.url, "auth": "BASIC", "username": "hookuser", "password": "hookpass1"}),
    )
    .await;
    create_extension(&app, &t, "801").await;
    let got = rx.wait_for(1).await;
    // base64("hookuser:hookpass1")
    assert_eq!(
        got[0].header("authorization"),
        "Basic aG9va3VzZXI6aG9va3Bhc3Mx"
    );

    // DIGEST (another tenant, so its worker starts with these settings):
    // the first try meets the receiver's challenge, the second answers it
    // (RFC 7616) for the same request.
    let t = app.tenant("digest.example").await;
    subscribe(
        &app,
        &t,
        json!({"enabled": true, "url": rx.url, "auth": "DIGEST", "username": "hookuser", "password": "hookpass1"}),
    )
    .await;
    rx.plan(&[Plan::Challenge(
        r#"Digest realm="hooks", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
    )]);
    create_extension(&app, &t, "802").await;
    let got = rx.wait_for(3).await;
    assert_eq!(
        got[1].header("authorization"),
        "",
        "first try: no credentials"
    );
    let digest = got[2].header("authorization");
    for part in [
        "Digest ",
        r#"username="hookuser""#,
        r#"realm="hooks""#,
        r#"nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093""#,
        r#"uri="/hook""#,
        "qop=auth",
        "response=\"",
        r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
    ] {
        assert!(digest.contains(part), "{part} in {digest}");
    }
    assert!(
        !digest.contains("hookpass1"),
        "the password itself is never sent"
    );
    assert_eq!(got[1].body, got[2].body, "the same delivery");
    assert_eq!(got[2].json["data"]["number"], "802");
}

#[tokio::test]
async fn reported_cdrs_feed_the_cdr_event_webhook() {
    let app = hooked_app().await;
    let rx = Receiver::start().await;
    let t = app.tenant("cdr-hooks.example").await;
    let resp = app
        .post(
            "/api/tenant",
            Some(&t.admin),
            &json!({"cdr_event": {"enabled": true, "url": rx.url, "auth": "BEARER", "token": "t0k3n-abc"}}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // An extension change is not a CDR event.
    create_extension(&app, &t, "201").await;
    let resp = app
        .post(
            "/api/cdrs",
            Some(&t.admin),
            &json!({"call_id": "c-1", "caller": "100", "callee": "+15550100",
                    "started_at": "2026-12-01T12:00:00Z", "duration": 9}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = resp.json::<Value>().await.expect("json")["id"].clone();
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].json["type"], "cdr.created");
    assert_eq!(got[0].json["data"]["id"], id);
    assert_eq!(got[0].json["data"]["call_id"], "c-1");
    assert_eq!(got[0].json["data"]["duration"], 9);
    assert_eq!(
        got[0].json["data"]["user_ids"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(got[0].header("authorization"), "Bearer t0k3n-abc");
}
