//! Group members over HTTP: adding, checking, listing and removing users by
//! their primary extension number; roles held by users.

use crate::groups::create_group;
use crate::helpers::{assert_error, spawn_app, TestApp};
use crate::roles::tenant_session;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn json_of(resp: reqwest::Response) -> Value {
    resp.json().await.expect("json")
}

/// Creates a user with a primary extension `number` and returns its id.
async fn create_user(app: &TestApp, token: &str, name: &str, number: &str, role: &str) -> String {
    let body = json!({
        "name": name,
        "display_name": format!("{name} display"),
        "password": "Passw0rd-long-enough",
        "email": format!("{name}@example.com"),
        "role": role,
        "extension_number": number,
        "extension_password": "ExtPassw0rd-1",
        "voicemail_pin": "123456",
    });
    let resp = app.post("/api/users", Some(token), &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "creating {name}");
    json_of(resp).await["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn members_are_added_checked_listed_and_removed_by_extension_number() {
    let app = spawn_app().await;
    let t = tenant_session(&app, "Acme", "acme.example").await;
    let alice = create_user(&app, &t, "alice", "102", "StandardUser").await;
    let bob = create_user(&app, &t, "bob", "101", "StandardUser").await;
    let g = create_group(&app, &t, &json!({"name": "Sales"})).await;

    for n in ["102", "101"] {
        let resp = app
            .post(
                &format!("/api/groups/{g}/members/{n}"),
                Some(&t),
                &json!({}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "adding {n}");
    }
    assert_error(
        app.post(
            &format!("/api/groups/{g}/members/101"),
            Some(&t),
            &json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "ALREADY_EXISTS",
    )
    .await;

    let members = json_of(app.get(&format!("/api/groups/{g}/members"), Some(&t)).await).await;
    assert_eq!(
        members,
        json!({"items": [
            {"id": bob, "name": "bob", "display_name": "bob display", "extension_number": "101"},
            {"id": alice, "name": "alice", "display_name": "alice display", "extension_number": "102"},
        ]})
    );
    let m = json_of(
        app.get(&format!("/api/groups/{g}/members/102"), Some(&t))
            .await,
    )
    .await;
    assert_eq!(m["id"], alice);
    assert_eq!(m["extension_number"], "102");

    let resp = app
        .post(
            &format!("/api/groups/{g}/members/102/destroy"),
            Some(&t),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(&format!("/api/groups/{g}/members/102"), Some(&t))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/groups/{g}/members/102/destroy"),
            Some(&t),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let members = json_of(app.get(&format!("/api/groups/{g}/members"), Some(&t)).await).await;
    assert_eq!(members["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn unknown_numbers_and_foreign_users_are_not_found() {
    let app = spawn_app().await;
    let a = tenant_session(&app, "Acme", "acme.example").await;
    let b = tenant_session(&app, "Beta", "beta.example").await;
    create_user(&app, &a, "alice", "101", "StandardUser").await;
    create_user(&app, &b, "bob", "202", "StandardUser").await;
    let g = create_group(&app, &a, &json!({"name": "Sales"})).await;
    // 999: nobody's number; 202: a user of another tenant.
    for n in ["999", "202"] {
        assert_error(
            app.post(
                &format!("/api/groups/{g}/members/{n}"),
                Some(&a),
                &json!({}),
            )
            .await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
    }
    // Tenant B cannot see or touch A's group, even with A's numbers.
    assert_eq!(
        app.post(
            &format!("/api/groups/{g}/members/101"),
            Some(&a),
            &json!({})
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert_error(
        app.get(&format!("/api/groups/{g}/members/101"), Some(&b))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/groups/{g}/members/101/destroy"),
            Some(&b),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn deleting_a_user_or_a_group_ends_memberships() {
    let app = spawn_app().await;
    let t = tenant_session(&app, "Acme", "acme.example").await;
    let alice = create_user(&app, &t, "alice", "101", "StandardUser").await;
    let g = create_group(&app, &t, &json!({"name": "Sales"})).await;
    assert_eq!(
        app.post(
            &format!("/api/groups/{g}/members/101"),
            Some(&t),
            &json!({})
        )
        .await
        .status(),
        StatusCode::OK
    );
    let resp = app
        .post(&format!("/api/users/{alice}/destroy"), Some(&t), &json!({}))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let members = json_of(app.get(&format!("/api/groups/{g}/members"), Some(&t)).await).await;
    assert_eq!(members, json!({"items": []}));
}

#[tokio::test]
async fn a_role_held_by_a_user_cannot_be_deleted_and_follows_renames() {
    let app = spawn_app().await;
    let t = tenant_session(&app, "Acme", "acme.example").await;
    let body = json!({"name": "Support", "permissions": {"user_management": {"users": true}}});
    assert_eq!(
        app.post("/api/roles", Some(&t), &body).await.status(),
        StatusCode::CREATED
    );
    let alice = create_user(&app, &t, "alice", "101", "Support").await;
    assert_error(
        app.post("/api/roles/Support/destroy", Some(&t), &json!({}))
            .await,
        StatusCode::CONFLICT,
        "ROLE_IN_USE",
    )
    .await;
    assert_eq!(
        app.post("/api/roles/Support", Some(&t), &json!({"name": "Helpdesk"}))
            .await
            .status(),
        StatusCode::OK
    );
    let u = json_of(app.get(&format!("/api/users/{alice}"), Some(&t)).await).await;
    assert_eq!(u["role"], "Helpdesk");
    assert_error(
        app.post("/api/roles/Helpdesk/destroy", Some(&t), &json!({}))
            .await,
        StatusCode::CONFLICT,
        "ROLE_IN_USE",
    )
    .await;
}
