//! Resumable blob uploads (PortSIP companion API, `/blobs/uploads…`).
//!
//! The protocol is the one PortSIP's definitions describe (and Docker's
//! registry API before it): `POST /blobs/uploads?filename=&temporary=` →
//! 202 with `PortSIP-Upload-ID`, `PortSIP-Upload-Token` and `Range`;
//! `POST …/{id}/append` (the token in `PortSIP-Upload-Token`, the bytes as
//! the body, optionally `Content-Range: <start>-<end>` to say where they
//! go) → 203 with the new `Range`; `GET …/{id}/status` → 204 with `Range`;
//! `POST …/{id}/complete?digest=sha256:<hex>` (optionally the last bytes as
//! the body) → 201 `{"id": <file id>}`; `POST …/{id}/destroy` → 204.
//! `Range` is `0-<last byte>` (`0-0` before any byte, as Docker's).
//!
//! The work is [`crate::files::Store`]'s; this module translates requests
//! and the store's refusals.

use crate::files::{self, FileError, Owner, Progress, UploadId};
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::list::form_pairs;
use crate::http::AppState;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::json;

/// The upload id header.
pub const UPLOAD_ID: HeaderName = HeaderName::from_static("portsip-upload-id");
/// The upload token header.
pub const UPLOAD_TOKEN: HeaderName = HeaderName::from_static("portsip-upload-token");

impl From<FileError> for ApiError {
    fn from(e: FileError) -> ApiError {
        let message = e.to_string();
        match e {
            FileError::UploadNotFound => ApiError::not_found("upload"),
            FileError::BadToken => {
                ApiError::new(StatusCode::FORBIDDEN, "INVALID_UPLOAD_TOKEN", message)
                    .with_detail(json!({ "field": "PortSIP-Upload-Token" }))
            }
            FileError::OutOfOrder { expected, got } => ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "UPLOAD_OUT_OF_ORDER",
                message,
            )
            .with_detail(json!({ "field": "Content-Range", "offset": expected, "start": got })),
            FileError::TooLarge { limit } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "FILE_TOO_LARGE", message)
                    .with_detail(json!({ "limit": limit }))
            }
            FileError::DigestMismatch { expected, actual } => {
                ApiError::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", message).with_detail(
                    json!({
                        "field": "digest",
                        "expected": expected.hex(),
                        "actual": actual.hex(),
                    }),
                )
            }
            FileError::Digest(d) => ApiError::validation("digest", d.to_string()),
            FileError::MediaType { media_type } => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                message,
            )
            .with_detail(json!({ "media_type": media_type })),
            FileError::TooManyUploads { limit } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_UPLOADS", message)
                    .with_detail(json!({ "limit": limit }))
            }
            FileError::Completed => {
                ApiError::new(StatusCode::CONFLICT, "UPLOAD_COMPLETED", message)
            }
            FileError::Invalid { field, reason } => ApiError::validation(field, reason),
            FileError::Io(e) => {
                tracing::error!(error = %e, "file store I/O failed");
                ApiError::unavailable("the file store is unavailable")
            }
        }
    }
}

/// Runs a blocking store operation off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, FileError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::unavailable("the file store is unavailable"))?
        .map_err(ApiError::from)
}

/// Who owns uploads begun by this caller.
pub fn owner(caller: &Caller) -> Result<Owner, ApiError> {
    Ok(Owner {
        tenant: tenant_of(caller)?,
        user: caller.user_id,
    })
}

fn upload_id(raw: &str) -> Result<UploadId, ApiError> {
    // Anything that is not a UUID cannot be an upload we issued.
    UploadId::parse(raw).ok_or_else(|| ApiError::not_found("upload"))
}

fn token(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get(&UPLOAD_TOKEN)
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::validation("PortSIP-Upload-Token", "is required"))
}

/// `Range: 0-<last byte>` (Docker's form: `0-0` before any byte).
fn range(size: u64) -> HeaderValue {
    let text = format!("0-{}", size.saturating_sub(1));
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("0-0"))
}

fn upload_headers(
    status: StatusCode,
    id: UploadId,
    token: Option<&str>,
    progress: Progress,
) -> Response {
    let mut resp = status.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        h.insert(UPLOAD_ID, v);
    }
    if let Some(v) = token.and_then(|t| HeaderValue::from_str(t).ok()) {
        h.insert(UPLOAD_TOKEN, v);
    }
    h.insert(header::RANGE, range(progress.size));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    resp
}

/// Reads a request body of at most `limit` bytes (413 `FILE_TOO_LARGE`
/// past it, before reading further when `Content-Length` says so).
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "FILE_TOO_LARGE",
            format!("one upload request carries at most {limit} bytes (upload_chunk_max_bytes); send the file in several appends"),
        )
        .with_detail(json!({ "limit": limit }))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::validation("body", e.to_string()))?;
        if out.len() + chunk.len() > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// `Content-Range: <start>-<end>` or `bytes <start>-<end>/<total|*>`: the
/// chunk's first byte, checked against the body's length.
fn chunk_start(headers: &HeaderMap, len: usize) -> Result<Option<u64>, ApiError> {
    let Some(raw) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::validation(
            "Content-Range",
            "must be <start>-<end> (or bytes <start>-<end>/<total>) covering exactly the body",
        )
    };
    let s = raw.to_str().map_err(|_| bad())?.trim();
    let s = s.strip_prefix("bytes ").unwrap_or(s);
    let span = s.split('/').next().unwrap_or(s);
    let (a, b) = span.split_once('-').ok_or_else(bad)?;
    let start: u64 = a.trim().parse().map_err(|_| bad())?;
    let end: u64 = b.trim().parse().map_err(|_| bad())?;
    if len == 0 || end < start || end - start + 1 != len as u64 {
        return Err(bad());
    }
    Ok(Some(start))
}

