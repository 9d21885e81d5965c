//! Call recordings: the PBX uploads the audio through the file store and
//! reports the metadata naming the file (idempotent by its own recording
//! id); parties see theirs under `/user/recordings`, administrators the
//! tenant's; destroy removes the file (the blob goes at the sweep) and the
//! audit log names who; retention destroys old recordings with their files.

use crate::files::{upload, wav};
use crate::helpers::{assert_error, spawn_app, spawn_app_with, TenantCtx, TestApp};
use crate::queues::{json_of, user_with_role};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A tenant with a PBX account (190, Replicator) and three users: ann
/// (101), bob (102), carl (103). The waiting-list tests build on it too.
pub(crate) struct World {
    pub(crate) t: TenantCtx,
    pub(crate) pbx: String,
    pub(crate) ann: String,
    pub(crate) bob: String,
    pub(crate) carl: String,
}

pub(crate) async fn world(app: &TestApp, domain: &str) -> World {
    let t = app.tenant(domain).await;
    let (_, pbx) = user_with_role(app, &t, "pbx", "190", "Replicator").await;
    let (_, ann) = user_with_role(app, &t, "ann", "101", "StandardUser").await;
    let (_, bob) = user_with_role(app, &t, "bob", "102", "StandardUser").await;
    let (_, carl) = user_with_role(app, &t, "carl", "103", "StandardUser").await;
    World {
        t,
        pbx,
        ann,
        bob,
        carl,
    }
}

fn meta(recording_id: &str, file_id: &str, started_at: &str) -> Value {
    json!({
        "recording_id": recording_id, "file_id": file_id,
        "caller": "101", "callee": "102",
        "started_at": started_at, "ended_at": started_at, "duration": 12,
    })
}

