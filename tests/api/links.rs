//! User↔extension links over HTTP, and the extension paths that need users.
//!
//! NOT registered in `main.rs` yet: it needs `POST /api/users` (body
//! `{name, display_name, password, email, role, extension_number,
//! extension_password, voicemail_pin}` → 201 `{id}`) and
//! `POST /api/users/{id}/destroy`, which are being written on another
//! branch. Register it (`mod links;`) once they land. Until then the same
//! paths are covered by the unit tests in `src/commands/extensions.rs`.

use crate::extensions::{create_extension, tenant_session};
use crate::helpers::spawn_app;
use crate::helpers::{assert_error, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

const PASSWORD: &str = "Us3r-Passw0rd!";

async fn create_user(
    app: &TestApp,
    token: &str,
    name: &str,
    display: &str,
    number: &str,
) -> String {
    let body = json!({
        "name": name,
        "display_name": display,
        "password": PASSWORD,
        "email": format!("{name}@example.com"),
        "role": "StandardUser",
        "extension_number": number,
        "extension_password": "Ext-Passw0rd!",
        "voicemail_pin": "654321",
    });
    let resp = app.post("/api/users", Some(token), &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "creating user {name}");
    resp.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn json_of(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.expect("json")
}

async fn links_of(app: &TestApp, token: &str, user: &str) -> Value {
    json_of(
        app.get(&format!("/api/users/{user}/extensions"), Some(token))
            .await,
    )
    .await
}

async fn link(app: &TestApp, token: &str, user: &str, ext: &str) -> reqwest::Response {
    app.post(
        &format!("/api/users/{user}/extensions/{ext}"),
        Some(token),
        &json!({}),
    )
    .await
}

async fn unlink(app: &TestApp, token: &str, user: &str, ext: &str) -> reqwest::Response {
    app.post(
        &format!("/api/users/{user}/extensions/{ext}/destroy"),
        Some(token),
        &json!({}),
    )
    .await
}

/// The extension id behind a number that is nobody's primary.
async fn extension_id_of(app: &TestApp, token: &str, number: &str) -> String {
    let list = json_of(
        app.get(
            &format!("/api/extensions?filter=number eq '{number}'"),
            Some(token),
        )
        .await,
    )
    .await;
    assert_eq!(list["count"], 1, "extension {number}");
    list["items"][0]["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn a_users_primary_extension_is_its_first_link() {
    let app = spawn_app().await;
    let (t, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    let alice = create_user(&app, &t, "alice", "Alice Martin", "101").await;
    let links = links_of(&app, &t, &alice).await;
    assert_eq!(links["count"], 1);
    let item = &links["items"][0];
    assert_eq!(item["number"], "101");
    assert_eq!(item["primary"], true);
    assert_eq!(item["type"], "SIP");
    assert_eq!(item["enabled"], true);
    assert!(item["linked_at"]
        .as_str()
        .expect("linked_at")
        .ends_with('Z'));
    // The user's extension is a real extension.
    let x = json_of(
        app.get(
            &format!("/api/extensions/{}", item["id"].as_str().expect("id")),
            Some(&t),
        )
        .await,
    )
    .await;
    assert_eq!(x["number"], "101");
    // Its number answers as the user.
    let n = json_of(app.get("/api/extension_numbers/101", Some(&t)).await).await;
    assert_eq!(
        n,
        json!({ "id": alice, "extension_number": "101", "name": "Alice Martin", "type": "EXTENSION" })
    );
}

#[tokio::test]
async fn users_link_and_unlink_extensions_and_share_lines() {
    let app = spawn_app().await;
    let (t, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    let alice = create_user(&app, &t, "alice", "Alice", "101").await;
    let bob = create_user(&app, &t, "bob", "Bob", "103").await;
    let desk = create_extension(&app, &t, json!({ "number": "102", "name": "Front desk" })).await;

    let resp = link(&app, &t, &alice, &desk).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.expect("json"), json!({}));
    let links = links_of(&app, &t, &alice).await;
    assert_eq!(links["count"], 2);
    let by_number = |n: &str| {
        links["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["number"] == n)
            .cloned()
            .expect("linked")
    };
    assert_eq!(by_number("101")["primary"], true);
    assert_eq!(by_number("102")["primary"], false);
    assert_eq!(by_number("102")["id"], desk);
    assert_eq!(by_number("102")["name"], "Front desk");
    let only_primary = json_of(
        app.get(
            &format!("/api/users/{alice}/extensions?filter=primary eq true"),
            Some(&t),
        )
        .await,
    )
    .await;
    assert_eq!(only_primary["count"], 1);

    // Linking twice is a conflict.
    assert_error(
        link(&app, &t, &alice, &desk).await,
        StatusCode::CONFLICT,
        "ALREADY_LINKED",
    )
    .await;

    // A shared line: bob is linked to the same extension.
    let resp = link(&app, &t, &bob, &desk).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(links_of(&app, &t, &bob).await["count"], 2);
    // It is nobody's primary, so its number answers as the extension.
    let n = json_of(app.get("/api/extension_numbers/102", Some(&t)).await).await;
    assert_eq!(
        n,
        json!({ "id": desk, "extension_number": "102", "name": "Front desk", "type": "EXTENSION" })
    );

    // Deleting an extension that still has links is refused.
    assert_error(
        app.post(
            &format!("/api/extensions/{desk}/destroy"),
            Some(&t),
            &json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "EXTENSION_IN_USE",
    )
    .await;

    let resp = unlink(&app, &t, &alice, &desk).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(links_of(&app, &t, &alice).await["count"], 1);
    assert_eq!(links_of(&app, &t, &bob).await["count"], 2, "bob keeps it");
    // Unlinking a link that does not exist is a 404.
    assert_error(
        unlink(&app, &t, &alice, &desk).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/extensions/{desk}/destroy"),
            Some(&t),
            &json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "EXTENSION_IN_USE",
    )
    .await;
    let resp = unlink(&app, &t, &bob, &desk).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app
        .post(
            &format!("/api/extensions/{desk}/destroy"),
            Some(&t),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn unknown_users_and_extensions_are_not_found_when_linking() {
    let app = spawn_app().await;
    let (t, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    let alice = create_user(&app, &t, "alice", "Alice", "101").await;
    let desk = create_extension(&app, &t, json!({ "number": "102" })).await;
    let gone = create_extension(&app, &t, json!({ "number": "103" })).await;
    let resp = app
        .post(
            &format!("/api/extensions/{gone}/destroy"),
            Some(&t),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    for bad in [gone.as_str(), "garbage"] {
        assert_error(
            link(&app, &t, &alice, bad).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        assert_error(
            unlink(&app, &t, &alice, bad).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        assert_error(
            link(&app, &t, bad, &desk).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        assert_error(
            unlink(&app, &t, bad, &desk).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
    }
    // An extension id is not a user id.
    assert_error(
        link(&app, &t, &desk, &desk).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn unlinking_the_primary_leaves_the_user_without_one_until_relinked() {
    let app = spawn_app().await;
    let (t, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    let alice = create_user(&app, &t, "alice", "Alice", "101").await;
    let primary = extension_id_of(&app, &t, "101").await;
    let resp = unlink(&app, &t, &alice, &primary).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(links_of(&app, &t, &alice).await["count"], 0);
    // The extension stays; its number now answers as the extension itself.
    let n = json_of(app.get("/api/extension_numbers/101", Some(&t)).await).await;
    assert_eq!(n["id"], primary);
    // Linking a user without a primary makes that extension its primary.
    let resp = link(&app, &t, &alice, &primary).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let links = links_of(&app, &t, &alice).await;
    assert_eq!(links["items"][0]["primary"], true);
    let n = json_of(app.get("/api/extension_numbers/101", Some(&t)).await).await;
    assert_eq!(n["id"], alice);
}

#[tokio::test]
async fn deleting_a_user_removes_its_links() {
    let app = spawn_app().await;
    let (t, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    let alice = create_user(&app, &t, "alice", "Alice", "101").await;
    let bob = create_user(&app, &t, "bob", "Bob", "103").await;
    let desk = create_extension(&app, &t, json!({ "number": "102" })).await;
    assert_eq!(link(&app, &t, &alice, &desk).await.status(), StatusCode::OK);
    assert_eq!(link(&app, &t, &bob, &desk).await.status(), StatusCode::OK);

    let resp = app
        .post(&format!("/api/users/{alice}/destroy"), Some(&t), &json!({}))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(&format!("/api/users/{alice}/extensions"), Some(&t))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    // Alice's primary extension survives, unlinked, and can be deleted.
    let primary = extension_id_of(&app, &t, "101").await;
    let resp = app
        .post(
            &format!("/api/extensions/{primary}/destroy"),
            Some(&t),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    // The shared line is still bob's.
    assert_error(
        app.post(
            &format!("/api/extensions/{desk}/destroy"),
            Some(&t),
            &json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "EXTENSION_IN_USE",
    )
    .await;
    assert_eq!(links_of(&app, &t, &bob).await["count"], 2);
}

#[tokio::test]
async fn users_and_extensions_share_one_number_space() {
    let app = spawn_app().await;
    let (t, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    create_user(&app, &t, "alice", "Alice", "101").await;
    assert_error(
        app.post("/api/extensions", Some(&t), &json!({ "number": "101" }))
            .await,
        StatusCode::CONFLICT,
        "EXTENSION_NUMBER_IN_USE",
    )
    .await;
    let desk = create_extension(&app, &t, json!({ "number": "102" })).await;
    assert_error(
        app.post(
            &format!("/api/extensions/{desk}"),
            Some(&t),
            &json!({ "number": "101" }),
        )
        .await,
        StatusCode::CONFLICT,
        "EXTENSION_NUMBER_IN_USE",
    )
    .await;
    // A user created on the number of an unlinked extension adopts it.
    let bob = create_user(&app, &t, "bob", "Bob", "102").await;
    let links = links_of(&app, &t, &bob).await;
    assert_eq!(links["items"][0]["id"], desk);
    assert_eq!(links["items"][0]["primary"], true);
}

#[tokio::test]
async fn links_are_tenant_scoped_and_need_the_right_role() {
    let app = spawn_app().await;
    let (a, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    let (b, _) = tenant_session(&app, "Beta", "beta.example.com").await;
    let alice = create_user(&app, &a, "alice", "Alice", "101").await;
    let desk = create_extension(&app, &a, json!({ "number": "102" })).await;
    let bea = create_user(&app, &b, "bea", "Bea", "101").await;
    let b_desk = create_extension(&app, &b, json!({ "number": "102" })).await;

    assert_error(
        app.get(&format!("/api/users/{alice}/extensions"), Some(&b))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        link(&app, &b, &alice, &b_desk).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        link(&app, &b, &bea, &desk).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        unlink(&app, &b, &alice, &desk).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let n = json_of(app.get("/api/extension_numbers/101", Some(&b)).await).await;
    assert_eq!(n["id"], bea);

    // A StandardUser may not read or change the directory's extensions.
    let resp = app
        .sign_in("alice", PASSWORD, Some("acme.example.com"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let token = resp.json::<Value>().await.expect("json")["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_error(
        app.get("/api/extensions", Some(&token)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.get("/api/extension_numbers/101", Some(&token)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.post("/api/extensions", Some(&token), &json!({ "number": "150" }))
            .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        link(&app, &token, &alice, &desk).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.get(&format!("/api/users/{alice}/extensions"), Some(&token))
            .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
}
