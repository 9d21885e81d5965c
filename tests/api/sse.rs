//! `GET /api/user/events`: the live change stream. Reconnecting with
//! `Last-Event-ID` while writes continue sees every change exactly once;
//! `?since=<sync token>` resumes from a sync token; other users' changes
//! are never shown.

use crate::contacts::{create_contact, two_users};
use crate::helpers::{assert_error, spawn_app, spawn_app_with, TestApp};
use crate::sync::new_token;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// One parsed SSE event.
#[derive(Debug, Clone)]
pub struct Frame {
    pub id: String,
    pub event: String,
    pub data: Value,
}

/// Opens the caller's change stream (shared with other families' tests).
pub async fn connect(
    app: &TestApp,
    token: &str,
    last_id: Option<&str>,
    query: &str,
) -> reqwest::Response {
    let mut req = app
        .client
        .get(app.url(&format!("/api/user/events{query}")))
        .bearer_auth(token);
    if let Some(id) = last_id {
        req = req.header("Last-Event-ID", id);
    }
    req.send().await.expect("connect")
}

/// Reads frames until `n` data frames arrived (keep-alive comments skipped),
/// or panics after a timeout.
pub async fn read_frames<B: AsRef<[u8]>>(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<B>> + Unpin),
    buf: &mut String,
    n: usize,
) -> Vec<Frame> {
    let mut out = Vec::new();
    while out.len() < n {
        while let Some(pos) = buf.find("\n\n") {
            let block: String = buf.drain(..pos + 2).collect();
            let mut f = Frame {
                id: String::new(),
                event: String::new(),
                data: Value::Null,
            };
            let mut has_data = false;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    f.id = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("event:") {
                    f.event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    f.data = serde_json::from_str(v.trim()).expect("data is JSON");
                    has_data = true;
                }
            }
            if has_data {
                out.push(f);
                if out.len() == n {
                    return out;
                }
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("an event in time")
            .expect("stream open")
            .expect("chunk");
        buf.push_str(std::str::from_utf8(chunk.as_ref()).expect("utf-8"));
    }
    out
}

#[tokio::test]
async fn reconnecting_with_last_event_id_sees_every_change_exactly_once() {
    let app = spawn_app().await;
    let (admin, ann, bob) = two_users(&app, "acme.example").await;
    let resp = connect(&app, &ann, None, "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/event-stream"));
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();

    // Writes continue in the background: ann's contacts, business contacts,
    // and bob's contacts (which ann must never see).
    const N: usize = 30;
    let writer = {
        let base = app.base.clone();
        let (ann, bob, admin) = (ann.clone(), bob.clone(), admin.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut expected = Vec::new();
            for i in 0..N {
                for (path, token, name) in [
                    ("/api/user/contacts", &ann, format!("a{i}")),
                    ("/api/user/contacts", &bob, format!("b{i}")),
                    ("/api/contacts", &admin, format!("biz{i}")),
                ] {
                    let resp = client
                        .post(format!("{base}{path}"))
                        .bearer_auth(token)
                        .json(&json!({ "name": name }))
                        .send()
                        .await
                        .expect("write");
                    assert_eq!(resp.status(), StatusCode::CREATED);
                    let id = resp.json::<Value>().await.expect("json")["id"]
                        .as_str()
                        .expect("id")
                        .to_owned();
                    if !name.starts_with('b') || name.starts_with("biz") {
                        expected.push(id);
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            expected
        })
    };

    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut record = |frames: &[Frame]| {
        for f in frames {
            assert_eq!(f.data["change_type"], "CREATED", "{:?}", f);
            assert_eq!(f.data["collection"], f.event);
            let name = f.data["item"]["name"].as_str().unwrap_or("").to_owned();
            assert!(
                !name.starts_with('b') || name.starts_with("biz"),
                "bob's {name} leaked"
            );
            *seen
                .entry(f.data["item"]["id"].as_str().unwrap_or("").to_owned())
                .or_default() += 1;
        }
    };
    // Read some, disconnect, reconnect from the last id; three times.
    let total = 2 * N;
    let mut got = 0;
    for round in 0..3 {
        let want = if round < 2 { total / 4 } else { total - got };
        let frames = read_frames(&mut stream, &mut buf, want).await;
        got += frames.len();
        record(&frames);
        let last = frames.last().expect("frames").id.clone();
        drop(stream);
        buf.clear();
        if round < 2 {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let resp = connect(&app, &ann, Some(&last), "").await;
            assert_eq!(resp.status(), StatusCode::OK);
            stream = resp.bytes_stream();
        } else {
            break;
        }
    }
    let expected = writer.await.expect("writer");
    assert_eq!(expected.len(), total);
    for id in &expected {
        assert_eq!(seen.get(id), Some(&1), "{id} seen {:?} times", seen.get(id));
    }
    assert_eq!(seen.len(), total, "nothing else was seen");
}

#[tokio::test]
async fn since_a_sync_token_and_the_directory_and_favorites() {
    let app = spawn_app().await;
    let (admin, ann, _) = two_users(&app, "acme.example").await;
    let t = new_token(&app, "/api/user/contacts", &ann).await;
    let carol = create_contact(&app, "/api/user/contacts", &ann, &json!({"name": "Carol"})).await;
    crate::helpers::ok(
        app.post(
            &format!("/api/user/contacts/{carol}/favorite"),
            Some(&ann),
            &json!({}),
        )
        .await,
    )
    .await;
    let dan = app
        .create_user(&admin, &crate::helpers::user_body("dan", "250"))
        .await;
    let resp = connect(&app, &ann, None, &format!("?since={t}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let frames = read_frames(&mut stream, &mut buf, 3).await;
    assert_eq!(frames[0].event, "contacts");
    assert_eq!(frames[0].data["change_type"], "CREATED");
    assert_eq!(frames[0].data["item"]["id"], carol);
    assert_eq!(frames[1].data["change_type"], "UPDATED");
    assert_eq!(frames[1].data["item"]["favorite"], true);
    assert_eq!(frames[2].event, "extension_contacts");
    assert_eq!(frames[2].data["change_type"], "CREATED");
    assert_eq!(frames[2].data["item"]["id"], dan);
    // Event ids are opaque and resumable; garbage ones are refused.
    assert!(!frames[0].id.is_empty());
    let resp = connect(&app, &ann, Some("garbage"), "").await;
    assert_error(resp, StatusCode::FORBIDDEN, "INVALID_SYNC_TOKEN").await;
    let resp = connect(&app, &admin, Some(&frames[0].id), "").await;
    assert_error(resp, StatusCode::FORBIDDEN, "INVALID_SYNC_TOKEN").await;
    let resp = app.get("/api/user/events", None).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn an_open_stream_does_not_hold_up_shutdown() {
    // In-flight requests get an hour of grace: a stream that waited for
    // shutdown to cut it off would hold the restart for that hour. It ends
    // itself when shutdown begins instead. (Not a speed check: the bound
    // below only turns such a hang into a failure.)
    let mut app = spawn_app_with(|c| c.shutdown_grace_secs = 3600).await;
    let (_, ann, _) = two_users(&app, "acme.example").await;
    let resp = connect(&app, &ann, None, "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    let restarted = tokio::time::timeout(Duration::from_secs(600), app.restart()).await;
    assert!(restarted.is_ok(), "the open stream held up shutdown");
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
    assert!(end.is_ok(), "the stream ended");
}

#[tokio::test]
async fn the_callers_own_agent_status_and_presence_are_streamed_and_nobody_elses() {
    use crate::queues::{create_queue, register, set_agents, user_with_role};
    let app = spawn_app().await;
    let t = app.tenant("agents-sse.example").await;
    let (ann_id, ann) = user_with_role(&app, &t, "ann", "101", "StandardUser").await;
    let (_, bob) = user_with_role(&app, &t, "bob", "102", "StandardUser").await;
    let (_, registrar) = user_with_role(&app, &t, "sbc", "190", "Replicator").await;
    let q = create_queue(&app, &t.admin, "Support", "800").await;
    set_agents(&app, &t.admin, "call_queues", &q, &["101", "102"]).await;
    register(&app, &registrar, "101", "ann-phone", 3600).await;

    // From "now": only what follows is streamed.
    let resp = connect(&app, &ann, None, "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();

    let set = |token: &str, status: &str| {
        let (app, token, q) = (&app, token.to_owned(), q.clone());
        let status = status.to_owned();
        async move {
            let resp = app
                .post(
                    &format!("/api/user/call_queues/{q}/agent"),
                    Some(&token),
                    &json!({ "status": status }),
                )
                .await;
            assert_eq!(resp.status(), StatusCode::OK);
        }
    };
    set(&bob, "LOGGED_IN").await; // bob's: never shown to ann
    set(&ann, "LOGGED_IN").await;
    let resp = app
        .post(
            "/api/user/presence",
            Some(&ann),
            &json!({"presence": "AWAY", "presence_note": "back at 3"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .post(
            &format!("/api/users/{ann_id}/call_state"),
            Some(&registrar),
            &json!({"state": "ON_CALL", "queue_id": q}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    set(&bob, "BREAK").await;
    set(&ann, "LOGGED_OUT").await;

    let frames = read_frames(&mut stream, &mut buf, 4).await;
    let kinds: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(
        kinds,
        ["call_queue_agent", "status", "status", "call_queue_agent"]
    );
    for f in &frames[..3] {
        // Rendered when read: the latest state, but always ann's and this queue's.
        assert_eq!(f.data["change_type"], "UPDATED", "{:?}", f);
    }
    assert_eq!(frames[0].data["item"]["queue_id"], q);
    assert_eq!(frames[0].data["item"]["extension_number"], "101");
    assert_eq!(frames[1].data["item"]["presence_note"], "back at 3");
    assert_eq!(frames[3].data["item"]["extension_number"], "101");
    assert_eq!(frames[3].data["item"]["status"], "LOGGED_OUT");
}

#[tokio::test]
async fn a_browser_event_source_may_send_its_token_in_the_query_of_the_stream_only() {
    let app = spawn_app().await;
    let (_, ann, _) = two_users(&app, "acme.example").await;
    let resp = app
        .client
        .get(app.url(&format!("/api/user/events?access_token={ann}")))
        .send()
        .await
        .expect("connect");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let carol = create_contact(&app, "/api/user/contacts", &ann, &json!({"name": "Carol"})).await;
    let frames = read_frames(&mut stream, &mut buf, 1).await;
    assert_eq!(frames[0].data["item"]["id"], carol);

    let resp = app
        .client
        .get(app.url("/api/user/events?access_token=garbage"))
        .send()
        .await
        .expect("connect");
    assert_error(resp, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    // Anywhere else a token in the URL is not accepted.
    let resp = app
        .client
        .get(app.url(&format!("/api/user?access_token={ann}")))
        .send()
        .await
        .expect("request");
    assert_error(resp, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn a_users_new_cdrs_and_messages_are_streamed_to_them_only() {
    use crate::queues::user_with_role;
    let app = spawn_app().await;
    let t = app.tenant("cdr-sse.example").await;
    let (_, ann) = user_with_role(&app, &t, "ann", "101", "StandardUser").await;
    let (_, pbx) = user_with_role(&app, &t, "pbx", "190", "Replicator").await;
    let resp = connect(&app, &ann, None, "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let post = |path: &str, body: Value| {
        let (app, pbx, path) = (&app, pbx.clone(), path.to_owned());
        async move {
            let resp = app.post(&path, Some(&pbx), &body).await;
            assert_eq!(resp.status(), StatusCode::CREATED);
            resp.json::<Value>().await.expect("json")["id"].clone()
        }
    };
    // Not ann's: never shown to her.
    post("/api/cdrs", json!({"call_id": "x", "caller": "102", "callee": "+1", "started_at": "2024-05-01T10:00:00Z"})).await;
    let cdr = post("/api/cdrs", json!({"call_id": "y", "caller": "+1", "callee": "101", "started_at": "2024-05-01T10:00:00Z"})).await;
    let sms = post("/api/external_messages", json!({"message_id": "m", "sender": "+1", "receiver": "101", "content": "hi", "created_at": "2024-05-01T10:00:00Z"})).await;
    let frames = read_frames(&mut stream, &mut buf, 2).await;
    assert_eq!(frames[0].event, "cdrs");
    assert_eq!(frames[0].data["change_type"], "CREATED");
    assert_eq!(frames[0].data["item"]["id"], cdr);
    assert_eq!(frames[0].data["item"]["call_id"], "y");
    assert_eq!(frames[1].event, "external_messages");
    assert_eq!(frames[1].data["item"]["id"], sms);
    assert_eq!(frames[1].data["item"]["content"], "hi");
}

#[tokio::test]
async fn a_users_own_settings_and_the_tenants_holidays_are_streamed_nobody_elses() {
    let app = spawn_app().await;
    let (admin, ann, bob) = two_users(&app, "settings-sse.example").await;
    let resp = connect(&app, &ann, None, "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let created = |token: String, path: &'static str, body: Value| {
        let app = &app;
        async move {
            let resp = app.post(path, Some(&token), &body).await;
            assert_eq!(resp.status(), StatusCode::CREATED, "{path}");
            resp.json::<Value>().await.expect("json")["id"].clone()
        }
    };
    // Bob's speed dial is not ann's business.
    created(
        bob.clone(),
        "/api/user/speed_dial_8",
        json!({"code": "3", "phone_number": "1003"}),
    )
    .await;
    let dial = created(
        ann.clone(),
        "/api/user/speed_dial_8",
        json!({"code": "2", "phone_number": "1002"}),
    )
    .await;
    let holiday = created(
        admin.clone(),
        "/api/holidays",
        crate::settings::holiday_body("Fête"),
    )
    .await;
    let me = crate::helpers::ok(app.get("/api/user", Some(&ann)).await).await;
    let me = me["id"].as_str().expect("id").to_owned();
    let resp = app
        .post(
            &format!("/api/users/{me}/balance"),
            Some(&admin),
            &json!({"balance": 2.5}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .post(
            &format!(
                "/api/user/speed_dial_8/{}/destroy",
                dial.as_str().expect("id")
            ),
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let frames = read_frames(&mut stream, &mut buf, 4).await;
    let seen: Vec<(&str, &Value)> = frames
        .iter()
        .map(|f| (f.event.as_str(), &f.data["change_type"]))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("speed_dial_8", &json!("CREATED")),
            ("tenant_holidays", &json!("CREATED")),
            ("balance_adjustments", &json!("CREATED")),
            ("speed_dial_8", &json!("DELETED")),
        ]
    );
    assert_eq!(frames[0].data["item"]["id"], dial);
    assert_eq!(frames[0].data["item"]["phone_number"], "1002");
    assert_eq!(frames[1].data["item"]["id"], holiday);
    assert_eq!(frames[1].data["item"]["name"], "Fête");
    assert_eq!(frames[2].data["item"]["balance"], json!(2.5));
    assert_eq!(frames[2].data["item"]["sequence"], 1);
    assert_eq!(frames[3].data["item"], json!({ "id": dial }));
}

#[tokio::test]
async fn a_pickup_request_is_streamed_to_the_pbx_that_reported_the_call() {
    use crate::queues::{create_queue, set_agents, user_with_role};
    let app = spawn_app().await;
    let t = app.tenant("pickup-sse.example").await;
    let (_, ann) = user_with_role(&app, &t, "ann", "101", "StandardUser").await;
    let (_, pbx) = user_with_role(&app, &t, "pbx", "190", "Replicator").await;
    let (_, other_pbx) = user_with_role(&app, &t, "pbx2", "191", "Replicator").await;
    let q = create_queue(&app, &t.admin, "Support", "800").await;
    set_agents(&app, &t.admin, "call_queues", &q, &["101"]).await;
    let resp = connect(&app, &pbx, None, "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let waiting = format!("/api/call_queues/{q}/waiting");
    // Another PBX's call: its pickup is not this PBX's to act on.
    for (token, session) in [(&other_pbx, "s-other"), (&pbx, "s-1")] {
        let body = json!({"session_id": session, "extension_number": "4930555"});
        let resp = app.post(&waiting, Some(token), &body).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    for session in ["s-other", "s-1"] {
        let resp = app
            .post(
                &format!("{waiting}/{session}/pickup"),
                Some(&ann),
                &json!({}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let frames = read_frames(&mut stream, &mut buf, 1).await;
    assert_eq!(frames[0].event, "call_queue_pickups");
    let item = &frames[0].data["item"];
    assert_eq!(frames[0].data["change_type"], "CREATED");
    assert_eq!(
        (item["queue_id"].as_str(), item["session_id"].as_str()),
        (Some(q.as_str()), Some("s-1"))
    );
    assert_eq!(item["agent_number"], "101");
}
