//! One user across every dialect: created through PortSIP, linked through
//! the v1 link API, seen through the client API and eTelecom, put on break
//! through voipappz and read back through PortSIP's agent endpoint, and
//! every step found in the log with its actor and dialect.

use crate::helpers::{spawn_app, user_body};
use crate::queues::{create_queue, register, set_agents};
use crate::vendor_common::{create_extension, ext_uuid, num, send, user_uuid};
use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard_events::EventLog;

const DOMAIN: &str = "cross.example.com";

#[tokio::test]
async fn a_user_travels_through_every_dialect_and_the_log_remembers_who() {
    let mut app = spawn_app().await;
    let t = app.tenant(DOMAIN).await;
    let mut ops = user_body("ops", "150");
    ops["role"] = json!("Admin");
    app.create_user(&t.admin, &ops).await;
    let ops = app.token_for("ops", "Passw0rd-123", DOMAIN).await;

    // 1. PortSIP: boss creates ivy.
    let mut ivy = user_body("ivy", "900");
    ivy["display_name"] = json!("Ivy Lee");
    let ivy = app.create_user(&t.admin, &ivy).await;
    let desk = create_extension(&app, &t.admin, "901", "Desk").await;

    // 2. v1 link API: ops links ivy to the desk extension.
    let (s, b) = send(
        &app,
        Method::POST,
        "/api/v1/user-extensions",
        Some(&ops),
        Some(&json!({"user_uuid": user_uuid(&ivy), "extension_uuid": ext_uuid(&desk)})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["data"]["first_name"], "Ivy");
    assert_eq!(b["data"]["last_name"], "Lee");

    // 3. The client API and eTelecom see ivy and the link.
    let (s, list) = send(
        &app,
        Method::GET,
        &format!("/client/{}/user/extension/?login=ivy", num(&t.id)),
        Some(&t.admin),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list[0]["id"], json!(num(&ivy)));
    assert_eq!(list[0]["name"], "Ivy Lee");
    assert_eq!(list[0]["status"], "active");
    let (s, users) = send(
        &app,
        Method::POST,
        "/Etelecom/GetListUser",
        Some(&ops),
        Some(&json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{users}");
    let e_ivy = users["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "ivy")
        .expect("ivy in GetListUser")
        .clone();
    assert_eq!(e_ivy["id"], num(&ivy).to_string());
    assert_eq!(e_ivy["full_name"], "Ivy Lee");
    let (s, exts) = send(
        &app,
        Method::POST,
        "/Etelecom/GetExtensionList",
        Some(&ops),
        Some(&json!({"user_id": num(&ivy).to_string()})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let numbers: Vec<_> = exts["extensions"]
        .as_array()
        .expect("extensions")
        .iter()
        .map(|x| x["extension_number"].clone())
        .collect();
    assert_eq!(numbers, vec![json!("900"), json!("901")]);

    // 4. voipappz: ivy is an agent of a queue and logged in (by herself,
    //    through PortSIP); ops puts her on break through voipappz.
    let queue = create_queue(&app, &t.admin, "Support", "950").await;
    set_agents(&app, &t.admin, "call_queues", &queue, &["900"]).await;
    let mut sbc = user_body("sbc", "190");
    sbc["role"] = json!("Replicator");
    app.create_user(&t.admin, &sbc).await;
    let sbc = app.token_for("sbc", "Passw0rd-123", DOMAIN).await;
    register(&app, &sbc, "900", "ivy-phone", 3600).await;
    let ivy_token = app.token_for("ivy", "Passw0rd-123", DOMAIN).await;
    let (s, b) = send(
        &app,
        Method::POST,
        &format!("/api/user/call_queues/{queue}/agent"),
        Some(&ivy_token),
        Some(&json!({"status": "LOGGED_IN"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = send(
        &app,
        Method::PATCH,
        &format!("/api/users/{}?action=break", user_uuid(&ivy)),
        Some(&ops),
        None,
    )
    .await;
    assert_eq!((s, b), (StatusCode::OK, json!({})));

    // 5. PortSIP's agent endpoint reads BREAK.
    let (s, agent) = send(
        &app,
        Method::GET,
        &format!("/api/users/{ivy}/call_queues/{queue}/agent"),
        Some(&t.admin),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{agent}");
    assert_eq!(agent["status"], "BREAK");

    // 6. The audit log (served from the log) names each step's dialect
    //    and actor...
    for (source, actor) in [
        ("portsip", "boss"),
        ("user-extensions-v1", "ops"),
        ("voipappz", "ops"),
    ] {
        let (s, audit) = send(
            &app,
            Method::GET,
            &format!("/api/audit_logs?filter=source eq '{source}'&top=100"),
            Some(&t.admin),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{audit}");
        let items = audit["items"].as_array().expect("items");
        assert!(
            items.iter().any(|i| i["user_name"] == actor),
            "{source} by {actor}: {audit}"
        );
        if source != "portsip" {
            assert!(items.iter().all(|i| i["user_name"] == actor), "{audit}");
        }
    }

    // ... and so do the raw records.
    app.stop().await;
    let log = switchboard_events::SledLog::open(switchboard_events::LogConfig::new(
        app.dir.path().join("data"),
    ))
    .expect("log opens");
    let events: Vec<_> = log.read_all(1).map(|e| e.expect("record reads")).collect();
    let find = |event_type: &str, via: &str| {
        events
            .iter()
            .filter(|e| e.event_type == event_type && e.metadata.via == via)
            .map(|e| e.metadata.actor_name.clone())
            .collect::<Vec<_>>()
    };
    assert!(find("UserCreated", "portsip").contains(&"boss".to_owned()));
    assert_eq!(
        find("UserLinkedToExtension", "user-extensions-v1"),
        vec!["ops"]
    );
}
