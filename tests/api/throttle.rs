//! The password-guessing throttle (issue 11, item 5) and trusted proxies
//! (item 6): parallel guesses cannot pass the limit, an attacker cannot
//! lock a victim out from everywhere, the old-password check of
//! `POST /api/user/password` is throttled too, and forwarding headers are
//! believed only from configured proxies.

use crate::helpers::{spawn_app, spawn_app_with, user_body, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

const DOMAIN: &str = "acme.example";

/// A tenant with `alice`; returns (admin token, alice's id).
async fn with_alice(app: &TestApp) -> (String, String) {
    let t = app.tenant(DOMAIN).await;
    let id = app.create_user(&t.admin, &user_body("alice", "101")).await;
    (t.admin, id)
}

/// A sign-in as alice, from `forwarded_for` if given.
async fn sign_in_from(
    app: &TestApp,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/auth/sign_in"))
        .json(&json!({"username": "alice", "password": password, "domain": DOMAIN}));
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.expect("request")
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After")
}

#[tokio::test]
async fn parallel_guesses_cannot_pass_the_limit() {
    let app = spawn_app().await;
    with_alice(&app).await;
    let guesses = (0..24).map(|n| {
        let app = &app;
        async move {
            sign_in_from(app, &format!("wrong-{n}"), None)
                .await
                .status()
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + refused, statuses.len(), "{statuses:?}");
    assert!(
        checked <= 5,
        "{checked} passwords were checked: {statuses:?}"
    );
}

#[tokio::test]
async fn an_attacker_cannot_lock_the_victim_out_from_everywhere() {
    // Behind a trusted proxy (this test's client), so each request can
    // come from its own address.
    let trusted = |c: &mut switchboard::config::Config| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    };
    let app = spawn_app_with(trusted).await;
    with_alice(&app).await;
    let mut attacker = Vec::new();
    for n in 0..10 {
        attacker.push(sign_in_from(&app, &format!("guess-{n}"), Some("6.6.6.6")).await);
    }
    let last = attacker.last().expect("attempts");
    assert_eq!(last.status(), StatusCode::TOO_MANY_REQUESTS);
    // The account is slowed down, never locked: the victim elsewhere waits
    // at most the maximum delay.
    let victim = sign_in_from(&app, "Passw0rd-123", Some("7.7.7.7")).await;
    match victim.status() {
        StatusCode::OK => {}
        StatusCode::TOO_MANY_REQUESTS => assert!(retry_after(&victim) <= 60),
        other => panic!("victim got {other}"),
    }

    // Without the delay, the victim gets in at once while the attacker's
    // address stays refused.
    let app = spawn_app_with(|c| {
        trusted(c);
        c.signin_max_delay_secs = 0;
    })
    .await;
    with_alice(&app).await;
    for n in 0..10 {
        sign_in_from(&app, &format!("guess-{n}"), Some("6.6.6.6")).await;
    }
    assert_eq!(
        sign_in_from(&app, "Passw0rd-123", Some("6.6.6.6"))
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        sign_in_from(&app, "Passw0rd-123", Some("7.7.7.7"))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_old_password_check_is_throttled_like_sign_in() {
    let app = spawn_app().await;
    with_alice(&app).await;
    let token = app.token_for("alice", "Passw0rd-123", DOMAIN).await;
    let mut statuses = Vec::new();
    for n in 0..8 {
        let resp = app
            .post(
                "/api/user/password",
                Some(&token),
                &json!({"old_password": format!("wrong-{n}"), "new_password": "Passw0rd-456"}),
            )
            .await;
        statuses.push(resp.status());
    }
    assert_eq!(statuses[0], StatusCode::FORBIDDEN);
    assert_eq!(statuses[7], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    // The sign-in page shares the counter.
    assert_eq!(
        sign_in_from(&app, "Passw0rd-123", None).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// The `ip` of the newest entry in a user's history.
async fn last_ip(app: &TestApp, admin: &str, user: &str) -> Value {
    let h: Value = app
        .get(&format!("/api/users/{user}/history"), Some(admin))
        .await
        .json()
        .await
        .expect("json");
    let items = h["items"].as_array().expect("items");
    items.last().expect("an entry")["ip"].clone()
}

async fn rename(app: &TestApp, admin: &str, user: &str, name: &str, header: (&str, &str)) {
    let resp = app
        .client
        .post(app.url(&format!("/api/users/{user}")))
        .bearer_auth(admin)
        .header(header.0, header.1)
        .json(&json!({ "display_name": name }))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn forwarding_headers_are_believed_only_from_trusted_proxies() {
    let app = spawn_app().await;
    let (admin, alice) = with_alice(&app).await;
    rename(&app, &admin, &alice, "A1", ("x-forwarded-for", "1.2.3.4")).await;
    assert_eq!(last_ip(&app, &admin, &alice).await, "127.0.0.1");

    let app =
        spawn_app_with(|c| c.trusted_proxies = vec!["127.0.0.0/8".parse().expect("cidr")]).await;
    let (admin, alice) = with_alice(&app).await;
    rename(
        &app,
        &admin,
        &alice,
        "A1",
        ("x-forwarded-for", "9.9.9.9, 1.2.3.4"),
    )
    .await;
    assert_eq!(last_ip(&app, &admin, &alice).await, "1.2.3.4");
    rename(
        &app,
        &admin,
        &alice,
        "A2",
        ("forwarded", "for=\"[2001:db8::7]:4711\""),
    )
    .await;
    assert_eq!(last_ip(&app, &admin, &alice).await, "2001:db8::7");
}
