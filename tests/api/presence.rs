//! Presence and line status, registrations reported by the registrar
//! (Replicator) with expiry, call state, and the agent states derived from
//! them (OFFLINE, QUEUE_CALL, OTHER_CALL) returning to the settable status.

use crate::helpers::{assert_error, spawn_app};
use crate::queues::{create_queue, json_of, register, set_agents, user_with_role};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn presence_and_registrations_make_the_status() {
    let app = spawn_app().await;
    let t = app.tenant("p.example").await;
    let (ann_id, ann) = user_with_role(&app, &t, "ann", "101", "StandardUser").await;
    let (_, registrar) = user_with_role(&app, &t, "sbc", "190", "Replicator").await;

    let s = json_of(app.get("/api/user/status", Some(&ann)).await).await;
    assert_eq!(
        s,
        json!({"status": "OFFLINE", "presence": "OFFLINE", "presence_note": null,
               "registration": [], "enable_dnd": false, "enable_acb": false})
    );
    let resp = app
        .post(
            "/api/user/presence",
            Some(&ann),
            &json!({"presence": "AWAY", "presence_note": "back at 3"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    register(&app, &registrar, "101", "ann-phone", 300).await;
    let s = json_of(app.get("/api/user/status", Some(&ann)).await).await;
    assert_eq!(s["status"], "ONLINE");
    assert_eq!(s["presence"], "AWAY");
    assert_eq!(s["presence_note"], "back at 3");
    assert_eq!(
        s["registration"],
        json!([{"instance_id": "ann-phone", "user_agent": "Softphone/1.0", "application": "softphone",
                "ip": "192.0.2.7", "enable_push": false, "contact_address": "sip:dev@192.0.2.7:5060"}])
    );
    // by account name too; an admin reads anyone's status
    let resp = app
        .post(
            "/api/registrations",
            Some(&registrar),
            &json!({"user": "ann", "instance_id": "ann-desk", "expires": 300}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let s = json_of(
        app.get(&format!("/api/users/{ann_id}/status"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(s["registration"].as_array().map(Vec::len), Some(2));

    // removing them: by instance, and through the spec's destroy_status
    let resp = app
        .post(
            "/api/registrations/ann-desk/destroy",
            Some(&registrar),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app
        .post(
            &format!("/api/users/{ann_id}/status/ann-phone/destroy_status"),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let s = json_of(app.get("/api/user/status", Some(&ann)).await).await;
    assert_eq!(s["status"], "OFFLINE");
    assert_eq!(s["registration"], json!([]));
    let resp = app
        .post(
            &format!("/api/users/{ann_id}/status/ann-phone/destroy_status"),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let resp = app
        .post(
            "/api/registrations/nope/destroy",
            Some(&registrar),
            &json!({}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn bad_presence_and_registration_input_is_refused() {
    let app = spawn_app().await;
    let t = app.tenant("p.example").await;
    let (ann_id, ann) = user_with_role(&app, &t, "ann", "101", "StandardUser").await;
    let (_, registrar) = user_with_role(&app, &t, "sbc", "190", "Replicator").await;
    for (body, field) in [
        (json!({"presence": "ON_CALL"}), "presence"),
        (json!({"presence_note": "x".repeat(129)}), "presence_note"),
        (json!({"mood": "happy"}), "mood"),
    ] {
        let resp = app.post("/api/user/presence", Some(&ann), &body).await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert_eq!(err["detail"]["field"], field, "{body}");
    }
    for (body, field) in [
        (
            json!({"extension_number": "101", "expires": 60}),
            "instance_id",
        ),
        (
            json!({"extension_number": "101", "instance_id": "d"}),
            "expires",
        ),
        (
            json!({"extension_number": "101", "instance_id": "d", "expires": 0}),
            "expires",
        ),
        (json!({"instance_id": "d", "expires": 60}), "user"),
        (
            json!({"user": "ann", "extension_number": "101", "instance_id": "d", "expires": 60}),
            "user",
        ),
        (
            json!({"extension_number": "101", "instance_id": "d", "expires": 60, "enable_push": "yes"}),
            "enable_push",
        ),
    ] {
        let resp = app
            .post("/api/registrations", Some(&registrar), &body)
            .await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert_eq!(err["detail"]["field"], field, "{body}");
    }
    let resp = app
        .post(
            "/api/registrations",
            Some(&registrar),
            &json!({"extension_number": "555", "instance_id": "d", "expires": 60}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    // a standard user cannot report registrations or call state (the
    // registrar can, and so can an Admin, who may do anything in the tenant)
    let body = json!({"extension_number": "101", "instance_id": "d", "expires": 60});
    for token in [&ann] {
        let resp = app.post("/api/registrations", Some(token), &body).await;
        assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
        let resp = app
            .post(
                &format!("/api/users/{ann_id}/call_state"),
                Some(token),
                &json!({"state": "ON_CALL"}),
            )
            .await;
        assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    let (_, bob) = user_with_role(&app, &t, "bob", "102", "StandardUser").await;
    let resp = app
        .get(&format!("/api/users/{ann_id}/status"), Some(&bob))
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let resp = app
        .post(
            &format!("/api/users/{ann_id}/call_state"),
            Some(&registrar),
            &json!({"state": "RINGING"}),
        )
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "state");
}

async fn agent(app: &crate::helpers::TestApp, token: &str, q: &str) -> Value {
    json_of(
        app.get(&format!("/api/user/call_queues/{q}/agent"), Some(token))
            .await,
    )
    .await["status"]
        .clone()
}

/// The history's first queue entry (its `totals` and `reported_totals`),
/// after checking both add up to the window.
async fn history_of(app: &crate::helpers::TestApp, token: &str, user: &str) -> Value {
    let h = json_of(
        app.get(
            &format!("/api/users/{user}/agent_status_history"),
            Some(token),
        )
        .await,
    )
    .await;
    let window = h["window_seconds"].as_f64().unwrap_or(0.0);
    let q = h["queues"][0].clone();
    for key in ["totals", "reported_totals"] {
        let sum: f64 = q[key]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_f64).sum())
            .unwrap_or(-1.0);
        assert!(
            (sum - window).abs() < 0.01,
            "{key} {sum} vs window {window}: {h}"
        );
    }
    q
}

fn secs(v: &Value) -> f64 {
    v.as_f64().unwrap_or(-1.0)
}

async fn line(app: &crate::helpers::TestApp, token: &str) -> Value {
    json_of(app.get("/api/user/status", Some(token)).await).await["status"].clone()
}

#[tokio::test]
async fn registration_expiry_makes_an_agent_offline_until_it_registers_again() {
    let app = spawn_app().await;
    let t = app.tenant("p.example").await;
    let (ann_id, ann) = user_with_role(&app, &t, "ann", "101", "StandardUser").await;
    let (_, registrar) = user_with_role(&app, &t, "sbc", "190", "Replicator").await;
    let q = create_queue(&app, &t.admin, "Support", "800").await;
    set_agents(&app, &t.admin, "call_queues", &q, &["101"]).await;
    let resp = app
        .post(
            &format!("/api/user/call_queues/{q}/agent"),
            Some(&ann),
            &json!({"status": "LOGGED_IN"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        agent(&app, &ann, &q).await,
        "OFFLINE",
        "logged in, never registered"
    );
    let resp = app
        .post(
            &format!("/api/user/call_queues/{q}/agent"),
            Some(&ann),
            &json!({"status": "BREAK"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "settable while offline");

    register(&app, &registrar, "101", "ann-phone", 60).await;
    assert_eq!(agent(&app, &ann, &q).await, "BREAK");
    assert_eq!(line(&app, &ann).await, "ONLINE");
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(line(&app, &ann).await, "OFFLINE", "the registration lapsed");
    assert_eq!(agent(&app, &ann, &q).await, "OFFLINE");
    let wall = json_of(
        app.get(&format!("/api/call_queues/{q}/agents"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(
        wall["items"][0]["status"], "OFFLINE",
        "the wallboard agrees"
    );
    let s = json_of(app.get("/api/user/status", Some(&ann)).await).await;
    assert_eq!(
        s["registration"],
        json!([]),
        "expired registrations are not listed"
    );

    register(&app, &registrar, "101", "ann-phone", 300).await;
    assert_eq!(
        agent(&app, &ann, &q).await,
        "BREAK",
        "back to the settable status"
    );
    // The report is served from the log; its arithmetic (OFFLINE from a
    // lapse's expiry on) is `commands::agents`' given/when/then test. Here
    // the clock jumped while the log kept wall time, so only the shape is
    // checked: BREAK is the settable status throughout.
    let h = history_of(&app, &ann, &ann_id).await;
    assert!(secs(&h["totals"]["BREAK"]) > 0.0, "{h}");
    assert!(secs(&h["reported_totals"]["BREAK"]) > 0.0, "{h}");
    assert_eq!(secs(&h["totals"]["OFFLINE"]), -1.0, "not a settable status");
}

#[tokio::test]
async fn calls_make_on_call_and_queue_or_other_call_then_the_status_returns() {
    let app = spawn_app().await;
    let t = app.tenant("p.example").await;
    let (ann_id, ann) = user_with_role(&app, &t, "ann", "101", "StandardUser").await;
    let (_, registrar) = user_with_role(&app, &t, "sbc", "190", "Replicator").await;
    let q = create_queue(&app, &t.admin, "Support", "800").await;
    let other = create_queue(&app, &t.admin, "Sales", "801").await;
    set_agents(&app, &t.admin, "call_queues", &q, &["101"]).await;
    register(&app, &registrar, "101", "ann-phone", 300).await;
    let resp = app
        .post(
            &format!("/api/user/call_queues/{q}/agent"),
            Some(&ann),
            &json!({"status": "LOGGED_IN"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .post(
            &format!("/api/user/call_queues/{q}/agent"),
            Some(&ann),
            &json!({"status": "NOT_READY"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let call = |state: Value| {
        let path = format!("/api/users/{ann_id}/call_state");
        let registrar = registrar.clone();
        let app = &app;
        async move {
            let resp = app.post(&path, Some(&registrar), &state).await;
            assert_eq!(
                resp.status(),
                StatusCode::OK,
                "{}",
                resp.text().await.unwrap_or_default()
            );
        }
    };

    call(json!({"state": "ON_CALL", "queue_id": q})).await;
    assert_eq!(line(&app, &ann).await, "ON_CALL");
    assert_eq!(agent(&app, &ann, &q).await, "QUEUE_CALL");
    let s = json_of(app.get("/api/user/status", Some(&ann)).await).await;
    assert_eq!(s["presence"], "ON_CALL");
    call(json!({"state": "IDLE"})).await;
    assert_eq!(line(&app, &ann).await, "ONLINE");
    assert_eq!(
        agent(&app, &ann, &q).await,
        "NOT_READY",
        "back to the previous settable status"
    );

    call(json!({"state": "ON_CALL", "queue_id": other})).await;
    assert_eq!(
        agent(&app, &ann, &q).await,
        "OTHER_CALL",
        "a call from another queue"
    );
    call(json!({"state": "ON_CALL"})).await;
    assert_eq!(agent(&app, &ann, &q).await, "OTHER_CALL", "a direct call");
    // the agent changes status during the call: shown after the call
    let resp = app
        .post(
            &format!("/api/user/call_queues/{q}/agent"),
            Some(&ann),
            &json!({"status": "WRAP_UP"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(agent(&app, &ann, &q).await, "OTHER_CALL");
    call(json!({"state": "IDLE"})).await;
    assert_eq!(agent(&app, &ann, &q).await, "WRAP_UP");
    let h = history_of(&app, &ann, &ann_id).await;
    let r = &h["reported_totals"];
    assert!(secs(&r["QUEUE_CALL"]) > 0.0, "{h}");
    assert!(secs(&r["OTHER_CALL"]) > 0.0, "{h}");
    assert_eq!(secs(&r["OFFLINE"]), 0.0, "registered throughout");
    assert!(
        secs(&h["totals"]["NOT_READY"]) >= secs(&r["QUEUE_CALL"]),
        "{h}"
    );

    let resp = app
        .post(
            &format!("/api/users/{ann_id}/call_state"),
            Some(&registrar),
            &json!({"state": "ON_CALL", "queue_id": "bm9wZQ"}),
        )
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "queue_id");
}
