//! The edge's error: one value (status, UPPER_SNAKE_CASE code, message,
//! detail naming the field) that every dialect renders in its own wire
//! shape ([`super::routes::Dialect::reject`]). Its own `IntoResponse`
//! writes PortSIP's `{"errors":[{"code","message","detail"}]}`, the shape
//! of the PortSIP dialect and of the service's own endpoints.
//!
//! [`ApiError::from`] a [`CommandError`] is the status and code a typed
//! rejection has in PortSIP, whose codes the vendor dialects carry too;
//! each vendor dialect starts from it in its own single mapping function.

use crate::commands::{CommandError, Denial};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// An error answer, before a dialect gives it its shape.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// UPPER_SNAKE_CASE code.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Structured detail (`{"field": ...}` for validation errors), or null.
    pub detail: Value,
    /// Seconds to send in `Retry-After` (429, 503), if any.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// Builds an error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            detail: Value::Null,
            retry_after: None,
        }
    }

    /// Asks the client to retry after `wait` (whole seconds, at least 1).
    pub fn retry_after(mut self, wait: std::time::Duration) -> ApiError {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.retry_after = Some(secs.max(1));
        self
    }

    /// 429 `TOO_MANY_ATTEMPTS`: the password-guessing throttle refused.
    pub fn too_many_attempts(wait: std::time::Duration) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_ATTEMPTS",
            "too many failed password attempts; retry later",
        )
        .retry_after(wait)
    }

    /// Answers `body` (the dialect's shape of this error) with this
    /// error's status and headers.
    pub fn respond(&self, body: Value) -> Response {
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }

    /// Adds detail.
    pub fn with_detail(mut self, detail: Value) -> ApiError {
        self.detail = detail;
        self
    }

    /// 400 `VALIDATE_FAILED` naming the field.
    pub fn validation(field: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "VALIDATE_FAILED",
            format!("{field}: {message}"),
        )
        .with_detail(json!({ "field": field, "reason": message }))
    }

    /// 404 `NOT_FOUND` for a missing resource on a served route.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{} not found", what.into()),
        )
    }

    /// 401 `UNAUTHORIZED`.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    /// 403 `FORBIDDEN`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    /// 503 `SERVICE_UNAVAILABLE`.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            message,
        )
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Invalid { field, reason } => ApiError::validation(&field, reason),
            CommandError::NotFound(what) => ApiError::not_found(what.noun()),
            CommandError::Conflict(kind, message) => {
                ApiError::new(StatusCode::CONFLICT, kind.code(), message)
            }
            CommandError::Forbidden(kind, message) => match kind {
                // A sign-in whose account vanished or was disabled while
                // its password was checked: as if the password were wrong.
                Denial::Credentials => ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "INVALID_CREDENTIALS",
                    "the username, password or domain is wrong",
                ),
                Denial::Session => ApiError::unauthorized(message),
                Denial::BuiltInRole | Denial::OwnRole | Denial::NotYours => {
                    ApiError::new(StatusCode::FORBIDDEN, kind.code(), message)
                }
            },
            CommandError::Escalation { field, reason } => {
                ApiError::forbidden(format!("{field}: {reason}"))
                    .with_detail(json!({ "field": field, "reason": reason }))
            }
            CommandError::Unavailable(m) => {
                tracing::error!(reason = %m, "write refused: log unavailable");
                ApiError::unavailable("the directory cannot accept changes right now")
            }
            CommandError::Contended(m) => {
                tracing::warn!(reason = %m, "write refused: contended");
                ApiError::unavailable("the directory is too busy to take this change; retry")
                    .retry_after(std::time::Duration::from_secs(1))
            }
            CommandError::Rows(rows) => {
                let detail: Vec<_> = rows
                    .iter()
                    .map(|r| json!({ "row": r.row, "column": r.column, "message": r.error.to_string() }))
                    .collect();
                let field = rows.first().map(|r| r.column.clone()).unwrap_or_default();
                ApiError::validation(&field, format!("{} rows refused", rows.len()))
                    .with_detail(json!({ "rows": detail }))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "errors": [{ "code": self.code, "message": self.message, "detail": self.detail }]
        });
        self.respond(body)
    }
}
