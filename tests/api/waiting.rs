//! Call queues' waiting lists: the PBX reports callers waiting and gone
//! (idempotent), `GET …/waiting` lists them live for the queue's agents
//! and who reads queues, and `…/pickup` by an agent of that queue records
//! a request (another queue's agent 403, a gone call 404, a taken one 409).

use crate::helpers::{assert_error, spawn_app, TenantCtx, TestApp};
use crate::queues::{create_queue, json_of, set_agents, user_with_role};
use reqwest::StatusCode;
use serde_json::{json, Value};

struct World {
    t: TenantCtx,
    pbx: String,
    ann: String,
    bob: String,
    carl: String,
    support: String,
    sales: String,
}

/// Ann (101) answers Support, bob (102) Sales, carl (103) nothing.
async fn world(app: &TestApp, domain: &str) -> World {
    let crate::recordings::World {
        t,
        pbx,
        ann,
        bob,
        carl,
    } = crate::recordings::world(app, domain).await;
    let support = create_queue(app, &t.admin, "Support", "800").await;
    let sales = create_queue(app, &t.admin, "Sales", "801").await;
    set_agents(app, &t.admin, "call_queues", &support, &["101"]).await;
    set_agents(app, &t.admin, "call_queues", &sales, &["102"]).await;
    World {
        t,
        pbx,
        ann,
        bob,
        carl,
        support,
        sales,
    }
}

async fn report(app: &TestApp, w: &World, queue: &str, body: Value) -> StatusCode {
    app.post(
        &format!("/api/call_queues/{queue}/waiting"),
        Some(&w.pbx),
        &body,
    )
    .await
    .status()
}

async fn pickup(app: &TestApp, token: &str, queue: &str, session: &str) -> reqwest::Response {
    app.post(
        &format!("/api/call_queues/{queue}/waiting/{session}/pickup"),
        Some(token),
        &json!({}),
    )
    .await
}

