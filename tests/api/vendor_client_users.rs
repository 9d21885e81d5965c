//! Client internal-number users (`/client/{client_id}/user/extension/`):
//! every route, the field mapping, the array filters, `read_only` access
//! enforced in every dialect, and the error paths.

use crate::helpers::{spawn_app, user_body, TestApp};
use crate::vendor_common::{create_extension, num, portsip, send, send_raw};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const DOMAIN: &str = "client.example.com";

fn assert_client_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

struct Ctx {
    admin: String,
    base: String,
}

async fn setup(app: &TestApp) -> Ctx {
    let t = app.tenant(DOMAIN).await;
    Ctx {
        admin: t.admin,
        base: format!("/client/{}/user/extension/", num(&t.id)),
    }
}

fn body(login: &str, extension_id: u64) -> Value {
    json!({
        "login": login,
        "name": format!("{login} Person"),
        "email": format!("{login}@example.com"),
        "password": "Cl1ent-Passw0rd",
        "extension_id": extension_id,
    })
}

async fn create(app: &TestApp, ctx: &Ctx, body: &Value) -> Value {
    let (s, b) = send(app, Method::POST, &ctx.base, Some(&ctx.admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b
}

#[tokio::test]
async fn create_read_update_delete_with_the_documented_fields() {
    let app = spawn_app().await;
    let ctx = setup(&app).await;
    let tok = Some(ctx.admin.as_str());
    let ext = num(&create_extension(&app, &ctx.admin, "201", "Carol's desk").await);
    let mut b = body("carol", ext);
    b["name"] = json!("Carol King");
    b["status"] = json!("active");
    b["access"] = json!("full");
    b["comment"] = json!("vip");
    b["timezone"] = json!("Europe/Paris");
    b["extra_params"] = json!("{\"crm\":1}");
    b["email_notify"] = json!(true);
    b["email_for_notify"] = json!("ops@example.com");
    let created = create(&app, &ctx, &b).await;
    let id = created["id"].as_u64().expect("integer id");
    assert_eq!(created["login"], "carol");
    assert_eq!(created["name"], "Carol King");
    assert_eq!(created["email"], "carol@example.com");
    assert_eq!(created["status"], "active");
    assert_eq!(created["access"], "full");
    assert_eq!(created["extension_id"], json!(ext));
    assert_eq!(created["comment"], "vip");
    assert_eq!(created["timezone"], "Europe/Paris");
    assert_eq!(created["extra_params"], "{\"crm\":1}");
    assert_eq!(created["email_notify"], true);
    assert_eq!(created["email_for_notify"], "ops@example.com");
    assert!(created.get("password").is_none());

    // The same user through PortSIP, without the vendor-only fields.
    let (s, p) = send(
        &app,
        Method::GET,
        &format!("/api/users/{}", portsip(id)),
        tok,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["name"], "carol");
    assert_eq!(p["display_name"], "Carol King");
    assert_eq!(p["extension_number"], "201");
    assert_eq!(p["role"], "StandardUser");
    assert!(
        p.get("access").is_none() && p.get("comment").is_none(),
        "{p}"
    );
    app.token_for("carol", "Cl1ent-Passw0rd", DOMAIN).await;

    let item = format!("{}{id}", ctx.base);
    let (s, got) = send(&app, Method::GET, &item, tok, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got, created);

    // Partial update: name, status, comment cleared, password, extension.
    let ext2 = num(&create_extension(&app, &ctx.admin, "202", "").await);
    let (s, up) = send(
        &app,
        Method::PUT,
        &item,
        tok,
        Some(
            &json!({"name": "Carol Queen", "status": "blocked", "comment": null,
                     "password": "N3w-Passw0rd!", "extension_id": ext2}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(up["name"], "Carol Queen");
    assert_eq!(up["status"], "blocked");
    assert_eq!(up["comment"], Value::Null);
    assert_eq!(up["extension_id"], json!(ext2));
    assert_eq!(up["timezone"], "Europe/Paris", "untouched fields stay");
    let (_, p) = send(
        &app,
        Method::GET,
        &format!("/api/users/{}", portsip(id)),
        tok,
        None,
    )
    .await;
    assert_eq!(p["enabled"], false);
    assert_eq!(p["extension_number"], "202");
    // Blocked: cannot sign in.
    let resp = app.sign_in("carol", "N3w-Passw0rd!", Some(DOMAIN)).await;
    assert!(resp.status().is_client_error(), "{}", resp.status());
    let (s, _) = send(
        &app,
        Method::PUT,
        &item,
        tok,
        Some(&json!({"status": "active"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    app.token_for("carol", "N3w-Passw0rd!", DOMAIN).await;

    // The collection also answers without the trailing slash.
    let (s, list) = send(&app, Method::GET, ctx.base.trim_end_matches('/'), tok, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(2), "boss and carol");

    let (s, b) = send(&app, Method::DELETE, &item, tok, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, b) = send(&app, Method::GET, &item, tok, None).await;
    assert_client_error(s, &b, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (s, _) = send(
        &app,
        Method::GET,
        &format!("/api/users/{}", portsip(id)),
        tok,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn list_filters_or_within_a_field_and_and_across_fields() {
    let app = spawn_app().await;
    let ctx = setup(&app).await;
    let tok = Some(ctx.admin.as_str());
    let mut ids = Vec::new();
    for (login, number, status, access) in [
        ("u1", "301", "active", "full"),
        ("u2", "302", "blocked", "read_only"),
        ("u3", "303", "active", "read_only"),
    ] {
        let ext = num(&create_extension(&app, &ctx.admin, number, "").await);
        let mut b = body(login, ext);
        b["status"] = json!(status);
        b["access"] = json!(access);
        ids.push(create(&app, &ctx, &b).await["id"].as_u64().expect("id"));
    }
    let logins = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|u| u["login"].as_str().expect("login").to_owned())
            .collect()
    };
    let base = ctx.base.clone();
    for (query, want) in [
        ("", vec!["boss", "u1", "u2", "u3"]),
        (
            "status=active&status=blocked",
            vec!["boss", "u1", "u2", "u3"],
        ),
        ("status[]=blocked", vec!["u2"]),
        (
            "status%5B%5D=blocked&status%5B%5D=active&access=read_only",
            vec!["u2", "u3"],
        ),
        ("status=active&access=read_only", vec!["u3"]),
        ("login=u1&login=u2", vec!["u1", "u2"]),
        ("login=u1&login=u2&status=active", vec!["u1"]),
        ("email=u3@example.com", vec!["u3"]),
        ("name=u2%20Person", vec!["u2"]),
        ("access=full", vec!["boss", "u1"]),
        ("comment=none", vec![]),
    ] {
        let (s, v) = send(&app, Method::GET, &format!("{base}?{query}"), tok, None).await;
        assert_eq!(s, StatusCode::OK, "{query}: {v}");
        assert_eq!(logins(&v), want, "{query}");
    }
    let (s, v) = send(
        &app,
        Method::GET,
        &format!("{base}?id={}&id[]={}", ids[0], ids[2]),
        tok,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(logins(&v), vec!["u1", "u3"]);
    let (_, u2) = send(&app, Method::GET, &format!("{base}{}", ids[1]), tok, None).await;
    let (s, v) = send(
        &app,
        Method::GET,
        &format!("{base}?extension_id={}", u2["extension_id"]),
        tok,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(logins(&v), vec!["u2"]);

    for (query, field) in [
        ("status=gone", "status"),
        ("access=admin", "access"),
        ("id=abc", "id"),
        ("extension_id=-1", "extension_id"),
        ("password=x", "password"),
    ] {
        let (s, b) = send(&app, Method::GET, &format!("{base}?{query}"), tok, None).await;
        assert_client_error(s, &b, StatusCode::BAD_REQUEST, "VALIDATE_FAILED");
        assert_eq!(b["error"]["field"], field, "{query}");
    }
}

#[tokio::test]
async fn errors_have_the_dialect_shape() {
    let app = spawn_app().await;
    let ctx = setup(&app).await;
    let tok = Some(ctx.admin.as_str());
    let ext = num(&create_extension(&app, &ctx.admin, "401", "").await);

    let (s, b) = send(&app, Method::GET, &ctx.base, None, None).await;
    assert_client_error(s, &b, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    app.create_user(&ctx.admin, &user_body("plain", "402"))
        .await;
    let plain = app.token_for("plain", "Passw0rd-123", DOMAIN).await;
    let (s, b) = send(&app, Method::GET, &ctx.base, Some(&plain), None).await;
    assert_client_error(s, &b, StatusCode::FORBIDDEN, "FORBIDDEN");

    // client_id must be the caller's tenant (id or domain).
    let (s, _) = send(
        &app,
        Method::GET,
        &format!("/client/{DOMAIN}/user/extension/"),
        tok,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let other = app.tenant("other.example.com").await;
    for client in [
        num(&other.id).to_string(),
        "other.example.com".into(),
        "nope".into(),
        "0".into(),
    ] {
        let (s, b) = send(
            &app,
            Method::GET,
            &format!("/client/{client}/user/extension/"),
            tok,
            None,
        )
        .await;
        assert_client_error(s, &b, StatusCode::NOT_FOUND, "NOT_FOUND");
    }

    // Bodies.
    let (s, b) = send_raw(&app, Method::POST, &ctx.base, tok, "[1,").await;
    assert_client_error(s, &b, StatusCode::BAD_REQUEST, "VALIDATE_FAILED");
    for (change, field) in [
        (json!({"login": null}), "login"),
        (json!({"login": "bad login"}), "login"),
        (json!({"name": null}), "name"),
        (json!({"email": "not-an-email"}), "email"),
        (json!({"password": "short"}), "password"),
        (json!({"extension_id": null}), "extension_id"),
        (json!({"extension_id": "x1"}), "extension_id"),
        (json!({"extension_id": 999}), "extension_id"),
        (json!({"status": "paused"}), "status"),
        (json!({"access": "admin"}), "access"),
        (json!({"timezone": "not a zone"}), "timezone"),
        (json!({"email_notify": "yes"}), "email_notify"),
        (json!({"role": "Admin"}), "role"),
    ] {
        let mut b = body("dave", ext);
        for (k, v) in change.as_object().expect("object") {
            b[k] = v.clone();
        }
        let (s, e) = send(&app, Method::POST, &ctx.base, tok, Some(&b)).await;
        assert_client_error(s, &e, StatusCode::BAD_REQUEST, "VALIDATE_FAILED");
        assert_eq!(e["error"]["field"], field, "{change}: {e}");
    }
    // The extension of someone else, and a taken login.
    let boss_ext = {
        let (_, list) = send(
            &app,
            Method::GET,
            &format!("{}?login=boss", ctx.base),
            tok,
            None,
        )
        .await;
        list[0]["extension_id"].as_u64().expect("boss's extension")
    };
    let (s, e) = send(
        &app,
        Method::POST,
        &ctx.base,
        tok,
        Some(&body("dave", boss_ext)),
    )
    .await;
    assert_client_error(s, &e, StatusCode::CONFLICT, "EXTENSION_NUMBER_IN_USE");
    let (s, e) = send(
        &app,
        Method::POST,
        &ctx.base,
        tok,
        Some(&body("plain", ext)),
    )
    .await;
    assert_client_error(s, &e, StatusCode::CONFLICT, "ALREADY_EXISTS");
    let dave = create(&app, &ctx, &body("dave", ext)).await["id"]
        .as_u64()
        .expect("id");

    // Updates.
    let item = format!("{}{dave}", ctx.base);
    let (s, e) = send(
        &app,
        Method::PUT,
        &item,
        tok,
        Some(&json!({"login": "davey"})),
    )
    .await;
    assert_client_error(s, &e, StatusCode::BAD_REQUEST, "VALIDATE_FAILED");
    assert_eq!(e["error"]["field"], "login");
    let (s, e) = send(&app, Method::PUT, &item, tok, Some(&json!({"status": 1}))).await;
    assert_client_error(s, &e, StatusCode::BAD_REQUEST, "VALIDATE_FAILED");
    let (s, e) = send(
        &app,
        Method::PUT,
        &item,
        tok,
        Some(&json!({"name": " padded"})),
    )
    .await;
    assert_client_error(s, &e, StatusCode::BAD_REQUEST, "VALIDATE_FAILED");
    assert_eq!(e["error"]["field"], "name");
    let (s, e) = send(
        &app,
        Method::PUT,
        &item,
        tok,
        Some(&json!({"extension_id": boss_ext})),
    )
    .await;
    assert_client_error(s, &e, StatusCode::CONFLICT, "EXTENSION_NUMBER_IN_USE");
    // The last Admin cannot be blocked.
    let (_, list) = send(
        &app,
        Method::GET,
        &format!("{}?login=boss", ctx.base),
        tok,
        None,
    )
    .await;
    let boss = list[0]["id"].as_u64().expect("boss id");
    let (s, e) = send(
        &app,
        Method::PUT,
        &format!("{}{boss}", ctx.base),
        tok,
        Some(&json!({"status": "blocked"})),
    )
    .await;
    assert_client_error(s, &e, StatusCode::CONFLICT, "LAST_ADMIN");

    // Unknown users.
    for id in ["abc", "0", "123456789"] {
        let path = format!("{}{id}", ctx.base);
        let (s, e) = send(&app, Method::GET, &path, tok, None).await;
        assert_client_error(s, &e, StatusCode::NOT_FOUND, "NOT_FOUND");
        let (s, e) = send(
            &app,
            Method::PUT,
            &path,
            tok,
            Some(&json!({"comment": "x"})),
        )
        .await;
        assert_client_error(s, &e, StatusCode::NOT_FOUND, "NOT_FOUND");
        let (s, e) = send(&app, Method::DELETE, &path, tok, None).await;
        assert_client_error(s, &e, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    let (s, e) = send(&app, Method::PATCH, &item, tok, None).await;
    assert_client_error(s, &e, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    let (s, e) = send(&app, Method::GET, "/client/%FF/user/extension/", tok, None).await;
    assert_client_error(s, &e, StatusCode::BAD_REQUEST, "VALIDATE_FAILED");
    let (s, e) = send(&app, Method::GET, "/client/1/other", tok, None).await;
    assert_client_error(s, &e, StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND");
}

#[tokio::test]
async fn read_only_users_read_but_every_write_is_refused_in_every_dialect() {
    let app = spawn_app().await;
    let ctx = setup(&app).await;
    let tok = Some(ctx.admin.as_str());
    let ext = num(&create_extension(&app, &ctx.admin, "501", "").await);
    let mut b = body("viewer", ext);
    b["access"] = json!("read_only");
    let id = create(&app, &ctx, &b).await["id"].as_u64().expect("id");
    let viewer = app.token_for("viewer", "Cl1ent-Passw0rd", DOMAIN).await;
    let vt = Some(viewer.as_str());

    // A standard read_only user: reads its own data, cannot change it.
    let (s, me) = send(&app, Method::GET, "/api/user", vt, None).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    let (s, e) = send(
        &app,
        Method::POST,
        "/api/user",
        vt,
        Some(&json!({"department": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    assert_eq!(e["errors"][0]["code"], "FORBIDDEN");

    // Even with Admin rights, read_only wins.
    let (s, _) = send(
        &app,
        Method::POST,
        &format!("/api/users/{}/role", portsip(id)),
        tok,
        Some(&json!({"role": "Admin"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = send(&app, Method::GET, "/api/users", vt, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = send(&app, Method::GET, &ctx.base, vt, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = send(&app, Method::GET, "/api/v1/user-extensions", vt, None).await;
    assert_eq!(s, StatusCode::OK);

    // eTelecom's reads travel as POST and stay allowed.
    let (s, _) = send(
        &app,
        Method::POST,
        "/Etelecom/GetListUser",
        vt,
        Some(&json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = send(
        &app,
        Method::POST,
        "/api/extensions",
        vt,
        Some(&json!({"number": "599"})),
    )
    .await;
    assert_eq!(
        (s, e["errors"][0]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("FORBIDDEN"))
    );
    let (s, e) = send(&app, Method::POST, &ctx.base, vt, Some(&body("x1", ext))).await;
    assert_client_error(s, &e, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (s, e) = send(
        &app,
        Method::PUT,
        &format!("{}{id}", ctx.base),
        vt,
        Some(&json!({"access": "full"})),
    )
    .await;
    assert_client_error(s, &e, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (s, e) = send(
        &app,
        Method::POST,
        "/api/v1/user-extensions",
        vt,
        Some(&json!({})),
    )
    .await;
    assert_eq!(
        (s, e["success"].clone()),
        (StatusCode::FORBIDDEN, json!(false))
    );
    let (s, e) = send(
        &app,
        Method::POST,
        "/Etelecom/CreateExtension",
        vt,
        Some(&json!({"extension_number": "598"})),
    )
    .await;
    assert_eq!(
        (s, e["code"].clone()),
        (StatusCode::FORBIDDEN, json!("permission_denied"))
    );
    let (s, e) = send(
        &app,
        Method::POST,
        "/Etelecom/AssignUserToExtension",
        vt,
        Some(&json!({})),
    )
    .await;
    assert_eq!(
        (s, e["code"].clone()),
        (StatusCode::FORBIDDEN, json!("permission_denied"))
    );
    let (s, e) = send(
        &app,
        Method::PATCH,
        &format!("/api/users/{}?action=number&number=1", portsip(id)),
        vt,
        None,
    )
    .await;
    assert_eq!(
        (s, e["statusCode"].clone()),
        (StatusCode::FORBIDDEN, json!(403))
    );
    let (s, _) = send(
        &app,
        Method::GET,
        "/api/extensions?filter=number eq '599'",
        tok,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // The Admin gives full access back: writes work again.
    let (s, up) = send(
        &app,
        Method::PUT,
        &format!("{}{id}", ctx.base),
        tok,
        Some(&json!({"access": "full"})),
    )
    .await;
    assert_eq!((s, up["access"].clone()), (StatusCode::OK, json!("full")));
    let (s, e) = send(
        &app,
        Method::POST,
        "/api/extensions",
        vt,
        Some(&json!({"number": "599"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    // Signing out is not a change a read_only user is kept from.
    let (s, _) = send(
        &app,
        Method::PUT,
        &format!("{}{id}", ctx.base),
        tok,
        Some(&json!({"access": "read_only"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = send(
        &app,
        Method::POST,
        "/api/auth/sign_out",
        vt,
        Some(&json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (s, _) = send(&app, Method::GET, "/api/user", vt, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn read_only_users_take_sync_tokens_and_diffs_but_deletes_are_refused() {
    let app = spawn_app().await;
    let ctx = setup(&app).await;
    let ext = num(&create_extension(&app, &ctx.admin, "511", "").await);
    let mut b = body("viewer", ext);
    b["access"] = json!("read_only");
    create(&app, &ctx, &b).await;
    let other = create(
        &app,
        &ctx,
        &body(
            "target",
            num(&create_extension(&app, &ctx.admin, "512", "").await),
        ),
    )
    .await;
    let other = other["id"].as_u64().expect("id");
    let mut admin_ro = body(
        "boss2",
        num(&create_extension(&app, &ctx.admin, "513", "").await),
    );
    admin_ro["access"] = json!("read_only");
    let boss2 = create(&app, &ctx, &admin_ro).await["id"]
        .as_u64()
        .expect("id");
    // boss2 holds Admin rights, read_only still wins for its deletes.
    let (s, _) = send(
        &app,
        Method::POST,
        &format!("/api/users/{}/role", portsip(boss2)),
        Some(&ctx.admin),
        Some(&json!({"role": "Admin"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let viewer = app.token_for("viewer", "Cl1ent-Passw0rd", DOMAIN).await;
    let boss2 = app.token_for("boss2", "Cl1ent-Passw0rd", DOMAIN).await;

    // Sync tokens and diffs are reads that travel as POST: allowed.
    for collection in ["contacts", "business_contacts", "extension_contacts"] {
        let (s, t) = send(
            &app,
            Method::POST,
            &format!("/api/user/{collection}/sync_tokens"),
            Some(&viewer),
            Some(&json!({})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{collection}: {t}");
        let token = t["token"].as_str().expect("a sync token").to_owned();
        let (s, d) = send(
            &app,
            Method::POST,
            &format!("/api/user/{collection}/sync_tokens/{token}/diff"),
            Some(&viewer),
            Some(&json!({})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{collection} diff: {d}");
    }
    // DELETE is a write: refused to read-only callers, even with Admin rights.
    for tok in [&viewer, &boss2] {
        let (s, e) = send(
            &app,
            Method::DELETE,
            &format!("{}{other}", ctx.base),
            Some(tok),
            None,
        )
        .await;
        assert_client_error(s, &e, StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    let (s, e) = send(
        &app,
        Method::DELETE,
        "/api/v1/user-extensions/5b030000-0000-8000-8000-000000000001",
        Some(&boss2),
        None,
    )
    .await;
    assert_eq!(
        (s, e["success"].clone()),
        (StatusCode::FORBIDDEN, json!(false)),
        "{e}"
    );
    // The target still exists.
    let (s, _) = send(
        &app,
        Method::GET,
        &format!("{}{other}", ctx.base),
        Some(&ctx.admin),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}
