//! Audit and replay: replay equivalence, export → import, snapshots,
//! `?as_of=`, `/api/audit_logs` and per-object history.

use crate::helpers::{spawn_app, spawn_app_with, user_body, TenantCtx, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use switchboard_events::{EventLog, LogConfig, SledLog};
use switchboard_projections::rebuild::Until;
use switchboard_projections::{canonical, snapshot, Directory};

async fn json_of(resp: reqwest::Response) -> Value {
    resp.json().await.expect("json")
}

/// Canonical text of every tenant's state.
fn canonical_of(dir: &Directory) -> BTreeMap<u64, String> {
    canonical::tenants(dir)
        .into_iter()
        .filter_map(|t| {
            canonical::tenant_state(dir, t)
                .expect("renders")
                .map(|v| (t.0, canonical::to_text(&v)))
        })
        .collect()
}

fn live_canonical(app: &TestApp) -> BTreeMap<u64, String> {
    canonical_of(&app.state().queries.read())
}

/// What the population created.
struct World {
    t: TenantCtx,
    alice: String,
    bob: String,
    group: String,
}

/// A tenant with users, a changed user, a group with a member, an
/// extension and a deleted user.
async fn populate(app: &TestApp) -> World {
    let t = app.tenant("acme.example").await;
    let alice = app.create_user(&t.admin, &user_body("alice", "101")).await;
    let bob = app.create_user(&t.admin, &user_body("bob", "102")).await;
    let carol = app.create_user(&t.admin, &user_body("carol", "103")).await;
    let r = app
        .post(
            &format!("/api/users/{alice}"),
            Some(&t.admin),
            &json!({"display_name": "Alice Liddell", "email": "alice@wonder.land"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post("/api/groups", Some(&t.admin), &json!({"name": "Sales"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let group = json_of(r).await["id"].as_str().expect("id").to_owned();
    let r = app
        .post(
            &format!("/api/groups/{group}/members/101"),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    assert!(r.status().is_success(), "member added: {}", r.status());
    let r = app
        .post(
            &format!("/api/users/{carol}/destroy"),
            Some(&t.admin),
            &json!({}),
        )
        .await;
    assert!(r.status().is_success(), "carol deleted");
    World {
        t,
        alice,
        bob,
        group,
    }
}

/// What [`populate_calls`] created.
struct Calls {
    queue: String,
    ring_group: String,
    business: String,
    personal: String,
}

/// Adds the other collections to a populated tenant: a business and a
/// personal contact (changed, favorited), a call queue with alice as an
/// agent on break, a ring group, and alice's presence.
async fn populate_calls(app: &TestApp, w: &World) -> Calls {
    let created = |r: reqwest::Response| async move {
        assert_eq!(r.status(), StatusCode::CREATED);
        json_of(r).await["id"].as_str().expect("id").to_owned()
    };
    let ok = |r: reqwest::Response| {
        assert!(r.status().is_success(), "{}", r.status());
    };
    let t = &w.t;
    let business = created(
        app.post("/api/contacts", Some(&t.admin), &json!({"name": "Plumber"}))
            .await,
    )
    .await;
    ok(app
        .post(
            &format!("/api/contacts/{business}"),
            Some(&t.admin),
            &json!({"name": "Plumber & Sons"}),
        )
        .await);
    let alice = app.token_for("alice", "Passw0rd-123", &t.domain).await;
    let personal = created(
        app.post("/api/user/contacts", Some(&alice), &json!({"name": "Mum"}))
            .await,
    )
    .await;
    ok(app
        .post(
            &format!("/api/user/business_contacts/{business}/favorite"),
            Some(&alice),
            &json!({}),
        )
        .await);
    let queue = created(
        app.post(
            "/api/call_queues",
            Some(&t.admin),
            &json!({"name": "Support", "extension_number": "800", "polling_strategy": "RING_SIMULTANEOUSLY"}),
        )
        .await,
    )
    .await;
    ok(app
        .post(
            &format!("/api/call_queues/{queue}/agents"),
            Some(&t.admin),
            &json!({"items": [{"extension_number": "101", "skill_level": 3}]}),
        )
        .await);
    for status in ["LOGGED_IN", "BREAK"] {
        ok(app
            .post(
                &format!("/api/user/call_queues/{queue}/agent"),
                Some(&alice),
                &json!({ "status": status }),
            )
            .await);
    }
    let ring_group = created(
        app.post(
            "/api/ring_groups",
            Some(&t.admin),
            &json!({"name": "Front desk", "extension_number": "810", "ring_strategy": "PAGING_INTERCOM"}),
        )
        .await,
    )
    .await;
    ok(app
        .post(
            "/api/user/presence",
            Some(&alice),
            &json!({"presence": "AWAY", "presence_note": "lunch"}),
        )
        .await);
    Calls {
        queue,
        ring_group,
        business,
        personal,
    }
}

#[tokio::test]
async fn contacts_queues_and_agents_have_history_and_audit_entries() {
    let app = spawn_app().await;
    let w = populate(&app).await;
    let c = populate_calls(&app, &w).await;
    let history = |path: String| {
        let app = &app;
        let token = w.t.admin.clone();
        async move { app.get(&path, Some(&token)).await }
    };

    let h = json_of(history(format!("/api/contacts/{}/history", c.business)).await).await;
    let items = h["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{h}");
    assert_eq!(items[0]["action"], "CREATE");
    assert_eq!(
        items[1]["changes"],
        json!([{"field": "name", "old": "Plumber", "new": "Plumber & Sons"}])
    );
    assert_eq!(items[1]["user_name"], "boss");
    // A personal contact is nobody's business: 404 like an unknown id.
    let r = history(format!("/api/contacts/{}/history", c.personal)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let h = json_of(history(format!("/api/call_queues/{}/history", c.queue)).await).await;
    let items = h["items"].as_array().expect("items");
    assert_eq!(
        items.len(),
        2,
        "created, agent added (status is the agent's): {h}"
    );
    assert_eq!(
        items[1]["changes"][0]["new"],
        json!({"agent": "alice", "skill_level": 3})
    );
    let h = json_of(history(format!("/api/ring_groups/{}/history", c.ring_group)).await).await;
    assert_eq!(h["items"][0]["action"], "CREATE", "{h}");

    let all = json_of(app.get("/api/audit_logs?top=100", Some(&w.t.admin)).await).await;
    let items = all["items"].as_array().expect("items");
    let of = |t: &str| items.iter().filter(|i| i["object_type"] == t).count();
    assert_eq!(of("CONTACT"), 2, "{all}");
    assert_eq!(of("PERSONAL_CONTACT"), 1);
    assert_eq!(of("CALL_QUEUE"), 2);
    assert_eq!(of("RING_GROUP"), 1);
    let state = |i: &Value, k: &str| -> Value {
        serde_json::from_str(i[k].as_str().unwrap_or("{}")).expect("state is JSON")
    };
    let on_break = items
        .iter()
        .find(|i| {
            i["object_type"] == "CALL_QUEUE_AGENT" && state(i, "new_state")["status"] == "BREAK"
        })
        .unwrap_or_else(|| panic!("the break is audited: {all}"));
    assert_eq!(
        state(on_break, "old_state"),
        json!({"call_queue": "Support", "status": "READY"})
    );
    assert_eq!(on_break["user_name"], "alice", "who put her on break");
    assert_eq!(on_break["object_name"], "alice");
    assert!(
        !all.to_string().contains("lunch"),
        "presence is telemetry, not audited"
    );

    // A queue's update shows its core fields before → after.
    let r = app
        .post(
            &format!("/api/call_queues/{}", c.queue),
            Some(&w.t.admin),
            &json!({"name": "Help desk"}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let h = json_of(history(format!("/api/call_queues/{}/history", c.queue)).await).await;
    assert_eq!(
        h["items"][2]["changes"],
        json!([{"field": "name", "old": "Support", "new": "Help desk"}]),
        "{h}"
    );
}

fn read_dir_files(dir: &Path) -> BTreeMap<u64, String> {
    std::fs::read_dir(dir)
        .expect("output dir")
        .map(|e| {
            let e = e.expect("entry");
            let name = e.file_name().to_string_lossy().into_owned();
            let id: u64 = name
                .trim_end_matches(".json")
                .parse()
                .expect("tenant file name");
            (id, std::fs::read_to_string(e.path()).expect("read"))
        })
        .collect()
}

#[tokio::test]
async fn replay_at_the_head_gives_the_live_projection_as_canonical_json() {
    let mut app = spawn_app().await;
    let w = populate(&app).await;
    populate_calls(&app, &w).await;
    let live = live_canonical(&app);
    let text = live.values().cloned().collect::<String>();
    for section in ["contacts", "call_queues", "ring_groups", "presence"] {
        assert!(
            text.contains(section),
            "{section} is in the canonical state"
        );
    }
    let head = app.state().queries.log_head();
    assert!(live.len() >= 2, "system scope and the tenant");
    // While the server runs, the tools refuse clearly (sled's lock).
    let busy = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["log", "verify", "--data-dir"])
        .arg(app.data_dir())
        .output()
        .expect("runs");
    assert_eq!(busy.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("in use by another process"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    app.stop().await;

    let out = app.dir.path().join("replayed");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["replay", "--until-offset", &head.to_string(), "--out"])
        .arg(&out)
        .arg("--data-dir")
        .arg(app.data_dir())
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let replayed = read_dir_files(&out);
    assert_eq!(replayed, live, "replay at the head == live projection");

    // --until-time: the prefix recorded at or before that time.
    let mid = head / 2;
    let (at, next_at) = {
        let log = SledLog::open(LogConfig::new(app.data_dir())).expect("opens");
        let get = |o: u64| log.get(o).expect("reads").expect("present").recorded_at;
        let r = (get(mid), get(mid + 1));
        log.close().await;
        r
    };
    let stamp = switchboard_events::export::format_micros(at);
    let out_t = app.dir.path().join("replayed-at-time");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["replay", "--until-time", &stamp, "--out"])
        .arg(&out_t)
        .arg("--data-dir")
        .arg(app.data_dir())
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let by_time = switchboard::tools::rebuild_dir(
        &app.data_dir(),
        Until::Time(
            time::OffsetDateTime::parse(&stamp, &time::format_description::well_known::Rfc3339)
                .expect("time"),
        ),
    )
    .expect("replays");
    assert!(by_time.offset >= mid, "everything up to {mid} is included");
    if next_at > at {
        assert_eq!(by_time.offset, mid, "nothing recorded later is included");
    }
    assert_eq!(read_dir_files(&out_t), canonical_of(&by_time));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["replay", "--until-time", "yesterday", "--out"])
        .arg(&out_t)
        .arg("--data-dir")
        .arg(app.data_dir())
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2), "a bad time is a usage error");

    // An earlier offset gives an earlier (different) state.
    let early =
        switchboard::tools::rebuild_dir(&app.data_dir(), Until::Offset(head / 2)).expect("replays");
    assert_eq!(early.offset, head / 2);
    assert_ne!(canonical_of(&early), live);
}

#[tokio::test]
async fn export_then_import_gives_the_same_head_hash_and_the_same_state() {
    let mut app = spawn_app().await;
    populate(&app).await;
    let live = live_canonical(&app);
    app.stop().await;

    let (count, head) = switchboard::tools::verify(&app.data_dir()).expect("verifies");
    let file = app.dir.path().join("export.jsonl");
    let mut w = std::fs::File::create(&file).expect("create");
    let n =
        switchboard::tools::export(&app.data_dir(), Default::default(), &mut w).expect("exports");
    assert_eq!(n, count);
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(
        !text.contains("Passw0rd-123"),
        "no clear password in an export"
    );
    assert!(!text.contains("ext-pass-1"), "no clear extension password");

    let copy = app.dir.path().join("copy");
    let (count2, head2) = switchboard::tools::import(&copy, &file).expect("imports");
    assert_eq!((count2, head2.clone()), (count, head));
    let rebuilt = switchboard::tools::rebuild_dir(&copy, Until::Head).expect("replays");
    assert_eq!(canonical_of(&rebuilt), live);
}

#[tokio::test]
async fn a_snapshot_restart_gives_the_same_state_as_a_full_replay() {
    let mut app = spawn_app_with(|c| c.snapshot_every_events = 5).await;
    let w = populate(&app).await;
    populate_calls(&app, &w).await;
    let snap_path = switchboard::snapshots::path_in(&app.data_dir());
    // Periodic snapshots are taken in the background.
    let mut waited = 0;
    while !snap_path.exists() && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        waited += 1;
    }
    assert!(snap_path.exists(), "a periodic snapshot was written");
    let live = live_canonical(&app);
    app.stop().await;

    // The shutdown snapshot is at the head and matches the log.
    let bytes = std::fs::read(&snap_path).expect("snapshot");
    let header = snapshot::header(&bytes).expect("header");
    {
        let log = SledLog::open(LogConfig::new(app.data_dir())).expect("opens");
        assert_eq!(header.offset, log.head(), "shutdown snapshot at the head");
        let loaded = switchboard::snapshots::load(&app.data_dir(), &log);
        assert!(loaded.fallback.is_none(), "{:?}", loaded.fallback);
        assert_eq!(canonical_of(&loaded.directory), live);
        log.close().await;
    }
    let full = switchboard::tools::rebuild_dir(&app.data_dir(), Until::Head).expect("replays");
    assert_eq!(canonical_of(&full), live, "full replay == snapshot state");

    // Restarting from the snapshot gives the same state.
    app.restart().await;
    assert_eq!(live_canonical(&app), live);
    app.stop().await;

    // A damaged snapshot is refused and the full replay is used instead.
    let mut bytes = std::fs::read(&snap_path).expect("snapshot");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&snap_path, &bytes).expect("damage");
    {
        let log = SledLog::open(LogConfig::new(app.data_dir())).expect("opens");
        let loaded = switchboard::snapshots::load(&app.data_dir(), &log);
        assert!(loaded.fallback.is_some(), "a damaged snapshot is not used");
        log.close().await;
    }
    app.restart().await;
    assert_eq!(live_canonical(&app), live, "fell back to a full replay");
}

#[tokio::test]
async fn a_snapshot_of_the_previous_format_is_ignored_and_the_log_replayed() {
    let mut app = spawn_app().await;
    populate(&app).await;
    let live = live_canonical(&app);
    app.stop().await;
    let path = switchboard::snapshots::path_in(&app.data_dir());
    let mut bytes = std::fs::read(&path).expect("the shutdown snapshot");
    // A build before the compact rows wrote format 3 (same magic, same header).
    let old = snapshot::SNAPSHOT_FORMAT - 1;
    bytes[8..10].copy_from_slice(&old.to_le_bytes());
    std::fs::write(&path, &bytes).expect("rewrite");
    {
        let log = SledLog::open(LogConfig::new(app.data_dir())).expect("opens");
        let loaded = switchboard::snapshots::load(&app.data_dir(), &log);
        let why = loaded.fallback.expect("an old snapshot is not used");
        assert!(why.contains(&format!("format {old}")), "{why}");
        assert_eq!(loaded.offset, 0, "full replay");
        log.close().await;
    }
    app.restart().await;
    assert_eq!(
        live_canonical(&app),
        live,
        "the full replay gives the same state"
    );
}

#[tokio::test]
async fn a_snapshot_from_another_log_is_not_used() {
    let mut one = spawn_app().await;
    populate(&one).await;
    one.stop().await;
    let mut two = spawn_app().await;
    populate(&two).await;
    let live_two = live_canonical(&two);
    two.stop().await;
    std::fs::create_dir_all(
        switchboard::snapshots::path_in(&two.data_dir())
            .parent()
            .expect("parent"),
    )
    .expect("mkdir");
    std::fs::copy(
        switchboard::snapshots::path_in(&one.data_dir()),
        switchboard::snapshots::path_in(&two.data_dir()),
    )
    .expect("copy the foreign snapshot");
    let log = SledLog::open(LogConfig::new(two.data_dir())).expect("opens");
    let loaded = switchboard::snapshots::load(&two.data_dir(), &log);
    assert!(loaded.fallback.is_some(), "foreign snapshot refused");
    log.close().await;
    drop(log);
    two.restart().await;
    assert_eq!(live_canonical(&two), live_two);
}

/// The offset of the last applied event.
fn head(app: &TestApp) -> u64 {
    app.state().queries.applied()
}

/// RFC 3339 (with microseconds) of the event at `offset`.
fn time_of(app: &TestApp, offset: u64) -> String {
    let env = app
        .state()
        .queries
        .record(offset)
        .expect("reads")
        .expect("present");
    switchboard_events::export::format_micros(env.recorded_at)
}

#[tokio::test]
async fn as_of_answers_with_the_old_state_after_later_changes() {
    let app = spawn_app().await;
    let t = app.tenant("acme.example").await;
    let alice = app.create_user(&t.admin, &user_body("alice", "101")).await;
    let before = head(&app);
    let at = time_of(&app, before);
    // Later changes: rename alice's display name, add bob, a group, renumber
    // alice's extension.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = app
        .post(
            &format!("/api/users/{alice}"),
            Some(&t.admin),
            &json!({"display_name": "Alice Liddell"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.create_user(&t.admin, &user_body("bob", "102")).await;
    let r = app
        .post("/api/groups", Some(&t.admin), &json!({"name": "Sales"}))
        .await;
    let group = json_of(r).await["id"].as_str().expect("id").to_owned();
    let exts = json_of(
        app.get("/api/extensions?filter=number eq '101'", Some(&t.admin))
            .await,
    )
    .await;
    let ext = exts["items"][0]["id"]
        .as_str()
        .expect("extension")
        .to_owned();
    let r = app
        .post(
            &format!("/api/extensions/{ext}"),
            Some(&t.admin),
            &json!({"number": "201"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Live state.
    let u = json_of(
        app.get(&format!("/api/users/{alice}"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(u["display_name"], "Alice Liddell");
    assert_eq!(u["extension_number"], "201");

    for as_of in [before.to_string(), at.clone()] {
        let q = format!("as_of={as_of}");
        let u = json_of(
            app.get(&format!("/api/users/{alice}?{q}"), Some(&t.admin))
                .await,
        )
        .await;
        assert_eq!(u["display_name"], "alice display", "{q}");
        assert_eq!(u["extension_number"], "101", "{q}");
        let list = json_of(app.get(&format!("/api/users?{q}"), Some(&t.admin)).await).await;
        assert_eq!(list["count"], 2, "boss and alice only, {q}");
        let list = json_of(app.get(&format!("/api/groups?{q}"), Some(&t.admin)).await).await;
        assert_eq!(list["count"], 0, "no group yet, {q}");
        let r = app
            .get(&format!("/api/groups/{group}?{q}"), Some(&t.admin))
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{q}");
        let x = json_of(
            app.get(&format!("/api/extensions/{ext}?{q}"), Some(&t.admin))
                .await,
        )
        .await;
        assert_eq!(x["number"], "101", "{q}");
        let xs = json_of(
            app.get(
                &format!("/api/extensions?{q}&filter=number eq '201'"),
                Some(&t.admin),
            )
            .await,
        )
        .await;
        assert_eq!(xs["count"], 0, "{q}");
    }
    // The query options still apply to a past list.
    let list = json_of(
        app.get(
            &format!("/api/users?as_of={before}&filter=name eq 'alice'"),
            Some(&t.admin),
        )
        .await,
    )
    .await;
    assert_eq!(list["count"], 1);

    // Bad values and non-admins are refused.
    crate::helpers::assert_error(
        app.get("/api/users?as_of=yesterday", Some(&t.admin)).await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    let standard = app.token_for("alice", "Passw0rd-123", "acme.example").await;
    let r = app
        .get(&format!("/api/users?as_of={before}"), Some(&standard))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn history_shows_field_level_before_and_after_with_actors() {
    let app = spawn_app().await;
    let w = populate(&app).await;
    let r = app
        .post(
            &format!("/api/users/{}/password", w.alice),
            Some(&w.t.admin),
            &json!({"password": "N3w-Passw0rd-456"}),
        )
        .await;
    assert!(r.status().is_success(), "password reset: {}", r.status());

    let h = json_of(
        app.get(&format!("/api/users/{}/history", w.alice), Some(&w.t.admin))
            .await,
    )
    .await;
    let items = h["items"].as_array().expect("items");
    assert!(items.len() >= 3, "{h}");
    assert_eq!(items[0]["action"], "CREATE");
    assert_eq!(items[0]["user_name"], "boss", "the actor");
    assert!(items[0]["created_at"]
        .as_str()
        .expect("time")
        .ends_with('Z'));
    let update = items
        .iter()
        .find(|i| {
            i["action"] == "UPDATE"
                && i["changes"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["field"] == "display_name"))
        })
        .expect("the display name change");
    assert_eq!(update["action"], "UPDATE");
    assert_eq!(update["user_name"], "boss");
    let changes = update["changes"].as_array().expect("changes");
    assert!(
        changes.contains(
            &json!({"field": "display_name", "old": "alice display", "new": "Alice Liddell"})
        ),
        "{update}"
    );
    assert!(
        changes.contains(
            &json!({"field": "email", "old": "alice@example.com", "new": "alice@wonder.land"})
        ),
        "{update}"
    );
    assert_eq!(changes.len(), 2, "only the changed fields: {update}");
    let secret = items.last().expect("last");
    assert_eq!(
        secret["changes"],
        json!([{"field": "password", "old": "changed", "new": "changed"}])
    );
    let text = h.to_string();
    assert!(!text.contains("argon2"), "no hash in history");
    assert!(!text.contains("N3w-Passw0rd"), "no secret in history");

    // Groups and extensions have history too; unknown or foreign ids are 404.
    let g = json_of(
        app.get(
            &format!("/api/groups/{}/history", w.group),
            Some(&w.t.admin),
        )
        .await,
    )
    .await;
    let actions: Vec<&str> = g["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["action"].as_str().expect("a"))
        .collect();
    assert_eq!(actions, ["CREATE", "UPDATE"], "{g}");
    assert_eq!(
        g["items"][1]["changes"][0],
        json!({"field": "member", "old": null, "new": "alice"})
    );
    let exts = json_of(
        app.get("/api/extensions?filter=number eq '102'", Some(&w.t.admin))
            .await,
    )
    .await;
    let ext = exts["items"][0]["id"]
        .as_str()
        .expect("extension")
        .to_owned();
    let x = json_of(
        app.get(&format!("/api/extensions/{ext}/history"), Some(&w.t.admin))
            .await,
    )
    .await;
    assert_eq!(x["items"][0]["action"], "CREATE");
    assert_eq!(x["items"][0]["object_name"], "102");
    let r = app
        .get(&format!("/api/users/{}/history", w.group), Some(&w.t.admin))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "a group id is not a user"
    );
    let r = app
        .get(
            &format!("/api/call_queues/{}/history", w.group),
            Some(&w.t.admin),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "no such call queue");
    let other = app.tenant("other.example").await;
    let r = app
        .get(&format!("/api/users/{}/history", w.bob), Some(&other.admin))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "another tenant's user");
    let standard = app.token_for("bob", "Passw0rd-123", "acme.example").await;
    let r = app
        .get(&format!("/api/users/{}/history", w.bob), Some(&standard))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn audit_logs_are_served_from_the_log_per_tenant_with_list_options() {
    let app = spawn_app().await;
    let w = populate(&app).await;
    let other = app.tenant("other.example").await;
    app.create_user(&other.admin, &user_body("zed", "101"))
        .await;

    let all = json_of(app.get("/api/audit_logs", Some(&w.t.admin)).await).await;
    let items = all["items"].as_array().expect("items");
    assert!(all["count"].as_u64().expect("count") >= 8, "{all}");
    assert!(
        items.iter().all(|i| i["object_name"] != "zed"),
        "only its own tenant"
    );
    let first = &items[0];
    for key in [
        "id",
        "created_at",
        "source",
        "ip",
        "action",
        "object_type",
        "user_name",
        "object_name",
        "old_state",
        "new_state",
    ] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    // Newest first by default.
    assert!(items[0]["created_at"].as_str() >= items[items.len() - 1]["created_at"].as_str());

    let deleted = json_of(
        app.get(
            "/api/audit_logs?filter=action eq 'DELETE'",
            Some(&w.t.admin),
        )
        .await,
    )
    .await;
    assert_eq!(deleted["count"], 1, "{deleted}");
    assert_eq!(deleted["items"][0]["object_type"], "USER");
    assert_eq!(deleted["items"][0]["object_name"], "carol");
    assert_eq!(deleted["items"][0]["user_name"], "boss");

    let updated = json_of(
        app.get(
            "/api/audit_logs?search=alice&filter=action eq 'UPDATE' and object_type eq 'USER'",
            Some(&w.t.admin),
        )
        .await,
    )
    .await;
    let rename = updated["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| {
            i["new_state"]
                .as_str()
                .is_some_and(|s| s.contains("Alice Liddell"))
        })
        .expect("the rename");
    let old: Value =
        serde_json::from_str(rename["old_state"].as_str().expect("string")).expect("JSON text");
    let new: Value =
        serde_json::from_str(rename["new_state"].as_str().expect("string")).expect("JSON text");
    assert_eq!(
        old,
        json!({"display_name": "alice display", "email": "alice@example.com"})
    );
    assert_eq!(
        new,
        json!({"display_name": "Alice Liddell", "email": "alice@wonder.land"})
    );
    assert!(
        rename["ip"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("127.")),
        "{rename}"
    );
    assert_eq!(rename["source"], "portsip");

    let page = json_of(
        app.get(
            "/api/audit_logs?top=2&skip=1&orderby=created_at asc",
            Some(&w.t.admin),
        )
        .await,
    )
    .await;
    assert_eq!(page["items"].as_array().expect("items").len(), 2);
    assert_eq!(page["count"], all["count"]);
    crate::helpers::assert_error(
        app.get("/api/audit_logs?filter=nope eq 1", Some(&w.t.admin))
            .await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    let logins = json_of(
        app.get("/api/audit_logs?filter=action eq 'LOGIN'", Some(&w.t.admin))
            .await,
    )
    .await;
    assert!(
        logins["count"].as_u64().expect("count") >= 1,
        "sign-ins are audited"
    );

    // The system administrator sees every tenant.
    let sys = app.admin_token().await;
    let zed = json_of(
        app.get("/api/audit_logs?filter=object_name eq 'zed'", Some(&sys))
            .await,
    )
    .await;
    assert!(zed["count"].as_u64().expect("count") >= 1, "{zed}");
    let tenants = json_of(
        app.get("/api/audit_logs?filter=object_type eq 'TENANT'", Some(&sys))
            .await,
    )
    .await;
    assert_eq!(tenants["count"], 2);

    let standard = app.token_for("bob", "Passw0rd-123", "acme.example").await;
    let r = app.get("/api/audit_logs", Some(&standard)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_audit_index_survives_restarts_and_is_rebuilt_from_the_log_when_lost() {
    let mut app = spawn_app_with(|c| {
        c.snapshot_every_events = 5;
        c.snapshot_retain_every_events = 5;
        // Past states come from disk only here (compared below).
        c.as_of_cached_states = 0;
        c.as_of_recent_every_events = 0;
    })
    .await;
    let w = populate(&app).await;
    let page = |app: &TestApp| {
        let token = w.t.admin.clone();
        let base = app.base.clone();
        let client = app.client.clone();
        async move {
            let r = client
                .get(format!("{base}/api/audit_logs?top=100"))
                .bearer_auth(token)
                .send()
                .await
                .expect("audit_logs");
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.expect("json")
        }
    };
    let all = page(&app).await;
    assert!(all["count"].as_u64().is_some_and(|n| n > 3), "{all}");
    app.restart().await;
    assert_eq!(
        page(&app).await,
        all,
        "the index persisted across a restart"
    );
    app.stop().await;
    let index = switchboard::queries::audit::index_path(&app.data_dir());
    std::fs::remove_file(&index).expect("the index is a file beside the log");
    app.restart().await;
    assert_eq!(page(&app).await, all, "rebuilt from the log");

    // as_of from a retained snapshot answers as a replay from the start does.
    let retained = switchboard::snapshots::retained(&app.data_dir());
    assert!(!retained.is_empty(), "snapshots were retained for as_of");
    let at = head(&app) - 2;
    let url = format!("/api/users?as_of={at}");
    let from_snapshot = json_of(app.get(&url, Some(&w.t.admin)).await).await;
    std::fs::remove_dir_all(switchboard::snapshots::retained_dir(&app.data_dir()))
        .expect("remove retained snapshots");
    let from_start = json_of(app.get(&url, Some(&w.t.admin)).await).await;
    assert_eq!(from_snapshot, from_start);
}

/// Every entry of the audit log (system view, `sys`'s token), oldest
/// first, by pages.
async fn every_audit_entry(app: &TestApp, sys: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    loop {
        let url = format!("/api/audit_logs?top=50&skip={}", out.len());
        let page = json_of(app.get(&url, Some(sys)).await).await;
        let items = page["items"].as_array().expect("items").clone();
        if items.is_empty() {
            break;
        }
        out.extend(items);
    }
    out.reverse();
    out
}

#[tokio::test]
async fn a_restart_replaying_what_the_index_holds_neither_duplicates_nor_loses_entries() {
    // No projection snapshot: every start replays the whole log, most of
    // which the audit index already holds.
    let mut app = spawn_app_with(|c| c.snapshot_every_events = 0).await;
    let w = populate(&app).await;
    let sys = app.admin_token().await;
    let before = every_audit_entry(&app, &sys).await;
    assert!(before.len() > 3, "{before:?}");
    // Alice's tenant: the one her creation was recorded in.
    let created = before
        .iter()
        .find(|e| e["object_name"] == "alice" && e["action"] == "CREATE")
        .expect("alice's creation");
    let offset = switchboard::ids::parse(created["id"].as_str().expect("id")).expect("an id");
    let tenant = app
        .state()
        .queries
        .record(offset.0)
        .expect("reads")
        .expect("present")
        .tenant;
    let alice = switchboard::ids::parse(&w.alice).expect("alice's id");
    app.stop().await;

    // Events written while the service is down (as an import does): past
    // the index's head, so the next start must describe them.
    let log = SledLog::open(LogConfig::new(app.data_dir())).expect("opens");
    let renames: Vec<_> = ["Alice A", "Alice B"]
        .iter()
        .map(|name| {
            let mut changes = switchboard_events::Fields::new();
            changes.insert(
                "display_name".into(),
                switchboard_events::Value::Str((*name).into()),
            );
            switchboard_events::Event::UserUpdated(switchboard_events::domain::UserUpdated {
                user_id: alice,
                changes: changes.into(),
            })
            .to_new_event(tenant)
            .expect("encodes")
        })
        .collect();
    log.append(switchboard_events::AppendRequest {
        events: renames,
        expected: Vec::new(),
        metadata: std::sync::Arc::new(switchboard_events::Metadata::system("test")),
    })
    .await
    .expect("appends");
    log.close().await;
    drop(log);

    app.restart().await;
    let after = every_audit_entry(&app, &sys).await;
    assert_eq!(after.len(), before.len() + 2, "{after:?}");
    assert_eq!(
        after[..before.len()],
        before[..],
        "the indexed entries, once each"
    );
    for (entry, name) in after[before.len()..].iter().zip(["Alice A", "Alice B"]) {
        assert_eq!(entry["object_name"], "alice", "{entry}");
        assert!(entry["new_state"].to_string().contains(name), "{entry}");
    }
    let mut ids: Vec<String> = after.iter().map(|e| e["id"].to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), after.len(), "no entry twice");
}

#[tokio::test]
async fn start_up_keeps_as_of_copies_for_a_log_written_without_them() {
    let mut app = spawn_app_with(|c| {
        c.snapshot_every_events = 0;
        c.snapshot_retain_every_events = 4;
        c.as_of_cached_states = 0;
        c.as_of_recent_every_events = 0;
    })
    .await;
    let w = populate(&app).await;
    let head = head(&app);
    assert!(head >= 12, "a few intervals: {head}");
    app.stop().await;
    // As if the log had been imported: no copies kept.
    let _ = std::fs::remove_dir_all(switchboard::snapshots::retained_dir(&app.data_dir()));

    app.restart().await;
    let kept = switchboard::snapshots::retained(&app.data_dir());
    let every_multiple: Vec<u64> = (1..=head / 4).map(|i| i * 4).collect();
    assert_eq!(
        kept, every_multiple,
        "one copy per interval the replay passed"
    );
    // A past read from those copies answers as a replay from the start.
    let at = kept[kept.len() - 1] + 1;
    let url = format!("/api/users?as_of={at}");
    let from_copy = json_of(app.get(&url, Some(&w.t.admin)).await).await;
    app.restart().await;
    let kept_again = switchboard::snapshots::retained(&app.data_dir());
    assert_eq!(kept_again, kept, "a second start adds none");
    std::fs::remove_dir_all(switchboard::snapshots::retained_dir(&app.data_dir()))
        .expect("remove retained snapshots");
    let from_start = json_of(app.get(&url, Some(&w.t.admin)).await).await;
    assert_eq!(from_copy, from_start);
}

/// The user list (by name) as of `at`.
async fn users_as_of(app: &TestApp, token: &str, at: u64) -> Value {
    let url = format!("/api/users?as_of={at}&orderby=name");
    json_of(app.get(&url, Some(token)).await).await
}

#[tokio::test]
async fn a_past_state_from_memory_answers_as_one_rebuilt_from_the_log() {
    // Checkpoints every 3 events and the states materialised are kept.
    let mut app = spawn_app_with(|c| {
        c.as_of_recent_every_events = 3;
        c.as_of_recent_states = 100;
        c.snapshot_retain_every_events = 0;
    })
    .await;
    let w = populate(&app).await;
    let head = head(&app);
    let mut first = Vec::new();
    for at in (head - 6)..=head {
        first.push(users_as_of(&app, &w.t.admin, at).await);
    }
    // Again (each from a kept state now), and against a service with no
    // memory bases at all (each replayed from the start).
    let mut again = Vec::new();
    for at in (head - 6)..=head {
        again.push(users_as_of(&app, &w.t.admin, at).await);
    }
    assert_eq!(again, first);
    app.restart_with(|c| {
        c.as_of_cached_states = 0;
        c.as_of_recent_every_events = 0;
    })
    .await;
    let mut cold = Vec::new();
    for at in (head - 6)..=head {
        cold.push(users_as_of(&app, &w.t.admin, at).await);
    }
    assert_eq!(cold, first, "as replayed from the start");
}

#[tokio::test]
async fn a_past_state_built_for_one_tenant_shows_it_as_the_whole_past_state_does() {
    // Kept copies every 4 events (decoded one tenant at a time), nothing
    // kept in memory: every read below is built afresh.
    let app = spawn_app_with(|c| {
        c.snapshot_every_events = 4;
        c.snapshot_retain_every_events = 4;
        c.as_of_cached_states = 0;
        c.as_of_recent_every_events = 0;
    })
    .await;
    // Two tenants whose events interleave.
    let w = populate(&app).await;
    let other = app.tenant("globex.example").await;
    app.create_user(&other.admin, &user_body("gina", "201"))
        .await;
    populate_calls(&app, &w).await;
    app.create_user(&other.admin, &user_body("gus", "202"))
        .await;
    let head = head(&app);
    assert!(
        !switchboard::snapshots::retained(&app.data_dir()).is_empty(),
        "copies were kept"
    );
    let queries = &app.state().queries;
    let mut compared = 0;
    for at in 1..=head {
        let whole = queries.as_of(Until::Offset(at)).await.expect("whole");
        for tenant in canonical::tenants(&whole) {
            let one = queries
                .as_of_in(Until::Offset(at), Some(tenant))
                .await
                .expect("one tenant");
            assert_eq!(
                canonical::tenant_state(&one, tenant).expect("renders"),
                canonical::tenant_state(&whole, tenant).expect("renders"),
                "tenant {tenant:?} as of {at}"
            );
            compared += 1;
        }
    }
    assert!(
        compared > head as usize,
        "both tenants compared: {compared}"
    );
    // Over HTTP too: the tenant's list as of the head is the live one.
    let live = json_of(app.get("/api/users?orderby=name", Some(&other.admin)).await).await;
    let past = users_as_of(&app, &other.admin, head).await;
    assert_eq!(past, live);
}

#[tokio::test]
async fn a_default_history_page_is_the_slice_of_the_whole_history() {
    let app = spawn_app().await;
    let w = populate(&app).await;
    for i in 0..5 {
        let r = app
            .post(
                &format!("/api/users/{}", w.alice),
                Some(&w.t.admin),
                &json!({"display_name": format!("Alice {i}")}),
            )
            .await;
        assert!(r.status().is_success(), "update: {}", r.status());
    }
    let page = |query: String| {
        let app = &app;
        let (alice, admin) = (w.alice.clone(), w.t.admin.clone());
        async move {
            json_of(
                app.get(&format!("/api/users/{alice}/history?{query}"), Some(&admin))
                    .await,
            )
            .await
        }
    };
    // The default order reads only the page; an explicit `orderby` of the
    // same order takes the general path (every record, then the query).
    for (skip, top) in [
        (0, 1),
        (0, 2),
        (1, 3),
        (3, 100),
        (5, 1),
        (6, 2),
        (7, 5),
        (50, 1),
    ] {
        let fast = page(format!("skip={skip}&top={top}")).await;
        let general = page(format!("skip={skip}&top={top}&orderby=created_at")).await;
        assert_eq!(fast, general, "skip={skip} top={top}");
        assert!(fast["count"].as_u64().expect("count") >= 6, "{fast}");
    }
}