/// `POST /blobs/uploads?filename=&temporary=`: begins an upload.
pub async fn begin(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let owner = owner(&caller)?;
    let mut name = None;
    let mut temporary = false;
    for (k, v) in form_pairs(raw.as_deref().unwrap_or("")) {
        match k.as_str() {
            "filename" => name = Some(v),
            "temporary" => {
                temporary = match v.to_ascii_lowercase().as_str() {
                    "true" | "1" => true,
                    "false" | "0" | "" => false,
                    _ => return Err(ApiError::validation("temporary", "must be true or false")),
                }
            }
            _ => {}
        }
    }
    let intent = files::Intent {
        file_id: crate::ids::random_id(),
        name: name.unwrap_or_else(|| "file".into()),
        temporary,
    };
    let now = state.clock.now();
    let store = state.files.clone();
    let begun = blocking(move || store.begin(owner, intent, now)).await?;
    let progress = Progress {
        size: 0,
        completed: false,
    };
    Ok(upload_headers(
        StatusCode::ACCEPTED,
        begun.id,
        Some(&begun.token),
        progress,
    ))
}

/// `POST /blobs/uploads/{id}/append`: appends the body (at
/// `Content-Range`'s start if given, which must be where the upload ends).
pub async fn append(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let owner = owner(&caller)?;
    let id = upload_id(&id)?;
    let token = token(&headers)?;
    let bytes = read_body(&headers, body, state.config.upload_chunk_max_bytes).await?;
    let start = chunk_start(&headers, bytes.len())?;
    let now = state.clock.now();
    let store = state.files.clone();
    let t = token.clone();
    let result = blocking(move || store.append(id, owner, &t, start, &bytes, now)).await;
    match result {
        Ok(progress) => Ok(upload_headers(
            // What PortSIP's definitions say an append answers.
            StatusCode::NON_AUTHORITATIVE_INFORMATION,
            id,
            Some(&token),
            progress,
        )),
        Err(e) if e.status == StatusCode::RANGE_NOT_SATISFIABLE => {
            // Tell the client where to resume.
            let offset = e.detail["offset"].as_u64().unwrap_or(0);
            let mut resp = e.into_response();
            resp.headers_mut().insert(header::RANGE, range(offset));
            Ok(resp)
        }
        Err(e) => Err(e),
    }
}

/// `POST /blobs/uploads/{id}/complete?digest=`: appends the body (if
/// any), verifies the digest and the media type, moves the bytes into the
/// blob store and records the file: 201 `{"id"}`. A retry (its answer was
/// lost) names the same file.
pub async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let owner = owner(&caller)?;
    let id = upload_id(&id)?;
    let token = token(&headers)?;
    let digest = form_pairs(raw.as_deref().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "digest")
        .map(|(_, v)| v)
        .ok_or_else(|| ApiError::validation("digest", "is required (sha256:<hex> or <hex>)"))?;
    let digest = files::Digest::parse(&digest).map_err(FileError::from)?;
    let tail = read_body(&headers, body, state.config.upload_chunk_max_bytes).await?;
    let now = state.clock.now();
    let store = state.files.clone();
    let done = blocking(move || store.complete(id, owner, &token, &digest, &tail, now)).await?;
    let file = crate::commands::files::NewFile {
        file_id: done.intent.file_id,
        name: done.intent.name.clone(),
        size: done.stored.size,
        media_type: done.stored.media_type.clone(),
        digest: done.stored.digest,
        temporary: done.intent.temporary,
        uploaded_by: done.owner.user,
    };
    let cmd = crate::commands::Command::File(crate::commands::files::FileCommand::Create(file));
    let out = state
        .pipeline
        .run(cmd, caller.acting_in(owner.tenant, super::VIA))
        .await?;
    // The file record now references the blob: the upload is done.
    let store = state.files.clone();
    blocking(move || store.finish(id)).await?;
    drop(done.stored.pin);
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "id": crate::ids::render(out.created()?) })),
    )
        .into_response())
}

/// `GET /blobs/uploads/{id}/status`: 204 with how much arrived in `Range`.
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let owner = owner(&caller)?;
    let id = upload_id(&id)?;
    let store = state.files.clone();
    let progress = blocking(move || store.status(id, owner)).await?;
    Ok(upload_headers(StatusCode::NO_CONTENT, id, None, progress))
}

/// `POST /blobs/uploads/{id}/destroy`: abandons the upload.
pub async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let owner = owner(&caller)?;
    let id = upload_id(&id)?;
    let store = state.files.clone();
    blocking(move || store.destroy(id, owner)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_range(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(v).expect("header"),
        );
        h
    }

    #[test]
    fn content_range_names_the_chunk_start() {
        assert_eq!(chunk_start(&HeaderMap::new(), 5).expect("none"), None);
        assert_eq!(
            chunk_start(&with_range("10-14"), 5).expect("docker"),
            Some(10)
        );
        assert_eq!(
            chunk_start(&with_range("bytes 10-14/100"), 5).expect("rfc"),
            Some(10)
        );
        assert_eq!(
            chunk_start(&with_range("bytes 0-4/*"), 5).expect("rfc"),
            Some(0)
        );
        for bad in ["10-13", "14-10", "x-y", "10", "bytes 1-2-3"] {
            assert!(chunk_start(&with_range(bad), 5).is_err(), "{bad}");
        }
    }

    #[test]
    fn range_is_dockers_inclusive_form() {
        assert_eq!(range(0), "0-0");
        assert_eq!(range(1), "0-0");
        assert_eq!(range(100), "0-99");
    }
}
