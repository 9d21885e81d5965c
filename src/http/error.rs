//! PortSIP's error body: `{"errors":[{"code","message","detail"}]}` with
//! UPPER_SNAKE_CASE codes.

use crate::commands::CommandError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// An error answer in the PortSIP dialect.
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
}

impl ApiError {
    /// Builds an error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            detail: Value::Null,
        }
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
            CommandError::Validation { field, message } => ApiError::validation(&field, message),
            CommandError::NotFound(what) => ApiError::not_found(what),
            CommandError::Conflict { code, message } => {
                ApiError::new(StatusCode::CONFLICT, code, message)
            }
            CommandError::Forbidden(m) => ApiError::forbidden(m),
            CommandError::Escalation { field, message } => {
                ApiError::forbidden(format!("{field}: {message}"))
                    .with_detail(json!({ "field": field, "reason": message }))
            }
            CommandError::Unavailable(m) => {
                tracing::error!(reason = %m, "write refused: log unavailable");
                ApiError::unavailable("the directory cannot accept changes right now")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "errors": [{ "code": self.code, "message": self.message, "detail": self.detail }]
        });
        (self.status, axum::Json(body)).into_response()
    }
}
