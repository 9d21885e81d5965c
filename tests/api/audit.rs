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
    canonical_of(&app.state().pipeline.projector().read())
}

/// What the population created.
#[allow(dead_code)]
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
    populate(&app).await;
    let live = live_canonical(&app);
    let head = app.state().pipeline.log().head();
    assert!(live.len() >= 2, "system scope and the tenant");
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
    populate(&app).await;
    let snap_path = snapshot::path_in(&app.data_dir());
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
async fn a_snapshot_from_another_log_is_not_used() {
    let mut one = spawn_app().await;
    populate(&one).await;
    one.stop().await;
    let mut two = spawn_app().await;
    populate(&two).await;
    let live_two = live_canonical(&two);
    two.stop().await;
    std::fs::create_dir_all(snapshot::path_in(&two.data_dir()).parent().expect("parent"))
        .expect("mkdir");
    std::fs::copy(
        snapshot::path_in(&one.data_dir()),
        snapshot::path_in(&two.data_dir()),
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
