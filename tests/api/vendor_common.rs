//! Helpers shared by the vendor dialect tests: raw requests with any
//! method, and the id translations each dialect documents.

#![allow(dead_code)]

use crate::helpers::TestApp;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Sends a request; returns the status and the JSON body (`null` if empty).
pub async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, json)
}

/// Sends a raw (possibly malformed) JSON body.
pub async fn send_raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: &'static str,
) -> (StatusCode, Value) {
    let mut req = app
        .client
        .request(method, app.url(path))
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.expect("JSON body"))
}

/// Our numeric id behind a PortSIP id.
pub fn num(portsip_id: &str) -> u64 {
    let bytes = STANDARD.decode(portsip_id).expect("base64");
    std::str::from_utf8(&bytes)
        .expect("utf8")
        .parse()
        .expect("decimal")
}

/// The PortSIP id of a numeric id.
pub fn portsip(n: u64) -> String {
    STANDARD.encode(n.to_string())
}

/// The UUID the UUID dialects give a numeric id (kind 1 user, 2 extension,
/// 3 link), as documented.
pub fn uuid_of(kind: u8, n: u64) -> String {
    let hex = format!("{n:015x}");
    format!("5b0{kind}0000-0000-8000-8{}-{}", &hex[..3], &hex[3..])
}

/// The user UUID of a PortSIP user id.
pub fn user_uuid(portsip_id: &str) -> String {
    uuid_of(1, num(portsip_id))
}

/// The extension UUID of a PortSIP extension id.
pub fn ext_uuid(portsip_id: &str) -> String {
    uuid_of(2, num(portsip_id))
}

/// Creates an extension through PortSIP; returns its PortSIP id.
pub async fn create_extension(app: &TestApp, token: &str, number: &str, name: &str) -> String {
    let resp = app
        .post(
            "/api/extensions",
            Some(token),
            &json!({"number": number, "name": name}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED, "extension {number}");
    resp.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// The PortSIP id of the user called `name` (via `GET /api/users`).
pub async fn user_id_by_name(app: &TestApp, token: &str, name: &str) -> String {
    let (s, list) = send(
        app,
        Method::GET,
        &format!("/api/users?filter=name eq '{name}'"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    list["items"][0]["id"].as_str().expect("user id").to_owned()
}
