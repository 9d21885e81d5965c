//! Tenant isolation and privilege (issue 11, items 1 and 2): system-scope
//! permissions never work inside a tenant, and nobody grants or touches
//! more than they hold.

use crate::helpers::{assert_error, spawn_app, user_body, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard::commands::Decision;
use switchboard_events::domain::RoleCreated;
use switchboard_events::{Event, Id, Metadata};

async fn json_of(resp: reqwest::Response) -> Value {
    resp.json().await.expect("json")
}

/// The numeric id behind a PortSIP id.
fn id_of(portsip: &str) -> Id {
    switchboard::http::ids::portsip::parse(portsip).expect("a PortSIP id")
}

/// Records a custom role straight into the log, as an old version (before
/// system flags were refused) could have written it.
async fn old_role(app: &TestApp, tenant: &str, name: &str, flags: &[&str]) {
    let event = Event::RoleCreated(RoleCreated {
        role_id: Id(4_242_424),
        name: name.into(),
        description: "written before system flags were refused".into(),
        permissions: flags.iter().map(|f| (*f).to_owned()).collect(),
    });
    app.state()
        .pipeline
        .execute(id_of(tenant), Metadata::system("test"), |_| {
            Ok((Decision::events(vec![event]), ()))
        })
        .await
        .expect("recorded");
}

#[tokio::test]
async fn a_tenant_admin_cannot_create_or_update_a_role_with_system_permissions() {
    let app = spawn_app().await;
    let a = app.tenant("a.example").await;
    for flag in ["tenant", "information", "dealer"] {
        let err = assert_error(
            app.post(
                "/api/roles",
                Some(&a.admin),
                &json!({"name": "Escalator", "permissions": {"system": {flag: true}}}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
        )
        .await;
        assert_eq!(err["detail"]["field"], format!("permissions.system.{flag}"));
    }
    let created = app
        .post(
            "/api/roles",
            Some(&a.admin),
            &json!({"name": "Support", "permissions": {"company": {"view_only": true}}}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let err = assert_error(
        app.post(
            "/api/roles/Support",
            Some(&a.admin),
            &json!({"permissions": {"system": {"tenant": true}}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "permissions.system.tenant");
    // Sending back the full object read (system flags false) is fine.
    let read = json_of(app.get("/api/roles/Support", Some(&a.admin)).await).await;
    let resp = app
        .post(
            "/api/roles/Support",
            Some(&a.admin),
            &json!({"permissions": read["permissions"]}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

/// The takeover reported in the issue: a role with `system.tenant` given to
/// a user of tenant A let it switch into tenant B and read B's users. Such
/// a role may still exist in an old log; it must grant nothing.
#[tokio::test]
async fn a_role_with_system_permissions_from_an_old_log_grants_nothing() {
    let app = spawn_app().await;
    let a = app.tenant("a.example").await;
    let b = app.tenant("b.example").await;
    app.create_user(&b.admin, &user_body("victim", "200")).await;
    old_role(
        &app,
        &a.id,
        "Escalator",
        &["system.tenant", "system.information", "system.dealer"],
    )
    .await;
    let mut mole = user_body("mole", "201");
    mole["role"] = json!("Escalator");
    app.create_user(&a.admin, &mole).await;
    let t = app.token_for("mole", "Passw0rd-123", "a.example").await;

    for (path, body) in [
        (format!("/api/tenants/switch?id={}", b.id), json!({})),
        (
            "/api/tenants".to_owned(),
            json!({"name": "x", "domain": "x.example"}),
        ),
        (format!("/api/tenants/{}", b.id), json!({"name": "taken"})),
        (format!("/api/tenants/{}/destroy", b.id), json!({})),
    ] {
        assert_error(
            app.post(&path, Some(&t), &body).await,
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
        )
        .await;
    }
    for path in [
        "/api/tenants".to_owned(),
        format!("/api/tenants/{}", b.id),
        "/api/users".to_owned(),
        "/api/audit_logs".to_owned(),
    ] {
        assert_error(
            app.get(&path, Some(&t)).await,
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
        )
        .await;
    }
    // B's users stayed out of reach, and B's admin still sees them.
    let list = json_of(app.get("/api/users", Some(&b.admin)).await).await;
    assert_eq!(list["count"], 2);
}

#[tokio::test]
async fn tenant_management_is_the_system_administrators_alone() {
    let app = spawn_app().await;
    let a = app.tenant("a.example").await;
    let b = app.tenant("b.example").await;
    // Even a tenant's Admin: no listing, no switching, no changing tenants.
    assert_error(
        app.get("/api/tenants", Some(&a.admin)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/tenants/switch?id={}", b.id),
            Some(&a.admin),
            &json!({}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    let sys = app.admin_token().await;
    assert_eq!(
        app.get("/api/tenants", Some(&sys)).await.status(),
        StatusCode::OK
    );
}

/// A tenant with a "Helpdesk" custom role that manages users and roles and
/// holds the standard user's flags, and a user `desk` holding it.
struct Staffed {
    admin: String,
    desk: String,
    boss_id: String,
    alice_id: String,
}

const HELPDESK: &str = r#"{"name": "Helpdesk", "permissions": {
    "user_management": {"users": true, "roles": true},
    "general": {"voicemail_full_access": true, "meeting": true},
    "policies": {"internal_calls": true, "domestic_calls": true}}}"#;

async fn staffed(app: &TestApp) -> Staffed {
    let t = app.tenant("a.example").await;
    let helpdesk: Value = serde_json::from_str(HELPDESK).expect("json");
    let resp = app.post("/api/roles", Some(&t.admin), &helpdesk).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let mut desk = user_body("desk", "150");
    desk["role"] = json!("Helpdesk");
    app.create_user(&t.admin, &desk).await;
    let alice_id = app.create_user(&t.admin, &user_body("alice", "101")).await;
    let users = json_of(
        app.get("/api/users?filter=name eq 'boss'", Some(&t.admin))
            .await,
    )
    .await;
    let boss_id = users["items"][0]["id"].as_str().expect("boss").to_owned();
    let desk = app.token_for("desk", "Passw0rd-123", "a.example").await;
    Staffed {
        admin: t.admin,
        desk,
        boss_id,
        alice_id,
    }
}

async fn refused(resp: reqwest::Response, field: &str) {
    let err = assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_eq!(err["detail"]["field"], field, "{err}");
}

#[tokio::test]
async fn nobody_creates_or_widens_a_role_beyond_what_they_hold() {
    let app = spawn_app().await;
    let s = staffed(&app).await;
    refused(
        app.post(
            "/api/roles",
            Some(&s.desk),
            &json!({"name": "Wider", "permissions": {"company": {"full_access": true}}}),
        )
        .await,
        "permissions",
    )
    .await;
    refused(
        app.post(
            "/api/roles/Helpdesk",
            Some(&s.desk),
            &json!({"permissions": {"phone_system": {"full_access": true}}}),
        )
        .await,
        "permissions",
    )
    .await;
    // Within its own flags it may.
    let resp = app
        .post(
            "/api/roles",
            Some(&s.desk),
            &json!({"name": "Narrow", "permissions": {"general": {"meeting": true}}}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // The Admin holds it all.
    let resp = app
        .post(
            "/api/roles",
            Some(&s.admin),
            &json!({"name": "Wider", "permissions": {"company": {"full_access": true}}}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // ... so the Helpdesk cannot touch the wider role either.
    refused(
        app.post("/api/roles/Wider/destroy", Some(&s.desk), &json!({}))
            .await,
        "permissions",
    )
    .await;
}

#[tokio::test]
async fn only_an_admin_creates_or_promotes_admins_and_nobody_assigns_more_than_they_hold() {
    let app = spawn_app().await;
    let s = staffed(&app).await;
    for role in ["Admin", "QueueManager", "Replicator"] {
        let mut body = user_body("mallory", "160");
        body["role"] = json!(role);
        refused(app.post("/api/users", Some(&s.desk), &body).await, "role").await;
        refused(
            app.post(
                &format!("/api/users/{}/role", s.alice_id),
                Some(&s.desk),
                &json!({ "role": role }),
            )
            .await,
            "role",
        )
        .await;
    }
    // A role within its own: fine.
    app.create_user(&s.desk, &user_body("bob", "161")).await;
    // The eTelecom dialect goes through the same decision.
    let resp = app
        .client
        .post(app.url("/Etelecom/CreateAccountUser"))
        .bearer_auth(&s.desk)
        .json(
            &json!({"username": "eve", "full_name": "Eve", "email": "eve@example.com",
                      "password": "Passw0rd-123", "extension_number": "162", "role": "Admin"}),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_of(resp).await["code"], "permission_denied");
    // An Admin may promote.
    let resp = app
        .post(
            &format!("/api/users/{}/role", s.alice_id),
            Some(&s.admin),
            &json!({"role": "Admin"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn nobody_resets_the_password_of_disables_or_deletes_a_user_above_them() {
    let app = spawn_app().await;
    let s = staffed(&app).await;
    let boss = &s.boss_id;
    refused(
        app.post(
            &format!("/api/users/{boss}/password"),
            Some(&s.desk),
            &json!({"password": "Hijacked-123"}),
        )
        .await,
        "id",
    )
    .await;
    refused(
        app.post(
            &format!("/api/users/{boss}/extension_password"),
            Some(&s.desk),
            &json!({"password": "hijack1"}),
        )
        .await,
        "id",
    )
    .await;
    refused(
        app.post(
            &format!("/api/users/{boss}"),
            Some(&s.desk),
            &json!({"enabled": false}),
        )
        .await,
        "id",
    )
    .await;
    refused(
        app.post(
            &format!("/api/users/{boss}/destroy"),
            Some(&s.desk),
            &json!({}),
        )
        .await,
        "id",
    )
    .await;
    // The Admin can still sign in with its password.
    app.token_for("boss", "Passw0rd-123", "a.example").await;
    // A standard user is within the Helpdesk's reach.
    let resp = app
        .post(
            &format!("/api/users/{}/password", s.alice_id),
            Some(&s.desk),
            &json!({"password": "Reset-Passw0rd"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    app.token_for("alice", "Reset-Passw0rd", "a.example").await;
}
