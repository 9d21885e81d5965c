//! Roles: built-in roles listed and shown, custom role CRUD inside a tenant,
//! validation, built-in protection and tenant isolation.

use crate::helpers::{assert_error, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Creates a tenant as the system administrator and returns a fresh
/// administrator token switched into it (each call signs in again, so two
/// tenants get two independent sessions).
pub async fn tenant_session(app: &TestApp, name: &str, domain: &str) -> String {
    app.switched_tenant(name, domain).await.0
}

async fn json_of(resp: reqwest::Response) -> Value {
    resp.json().await.expect("json")
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn support_body() -> Value {
    json!({
        "name": "Support",
        "description": "helpdesk",
        "permissions": {"user_management": {"users": true}, "company": {"view_only": true}}
    })
}

#[tokio::test]
async fn built_in_roles_are_listed_and_shown_with_full_permissions() {
    let app = spawn_app().await;
    let t = tenant_session(&app, "Acme", "acme.example").await;
    let list = json_of(app.get("/api/roles", Some(&t)).await).await;
    assert_eq!(list["count"], 7);
    assert_eq!(
        names(&list),
        [
            "SystemAdmin",
            "Dealer",
            "Admin",
            "StandardUser",
            "StandardInternationalUser",
            "QueueManager",
            "Replicator"
        ]
    );
    assert!(list["items"][2]["description"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));

    let admin = json_of(app.get("/api/roles/Admin", Some(&t)).await).await;
    assert_eq!(admin["name"], "Admin");
    assert_eq!(admin["permissions"]["user_management"]["users"], true);
    assert_eq!(admin["permissions"]["system"]["tenant"], false);
    let sections = admin["permissions"].as_object().expect("object");
    assert_eq!(sections.len(), 11, "every section is present");
    let std = json_of(app.get("/api/roles/standarduser", Some(&t)).await).await;
    assert_eq!(
        std["name"], "StandardUser",
        "built-ins are found in any case"
    );
    assert_eq!(std["permissions"]["user_management"]["users"], false);
    assert_eq!(std["permissions"]["billing"]["view_only"], false);
}

#[tokio::test]
async fn custom_roles_are_created_shown_updated_and_deleted() {
    let app = spawn_app().await;
    let t = tenant_session(&app, "Acme", "acme.example").await;
    let resp = app.post("/api/roles", Some(&t), &support_body()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(json_of(resp).await, json!({"name": "Support"}));

    let r = json_of(app.get("/api/roles/support", Some(&t)).await).await;
    assert_eq!(r["name"], "Support");
    assert_eq!(r["description"], "helpdesk");
    assert_eq!(r["permissions"]["user_management"]["users"], true);
    assert_eq!(r["permissions"]["user_management"]["roles"], false);
    assert_eq!(r["permissions"]["company"]["view_only"], true);
    assert_eq!(r["permissions"]["general"]["meeting"], false);

    let list = json_of(app.get("/api/roles", Some(&t)).await).await;
    assert_eq!(list["count"], 8);
    assert_eq!(
        list["items"][7],
        json!({"name": "Support", "description": "helpdesk"})
    );
    let found = json_of(
        app.get("/api/roles?filter=name eq 'Support'", Some(&t))
            .await,
    )
    .await;
    assert_eq!(names(&found), ["Support"]);
    let searched = json_of(app.get("/api/roles?search=helpdesk", Some(&t)).await).await;
    assert_eq!(names(&searched), ["Support"]);
    let page = json_of(
        app.get(
            "/api/roles?orderby=name desc&top=2&skip=1&count=true",
            Some(&t),
        )
        .await,
    )
    .await;
    assert_eq!(page["count"], 8);
    assert_eq!(names(&page), ["Support", "StandardUser"]);

    // Partial update: flags not mentioned keep their value.
    let resp = app
        .post(
            "/api/roles/Support",
            Some(&t),
            &json!({"name": "Helpdesk", "permissions": {"user_management": {"roles": true}}}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_error(
        app.get("/api/roles/Support", Some(&t)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let r = json_of(app.get("/api/roles/Helpdesk", Some(&t)).await).await;
    assert_eq!(r["description"], "helpdesk");
    assert_eq!(r["permissions"]["user_management"]["roles"], true);
    assert_eq!(r["permissions"]["user_management"]["users"], true);
    // A no-op update is fine.
    let resp = app
        .post(
            "/api/roles/Helpdesk",
            Some(&t),
            &json!({"description": "helpdesk"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = app
        .post("/api/roles/helpdesk/destroy", Some(&t), &json!({}))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get("/api/roles/Helpdesk", Some(&t)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.post("/api/roles/Helpdesk/destroy", Some(&t), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.post(
            "/api/roles/Helpdesk",
            Some(&t),
            &json!({"description": "x"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let list = json_of(app.get("/api/roles", Some(&t)).await).await;
    assert_eq!(list["count"], 7);
}

#[tokio::test]
async fn role_names_are_unique_and_built_in_names_reserved() {
    let app = spawn_app().await;
    let t = tenant_session(&app, "Acme", "acme.example").await;
    assert_eq!(
        app.post("/api/roles", Some(&t), &support_body())
            .await
            .status(),
        StatusCode::CREATED
    );
    let mut dup = support_body();
    dup["name"] = json!("SUPPORT");
    assert_error(
        app.post("/api/roles", Some(&t), &dup).await,
        StatusCode::CONFLICT,
        "ALREADY_EXISTS",
    )
    .await;
    for reserved in ["admin", "SystemAdmin", "QUEUEMANAGER"] {
        let mut body = support_body();
        body["name"] = json!(reserved);
        let err = assert_error(
            app.post("/api/roles", Some(&t), &body).await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
        assert_eq!(err["detail"]["field"], "name", "{reserved}");
    }
    // Renaming onto another custom role, or onto a built-in name.
    let mut other = support_body();
    other["name"] = json!("Sales");
    assert_eq!(
        app.post("/api/roles", Some(&t), &other).await.status(),
        StatusCode::CREATED
    );
    assert_error(
        app.post("/api/roles/Sales", Some(&t), &json!({"name": "support"}))
            .await,
        StatusCode::CONFLICT,
        "ALREADY_EXISTS",
    )
    .await;
    let err = assert_error(
        app.post("/api/roles/Sales", Some(&t), &json!({"name": "Dealer"}))
            .await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "name");
}

#[tokio::test]
async fn role_bodies_are_validated_strictly() {
    let app = spawn_app().await;
    let t = tenant_session(&app, "Acme", "acme.example").await;
    let cases = [
        (json!({"permissions": {}}), "name"),
        (json!({"name": "", "permissions": {}}), "name"),
        (json!({"name": "x".repeat(65), "permissions": {}}), "name"),
        (json!({"name": 5, "permissions": {}}), "name"),
        (json!({"name": "Ops"}), "permissions"),
        (json!({"name": "Ops", "permissions": []}), "permissions"),
        (
            json!({"name": "Ops", "permissions": {"user_management": {"foo": true}}}),
            "permissions.user_management.foo",
        ),
        (
            json!({"name": "Ops", "permissions": {"nope": {"x": true}}}),
            "permissions.nope",
        ),
        (
            json!({"name": "Ops", "permissions": {"company": {"view_only": 1}}}),
            "permissions.company.view_only",
        ),
        (
            json!({"name": "Ops", "permissions": {"company": "all"}}),
            "permissions.company",
        ),
        (
            json!({"name": "Ops", "permissions": {}, "description": "d".repeat(1025)}),
            "description",
        ),
        (
            json!({"name": "Ops", "permissions": {}, "description": false}),
            "description",
        ),
        (
            json!({"name": "Ops", "permissions": {}, "color": "red"}),
            "color",
        ),
    ];
    for (body, field) in cases {
        let err = assert_error(
            app.post("/api/roles", Some(&t), &body).await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
        assert_eq!(err["detail"]["field"], field, "{body}");
    }
    // The same checks apply to updates.
    assert_eq!(
        app.post("/api/roles", Some(&t), &support_body())
            .await
            .status(),
        StatusCode::CREATED
    );
    let err = assert_error(
        app.post(
            "/api/roles/Support",
            Some(&t),
            &json!({"permissions": {"billing": {"all": true}}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "permissions.billing.all");
    let err = assert_error(
        app.get("/api/roles?top=0", Some(&t)).await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "top");
}

#[tokio::test]
async fn built_in_roles_cannot_be_modified_or_deleted() {
    let app = spawn_app().await;
    let t = tenant_session(&app, "Acme", "acme.example").await;
    for role in ["Admin", "standarduser", "SystemAdmin"] {
        assert_error(
            app.post(
                &format!("/api/roles/{role}"),
                Some(&t),
                &json!({"description": "mine now"}),
            )
            .await,
            StatusCode::FORBIDDEN,
            "BUILT_IN_ROLE",
        )
        .await;
        assert_error(
            app.post(
                &format!("/api/roles/{role}"),
                Some(&t),
                &json!({"permissions": {"system": {"tenant": true}}}),
            )
            .await,
            StatusCode::FORBIDDEN,
            "BUILT_IN_ROLE",
        )
        .await;
        assert_error(
            app.post(&format!("/api/roles/{role}/destroy"), Some(&t), &json!({}))
                .await,
            StatusCode::FORBIDDEN,
            "BUILT_IN_ROLE",
        )
        .await;
    }
    assert_error(
        app.get("/api/roles/Ghost", Some(&t)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn roles_need_a_token_and_a_tenant() {
    let app = spawn_app().await;
    assert_error(
        app.get("/api/roles", None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    assert_error(
        app.post("/api/roles", None, &support_body()).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    assert_error(
        app.get("/api/roles/Admin", Some("not-a-token")).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    let admin = app.admin_token().await;
    assert_error(
        app.get("/api/roles", Some(&admin)).await,
        StatusCode::FORBIDDEN,
        "TENANT_REQUIRED",
    )
    .await;
    assert_error(
        app.post("/api/roles", Some(&admin), &support_body()).await,
        StatusCode::FORBIDDEN,
        "TENANT_REQUIRED",
    )
    .await;
    assert_error(
        app.post("/api/roles/Support/destroy", Some(&admin), &json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "TENANT_REQUIRED",
    )
    .await;
}

#[tokio::test]
async fn custom_roles_are_invisible_to_other_tenants() {
    let app = spawn_app().await;
    let a = tenant_session(&app, "Acme", "acme.example").await;
    let b = tenant_session(&app, "Beta", "beta.example").await;
    assert_eq!(
        app.post("/api/roles", Some(&a), &support_body())
            .await
            .status(),
        StatusCode::CREATED
    );
    let list_b = json_of(app.get("/api/roles", Some(&b)).await).await;
    assert_eq!(list_b["count"], 7);
    assert!(!names(&list_b).contains(&"Support".to_owned()));
    assert_error(
        app.get("/api/roles/Support", Some(&b)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.post("/api/roles/Support", Some(&b), &json!({"description": "x"}))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.post("/api/roles/Support/destroy", Some(&b), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    // B may use the same name: uniqueness is per tenant.
    assert_eq!(
        app.post("/api/roles", Some(&b), &support_body())
            .await
            .status(),
        StatusCode::CREATED
    );
    let r = json_of(app.get("/api/roles/Support", Some(&a)).await).await;
    assert_eq!(r["description"], "helpdesk");
}
