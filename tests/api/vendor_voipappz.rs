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
