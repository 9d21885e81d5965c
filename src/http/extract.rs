//! Request body extraction with PortSIP-shaped errors: malformed JSON or a
//! wrong field type is a 400 `VALIDATE_FAILED` naming the field, an
//! oversized body is 413 `PAYLOAD_TOO_LARGE`.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// A JSON body deserialized into `T`. An empty body is treated as `{}` so
/// that actions without parameters accept clients that send nothing.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    "the request body is too large",
                )
            } else {
                ApiError::validation("body", rejection.body_text())
            }
        })?;
        parse(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body, naming the offending field on type errors.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.to_string();
        let field = if path.is_empty() || path == "." {
            missing_field(&message).unwrap_or_else(|| "body".to_owned())
        } else {
            path
        };
        ApiError::validation(&field, message)
    })
}

/// An optional string field of a JSON body. `null` counts as absent, so a
/// client can send back what it read (secrets read as `null`).
pub fn optional_str(
    body: &serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::validation(field, "must be a string")),
    }
}

/// A required string field of a JSON body.
pub fn required_str(
    body: &serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> Result<String, ApiError> {
    optional_str(body, field)?.ok_or_else(|| ApiError::validation(field, "is required"))
}

/// serde reports a missing field as "missing field `x` at ...": name it.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Probe {
        name: String,
        count: Option<u32>,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse::<Probe>(br#"{"name": 5}"#).expect_err("type error");
        assert_eq!(e.detail["field"], "name");
        let e = parse::<Probe>(br#"{"count": 1}"#).expect_err("missing");
        assert_eq!(e.detail["field"], "name");
        let e = parse::<Probe>(br#"{"name": "x", "count": -1}"#).expect_err("range");
        assert_eq!(e.detail["field"], "count");
        let e = parse::<Probe>(b"{not json").expect_err("syntax");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.code, "VALIDATE_FAILED");
    }
}
