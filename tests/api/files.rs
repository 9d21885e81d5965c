//! The file store over HTTP: resumable uploads (`/blobs/uploads…`).

use crate::helpers::{assert_error, spawn_app, spawn_app_with, user_body, TestApp};
use reqwest::{Response, StatusCode};

pub use switchboard::files::testing::wav;

/// An open upload: its id and token.
pub struct Upload {
    pub id: String,
    pub token: String,
}

/// Begins an upload (`query` like `filename=a.wav&temporary=true`).
pub async fn begin(app: &TestApp, token: &str, query: &str) -> Upload {
    let resp = app
        .client
        .post(app.url(&format!("/api/blobs/uploads?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(resp.headers()["range"], "0-0");
    Upload {
        id: header(&resp, "portsip-upload-id"),
        token: header(&resp, "portsip-upload-token"),
    }
}

fn header(resp: &Response, name: &str) -> String {
    resp.headers()[name].to_str().expect("header").to_owned()
}

/// Appends `bytes` (at `start` with a `Content-Range` if given).
pub async fn append(
    app: &TestApp,
    token: &str,
    up: &Upload,
    start: Option<u64>,
    bytes: &[u8],
) -> Response {
    let mut req = app
        .client
        .post(app.url(&format!("/api/blobs/uploads/{}/append", up.id)))
        .bearer_auth(token)
        .header("PortSIP-Upload-Token", &up.token)
        .body(bytes.to_vec());
    if let Some(s) = start {
        let end = s + bytes.len() as u64 - 1;
        req = req.header("Content-Range", format!("{s}-{end}"));
    }
    req.send().await.expect("send")
}

/// `GET …/status`.
pub async fn status(app: &TestApp, token: &str, id: &str) -> Response {
    app.get(&format!("/api/blobs/uploads/{id}/status"), Some(token))
        .await
}

#[tokio::test]
async fn an_upload_takes_chunks_in_order_and_reports_its_range() {
    let app = spawn_app().await;
    let t = app.tenant("a.example").await;
    let up = begin(&app, &t.admin, "filename=hello.wav").await;
    let bytes = wav(300);
    let resp = append(&app, &t.admin, &up, Some(0), &bytes[..100]).await;
    assert_eq!(resp.status(), StatusCode::NON_AUTHORITATIVE_INFORMATION);
    assert_eq!(resp.headers()["range"], "0-99");
    assert_eq!(header(&resp, "portsip-upload-id"), up.id);
    // Without Content-Range a chunk goes at the end.
    let resp = append(&app, &t.admin, &up, None, &bytes[100..200]).await;
    assert_eq!(resp.headers()["range"], "0-199");
    let resp = status(&app, &t.admin, &up.id).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(resp.headers()["range"], "0-199");
    // Out of order: 416 naming where to resume.
    let resp = append(&app, &t.admin, &up, Some(250), &bytes[250..]).await;
    assert_eq!(resp.headers()["range"], "0-199");
    let err = assert_error(
        resp,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "UPLOAD_OUT_OF_ORDER",
    )
    .await;
    assert_eq!(err["detail"]["offset"], 200);
    assert_eq!(err["detail"]["field"], "Content-Range");
    // A Content-Range that does not cover the body is refused.
    let resp = app
        .client
        .post(app.url(&format!("/api/blobs/uploads/{}/append", up.id)))
        .bearer_auth(&t.admin)
        .header("PortSIP-Upload-Token", &up.token)
        .header("Content-Range", "200-209")
        .body(vec![0u8; 5])
        .send()
        .await
        .expect("send");
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "Content-Range");
}

#[tokio::test]
async fn uploads_are_their_uploaders_and_need_their_token() {
    let app = spawn_app().await;
    let t = app.tenant("a.example").await;
    let b = app.tenant("b.example").await;
    app.create_user(&t.admin, &user_body("sam", "101")).await;
    let sam = app.token_for("sam", "Passw0rd-123", "a.example").await;
    let up = begin(&app, &t.admin, "filename=x.wav").await;
    for other in [&b.admin, &sam] {
        assert_error(
            status(&app, other, &up.id).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        assert_error(
            append(&app, other, &up, None, b"x").await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        let resp = app
            .post(
                &format!("/api/blobs/uploads/{}/destroy", up.id),
                Some(other),
                &serde_json::json!({}),
            )
            .await;
        assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    let forged = Upload {
        id: up.id.clone(),
        token: "not-the-token".into(),
    };
    let err = assert_error(
        append(&app, &t.admin, &forged, None, b"x").await,
        StatusCode::FORBIDDEN,
        "INVALID_UPLOAD_TOKEN",
    )
    .await;
    assert_eq!(err["detail"]["field"], "PortSIP-Upload-Token");
    // Garbage ids are just missing uploads.
    assert_error(
        status(&app, &t.admin, "not-a-uuid%2F..").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    // The uploader abandons it.
    let resp = app
        .post(
            &format!("/api/blobs/uploads/{}/destroy", up.id),
            Some(&t.admin),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        status(&app, &t.admin, &up.id).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn sizes_and_open_uploads_are_limited() {
    let app = spawn_app_with(|c| {
        c.file_max_bytes = 1000;
        c.upload_chunk_max_bytes = 600;
        c.uploads_per_tenant = 2;
    })
    .await;
    let t = app.tenant("a.example").await;
    let up = begin(&app, &t.admin, "filename=x.wav").await;
    // One request's body is bounded by upload_chunk_max_bytes...
    let err = assert_error(
        append(&app, &t.admin, &up, None, &[1u8; 700]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "FILE_TOO_LARGE",
    )
    .await;
    assert_eq!(err["detail"]["limit"], 600);
    // ...and the whole file by file_max_bytes.
    assert_eq!(
        append(&app, &t.admin, &up, None, &[1u8; 600])
            .await
            .status(),
        StatusCode::NON_AUTHORITATIVE_INFORMATION
    );
    let err = assert_error(
        append(&app, &t.admin, &up, None, &[1u8; 500]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "FILE_TOO_LARGE",
    )
    .await;
    assert_eq!(err["detail"]["limit"], 1000);
    assert_eq!(
        status(&app, &t.admin, &up.id).await.headers()["range"],
        "0-599"
    );
    begin(&app, &t.admin, "filename=y.wav").await;
    let resp = app
        .post(
            "/api/blobs/uploads?filename=z.wav",
            Some(&t.admin),
            &serde_json::json!({}),
        )
        .await;
    assert_error(resp, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_UPLOADS").await;
    let resp = app
        .post(
            "/api/blobs/uploads?filename=a/b",
            Some(&t.admin),
            &serde_json::json!({}),
        )
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "filename");
}

/// Completes an upload with `tail` as the last bytes; returns the file id
/// and the digest.
pub async fn complete(app: &TestApp, token: &str, up: &Upload, tail: &[u8]) -> (String, String) {
    let digest = sha256_hex(&all_bytes(app, token, up, tail).await);
    let resp = complete_with(app, token, up, &format!("sha256:{digest}"), tail).await;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (body["id"].as_str().expect("id").to_owned(), digest)
}

/// What the upload holds plus `tail` (read back by status: tests upload
/// whole files in the completion, so this is `tail` when nothing was appended).
async fn all_bytes(app: &TestApp, token: &str, up: &Upload, tail: &[u8]) -> Vec<u8> {
    let resp = status(app, token, &up.id).await;
    assert_eq!(
        resp.headers()["range"],
        "0-0",
        "complete() sends the whole file"
    );
    tail.to_vec()
}

/// `POST …/complete?digest=` with `tail` as the body.
pub async fn complete_with(
    app: &TestApp,
    token: &str,
    up: &Upload,
    digest: &str,
    tail: &[u8],
) -> Response {
    app.client
        .post(app.url(&format!(
            "/api/blobs/uploads/{}/complete?digest={digest}",
            up.id
        )))
        .bearer_auth(token)
        .header("PortSIP-Upload-Token", &up.token)
        .body(tail.to_vec())
        .send()
        .await
        .expect("send")
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    switchboard::files::Digest::of(bytes).hex()
}

/// Uploads `bytes` as one file; returns (file id, digest).
pub async fn upload(app: &TestApp, token: &str, query: &str, bytes: &[u8]) -> (String, String) {
    let up = begin(app, token, query).await;
    complete(app, token, &up, bytes).await
}

/// Neither the file's id nor its digest is there for this caller (404).
async fn assert_no_file(app: &TestApp, token: &str, id: &str, digest: &str) {
    assert_error(
        app.get(&format!("/api/files/{id}"), Some(token)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        download(app, token, digest).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

async fn download(app: &TestApp, token: &str, digest: &str) -> Response {
    app.get(&format!("/api/blobs/{digest}"), Some(token)).await
}

#[tokio::test]
async fn a_completed_upload_is_a_file_whose_bytes_download_verified() {
    let app = spawn_app().await;
    let t = app.tenant("a.example").await;
    let bytes = wav(5000);
    let up = begin(&app, &t.admin, "filename=hello%20world.wav").await;
    append(&app, &t.admin, &up, Some(0), &bytes[..3000]).await;
    // A wrong digest: refused, the upload stays as it was.
    let wrong = sha256_hex(b"something else");
    let err = assert_error(
        complete_with(&app, &t.admin, &up, &wrong, &bytes[3000..]).await,
        StatusCode::BAD_REQUEST,
        "DIGEST_INVALID",
    )
    .await;
    assert_eq!(err["detail"]["field"], "digest");
    let err = assert_error(
        complete_with(&app, &t.admin, &up, "md5:abc", &[]).await,
        StatusCode::BAD_REQUEST,
        "VALIDATE_FAILED",
    )
    .await;
    assert_eq!(err["detail"]["field"], "digest");
    let digest = sha256_hex(&bytes);
    let resp = complete_with(&app, &t.admin, &up, &digest, &[]).await;
    assert_error(resp, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;
    // A refused completion changes nothing: its body was not kept.
    assert_eq!(
        status(&app, &t.admin, &up.id).await.headers()["range"],
        "0-2999"
    );
    let resp = complete_with(&app, &t.admin, &up, &digest, &bytes[3000..]).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = resp.json::<serde_json::Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let f = crate::helpers::ok(app.get(&format!("/api/files/{id}"), Some(&t.admin)).await).await;
    assert_eq!(f["name"], "hello world.wav");
    assert_eq!(f["size"], bytes.len());
    assert_eq!(f["media_type"], "audio/vnd.wave");
    assert!(f["created_at"].as_str().is_some());
    let list = crate::helpers::ok(
        app.get(
            "/api/files?filter=name%20eq%20%27hello%20world.wav%27",
            Some(&t.admin),
        )
        .await,
    )
    .await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["items"][0]["id"], id.as_str());
    let resp = download(&app, &t.admin, &digest).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"hello world.wav\"; filename*=UTF-8''hello%20world.wav"
    );
    assert_eq!(
        resp.bytes().await.expect("bytes").as_ref(),
        bytes.as_slice()
    );
    // The upload is finished: gone.
    assert_error(
        status(&app, &t.admin, &up.id).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn the_media_type_comes_from_the_bytes() {
    let app = spawn_app().await;
    let t = app.tenant("a.example").await;
    let up = begin(&app, &t.admin, "filename=evil.wav").await;
    let bytes = b"MZ\x90\0 this is not audio at all".to_vec();
    let resp = complete_with(&app, &t.admin, &up, &sha256_hex(&bytes), &bytes).await;
    let err = assert_error(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
    assert!(err["detail"]["media_type"].as_str().is_some());
    let list = crate::helpers::ok(app.get("/api/files", Some(&t.admin)).await).await;
    assert_eq!(list["count"], 0, "a refused upload never becomes a file");
}

#[tokio::test]
async fn files_are_per_tenant_and_per_uploader_even_with_the_same_bytes() {
    let app = spawn_app().await;
    let a = app.tenant("a.example").await;
    let b = app.tenant("b.example").await;
    app.create_user(&a.admin, &user_body("sam", "101")).await;
    let sam = app.token_for("sam", "Passw0rd-123", "a.example").await;
    let bytes = wav(64);
    let (id, digest) = upload(&app, &a.admin, "filename=a.wav", &bytes).await;
    // Another tenant: neither the id nor the digest.
    assert_no_file(&app, &b.admin, &id, &digest).await;
    let resp = app
        .post(
            &format!("/api/files/{id}/destroy"),
            Some(&b.admin),
            &serde_json::json!({}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    // Once B has the same bytes as a file of its own, B reads its own file;
    // A's id stays invisible to it.
    let (b_id, b_digest) = upload(&app, &b.admin, "filename=b.wav", &bytes).await;
    assert_eq!(b_digest, digest);
    assert_ne!(b_id, id);
    assert_eq!(
        download(&app, &b.admin, &digest).await.status(),
        StatusCode::OK
    );
    assert_error(
        app.get(&format!("/api/files/{id}"), Some(&b.admin)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    // A StandardUser sees its own uploads only.
    assert_error(
        app.get(&format!("/api/files/{id}"), Some(&sam)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let (mine, _) = upload(&app, &sam, "filename=mine.wav", &wav(65)).await;
    let list = crate::helpers::ok(app.get("/api/files", Some(&sam)).await).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["items"][0]["id"], mine.as_str());
    let list = crate::helpers::ok(app.get("/api/files", Some(&a.admin)).await).await;
    assert_eq!(list["count"], 2, "the Admin sees the tenant's files");
    // Deleting A's file leaves B's (and the shared bytes).
    let resp = app
        .post(
            &format!("/api/files/{id}/destroy"),
            Some(&a.admin),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_no_file(&app, &a.admin, &id, &digest).await;
    assert_eq!(
        download(&app, &b.admin, &digest).await.status(),
        StatusCode::OK
    );
}

async fn greetings(app: &TestApp, token: &str) -> serde_json::Value {
    crate::helpers::ok(app.get("/api/user/greetings", Some(token)).await).await
}

#[tokio::test]
async fn greetings_play_files_and_one_is_enabled_at_a_time() {
    let app = spawn_app().await;
    let t = app.tenant("a.example").await;
    let b = app.tenant("b.example").await;
    let sam_id = app.create_user(&t.admin, &user_body("sam", "101")).await;
    let sam = app.token_for("sam", "Passw0rd-123", "a.example").await;
    let (f1, digest) = upload(&app, &sam, "filename=one.wav", &wav(10)).await;
    let (f2, _) = upload(&app, &sam, "filename=two.wav", &wav(20)).await;
    let mut ids = Vec::new();
    for f in [&f1, &f2] {
        let v = crate::helpers::ok(
            app.post(
                "/api/user/greetings",
                Some(&sam),
                &serde_json::json!({"file_id": f}),
            )
            .await,
        )
        .await;
        ids.push(v["id"].as_str().expect("id").to_owned());
    }
    let list = greetings(&app, &sam).await;
    let first = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|g| g["id"] == ids[0].as_str())
        .expect("the first greeting")
        .clone();
    assert_eq!(first["file_name"], "one.wav");
    assert_eq!(first["file_size"], 54);
    assert_eq!(first["file_url"], format!("/api/blobs/{digest}"));
    assert_eq!(first["enabled"], false);
    for (on, off) in [(0, 1), (1, 0)] {
        let path = format!("/api/user/greetings/{}/enable", ids[on]);
        crate::helpers::ok(app.post(&path, Some(&sam), &serde_json::json!({})).await).await;
        let list = greetings(&app, &sam).await;
        let by_id = |i: usize| {
            list["items"]
                .as_array()
                .expect("items")
                .iter()
                .find(|g| g["id"] == ids[i].as_str())
                .expect("greeting")["enabled"]
                .clone()
        };
        assert_eq!(by_id(on), true);
        assert_eq!(by_id(off), false, "enabling one disables the other");
    }
    // The administrator sees and changes them under /users/{id}.
    let list = crate::helpers::ok(
        app.get(&format!("/api/users/{sam_id}/greetings"), Some(&t.admin))
            .await,
    )
    .await;
    assert_eq!(list["items"].as_array().expect("items").len(), 2);
    let path = format!("/api/users/{sam_id}/greetings/{}/disable", ids[1]);
    crate::helpers::ok(
        app.post(&path, Some(&t.admin), &serde_json::json!({}))
            .await,
    )
    .await;
    // Another tenant's Admin: the user is not there.
    let resp = app
        .get(&format!("/api/users/{sam_id}/greetings"), Some(&b.admin))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    // Another user's greeting is missing from my list.
    let path = format!("/api/user/greetings/{}/enable", ids[0]);
    let resp = app
        .post(&path, Some(&t.admin), &serde_json::json!({}))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    // file_id is checked: required, and a file of the tenant the actor may use.
    for body in [
        serde_json::json!({}),
        serde_json::json!({"file_id": 5}),
        serde_json::json!({"file_id": "bm9wZQ=="}),
    ] {
        let resp = app.post("/api/user/greetings", Some(&t.admin), &body).await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert_eq!(err["detail"]["field"], "file_id", "{body}");
    }
    let resp = app
        .post(
            "/api/user/greetings",
            Some(&b.admin),
            &serde_json::json!({"file_id": f1}),
        )
        .await;
    let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
    assert_eq!(err["detail"]["field"], "file_id");
    // A referenced file cannot be deleted.
    let resp = app
        .post(
            &format!("/api/files/{f1}/destroy"),
            Some(&sam),
            &serde_json::json!({}),
        )
        .await;
    assert_error(resp, StatusCode::CONFLICT, "FILE_IN_USE").await;
}

#[tokio::test]
async fn a_temporary_file_goes_with_its_last_greeting_and_blobs_are_swept() {
    let app = spawn_app().await;
    let t = app.tenant("a.example").await;
    let bytes = wav(30);
    let (temp, digest) = upload(&app, &t.admin, "filename=t.wav&temporary=true", &bytes).await;
    let (kept, kept_digest) = upload(&app, &t.admin, "filename=k.wav", &wav(31)).await;
    let (loose, loose_digest) =
        upload(&app, &t.admin, "filename=l.wav&temporary=true", &wav(32)).await;
    let mut gs = Vec::new();
    for f in [&temp, &temp, &kept] {
        let v = crate::helpers::ok(
            app.post(
                "/api/user/greetings",
                Some(&t.admin),
                &serde_json::json!({"file_id": f}),
            )
            .await,
        )
        .await;
        gs.push(v["id"].as_str().expect("id").to_owned());
    }
    let destroy = |g: String| {
        let app = &app;
        let token = t.admin.clone();
        async move {
            let resp = app
                .post(
                    &format!("/api/user/greetings/{g}/destroy"),
                    Some(&token),
                    &serde_json::json!({}),
                )
                .await;
            assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        }
    };
    // The temporary file stays while a greeting still plays it...
    destroy(gs[0].clone()).await;
    crate::helpers::ok(app.get(&format!("/api/files/{temp}"), Some(&t.admin)).await).await;
    // ...and goes with the last one; a permanent file stays.
    destroy(gs[1].clone()).await;
    destroy(gs[2].clone()).await;
    assert_error(
        app.get(&format!("/api/files/{temp}"), Some(&t.admin)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    crate::helpers::ok(app.get(&format!("/api/files/{kept}"), Some(&t.admin)).await).await;
    // The collector: an unreferenced temporary file past its grace goes,
    // then the blobs no file names are deleted from the disk.
    let blob = |d: &str| {
        app.data_dir()
            .join("files/blobs/sha256")
            .join(&d[..2])
            .join(d)
    };
    assert!(blob(&digest).is_file(), "swept only by the collector");
    app.clock
        .advance(std::time::Duration::from_secs(2 * 24 * 3600));
    let st = app.state();
    let grace = std::time::Duration::from_secs(st.config.temporary_file_grace_secs);
    let swept = switchboard::files::gc::collect(
        &st.pipeline,
        &st.queries,
        &st.files,
        st.clock.now(),
        grace,
    )
    .await
    .expect("collect");
    assert_eq!(swept.files, 1);
    let admin = app.token_for("boss", "Passw0rd-123", "a.example").await;
    assert_error(
        app.get(&format!("/api/files/{loose}"), Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert!(!blob(&digest).exists());
    assert!(!blob(&loose_digest).exists());
    assert!(blob(&kept_digest).is_file());
    crate::helpers::ok(app.get(&format!("/api/files/{kept}"), Some(&admin)).await).await;
}

/// Runs the collector now, as the timer would `days` from now.
async fn collect_after_days(app: &TestApp, days: u64) -> switchboard::files::gc::Collected {
    app.clock
        .advance(std::time::Duration::from_secs(days * 24 * 3600));
    let st = app.state();
    let grace = std::time::Duration::from_secs(st.config.temporary_file_grace_secs);
    switchboard::files::gc::collect(&st.pipeline, &st.queries, &st.files, st.clock.now(), grace)
        .await
        .expect("collect")
}

#[tokio::test]
async fn queue_prompts_play_files_of_the_tenant_which_are_then_kept() {
    let app = spawn_app().await;
    let t = app.tenant("a.example").await;
    let (moh, moh_digest) = upload(&app, &t.admin, "filename=hold.wav", &wav(40)).await;
    let (intro, intro_digest) = upload(
        &app,
        &t.admin,
        "filename=intro.wav&temporary=true",
        &wav(41),
    )
    .await;
    let resp = app
        .post(
            "/api/call_queues",
            Some(&t.admin),
            &serde_json::json!({"name": "Support", "extension_number": "800",
                "polling_strategy": "RING_SIMULTANEOUSLY",
                "moh_prompt_file_id": moh, "intro_prompt_file_id": intro}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let q = crate::helpers::ok(resp).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/api/call_queues/{q}");
    let shown = crate::helpers::ok(app.get(&path, Some(&t.admin)).await).await;
    assert_eq!(shown["moh_prompt_file_name"], "hold.wav");
    assert_eq!(shown["moh_prompt_file_size"], wav(40).len());
    assert_eq!(
        shown["moh_prompt_file_url"],
        format!("/api/blobs/{moh_digest}")
    );
    assert_eq!(shown["intro_prompt_file_name"], "intro.wav");
    assert!(shown.get("moh_prompt_file_id").is_none(), "{shown}");

    // An unknown id, another tenant's file or a file id of no shape: 400 naming the field.
    let other = app.tenant("b.example").await;
    let (theirs, _) = upload(&app, &other.admin, "filename=x.wav", &wav(42)).await;
    for (field, id) in [
        ("moh_prompt_file_id", theirs.as_str()),
        ("intro_prompt_file_id", "AAAAAAAAAAAAAAAAAAAAAAAA"),
        ("moh_prompt_file_id", "not an id"),
    ] {
        let resp = app
            .post(&path, Some(&t.admin), &serde_json::json!({ field: id }))
            .await;
        let err = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATE_FAILED").await;
        assert_eq!(err["detail"]["field"], field, "{id}");
    }

    // A file a queue plays is in use: not deleted, not collected.
    let resp = app
        .post(
            &format!("/api/files/{moh}/destroy"),
            Some(&t.admin),
            &serde_json::json!({}),
        )
        .await;
    assert_error(resp, StatusCode::CONFLICT, "FILE_IN_USE").await;
    let swept = collect_after_days(&app, 2).await;
    assert_eq!(swept.files, 0);
    // (Two days on, the access token has expired.)
    let admin = app.token_for("boss", "Passw0rd-123", "a.example").await;
    let blob = |d: &str| {
        app.data_dir()
            .join("files/blobs/sha256")
            .join(&d[..2])
            .join(d)
    };
    assert!(blob(&intro_digest).is_file());
    crate::helpers::ok(app.get(&format!("/api/files/{intro}"), Some(&admin)).await).await;

    // Once the queue stops playing it, the temporary file is collected.
    let resp = app
        .post(
            &path,
            Some(&admin),
            &serde_json::json!({"intro_prompt_file_id": null}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let shown = crate::helpers::ok(app.get(&path, Some(&admin)).await).await;
    assert_eq!(shown["intro_prompt_file_name"], serde_json::Value::Null);
    let swept = collect_after_days(&app, 2).await;
    assert_eq!(swept.files, 1);
    assert!(!blob(&intro_digest).exists());
    assert!(blob(&moh_digest).is_file());
}
