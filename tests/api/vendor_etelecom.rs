//! eTelecom partner PBX calls (`POST /Etelecom/{Method}`): every method,
//! the `{updated}` answers and the Twirp errors.

use crate::helpers::{spawn_app, user_body, TestApp};
use crate::vendor_common::{create_extension, num, portsip, send, send_raw};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const DOMAIN: &str = "etel.example.com";

/// Calls an eTelecom method as `token`.
pub async fn call(app: &TestApp, token: &str, method: &str, body: Value) -> (StatusCode, Value) {
    send(
        app,
        Method::POST,
        &format!("/Etelecom/{method}"),
        Some(token),
        Some(&body),
    )
    .await
}

fn assert_twirp(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["msg"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

async fn updated(app: &TestApp, token: &str, method: &str, body: Value) -> i64 {
    let (s, b) = call(app, token, method, body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b.as_object().map(|o| o.len()), Some(1), "{b}");
    b["updated"].as_i64().expect("updated")
}

#[tokio::test]
async fn extensions_users_and_assignment() {
    let app = spawn_app().await;
    let t = app.tenant(DOMAIN).await;
    let a = t.admin.as_str();

    // CreateAccountUser, then GetListUser.
    let (s, u) = call(
        &app,
        a,
        "CreateAccountUser",
        json!({"username": "erin", "full_name": "Erin Doe", "email": "erin@example.com",
               "password": "Er1n-Passw0rd", "extension_number": "700", "phone": "+33123"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    let erin = u["id"].as_str().expect("string id").to_owned();
    assert!(erin.parse::<u64>().is_ok());
    assert_eq!(u["username"], "erin");
    assert_eq!(u["full_name"], "Erin Doe");
    assert_eq!(u["phone"], "+33123");
    assert_eq!(u["status"], "P");
    assert_eq!(u["extension_number"], "700");
    let (s, list) = call(&app, a, "GetListUser", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<_> = list["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(names, vec![json!("boss"), json!("erin")]);
    // PortSIP sees erin.
    let (s, p) = send(
        &app,
        Method::GET,
        &format!("/api/users/{}", portsip(erin.parse().expect("id"))),
        Some(a),
        None,
    )
    .await;
    assert_eq!(
        (s, p["display_name"].clone()),
        (StatusCode::OK, json!("Erin Doe"))
    );

    // CreateExtension (number as an integer), GetExtensionInfo.
    let (s, x) = call(
        &app,
        a,
        "CreateExtension",
        json!({"extension_number": 701, "extension_name": "Desk"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{x}");
    let x_id = x["id"].as_str().expect("id").to_owned();
    assert_eq!(x["extension_number"], "701");
    assert_eq!(x["extension_name"], "Desk");
    assert_eq!(x["user_id"], "");
    assert_eq!(x["state"], "P");
    assert_eq!(x["tenant_domain"], DOMAIN);
    assert_eq!(x["tenant_id"], num(&t.id).to_string());
    let (s, info) = call(&app, a, "GetExtensionInfo", json!({"extension_id": x_id})).await;
    assert_eq!((s, &info), (StatusCode::OK, &x));

    // AssignUserToExtension: 1, then 0 (already assigned), 0 for unknowns.
    let assign = json!({"extension_id": x_id, "user_id": erin});
    assert_eq!(
        updated(&app, a, "AssignUserToExtension", assign.clone()).await,
        1
    );
    assert_eq!(
        updated(&app, a, "AssignUserToExtension", assign.clone()).await,
        0
    );
    assert_eq!(
        updated(
            &app,
            a,
            "AssignUserToExtension",
            json!({"extension_id": "1", "user_id": erin})
        )
        .await,
        0
    );
    assert_eq!(
        updated(
            &app,
            a,
            "AssignUserToExtension",
            json!({"extension_id": x_id, "user_id": 12})
        )
        .await,
        0
    );
    assert_eq!(
        updated(
            &app,
            a,
            "AssignUserToExtension",
            json!({"extension_id": x_id})
        )
        .await,
        0
    );
    assert_eq!(
        updated(
            &app,
            a,
            "AssignUserToExtension",
            json!({"extension_id": "abc", "user_id": erin})
        )
        .await,
        0
    );
    let (s, b) = send_raw(
        &app,
        Method::POST,
        "/Etelecom/AssignUserToExtension",
        Some(a),
        "{oops",
    )
    .await;
    assert_eq!((s, b), (StatusCode::OK, json!({"updated": 0})));
    let (s, info) = call(&app, a, "GetExtensionInfo", json!({"extension_id": x_id})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(info["user_ids"], json!([erin]));
    let (s, mine) = call(&app, a, "GetExtensionList", json!({"user_id": erin})).await;
    assert_eq!(s, StatusCode::OK);
    let numbers: Vec<_> = mine["extensions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|x| x["extension_number"].clone())
        .collect();
    assert_eq!(numbers, vec![json!("700"), json!("701")]);
    let (s, all) = call(&app, a, "GetExtensionList", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["extensions"].as_array().map(Vec::len), Some(3));

    // ChangeHotlineForExtension on erin's primary extension.
    let primary = u["extension_id"].as_str().expect("primary").to_owned();
    assert_eq!(
        updated(
            &app,
            a,
            "ChangeHotlineForExtension",
            json!({"extension_id": primary, "hotline_id": "02873001234"})
        )
        .await,
        1
    );
    let (_, info) = call(
        &app,
        a,
        "GetExtensionInfo",
        json!({"extension_id": primary}),
    )
    .await;
    assert_eq!(info["hotline_id"], "02873001234");
    let (_, p) = send(
        &app,
        Method::GET,
        &format!("/api/users/{}", portsip(erin.parse().expect("id"))),
        Some(a),
        None,
    )
    .await;
    assert_eq!(p["outbound_caller_ids"][0]["caller_id"], "02873001234");
    assert_eq!(p["outbound_caller_ids"][0]["preferred"], true);
    // A second hotline replaces the first.
    assert_eq!(
        updated(
            &app,
            a,
            "ChangeHotlineForExtension",
            json!({"extension_id": primary, "hotline_id": "+842871234"})
        )
        .await,
        1
    );
    let (_, p) = send(
        &app,
        Method::GET,
        &format!("/api/users/{}", portsip(erin.parse().expect("id"))),
        Some(a),
        None,
    )
    .await;
    assert_eq!(
        p["outbound_caller_ids"].as_array().map(Vec::len),
        Some(1),
        "{p}"
    );
    // Not a number; an extension that is nobody's primary; unknown.
    assert_eq!(
        updated(
            &app,
            a,
            "ChangeHotlineForExtension",
            json!({"extension_id": primary, "hotline_id": "abc"})
        )
        .await,
        0
    );
    assert_eq!(
        updated(
            &app,
            a,
            "ChangeHotlineForExtension",
            json!({"extension_id": x_id, "hotline_id": "123"})
        )
        .await,
        0
    );
    assert_eq!(
        updated(
            &app,
            a,
            "ChangeHotlineForExtension",
            json!({"extension_id": "99", "hotline_id": "123"})
        )
        .await,
        0
    );

    // RemoveUserOfExtension: 1, then 0 (nobody left).
    assert_eq!(
        updated(
            &app,
            a,
            "RemoveUserOfExtension",
            json!({"extension_id": x_id})
        )
        .await,
        1
    );
    assert_eq!(
        updated(
            &app,
            a,
            "RemoveUserOfExtension",
            json!({"extension_id": x_id})
        )
        .await,
        0
    );
    assert_eq!(
        updated(
            &app,
            a,
            "RemoveUserOfExtension",
            json!({"extension_id": primary, "user_id": "5"})
        )
        .await,
        0
    );
    assert_eq!(
        updated(&app, a, "RemoveUserOfExtension", json!({})).await,
        0
    );
    let (_, info) = call(&app, a, "GetExtensionInfo", json!({"extension_id": x_id})).await;
    assert_eq!(info["user_ids"], json!([]));

    // CreateExtension with a user and a hotline: linked, primary, hotline set.
    app.create_user(a, &user_body("fred", "710")).await;
    let (_, fred_list) = call(&app, a, "GetListUser", json!({})).await;
    let fred = fred_list["users"][2]["id"].clone();
    assert_eq!(
        updated(
            &app,
            a,
            "RemoveUserOfExtension",
            json!({"extension_id": fred_list["users"][2]["extension_id"]})
        )
        .await,
        1
    );
    let (s, x2) = call(
        &app,
        a,
        "CreateExtension",
        json!({"extension_number": "711", "user_id": fred, "hotline_id": "555"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{x2}");
    assert_eq!(x2["user_id"], fred);
    assert_eq!(x2["hotline_id"], "555");

    // Fred now has a primary: a second extension with a hotline is refused
    // as a whole, leaving no half-made extension (its number stays free).
    let (s, e) = call(
        &app,
        a,
        "CreateExtension",
        json!({"extension_number": "712", "user_id": fred, "hotline_id": "556"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let r = app.get("/api/extension_numbers/712", Some(a)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "nothing was created");
}

#[tokio::test]
async fn call_history_validates_and_is_empty_until_cdrs_exist() {
    let app = spawn_app().await;
    let t = app.tenant(DOMAIN).await;
    let a = t.admin.as_str();
    let (s, h) = call(
        &app,
        a,
        "GetCallHistory",
        json!({"date_from": "2026-01-01T00:00:00Z", "date_to": "2026-02-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(
        (s, h),
        (StatusCode::OK, json!({"call_logs": [], "total": 0}))
    );
    for (body, field) in [
        (json!({"date_to": "2026-02-01T00:00:00Z"}), "date_from"),
        (
            json!({"date_from": "yesterday", "date_to": "2026-02-01T00:00:00Z"}),
            "date_from",
        ),
        (
            json!({"date_from": "2026-03-01T00:00:00Z", "date_to": "2026-02-01T00:00:00Z"}),
            "date_to",
        ),
        (
            json!({"date_from": "2026-01-01T00:00:00Z", "date_to": "2026-02-01T00:00:00Z", "extension_id": true}),
            "extension_id",
        ),
    ] {
        let (s, e) = call(&app, a, "GetCallHistory", body).await;
        assert_twirp(s, &e, StatusCode::BAD_REQUEST, "invalid_argument");
        assert_eq!(e["meta"]["argument"], field, "{e}");
    }
    let (s, e) = call(
        &app,
        a,
        "GetCallHistory",
        json!({"date_from": "2026-01-01T00:00:00Z", "date_to": "2026-02-01T00:00:00Z", "extension_id": "42"}),
    )
    .await;
    assert_twirp(s, &e, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn twirp_errors() {
    let app = spawn_app().await;
    let t = app.tenant(DOMAIN).await;
    let a = t.admin.as_str();
    let ext = create_extension(&app, a, "720", "").await;

    // Authentication and authorization, for both kinds of method.
    for method in ["AssignUserToExtension", "GetListUser"] {
        let (s, e) = send(
            &app,
            Method::POST,
            &format!("/Etelecom/{method}"),
            None,
            Some(&json!({})),
        )
        .await;
        assert_twirp(s, &e, StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    app.create_user(a, &user_body("plain", "721")).await;
    let plain = app.token_for("plain", "Passw0rd-123", DOMAIN).await;
    let (s, e) = call(&app, &plain, "GetListUser", json!({})).await;
    assert_twirp(s, &e, StatusCode::FORBIDDEN, "permission_denied");
    let sys = app.admin_token().await;
    let (s, e) = call(&app, &sys, "GetListUser", json!({})).await;
    assert_twirp(s, &e, StatusCode::FORBIDDEN, "permission_denied");

    // Routing.
    let (s, e) = call(&app, a, "DropTenant", json!({})).await;
    assert_twirp(s, &e, StatusCode::NOT_FOUND, "bad_route");
    let (s, e) = send(&app, Method::GET, "/Etelecom/GetListUser", Some(a), None).await;
    assert_twirp(s, &e, StatusCode::NOT_FOUND, "bad_route");
    // Each method is its own route: an undecodable one is no method at all.
    let (s, e) = send(&app, Method::POST, "/Etelecom/%FF", Some(a), None).await;
    assert_twirp(s, &e, StatusCode::NOT_FOUND, "bad_route");
    let (s, e) = send(&app, Method::POST, "/Etelecom/a/b", Some(a), None).await;
    assert_twirp(s, &e, StatusCode::NOT_FOUND, "bad_route");

    // Bodies.
    let (s, e) = send_raw(&app, Method::POST, "/Etelecom/GetListUser", Some(a), "{x").await;
    assert_twirp(s, &e, StatusCode::BAD_REQUEST, "malformed");
    let (s, e) = call(&app, a, "GetListUser", json!({"page": 1})).await;
    assert_twirp(s, &e, StatusCode::BAD_REQUEST, "invalid_argument");
    for (method, body, arg) in [
        ("CreateExtension", json!({}), "extension_number"),
        (
            "CreateExtension",
            json!({"extension_number": "12"}),
            "extension_number",
        ),
        (
            "CreateExtension",
            json!({"extension_number": "730", "hotline_id": "1"}),
            "hotline_id",
        ),
        (
            "CreateExtension",
            json!({"extension_number": "730", "user_id": []}),
            "user_id",
        ),
        ("GetExtensionInfo", json!({}), "extension_id"),
        ("GetExtensionList", json!({"user_id": "x"}), "user_id"),
        (
            "CreateAccountUser",
            json!({"username": "g"}),
            "extension_number",
        ),
        (
            "CreateAccountUser",
            json!({"username": "g", "extension_number": "731", "password": "Passw0rd-123", "full_name": "G", "email": "nope"}),
            "email",
        ),
        (
            "CreateAccountUser",
            json!({"username": "g", "extension_number": "731", "password": "Passw0rd-123", "full_name": " G", "email": "g@example.com"}),
            "full_name",
        ),
        (
            "CreateAccountUser",
            json!({"username": "g", "extension_number": "731", "password": "Passw0rd-123", "full_name": "G", "email": "g@example.com", "x": 1}),
            "x",
        ),
    ] {
        let (s, e) = call(&app, a, method, body.clone()).await;
        assert_twirp(s, &e, StatusCode::BAD_REQUEST, "invalid_argument");
        assert_eq!(e["meta"]["argument"], arg, "{method} {body}: {e}");
    }
    // Unknown and conflicting.
    let (s, e) = call(&app, a, "GetExtensionInfo", json!({"extension_id": "77"})).await;
    assert_twirp(s, &e, StatusCode::NOT_FOUND, "not_found");
    let (s, e) = call(&app, a, "GetExtensionList", json!({"user_id": 77})).await;
    assert_twirp(s, &e, StatusCode::NOT_FOUND, "not_found");
    let (s, e) = call(
        &app,
        a,
        "CreateExtension",
        json!({"extension_number": "730", "user_id": "77"}),
    )
    .await;
    assert_twirp(s, &e, StatusCode::NOT_FOUND, "not_found");
    let (s, e) = call(
        &app,
        a,
        "CreateExtension",
        json!({"extension_number": "720"}),
    )
    .await;
    assert_twirp(s, &e, StatusCode::CONFLICT, "already_exists");
    assert_eq!(e["meta"]["code"], "EXTENSION_NUMBER_IN_USE");
    let (s, e) = call(
        &app,
        a,
        "CreateAccountUser",
        json!({"username": "plain", "extension_number": "732", "password": "Passw0rd-123", "full_name": "P", "email": "p@example.com"}),
    )
    .await;
    assert_twirp(s, &e, StatusCode::CONFLICT, "already_exists");
    assert!(!ext.is_empty());
}

#[tokio::test]
async fn call_history_answers_from_the_reported_cdrs() {
    let app = spawn_app().await;
    let t = app.tenant(DOMAIN).await;
    let a = t.admin.as_str();
    let ext = create_extension(&app, a, "720", "").await;
    // The PBX (here the Admin, who holds every tenant capability) reports.
    for (call_id, caller, at) in [
        ("h-1", "720", "2026-01-05T10:00:00Z"),
        ("h-2", "721", "2026-01-06T10:00:00Z"),
        ("h-3", "720", "2026-03-01T10:00:00Z"),
    ] {
        let resp = app
            .post(
                "/api/cdrs",
                Some(a),
                &json!({"call_id": call_id, "caller": caller, "callee": "+15550100",
                        "started_at": at, "duration": 7, "direction": "OUTBOUND_CALL"}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let window = json!({"date_from": "2026-01-01T00:00:00Z", "date_to": "2026-02-01T00:00:00Z"});
    let (s, h) = call(&app, a, "GetCallHistory", window.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["total"], 2);
    let ids: Vec<&str> = h["call_logs"]
        .as_array()
        .expect("call_logs")
        .iter()
        .filter_map(|c| c["call_id"].as_str())
        .collect();
    assert_eq!(ids, ["h-2", "h-1"], "newest first");
    assert_eq!(h["call_logs"][0]["duration"], 7);
    let mut by_ext = window;
    by_ext["extension_id"] = json!(num(&ext).to_string());
    let (s, h) = call(&app, a, "GetCallHistory", by_ext).await;
    assert_eq!((s, h["total"].clone()), (StatusCode::OK, json!(1)));
    assert_eq!(h["call_logs"][0]["call_id"], "h-1");
}
