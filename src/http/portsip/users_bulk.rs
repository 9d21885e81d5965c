//! Bulk users over HTTP: `POST /users/import` (CSV or JSON Lines, streamed,
//! `dry_run=true` validates only) and `GET /users/export` (with `filter` and
//! `search`, as the list takes them). The work is [`crate::bulk`]'s; this
//! only translates.

use super::users::render;
use crate::bulk::rows::Format;
use crate::bulk::{self, Options, Report, Target};
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::list::{form_pairs, ListParams};
use crate::http::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde_json::{json, Value};
use std::io::Read;
use switchboard_projections::query::{ListQuery, RawListParams};

/// The import's query options.
struct ImportQuery {
    format: Option<Format>,
    dry_run: bool,
    batch_size: usize,
}

fn import_query(raw: Option<&str>) -> Result<ImportQuery, ApiError> {
    let mut q = ImportQuery {
        format: None,
        dry_run: false,
        batch_size: bulk::DEFAULT_BATCH,
    };
    for (k, v) in form_pairs(raw.unwrap_or("")) {
        match k.as_str() {
            "format" => {
                q.format = Some(
                    Format::parse(&v)
                        .ok_or_else(|| ApiError::validation("format", "must be csv or jsonl"))?,
                )
            }
            "dry_run" => {
                q.dry_run = match v.to_ascii_lowercase().as_str() {
                    "true" | "1" => true,
                    "false" | "0" | "" => false,
                    _ => return Err(ApiError::validation("dry_run", "must be true or false")),
                }
            }
            "batch_size" => {
                q.batch_size = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=bulk::MAX_BATCH).contains(n))
                    .ok_or_else(|| {
                        ApiError::validation(
                            "batch_size",
                            format!("must be an integer from 1 to {}", bulk::MAX_BATCH),
                        )
                    })?
            }
            _ => {}
        }
    }
    Ok(q)
}

/// Feeds the request body to the blocking reader, chunk by chunk, and
/// stops it with an error past `limit` bytes.
struct BodyReader {
    chunks: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

fn body_reader(body: Body, limit: usize) -> BodyReader {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut seen = 0usize;
        while let Some(chunk) = stream.next().await {
            let item = match chunk {
                Ok(c) => {
                    seen += c.len();
                    if seen > limit {
                        Err(std::io::Error::other(format!(
                            "the file is larger than import_max_bytes ({limit} bytes)"
                        )))
                    } else {
                        Ok(c)
                    }
                }
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    BodyReader {
        chunks: rx,
        current: Bytes::new(),
    }
}

/// `POST /users/import?format=csv|jsonl&dry_run=&batch_size=`: the format
/// from `format` or the Content-Type (`text/csv`, `application/x-ndjson`).
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let tenant = tenant_of(&caller)?;
    let query = import_query(raw.as_deref())?;
    let from_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(Format::from_media_type);
    let format = query.format.or(from_type).ok_or_else(|| {
        ApiError::validation(
            "format",
            "say format=csv or format=jsonl (or send Content-Type text/csv or application/x-ndjson)",
        )
    })?;
    let target = Target {
        pipeline: &state.pipeline,
        hasher: &state.hasher,
        ctx: caller.acting_in(tenant, super::VIA),
    };
    let options = Options {
        format,
        dry_run: query.dry_run,
        batch_size: query.batch_size,
    };
    let reader = body_reader(body, state.config.import_max_bytes);
    let report = bulk::import(&target, reader, options, |_| {}).await;
    Ok(respond(report))
}

/// 200 with the report when every row passed; otherwise the PortSIP error
/// shape with one entry per failing row (`detail`: row, line, column), and
/// the report beside it: 400 for the file's faults, 503 for the service's.
fn respond(report: Report) -> Response {
    if report.is_ok() {
        return (StatusCode::OK, Json(json!(report))).into_response();
    }
    let status = if report.unavailable.is_some() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut errors: Vec<Value> = report
        .errors
        .iter()
        .map(|e| {
            json!({
                "code": e.code,
                "message": format!("row {} (line {}): {}", e.row, e.line, e.message),
                "detail": {"row": e.row, "line": e.line, "column": e.column, "field": e.column},
            })
        })
        .collect();
    if let Some(m) = &report.unavailable {
        errors.push(json!({"code": "SERVICE_UNAVAILABLE", "message": m, "detail": null}));
    }
    (status, Json(json!({"errors": errors, "import": report}))).into_response()
}

/// `GET /users/export?format=csv|jsonl&filter=&search=`: every matching
/// user of the tenant in creation order, as `GET /users/{id}` renders them
/// (secrets never included).
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    params: ListParams,
) -> Result<Response, ApiError> {
    let tenant = tenant_of(&caller)?;
    let mut format = Format::Csv;
    for (k, v) in form_pairs(raw.as_deref().unwrap_or("")) {
        if k == "format" {
            format = Format::parse(&v)
                .ok_or_else(|| ApiError::validation("format", "must be csv or jsonl"))?;
        }
    }
    // Paging does not apply to an export; filter and search do.
    let raw_params = RawListParams {
        filter: params.0.filter,
        search: params.0.search,
        ..RawListParams::default()
    };
    let query = ListQuery::parse(&raw_params, &crate::queries::users::USER_LIST)
        .map_err(|e| ApiError::validation(&e.param, e.message))?;
    let users = {
        let dir = state.queries.read();
        let mut users: Vec<_> = match dir.scope(tenant) {
            Some(scope) => scope
                .users
                .values()
                .map(|u| (u.stamp.created_at(), u.id, render(scope, u, false)))
                .filter(|(_, _, m)| query.matches(m))
                .collect(),
            None => Vec::new(),
        };
        users.sort_by_key(|(at, id, _)| (*at, *id));
        users
    };
    let bytes = bulk::export::write(format, users.into_iter().map(|(_, _, m)| m))
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let extension = match format {
        Format::Csv => "csv",
        Format::JsonLines => "jsonl",
    };
    Ok((
        [
            (header::CONTENT_TYPE, format.media_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"users.{extension}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
