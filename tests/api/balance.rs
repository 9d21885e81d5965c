//! A user's balance, a ledger (issue #16: `GET /user/balance`, `GET|POST
//! /users/{id}/balance`, switchboard's `GET /users/{id}/balance/history`),
//! and the Microsoft 365 binding (`POST /users/{id}/ms365_binding`,
//! `…/destroy`) behind the tenant setting `enable_ms365_integration`.

use crate::contacts::{json_of, two_users};
use crate::helpers::{assert_error, ok, spawn_app, TestApp};
use crate::settings::user_id;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn field_of(resp: reqwest::Response) -> Value {
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    err["detail"]["field"].clone()
}

/// The signed-in user's own id.
async fn own_id(app: &TestApp, token: &str) -> String {
    let me = json_of(app.get("/api/user", Some(token)).await).await;
    me["id"].as_str().expect("own id").to_owned()
}

#[tokio::test]
async fn a_balance_is_the_exact_sum_of_its_recorded_adjustments() {
    let mut app = spawn_app().await;
    let (admin, ann, _) = two_users(&app, "acme.example").await;
    let id = user_id(&app, &admin, "ann").await;
    let path = format!("/api/users/{id}/balance");
    let got = json_of(app.get(&path, Some(&admin)).await).await;
    assert_eq!(got, json!({"balance": 0.0}), "no adjustment yet");
    // 0.1 then 0.3: the second adjustment is exactly 0.2.
    for (balance, reason) in [(json!(0.1), json!("top-up")), (json!(0.3), Value::Null)] {
        let resp = app
            .post(
                &path,
                Some(&admin),
                &json!({"balance": balance, "reason": reason}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    // The same balance again records nothing.
    ok(app
        .post(&path, Some(&admin), &json!({"balance": 0.30000}))
        .await)
    .await;
    assert_eq!(
        json_of(app.get(&path, Some(&admin)).await).await["balance"],
        json!(0.3)
    );
    assert_eq!(
        json_of(app.get("/api/user/balance", Some(&ann)).await).await["balance"],
        json!(0.3)
    );
    let h = json_of(app.get(&format!("{path}/history"), Some(&admin)).await).await;
    assert_eq!(h["count"], 2, "{h}");
    let boss = own_id(&app, &admin).await;
    let newest = &h["items"][0];
    assert_eq!(
        (&newest["sequence"], &newest["amount"], &newest["balance"]),
        (&json!(2), &json!(0.2), &json!(0.3))
    );
    assert_eq!(newest["currency"], "EUR", "the tenant's");
    assert_eq!(newest["actor_id"], json!(boss));
    assert_eq!(newest["reason"], Value::Null);
    assert_eq!(h["items"][1]["reason"], "top-up");
    assert_eq!(h["items"][1]["amount"], json!(0.1));
    // A negative balance, large but in range, with five decimals.
    ok(app
        .post(&path, Some(&admin), &json!({"balance": -9999999999.99999}))
        .await)
    .await;
    assert_eq!(
        json_of(app.get(&path, Some(&admin)).await).await["balance"],
        json!(-9999999999.99999)
    );
    // Audited, and the ledger survives a restart.
    app.restart().await;
    let admin = app.token_for("boss", "Passw0rd-123", "acme.example").await;
    assert_eq!(
        json_of(app.get(&path, Some(&admin)).await).await["balance"],
        json!(-9999999999.99999)
    );
    let all = json_of(app.get("/api/audit_logs?top=100", Some(&admin)).await).await;
    let items = all["items"].as_array().expect("items");
    let adjustments = items
        .iter()
        .filter(|i| i["object_type"] == "BALANCE_ADJUSTMENTS")
        .count();
    assert_eq!(adjustments, 3, "{all}");
}

#[tokio::test]
async fn a_balance_is_refused_when_out_of_range_inexact_or_in_another_currency() {
    let app = spawn_app().await;
    let (admin, _, _) = two_users(&app, "acme.example").await;
    let id = user_id(&app, &admin, "ann").await;
    let path = format!("/api/users/{id}/balance");
    for (body, field) in [
        (json!({"balance": 0.000001}), "balance"),
        (json!({"balance": 1e10}), "balance"),
        (json!({"balance": -1e300}), "balance"),
        (json!({"balance": "12.5"}), "balance"),
        (json!({}), "balance"),
        (json!({"balance": 1, "currency": "USD"}), "currency"),
        (json!({"balance": 1, "reason": "x".repeat(256)}), "reason"),
        (json!({"balance": 1, "amount": 1}), "amount"),
    ] {
        let resp = app.post(&path, Some(&admin), &body).await;
        assert_eq!(field_of(resp).await, field, "{body}");
    }
    // Read from the number's own text: digits a double would round away
    // are refused, not rounded (reqwest's JSON would go through a double,
    // so these bodies are sent as text).
    for text in [
        r#"{"balance": 0.100000000000000001}"#,
        r#"{"balance": 1e-400}"#,
        r#"{"balance": 12345678901234567890}"#,
    ] {
        let resp = app
            .client
            .post(app.url(&path))
            .bearer_auth(&admin)
            .header("Content-Type", "application/json")
            .body(text)
            .send()
            .await
            .expect("sent");
        assert_eq!(field_of(resp).await, "balance", "{text}");
    }
    // Nothing was recorded.
    let h = json_of(app.get(&format!("{path}/history"), Some(&admin)).await).await;
    assert_eq!(h["count"], 0);
    ok(app
        .post(
            &path,
            Some(&admin),
            &json!({"balance": 1, "currency": "EUR"}),
        )
        .await)
    .await;
}

#[tokio::test]
async fn balances_are_the_tenants_and_need_the_capability() {
    let app = spawn_app().await;
    let (admin, ann, _) = two_users(&app, "acme.example").await;
    let bob = user_id(&app, &admin, "bob").await;
    let (other_admin, _, _) = two_users(&app, "other.example").await;
    let path = format!("/api/users/{bob}/balance");
    // A StandardUser reads only its own balance.
    for resp in [
        app.get(&path, Some(&ann)).await,
        app.post(&path, Some(&ann), &json!({"balance": 5})).await,
        app.get(&format!("{path}/history"), Some(&ann)).await,
    ] {
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
    // Another tenant's user is not found.
    for resp in [
        app.get(&path, Some(&other_admin)).await,
        app.post(&path, Some(&other_admin), &json!({"balance": 5}))
            .await,
        app.get(&format!("{path}/history"), Some(&other_admin))
            .await,
    ] {
        assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    assert_eq!(
        json_of(app.get(&path, Some(&admin)).await).await["balance"],
        json!(0.0)
    );
}

#[tokio::test]
async fn a_binding_needs_the_tenants_integration_which_info_reflects() {
    let app = spawn_app().await;
    let (admin, ann, _) = two_users(&app, "acme.example").await;
    let (ann_id, bob_id) = (
        user_id(&app, &admin, "ann").await,
        user_id(&app, &admin, "bob").await,
    );
    let bind = |user: String, id: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.post(
                &format!("/api/users/{user}/ms365_binding"),
                Some(&admin),
                &json!({ "id": id }),
            )
            .await
        }
    };
    let info = || async {
        json_of(app.get("/api/info?domain=acme.example", None).await).await
            ["enable_ms365_integration"]
            .clone()
    };
    assert_eq!(info().await, json!(false));
    let resp = bind(ann_id.clone(), "ann@contoso.com").await;
    assert_error(resp, StatusCode::CONFLICT, "INTEGRATION_DISABLED").await;
    // The tenant's admin turns it on: a tenant setting, shown by /tenant and /info.
    let resp = app
        .post(
            "/api/tenant",
            Some(&admin),
            &json!({"enable_ms365_integration": true}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let t = json_of(app.get("/api/tenant", Some(&admin)).await).await;
    assert_eq!(t["enable_ms365_integration"], true);
    assert_eq!(info().await, json!(true));
    let resp = app
        .post(
            "/api/tenant",
            Some(&admin),
            &json!({"enable_ms365_integration": "yes"}),
        )
        .await;
    assert_eq!(field_of(resp).await, "enable_ms365_integration");

    assert_eq!(
        bind(ann_id.clone(), "ann@contoso.com").await.status(),
        StatusCode::OK
    );
    for bad in ["", "ann", "6f1c2a3b-1234"] {
        assert_eq!(
            field_of(bind(ann_id.clone(), bad).await).await,
            "id",
            "{bad}"
        );
    }
    let resp = app
        .post(
            &format!("/api/users/{ann_id}/ms365_binding"),
            Some(&admin),
            &json!({"id": 5}),
        )
        .await;
    assert_eq!(field_of(resp).await, "id");
    // One account, one user.
    let resp = bind(bob_id.clone(), "ANN@contoso.com").await;
    assert_error(resp, StatusCode::CONFLICT, "ALREADY_EXISTS").await;
    // A StandardUser may not bind, another tenant sees no such user.
    let resp = app
        .post(
            &format!("/api/users/{bob_id}/ms365_binding"),
            Some(&ann),
            &json!({"id": "bob@contoso.com"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let (other, _, _) = two_users(&app, "other.example").await;
    let resp = app
        .post(
            &format!("/api/users/{ann_id}/ms365_binding/destroy"),
            Some(&other),
            &json!({}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    // Unbinding works even with the integration off again; twice is 404.
    ok(app
        .post(
            "/api/tenant",
            Some(&admin),
            &json!({"enable_ms365_integration": false}),
        )
        .await)
    .await;
    let destroy = format!("/api/users/{ann_id}/ms365_binding/destroy");
    let resp = app.post(&destroy, Some(&admin), &json!({})).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app.post(&destroy, Some(&admin), &json!({})).await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    // Audited: bound, then unbound; the tenant switch twice.
    let all = json_of(app.get("/api/audit_logs?top=100", Some(&admin)).await).await;
    let items = all["items"].as_array().expect("items");
    let of = |t: &str| items.iter().filter(|i| i["object_type"] == t).count();
    assert_eq!(of("MS365_BINDING"), 2, "{all}");
}
