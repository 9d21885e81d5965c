//! Users: the admin API (`/users...`) and the current user (`/user...`).

use crate::helpers::{assert_error, spawn_app, user_body};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn an_admin_creates_reads_updates_and_deletes_users() {
    let app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    let id = app.create_user(&t.admin, &user_body("alice", "101")).await;

    let u: Value = app
        .get(&format!("/api/users/{id}"), Some(&t.admin))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(u["id"], id);
    assert_eq!(u["name"], "alice");
    assert_eq!(u["role"], "StandardUser");
    assert_eq!(u["extension_number"], "101");
    assert_eq!(u["email"], "alice@example.com");
    assert_eq!(u["enabled"], true);
    assert_eq!(u["sms"], "DISABLE", "defaults are rendered");
    assert_eq!(u["delivery_outbound_cid"], true);
    assert_eq!(
        u["voicemail_pin"],
        Value::Null,
        "secrets are never returned"
    );
    assert!(u.get("password").is_none() && u.get("extension_password").is_none());
    assert!(u["created_at"].as_str().expect("created_at").ends_with('Z'));

    let patch = json!({
        "display_name": "Alice A.",
        "sms": "ALLOW",
        "office_hours": {"mode": "CUSTOM", "monday": {"enabled": true, "ranges": [{"from": "09:00", "to": "17:00"}]}},
        "busy_no_answer_forward_rule": {"action": "FORWARD_TO_VOICEMAIL", "timeout": 30},
    });
    let resp = app
        .post(&format!("/api/users/{id}"), Some(&t.admin), &patch)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let u: Value = app
        .get(&format!("/api/users/{id}"), Some(&t.admin))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(u["display_name"], "Alice A.");
    assert_eq!(u["sms"], "ALLOW");
    assert_eq!(u["email"], "alice@example.com", "untouched fields stay");
    assert_eq!(u["office_hours"]["monday"]["ranges"][0]["to"], "17:00");
    assert_eq!(u["busy_no_answer_forward_rule"]["timeout"], 30);

    let resp = app
        .post(
            &format!("/api/users/{id}/destroy"),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(&format!("/api/users/{id}"), Some(&t.admin)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    // The number is free again.
    app.create_user(&t.admin, &user_body("alice2", "101")).await;
}

#[tokio::test]
async fn every_validation_rule_answers_400_naming_the_field() {
    let app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"name": "bad name"}), "name"),
        (json!({"name": ".alice"}), "name"),
        (json!({"name": "alice."}), "name"),
        (json!({"name": "ADMIN"}), "name"),
        (json!({"name": "root"}), "name"),
        (json!({"name": "x".repeat(65)}), "name"),
        (json!({"extension_number": "12"}), "extension_number"),
        (json!({"extension_number": "10a1"}), "extension_number"),
        (json!({"sms": "SOMETIMES"}), "sms"),
        (
            json!({"email": format!("{}@x.io", "a".repeat(130))}),
            "email",
        ),
        (json!({"voicemail_pin": "12ab56"}), "voicemail_pin"),
        (json!({"password": "short"}), "password"),
        (json!({"role": "Wizard"}), "role"),
        (json!({"role": "SystemAdmin"}), "role"),
        (json!({"enabled": "yes"}), "enabled"),
        (
            json!({"office_hours": {"mode": "CUSTOM", "friday": {"enabled": true, "ranges": [{"from": "17:00", "to": "09:00"}]}}}),
            "office_hours.friday.ranges[0]",
        ),
        (
            json!({"office_hours": {"mode": "CUSTOM", "friday": {"enabled": true, "ranges": [{"from": "9:00", "to": "17:00"}]}}}),
            "office_hours.friday.ranges[0].from",
        ),
        (
            json!({"available_no_answer_forward_rule": {"action": "RING_ANYWAY"}}),
            "available_no_answer_forward_rule.action",
        ),
        (json!({"no_such_field": 1}), "no_such_field"),
    ];
    for (patch, field) in cases {
        let mut body = user_body("carol", "150");
        for (k, v) in patch.as_object().expect("object") {
            body[k] = v.clone();
        }
        let err = assert_error(
            app.post("/api/users", Some(&t.admin), &body).await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
        let got = err["detail"]["field"].as_str().expect("field");
        assert!(
            got.starts_with(field),
            "for {patch}: expected field {field}, got {got}"
        );
    }
    // Missing required fields.
    for field in [
        "name",
        "display_name",
        "password",
        "email",
        "role",
        "extension_number",
        "extension_password",
        "voicemail_pin",
    ] {
        let mut body = user_body("carol", "150");
        body.as_object_mut().expect("object").remove(field);
        let err = assert_error(
            app.post("/api/users", Some(&t.admin), &body).await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
        assert_eq!(err["detail"]["field"], field);
    }
}

#[tokio::test]
async fn names_and_extension_numbers_are_unique_per_tenant() {
    let app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    app.create_user(&t.admin, &user_body("alice", "101")).await;
    assert_error(
        app.post("/api/users", Some(&t.admin), &user_body("ALICE", "102"))
            .await,
        StatusCode::CONFLICT,
        "ALREADY_EXISTS",
    )
    .await;
    assert_error(
        app.post("/api/users", Some(&t.admin), &user_body("bob", "101"))
            .await,
        StatusCode::CONFLICT,
        "EXTENSION_NUMBER_IN_USE",
    )
    .await;
    // Another tenant has its own name and number space.
    let other = app.tenant("other.example").await;
    app.create_user(&other.admin, &user_body("alice", "101"))
        .await;
}

#[tokio::test]
async fn tenants_are_isolated() {
    let app = spawn_app().await;
    let a = app.tenant("a.example").await;
    let b = app.tenant("b.example").await;
    let alice = app.create_user(&a.admin, &user_body("alice", "101")).await;
    let list: Value = app
        .get("/api/users", Some(&b.admin))
        .await
        .json()
        .await
        .expect("json");
    assert!(list["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|u| u["name"] != "alice"));
    assert_eq!(list["count"], 1, "only b's own admin");
    for path in [format!("/api/users/{alice}")] {
        assert_error(
            app.get(&path, Some(&b.admin)).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
    }
    assert_error(
        app.post(
            &format!("/api/users/{alice}"),
            Some(&b.admin),
            &json!({"display_name": "x"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/users/{alice}/destroy"),
            Some(&b.admin),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn lists_filter_search_order_and_page() {
    let app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    for (i, name) in ["dave", "carol", "bob", "alice", "erin"].iter().enumerate() {
        let mut body = user_body(name, &format!("20{i}"));
        body["department"] = json!(if i % 2 == 0 { "Sales" } else { "Support" });
        app.create_user(&t.admin, &body).await;
    }
    let get = |q: &'static str| {
        let app = &app;
        let token = t.admin.clone();
        async move {
            app.get(&format!("/api/users?{q}"), Some(&token))
                .await
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let r = get("filter=department eq 'Sales'&orderby=name asc").await;
    assert_eq!(r["count"], 3);
    let names: Vec<_> = r["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| u["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("bob"), json!("dave"), json!("erin")]);
    let r = get("filter=startswith(name,'a') or extension_number eq '203'&orderby=name desc").await;
    assert_eq!(r["count"], 1);
    let r = get("search=CAROL").await;
    assert_eq!(r["count"], 1);
    assert_eq!(r["items"][0]["name"], "carol");
    let r = get("orderby=name asc&skip=1&top=2").await;
    assert_eq!(r["count"], 6, "count is before paging (5 users + boss)");
    let names: Vec<_> = r["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| u["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("bob"), json!("boss")]);
    let r = get("filter=not (department eq 'Sales') and enabled eq true&orderby=extension_number desc&top=1").await;
    assert_eq!(r["items"][0]["name"], "alice");
    for (q, field) in [
        ("top=101", "top"),
        ("skip=-1", "skip"),
        ("filter=nope eq 1", "filter"),
        ("orderby=name sideways", "orderby"),
        ("filter=name eq", "filter"),
    ] {
        let err = assert_error(
            app.get(&format!("/api/users?{q}"), Some(&t.admin)).await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
        assert_eq!(err["detail"]["field"], field, "{q}");
    }
}

#[tokio::test]
async fn roles_are_enforced() {
    let app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    app.create_user(&t.admin, &user_body("alice", "101")).await;
    let alice = app.token_for("alice", "Passw0rd-123", &t.domain).await;
    assert_error(
        app.get("/api/users", Some(&alice)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.post("/api/users", Some(&alice), &user_body("x", "333"))
            .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.get("/api/tenants", Some(&alice)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.get("/api/users", None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    // Their own data is theirs.
    let me: Value = app
        .get("/api/user", Some(&alice))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["name"], "alice");
    assert_eq!(me["extension_number"], "101");
}

#[tokio::test]
async fn changing_the_primary_extension_moves_the_link() {
    let app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    let id = app.create_user(&t.admin, &user_body("alice", "101")).await;
    let resp = app
        .post(
            &format!("/api/users/{id}"),
            Some(&t.admin),
            &json!({"extension_number": "111"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let u: Value = app
        .get(&format!("/api/users/{id}"), Some(&t.admin))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(u["extension_number"], "111");
    // 101 is now an unlinked extension, so a new user can take it.
    app.create_user(&t.admin, &user_body("bob", "101")).await;
    assert_error(
        app.post(
            &format!("/api/users/{id}"),
            Some(&t.admin),
            &json!({"extension_number": "101"}),
        )
        .await,
        StatusCode::CONFLICT,
        "EXTENSION_NUMBER_IN_USE",
    )
    .await;
}

#[tokio::test]
async fn passwords_roles_and_the_last_admin() {
    let app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    let id = app.create_user(&t.admin, &user_body("alice", "101")).await;
    let alice = app.token_for("alice", "Passw0rd-123", &t.domain).await;

    // An admin reset revokes alice's sessions; the new password works.
    let resp = app
        .post(
            &format!("/api/users/{id}/password"),
            Some(&t.admin),
            &json!({"password": "N3w-password!"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_error(
        app.get("/api/user", Some(&alice)).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    let alice = app.token_for("alice", "N3w-password!", &t.domain).await;

    // Disabled users cannot sign in and lose their sessions.
    crate::helpers::ok(
        app.post(
            &format!("/api/users/{id}"),
            Some(&t.admin),
            &json!({"enabled": false}),
        )
        .await,
    )
    .await;
    assert_error(
        app.get("/api/user", Some(&alice)).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    assert_error(
        app.sign_in("alice", "N3w-password!", Some(&t.domain)).await,
        StatusCode::FORBIDDEN,
        "USER_DISABLED",
    )
    .await;
    crate::helpers::ok(
        app.post(
            &format!("/api/users/{id}"),
            Some(&t.admin),
            &json!({"enabled": true}),
        )
        .await,
    )
    .await;

    // Role changes.
    let resp = app
        .post(
            &format!("/api/users/{id}/role"),
            Some(&t.admin),
            &json!({"role": "Admin"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let alice = app.token_for("alice", "N3w-password!", &t.domain).await;
    let me: Value = app
        .get("/api/user", Some(&alice))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["role"], "Admin");
    assert_error(
        app.post(
            &format!("/api/users/{id}/role"),
            Some(&alice),
            &json!({"role": "StandardUser"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    // Two admins: one may go. Then the last one may not.
    let list: Value = app
        .get("/api/users?filter=name eq 'boss'", Some(&alice))
        .await
        .json()
        .await
        .expect("json");
    let boss = list["items"][0]["id"].as_str().expect("boss").to_owned();
    let resp = app
        .post(
            &format!("/api/users/{boss}/destroy"),
            Some(&alice),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let sys = app.admin_token().await;
    crate::helpers::ok(
        app.post(
            &format!("/api/tenants/switch?id={}", t.id),
            Some(&sys),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_error(
        app.post(&format!("/api/users/{id}/destroy"), Some(&sys), &json!({}))
            .await,
        StatusCode::CONFLICT,
        "LAST_ADMIN",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/users/{id}"),
            Some(&sys),
            &json!({"enabled": false}),
        )
        .await,
        StatusCode::CONFLICT,
        "LAST_ADMIN",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/users/{id}/role"),
            Some(&sys),
            &json!({"role": "StandardUser"}),
        )
        .await,
        StatusCode::CONFLICT,
        "LAST_ADMIN",
    )
    .await;
}

#[tokio::test]
async fn the_current_user_manages_their_own_settings_and_passwords() {
    let app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    app.create_user(&t.admin, &user_body("alice", "101")).await;
    let alice = app.token_for("alice", "Passw0rd-123", &t.domain).await;
    let resp = app
        .post(
            "/api/user",
            Some(&alice),
            &json!({"enable_dnd": true, "display_name": "Al"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let me: Value = app
        .get("/api/user", Some(&alice))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["enable_dnd"], true);
    assert_eq!(me["display_name"], "Al");
    for (body, field) in [
        (json!({"enabled": false}), "enabled"),
        (json!({"role": "Admin"}), "role"),
        (json!({"extension_number": "555"}), "extension_number"),
    ] {
        let err = assert_error(
            app.post("/api/user", Some(&alice), &body).await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
        assert_eq!(err["detail"]["field"], field);
    }
    assert_error(
        app.post("/api/user", Some(&alice), &json!({"sms": "ALLOW"}))
            .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;

    // Profile reset returns call handling to defaults, keeps identity.
    let resp = app
        .post("/api/user/profile", Some(&alice), &json!({}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let me: Value = app
        .get("/api/user", Some(&alice))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["enable_dnd"], false);
    assert_eq!(me["display_name"], "Al");

    assert_error(
        app.post(
            "/api/user/password",
            Some(&alice),
            &json!({"old_password": "wrong-one", "new_password": "Another-pass1"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "WRONG_PASSWORD",
    )
    .await;
    let resp = app
        .post(
            "/api/user/password",
            Some(&alice),
            &json!({"old_password": "Passw0rd-123", "new_password": "Another-pass1"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    app.token_for("alice", "Another-pass1", &t.domain).await;
    let alice = app.token_for("alice", "Another-pass1", &t.domain).await;
    let resp = app
        .post(
            "/api/user/extension_password",
            Some(&alice),
            &json!({"old_password": "ext-pass-1", "new_password": "ext-pass-2"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // The change took: the old extension password no longer matches, the
    // new one does.
    assert_error(
        app.post(
            "/api/user/extension_password",
            Some(&alice),
            &json!({"old_password": "ext-pass-1", "new_password": "ext-pass-3"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "WRONG_PASSWORD",
    )
    .await;
    crate::helpers::ok(
        app.post(
            "/api/user/extension_password",
            Some(&alice),
            &json!({"old_password": "ext-pass-2", "new_password": "ext-pass-3"}),
        )
        .await,
    )
    .await;
}

#[tokio::test]
async fn profile_reset_for_all_users_and_data_survive_a_restart() {
    let mut app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    let a = app.create_user(&t.admin, &user_body("alice", "101")).await;
    let b = app.create_user(&t.admin, &user_body("bob", "102")).await;
    for id in [&a, &b] {
        crate::helpers::ok(
            app.post(
                &format!("/api/users/{id}"),
                Some(&t.admin),
                &json!({"enable_acb": true}),
            )
            .await,
        )
        .await;
    }
    let resp = app
        .post(
            &format!("/api/users/profile?id={a}"),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let ua: Value = app
        .get(&format!("/api/users/{a}"), Some(&t.admin))
        .await
        .json()
        .await
        .expect("json");
    let ub: Value = app
        .get(&format!("/api/users/{b}"), Some(&t.admin))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (ua["enable_acb"].clone(), ub["enable_acb"].clone()),
        (json!(false), json!(true))
    );
    crate::helpers::ok(
        app.post("/api/users/profile", Some(&t.admin), &json!({}))
            .await,
    )
    .await;
    let ub: Value = app
        .get(&format!("/api/users/{b}"), Some(&t.admin))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ub["enable_acb"], false);

    let before: Value = app
        .get("/api/users?orderby=name asc", Some(&t.admin))
        .await
        .json()
        .await
        .expect("json");
    app.restart().await;
    let after: Value = app
        .get("/api/users?orderby=name asc", Some(&t.admin))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        before, after,
        "the same directory after a restart, and the token still works"
    );
}

#[tokio::test]
async fn custom_roles_get_exactly_what_their_permissions_grant() {
    let app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    // The standard user's own flags too: nobody hands out a role (here
    // StandardUser, for ivy) with permissions they do not hold.
    let role = json!({"name": "Helpdesk", "permissions": {
        "user_management": {"users": true},
        "general": {"voicemail_full_access": true, "meeting": true},
        "policies": {"internal_calls": true, "domestic_calls": true}}});
    let resp = app.post("/api/roles", Some(&t.admin), &role).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let mut body = user_body("henry", "120");
    body["role"] = json!("Helpdesk");
    app.create_user(&t.admin, &body).await;
    let henry = app.token_for("henry", "Passw0rd-123", &t.domain).await;
    // Granted: users.
    assert_eq!(
        app.get("/api/users", Some(&henry)).await.status(),
        StatusCode::OK
    );
    app.create_user(&henry, &user_body("ivy", "121")).await;
    // Not granted: roles, tenant settings.
    assert_error(
        app.get("/api/roles", Some(&henry)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.get("/api/tenant", Some(&henry)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    // Revoking the flag takes effect on the next request.
    let resp = app
        .post(
            "/api/roles/Helpdesk",
            Some(&t.admin),
            &json!({"permissions": {"user_management": {"users": false}}}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_error(
        app.get("/api/users", Some(&henry)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
}

#[tokio::test]
async fn an_admin_resets_extension_passwords_with_validation() {
    let app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    let id = app.create_user(&t.admin, &user_body("alice", "101")).await;
    let path = format!("/api/users/{id}/extension_password");
    let err = assert_error(
        app.post(&path, Some(&t.admin), &json!({"password": "123"}))
            .await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "password");
    let err = assert_error(
        app.post(&path, Some(&t.admin), &json!({})).await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "password");
    assert_eq!(
        app.post(&path, Some(&t.admin), &json!({"password": "new-ext-pass"}))
            .await
            .status(),
        StatusCode::OK
    );
    // The user proves the change: the old extension password no longer matches.
    let alice = app.token_for("alice", "Passw0rd-123", &t.domain).await;
    assert_error(
        app.post(
            "/api/user/extension_password",
            Some(&alice),
            &json!({"old_password": "ext-pass-1", "new_password": "whatever-1"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "WRONG_PASSWORD",
    )
    .await;
    assert_error(
        app.post(
            "/api/users/bm9wZQ==/extension_password",
            Some(&t.admin),
            &json!({"password": "new-ext-pass"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

/// Lists render items once per version of each item: every kind of change
/// to a listed field shows in the next page (no stale rendering).
#[tokio::test]
async fn list_pages_show_every_change_to_a_listed_item_at_once() {
    let app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    let id = app.create_user(&t.admin, &user_body("alice", "101")).await;
    let alice = |page: &Value| {
        page["items"]
            .as_array()
            .and_then(|items| items.iter().find(|u| u["id"] == id.as_str()).cloned())
            .unwrap_or(Value::Null)
    };
    let users = || async {
        let r = app.get("/api/users", Some(&t.admin)).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<Value>().await.expect("json")
    };
    let directory = || async {
        let r = app
            .get("/api/user/extension_contacts", Some(&t.admin))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<Value>().await.expect("json")
    };
    // Rendered (and memoized) once.
    assert_eq!(alice(&users().await)["extension_number"], "101");
    assert_eq!(alice(&directory().await)["favorite"], false);

    let update = |body: Value| {
        let path = format!("/api/users/{id}");
        let app = &app;
        let token = t.admin.clone();
        async move {
            let r = app.post(&path, Some(&token), &body).await;
            assert_eq!(r.status(), StatusCode::OK);
        }
    };
    update(json!({"display_name": "Alice Liddell", "department": "Ops"})).await;
    let page = users().await;
    assert_eq!(alice(&page)["display_name"], "Alice Liddell");
    assert_eq!(alice(&page)["department"], "Ops");
    assert_eq!(alice(&directory().await)["display_name"], "Alice Liddell");

    // A renumbering through the primary extension.
    update(json!({"extension_number": "177"})).await;
    assert_eq!(alice(&users().await)["extension_number"], "177");
    assert_eq!(alice(&directory().await)["extension_number"], "177");

    // The caller's own favorite flag is spliced per caller.
    let r = app
        .post(
            &format!("/api/user/extension_contacts/{id}/favorite"),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = directory().await;
    assert_eq!(alice(&page)["favorite"], true);
    assert_eq!(alice(&page)["extension_number"], "177");
    let filtered = app
        .get(
            "/api/user/extension_contacts?filter=favorite eq true",
            Some(&t.admin),
        )
        .await
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(filtered["count"], 1);
    assert_eq!(alice(&filtered)["favorite"], true);

    // A deleted user leaves both lists.
    let r = app
        .post(
            &format!("/api/users/{id}/destroy"),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(alice(&users().await), Value::Null);
    assert_eq!(alice(&directory().await), Value::Null);
}
