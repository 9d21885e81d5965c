//! User groups: CRUD inside a tenant, validation, name uniqueness, path
//! checks and tenant isolation. Member tests that need users live in
//! `group_members.rs`.

use crate::helpers::{assert_error, spawn_app, TestApp};
use crate::roles::tenant_session;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn json_of(resp: reqwest::Response) -> Value {
    resp.json().await.expect("json")
}

/// Creates a group and returns its id.
pub async fn create_group(app: &TestApp, token: &str, body: &Value) -> String {
    let resp = app.post("/api/groups", Some(token), body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    json_of(resp).await["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn groups_are_created_shown_listed_updated_and_deleted() {
    let app = spawn_app().await;
    let t = tenant_session(&app, "Acme", "acme.example").await;
    let sales = create_group(
        &app,
        &t,
        &json!({"name": "Sales", "description": "the sales team",
                "outbound_caller_ids": [{"provider_id": "trunk1", "caller_id": "+4930123"}]}),
    )
    .await;
    let ops = create_group(&app, &t, &json!({"name": "Ops"})).await;

    let g = json_of(app.get(&format!("/api/groups/{sales}"), Some(&t)).await).await;
    assert_eq!(g["id"], sales);
    assert_eq!(g["name"], "Sales");
    assert_eq!(g["description"], "the sales team");
    assert_eq!(g["outbound_caller_ids"][0]["caller_id"], "+4930123");
    let g = json_of(app.get(&format!("/api/groups/{ops}"), Some(&t)).await).await;
    assert_eq!(g["outbound_caller_ids"], json!([]), "defaults are rendered");

    let list = json_of(app.get("/api/groups", Some(&t)).await).await;
    assert_eq!(list["count"], 2);
    assert_eq!(list["items"][0]["name"], "Ops", "ordered by name");
    assert_eq!(
        list["items"][1],
        json!({"id": sales, "name": "Sales", "description": "the sales team"})
    );
    let found = json_of(app.get("/api/groups?search=sales team", Some(&t)).await).await;
    assert_eq!(found["count"], 1);
    let found = json_of(app.get("/api/groups?filter=name eq 'Ops'", Some(&t)).await).await;
    assert_eq!(found["items"][0]["id"], ops);
    let page = json_of(
        app.get("/api/groups?orderby=name desc&top=1", Some(&t))
            .await,
    )
    .await;
    assert_eq!(page["count"], 2);
    assert_eq!(page["items"][0]["name"], "Sales");

    let resp = app
        .post(
            &format!("/api/groups/{sales}"),
            Some(&t),
            &json!({"name": "Sales EMEA", "description": null}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let g = json_of(app.get(&format!("/api/groups/{sales}"), Some(&t)).await).await;
    assert_eq!(g["name"], "Sales EMEA");
    assert_eq!(g["description"], Value::Null);
    assert_eq!(g["outbound_caller_ids"][0]["provider_id"], "trunk1");
    // Nothing to change is fine.
    let resp = app
        .post(&format!("/api/groups/{sales}"), Some(&t), &json!({}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = app
        .post(
            &format!("/api/groups/{sales}/destroy"),
            Some(&t),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    for path in [
        format!("/api/groups/{sales}"),
        format!("/api/groups/{sales}/members"),
    ] {
        assert_error(
            app.get(&path, Some(&t)).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
    }
    assert_error(
        app.post(
            &format!("/api/groups/{sales}/destroy"),
            Some(&t),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let list = json_of(app.get("/api/groups", Some(&t)).await).await;
    assert_eq!(list["count"], 1);
}

#[tokio::test]
async fn group_names_are_unique_per_tenant() {
    let app = spawn_app().await;
    let t = tenant_session(&app, "Acme", "acme.example").await;
    create_group(&app, &t, &json!({"name": "Sales"})).await;
    let ops = create_group(&app, &t, &json!({"name": "Ops"})).await;
    assert_error(
        app.post("/api/groups", Some(&t), &json!({"name": "SALES"}))
            .await,
        StatusCode::CONFLICT,
        "ALREADY_EXISTS",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/groups/{ops}"),
            Some(&t),
            &json!({"name": "sales"}),
        )
        .await,
        StatusCode::CONFLICT,
        "ALREADY_EXISTS",
    )
    .await;
    // Renaming to itself in another case is not a conflict.
    let resp = app
        .post(
            &format!("/api/groups/{ops}"),
            Some(&t),
            &json!({"name": "OPS"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn group_bodies_and_paths_are_validated() {
    let app = spawn_app().await;
    let t = tenant_session(&app, "Acme", "acme.example").await;
    let cases = [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(65)}), "name"),
        (json!({"name": 1}), "name"),
        (
            json!({"name": "G", "description": "d".repeat(1025)}),
            "description",
        ),
        (json!({"name": "G", "members": []}), "members"),
        (
            json!({"name": "G", "outbound_caller_ids": [{"provider_id": "t", "caller_id": "1", "preferred": true}]}),
            "outbound_caller_ids[0].preferred",
        ),
    ];
    for (body, field) in cases {
        let err = assert_error(
            app.post("/api/groups", Some(&t), &body).await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
        assert_eq!(err["detail"]["field"], field, "{body}");
    }
    let g = create_group(&app, &t, &json!({"name": "G"})).await;
    let err = assert_error(
        app.post(&format!("/api/groups/{g}"), Some(&t), &json!({"name": ""}))
            .await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "name");
    // Extension numbers in paths must be 3 to 64 digits.
    for bad in ["12", "10a", "%2B101", &"9".repeat(65)] {
        let err = assert_error(
            app.get(&format!("/api/groups/{g}/members/{bad}"), Some(&t))
                .await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
        assert_eq!(err["detail"]["field"], "extension_number");
        assert_error(
            app.post(
                &format!("/api/groups/{g}/members/{bad}"),
                Some(&t),
                &json!({}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
        assert_error(
            app.post(
                &format!("/api/groups/{g}/members/{bad}/destroy"),
                Some(&t),
                &json!({}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
    }
    // Unknown or malformed ids are simply not found.
    for id in ["MTIz", "not-an-id", "!!"] {
        assert_error(
            app.get(&format!("/api/groups/{id}"), Some(&t)).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
    }
    // A well-formed number nobody has: 404, and an empty group lists no one.
    assert_error(
        app.post(
            &format!("/api/groups/{g}/members/101"),
            Some(&t),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.get(&format!("/api/groups/{g}/members/101"), Some(&t))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let members = json_of(app.get(&format!("/api/groups/{g}/members"), Some(&t)).await).await;
    assert_eq!(members, json!({"items": []}));
}

#[tokio::test]
async fn groups_need_a_token_and_a_tenant() {
    let app = spawn_app().await;
    assert_error(
        app.get("/api/groups", None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    assert_error(
        app.post("/api/groups", None, &json!({"name": "G"})).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    assert_error(
        app.get("/api/groups/MTIz/members", None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    let admin = app.admin_token().await;
    assert_error(
        app.get("/api/groups", Some(&admin)).await,
        StatusCode::FORBIDDEN,
        "TENANT_REQUIRED",
    )
    .await;
    assert_error(
        app.post("/api/groups", Some(&admin), &json!({"name": "G"}))
            .await,
        StatusCode::FORBIDDEN,
        "TENANT_REQUIRED",
    )
    .await;
    assert_error(
        app.post("/api/groups/MTIz/members/101", Some(&admin), &json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "TENANT_REQUIRED",
    )
    .await;
}

#[tokio::test]
async fn groups_are_invisible_to_other_tenants() {
    let app = spawn_app().await;
    let a = tenant_session(&app, "Acme", "acme.example").await;
    let b = tenant_session(&app, "Beta", "beta.example").await;
    let g = create_group(&app, &a, &json!({"name": "Sales"})).await;
    let list_b = json_of(app.get("/api/groups", Some(&b)).await).await;
    assert_eq!(list_b["count"], 0);
    for path in [
        format!("/api/groups/{g}"),
        format!("/api/groups/{g}/members"),
    ] {
        assert_error(
            app.get(&path, Some(&b)).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
    }
    for path in [
        format!("/api/groups/{g}"),
        format!("/api/groups/{g}/destroy"),
    ] {
        assert_error(
            app.post(&path, Some(&b), &json!({"description": "x"}))
                .await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
    }
    // Same name in another tenant is fine.
    create_group(&app, &b, &json!({"name": "Sales"})).await;
    let list_a = json_of(app.get("/api/groups", Some(&a)).await).await;
    assert_eq!(list_a["count"], 1);
    assert_eq!(list_a["items"][0]["id"], g);
}
