//! Meetings (issue #17): a user's scheduled meetings (CRUD on the declared
//! collection), the controls that record the desired state, the media
//! server's reports of the actual state, and the status and participants
//! showing both; permissions (the owner or the reported chairman only;
//! another tenant's ids 404); illegal controls 409 with their codes.

use crate::helpers::{assert_error, spawn_app, TenantCtx, TestApp};
use crate::queues::{json_of, user_with_role};
use crate::sse::{connect, read_frames};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A meeting to create (shared with the authorization matrix).
pub fn body(subject: &str) -> Value {
    json!({"mode": "VIDEO", "subject": subject, "timezone": "Europe/Paris",
           "scheduled_start_at": "2026-12-02T09:00:00Z",
           "scheduled_end_at": "2026-12-02T10:00:00Z"})
}

/// The running meeting of the authorization matrix's world: p1 (whose
/// controls the matrix calls) and p2 (whom it kicks out).
pub fn matrix_state() -> Value {
    on_call(json!([{"id": "p1", "display_name": "One"}, {"id": "p2", "display_name": "Two"}]))
}

struct World {
    t: TenantCtx,
    media: String,
    ann: String,
    bob: String,
    room: String,
}

async fn world(app: &TestApp, domain: &str) -> World {
    let t = app.tenant(domain).await;
    let (_, media) = user_with_role(app, &t, "media", "190", "Replicator").await;
    let (_, ann) = user_with_role(app, &t, "ann", "101", "StandardUser").await;
    let (_, bob) = user_with_role(app, &t, "bob", "102", "StandardUser").await;
    let resp = app
        .post("/api/user/meetings", Some(&ann), &body("Weekly"))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let room = json_of(resp).await["id"].as_str().expect("id").to_owned();
    World {
        t,
        media,
        ann,
        bob,
        room,
    }
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.post(path, Some(token), &body).await
}

/// Posts a control without a body to `base/action`.
async fn act(app: &TestApp, token: &str, base: &str, action: &str) -> reqwest::Response {
    post(app, token, &format!("{base}/{action}"), json!({})).await
}

/// The media server reports `state` of `room`.
async fn report(app: &TestApp, media: &str, room: &str, state: Value) -> Value {
    let resp = post(app, media, &format!("/api/meetings/{room}/state"), state).await;
    assert_eq!(resp.status(), StatusCode::OK);
    json_of(resp).await
}

/// Ann (chairing, from her extension) and a guest, muted or not.
fn ann_and_guest(guest_muted: bool) -> Value {
    json!([
        {"id": "p-ann", "display_name": "Ann", "chairman": true, "extension_number": "101"},
        {"id": "p-ext", "display_name": "+4930", "muted": guest_muted, "position": 1}
    ])
}

fn on_call(participants: Value) -> Value {
    json!({"status": "ON_CALL", "participants": participants})
}

