//! CDRs and external messages: ingestion by the PBX (Replicator),
//! idempotent by the PBX's own id; the tenant's lists and details for an
//! administrator; a user's own under `/user/…`; validation naming the
//! field; another tenant's and another user's records 404; pages over the
//! on-disk store; retention.

use crate::helpers::{assert_error, spawn_app, spawn_app_with, TenantCtx, TestApp};
use crate::queues::{json_of, user_with_role};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn cdr(call_id: &str, caller: &str, callee: &str, started_at: &str) -> Value {
    json!({
        "call_id": call_id, "caller": caller, "callee": callee,
        "started_at": started_at, "ended_at": started_at,
        "direction": "EXTENSION_CALL", "end_reason": "CALLER_DISCONNECTED",
        "status_code": 200, "duration": 42, "cost": 0.1, "billed_account": "acme",
    })
}

async fn report(app: &TestApp, pbx: &str, body: &Value) -> (StatusCode, Value) {
    let resp = app.post("/api/cdrs", Some(pbx), body).await;
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

struct World {
    t: TenantCtx,
    pbx: String,
    ann: String,
    bob: String,
}

async fn world(app: &TestApp, domain: &str) -> World {
    let t = app.tenant(domain).await;
    let (_, pbx) = user_with_role(app, &t, "pbx", "190", "Replicator").await;
    let (_, ann) = user_with_role(app, &t, "ann", "101", "StandardUser").await;
    let (_, bob) = user_with_role(app, &t, "bob", "102", "StandardUser").await;
    World { t, pbx, ann, bob }
}

#[tokio::test]
async fn a_reported_cdr_is_listed_and_shown_and_a_repeat_writes_nothing() {
    let app = spawn_app().await;
    let w = world(&app, "cdr.example").await;
    let (status, created) = report(
        &app,
        &w.pbx,
        &cdr("c-1", "101", "102", "2024-05-01T10:00:00+02:00"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let head = app.log().head();

    // The same call id again: 200, the same id, nothing appended.
    let (status, again) = report(
        &app,
        &w.pbx,
        &cdr("c-1", "101", "102", "2024-05-01T09:00:00Z"),
    )
    .await;
    assert_eq!(
        (status, again["id"].as_str()),
        (StatusCode::OK, Some(id.as_str()))
    );
    assert_eq!(app.log().head(), head, "a repeat writes nothing");

    let list = json_of(app.get("/api/cdrs", Some(&w.t.admin)).await).await;
    assert_eq!(list["count"], 1);
    let item = &list["items"][0];
    assert_eq!(item["id"], json!(id));
    assert_eq!(
        item["started_at"], "2024-05-01T08:00:00Z",
        "normalized to UTC"
    );
    assert_eq!(item["caller"], "101");
    assert!(item.get("cost").is_none(), "lists leave out cost");
    assert_eq!(item["trunk"], Value::Null);

    let one = json_of(app.get(&format!("/api/cdrs/{id}"), Some(&w.t.admin)).await).await;
    assert_eq!(one["items"][0]["cost"], 0.1);
    assert_eq!(one["items"][0]["billed_account"], "acme");
    // Both parties see it under /user/cdrs.
    for token in [&w.ann, &w.bob] {
        let mine = json_of(app.get("/api/user/cdrs", Some(token)).await).await;
        assert_eq!(mine["count"], 1);
        let shown = json_of(app.get(&format!("/api/user/cdrs/{id}"), Some(token)).await).await;
        assert_eq!(shown["items"]["call_id"], "c-1");
    }
}

#[tokio::test]
async fn users_see_only_their_own_and_other_tenants_see_nothing() {
    let app = spawn_app().await;
    let w = world(&app, "own.example").await;
    let (_, carl) = user_with_role(&app, &w.t, "carl", "103", "StandardUser").await;
    let (_, a) = report(
        &app,
        &w.pbx,
        &cdr("a", "101", "+4930111", "2024-05-01T10:00:00Z"),
    )
    .await;
    let (_, b) = report(
        &app,
        &w.pbx,
        &cdr("b", "102", "+4930222", "2024-05-01T11:00:00Z"),
    )
    .await;
    let (a, b) = (a["id"].as_str().expect("id"), b["id"].as_str().expect("id"));

    let ann = json_of(app.get("/api/user/cdrs", Some(&w.ann)).await).await;
    assert_eq!(
        (ann["count"].clone(), ann["items"][0]["id"].clone()),
        (json!(1), json!(a))
    );
    let resp = app.get(&format!("/api/user/cdrs/{b}"), Some(&w.ann)).await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let none = json_of(app.get("/api/user/cdrs", Some(&carl)).await).await;
    assert_eq!(none["count"], 0);

    // A standard user may not read the tenant's list.
    let resp = app.get("/api/cdrs", Some(&w.ann)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Another tenant's admin: the ids are not found, the list is empty.
    let other = world(&app, "other.example").await;
    let resp = app
        .get(&format!("/api/cdrs/{a}"), Some(&other.t.admin))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let list = json_of(app.get("/api/cdrs", Some(&other.t.admin)).await).await;
    assert_eq!(list["count"], 0);
    // The same call id in another tenant is another call.
    let (status, _) = report(
        &app,
        &other.pbx,
        &cdr("a", "101", "102", "2024-05-01T10:00:00Z"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // Garbage ids are 404 too.
    let resp = app.get("/api/cdrs/not-an-id", Some(&w.t.admin)).await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn bad_records_are_refused_naming_the_field_and_only_the_pbx_reports() {
    let app = spawn_app().await;
    let w = world(&app, "bad.example").await;
    let good = cdr("x", "101", "102", "2024-05-01T10:00:00Z");
    for (field, value) in [
        ("started_at", json!("yesterday")),
        ("direction", json!("SIDEWAYS")),
        ("duration", json!(-5)),
        ("call_id", json!("")),
        ("caller", json!("1".repeat(300))),
        ("colour", json!("red")),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let resp = app.post("/api/cdrs", Some(&w.pbx), &body).await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert_eq!(err["detail"]["field"], field, "{err}");
    }
    let resp = app
        .post("/api/cdrs", Some(&w.pbx), &json!({"call_id": "x"}))
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "started_at");
    let resp = app.post("/api/cdrs", Some(&w.pbx), &json!([1, 2])).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Nothing of the refused records was written.
    assert_eq!(
        json_of(app.get("/api/cdrs", Some(&w.t.admin)).await).await["count"],
        0
    );
    // Users and queue managers do not report CDRs (the PBX, i.e. the
    // Replicator role, does; an Admin holds every tenant capability).
    let (_, manager) = user_with_role(&app, &w.t, "qm", "104", "QueueManager").await;
    for token in [&w.ann, &manager] {
        let resp = app.post("/api/cdrs", Some(token), &good).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
    let resp = app.post("/api/cdrs", None, &good).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn pages_filter_order_and_search_over_the_store() {
    let app = spawn_app().await;
    let w = world(&app, "pages.example").await;
    for i in 0..30 {
        let callee = if i % 3 == 0 {
            "102".to_owned()
        } else {
            format!("+49301{i:04}")
        };
        let at = format!("2024-05-01T10:{i:02}:00Z");
        let (status, _) = report(&app, &w.pbx, &cdr(&format!("p-{i}"), "101", &callee, &at)).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let admin = w.t.admin.clone();
    let get = |q: &str| {
        let (app, path, admin) = (&app, format!("/api/cdrs?{q}"), admin.clone());
        async move { app.get(&path, Some(&admin)).await }
    };
    let page = json_of(get("top=5&skip=2").await).await;
    assert_eq!(page["count"], 30);
    let starts: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["started_at"].as_str())
        .collect();
    assert_eq!(
        starts,
        [
            "2024-05-01T10:27:00Z",
            "2024-05-01T10:26:00Z",
            "2024-05-01T10:25:00Z",
            "2024-05-01T10:24:00Z",
            "2024-05-01T10:23:00Z"
        ]
    );
    let page = json_of(get("orderby=started_at%20asc&top=1").await).await;
    assert_eq!(page["items"][0]["call_id"], "p-0");
    let page = json_of(get("filter=started_at%20ge%20'2024-05-01T10:10:00Z'%20and%20started_at%20lt%20'2024-05-01T10:20:00Z'").await).await;
    assert_eq!(page["count"], 10);
    let page = json_of(get("filter=callee%20eq%20'102'").await).await;
    assert_eq!(page["count"], 10);
    let page = json_of(get("search=493010020").await).await;
    assert_eq!(
        (page["count"].clone(), page["items"][0]["call_id"].clone()),
        (json!(1), json!("p-20"))
    );
    let bob = json_of(app.get("/api/user/cdrs?top=2", Some(&w.bob)).await).await;
    assert_eq!(bob["count"], 10);
    assert_eq!(bob["items"][0]["call_id"], "p-27");
    // Bad queries name the parameter.
    let err = assert_error(
        get("filter=nope%20eq%201").await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "filter");
    let err = assert_error(
        get("orderby=caller&skip=20000").await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "skip");
}

#[tokio::test]
async fn external_messages_are_reported_once_and_seen_by_their_parties() {
    let app = spawn_app().await;
    let w = world(&app, "sms.example").await;
    let body = json!({
        "message_id": "m-1", "sender": "+15550100", "receiver": "+15550199",
        "extension_numbers": ["102"], "msg_type": "SMS", "direction": "IN",
        "content": "hello", "delivery": "RECV", "created_at": "2024-05-01T10:00:00Z",
    });
    let resp = app
        .post("/api/external_messages", Some(&w.pbx), &body)
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = json_of(resp).await["id"].as_str().expect("id").to_owned();
    let resp = app
        .post("/api/external_messages", Some(&w.pbx), &body)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(json_of(resp).await["id"], json!(id));

    let shown = json_of(
        app.get(&format!("/api/external_messages/{id}"), Some(&w.t.admin))
            .await,
    )
    .await;
    assert_eq!(
        (shown["id"].clone(), shown["content"].clone()),
        (json!(id), json!("hello"))
    );
    assert!(shown.get("message_id").is_none() && shown.get("extension_numbers").is_none());
    let bob = json_of(app.get("/api/user/external_messages", Some(&w.bob)).await).await;
    assert_eq!(bob["count"], 1);
    let resp = app
        .get(&format!("/api/user/external_messages/{id}"), Some(&w.ann))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let mine = json_of(
        app.get(&format!("/api/user/external_messages/{id}"), Some(&w.bob))
            .await,
    )
    .await;
    assert_eq!(mine["sender"], "+15550100");

    let mut bad = body.clone();
    bad["msg_type"] = json!("FAX");
    let err = assert_error(
        app.post("/api/external_messages", Some(&w.pbx), &bad).await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "msg_type");
    let mut bad = body.clone();
    bad.as_object_mut().expect("object").remove("message_id");
    let err = assert_error(
        app.post("/api/external_messages", Some(&w.pbx), &bad).await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "message_id");
}

#[tokio::test]
async fn records_survive_a_restart_and_a_repeat_after_it_is_still_recognized() {
    let mut app = spawn_app().await;
    let w = world(&app, "restart.example").await;
    let (_, first) = report(
        &app,
        &w.pbx,
        &cdr("r-1", "101", "102", "2024-05-01T10:00:00Z"),
    )
    .await;
    app.restart().await;
    let pbx = app.token_for("pbx", "Passw0rd-123", &w.t.domain).await;
    let admin = app.token_for("boss", "Passw0rd-123", &w.t.domain).await;
    let (status, again) = report(
        &app,
        &pbx,
        &cdr("r-1", "101", "102", "2024-05-01T10:00:00Z"),
    )
    .await;
    assert_eq!(
        (status, again["id"].clone()),
        (StatusCode::OK, first["id"].clone())
    );
    assert_eq!(
        json_of(app.get("/api/cdrs", Some(&admin)).await).await["count"],
        1
    );
}

#[tokio::test]
async fn records_past_the_retention_are_not_kept() {
    let app = spawn_app_with(|c| c.records_retention_days = 30).await;
    let w = world(&app, "keep.example").await;
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| switchboard_events::envelope::format_rfc3339(t);
    let old = fmt(now - time::Duration::days(45));
    let recent = fmt(now - time::Duration::days(2));
    let (s1, _) = report(&app, &w.pbx, &cdr("old", "101", "102", &old)).await;
    let (s2, _) = report(&app, &w.pbx, &cdr("new", "101", "102", &recent)).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    let list = json_of(app.get("/api/cdrs", Some(&w.t.admin)).await).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["items"][0]["call_id"], "new");
    // Pruning (what the hourly timer runs) keeps what is inside the horizon.
    app.state().history.prune_now().await.expect("prune");
    assert_eq!(
        json_of(app.get("/api/cdrs", Some(&w.t.admin)).await).await["count"],
        1
    );
}

#[tokio::test]
async fn the_cdr_sync_diff_reports_a_users_new_cdrs_page_by_page() {
    let app = spawn_app().await;
    let w = world(&app, "sync.example").await;
    let token = json_of(
        app.post("/api/user/cdrs/sync_tokens", Some(&w.ann), &json!({}))
            .await,
    )
    .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    for i in 0..5 {
        let callee = if i == 2 { "+4930999" } else { "101" };
        let (status, _) = report(
            &app,
            &w.pbx,
            &cdr(&format!("s-{i}"), "102", callee, "2024-05-01T10:00:00Z"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let diff = |token: String, top: &str| {
        let (app, path, ann) = (
            &app,
            format!("/api/user/cdrs/sync_tokens/{token}/diff?top={top}"),
            w.ann.clone(),
        );
        async move { json_of(app.post(&path, Some(&ann), &json!({})).await).await }
    };
    let first = diff(token.clone(), "3").await;
    assert_eq!(first["has_more"], true);
    let calls: Vec<&str> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["items"][0]["callee"].as_str())
        .collect();
    assert_eq!(calls, ["101", "101", "101"]);
    assert_eq!(first["items"][0]["change_type"], "CREATED");
    let second = diff(first["token"].as_str().expect("token").to_owned(), "3").await;
    assert_eq!(
        (
            second["has_more"].clone(),
            second["items"].as_array().map(Vec::len)
        ),
        (json!(false), Some(1))
    );
    // Nothing new since: an empty diff; bob (a party of all five) sees five.
    let third = diff(second["token"].as_str().expect("token").to_owned(), "3").await;
    assert_eq!(third["items"], json!([]));
    let bob_token = json_of(
        app.post("/api/user/cdrs/sync_tokens", Some(&w.bob), &json!({}))
            .await,
    )
    .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let (_, _) = report(
        &app,
        &w.pbx,
        &cdr("s-late", "102", "+4930", "2024-05-01T11:00:00Z"),
    )
    .await;
    let bob = json_of(
        app.post(
            &format!("/api/user/cdrs/sync_tokens/{bob_token}/diff"),
            Some(&w.bob),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(bob["items"].as_array().map(Vec::len), Some(1));
    // Another user's token is refused.
    let resp = app
        .post(
            &format!("/api/user/cdrs/sync_tokens/{token}/diff"),
            Some(&w.bob),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_cdr_sync_token_from_a_date_starts_at_the_first_cdr_of_the_caller_since_then() {
    let app = spawn_app().await;
    let w = world(&app, "syncfrom.example").await;
    for (call, callee, at) in [
        ("may", "101", "2024-05-01T10:00:00Z"),
        ("june-bob", "102", "2024-06-01T10:00:00Z"),
        ("june", "101", "2024-06-02T10:00:00Z"),
        ("july", "101", "2024-07-01T10:00:00Z"),
    ] {
        let (status, _) = report(&app, &w.pbx, &cdr(call, "+4930555", callee, at)).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let token = |query: &'static str| {
        let (app, ann) = (&app, w.ann.clone());
        async move {
            let path = format!("/api/user/cdrs/sync_tokens{query}");
            json_of(app.post(&path, Some(&ann), &json!({})).await).await["token"]
                .as_str()
                .expect("token")
                .to_owned()
        }
    };
    let diff_calls = |token: String| {
        let (app, ann) = (&app, w.ann.clone());
        async move {
            let path = format!("/api/user/cdrs/sync_tokens/{token}/diff");
            let d = json_of(app.post(&path, Some(&ann), &json!({})).await).await;
            let calls: Vec<String> = d["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|i| i["items"][0]["started_at"].as_str().map(str::to_owned))
                .collect();
            (calls, d["token"].as_str().expect("token").to_owned())
        }
    };
    // From mid-May: ann's June and July calls (bob's is not hers).
    let (calls, _) = diff_calls(token("?date_from=2024-05-15T00:00:00Z").await).await;
    assert_eq!(calls, ["2024-06-02T10:00:00Z", "2024-07-01T10:00:00Z"]);
    // From before everything: all three of hers.
    let (calls, _) = diff_calls(token("?date_from=2020-01-01T00:00:00%2B02:00").await).await;
    assert_eq!(calls.len(), 3);
    // From after everything (or without a date): nothing until a new call.
    for query in ["?date_from=2030-01-01T00:00:00Z", ""] {
        let (calls, _) = diff_calls(token(query).await).await;
        assert!(calls.is_empty(), "{query}: {calls:?}");
    }
    let later = token("?date_from=2030-01-01T00:00:00Z").await;
    report(
        &app,
        &w.pbx,
        &cdr("aug", "101", "+1555", "2024-08-01T10:00:00Z"),
    )
    .await;
    let (calls, _) = diff_calls(later).await;
    assert_eq!(calls, ["2024-08-01T10:00:00Z"]);
    let resp = app
        .post(
            "/api/user/cdrs/sync_tokens?date_from=yesterday",
            Some(&w.ann),
            &json!({}),
        )
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "date_from");
}
