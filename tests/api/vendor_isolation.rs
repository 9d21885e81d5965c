//! Tenant isolation in the vendor dialects (v1 links, eTelecom, voipappz):
//! an Admin of tenant B holding tenant A's ids can neither see nor change
//! anything of A's, and each refusal looks like a missing resource.

use crate::helpers::{spawn_app, user_body, TenantCtx, TestApp};
use crate::vendor_common::{create_extension, ext_uuid, num, send, user_uuid};
use crate::vendor_etelecom::call as etelecom;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A tenant with user `ann` (101) and an extension `Desk` (150).
struct Side {
    t: TenantCtx,
    user: String,
    ext: String,
}

async fn side(app: &TestApp, domain: &str) -> Side {
    let t = app.tenant(domain).await;
    let user = app.create_user(&t.admin, &user_body("ann", "101")).await;
    let ext = create_extension(app, &t.admin, "150", "Desk").await;
    Side { t, user, ext }
}

/// A's links as A sees them in the v1 API (uuids).
async fn links_of(app: &TestApp, a: &Side) -> Vec<String> {
    let (s, b) = send(
        app,
        Method::GET,
        "/api/v1/user-extensions",
        Some(&a.t.admin),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut uuids: Vec<String> = b["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|l| l["uuid"].as_str().expect("uuid").to_owned())
        .collect();
    uuids.sort();
    uuids
}

#[tokio::test]
async fn v1_links_of_another_tenant_are_invisible_and_untouchable() {
    let app = spawn_app().await;
    let a = side(&app, "a.example").await;
    let b = side(&app, "b.example").await;
    let before = links_of(&app, &a).await;
    let bt = Some(b.t.admin.as_str());
    let base = "/api/v1/user-extensions";

    let (s, list) = send(&app, Method::GET, base, bt, None).await;
    assert_eq!(s, StatusCode::OK);
    let theirs: Vec<&str> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|l| l["uuid"].as_str())
        .collect();
    assert!(
        before.iter().all(|u| !theirs.contains(&u.as_str())),
        "A's links leak into B's list"
    );

    for path in [
        format!("{base}/by-user/{}", user_uuid(&a.user)),
        format!("{base}/by-extension/{}", ext_uuid(&a.ext)),
    ] {
        let (s, e) = send(&app, Method::GET, &path, bt, None).await;
        assert_eq!(
            (s, e["metadata"]["code"].clone()),
            (StatusCode::NOT_FOUND, json!("NOT_FOUND")),
            "{path}: {e}"
        );
    }
    let body = json!({"user_uuid": user_uuid(&a.user), "extension_uuid": ext_uuid(&a.ext)});
    let (s, e) = send(&app, Method::POST, base, bt, Some(&body)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    // B's own user with A's extension: still not found.
    let body = json!({"user_uuid": user_uuid(&b.user), "extension_uuid": ext_uuid(&a.ext)});
    let (s, e) = send(&app, Method::POST, base, bt, Some(&body)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    for link in &before {
        let (s, e) = send(&app, Method::DELETE, &format!("{base}/{link}"), bt, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    }
    assert_eq!(links_of(&app, &a).await, before, "A's links are unchanged");
}

#[tokio::test]
async fn etelecom_calls_with_another_tenants_ids_find_nothing_and_change_nothing() {
    let app = spawn_app().await;
    let a = side(&app, "a.example").await;
    let b = side(&app, "b.example").await;
    let before = links_of(&app, &a).await;
    let bt = b.t.admin.as_str();
    let (ae, au) = (num(&a.ext).to_string(), num(&a.user).to_string());

    let (s, e) = etelecom(&app, bt, "GetExtensionInfo", json!({"extension_id": ae})).await;
    assert_eq!(
        (s, e["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found")),
        "{e}"
    );
    let (s, l) = etelecom(&app, bt, "GetExtensionList", json!({"user_id": au})).await;
    assert_eq!(
        (s, l["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found")),
        "{l}"
    );
    let (s, l) = etelecom(&app, bt, "GetExtensionList", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !l.to_string().contains(&format!("\"{ae}\"")),
        "A's extension in B's list: {l}"
    );
    let (s, l) = etelecom(&app, bt, "GetListUser", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !l.to_string().contains(&format!("\"{au}\"")),
        "A's user in B's list: {l}"
    );

    for (method, body) in [
        (
            "AssignUserToExtension",
            json!({"extension_id": ae, "user_id": au}),
        ),
        (
            "AssignUserToExtension",
            json!({"extension_id": ae, "user_id": num(&b.user).to_string()}),
        ),
        ("RemoveUserOfExtension", json!({"extension_id": ae})),
        (
            "RemoveUserOfExtension",
            json!({"extension_id": ae, "user_id": au}),
        ),
        (
            "ChangeHotlineForExtension",
            json!({"extension_id": ae, "hotline_id": "+33100000000"}),
        ),
    ] {
        let (s, r) = etelecom(&app, bt, method, body.clone()).await;
        assert_eq!(
            (s, r["updated"].clone()),
            (StatusCode::OK, json!(0)),
            "{method} {body}: {r}"
        );
    }
    let (s, e) = etelecom(
        &app,
        bt,
        "CreateExtension",
        json!({"extension_number": "160", "user_id": au}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "linking A's user from B: {e}");
    assert_eq!(links_of(&app, &a).await, before, "A's links are unchanged");
    let (s, x) = etelecom(
        &app,
        &a.t.admin,
        "GetExtensionInfo",
        json!({"extension_id": ae}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(x["hotline_id"], json!(""), "no hotline set through B: {x}");
}

#[tokio::test]
async fn voipappz_actions_on_another_tenants_users_are_not_found() {
    let app = spawn_app().await;
    let a = side(&app, "a.example").await;
    let b = side(&app, "b.example").await;
    let bt = Some(b.t.admin.as_str());
    for query in [
        "action=number&number=555".to_owned(),
        format!("action=extension&extension_uuid={}", ext_uuid(&b.ext)),
        "action=login".to_owned(),
        "action=status&status=away".to_owned(),
        "action=tier&tier=5".to_owned(),
    ] {
        for id in [user_uuid(&a.user), a.user.clone()] {
            let (s, e) = send(
                &app,
                Method::PATCH,
                &format!("/api/users/{id}?{query}"),
                bt,
                None,
            )
            .await;
            assert_eq!(
                (s, e["code"].clone()),
                (StatusCode::NOT_FOUND, json!("NOT_FOUND")),
                "{query} on {id}: {e}"
            );
        }
    }
    // B's own user pointed at A's extension.
    let (s, e) = send(
        &app,
        Method::PATCH,
        &format!(
            "/api/users/{}?action=extension&extension_uuid={}",
            user_uuid(&b.user),
            ext_uuid(&a.ext)
        ),
        bt,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, agents) = send(&app, Method::GET, "/api/users/agents", bt, None).await;
    assert_eq!(s, StatusCode::OK, "{agents}");
    assert!(
        !agents.to_string().contains(&user_uuid(&a.user)),
        "{agents}"
    );
    // A's ann is untouched.
    let (s, ann) = send(
        &app,
        Method::GET,
        &format!("/api/users/{}", a.user),
        Some(&a.t.admin),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ann["mobile_phone"], Value::Null, "{ann}");
    assert_eq!(ann["extension_number"], "101");
}
