//! Extension contacts: the tenant's users as a directory, with per-user
//! favorites, following user creation, updates, renumbering and deletion.

use crate::contacts::{json_of, two_users};
use crate::helpers::{assert_error, spawn_app, user_body};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn by_number<'a>(list: &'a Value, number: &str) -> &'a Value {
    list["items"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["extension_number"] == number))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn the_directory_lists_users_and_follows_their_changes() {
    let app = spawn_app().await;
    let (admin, ann, bob) = two_users(&app, "acme.example").await;
    let l = json_of(app.get("/api/user/extension_contacts", Some(&ann)).await).await;
    assert_eq!(l["count"], 3, "boss, ann, bob");
    let b = by_number(&l, "202").clone();
    assert_eq!(b["display_name"], "bob display");
    assert_eq!(b["email"], "bob@example.com");
    assert_eq!(b["favorite"], false);
    let mut keys: Vec<&str> = b
        .as_object()
        .expect("object")
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort_unstable();
    let mut expected = vec![
        "id",
        "display_name",
        "email",
        "mobile_phone",
        "work_phone",
        "home_phone",
        "address",
        "department",
        "avatar_file_url",
        "extension_number",
        "favorite",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    let bob_id = b["id"].as_str().expect("id").to_owned();

    let resp = app
        .post(
            &format!("/api/users/{bob_id}"),
            Some(&admin),
            &json!({"department": "Sales", "extension_number": "299"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let l = json_of(
        app.get(
            "/api/user/extension_contacts?filter=department eq 'Sales'",
            Some(&ann),
        )
        .await,
    )
    .await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["items"][0]["extension_number"], "299");
    let l = json_of(
        app.get("/api/user/extension_contacts?search=299", Some(&ann))
            .await,
    )
    .await;
    assert_eq!(l["count"], 1);

    let resp = app
        .post(
            &format!("/api/user/extension_contacts/{bob_id}/favorite"),
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let a = json_of(app.get("/api/user/extension_contacts", Some(&ann)).await).await;
    assert_eq!(by_number(&a, "299")["favorite"], true);
    let b = json_of(app.get("/api/user/extension_contacts", Some(&bob)).await).await;
    assert_eq!(
        by_number(&b, "299")["favorite"],
        false,
        "favorites are per user"
    );
    let resp = app
        .post(
            &format!("/api/user/extension_contacts/{bob_id}/unfavorite"),
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let a = json_of(app.get("/api/user/extension_contacts", Some(&ann)).await).await;
    assert_eq!(by_number(&a, "299")["favorite"], false);

    app.create_user(&admin, &user_body("cid", "203")).await;
    let l = json_of(app.get("/api/user/extension_contacts", Some(&ann)).await).await;
    assert_eq!(l["count"], 4);
    let resp = app
        .post(
            &format!("/api/users/{bob_id}/destroy"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let l = json_of(app.get("/api/user/extension_contacts", Some(&ann)).await).await;
    assert_eq!(l["count"], 3);
    let resp = app
        .post(
            &format!("/api/user/extension_contacts/{bob_id}/favorite"),
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let resp = app
        .post(
            "/api/user/extension_contacts/bm9wZQ==/favorite",
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}