/// Uploads a recording's audio (temporary, as the PBX does) and reports it.
async fn record(app: &TestApp, w: &World, key: &str, samples: usize) -> (String, String, String) {
    let (file, digest) = upload(
        app,
        &w.pbx,
        &format!("filename={key}.wav&temporary=true"),
        &wav(samples),
    )
    .await;
    let resp = app
        .post(
            "/api/recordings",
            Some(&w.pbx),
            &meta(key, &file, "2024-05-01T10:00:00Z"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = json_of(resp).await["id"].as_str().expect("id").to_owned();
    (id, file, digest)
}

#[tokio::test]
async fn a_reported_recording_is_listed_shown_and_downloaded_by_its_parties_only() {
    let app = spawn_app().await;
    let w = world(&app, "rec.example").await;
    let (id, file, digest) = record(&app, &w, "r-1", 40).await;

    // The same recording id again: 200, the same id, nothing appended.
    let head = app.log().head();
    let again = app
        .post(
            "/api/recordings",
            Some(&w.pbx),
            &meta("r-1", &file, "2024-05-01T10:00:00Z"),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(json_of(again).await["id"], json!(id));
    assert_eq!(app.log().head(), head, "a repeat writes nothing");

    let list = json_of(app.get("/api/recordings", Some(&w.t.admin)).await).await;
    assert_eq!(list["count"], 1, "{list}");
    assert_eq!(
        list["items"][0],
        json!({"id": id, "caller": "101", "callee": "102",
               "started_at": "2024-05-01T10:00:00Z", "ended_at": "2024-05-01T10:00:00Z"})
    );
    let one = json_of(
        app.get(&format!("/api/recordings/{id}"), Some(&w.t.admin))
            .await,
    )
    .await;
    let detail = &one["items"][0];
    assert_eq!(detail["file_name"], "r-1.wav");
    assert_eq!(detail["file_size"], wav(40).len());
    assert_eq!(detail["duration"], 12);
    let url = detail["file_url"].as_str().expect("url");
    assert_eq!(url, format!("/api/blobs/{digest}"));

    // The parties see it and download its audio; another user does not.
    for token in [&w.ann, &w.bob] {
        let mine = json_of(app.get("/api/user/recordings", Some(token)).await).await;
        assert_eq!(mine["count"], 1);
        let shown = json_of(
            app.get(&format!("/api/user/recordings/{id}"), Some(token))
                .await,
        )
        .await;
        assert_eq!(shown["items"][0]["file_url"], url);
        let audio = app.get(url, Some(token)).await;
        assert_eq!(audio.status(), StatusCode::OK);
        assert_eq!(audio.bytes().await.expect("bytes").to_vec(), wav(40));
    }
    let none = json_of(app.get("/api/user/recordings", Some(&w.carl)).await).await;
    assert_eq!(none["count"], 0);
    for path in [format!("/api/user/recordings/{id}"), url.to_owned()] {
        assert_error(
            app.get(&path, Some(&w.carl)).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
    }
    // A user is not an administrator; another tenant sees nothing.
    let resp = app.get("/api/recordings", Some(&w.ann)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let other = app.tenant("other.example").await;
    for path in [format!("/api/recordings/{id}"), url.to_owned()] {
        assert_error(
            app.get(&path, Some(&other.admin)).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
    }
    let theirs = json_of(app.get("/api/recordings", Some(&other.admin)).await).await;
    assert_eq!(theirs["count"], 0);
}

#[tokio::test]
async fn bad_recordings_are_refused_naming_the_field_and_only_the_pbx_reports() {
    let app = spawn_app().await;
    let w = world(&app, "badrec.example").await;
    let (file, _) = upload(&app, &w.pbx, "filename=a.wav", &wav(20)).await;
    let good = meta("r-1", &file, "2024-05-01T10:00:00Z");
    for (field, value) in [
        ("file_id", Value::Null),
        ("file_id", json!("bm9wZQ")),
        ("recording_id", json!("")),
        ("started_at", json!("yesterday")),
        ("file_url", json!("/elsewhere")),
        ("file_size", json!(1)),
        ("duration", json!(-1)),
        ("colour", json!("red")),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let resp = app.post("/api/recordings", Some(&w.pbx), &body).await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert_eq!(err["detail"]["field"], field, "{err}");
    }
    // A file the admin uploaded is not the PBX's to claim.
    let (admins, _) = upload(&app, &w.t.admin, "filename=b.wav", &wav(21)).await;
    let resp = app
        .post(
            "/api/recordings",
            Some(&w.pbx),
            &meta("r-2", &admins, "2024-05-01T10:00:00Z"),
        )
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "file_id");
    assert_eq!(
        json_of(app.get("/api/recordings", Some(&w.t.admin)).await).await["count"],
        0,
        "nothing of the refused records was written"
    );
    // One file backs one recording.
    let resp = app.post("/api/recordings", Some(&w.pbx), &good).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = app
        .post(
            "/api/recordings",
            Some(&w.pbx),
            &meta("r-3", &file, "2024-05-01T10:00:00Z"),
        )
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "file_id");
    // Users do not report recordings.
    let resp = app
        .post(
            "/api/recordings",
            Some(&w.ann),
            &meta("r-4", &file, "2024-05-01T10:00:00Z"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn destroy_removes_the_recording_and_its_file_and_the_audit_names_who() {
    let app = spawn_app().await;
    let w = world(&app, "gone.example").await;
    let (mine, file, digest) = record(&app, &w, "r-1", 30).await;
    let (theirs, other_file, _) = record(&app, &w, "r-2", 31).await;
    let destroy = |path: String, token: String| {
        let app = &app;
        async move { app.post(&path, Some(&token), &json!({})).await }
    };
    // Not a party: as if it did not exist. A user cannot use the admin route.
    let resp = destroy(
        format!("/api/user/recordings/{mine}/destroy"),
        w.carl.clone(),
    )
    .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let resp = destroy(format!("/api/recordings/{mine}/destroy"), w.ann.clone()).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // A party destroys it: 204, then 404; its file is gone.
    let resp = destroy(
        format!("/api/user/recordings/{mine}/destroy"),
        w.bob.clone(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = destroy(
        format!("/api/user/recordings/{mine}/destroy"),
        w.bob.clone(),
    )
    .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_error(
        app.get(&format!("/api/recordings/{mine}"), Some(&w.t.admin))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.get(&format!("/api/files/{file}"), Some(&w.t.admin))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    // An administrator destroys any.
    let resp = destroy(
        format!("/api/recordings/{theirs}/destroy"),
        w.t.admin.clone(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(&format!("/api/files/{other_file}"), Some(&w.t.admin))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let left = json_of(app.get("/api/recordings", Some(&w.t.admin)).await).await;
    assert_eq!(left["count"], 0);
    // The audit log says who destroyed which.
    let audit = json_of(
        app.get(
            "/api/audit_logs?filter=object_type eq 'CALL_RECORDING'",
            Some(&w.t.admin),
        )
        .await,
    )
    .await;
    let who: Vec<(String, String)> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["object_name"].as_str().unwrap_or("").to_owned(),
                i["user_name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(who.contains(&("r-1".into(), "bob".into())), "{audit}");
    assert!(who.contains(&("r-2".into(), "boss".into())), "{audit}");
    // The sweep deletes the blob no file names any more.
    let blob = app
        .data_dir()
        .join("files/blobs/sha256")
        .join(&digest[..2])
        .join(&digest);
    assert!(blob.is_file());
    let st = app.state();
    let grace = std::time::Duration::from_secs(st.config.temporary_file_grace_secs);
    switchboard::files::gc::collect(&st.pipeline, &st.queries, &st.files, st.clock.now(), grace)
        .await
        .expect("collect");
    assert!(!blob.is_file(), "the destroyed recording's audio is swept");
}

#[tokio::test]
async fn recordings_past_the_retention_are_destroyed_with_their_files() {
    let app = spawn_app_with(|c| c.records_retention_days = 30).await;
    let w = world(&app, "keeprec.example").await;
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| switchboard_events::envelope::format_rfc3339(t);
    let mut files = Vec::new();
    for (key, at) in [
        ("old", now - time::Duration::days(45)),
        ("new", now - time::Duration::days(2)),
    ] {
        let (file, _) = upload(
            &app,
            &w.pbx,
            "filename=x.wav&temporary=true",
            &wav(files.len() + 10),
        )
        .await;
        let resp = app
            .post("/api/recordings", Some(&w.pbx), &meta(key, &file, &fmt(at)))
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        files.push(file);
    }
    let st = app.state();
    let expired =
        switchboard::records::recordings::expire(&st.pipeline, &st.history, st.queries.applied())
            .await
            .expect("expire");
    assert_eq!(expired, 1);
    let list = json_of(app.get("/api/recordings", Some(&w.t.admin)).await).await;
    assert_eq!(list["count"], 1);
    assert_error(
        app.get(&format!("/api/files/{}", files[0]), Some(&w.t.admin))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    crate::helpers::ok(
        app.get(&format!("/api/files/{}", files[1]), Some(&w.t.admin))
            .await,
    )
    .await;
}
