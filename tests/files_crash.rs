//! A resumable upload survives `kill -9` of the server between two
//! appends: after the restart `status` reports what was acknowledged, the
//! upload resumes from there, and completes verified.

#[path = "support/process.rs"]
mod support;
use support::{admin_in_tenant, start_server};
use switchboard::files::Digest;

use switchboard::files::testing::wav;

async fn append(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
    upload_token: &str,
    start: usize,
    bytes: &[u8],
) -> reqwest::Response {
    client
        .post(format!("{base}/api/blobs/uploads/{id}/append"))
        .bearer_auth(token)
        .header("PortSIP-Upload-Token", upload_token)
        .header(
            "Content-Range",
            format!("{start}-{}", start + bytes.len() - 1),
        )
        .body(bytes.to_vec())
        .send()
        .await
        .expect("append")
}

#[tokio::test]
async fn an_upload_resumes_after_kill_9_and_completes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let client = reqwest::Client::new();
    let bytes = wav(300_000);
    let half = bytes.len() / 2;

    let mut server = start_server(&data, &[]).await;
    let token = admin_in_tenant(&client, &server.base, true).await;
    let resp = client
        .post(format!(
            "{}/api/blobs/uploads?filename=big.wav",
            server.base
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("begin");
    assert_eq!(resp.status(), 202);
    let id = resp.headers()["portsip-upload-id"]
        .to_str()
        .expect("id")
        .to_owned();
    let upload_token = resp.headers()["portsip-upload-token"]
        .to_str()
        .expect("token")
        .to_owned();
    let resp = append(
        &client,
        &server.base,
        &token,
        &id,
        &upload_token,
        0,
        &bytes[..half],
    )
    .await;
    assert_eq!(resp.status(), 203, "the first half is acknowledged");
    // Killed between the appends: no shutdown, nothing flushed beyond
    // what the acknowledgement promised.
    server.kill();

    let server = start_server(&data, &[]).await;
    let token = admin_in_tenant(&client, &server.base, false).await;
    let resp = client
        .get(format!("{}/api/blobs/uploads/{id}/status", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("status");
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["range"], format!("0-{}", half - 1).as_str());
    let resp = append(
        &client,
        &server.base,
        &token,
        &id,
        &upload_token,
        half,
        &bytes[half..],
    )
    .await;
    assert_eq!(resp.status(), 203);
    let digest = Digest::of(&bytes).hex();
    let resp = client
        .post(format!(
            "{}/api/blobs/uploads/{id}/complete?digest=sha256:{digest}",
            server.base
        ))
        .bearer_auth(&token)
        .header("PortSIP-Upload-Token", &upload_token)
        .send()
        .await
        .expect("complete");
    assert_eq!(resp.status(), 201);
    let got = client
        .get(format!("{}/api/blobs/{digest}", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(got.len(), bytes.len());
    assert!(got.as_ref() == bytes.as_slice(), "the same bytes came back");
}
