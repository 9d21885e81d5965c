//! The tenant's files (PortSIP companion API): `GET /files`, `GET
//! /files/{id}`, `POST /files/{id}/destroy`, and the bytes by digest, `GET
//! /blobs/{digest}`. Which files a caller sees is decided in
//! [`crate::commands::files`] (its uploads, or all with `ManageUsers` or
//! `ManageQueues`); another tenant's file is 404 even when its bytes are
//! the same.

use super::VIA;
use crate::commands::files::{self, FileCommand, FileView};
use crate::commands::{Actor, Command};
use crate::files::Digest;
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::ids::portsip as ids;
use crate::http::list::{self, ListParams};
use crate::http::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_events::envelope::format_rfc3339;
use switchboard_projections::query::{Dir, FieldType, ListSchema};

/// What `GET /files` may filter, search and order by.
static FILES_SCHEMA: ListSchema = ListSchema {
    fields: &[
        ("id", FieldType::String),
        ("name", FieldType::String),
        ("size", FieldType::Number),
        ("media_type", FieldType::String),
        ("created_at", FieldType::DateTime),
    ],
    search: &["name", "media_type"],
    default_order: &[("created_at", Dir::Asc), ("id", Dir::Asc)],
};

/// A file as PortSIP shows it.
pub fn render(f: &FileView<'_>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::render(f.item.id)));
    m.insert("name".into(), json!(f.name));
    m.insert("size".into(), json!(f.size));
    m.insert("media_type".into(), json!(f.media_type));
    m.insert(
        "created_at".into(),
        json!(format_rfc3339(f.item.stamp.created_at())),
    );
    m
}

/// Where a file's bytes are downloaded from (relative to the server).
pub fn url(f: &FileView<'_>) -> String {
    format!("/api/blobs/{}", f.digest)
}

/// The caller as an actor of the current directory.
fn actor(
    state: &AppState,
    caller: &Caller,
) -> Result<(Actor, switchboard_events::TenantId), ApiError> {
    let tenant = tenant_of(caller)?;
    let ctx = caller.acting_in(tenant, VIA);
    let actor = ctx.by.actor(&state.queries.read())?;
    Ok((actor, tenant))
}

/// `GET /files`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<Json<Value>, ApiError> {
    let (actor, tenant) = actor(&state, &caller)?;
    let model = state.queries.read();
    let s = model.scope_or_empty(tenant);
    let items: Vec<_> = files::files(s, &actor).map(|f| render(&f)).collect();
    list::respond(&params, &FILES_SCHEMA, items)
}

/// `GET /files/{id}`.
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (actor, tenant) = actor(&state, &caller)?;
    let id = ids::parse_or_404(&id, "file")?;
    let model = state.queries.read();
    let f = files::file(model.scope_or_empty(tenant), &actor, id)?;
    Ok(Json(Value::Object(render(&f))))
}

/// `POST /files/{id}/destroy`: 204; 409 `FILE_IN_USE` while referenced.
/// The bytes go at the store's next sweep if no other file names them.
pub async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = tenant_of(&caller)?;
    let file_id = ids::parse_or_404(&id, "file")?;
    state
        .pipeline
        .run(
            Command::File(FileCommand::Delete { file_id }),
            caller.acting_in(tenant, VIA),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /blobs/{digest}`: the bytes of a file of the caller's tenant that
/// the caller may see, as an attachment named after the file.
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(digest): Path<String>,
) -> Result<Response, ApiError> {
    let (actor, tenant) = actor(&state, &caller)?;
    let digest = Digest::parse(&digest).map_err(|_| ApiError::not_found("blob"))?;
    let hex = digest.hex();
    let as_file = {
        let model = state.queries.read();
        let s = model.scope_or_empty(tenant);
        let found = files::files(s, &actor).find(|f| f.digest == hex);
        found.map(|f| f.name.to_owned())
    };
    let name = match as_file {
        Some(name) => name,
        None => recording_blob(&state, &caller, &actor, tenant, hex)
            .await?
            .ok_or_else(|| ApiError::not_found("blob"))?,
    };
    let store = state.files.clone();
    let file = super::blobs::blocking(move || store.open_blob(&digest))
        .await?
        .ok_or_else(|| ApiError::not_found("blob"))?;
    let len = file.metadata().map(|m| m.len()).ok();
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    // The name was checked at upload (no quotes, slashes or controls);
    // non-ASCII names go in RFC 6266's filename* as well.
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii() { c } else { '_' })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// The file name of a call recording of the caller's whose audio is the
/// blob `hex` (a user downloads the recordings they are a party of; a
/// caller with `ViewCallHistory` any of the tenant's).
async fn recording_blob(
    state: &AppState,
    caller: &Caller,
    actor: &Actor,
    tenant: switchboard_events::TenantId,
    hex: String,
) -> Result<Option<String>, ApiError> {
    use crate::records::history::HistoryError;
    use crate::records::store::{Kind, Scope};
    let scope = if actor
        .authority
        .allows(crate::auth::roles::Capability::ViewCallHistory)
    {
        Scope::Tenant
    } else {
        Scope::User(caller.user_id)
    };
    let name = state
        .history
        .read(move |store| {
            for id in store.recordings_of_blob(tenant, &hex)? {
                if let Some(r) = store.get(Kind::Recording, tenant, scope, id)? {
                    let name = r
                        .fields()
                        .get("file_name")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    return Ok(Some(name.unwrap_or_else(|| format!("{hex}.wav"))));
                }
            }
            Ok::<_, HistoryError>(None)
        })
        .await?;
    Ok(name)
}
