//! Bulk users: `POST /api/users/import` (CSV, JSON Lines, dry runs,
//! all-or-nothing batches, PHC hashes) and `GET /api/users/export`.

use crate::helpers::{assert_error, ok, spawn_app, spawn_app_with, user_body, TestApp};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

const HEADER: &str = "name,display_name,email,role,extension_number,password,extension_password,voicemail_pin,enable_dnd,office_hours";

fn csv_row(name: &str, number: &str) -> String {
    format!("{name},{name} Display,{name}@example.com,StandardUser,{number},Passw0rd-123,ext-pass-1,123456,true,")
}

impl TestApp {
    async fn import(
        &self,
        token: &str,
        query: &str,
        content_type: &str,
        body: String,
    ) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/users/import{query}")))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    async fn user_names(&self, token: &str) -> Vec<String> {
        let list = ok(self.get("/api/users?top=100", Some(token)).await).await;
        let mut names: Vec<String> = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|u| u["name"].as_str().expect("name").to_owned())
            .collect();
        names.sort();
        names
    }
}

#[tokio::test]
async fn a_csv_import_creates_users_who_can_sign_in_with_their_fields() {
    let app = spawn_app().await;
    let t = app.tenant("bulk.example.com").await;
    let file = format!(
        "{HEADER}\n{}\n{}\n",
        csv_row("ann", "2001"),
        "bob,Bob B,bob@example.com,StandardUser,2002,Passw0rd-456,ext-pass-2,654321,false,\"{\"\"mode\"\":\"\"GLOBAL\"\"}\""
    );
    let report = ok(app.import(&t.admin, "", "text/csv", file).await).await;
    assert_eq!(report["imported"], 2, "{report}");
    assert_eq!(report["rows"], 2);
    assert_eq!(report["errors"], json!([]));
    assert_eq!(app.user_names(&t.admin).await, ["ann", "bob", "boss"]);
    app.token_for("bob", "Passw0rd-456", "bulk.example.com")
        .await;
    let users = ok(app
        .get("/api/users?filter=name%20eq%20'ann'", Some(&t.admin))
        .await)
    .await;
    let id = users["items"][0]["id"].as_str().expect("id");
    let ann = ok(app.get(&format!("/api/users/{id}"), Some(&t.admin)).await).await;
    assert_eq!(ann["enable_dnd"], true);
    assert_eq!(ann["extension_number"], "2001");
    assert_eq!(ann["display_name"], "ann Display");
}

#[tokio::test]
async fn phc_hashes_are_imported_as_they_are_and_sign_in_with_the_original_passwords() {
    let app = spawn_app().await;
    let t = app.tenant("phc.example.com").await;
    let bcrypt = bcrypt::hash("migrated-bcrypt", 4).expect("bcrypt");
    let argon = switchboard::auth::password::SecretHasher::new(512, 1)
        .expect("params")
        .hash("migrated-argon2")
        .expect("argon2");
    let lines = [
        json!({"name": "carl", "display_name": "Carl", "email": "c@example.com", "role": "StandardUser",
               "extension_number": "3001", "password_hash": bcrypt, "extension_password_hash": argon,
               "voicemail_pin_hash": argon}),
        json!({"name": "dina", "display_name": "Dina", "email": "d@example.com", "role": "StandardUser",
               "extension_number": "3002", "password_hash": argon, "extension_password": "ext-pass-3",
               "voicemail_pin": "112233", "id": "ignored", "created_at": "2020-01-01T00:00:00Z"}),
    ];
    let body = lines
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let report = ok(app
        .import(&t.admin, "?format=jsonl", "application/octet-stream", body)
        .await)
    .await;
    assert_eq!(report["imported"], 2, "{report}");
    app.token_for("carl", "migrated-bcrypt", "phc.example.com")
        .await;
    app.token_for("dina", "migrated-argon2", "phc.example.com")
        .await;
    let wrong = app
        .sign_in("carl", "migrated-bcrypX", Some("phc.example.com"))
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // An argon2 hash asking for 4 GiB per sign-in is refused, naming the column.
    let greedy = json!({"name": "eve", "display_name": "Eve", "email": "e@example.com",
        "role": "StandardUser", "extension_number": "3003",
        "password_hash": "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$3CkiyD3vVz2LDJ9G4O5UeaAhTr5ZwcW6E7mq7fJQxkE",
        "extension_password": "ext-pass-3", "voicemail_pin": "112233"})
    .to_string();
    let resp = app
        .import(&t.admin, "", "application/x-ndjson", greedy)
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["column"], "password_hash");
}

