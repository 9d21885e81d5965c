//! Personal contacts under `/user/contacts`: every operation, validation,
//! and isolation between users (contacts and favorites).

use crate::helpers::{assert_error, spawn_app, user_body, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

pub async fn json_of(resp: reqwest::Response) -> Value {
    resp.json().await.expect("json")
}

/// A tenant with two standard users; returns (admin token, ann token, bob token).
pub async fn two_users(app: &TestApp, domain: &str) -> (String, String, String) {
    let t = app.tenant(domain).await;
    app.create_user(&t.admin, &user_body("ann", "201")).await;
    app.create_user(&t.admin, &user_body("bob", "202")).await;
    let ann = app.token_for("ann", "Passw0rd-123", domain).await;
    let bob = app.token_for("bob", "Passw0rd-123", domain).await;
    (t.admin, ann, bob)
}

/// Creates a contact at `path`; returns its id.
pub async fn create_contact(app: &TestApp, path: &str, token: &str, body: &Value) -> String {
    let resp = app.post(path, Some(token), body).await;
    let status = resp.status();
    let body = json_of(resp).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn personal_contacts_are_created_listed_shown_updated_favorited_and_deleted() {
    let app = spawn_app().await;
    let (_, ann, _) = two_users(&app, "acme.example").await;
    let carol = create_contact(
        &app,
        "/api/user/contacts",
        &ann,
        &json!({"name": "Carol", "email": "carol@x.org", "company": "Initech",
                "mobile_phone": "+4915112345", "notes": "met at the fair"}),
    )
    .await;
    let dave = create_contact(&app, "/api/user/contacts", &ann, &json!({"name": "Dave"})).await;

    let c = json_of(
        app.get(&format!("/api/user/contacts/{carol}"), Some(&ann))
            .await,
    )
    .await;
    assert_eq!(c["id"], carol);
    assert_eq!(c["name"], "Carol");
    assert_eq!(c["company"], "Initech");
    assert_eq!(c["title"], Value::Null, "blank fields are null");
    assert_eq!(c["sync_type"], Value::Null);
    assert_eq!(c["favorite"], false);

    let l = json_of(app.get("/api/user/contacts", Some(&ann)).await).await;
    assert_eq!(l["count"], 2);
    assert_eq!(l["items"][0]["name"], "Carol", "ordered by name");
    let l = json_of(
        app.get("/api/user/contacts?search=initech", Some(&ann))
            .await,
    )
    .await;
    assert_eq!(l["count"], 1);
    let l = json_of(
        app.get(
            "/api/user/contacts?filter=name eq 'Dave'&top=1&skip=0",
            Some(&ann),
        )
        .await,
    )
    .await;
    assert_eq!(l["items"][0]["id"], dave);
    let l = json_of(
        app.get("/api/user/contacts?orderby=name desc&top=1", Some(&ann))
            .await,
    )
    .await;
    assert_eq!(l["items"][0]["name"], "Dave");
    assert_eq!(l["count"], 2);

    let resp = app
        .post(
            &format!("/api/user/contacts/{carol}"),
            Some(&ann),
            &json!({"title": "CTO", "notes": null}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let c = json_of(
        app.get(&format!("/api/user/contacts/{carol}"), Some(&ann))
            .await,
    )
    .await;
    assert_eq!(c["title"], "CTO");
    assert_eq!(c["notes"], Value::Null);
    assert_eq!(c["name"], "Carol");

    let resp = app
        .post(
            &format!("/api/user/contacts/{carol}/favorite"),
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let l = json_of(
        app.get("/api/user/contacts?filter=favorite eq true", Some(&ann))
            .await,
    )
    .await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["items"][0]["id"], carol);
    // Favoriting twice is harmless.
    let resp = app
        .post(
            &format!("/api/user/contacts/{carol}/favorite"),
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .post(
            &format!("/api/user/contacts/{carol}/unfavorite"),
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let c = json_of(
        app.get(&format!("/api/user/contacts/{carol}"), Some(&ann))
            .await,
    )
    .await;
    assert_eq!(c["favorite"], false);

    let resp = app
        .post(
            &format!("/api/user/contacts/{carol}/destroy"),
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app
        .get(&format!("/api/user/contacts/{carol}"), Some(&ann))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let l = json_of(app.get("/api/user/contacts", Some(&ann)).await).await;
    assert_eq!(l["count"], 1);
}

#[tokio::test]
async fn personal_contact_fields_are_validated() {
    let app = spawn_app().await;
    let (_, ann, _) = two_users(&app, "acme.example").await;
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(65)}), "name"),
        (json!({"name": "A", "email": "e".repeat(129)}), "email"),
        (
            json!({"name": "A", "home_fax": "1".repeat(129)}),
            "home_fax",
        ),
        (json!({"name": "A", "notes": "n".repeat(1025)}), "notes"),
        (json!({"name": "A", "company": 5}), "company"),
        (
            json!({"name": "A", "sync_type": "Microsoft 365"}),
            "sync_type",
        ),
        (json!({"name": "A", "favorite": true}), "favorite"),
        (json!({"name": "A", "nickname": "x"}), "nickname"),
    ] {
        let resp = app.post("/api/user/contacts", Some(&ann), &body).await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert_eq!(err["detail"]["field"], field, "{body}");
    }
    // Limits are inclusive.
    create_contact(
        &app,
        "/api/user/contacts",
        &ann,
        &json!({"name": "x".repeat(64), "notes": "n".repeat(1024), "other": "o".repeat(128)}),
    )
    .await;
    let resp = app.get("/api/user/contacts?top=0", Some(&ann)).await;
    assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    let resp = app
        .get("/api/user/contacts?filter=nope eq 1", Some(&ann))
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    let resp = app.get("/api/user/contacts", None).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let resp = app.get("/api/user/contacts/garbage", Some(&ann)).await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn users_never_see_each_others_contacts_or_favorites() {
    let app = spawn_app().await;
    let (_, ann, bob) = two_users(&app, "acme.example").await;
    let carol = create_contact(&app, "/api/user/contacts", &ann, &json!({"name": "Carol"})).await;
    let resp = app
        .post(
            &format!("/api/user/contacts/{carol}/favorite"),
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    let l = json_of(app.get("/api/user/contacts", Some(&bob)).await).await;
    assert_eq!(l["count"], 0);
    let path = format!("/api/user/contacts/{carol}");
    assert_error(
        app.get(&path, Some(&bob)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    for suffix in ["", "/favorite", "/unfavorite", "/destroy"] {
        let resp = app
            .post(
                &format!("{path}{suffix}"),
                Some(&bob),
                &json!({"name": "Mallory"}),
            )
            .await;
        assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    let c = json_of(app.get(&path, Some(&ann)).await).await;
    assert_eq!(c["name"], "Carol");
    assert_eq!(c["favorite"], true);
}
