//! Unbounded inputs (issue 11, item 12): list fields have a documented
//! maximum, a sync diff without `top` comes in pages of at most 1000, and a
//! user holds a bounded number of sessions (the least recently active one
//! ends).

use crate::helpers::{assert_error, spawn_app, spawn_app_with, user_body};
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard::commands::Decision;
use switchboard_events::domain::{ContactCreated, ContactOwner};
use switchboard_events::{Event, Fields, Id, Metadata};

const DOMAIN: &str = "acme.example";

#[tokio::test]
async fn list_fields_have_a_maximum() {
    let app = spawn_app().await;
    let t = app.tenant(DOMAIN).await;
    let token = app.token_for("boss", "Passw0rd-123", DOMAIN).await;
    let blfs: Vec<Value> = (0..257).map(|n| json!({"key": format!("k{n}")})).collect();
    let err = assert_error(
        app.post("/api/user", Some(&token), &json!({ "blfs": blfs }))
            .await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "blfs");
    let blfs: Vec<Value> = (0..256).map(|n| json!({"key": format!("k{n}")})).collect();
    let resp = app
        .post("/api/user", Some(&token), &json!({ "blfs": blfs }))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let ids: Vec<Value> = (0..65)
        .map(|n| json!({"provider_id": "p", "caller_id": format!("{n}")}))
        .collect();
    let err = assert_error(
        app.post(
            "/api/user",
            Some(&token),
            &json!({ "outbound_caller_ids": ids }),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "outbound_caller_ids");
    let queue: Value = app
        .post(
            "/api/call_queues",
            Some(&t.admin),
            &json!({"name": "Q", "extension_number": "500", "polling_strategy": "CYCLIC_HUNT"}),
        )
        .await
        .json()
        .await
        .expect("json");
    let agents: Vec<Value> = (0..1001)
        .map(|n| json!({"extension_number": format!("{}", 1000 + n)}))
        .collect();
    let err = assert_error(
        app.post(
            &format!(
                "/api/call_queues/{}/agents",
                queue["id"].as_str().expect("id")
            ),
            Some(&t.admin),
            &json!({ "items": agents }),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "items");
}

#[tokio::test]
async fn a_diff_without_top_comes_in_pages_of_at_most_1000() {
    let app = spawn_app().await;
    let t = app.tenant(DOMAIN).await;
    app.create_user(&t.admin, &user_body("alice", "101")).await;
    let alice = app.token_for("alice", "Passw0rd-123", DOMAIN).await;
    let token: Value = app
        .post("/api/user/contacts/sync_tokens", Some(&alice), &json!({}))
        .await
        .json()
        .await
        .expect("json");
    // 1001 new contacts in one append (quicker than 1001 requests).
    let (tenant, user) = {
        let dir = app.state().queries.read();
        let tenant = dir.tenant_by_domain(DOMAIN).expect("tenant").id;
        let user = dir
            .scope(tenant)
            .and_then(|s| s.user_by_name("alice"))
            .expect("alice")
            .id;
        (tenant, user)
    };
    let events: Vec<Event> = (0..1001u64)
        .map(|n| {
            let mut attrs = Fields::new();
            attrs.insert("name".into(), format!("c{n}").into());
            Event::ContactCreated(ContactCreated {
                contact_id: Id(900_000 + n),
                owner: ContactOwner::User(user),
                attrs,
            })
        })
        .collect();
    app.state()
        .pipeline
        .execute(tenant, Metadata::system("test"), |_| {
            Ok((Decision::events(events), ()))
        })
        .await
        .expect("recorded");
    let diff = |t: String| {
        let app = &app;
        let alice = alice.clone();
        async move {
            let v: Value = app
                .post(
                    &format!("/api/user/contacts/sync_tokens/{t}/diff"),
                    Some(&alice),
                    &json!({}),
                )
                .await
                .json()
                .await
                .expect("json");
            v
        }
    };
    let first = diff(token["token"].as_str().expect("token").to_owned()).await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(1000));
    assert_eq!(first["has_more"], true);
    let second = diff(first["token"].as_str().expect("token").to_owned()).await;
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(second["has_more"], false);
}

#[tokio::test]
async fn a_user_holds_a_bounded_number_of_sessions_and_the_oldest_ends() {
    let app = spawn_app_with(|c| c.sessions_per_user = 2).await;
    let first = app.admin_token().await;
    let second = app.admin_token().await;
    assert_eq!(
        app.get("/api/auth/user", Some(&first)).await.status(),
        StatusCode::OK
    );
    let third = app.admin_token().await;
    assert_eq!(
        app.get("/api/auth/user", Some(&first)).await.status(),
        StatusCode::UNAUTHORIZED,
        "the least recently active session ended"
    );
    for t in [&second, &third] {
        assert_eq!(
            app.get("/api/auth/user", Some(t)).await.status(),
            StatusCode::OK
        );
    }
}
