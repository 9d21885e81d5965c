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

/// Creates a meeting of `token`'s user; its id.
async fn create(app: &TestApp, token: &str, body: Value) -> String {
    let resp = app.post("/api/user/meetings", Some(token), &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    json_of(resp).await["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn a_meeting_room_takes_a_number_of_the_tenant_shows_its_domain_and_token_and_gives_the_number_back(
) {
    let app = spawn_app().await;
    let w = world(&app, "meet-numbers.example").await;
    let path = format!("/api/user/meetings/{}", w.room);
    let shown = json_of(app.get(&path, Some(&w.ann)).await).await;
    assert_eq!(
        shown["extension_number"], "900000",
        "the lowest free: {shown}"
    );
    assert_eq!(shown["domain"], "meet-numbers.example");
    assert_eq!(shown["sbc_host"], Value::Null, "no SBC settings to show");
    assert_eq!(shown["sbc_port"], 8883, "PortSIP's default");
    let token = shown["token"].as_str().expect("a join token").to_owned();
    assert!(token.len() >= 32, "{token}");
    let again = json_of(app.get(&path, Some(&w.ann)).await).await;
    assert_eq!(again["token"], json!(token), "stable across reads");
    let listed = json_of(app.get("/api/user/meetings", Some(&w.ann)).await).await;
    assert_eq!(listed["items"][0]["extension_number"], "900000");

    // The number is the tenant's: looked up as a conference room, refused
    // to a user, a queue or another meeting naming it.
    let owner = json_of(
        app.get("/api/extension_numbers/900000", Some(&w.t.admin))
            .await,
    )
    .await;
    assert_eq!(
        owner,
        json!({"id": w.room, "extension_number": "900000", "name": "Weekly",
               "type": "CONFERENCE_ROOM"})
    );
    let resp = app
        .post(
            "/api/users",
            Some(&w.t.admin),
            &crate::helpers::user_body("carl", "900000"),
        )
        .await;
    assert_error(resp, StatusCode::CONFLICT, "EXTENSION_NUMBER_IN_USE").await;
    let queue = json!({"name": "Support", "extension_number": "900000",
                       "polling_strategy": "RING_SIMULTANEOUSLY"});
    let resp = app.post("/api/call_queues", Some(&w.t.admin), &queue).await;
    assert_error(resp, StatusCode::CONFLICT, "EXTENSION_NUMBER_IN_USE").await;
    for taken in ["900000", "101"] {
        let mut b = body("Taken");
        b["extension_number"] = json!(taken);
        let resp = post(&app, &w.bob, "/api/user/meetings", b).await;
        assert_error(resp, StatusCode::CONFLICT, "EXTENSION_NUMBER_IN_USE").await;
    }
    // A free number named by the client is kept; the next allocated one
    // skips what is taken; a number never changes afterwards.
    let mut b = body("Named");
    b["extension_number"] = json!("555");
    let named = create(&app, &w.bob, b).await;
    let named_path = format!("/api/user/meetings/{named}");
    let shown = json_of(app.get(&named_path, Some(&w.bob)).await).await;
    assert_eq!(shown["extension_number"], "555");
    let next = create(&app, &w.bob, body("Next")).await;
    let shown = json_of(
        app.get(&format!("/api/user/meetings/{next}"), Some(&w.bob))
            .await,
    )
    .await;
    assert_eq!(shown["extension_number"], "900001");
    assert_ne!(shown["token"], json!(token), "each meeting its own token");
    for bad in [
        json!({"extension_number": "556"}),
        json!({"token": "mine"}),
        json!({"domain": "x.example"}),
    ] {
        let resp = post(&app, &w.bob, &named_path, bad.clone()).await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        let field = bad.as_object().and_then(|o| o.keys().next().cloned());
        assert!(
            err.to_string().contains(&field.unwrap_or_default()),
            "{err}"
        );
    }
    for bad in [json!("12"), json!("12a4"), json!(555)] {
        let mut b = body("Bad");
        b["extension_number"] = bad;
        let resp = post(&app, &w.bob, "/api/user/meetings", b).await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert!(err.to_string().contains("extension_number"), "{err}");
    }

    // Destroyed, the meeting gives its number back; another tenant numbers
    // its own rooms.
    let resp = post(&app, &w.ann, &format!("{path}/destroy"), json!({})).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let gone = app
        .get("/api/extension_numbers/900000", Some(&w.t.admin))
        .await;
    assert_error(gone, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let reused = create(&app, &w.ann, body("Again")).await;
    let shown = json_of(
        app.get(&format!("/api/user/meetings/{reused}"), Some(&w.ann))
            .await,
    )
    .await;
    assert_eq!(shown["extension_number"], "900000");
    let other = app.tenant("meet-numbers-other.example").await;
    let (_, olga) = user_with_role(&app, &other, "olga", "101", "StandardUser").await;
    let theirs = create(&app, &olga, body("Theirs")).await;
    let shown = json_of(
        app.get(&format!("/api/user/meetings/{theirs}"), Some(&olga))
            .await,
    )
    .await;
    assert_eq!(shown["extension_number"], "900000");
    assert_eq!(shown["domain"], "meet-numbers-other.example");

    // A deleted owner's rooms give their numbers back too.
    let (dora_id, dora) = user_with_role(&app, &w.t, "dora", "104", "StandardUser").await;
    let mut b = body("Dora's");
    b["extension_number"] = json!("777");
    create(&app, &dora, b).await;
    let resp = post(
        &app,
        &w.t.admin,
        &format!("/api/users/{dora_id}/destroy"),
        json!({}),
    )
    .await;
    assert!(resp.status().is_success(), "{}", resp.status());
    let gone = app
        .get("/api/extension_numbers/777", Some(&w.t.admin))
        .await;
    assert_error(gone, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn invitees_read_the_meeting_but_only_its_owner_changes_it() {
    let app = spawn_app().await;
    let t = app.tenant("meet-invite.example").await;
    let (_, ann) = user_with_role(&app, &t, "ann", "101", "StandardUser").await;
    let (bob_id, bob) = user_with_role(&app, &t, "bob", "102", "StandardUser").await;
    let (_, carl) = user_with_role(&app, &t, "carl", "103", "StandardUser").await;
    let mut b = body("Planning");
    b["internal_invitees"] = json!([bob_id]);
    let room = create(&app, &ann, b).await;
    let own = create(&app, &bob, body("Bob's own")).await;
    let path = format!("/api/user/meetings/{room}");

    // Bob lists his own and the one he is invited to, told apart by
    // `ownership` (also a filter); ann sees hers as the owner.
    let list = json_of(app.get("/api/user/meetings", Some(&bob)).await).await;
    assert_eq!(list["count"], 2, "{list}");
    let by_id = |id: &str| -> Value {
        list["items"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["id"] == id).cloned())
            .unwrap_or_else(|| panic!("{id} in {list}"))
    };
    assert_eq!(by_id(&room)["ownership"], false);
    assert_eq!(by_id(&own)["ownership"], true);
    let invited = json_of(
        app.get("/api/user/meetings?filter=ownership eq false", Some(&bob))
            .await,
    )
    .await;
    assert_eq!(invited["count"], 1);
    assert_eq!(invited["items"][0]["id"], json!(room));
    let mine = json_of(
        app.get("/api/user/meetings?filter=ownership eq true", Some(&bob))
            .await,
    )
    .await;
    assert_eq!(mine["items"][0]["id"], json!(own));
    let paged = json_of(
        app.get("/api/user/meetings?orderby=subject desc&top=1", Some(&bob))
            .await,
    )
    .await;
    assert_eq!(
        (paged["count"].clone(), paged["items"][0]["subject"].clone()),
        (json!(2), json!("Planning"))
    );
    let resp = app
        .get("/api/user/meetings?filter=owner eq true", Some(&bob))
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    let anns = json_of(app.get("/api/user/meetings", Some(&ann)).await).await;
    assert_eq!(anns["count"], 1);
    assert_eq!(anns["items"][0]["ownership"], true);

    // Bob reads it (with its number and join token) but cannot change or
    // destroy it: 403; carl, not invited, does not find it: 404.
    let shown = json_of(app.get(&path, Some(&bob)).await).await;
    assert_eq!(shown["ownership"], false);
    assert_eq!(shown["subject"], "Planning");
    assert!(shown["token"].as_str().is_some_and(|t| !t.is_empty()));
    let update = post(&app, &bob, &path, json!({"subject": "Mine now"})).await;
    assert_error(update, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let destroy = post(&app, &bob, &format!("{path}/destroy"), json!({})).await;
    assert_error(destroy, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    for resp in [
        app.get(&path, Some(&carl)).await,
        post(&app, &carl, &path, json!({"subject": "x"})).await,
        post(&app, &carl, &format!("{path}/destroy"), json!({})).await,
    ] {
        assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    let carls = json_of(app.get("/api/user/meetings", Some(&carl)).await).await;
    assert_eq!(carls["count"], 0);
    let other = app.tenant("meet-invite-other.example").await;
    assert_error(
        app.get(&path, Some(&other.admin)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;

    // Ann takes bob off the list: he no longer reads it.
    let resp = post(&app, &ann, &path, json!({"internal_invitees": []})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_error(
        app.get(&path, Some(&bob)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let list = json_of(app.get("/api/user/meetings", Some(&bob)).await).await;
    assert_eq!(list["count"], 1);
}

#[tokio::test]
async fn invitees_must_be_users_of_the_tenant_and_another_tenants_user_is_the_same_400() {
    let app = spawn_app().await;
    let t = app.tenant("meet-who.example").await;
    let (_, ann) = user_with_role(&app, &t, "ann", "101", "StandardUser").await;
    let (bob_id, _) = user_with_role(&app, &t, "bob", "102", "StandardUser").await;
    let other = app.tenant("meet-who-other.example").await;
    let (olga_id, _) = user_with_role(&app, &other, "olga", "101", "StandardUser").await;
    let head = app.log().head();
    let mut messages = Vec::new();
    for (invitees, field) in [
        (json!([bob_id, olga_id]), "internal_invitees[1]"),
        (json!(["not-an-id"]), "internal_invitees[0]"),
        (json!([bob_id, "MA=="]), "internal_invitees[1]"),
        (json!([bob_id, 7]), "internal_invitees[1]"),
        (json!("bob"), "internal_invitees"),
    ] {
        let mut b = body("Who");
        b["internal_invitees"] = invitees.clone();
        let resp = post(&app, &ann, "/api/user/meetings", b).await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert!(err.to_string().contains(field), "{invitees}: {err}");
        messages.push(err["message"].clone());
    }
    assert_eq!(app.log().head(), head, "nothing written");
    // Another tenant's user reads exactly as an id nobody has.
    assert_eq!(messages[0], messages[2], "{messages:?}");

    let room = create(&app, &ann, body("Who")).await;
    let path = format!("/api/user/meetings/{room}");
    let resp = post(&app, &ann, &path, json!({"internal_invitees": [olga_id]})).await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert!(err.to_string().contains("internal_invitees[0]"), "{err}");
    let resp = post(&app, &ann, &path, json!({"internal_invitees": [bob_id]})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let shown = json_of(app.get(&path, Some(&ann)).await).await;
    assert_eq!(shown["internal_invitees"], json!([bob_id]));
}

#[tokio::test]
async fn a_report_naming_a_participant_layout_or_invite_is_refused_as_unaddressable() {
    let app = spawn_app().await;
    let w = world(&app, "meet-reserved.example").await;
    for reserved in ["layout", "invite"] {
        let state = on_call(json!([{"id": "p1"}, {"id": reserved}]));
        let resp = post(
            &app,
            &w.media,
            &format!("/api/meetings/{}/state", w.room),
            state,
        )
        .await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert!(err.to_string().contains("participants[1].id"), "{err}");
    }
    // …so `GET …/participants/{participant_id}` never has to tell one
    // from the routes of the same name.
    report(&app, &w.media, &w.room, on_call(json!([{"id": "p1"}]))).await;
    let base = format!("/api/user/meetings/{}/participants", w.room);
    let p1 = json_of(app.get(&format!("{base}/p1"), Some(&w.ann)).await).await;
    assert_eq!(p1["id"], "p1");
}
