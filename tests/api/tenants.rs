//! Tenants: SystemAdmin CRUD, domain uniqueness, switching, an Admin's own tenant.

use crate::helpers::{assert_error, spawn_app};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn tenant_body(name: &str, domain: &str) -> Value {
    json!({ "name": name, "domain": domain, "timezone": "Europe/Paris", "currency": "EUR", "region": "FRA" })
}

#[tokio::test]
async fn the_system_administrator_manages_tenants() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let resp = app
        .post(
            "/api/tenants",
            Some(&admin),
            &tenant_body("Acme", "acme.example.com"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = resp.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let t: Value = app
        .get(&format!("/api/tenants/{id}"), Some(&admin))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(t["id"], id);
    assert_eq!(t["name"], "Acme");
    assert_eq!(t["domain"], "acme.example.com");
    assert_eq!(t["timezone"], "Europe/Paris");
    assert_eq!(t["enabled"], true, "defaults are rendered");
    assert_eq!(t["max_extensions"], 1000);
    assert!(t["created_at"].as_str().expect("created_at").ends_with('Z'));

    // Domains are unique, case-insensitively.
    assert_error(
        app.post(
            "/api/tenants",
            Some(&admin),
            &tenant_body("Other", "ACME.example.com"),
        )
        .await,
        StatusCode::CONFLICT,
        "ALREADY_EXISTS",
    )
    .await;

    let resp = app
        .post(
            &format!("/api/tenants/{id}"),
            Some(&admin),
            &json!({ "name": "Acme Corp", "max_extensions": 50 }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let t: Value = app
        .get(&format!("/api/tenants/{id}"), Some(&admin))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(t["name"], "Acme Corp");
    assert_eq!(t["max_extensions"], 50);

    let list: Value = app
        .get("/api/tenants?filter=name eq 'Acme Corp'", Some(&admin))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list["count"], 1);
    assert_eq!(list["items"][0]["id"], id);

    let resp = app
        .post(
            &format!("/api/tenants/{id}/destroy"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(&format!("/api/tenants/{id}"), Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/tenants/{id}/destroy"),
            Some(&admin),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn tenant_validation_names_the_field() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let err = assert_error(
        app.post("/api/tenants", Some(&admin), &json!({"name": "x", "domain": "bad domain", "timezone": "UTC", "currency": "EUR", "region": "FRA"})).await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "domain");
    let err = assert_error(
        app.post(
            "/api/tenants",
            Some(&admin),
            &json!({"domain": "a.example"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "name");
    let mut body = tenant_body("x", "b.example");
    body["max_extensions"] = json!(-1);
    let err = assert_error(
        app.post("/api/tenants", Some(&admin), &body).await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "max_extensions");
    let err = assert_error(
        app.get("/api/tenants?top=0", Some(&admin)).await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "top");
}

#[tokio::test]
async fn switching_needs_an_existing_tenant_and_changes_the_acting_scope() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    // Without a switch, tenant resources are refused.
    assert_error(
        app.get("/api/tenant", Some(&admin)).await,
        StatusCode::FORBIDDEN,
        "TENANT_REQUIRED",
    )
    .await;
    assert_error(
        app.post("/api/tenants/switch?id=MTIz", Some(&admin), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let id = app
        .post(
            "/api/tenants",
            Some(&admin),
            &tenant_body("Acme", "acme.example"),
        )
        .await
        .json::<Value>()
        .await
        .expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let resp = app
        .post(
            &format!("/api/tenants/switch?id={id}"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let own: Value = app
        .get("/api/tenant", Some(&admin))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(own["domain"], "acme.example");
    let resp = app
        .post(
            "/api/tenant",
            Some(&admin),
            &json!({"website": "https://acme.example"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let own: Value = app
        .get("/api/tenant", Some(&admin))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(own["website"], "https://acme.example");
    // max_extensions is a system-level limit an Admin cannot set on its own tenant.
    assert_error(
        app.post("/api/tenant", Some(&admin), &json!({"max_extensions": 5}))
            .await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
}