#[tokio::test]
async fn a_user_creates_lists_shows_updates_and_destroys_a_meeting() {
    let app = spawn_app().await;
    let w = world(&app, "meet-crud.example").await;
    let list = json_of(app.get("/api/user/meetings", Some(&w.ann)).await).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["items"][0]["id"], json!(w.room));
    assert_eq!(list["items"][0]["subject"], "Weekly");
    assert_eq!(list["items"][0]["capacity"], 9, "the default");
    let path = format!("/api/user/meetings/{}", w.room);
    let resp = post(
        &app,
        &w.ann,
        &path,
        json!({"capacity": 20, "subject": "Daily"}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let shown = json_of(app.get(&path, Some(&w.ann)).await).await;
    assert_eq!(
        (shown["capacity"].clone(), shown["subject"].clone()),
        (json!(20), json!("Daily"))
    );
    assert_eq!(shown["mode"], "VIDEO");
    let created = shown["created_at"]
        .as_str()
        .expect("created_at is set by the service");
    assert!(created.ends_with('Z') && created.len() == 20, "{created}");
    assert_eq!(shown["ownership"], true);
    // Bob neither sees nor changes ann's meeting.
    let bobs = json_of(app.get("/api/user/meetings", Some(&w.bob)).await).await;
    assert_eq!(bobs["count"], 0);
    assert_error(
        app.get(&path, Some(&w.bob)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let resp = post(&app, &w.ann, &format!("{path}/destroy"), json!({})).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(&path, Some(&w.ann)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let status = app.get(&format!("{path}/status"), Some(&w.ann)).await;
    assert_error(status, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn bad_meetings_and_bad_controls_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let w = world(&app, "meet-bad.example").await;
    let cases = [
        (json!({"subject": "x", "timezone": "UTC"}), "mode"),
        (
            json!({"mode": "AUDIO", "subject": "", "timezone": "UTC"}),
            "subject",
        ),
        (
            json!({"mode": "AUDIO", "subject": "x", "timezone": "UTC", "capacity": 5}),
            "capacity",
        ),
        (
            json!({"mode": "AUDIO", "subject": "x", "timezone": "UTC",
                "scheduled_start_at": "2026-12-02T10:00:00Z",
                "scheduled_end_at": "2026-12-02T09:00:00Z"}),
            "scheduled_end_at",
        ),
        (
            json!({"mode": "AUDIO", "subject": "x", "timezone": "UTC",
                "scheduled_start_at": "yesterday"}),
            "scheduled_start_at",
        ),
    ];
    for (body, field) in cases {
        let resp = post(&app, &w.ann, "/api/user/meetings", body).await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
    let base = format!("/api/user/meetings/{}", w.room);
    report(&app, &w.media, &w.room, on_call(json!([{"id": "p1"}]))).await;
    for (path, body, field) in [
        (
            "participants/p1/position",
            json!({"position": 9}),
            "position",
        ),
        ("participants/p1/position", json!({}), "position"),
        ("participants/invite", json!({"number": "12ab"}), "number"),
        (
            "participants/layout",
            json!({"items": ["p1", "p1"]}),
            "items[1]",
        ),
        ("participants/layout", json!({"items": "p1"}), "items"),
    ] {
        let resp = post(&app, &w.ann, &format!("{base}/{path}"), body).await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert!(err.to_string().contains(field), "{path} {field}: {err}");
    }
    // A bad report names its field and records nothing.
    let head = app.log().head();
    for (body, field) in [
        (json!({"status": "BUSY"}), "status"),
        (
            on_call(json!([{"id": "a"}, {"id": "a"}])),
            "participants[1].id",
        ),
        (json!({"status": "ON_CALL", "colour": "red"}), "colour"),
    ] {
        let resp = post(
            &app,
            &w.media,
            &format!("/api/meetings/{}/state", w.room),
            body,
        )
        .await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
    assert_eq!(app.log().head(), head);
}

#[tokio::test]
async fn desired_and_actual_state_meet_through_the_change_stream_and_the_media_servers_report() {
    let app = spawn_app().await;
    let w = world(&app, "meet-e2e.example").await;
    let base = format!("/api/user/meetings/{}", w.room);
    // The media server follows the change stream.
    let resp = connect(&app, &w.media, None, "").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();

    // Nothing runs yet: stopping, muting are illegal.
    let stop = act(&app, &w.ann, &base, "stop").await;
    assert_error(stop, StatusCode::CONFLICT, "MEETING_STATE_UNCHANGED").await;
    let lock = act(&app, &w.ann, &base, "lock").await;
    assert_error(lock, StatusCode::CONFLICT, "MEETING_NOT_RUNNING").await;

    // Ann starts it: the desired state says running, the actual does not.
    let resp = act(&app, &w.ann, &base, "start").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let status = json_of(app.get(&format!("{base}/status"), Some(&w.ann)).await).await;
    assert_eq!(status["status"], "OFFLINE");
    assert_eq!(status["desired"], json!({"status": "ONLINE"}));

    // The media server sees the control on its stream, acts, reports.
    let frames = read_frames(&mut stream, &mut buf, 1).await;
    assert_eq!(frames[0].event, "meetings");
    assert_eq!(frames[0].data["item"]["id"], json!(w.room));
    assert_eq!(frames[0].data["item"]["action"], "start");
    let out = report(&app, &w.media, &w.room, on_call(ann_and_guest(false))).await;
    assert_eq!(out, json!({"id": w.room, "recorded": true}));
    let status = json_of(app.get(&format!("{base}/status"), Some(&w.ann)).await).await;
    assert_eq!(
        status,
        json!({"status": "ON_CALL", "locked": false, "muted": false, "recording": false,
               "desired": {}}),
        "desired and actual agree"
    );
    // The same report again writes nothing.
    let head = app.log().head();
    let again = report(&app, &w.media, &w.room, on_call(ann_and_guest(false))).await;
    assert_eq!(again["recorded"], false);
    assert_eq!(app.log().head(), head);

    // Muting a participant who is not there is illegal; the one who is, fine.
    let absent = act(&app, &w.ann, &base, "participants/nobody/mute").await;
    assert_error(absent, StatusCode::CONFLICT, "PARTICIPANT_NOT_PRESENT").await;
    let resp = act(&app, &w.ann, &base, "participants/p-ext/mute").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = act(&app, &w.ann, &base, "start_recording").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = post(
        &app,
        &w.ann,
        &format!("{base}/participants/invite"),
        json!({"number": "+4930123"}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let frames = read_frames(&mut stream, &mut buf, 3).await;
    let actions: Vec<&str> = frames
        .iter()
        .map(|f| f.data["item"]["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(actions, ["mute_participant", "start_recording", "invite"]);
    assert_eq!(frames[0].data["item"]["participant_id"], "p-ext");
    assert_eq!(frames[2].data["item"]["number"], "+4930123");

    // Before the media server acts, both show where they differ.
    let status = json_of(app.get(&format!("{base}/status"), Some(&w.ann)).await).await;
    assert_eq!(status["recording"], false);
    assert_eq!(status["desired"], json!({"recording": true}));
    let people = json_of(app.get(&format!("{base}/participants"), Some(&w.ann)).await).await;
    let ext = &people["items"][1];
    assert_eq!(ext["id"], "p-ext");
    assert_eq!(ext["muted"], false);
    assert_eq!(ext["desired"], json!({"muted": true}));

    // It acts and reports: they agree again.
    report(
        &app,
        &w.media,
        &w.room,
        json!({"status": "ON_CALL", "recording": true, "participants": ann_and_guest(true)}),
    )
    .await;
    let status = json_of(app.get(&format!("{base}/status"), Some(&w.ann)).await).await;
    assert_eq!(
        (status["recording"].clone(), status["desired"].clone()),
        (json!(true), json!({}))
    );
    let one = json_of(
        app.get(&format!("{base}/participants/p-ext"), Some(&w.ann))
            .await,
    )
    .await;
    assert_eq!(
        one,
        json!({"id": "p-ext", "display_name": "+4930", "muted": true, "chairman": false,
               "position": 1, "desired": {}})
    );
    let again = act(&app, &w.ann, &base, "participants/p-ext/mute").await;
    assert_error(again, StatusCode::CONFLICT, "MEETING_STATE_UNCHANGED").await;

    // Kicking out: 204, and the participant shows the wish until gone.
    let resp = act(&app, &w.ann, &base, "participants/p-ext/destroy").await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let one = json_of(
        app.get(&format!("{base}/participants/p-ext"), Some(&w.ann))
            .await,
    )
    .await;
    assert_eq!(one["desired"], json!({"present": false}));
    report(
        &app,
        &w.media,
        &w.room,
        json!({"status": "ON_CALL", "recording": true, "participants": [
            {"id": "p-ann", "display_name": "Ann", "chairman": true, "extension_number": "101"}
        ]}),
    )
    .await;
    let gone = app
        .get(&format!("{base}/participants/p-ext"), Some(&w.ann))
        .await;
    assert_error(gone, StatusCode::NOT_FOUND, "NOT_FOUND").await;

    // With the media server's counter, an older report arriving late is
    // stale: 200, nothing written, the newer state stands.
    let newer = report(
        &app,
        &w.media,
        &w.room,
        json!({"status": "OFFLINE", "sequence": 10}),
    )
    .await;
    assert_eq!(newer["recorded"], true);
    let late = json!({"status": "ON_CALL", "sequence": 9, "participants": ann_and_guest(false)});
    assert_eq!(
        report(&app, &w.media, &w.room, late).await["recorded"],
        false
    );
    let status = json_of(app.get(&format!("{base}/status"), Some(&w.ann)).await).await;
    assert_eq!(status["status"], "OFFLINE");

    // The audit log names who asked what of the meeting.
    let audit = json_of(app.get("/api/audit_logs?top=100", Some(&w.t.admin)).await).await;
    assert!(
        audit.to_string().contains("participants.p-ext.removed"),
        "{audit}"
    );
}

#[tokio::test]
async fn only_the_owner_or_the_reported_chairman_controls_and_other_tenants_get_404() {
    let app = spawn_app().await;
    let w = world(&app, "meet-perm.example").await;
    let other = world(&app, "meet-other.example").await;
    let base = format!("/api/user/meetings/{}", w.room);
    // Bob (same tenant) and the other tenant's users: not found.
    for token in [&w.bob, &other.ann, &other.t.admin] {
        let resp = post(&app, token, &format!("{base}/start"), json!({})).await;
        assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
        let resp = app.get(&format!("{base}/status"), Some(token)).await;
        assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    // The other tenant's media server cannot report this tenant's meeting.
    let resp = post(
        &app,
        &other.media,
        &format!("/api/meetings/{}/state", w.room),
        on_call(json!([])),
    )
    .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    // A standard user cannot report state at all.
    let resp = post(
        &app,
        &w.ann,
        &format!("/api/meetings/{}/state", w.room),
        on_call(json!([])),
    )
    .await;
    assert_error(resp, StatusCode::FORBIDDEN, "FORBIDDEN").await;

    // Once the media server reports bob chairing it, bob controls it.
    report(
        &app,
        &w.media,
        &w.room,
        on_call(
            json!([{"id": "p-bob", "chairman": true, "extension_number": "102"},
                       {"id": "p-x"}]),
        ),
    )
    .await;
    let resp = act(&app, &w.bob, &base, "lock").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let status = json_of(app.get(&format!("{base}/status"), Some(&w.bob)).await).await;
    assert_eq!(status["desired"], json!({"locked": true}));
    // Bob hands the chair on: once reported, bob is out again.
    let resp = act(&app, &w.bob, &base, "participants/p-x/chairman").await;
    assert_eq!(resp.status(), StatusCode::OK);
    report(
        &app,
        &w.media,
        &w.room,
        on_call(json!([{"id": "p-bob", "extension_number": "102"},
                       {"id": "p-x", "chairman": true}])),
    )
    .await;
    let resp = act(&app, &w.bob, &base, "unlock").await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    // Ann, the owner, still does.
    let resp = act(&app, &w.ann, &base, "unlock").await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Bob's CRUD view never included it (a chairman controls, not owns).
    let resp = app.get(&base, Some(&w.bob)).await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

/// A meeting's status and participants, as its owner reads them.
async fn read_state(app: &TestApp, token: &str, base: &str) -> (Value, Value) {
    let status = json_of(app.get(&format!("{base}/status"), Some(token)).await).await;
    let people = json_of(app.get(&format!("{base}/participants"), Some(token)).await).await;
    (status, people)
}

#[tokio::test]
async fn desired_and_actual_state_survive_a_restart_from_a_snapshot_and_from_a_full_replay() {
    let mut app = crate::helpers::spawn_app_with(|c| c.snapshot_every_events = 5).await;
    let w = world(&app, "meet-replay.example").await;
    let base = format!("/api/user/meetings/{}", w.room);
    assert_eq!(
        act(&app, &w.ann, &base, "start").await.status(),
        StatusCode::OK
    );
    report(&app, &w.media, &w.room, on_call(ann_and_guest(false))).await;
    for action in [
        "lock",
        "participants/p-ext/mute",
        "participants/p-ext/destroy",
    ] {
        assert!(
            act(&app, &w.ann, &base, action).await.status().is_success(),
            "{action}"
        );
    }
    let before = read_state(&app, &w.ann, &base).await;
    assert_eq!(before.0["desired"], json!({"locked": true}));
    assert_eq!(
        before.1["items"][1]["desired"],
        json!({"muted": true, "present": false})
    );
    // From the shutdown snapshot.
    app.restart().await;
    assert_eq!(
        read_state(&app, &w.ann, &base).await,
        before,
        "from the snapshot"
    );
    app.stop().await;
    // From the log alone.
    std::fs::remove_file(switchboard::snapshots::path_in(&app.data_dir())).expect("snapshot");
    app.restart().await;
    assert_eq!(
        read_state(&app, &w.ann, &base).await,
        before,
        "from a full replay"
    );
}