#[tokio::test]
async fn a_failing_batch_is_not_written_every_failing_row_is_named_and_the_import_stops_there() {
    let app = spawn_app().await;
    let t = app.tenant("batches.example.com").await;
    // Batches of 2: rows 1-2 pass; row 3 repeats row 1's number and row 4
    // has a bad e-mail, so rows 3-4 are refused together; row 5 is never read.
    let file = format!(
        "{HEADER}\n{}\n{}\n{}\n{}\n{}\n",
        csv_row("ann", "2001"),
        csv_row("bob", "2002"),
        csv_row("carol", "2001"),
        "dave,Dave,not-an-email,StandardUser,2004,Passw0rd-123,ext-pass-1,123456,,",
        csv_row("erin", "2005"),
    );
    let resp = app
        .import(&t.admin, "?batch_size=2", "text/csv", file)
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.expect("json");
    let errors: Vec<_> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap_or("").to_owned(),
                e["detail"]["row"].as_u64().unwrap_or(0),
                e["detail"]["line"].as_u64().unwrap_or(0),
                e["detail"]["column"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (
                "EXTENSION_NUMBER_IN_USE".into(),
                3,
                4,
                "extension_number".into()
            ),
            ("VALIDATE_FAILED".into(), 4, 5, "email".into()),
        ],
        "{body}"
    );
    let report = &body["import"];
    assert_eq!(report["imported"], 2);
    assert_eq!(report["batches_committed"], 1);
    assert_eq!(
        report["failed_batch"],
        json!({"first_row": 3, "last_row": 4})
    );
    assert_eq!(app.user_names(&t.admin).await, ["ann", "bob", "boss"]);
}