#[tokio::test]
async fn reported_callers_are_listed_live_and_a_repeat_or_a_second_removal_writes_nothing() {
    let app = spawn_app().await;
    let w = world(&app, "wait.example").await;
    let earlier = switchboard_events::envelope::format_rfc3339(
        time::OffsetDateTime::now_utc() - time::Duration::seconds(90),
    );
    let first = json!({"session_id": "s-1", "extension_number": "+4930555",
                       "display_name": "Early", "waiting_since": earlier});
    assert_eq!(
        report(&app, &w, &w.support, first.clone()).await,
        StatusCode::CREATED
    );
    let second = json!({"session_id": "s-2", "extension_number": "4930666"});
    assert_eq!(
        report(&app, &w, &w.support, second).await,
        StatusCode::CREATED
    );
    let head = app.log().head();
    assert_eq!(report(&app, &w, &w.support, first).await, StatusCode::OK);
    assert_eq!(app.log().head(), head, "a repeat writes nothing");

    let path = format!("/api/call_queues/{}/waiting", w.support);
    for token in [&w.t.admin, &w.ann] {
        let list = json_of(app.get(&path, Some(token)).await).await;
        let items = list["items"].as_array().expect("items");
        assert_eq!(items.len(), 2, "{list}");
        assert_eq!(items[0]["session_id"], "s-1", "longest waiting first");
        assert_eq!(items[0]["extension_number"], "+4930555");
        assert_eq!(items[0]["display_name"], "Early");
        let waited = items[0]["waiting_time"].as_i64().expect("seconds");
        assert!((90..3600).contains(&waited), "{waited}");
        assert_eq!(items[1]["display_name"], "");
    }
    // Another queue's list is its own; a user who is no agent of it does
    // not read it; another tenant does not find the queue.
    let sales = json_of(
        app.get(
            &format!("/api/call_queues/{}/waiting", w.sales),
            Some(&w.bob),
        )
        .await,
    )
    .await;
    assert_eq!(sales["items"], json!([]));
    assert_eq!(
        app.get(&path, Some(&w.carl)).await.status(),
        StatusCode::FORBIDDEN
    );
    let other = app.tenant("other-wait.example").await;
    assert_error(
        app.get(&path, Some(&other.admin)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;

    // Gone: removed from the list; removing again is fine and writes nothing.
    let gone = format!("/api/call_queues/{}/waiting/s-1/destroy", w.support);
    let resp = app.post(&gone, Some(&w.pbx), &json!({})).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let head = app.log().head();
    let resp = app.post(&gone, Some(&w.pbx), &json!({})).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.log().head(), head);
    let list = json_of(app.get(&path, Some(&w.ann)).await).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn bad_reports_name_the_field_and_only_the_pbx_reports() {
    let app = spawn_app().await;
    let w = world(&app, "badwait.example").await;
    let good = json!({"session_id": "s-1", "extension_number": "4930555"});
    for (field, value) in [
        ("session_id", Value::Null),
        ("session_id", json!("a/b")),
        ("session_id", json!("x".repeat(129))),
        ("extension_number", json!("12")),
        ("extension_number", json!("call me")),
        ("display_name", json!(7)),
        ("waiting_since", json!("soon")),
        ("colour", json!("red")),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let resp = app
            .post(
                &format!("/api/call_queues/{}/waiting", w.support),
                Some(&w.pbx),
                &body,
            )
            .await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert_eq!(err["detail"]["field"], field, "{err}");
    }
    for token in [&w.ann, &w.t.admin] {
        let resp = app
            .post(
                &format!("/api/call_queues/{}/waiting", w.support),
                Some(token),
                &good,
            )
            .await;
        // The Admin holds every tenant capability, the PBX's too.
        let want = if token == &w.t.admin {
            StatusCode::CREATED
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(resp.status(), want);
    }
    let resp = app
        .post("/api/call_queues/bm9wZQ/waiting", Some(&w.pbx), &good)
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn only_the_queues_agents_pick_up_and_a_gone_or_taken_call_is_refused_with_a_code() {
    let app = spawn_app().await;
    let w = world(&app, "pick.example").await;
    let (_, dora) = user_with_role(&app, &w.t, "dora", "104", "StandardUser").await;
    set_agents(&app, &w.t.admin, "call_queues", &w.support, &["101", "104"]).await;
    let body = json!({"session_id": "s-1", "extension_number": "4930555"});
    assert_eq!(
        report(&app, &w, &w.support, body).await,
        StatusCode::CREATED
    );

    // Another queue's agent, a user who is no agent, the administrator: 403.
    for token in [&w.bob, &w.carl, &w.t.admin] {
        let resp = pickup(&app, token, &w.support, "s-1").await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
    // A session that is not waiting: 404 with its code.
    assert_error(
        pickup(&app, &w.ann, &w.support, "s-gone").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    // The queue's agent: 200 with the request's id; again: the same id.
    let first = json_of(pickup(&app, &w.ann, &w.support, "s-1").await).await;
    let again = json_of(pickup(&app, &w.ann, &w.support, "s-1").await).await;
    assert_eq!(first["id"], again["id"]);
    // Another agent of the queue: taken.
    assert_error(
        pickup(&app, &dora, &w.support, "s-1").await,
        StatusCode::CONFLICT,
        "CALL_ALREADY_PICKED_UP",
    )
    .await;
    // The PBX reports the caller gone: the request goes with it, and the
    // call can no longer be picked up.
    let resp = app
        .post(
            &format!("/api/call_queues/{}/waiting/s-1/destroy", w.support),
            Some(&w.pbx),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        pickup(&app, &dora, &w.support, "s-1").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    // Another tenant's queue is not found.
    let other = app.tenant("other-pick.example").await;
    assert_error(
        pickup(&app, &other.admin, &w.support, "s-1").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn the_pbxs_waiting_list_reports_stay_out_of_the_audit_log_and_the_agents_pickup_is_in_it() {
    let app = spawn_app().await;
    let w = world(&app, "quiet.example").await;
    let body = json!({"session_id": "s-1", "extension_number": "4930555"});
    assert_eq!(
        report(&app, &w, &w.support, body).await,
        StatusCode::CREATED
    );
    let resp = pickup(&app, &w.ann, &w.support, "s-1").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let gone = format!("/api/call_queues/{}/waiting/s-1/destroy", w.support);
    let resp = app.post(&gone, Some(&w.pbx), &json!({})).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    let all = json_of(app.get("/api/audit_logs?top=100", Some(&w.t.admin)).await).await;
    let items = all["items"].as_array().expect("items");
    let of = |t: &str| -> Vec<&Value> { items.iter().filter(|i| i["object_type"] == t).collect() };
    assert!(of("QUEUE_WAITING").is_empty(), "caller in and out: {all}");
    let pickups = of("QUEUE_PICKUPS");
    assert_eq!(pickups.len(), 1, "the request, not its end: {all}");
    assert_eq!(pickups[0]["action"], "CREATE");
    assert_eq!(pickups[0]["user_name"], "ann", "who asked");
}
