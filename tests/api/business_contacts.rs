//! Business contacts: the administrator's `/contacts` (CRUD, export) and the
//! users' `/user/business_contacts` with per-user favorites.

use crate::contacts::{create_contact, json_of, two_users};
use crate::helpers::{assert_error, spawn_app};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn administrators_manage_the_phonebook_and_export_it() {
    let app = spawn_app().await;
    let (admin, ann, _) = two_users(&app, "acme.example").await;
    let acme = create_contact(
        &app,
        "/api/contacts",
        &admin,
        &json!({"name": "Acme Support", "business": "+4930123", "notes": "24/7, \"gold\""}),
    )
    .await;
    let zed = create_contact(&app, "/api/contacts", &admin, &json!({"name": "=Zed"})).await;

    let c = json_of(
        app.get(&format!("/api/contacts/{acme}"), Some(&admin))
            .await,
    )
    .await;
    assert_eq!(c["name"], "Acme Support");
    assert_eq!(c["business"], "+4930123");
    assert!(
        c.get("favorite").is_none(),
        "the admin view has no favorite flag"
    );
    let l = json_of(app.get("/api/contacts?search=support", Some(&admin)).await).await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["items"][0]["id"], acme);

    let resp = app
        .post(
            &format!("/api/contacts/{acme}"),
            Some(&admin),
            &json!({"title": "Helpdesk"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .post(
            &format!("/api/contacts/{acme}"),
            Some(&admin),
            &json!({"name": ""}),
        )
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "name");

    let resp = app.get("/api/contacts/export", Some(&admin)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .contains("contacts.csv"));
    let csv = resp.text().await.expect("text");
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert!(lines[0].starts_with("id,name,email,company,title,business,"));
    // Ordered by name: "=Zed" sorts before "Acme Support".
    assert!(
        lines[1].starts_with(&format!("{zed},'=Zed,")),
        "formula neutralized"
    );
    assert!(
        lines[2].starts_with(&format!("{acme},Acme Support,,,Helpdesk,+4930123,")),
        "{}",
        lines[2]
    );
    assert!(lines[2].contains("\"24/7, \"\"gold\"\"\""), "{}", lines[2]);
    assert_eq!(lines.len(), 4, "header, two rows, trailing line end");

    // Users read the phonebook but cannot change it.
    let l = json_of(app.get("/api/user/business_contacts", Some(&ann)).await).await;
    assert_eq!(l["count"], 2);
    assert_eq!(l["items"][0]["favorite"], false);
    for (path, body) in [
        ("/api/contacts".to_owned(), json!({"name": "X"})),
        (format!("/api/contacts/{acme}"), json!({"name": "X"})),
        (format!("/api/contacts/{acme}/destroy"), json!({})),
    ] {
        let resp = app.post(&path, Some(&ann), &body).await;
        assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    assert_error(
        app.get("/api/contacts/export", Some(&ann)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;

    let resp = app
        .post(
            &format!("/api/contacts/{zed}/destroy"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(&format!("/api/contacts/{zed}"), Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn business_favorites_belong_to_each_user() {
    let app = spawn_app().await;
    let (admin, ann, bob) = two_users(&app, "acme.example").await;
    let acme = create_contact(&app, "/api/contacts", &admin, &json!({"name": "Acme"})).await;
    let resp = app
        .post(
            &format!("/api/user/business_contacts/{acme}/favorite"),
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let fav = |v: &Value| v["items"][0]["favorite"].clone();
    let a = json_of(app.get("/api/user/business_contacts", Some(&ann)).await).await;
    let b = json_of(app.get("/api/user/business_contacts", Some(&bob)).await).await;
    assert_eq!(fav(&a), true);
    assert_eq!(fav(&b), false, "ann's favorite is not bob's");
    let l = json_of(
        app.get(
            "/api/user/business_contacts?filter=favorite eq true",
            Some(&bob),
        )
        .await,
    )
    .await;
    assert_eq!(l["count"], 0);
    let resp = app
        .post(
            &format!("/api/user/business_contacts/{acme}/unfavorite"),
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let a = json_of(app.get("/api/user/business_contacts", Some(&ann)).await).await;
    assert_eq!(fav(&a), false);
    // A personal contact is not a business contact.
    let mine = create_contact(&app, "/api/user/contacts", &ann, &json!({"name": "Mine"})).await;
    let resp = app
        .post(
            &format!("/api/user/business_contacts/{mine}/favorite"),
            Some(&ann),
            &json!({}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    // Deleting the contact drops the favorite with it.
    crate::helpers::ok(
        app.post(
            &format!("/api/user/business_contacts/{acme}/favorite"),
            Some(&ann),
            &json!({}),
        )
        .await,
    )
    .await;
    crate::helpers::ok(
        app.post(
            &format!("/api/contacts/{acme}/destroy"),
            Some(&admin),
            &json!({}),
        )
        .await,
    )
    .await;
    let a = json_of(app.get("/api/user/business_contacts", Some(&ann)).await).await;
    assert_eq!(a["count"], 0);
}

#[tokio::test]
async fn business_contacts_stay_in_their_tenant() {
    let app = spawn_app().await;
    let (admin, _, _) = two_users(&app, "acme.example").await;
    let (_, other, _) = two_users(&app, "other.example").await;
    let acme = create_contact(&app, "/api/contacts", &admin, &json!({"name": "Acme"})).await;
    let l = json_of(app.get("/api/user/business_contacts", Some(&other)).await).await;
    assert_eq!(l["count"], 0);
    let resp = app
        .post(
            &format!("/api/user/business_contacts/{acme}/favorite"),
            Some(&other),
            &json!({}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}