#[tokio::test]
async fn a_dry_run_checks_every_row_against_the_tenant_and_the_file_and_writes_nothing() {
    let app = spawn_app().await;
    let t = app.tenant("dry.example.com").await;
    let file = format!(
        "{HEADER}\n{}\n{}\n{}\n{}\n",
        csv_row("ann", "2001"),
        csv_row("boss", "2002"),
        csv_row("ANN", "2003"),
        "bob,Bob,b@example.com,StandardUser,2004,short,ext-pass-1,123456,maybe,",
    );
    let resp = app
        .import(
            &t.admin,
            "?dry_run=true&batch_size=1",
            "text/csv",
            file.clone(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.expect("json");
    let at: Vec<_> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["detail"]["row"].as_u64().unwrap_or(0),
                e["detail"]["column"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        at,
        [
            (2, "name".to_owned()),
            (3, "name".to_owned()),
            (4, "enable_dnd".to_owned())
        ],
        "{body}"
    );
    assert_eq!(body["import"]["valid"], 1);
    assert_eq!(body["import"]["imported"], 0);
    assert_eq!(app.user_names(&t.admin).await, ["boss"]);
    // A clean file's dry run answers 200 and still writes nothing.
    let clean = format!("{HEADER}\n{}\n", csv_row("ann", "2001"));
    let report = ok(app
        .import(&t.admin, "?dry_run=true", "text/csv", clean)
        .await)
    .await;
    assert_eq!(
        (report["valid"].clone(), report["imported"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(app.user_names(&t.admin).await, ["boss"]);
}

#[tokio::test]
async fn imports_are_refused_to_weaker_roles_and_for_unknown_columns_and_oversized_files() {
    let app = spawn_app_with(|c| c.import_max_bytes = 4096).await;
    let t = app.tenant("refuse.example.com").await;
    app.create_user(&t.admin, &user_body("sam", "201")).await;
    let sam = app
        .token_for("sam", "Passw0rd-123", "refuse.example.com")
        .await;
    let file = format!("{HEADER}\n{}\n", csv_row("ann", "2001"));
    let resp = app.import(&sam, "", "text/csv", file.clone()).await;
    assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let resp = app.import(&t.admin, "", "text/plain", file).await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "format");
    let resp = app
        .import(&t.admin, "", "text/csv", "name,shoe_size\nann,42\n".into())
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(
        (
            err["detail"]["row"].clone(),
            err["detail"]["column"].clone()
        ),
        (json!(0), json!("shoe_size"))
    );
    let mut big = format!("{HEADER}\n");
    for i in 0..100 {
        big.push_str(&csv_row(&format!("u{i}"), &format!("{}", 5000 + i)));
        big.push('\n');
    }
    let resp = app
        .import(&t.admin, "?batch_size=10", "text/csv", big)
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.expect("json");
    assert!(body.to_string().contains("import_max_bytes"), "{body}");
    // What was read before the limit is imported in whole batches only.
    let imported = body["import"]["imported"].as_u64().expect("imported");
    assert_eq!(imported % 10, 0);
    assert_eq!(app.user_names(&t.admin).await.len() as u64, imported + 2);
}

#[tokio::test]
async fn an_export_lists_the_tenants_matching_users_and_imports_into_another_tenant() {
    let app = spawn_app().await;
    let a = app.tenant("export-a.example.com").await;
    let b = app.tenant("export-b.example.com").await;
    let file = format!(
        "{HEADER}\n{}\n{}\n{}\n",
        csv_row("ann", "2001"),
        csv_row("bob", "2002"),
        csv_row("cat", "2003")
    );
    ok(app.import(&a.admin, "", "text/csv", file).await).await;
    let resp = app
        .get(
            "/api/users/export?format=csv&filter=startswith(name,'b')",
            Some(&a.admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/csv"));
    let csv = resp.text().await.expect("text");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "header, bob, boss: {csv}");
    assert!(lines[0].starts_with("id,name,role,extension_number,email,display_name"));
    assert!(
        !csv.contains("Passw0rd") && !csv.contains("$argon2"),
        "no secret exported"
    );
    // Another tenant sees nothing of it.
    let resp = app
        .get("/api/users/export?format=jsonl", Some(&b.admin))
        .await;
    let jsonl = resp.text().await.expect("text");
    let names: Vec<String> = jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json line")["name"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["boss"]);
    // The export, with secrets added, imports into tenant b.
    let mut rows = csv.lines();
    let header = format!(
        "{},password,extension_password,voicemail_pin",
        rows.next().unwrap_or("")
    );
    let body: String = std::iter::once(header)
        .chain(
            rows.filter(|l| l.contains(",bob,"))
                .map(|l| format!("{l},Passw0rd-789,ext-pass-9,998877")),
        )
        .collect::<Vec<_>>()
        .join("\n");
    let report = ok(app.import(&b.admin, "", "text/csv", body).await).await;
    assert_eq!(report["imported"], 1, "{report}");
    app.token_for("bob", "Passw0rd-789", "export-b.example.com")
        .await;
    let resp = app
        .get("/api/users/export?filter=bogus%20eq%201", Some(&a.admin))
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
}

#[tokio::test]
async fn the_cli_twin_imports_a_file_offline_with_the_same_checks() {
    let mut app = spawn_app().await;
    app.tenant("cli.example.com").await;
    app.stop().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("users.csv");
    let bcrypt = bcrypt::hash("migrated-bcrypt", 4).expect("bcrypt");
    std::fs::write(
        &file,
        format!(
            "name,display_name,email,role,extension_number,password,password_hash,extension_password,voicemail_pin\n\
             ann,Ann,a@example.com,StandardUser,2001,Passw0rd-123,,ext-pass-1,123456\n\
             bob,Bob,b@example.com,StandardUser,2002,,{bcrypt},ext-pass-1,123456\n"
        ),
    )
    .expect("write");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(args)
            .arg("--data-dir")
            .arg(app.data_dir())
            .env("SWITCHBOARD_LOG_LEVEL", "warn")
            .env("SWITCHBOARD_ARGON2_MEMORY_KIB", "64")
            .env("SWITCHBOARD_ARGON2_ITERATIONS", "1")
            .output()
            .expect("runs the binary")
    };
    let path = file.to_str().expect("utf8 path");
    // A tenant that does not exist, then a dry run: nothing written.
    let out = run(&["users", "import", path, "--tenant", "nope.example.com"]);
    assert_eq!(out.status.code(), Some(1));
    let out = run(&[
        "users",
        "import",
        path,
        "--tenant",
        "cli.example.com",
        "--dry-run",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 valid, 0 imported"));
    let out = run(&["users", "import", path, "--tenant", "cli.example.com"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 imported"));
    // Again: every row is named as taken, exit 1.
    let out = run(&["users", "import", path, "--tenant", "cli.example.com"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("row 1 (line 2), column name: ALREADY_EXISTS"),
        "{err}"
    );
    assert!(
        err.contains("row 2 (line 3), column name: ALREADY_EXISTS"),
        "{err}"
    );
    app.restart().await;
    let admin = app
        .token_for("boss", "Passw0rd-123", "cli.example.com")
        .await;
    assert_eq!(app.user_names(&admin).await, ["ann", "bob", "boss"]);
    app.token_for("bob", "migrated-bcrypt", "cli.example.com")
        .await;
    app.token_for("ann", "Passw0rd-123", "cli.example.com")
        .await;
}

#[tokio::test]
async fn an_import_is_not_cut_off_by_the_request_deadline() {
    let deadline_ms = 300;
    let app = spawn_app_with(|c| c.request_deadline_ms = deadline_ms).await;
    let t = app.tenant("deadline.example.com").await;
    // The file arrives in two parts, the second well after the deadline (the
    // time passing is what is tested): the import is exempt from
    // request_deadline_ms, its size limit bounds it instead.
    let first = format!("{HEADER}\n{}\n", csv_row("ann", "2001"));
    let second = format!("{}\n", csv_row("bob", "2002"));
    let parts = futures::stream::iter([first, second]).then(move |part| async move {
        if part.starts_with("bob") {
            tokio::time::sleep(std::time::Duration::from_millis(deadline_ms * 3)).await;
        }
        Ok::<_, std::io::Error>(part)
    });
    let resp = app
        .client
        .post(app.url("/api/users/import"))
        .bearer_auth(&t.admin)
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(parts))
        .send()
        .await
        .expect("request");
    let report = ok(resp).await;
    assert_eq!(report["imported"], 2, "{report}");
}
