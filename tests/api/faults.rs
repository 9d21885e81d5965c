//! The write path under faults (issue 11, items 9 and 10): requests
//! dropped mid-way never let a duplicate through; a stopped projection
//! turns readiness red and writes answer 503 at once; requests have a
//! server-side deadline; and the server sheds load beyond its limit.

use crate::helpers::{spawn_app, spawn_app_with, user_body, TestApp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;
use switchboard_events::{AppendRequest, Metadata, NewEvent, StreamId, SYSTEM_TENANT};

const DOMAIN: &str = "acme.example";

#[tokio::test]
async fn requests_dropped_mid_way_never_let_a_duplicate_number_or_name_through() {
    let app = spawn_app().await;
    let t = app.tenant(DOMAIN).await;
    let mut rng = StdRng::seed_from_u64(11);
    let mut tasks = Vec::new();
    for n in 0..60u32 {
        // Few names and numbers, so most requests clash.
        let name = format!("user{}", rng.gen_range(0..6));
        let number = format!("{}", 200 + rng.gen_range(0..6));
        let mut body = user_body(&name, &number);
        body["display_name"] = serde_json::json!(format!("request {n}"));
        // Half the clients give up after a moment: their requests are
        // dropped wherever they are (waiting for the lock, appending...).
        let patience = (n % 2 == 0).then(|| Duration::from_micros(rng.gen_range(0..4000)));
        let (client, url, token) = (app.client.clone(), app.url("/api/users"), t.admin.clone());
        tasks.push(tokio::spawn(async move {
            let send = client.post(url).bearer_auth(token).json(&body).send();
            match patience {
                Some(p) => {
                    let _ = tokio::time::timeout(p, send).await;
                }
                None => {
                    let _ = send.await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    // One more write in the tenant: it runs after every write that had
    // taken the tenant's lock, dropped or not.
    app.create_user(&t.admin, &user_body("last", "299")).await;
    let users: Value = app
        .get("/api/users?top=100", Some(&t.admin))
        .await
        .json()
        .await
        .expect("json");
    let items = users["items"].as_array().expect("items");
    let mut names = HashSet::new();
    let mut numbers = HashSet::new();
    for u in items {
        assert!(names.insert(u["name"].clone()), "duplicate name in {users}");
        assert!(
            numbers.insert(u["extension_number"].clone()),
            "duplicate number in {users}"
        );
    }
    let dir = app.state().queries.read();
    let scope = dir
        .tenant_by_domain(DOMAIN)
        .and_then(|t| dir.scope(t.id))
        .expect("scope");
    let mut ext_numbers = HashSet::new();
    for x in scope.extensions.values() {
        assert!(
            ext_numbers.insert(x.number.clone()),
            "two extensions {}",
            x.number
        );
    }
}

/// Appends an event this build cannot decode: the projection stops at it.
async fn poison(app: &TestApp) {
    let bogus = NewEvent {
        stream: StreamId::parse("bogus-1").expect("stream"),
        tenant: SYSTEM_TENANT,
        event_type: "NoSuchEvent",
        schema_version: 1,
        payload: vec![0xff, 0xfe],
    };
    app.log()
        .append(AppendRequest {
            events: vec![bogus],
            expected: vec![],
            metadata: std::sync::Arc::new(Metadata::system("test")),
        })
        .await
        .expect("appended");
    tokio::time::timeout(Duration::from_secs(10), app.state().pipeline.stopped())
        .await
        .expect("the projection stops at the event it cannot decode");
}

#[tokio::test]
async fn a_stopped_projection_turns_readiness_red_and_writes_answer_503_at_once() {
    let app = spawn_app().await;
    let t = app.tenant(DOMAIN).await;
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
    poison(&app).await;
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["following"], false);
    // With the default 30 s deadline, an answer at all means "at once".
    let resp = app
        .post("/api/users", Some(&t.admin), &user_body("alice", "101"))
        .await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let err: Value = resp.json().await.expect("json");
    assert_eq!(err["errors"][0]["code"], "SERVICE_UNAVAILABLE");
    // Every dialect.
    let resp = app
        .client
        .post(app.url("/Etelecom/CreateExtension"))
        .bearer_auth(&t.admin)
        .json(&serde_json::json!({"extension_number": "555"}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_request_past_its_deadline_gets_503_with_retry_after() {
    let app = spawn_app_with(|c| c.request_deadline_ms = 300).await;
    let t = app.tenant(DOMAIN).await;
    // The tenant's writes are held back, so this one waits past its
    // deadline.
    let tenant = switchboard::http::ids::portsip::parse(&t.id).expect("id");
    let hold = app.state().pipeline.quiesce(tenant).await;
    let resp = app
        .post("/api/users", Some(&t.admin), &user_body("alice", "101"))
        .await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().get("retry-after").is_some());
    let err: Value = resp.json().await.expect("json");
    assert_eq!(err["errors"][0]["code"], "SERVICE_UNAVAILABLE");
    drop(hold);
    // It had not decided anything: nothing was created.
    let users: Value = app
        .get("/api/users", Some(&t.admin))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(users["count"], 1, "only the tenant's Admin: {users}");
}

#[tokio::test]
async fn requests_beyond_the_concurrency_limit_are_shed_with_retry_after() {
    let app = spawn_app_with(|c| c.max_concurrent_requests = 4).await;
    let token = app.admin_token().await;
    // Four requests in progress (held here, as slow requests would hold
    // them).
    let held = app
        .state()
        .admission
        .clone()
        .acquire_many_owned(4)
        .await
        .expect("permits");
    let resp = app.get("/api/auth/user", Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let resp = app
        .client
        .get(app.url("/api/v1/user-extensions"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["success"], false, "in the dialect's shape: {body}");
    // Health checks are never shed.
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    drop(held);
    assert_eq!(
        app.get("/api/auth/user", Some(&token)).await.status(),
        StatusCode::OK
    );
}
