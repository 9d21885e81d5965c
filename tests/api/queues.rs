//! Call queues: CRUD, the shared number space, agent lists with live
//! status, the queue status, and who may do what. Shared helpers for the
//! ring group, agent and presence tests live here too.

use crate::helpers::{assert_error, spawn_app, user_body, TenantCtx, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

pub async fn json_of(resp: reqwest::Response) -> Value {
    let status = resp.status();
    let body: Value = resp.json().await.expect("json");
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// Creates a call queue (as `token`) and returns its id.
pub async fn create_queue(app: &TestApp, token: &str, name: &str, number: &str) -> String {
    let body = json!({"name": name, "extension_number": number, "polling_strategy": "RING_SIMULTANEOUSLY"});
    let resp = app.post("/api/call_queues", Some(token), &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    json_of(resp).await["id"].as_str().expect("id").to_owned()
}

/// Creates a user with `role` and number; returns (id, token).
pub async fn user_with_role(
    app: &TestApp,
    t: &TenantCtx,
    name: &str,
    number: &str,
    role: &str,
) -> (String, String) {
    let mut body = user_body(name, number);
    body["role"] = json!(role);
    let id = app.create_user(&t.admin, &body).await;
    let token = app.token_for(name, "Passw0rd-123", &t.domain).await;
    (id, token)
}

/// Replaces a queue's agents with `numbers` (skill level 1).
pub async fn set_agents(app: &TestApp, token: &str, kind: &str, id: &str, numbers: &[&str]) {
    let items: Vec<Value> = numbers
        .iter()
        .map(|n| json!({"extension_number": n, "skill_level": 1}))
        .collect();
    let resp = app
        .post(
            &format!("/api/{kind}/{id}/agents"),
            Some(token),
            &json!({ "items": items }),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap_or_default()
    );
}

/// Registers a user's device (as the registrar) for `expires` seconds.
pub async fn register(app: &TestApp, replicator: &str, number: &str, instance: &str, expires: i64) {
    let body = json!({"extension_number": number, "instance_id": instance,
        "user_agent": "Softphone/1.0", "application": "softphone", "ip": "192.0.2.7",
        "enable_push": false, "contact_address": "sip:dev@192.0.2.7:5060", "expires": expires});
    let resp = app
        .post("/api/registrations", Some(replicator), &body)
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn call_queues_are_created_shown_listed_updated_and_deleted() {
    let app = spawn_app().await;
    let t = app.tenant("q.example").await;
    let id = create_queue(&app, &t.admin, "Support", "800").await;
    let q = json_of(
        app.get(&format!("/api/call_queues/{id}"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(q["name"], "Support");
    assert_eq!(q["extension_number"], "800");
    assert_eq!(q["ring_time"], 20, "defaults are rendered");
    assert_eq!(q["max_waiting_time"], 300);
    assert_eq!(q["agent_auto_ready"], true);
    assert_eq!(q["outbound_caller_ids"], json!([]));
    assert_eq!(q["moh_prompt_file_url"], Value::Null);
    create_queue(&app, &t.admin, "Billing", "801").await;

    let list = json_of(app.get("/api/call_queues", Some(&t.admin)).await).await;
    assert_eq!(list["count"], 2);
    assert_eq!(
        list["items"][0],
        json!({"id": id, "name": "Support", "extension_number": "800",
               "polling_strategy": "RING_SIMULTANEOUSLY", "ring_time": 20})
    );
    let found = json_of(
        app.get("/api/call_queues?filter=name eq 'Billing'", Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(found["count"], 1);

    let resp = app
        .post(
            &format!("/api/call_queues/{id}"),
            Some(&t.admin),
            &json!({"name": "Helpdesk", "ring_time": 45, "polling_strategy": "CYCLIC_HUNT",
                    "no_answer_forward_rule": {"action": "FORWARD_TO_VOICEMAIL"}}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let q = json_of(
        app.get(&format!("/api/call_queues/{id}"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(q["name"], "Helpdesk");
    assert_eq!(q["ring_time"], 45);
    assert_eq!(q["polling_strategy"], "CYCLIC_HUNT");
    assert_eq!(
        q["no_answer_forward_rule"]["action"],
        "FORWARD_TO_VOICEMAIL"
    );

    let resp = app
        .post(
            &format!("/api/call_queues/{id}/destroy"),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app
        .get(&format!("/api/call_queues/{id}"), Some(&t.admin))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let resp = app.get("/api/call_queues/garbage", Some(&t.admin)).await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn bad_queue_input_names_the_field() {
    let app = spawn_app().await;
    let t = app.tenant("q.example").await;
    for (body, field) in [
        (
            json!({"extension_number": "800", "polling_strategy": "CYCLIC_HUNT"}),
            "name",
        ),
        (
            json!({"name": "Q", "polling_strategy": "CYCLIC_HUNT"}),
            "extension_number",
        ),
        (
            json!({"name": "Q", "extension_number": "80", "polling_strategy": "CYCLIC_HUNT"}),
            "extension_number",
        ),
        (
            json!({"name": "Q", "extension_number": "800"}),
            "polling_strategy",
        ),
        (
            json!({"name": "Q", "extension_number": "800", "polling_strategy": "RANDOM"}),
            "polling_strategy",
        ),
        (
            json!({"name": "Q", "extension_number": "800", "polling_strategy": "CYCLIC_HUNT", "ring_time": 0}),
            "ring_time",
        ),
        (
            json!({"name": "Q", "extension_number": "800", "polling_strategy": "CYCLIC_HUNT", "colour": "red"}),
            "colour",
        ),
        (
            json!({"name": "", "extension_number": "800", "polling_strategy": "CYCLIC_HUNT"}),
            "name",
        ),
    ] {
        let resp = app.post("/api/call_queues", Some(&t.admin), &body).await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert_eq!(err["detail"]["field"], field, "{body}");
    }
    let id = create_queue(&app, &t.admin, "Support", "800").await;
    let resp = app
        .post(
            &format!("/api/call_queues/{id}"),
            Some(&t.admin),
            &json!({"extension_number": "900"}),
        )
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "extension_number");
}

#[tokio::test]
async fn queue_numbers_share_the_tenant_number_space() {
    let app = spawn_app().await;
    let t = app.tenant("q.example").await;
    // 100 is the tenant admin's extension
    let body = json!({"name": "Q", "extension_number": "100", "polling_strategy": "CYCLIC_HUNT"});
    let resp = app.post("/api/call_queues", Some(&t.admin), &body).await;
    assert_error(resp, StatusCode::CONFLICT, "EXTENSION_NUMBER_IN_USE").await;
    let id = create_queue(&app, &t.admin, "Support", "800").await;
    let resp = app
        .post("/api/users", Some(&t.admin), &user_body("ann", "800"))
        .await;
    assert_error(resp, StatusCode::CONFLICT, "EXTENSION_NUMBER_IN_USE").await;
    let resp = app
        .post(
            "/api/ring_groups",
            Some(&t.admin),
            &json!({"name": "RG", "extension_number": "800"}),
        )
        .await;
    assert_error(resp, StatusCode::CONFLICT, "EXTENSION_NUMBER_IN_USE").await;

    let owner = json_of(app.get("/api/extension_numbers/800", Some(&t.admin)).await).await;
    assert_eq!(
        owner,
        json!({"id": id, "extension_number": "800", "name": "Support", "type": "CALL_QUEUE"})
    );
    // another tenant may use the same number
    let other = app.tenant("other.example").await;
    create_queue(&app, &other.admin, "Support", "800").await;
    // deleting frees the number
    crate::helpers::ok(
        app.post(
            &format!("/api/call_queues/{id}/destroy"),
            Some(&t.admin),
            &json!({}),
        )
        .await,
    )
    .await;
    let resp = app.get("/api/extension_numbers/800", Some(&t.admin)).await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    app.create_user(&t.admin, &user_body("ann", "800")).await;
}

#[tokio::test]
async fn agent_lists_are_replaced_and_show_live_status() {
    let app = spawn_app().await;
    let t = app.tenant("q.example").await;
    app.create_user(&t.admin, &user_body("ann", "101")).await;
    app.create_user(&t.admin, &user_body("bob", "102")).await;
    let q = create_queue(&app, &t.admin, "Support", "800").await;
    let resp = app
        .post(
            &format!("/api/call_queues/{q}/agents"),
            Some(&t.admin),
            &json!({"items": [{"extension_number": "102", "skill_level": 3}, {"extension_number": "101"}]}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let agents = json_of(
        app.get(&format!("/api/call_queues/{q}/agents"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(
        agents,
        json!({"items": [
            {"extension_number": "101", "display_name": "ann display", "skill_level": 1, "status": "LOGGED_OUT"},
            {"extension_number": "102", "display_name": "bob display", "skill_level": 3, "status": "LOGGED_OUT"},
        ]})
    );
    let one = json_of(
        app.get(&format!("/api/call_queues/{q}/agents/102"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(one["skill_level"], 3);
    assert_eq!(one["status"], "LOGGED_OUT");

    // replace: bob leaves, ann's skill changes
    let resp = app
        .post(
            &format!("/api/call_queues/{q}/agents"),
            Some(&t.admin),
            &json!({"items": [{"extension_number": "101", "skill_level": 9}]}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let agents = json_of(
        app.get(&format!("/api/call_queues/{q}/agents"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(agents["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(agents["items"][0]["skill_level"], 9);
    let resp = app
        .get(&format!("/api/call_queues/{q}/agents/102"), Some(&t.admin))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;

    for (body, field) in [
        (
            json!({"items": [{"extension_number": "999"}]}),
            "items[0].extension_number",
        ),
        (
            json!({"items": [{"extension_number": "101"}, {"extension_number": "101"}]}),
            "items[1].extension_number",
        ),
        (
            json!({"items": [{"extension_number": "101", "skill_level": 0}]}),
            "items[0].skill_level",
        ),
        (
            json!({"items": [{"extension_number": "101", "skill_level": 101}]}),
            "items[0].skill_level",
        ),
        (json!({"items": "101"}), "items"),
        (json!({}), "items"),
    ] {
        let resp = app
            .post(
                &format!("/api/call_queues/{q}/agents"),
                Some(&t.admin),
                &body,
            )
            .await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert_eq!(err["detail"]["field"], field, "{body}");
    }
}

async fn queue_status(app: &TestApp, token: &str, q: &str) -> Value {
    json_of(
        app.get(&format!("/api/call_queues/{q}/status"), Some(token))
            .await,
    )
    .await["status"]
        .clone()
}

#[tokio::test]
async fn queue_status_is_online_while_an_agent_is_logged_in_and_registered() {
    let app = spawn_app().await;
    let t = app.tenant("q.example").await;
    let (_, ann) = user_with_role(&app, &t, "ann", "101", "StandardUser").await;
    let (_, registrar) = user_with_role(&app, &t, "sbc", "190", "Replicator").await;
    let q = create_queue(&app, &t.admin, "Support", "800").await;
    set_agents(&app, &t.admin, "call_queues", &q, &["101"]).await;
    assert_eq!(queue_status(&app, &t.admin, &q).await, "OFFLINE");
    let resp = app
        .post(
            &format!("/api/user/call_queues/{q}/agent"),
            Some(&ann),
            &json!({"status": "LOGGED_IN"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        queue_status(&app, &t.admin, &q).await,
        "OFFLINE",
        "logged in but not registered"
    );
    register(&app, &registrar, "101", "dev-1", 300).await;
    assert_eq!(queue_status(&app, &t.admin, &q).await, "ONLINE");
}

#[tokio::test]
async fn only_queue_managers_manage_queues() {
    let app = spawn_app().await;
    let t = app.tenant("q.example").await;
    let (_, user) = user_with_role(&app, &t, "ann", "101", "StandardUser").await;
    let (_, manager) = user_with_role(&app, &t, "qm", "102", "QueueManager").await;
    let (_, registrar) = user_with_role(&app, &t, "sbc", "103", "Replicator").await;
    let q = create_queue(&app, &manager, "Support", "800").await;
    set_agents(&app, &manager, "call_queues", &q, &["101"]).await;
    let body = json!({"name": "X", "extension_number": "801", "polling_strategy": "CYCLIC_HUNT"});
    for token in [&user, &registrar] {
        let resp = app.post("/api/call_queues", Some(token), &body).await;
        assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
        let resp = app
            .post(
                &format!("/api/call_queues/{q}/agents"),
                Some(token),
                &json!({"items": []}),
            )
            .await;
        assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
        let resp = app
            .post(
                &format!("/api/call_queues/{q}/destroy"),
                Some(token),
                &json!({}),
            )
            .await;
        assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    let resp = app.get("/api/call_queues", Some(&user)).await;
    assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let resp = app
        .get(&format!("/api/call_queues/{q}/agents"), Some(&user))
        .await;
    assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    // an agent may read their own entry, not other agents'
    let own = json_of(
        app.get(&format!("/api/call_queues/{q}/agents/101"), Some(&user))
            .await,
    )
    .await;
    assert_eq!(own["status"], "LOGGED_OUT");
    assert_eq!(
        json_of(app.get("/api/call_queues", Some(&registrar)).await).await["count"],
        1,
        "the registrar reads queues"
    );
    let resp = app.get("/api/call_queues", None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}
