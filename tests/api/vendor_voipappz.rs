//! voipappz user actions (`PATCH /api/users/{id}?action=...`): every
//! action and the error shape.

use crate::helpers::{spawn_app, user_body, TestApp};
use crate::vendor_common::{create_extension, ext_uuid, send, user_uuid, uuid_of};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const DOMAIN: &str = "voip.example.com";

fn assert_voip_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["statusCode"], want.as_u16(), "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

async fn action(app: &TestApp, token: &str, user: &str, query: &str) -> (StatusCode, Value) {
    send(
        app,
        Method::PATCH,
        &format!("/api/users/{user}?{query}"),
        Some(token),
        None,
    )
    .await
}

async fn portsip_user(app: &TestApp, token: &str, id: &str) -> Value {
    let (s, u) = send(
        app,
        Method::GET,
        &format!("/api/users/{id}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    u
}

#[tokio::test]
async fn extension_and_number_actions() {
    let app = spawn_app().await;
    let t = app.tenant(DOMAIN).await;
    let a = t.admin.as_str();
    let gina = app.create_user(a, &user_body("gina", "800")).await;
    let desk = create_extension(&app, a, "801", "Desk").await;
    let uuid = user_uuid(&gina);

    // extension: 801 becomes gina's primary extension.
    let (s, b) = action(
        &app,
        a,
        &uuid,
        &format!("action=extension&extension_uuid={}", ext_uuid(&desk)),
    )
    .await;
    assert_eq!((s, b), (StatusCode::OK, json!({})));
    assert_eq!(
        portsip_user(&app, a, &gina).await["extension_number"],
        "801"
    );
    // The PortSIP id is accepted too; setting it again changes nothing.
    let (s, b) = action(
        &app,
        a,
        &gina,
        &format!("action=extension&extension_uuid={}", ext_uuid(&desk)),
    )
    .await;
    assert_eq!((s, b), (StatusCode::OK, json!({})));

    // number: the agent's reachable number (mobile_phone); empty clears.
    let (s, b) = action(&app, a, &uuid, "action=number&number=%2B33612345678").await;
    assert_eq!((s, b), (StatusCode::OK, json!({})));
    assert_eq!(
        portsip_user(&app, a, &gina).await["mobile_phone"],
        "+33612345678"
    );
    let (s, _) = action(&app, a, &uuid, "action=number&number=").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        portsip_user(&app, a, &gina).await["mobile_phone"],
        Value::Null
    );

    // GET and POST on the same path are still PortSIP's.
    let (s, _) = send(
        &app,
        Method::GET,
        &format!("/api/users/{gina}"),
        Some(a),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn errors_have_the_dialect_shape() {
    let app = spawn_app().await;
    let t = app.tenant(DOMAIN).await;
    let a = t.admin.as_str();
    let hank = app.create_user(a, &user_body("hank", "810")).await;
    let uuid = user_uuid(&hank);
    let boss_ext = {
        let (_, b) = send(
            &app,
            Method::GET,
            "/api/extensions?filter=number eq '100'",
            Some(a),
            None,
        )
        .await;
        b["items"][0]["id"].as_str().expect("id").to_owned()
    };

    let (s, b) = send(
        &app,
        Method::PATCH,
        &format!("/api/users/{uuid}?action=number&number=1"),
        None,
        None,
    )
    .await;
    assert_voip_error(s, &b, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let plain = app.token_for("hank", "Passw0rd-123", DOMAIN).await;
    let (s, b) = action(&app, &plain, &uuid, "action=number&number=1").await;
    assert_voip_error(s, &b, StatusCode::FORBIDDEN, "FORBIDDEN");

    for (query, field) in [
        ("", "action"),
        ("action=dance", "action"),
        ("action=number", "number"),
        ("action=number&number=1&number=2", "number"),
        ("action=number&number=1&extension_uuid=x", "extension_uuid"),
        (
            "action=number&number=123456789012345678901234567890123",
            "number",
        ),
        ("action=extension", "extension_uuid"),
    ] {
        let (s, b) = action(&app, a, &uuid, query).await;
        assert_voip_error(s, &b, StatusCode::BAD_REQUEST, "VALIDATE_FAILED");
        assert_eq!(b["field"], field, "{query}: {b}");
    }
    for (user, query) in [
        (uuid_of(1, 4242), "action=number&number=1".to_owned()),
        ("junk".to_owned(), "action=number&number=1".to_owned()),
        (
            uuid.clone(),
            format!("action=extension&extension_uuid={}", uuid_of(2, 4242)),
        ),
        (
            uuid.clone(),
            format!("action=extension&extension_uuid={uuid}"),
        ),
    ] {
        let (s, b) = action(&app, a, &user, &query).await;
        assert_voip_error(s, &b, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    // Someone else's primary extension.
    let (s, b) = action(
        &app,
        a,
        &uuid,
        &format!("action=extension&extension_uuid={}", ext_uuid(&boss_ext)),
    )
    .await;
    assert_voip_error(s, &b, StatusCode::CONFLICT, "EXTENSION_NUMBER_IN_USE");
}

/// A tenant with agent ann (101, registered) in two call queues; returns
/// (tenant, ann's PortSIP id, ann's token, queue ids).
async fn agents_setup(app: &TestApp) -> (crate::helpers::TenantCtx, String, String, [String; 2]) {
    use crate::queues::{create_queue, register, set_agents, user_with_role};
    let t = app.tenant(DOMAIN).await;
    let (ann_id, ann) = user_with_role(app, &t, "ann", "101", "StandardUser").await;
    let (_, registrar) = user_with_role(app, &t, "sbc", "190", "Replicator").await;
    let q1 = create_queue(app, &t.admin, "Support", "800").await;
    let q2 = create_queue(app, &t.admin, "Sales", "801").await;
    for q in [&q1, &q2] {
        set_agents(app, &t.admin, "call_queues", q, &["101"]).await;
    }
    register(app, &registrar, "101", "ann-phone", 3600).await;
    (t, ann_id, ann, [q1, q2])
}

/// ann's status in each queue, as PortSIP's agent endpoint shows it.
async fn portsip_statuses(
    app: &TestApp,
    token: &str,
    user: &str,
    queues: &[String; 2],
) -> Vec<Value> {
    let mut out = Vec::new();
    for q in queues {
        let (s, a) = send(
            app,
            Method::GET,
            &format!("/api/users/{user}/call_queues/{q}/agent"),
            Some(token),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{a}");
        out.push(a["status"].clone());
    }
    out
}

fn queue_uuid(portsip_id: &str) -> String {
    uuid_of(4, crate::vendor_common::num(portsip_id))
}

#[tokio::test]
async fn agent_actions_apply_to_every_queue_of_the_user() {
    let app = spawn_app().await;
    let (t, ann_id, ann, queues) = agents_setup(&app).await;
    let a = t.admin.as_str();
    let uuid = user_uuid(&ann_id);
    let both = |s: &str| vec![json!(s), json!(s)];

    // A logged-out agent cannot take a break: nothing changes anywhere.
    let (s, b) = action(&app, a, &uuid, "action=break").await;
    assert_voip_error(s, &b, StatusCode::CONFLICT, "ILLEGAL_AGENT_TRANSITION");
    assert_eq!(
        portsip_statuses(&app, a, &ann_id, &queues).await,
        both("LOGGED_OUT")
    );

    for (query, token, want) in [
        ("action=login", a, "READY"),
        ("action=break", ann.as_str(), "BREAK"),
        ("action=state&state=available", a, "READY"),
        ("action=state&state=on_break", ann.as_str(), "BREAK"),
        ("action=logout", a, "LOGGED_OUT"),
        ("action=state&state=available", ann.as_str(), "READY"),
        ("action=state&state=logged_out", a, "LOGGED_OUT"),
        ("action=login", ann.as_str(), "READY"),
    ] {
        let (s, b) = action(&app, token, &uuid, query).await;
        assert_eq!((s, b), (StatusCode::OK, json!({})), "{query}");
        assert_eq!(
            portsip_statuses(&app, a, &ann_id, &queues).await,
            both(want),
            "{query}"
        );
    }

    // status: the presence.
    let (s, _) = action(&app, &ann, &uuid, "action=status&status=away").await;
    assert_eq!(s, StatusCode::OK);
    let (_, st) = send(
        &app,
        Method::GET,
        &format!("/api/users/{ann_id}/status"),
        Some(a),
        None,
    )
    .await;
    assert_eq!(st["presence"], "AWAY", "{st}");
    let (s, _) = action(&app, a, &uuid, "action=status&status=DO_NOT_DISTURB").await;
    assert_eq!(s, StatusCode::OK);
    let (_, st) = send(
        &app,
        Method::GET,
        &format!("/api/users/{ann_id}/status"),
        Some(a),
        None,
    )
    .await;
    assert_eq!(st["presence"], "DO_NOT_DISTURB");

    // tier: every queue, then one.
    let (s, _) = action(&app, a, &uuid, "action=tier&tier=5").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = action(
        &app,
        a,
        &uuid,
        &format!("action=tier&tier=7&queue_uuid={}", queue_uuid(&queues[0])),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let mut got = Vec::new();
    for q in &queues {
        let (_, list) = send(
            &app,
            Method::GET,
            &format!("/api/call_queues/{q}/agents"),
            Some(a),
            None,
        )
        .await;
        got.push(list["items"][0]["skill_level"].clone());
    }
    assert_eq!(got, vec![json!(7), json!(5)]);

    // Agents: the list with state, statuses and tiers.
    let (s, agents) = send(&app, Method::GET, "/api/users/agents", Some(a), None).await;
    assert_eq!(s, StatusCode::OK, "{agents}");
    let list = agents.as_array().expect("array");
    assert_eq!(list.len(), 1, "{agents}");
    assert_eq!(list[0]["id"], uuid);
    assert_eq!(list[0]["username"], "ann");
    assert_eq!(list[0]["extension"], "101");
    assert_eq!(list[0]["state"], "available");
    let q = &list[0]["queues"];
    assert_eq!(q.as_array().map(Vec::len), Some(2));
    for item in q.as_array().expect("queues") {
        assert_eq!(item["status"], "READY");
    }
    let support = q
        .as_array()
        .expect("queues")
        .iter()
        .find(|x| x["queue_uuid"] == queue_uuid(&queues[0]))
        .expect("Support");
    assert_eq!(
        (support["name"].clone(), support["tier"].clone()),
        (json!("Support"), json!(7))
    );
    let (s, _) = action(&app, a, &uuid, "action=break").await;
    assert_eq!(s, StatusCode::OK);
    let (_, agents) = send(&app, Method::GET, "/api/users/agents", Some(a), None).await;
    assert_eq!(agents[0]["state"], "on_break");
}

#[tokio::test]
async fn agent_action_errors() {
    let app = spawn_app().await;
    let (t, ann_id, ann, queues) = agents_setup(&app).await;
    let a = t.admin.as_str();
    let uuid = user_uuid(&ann_id);
    let bob = app.create_user(a, &user_body("bob", "102")).await;
    let bob_token = app.token_for("bob", "Passw0rd-123", DOMAIN).await;

    // Someone in no queue.
    for query in [
        "action=login",
        "action=tier&tier=3",
        "action=state&state=available",
    ] {
        let (s, b) = action(&app, a, &user_uuid(&bob), query).await;
        assert_voip_error(s, &b, StatusCode::CONFLICT, "NOT_AN_AGENT");
    }
    // Someone else's status, tiers and the list need the capability.
    for query in [
        "action=login",
        "action=status&status=away",
        "action=tier&tier=3",
    ] {
        let (s, b) = action(&app, &bob_token, &uuid, query).await;
        assert_voip_error(s, &b, StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    let (s, b) = action(&app, &ann, &uuid, "action=tier&tier=3").await;
    assert_voip_error(s, &b, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (s, b) = send(&app, Method::GET, "/api/users/agents", Some(&ann), None).await;
    assert_voip_error(s, &b, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (s, b) = send(&app, Method::GET, "/api/users/agents", None, None).await;
    assert_voip_error(s, &b, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");

    for (query, field) in [
        ("action=login&state=x", "state"),
        ("action=state", "state"),
        ("action=state&state=sleeping", "state"),
        ("action=status", "status"),
        ("action=status&status=happy", "status"),
        ("action=tier", "tier"),
        ("action=tier&tier=abc", "tier"),
        ("action=tier&tier=0", "tier"),
        ("action=tier&tier=101", "tier"),
    ] {
        let (s, b) = action(&app, a, &uuid, query).await;
        assert_voip_error(s, &b, StatusCode::BAD_REQUEST, "VALIDATE_FAILED");
        assert_eq!(b["field"], field, "{query}: {b}");
    }
    for query in [
        format!("action=tier&tier=3&queue_uuid={}", uuid_of(4, 999)),
        format!("action=tier&tier=3&queue_uuid={uuid}"),
    ] {
        let (s, b) = action(&app, a, &uuid, &query).await;
        assert_voip_error(s, &b, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    // bob is in no queue: the queue exists, he is not its agent.
    let (s, b) = action(
        &app,
        a,
        &user_uuid(&bob),
        &format!("action=tier&tier=3&queue_uuid={}", queue_uuid(&queues[0])),
    )
    .await;
    assert_voip_error(s, &b, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (s, b) = action(&app, a, &uuid_of(1, 999), "action=login").await;
    assert_voip_error(s, &b, StatusCode::NOT_FOUND, "NOT_FOUND");
}
