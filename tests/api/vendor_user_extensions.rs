//! The user↔extension link API v1 (`/api/v1/user-extensions`): every
//! route, its envelope and messages, and its error paths.

use crate::helpers::{spawn_app, user_body, TestApp};
use crate::vendor_common::{create_extension, ext_uuid, send, send_raw, user_uuid, uuid_of};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const BASE: &str = "/api/v1/user-extensions";

/// Asserts the error envelope.
fn assert_envelope_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(body["metadata"]["code"], code, "{body}");
}

fn assert_ok(status: StatusCode, body: &Value, want: StatusCode, message: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(body["message"], message, "{body}");
    assert_eq!(body["metadata"], json!({}), "{body}");
}

async fn setup(app: &TestApp) -> (String, String, String) {
    let t = app.tenant("v1.example.com").await;
    let mut alice = user_body("alice", "200");
    alice["display_name"] = json!("Alice van Smith");
    let alice = app.create_user(&t.admin, &alice).await;
    let reception = create_extension(app, &t.admin, "300", "Reception").await;
    (t.admin, alice, reception)
}

#[tokio::test]
async fn every_route_with_the_documented_envelope() {
    let app = spawn_app().await;
    let (admin, alice, reception) = setup(&app).await;
    let tok = Some(admin.as_str());

    // The two primary links created with boss and alice.
    let (s, b) = send(&app, Method::GET, BASE, tok, None).await;
    assert_ok(s, &b, StatusCode::OK, "2 link(s) found");
    let item = b["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|l| l["username"] == "alice")
        .expect("alice's link")
        .clone();
    assert_eq!(item["user_uuid"], user_uuid(&alice));
    assert_eq!(item["first_name"], "Alice");
    assert_eq!(item["last_name"], "van Smith");
    assert_eq!(item["extension"], "200");
    assert_eq!(item["type"], "chan_sip");

    // Link alice to Reception.
    let body = json!({"user_uuid": user_uuid(&alice), "extension_uuid": ext_uuid(&reception)});
    let (s, b) = send(&app, Method::POST, BASE, tok, Some(&body)).await;
    assert_ok(s, &b, StatusCode::CREATED, "User linked to extension");
    let d = &b["data"];
    for key in [
        "uuid",
        "user_uuid",
        "extension_uuid",
        "username",
        "first_name",
        "last_name",
        "extension",
        "ext_name",
        "type",
        "created_at",
    ] {
        assert!(d.get(key).is_some(), "{key} in {d}");
    }
    assert_eq!(d["extension_uuid"], ext_uuid(&reception));
    assert_eq!(d["username"], "alice");
    assert_eq!(d["extension"], "300");
    assert_eq!(d["ext_name"], "Reception");
    let created = d["created_at"].as_str().expect("created_at");
    assert!(
        created.len() == 24 && created.ends_with('Z') && &created[19..20] == ".",
        "{created}"
    );
    let link_uuid = d["uuid"].as_str().expect("uuid").to_owned();
    assert!(uuid::Uuid::parse_str(&link_uuid).is_ok());

    // PortSIP sees the same link.
    let (s, b) = send(
        &app,
        Method::GET,
        &format!("/api/users/{alice}/extensions"),
        tok,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["count"], 2, "{b}");

    let (s, b) = send(
        &app,
        Method::GET,
        &format!("{BASE}/by-user/{}", user_uuid(&alice)),
        tok,
        None,
    )
    .await;
    assert_ok(s, &b, StatusCode::OK, "2 extension(s) linked to user");
    let first = &b["data"][0];
    assert!(first.get("username").is_none(), "{first}");
    assert!(first.get("extension").is_some(), "{first}");

    let (s, b) = send(
        &app,
        Method::GET,
        &format!("{BASE}/by-extension/{}", ext_uuid(&reception)),
        tok,
        None,
    )
    .await;
    assert_ok(s, &b, StatusCode::OK, "1 user(s) linked to extension");
    let only = &b["data"][0];
    assert_eq!(only["username"], "alice");
    assert_eq!(only["uuid"], link_uuid.as_str());
    assert!(only.get("extension").is_none(), "{only}");

    let (s, b) = send(
        &app,
        Method::DELETE,
        &format!("{BASE}/{link_uuid}"),
        tok,
        None,
    )
    .await;
    assert_ok(s, &b, StatusCode::OK, "Link deleted");
    assert_eq!(b["data"], Value::Null);

    let (s, b) = send(
        &app,
        Method::GET,
        &format!("{BASE}/by-extension/{}", ext_uuid(&reception)),
        tok,
        None,
    )
    .await;
    assert_ok(s, &b, StatusCode::OK, "0 user(s) linked to extension");
    assert_eq!(b["data"], json!([]));
}

#[tokio::test]
async fn errors_use_the_envelope() {
    let app = spawn_app().await;
    let (admin, alice, reception) = setup(&app).await;
    let tok = Some(admin.as_str());

    // Authentication and authorization.
    let (s, b) = send(&app, Method::GET, BASE, None, None).await;
    assert_envelope_error(s, &b, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let (s, b) = send(&app, Method::GET, BASE, Some("garbage"), None).await;
    assert_envelope_error(s, &b, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let alice_token = app
        .token_for("alice", "Passw0rd-123", "v1.example.com")
        .await;
    let (s, b) = send(&app, Method::GET, BASE, Some(&alice_token), None).await;
    assert_envelope_error(s, &b, StatusCode::FORBIDDEN, "FORBIDDEN");
    let sys = app.admin_token().await;
    let (s, b) = send(&app, Method::GET, BASE, Some(&sys), None).await;
    assert_envelope_error(s, &b, StatusCode::FORBIDDEN, "TENANT_REQUIRED");

    // Bodies.
    let (s, b) = send_raw(&app, Method::POST, BASE, tok, "{not json").await;
    assert_envelope_error(s, &b, StatusCode::BAD_REQUEST, "VALIDATE_FAILED");
    let (s, b) = send(
        &app,
        Method::POST,
        BASE,
        tok,
        Some(&json!({"user_uuid": user_uuid(&alice)})),
    )
    .await;
    assert_envelope_error(s, &b, StatusCode::BAD_REQUEST, "VALIDATE_FAILED");
    assert_eq!(b["metadata"]["field"], "extension_uuid");
    let (s, b) = send(
        &app,
        Method::POST,
        BASE,
        tok,
        Some(&json!({"user_uuid": "nope", "extension_uuid": ext_uuid(&reception)})),
    )
    .await;
    assert_envelope_error(s, &b, StatusCode::BAD_REQUEST, "VALIDATE_FAILED");
    assert_eq!(b["metadata"]["field"], "user_uuid");
    // A UUID we never issued, and a user UUID where an extension belongs.
    for (u, e) in [
        (
            "550e8400-e29b-41d4-a716-446655440000".to_owned(),
            ext_uuid(&reception),
        ),
        (user_uuid(&alice), user_uuid(&alice)),
        (uuid_of(1, 12345), ext_uuid(&reception)),
    ] {
        let (s, b) = send(
            &app,
            Method::POST,
            BASE,
            tok,
            Some(&json!({"user_uuid": u, "extension_uuid": e})),
        )
        .await;
        assert_envelope_error(s, &b, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    // Already linked (alice's primary).
    let (s, b) = send(
        &app,
        Method::GET,
        &format!("{BASE}/by-user/{}", user_uuid(&alice)),
        tok,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let primary = b["data"][0]["extension_uuid"].clone();
    let (s, b) = send(
        &app,
        Method::POST,
        BASE,
        tok,
        Some(&json!({"user_uuid": user_uuid(&alice), "extension_uuid": primary})),
    )
    .await;
    assert_envelope_error(s, &b, StatusCode::CONFLICT, "ALREADY_LINKED");

    // Unknown resources on the GET and DELETE routes.
    for path in [
        format!("{BASE}/by-user/{}", uuid_of(1, 99)),
        format!("{BASE}/by-user/{}", ext_uuid(&reception)),
        format!("{BASE}/by-extension/{}", uuid_of(2, 99)),
        format!("{BASE}/by-extension/junk"),
    ] {
        let (s, b) = send(&app, Method::GET, &path, tok, None).await;
        assert_envelope_error(s, &b, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    let (s, b) = send(
        &app,
        Method::DELETE,
        &format!("{BASE}/{}", uuid_of(3, 77)),
        tok,
        None,
    )
    .await;
    assert_envelope_error(s, &b, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (s, b) = send(&app, Method::DELETE, &format!("{BASE}/junk"), tok, None).await;
    assert_envelope_error(s, &b, StatusCode::NOT_FOUND, "NOT_FOUND");

    // An undecodable path parameter is still answered in the envelope.
    let (s, b) = send(&app, Method::GET, &format!("{BASE}/by-user/%FF"), tok, None).await;
    assert_envelope_error(s, &b, StatusCode::BAD_REQUEST, "VALIDATE_FAILED");

    // Routing inside the dialect keeps the envelope.
    let (s, b) = send(&app, Method::PATCH, BASE, tok, None).await;
    assert_envelope_error(s, &b, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    let (s, b) = send(&app, Method::GET, &format!("{BASE}/a/b/c"), tok, None).await;
    assert_envelope_error(s, &b, StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND");
    // PortSIP's own paths are untouched.
    let (s, b) = send(&app, Method::GET, "/api/nothing-here", tok, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["errors"][0]["code"], "ROUTE_NOT_FOUND");
}
