//! Secrets the PBX must use (issue 11, item 7): a STIR/SHAKEN private key
//! is sealed before it reaches the log, so no file in the data directory,
//! no `log export`, no `replay` output, no response and no audit entry
//! holds it in clear. A key written in clear by an older version still
//! loads and is never rendered. The audit log shows which fields of a
//! user's personal contact changed, never their values (item 8).

use crate::helpers::{spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use switchboard::commands::Decision;
use switchboard::tools::{self, ExportRange};
use switchboard_events::domain::TenantUpdated;
use switchboard_events::{Event, Metadata, SYSTEM_TENANT};
use switchboard_projections::rebuild::Until;

const CLEAR: &str = "-----BEGIN EC PRIVATE KEY-----MHcCAQEEICLEARSECRET42";
const OLD_CLEAR: &str = "-----BEGIN EC PRIVATE KEY-----OLDSECRET77";

/// Every file under `dir` (recursively) whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .expect("readable file")
                .windows(needle.len())
                .any(|w| w == needle)
            {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

async fn audit_text(app: &TestApp) -> String {
    let sys = app.admin_token().await;
    let resp = app.get("/api/audit_logs?top=100", Some(&sys)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.expect("text")
}

/// The tenant's `stir_shaken_key` as `GET /api/tenant` shows it.
async fn shown_key(app: &TestApp, admin: &str) -> Value {
    let shown: Value = app
        .get("/api/tenant", Some(admin))
        .await
        .json()
        .await
        .expect("json");
    shown["stir_shaken_key"].clone()
}

fn export_text(dir: &Path) -> String {
    let mut out = Vec::new();
    tools::export(dir, ExportRange::default(), &mut out).expect("export");
    String::from_utf8(out).expect("utf-8")
}

fn replay_dir(dir: &Path, out: &Path) -> Vec<String> {
    tools::replay(dir, Until::Head, out).expect("replay");
    files_containing(out, b"PRIVATE KEY")
}

#[tokio::test]
async fn a_stir_shaken_key_never_reaches_the_log_an_export_a_replay_or_a_response_in_clear() {
    let mut app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    let resp = app
        .post(
            "/api/tenant",
            Some(&t.admin),
            &json!({ "stir_shaken_key": CLEAR }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(shown_key(&app, &t.admin).await, Value::Null);
    let audit = audit_text(&app).await;
    assert!(!audit.contains("CLEARSECRET42"), "{audit}");
    // (old_state/new_state are JSON text inside the JSON answer.)
    assert!(
        audit.contains(r#"{\"stir_shaken_key\":\"changed\"}"#),
        "{audit}"
    );

    // Stopped, so the offline tools may open the data directory.
    app.stop().await;
    let data = app.data_dir();
    let on_disk = files_containing(&data, CLEAR.as_bytes());
    assert!(on_disk.is_empty(), "clear key in {on_disk:?}");
    let export = export_text(&data);
    assert!(
        export.contains("sealed:v1:"),
        "the sealed value is exported"
    );
    assert!(!export.contains("CLEARSECRET42"));
    assert!(!export.contains(&hex("CLEARSECRET42")));
    let out = tempfile::tempdir().expect("tempdir");
    assert!(replay_dir(&data, out.path()).is_empty());
}

#[tokio::test]
async fn a_key_written_in_clear_by_an_older_version_loads_and_is_never_rendered() {
    let mut app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    let tenant = switchboard::http::ids::portsip::parse(&t.id).expect("id");
    // What an older version wrote: the key in clear in the event.
    let old = Event::TenantUpdated(TenantUpdated {
        tenant_id: tenant,
        changes: [(
            "stir_shaken_key".to_owned(),
            switchboard_events::Value::Str(OLD_CLEAR.into()),
        )]
        .into(),
    });
    app.state()
        .pipeline
        .execute(SYSTEM_TENANT, Metadata::system("old version"), |_| {
            Ok((Decision::events(vec![old]), ()))
        })
        .await
        .expect("recorded");
    app.restart().await;
    let admin = app.token_for("boss", "Passw0rd-123", "acme.example").await;
    assert_eq!(shown_key(&app, &admin).await, Value::Null);
    let audit = audit_text(&app).await;
    assert!(!audit.contains("OLDSECRET77"), "{audit}");

    app.stop().await;
    let data = app.data_dir();
    let export = export_text(&data);
    assert!(!export.contains("OLDSECRET77"), "not rendered");
    let line: Value = export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
        .find(|l| {
            l["payload"]
                .as_str()
                .is_some_and(|p| p.contains(&hex("OLDSECRET77")))
        })
        .expect("the old record is exported with its bytes");
    assert_eq!(line["event"], Value::Null);
    let out = tempfile::tempdir().expect("tempdir");
    assert!(replay_dir(&data, out.path()).is_empty());
    // The export still imports (the record's bytes and chain are intact).
    let file = out.path().join("export.jsonl");
    std::fs::write(&file, &export).expect("write");
    let fresh = out.path().join("fresh");
    tools::import(&fresh, &file).expect("import");
}

#[tokio::test]
async fn the_audit_log_shows_personal_contacts_as_changed_fields_without_values() {
    let app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    app.create_user(&t.admin, &crate::helpers::user_body("alice", "101"))
        .await;
    let alice = app.token_for("alice", "Passw0rd-123", "acme.example").await;
    let created: Value = app
        .post(
            "/api/user/contacts",
            Some(&alice),
            &json!({"name": "Carol Private", "mobile_phone": "+4915112345"}),
        )
        .await
        .json()
        .await
        .expect("json");
    let id = created["id"].as_str().expect("id");
    let resp = app
        .post(
            &format!("/api/user/contacts/{id}"),
            Some(&alice),
            &json!({"email": "carol@private.example"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .get(
            "/api/audit_logs?filter=object_type eq 'PERSONAL_CONTACT'",
            Some(&t.admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.expect("text");
    for private in ["Carol", "+4915112345", "carol@private.example"] {
        assert!(!text.contains(private), "{private} shown: {text}");
    }
    let log: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(log["count"], 2, "{log}");
    let states: Vec<Value> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| serde_json::from_str(i["new_state"].as_str().expect("text")).expect("json"))
        .collect();
    assert!(states.contains(&json!({"email": "changed"})), "{states:?}");
    assert!(
        states.contains(&json!({"mobile_phone": "changed", "name": "changed"})),
        "{states:?}"
    );
}
