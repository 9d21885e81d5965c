//! Extensions: CRUD, validation, the shared number space, list queries,
//! tenant isolation, `GET /extension_numbers/{n}` and `GET /info`.
//! (Paths that need users are in `links.rs`.)

use crate::helpers::{assert_error, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Creates a tenant and returns a fresh system administrator token switched
/// into it, with the tenant's id.
pub async fn tenant_session(app: &TestApp, name: &str, domain: &str) -> (String, String) {
    app.switched_tenant(name, domain).await
}

/// Creates an extension and returns its id.
pub async fn create_extension(app: &TestApp, token: &str, body: Value) -> String {
    let resp = app.post("/api/extensions", Some(token), &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "creating {body}");
    resp.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn json_of(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.expect("json")
}

#[tokio::test]
async fn an_admin_creates_reads_updates_and_deletes_extensions() {
    let app = spawn_app().await;
    let (t, _) = tenant_session(&app, "Acme", "acme.example.com").await;

    let id = create_extension(&app, &t, json!({ "number": "101" })).await;
    let x = json_of(app.get(&format!("/api/extensions/{id}"), Some(&t)).await).await;
    assert_eq!(x["id"], id);
    assert_eq!(x["number"], "101");
    assert_eq!(x["name"], "", "name defaults to empty");
    assert_eq!(x["type"], "SIP", "type defaults to SIP");
    assert_eq!(x["enabled"], true, "enabled defaults to true");
    assert!(x["created_at"].as_str().expect("created_at").ends_with('Z'));

    let full = create_extension(
        &app,
        &t,
        json!({ "number": "102", "name": "Reception", "type": "WEBRTC", "enabled": false }),
    )
    .await;
    let x = json_of(app.get(&format!("/api/extensions/{full}"), Some(&t)).await).await;
    assert_eq!(x["name"], "Reception");
    assert_eq!(x["type"], "WEBRTC");
    assert_eq!(x["enabled"], false);

    // Partial update: only what is given changes; read-only keys are ignored.
    let resp = app
        .post(
            &format!("/api/extensions/{id}"),
            Some(&t),
            &json!({ "name": "Lobby", "type": "EXTERNAL", "id": "ignored" }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.expect("json"), json!({}));
    let x = json_of(app.get(&format!("/api/extensions/{id}"), Some(&t)).await).await;
    assert_eq!(x["name"], "Lobby");
    assert_eq!(x["type"], "EXTERNAL");
    assert_eq!(x["number"], "101");
    assert_eq!(x["enabled"], true);
    let resp = app
        .post(
            &format!("/api/extensions/{id}"),
            Some(&t),
            &json!({ "enabled": false }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let x = json_of(app.get(&format!("/api/extensions/{id}"), Some(&t)).await).await;
    assert_eq!(x["enabled"], false);
    assert_eq!(x["name"], "Lobby");

    let resp = app
        .post(
            &format!("/api/extensions/{id}/destroy"),
            Some(&t),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(&format!("/api/extensions/{id}"), Some(&t)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/extensions/{id}/destroy"),
            Some(&t),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    // The number is free again.
    create_extension(&app, &t, json!({ "number": "101" })).await;
}

#[tokio::test]
async fn extensions_survive_a_restart() {
    let mut app = spawn_app().await;
    let (t, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    let id = create_extension(&app, &t, json!({ "number": "101", "name": "Desk" })).await;
    let resp = app
        .post(
            &format!("/api/extensions/{id}"),
            Some(&t),
            &json!({ "number": "201" }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    app.restart().await;
    let (t, _) = tenant_session(&app, "Other", "other.example.com").await;
    // The other tenant does not see it, and both numbers are free there.
    assert_error(
        app.get(&format!("/api/extensions/{id}"), Some(&t)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let admin = app.admin_token().await;
    let tenants: Value = json_of(
        app.get("/api/tenants?filter=name eq 'Acme'", Some(&admin))
            .await,
    )
    .await;
    let acme = tenants["items"][0]["id"].as_str().expect("acme").to_owned();
    let resp = app
        .post(
            &format!("/api/tenants/switch?id={acme}"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let x = json_of(
        app.get(&format!("/api/extensions/{id}"), Some(&admin))
            .await,
    )
    .await;
    assert_eq!(x["number"], "201");
    assert_eq!(x["name"], "Desk");
    create_extension(&app, &admin, json!({ "number": "101" })).await;
}

#[tokio::test]
async fn invalid_bodies_are_rejected_naming_the_field() {
    let app = spawn_app().await;
    let (t, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    let cases = [
        (json!({}), "number"),
        (json!({ "name": "x" }), "number"),
        (json!({ "number": "12" }), "number"),
        (json!({ "number": "10a" }), "number"),
        (json!({ "number": "+101" }), "number"),
        (json!({ "number": "9".repeat(65) }), "number"),
        (json!({ "number": 101 }), "number"),
        (json!({ "number": null }), "number"),
        (json!({ "number": "101", "name": "x".repeat(65) }), "name"),
        (json!({ "number": "101", "name": "a\nb" }), "name"),
        (json!({ "number": "101", "name": 5 }), "name"),
        (json!({ "number": "101", "type": "sip" }), "type"),
        (json!({ "number": "101", "type": "PSTN" }), "type"),
        (json!({ "number": "101", "enabled": "yes" }), "enabled"),
        (json!({ "number": "101", "enabled": null }), "enabled"),
        (json!({ "number": "101", "colour": "red" }), "colour"),
    ];
    for (body, field) in cases {
        let err = assert_error(
            app.post("/api/extensions", Some(&t), &body).await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
        assert_eq!(err["detail"]["field"], field, "for {body}");
    }
    // Malformed JSON.
    let resp = app
        .client
        .post(app.url("/api/extensions"))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    // Boundaries that are fine.
    create_extension(
        &app,
        &t,
        json!({ "number": "9".repeat(64), "name": "é".repeat(64) }),
    )
    .await;
    create_extension(&app, &t, json!({ "number": "100" })).await;

    // Updates follow the same rules.
    let id = create_extension(&app, &t, json!({ "number": "101" })).await;
    for (body, field) in [
        (json!({ "number": "1" }), "number"),
        (json!({ "name": "x".repeat(65) }), "name"),
        (json!({ "type": "" }), "type"),
        (json!({ "enabled": 1 }), "enabled"),
        (json!({ "users": [] }), "users"),
    ] {
        let err = assert_error(
            app.post(&format!("/api/extensions/{id}"), Some(&t), &body)
                .await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
        assert_eq!(err["detail"]["field"], field, "for {body}");
    }
    let x = json_of(app.get(&format!("/api/extensions/{id}"), Some(&t)).await).await;
    assert_eq!(x["number"], "101", "nothing changed");
}

#[tokio::test]
async fn numbers_are_unique_in_a_tenant_and_can_move() {
    let app = spawn_app().await;
    let (t, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    let a = create_extension(&app, &t, json!({ "number": "101" })).await;
    create_extension(&app, &t, json!({ "number": "102" })).await;
    assert_error(
        app.post("/api/extensions", Some(&t), &json!({ "number": "101" }))
            .await,
        StatusCode::CONFLICT,
        "EXTENSION_NUMBER_IN_USE",
    )
    .await;
    // Renumbering onto a taken number is refused...
    assert_error(
        app.post(
            &format!("/api/extensions/{a}"),
            Some(&t),
            &json!({ "number": "102" }),
        )
        .await,
        StatusCode::CONFLICT,
        "EXTENSION_NUMBER_IN_USE",
    )
    .await;
    // ...setting the same number is a no-op...
    let resp = app
        .post(
            &format!("/api/extensions/{a}"),
            Some(&t),
            &json!({ "number": "101" }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // ...and a free number moves the extension, releasing the old one.
    let resp = app
        .post(
            &format!("/api/extensions/{a}"),
            Some(&t),
            &json!({ "number": "201" }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let n = json_of(app.get("/api/extension_numbers/201", Some(&t)).await).await;
    assert_eq!(n["id"], a);
    assert_error(
        app.get("/api/extension_numbers/101", Some(&t)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    create_extension(&app, &t, json!({ "number": "101" })).await;
    assert_error(
        app.post("/api/extensions", Some(&t), &json!({ "number": "201" }))
            .await,
        StatusCode::CONFLICT,
        "EXTENSION_NUMBER_IN_USE",
    )
    .await;
}

#[tokio::test]
async fn extension_lists_filter_search_order_and_page() {
    let app = spawn_app().await;
    let (t, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    let empty = json_of(app.get("/api/extensions", Some(&t)).await).await;
    assert_eq!(empty, json!({ "count": 0, "items": [] }));
    create_extension(&app, &t, json!({ "number": "103", "name": "Sales" })).await;
    create_extension(
        &app,
        &t,
        json!({ "number": "101", "name": "Reception", "type": "WEBRTC" }),
    )
    .await;
    create_extension(
        &app,
        &t,
        json!({ "number": "102", "name": "Support", "enabled": false }),
    )
    .await;

    let all = json_of(app.get("/api/extensions", Some(&t)).await).await;
    assert_eq!(all["count"], 3);
    let mut numbers: Vec<&str> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["number"].as_str().expect("number"))
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, ["101", "102", "103"]);
    let first = &all["items"][0];
    for key in ["id", "number", "name", "type", "enabled", "created_at"] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }

    let by = |q: &'static str| {
        let app = &app;
        let t = t.clone();
        async move { json_of(app.get(&format!("/api/extensions?{q}"), Some(&t)).await).await }
    };
    let r = by("filter=type eq 'WEBRTC'").await;
    assert_eq!(r["count"], 1);
    assert_eq!(r["items"][0]["number"], "101");
    let r = by("filter=enabled eq false").await;
    assert_eq!(r["items"][0]["name"], "Support");
    let r = by("search=sup").await;
    assert_eq!(r["count"], 1);
    assert_eq!(r["items"][0]["number"], "102");
    let r = by("search=10").await;
    assert_eq!(r["count"], 3, "search looks in numbers");
    let r = by("orderby=number desc&top=2").await;
    assert_eq!(r["count"], 3);
    assert_eq!(r["items"].as_array().expect("items").len(), 2);
    assert_eq!(r["items"][0]["number"], "103");
    assert_eq!(r["items"][1]["number"], "102");
    let r = by("orderby=number&skip=2").await;
    assert_eq!(r["items"][0]["number"], "103");
    let r = by("$filter=startswith(name,'S')&$orderby=name").await;
    assert_eq!(r["items"][0]["name"], "Sales");
    assert_eq!(r["items"][1]["name"], "Support");

    for (q, field) in [
        ("filter=colour eq 'red'", "filter"),
        ("filter=enabled eq 'yes'", "filter"),
        ("orderby=colour", "orderby"),
        ("top=0", "top"),
        ("skip=-1", "skip"),
    ] {
        let err = assert_error(
            app.get(&format!("/api/extensions?{q}"), Some(&t)).await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
        assert_eq!(err["detail"]["field"], field, "for {q}");
    }
}

#[tokio::test]
async fn extensions_need_a_token_and_a_tenant() {
    let app = spawn_app().await;
    let (t, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    let id = create_extension(&app, &t, json!({ "number": "101" })).await;
    let gets = [
        "/api/extensions".to_owned(),
        format!("/api/extensions/{id}"),
        format!("/api/users/{id}/extensions"),
        "/api/extension_numbers/101".to_owned(),
    ];
    let posts = [
        "/api/extensions".to_owned(),
        format!("/api/extensions/{id}"),
        format!("/api/extensions/{id}/destroy"),
        format!("/api/users/{id}/extensions/{id}"),
        format!("/api/users/{id}/extensions/{id}/destroy"),
    ];
    for path in &gets {
        assert_error(
            app.get(path, None).await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
        )
        .await;
        assert_error(
            app.get(path, Some("not-a-token")).await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
        )
        .await;
    }
    for path in &posts {
        assert_error(
            app.post(path, None, &json!({ "number": "102" })).await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
        )
        .await;
    }
    // The system administrator must switch into a tenant first.
    let unswitched = app.admin_token().await;
    for path in &gets {
        assert_error(
            app.get(path, Some(&unswitched)).await,
            StatusCode::FORBIDDEN,
            "TENANT_REQUIRED",
        )
        .await;
    }
    for path in &posts {
        assert_error(
            app.post(path, Some(&unswitched), &json!({ "number": "102" }))
                .await,
            StatusCode::FORBIDDEN,
            "TENANT_REQUIRED",
        )
        .await;
    }
    // Nothing was changed by the refused requests.
    let all = json_of(app.get("/api/extensions", Some(&t)).await).await;
    assert_eq!(all["count"], 1);
}

#[tokio::test]
async fn unknown_and_garbage_ids_are_not_found() {
    let app = spawn_app().await;
    let (t, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    let id = create_extension(&app, &t, json!({ "number": "101" })).await;
    let gone = create_extension(&app, &t, json!({ "number": "102" })).await;
    let resp = app
        .post(
            &format!("/api/extensions/{gone}/destroy"),
            Some(&t),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    for bad in [
        gone.as_str(),
        "garbage",
        "MA==",
        "!!",
        "x".repeat(40).as_str(),
    ] {
        assert_error(
            app.get(&format!("/api/extensions/{bad}"), Some(&t)).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        assert_error(
            app.post(
                &format!("/api/extensions/{bad}"),
                Some(&t),
                &json!({ "name": "x" }),
            )
            .await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        assert_error(
            app.post(
                &format!("/api/extensions/{bad}/destroy"),
                Some(&t),
                &json!({}),
            )
            .await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        // No user has this id: the links of an unknown user are a 404, and
        // linking or unlinking it too.
        assert_error(
            app.get(&format!("/api/users/{bad}/extensions"), Some(&t))
                .await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        assert_error(
            app.post(
                &format!("/api/users/{bad}/extensions/{id}"),
                Some(&t),
                &json!({}),
            )
            .await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        assert_error(
            app.post(
                &format!("/api/users/{bad}/extensions/{id}/destroy"),
                Some(&t),
                &json!({}),
            )
            .await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
    }
    // Still there.
    json_of(app.get(&format!("/api/extensions/{id}"), Some(&t)).await).await;
}

#[tokio::test]
async fn tenants_do_not_see_each_others_extensions() {
    let app = spawn_app().await;
    let (a, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    let (b, _) = tenant_session(&app, "Beta", "beta.example.com").await;
    let xa = create_extension(&app, &a, json!({ "number": "101", "name": "A desk" })).await;
    // The same number may exist in both tenants.
    let xb = create_extension(&app, &b, json!({ "number": "101", "name": "B desk" })).await;
    assert_ne!(xa, xb);

    let list_b = json_of(app.get("/api/extensions", Some(&b)).await).await;
    assert_eq!(list_b["count"], 1);
    assert_eq!(list_b["items"][0]["id"], xb);
    let list_b = json_of(app.get("/api/extensions?search=desk", Some(&b)).await).await;
    assert_eq!(list_b["count"], 1);

    assert_error(
        app.get(&format!("/api/extensions/{xa}"), Some(&b)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/extensions/{xa}"),
            Some(&b),
            &json!({ "name": "stolen" }),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/extensions/{xa}/destroy"),
            Some(&b),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;

    let na = json_of(app.get("/api/extension_numbers/101", Some(&a)).await).await;
    assert_eq!(na["id"], xa);
    assert_eq!(na["name"], "A desk");
    let nb = json_of(app.get("/api/extension_numbers/101", Some(&b)).await).await;
    assert_eq!(nb["id"], xb);

    let x = json_of(app.get(&format!("/api/extensions/{xa}"), Some(&a)).await).await;
    assert_eq!(x["name"], "A desk", "untouched by tenant B");
}

#[tokio::test]
async fn extension_numbers_report_their_owner() {
    let app = spawn_app().await;
    let (t, _) = tenant_session(&app, "Acme", "acme.example.com").await;
    let id = create_extension(
        &app,
        &t,
        json!({ "number": "101", "name": "Reception", "type": "EXTERNAL" }),
    )
    .await;
    let n = json_of(app.get("/api/extension_numbers/101", Some(&t)).await).await;
    assert_eq!(
        n,
        json!({ "id": id, "extension_number": "101", "name": "Reception", "type": "EXTENSION" })
    );
    assert_error(
        app.get("/api/extension_numbers/999", Some(&t)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    for bad in ["12", "10a", "%2B101", &"9".repeat(65)] {
        let err = assert_error(
            app.get(&format!("/api/extension_numbers/{bad}"), Some(&t))
                .await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
        assert_eq!(err["detail"]["field"], "extension_number", "for {bad}");
    }
}

#[tokio::test]
async fn info_answers_without_a_token() {
    let app = spawn_app().await;
    tenant_session(&app, "Acme Corp", "acme.example.com").await;

    let own = json_of(app.get("/api/info", None).await).await;
    assert_eq!(own["name"], "switchboard");
    assert_eq!(own["domain"], Value::Null);
    assert_eq!(own["enable_ipv6"], false);
    assert_eq!(own["enable_ms365_integration"], false);
    assert_eq!(own["public_ipv4"], Value::Null);
    let same = json_of(app.get("/api/info?domain=", None).await).await;
    assert_eq!(same, own, "an empty domain is no domain");

    let acme = json_of(app.get("/api/info?domain=ACME.example.com", None).await).await;
    assert_eq!(acme["name"], "Acme Corp");
    assert_eq!(acme["domain"], "acme.example.com");
    assert_eq!(acme["web_domain"], Value::Null);
    for key in [
        "web_domain",
        "private_ipv4",
        "public_ipv4",
        "enable_ipv6",
        "private_ipv6",
        "public_ipv6",
        "primary_dns_server",
        "secondary_dns_server",
        "name",
        "domain",
        "website",
        "avatar_url",
        "enable_ms365_integration",
        "ms365_authorization_endpoint",
    ] {
        assert!(acme.get(key).is_some(), "{key} in {acme}");
    }

    assert_error(
        app.get("/api/info?domain=nobody.example.com", None).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    // A token does not change the answer.
    let admin = app.admin_token().await;
    let again = json_of(
        app.get("/api/info?domain=acme.example.com", Some(&admin))
            .await,
    )
    .await;
    assert_eq!(again, acme);
}
