//! `?as_of=<RFC 3339 time | offset>`: answer a read as the directory was at
//! that moment.
//!
//! The queries layer rebuilds the state from the nearest retained snapshot
//! ([`crate::queries::as_of`]); it is an administrator's tool (`ViewAudit`).
//! Without `as_of` the live projection is read as before.

use crate::auth::roles::Capability;
use crate::http::access::{require, tenant_of};
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::list::form_pairs;
use crate::http::AppState;
use crate::queries::ReadModel;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::sync::Arc;
use switchboard_projections::rebuild::Until;

/// The state a read answers from: live, or rebuilt as of a past moment.
pub struct AsOf(Option<Arc<ReadModel>>);

impl AsOf {
    /// The directory to answer from: the live projection's published
    /// version, or the rebuilt past state.
    pub fn read(&self, state: &AppState) -> Arc<ReadModel> {
        match &self.0 {
            Some(d) => d.clone(),
            None => state.queries.read(),
        }
    }

    /// Whether this is a past state.
    pub fn is_past(&self) -> bool {
        self.0.is_some()
    }
}

/// Parses `as_of`: a decimal offset, or an RFC 3339 time.
pub fn parse(raw: &str) -> Result<Until, ApiError> {
    let raw = raw.trim();
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw
            .parse::<u64>()
            .map(Until::Offset)
            .map_err(|_| ApiError::validation("as_of", "offset is too large"));
    }
    time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .map(Until::Time)
        .map_err(|_| {
            ApiError::validation(
                "as_of",
                "must be an RFC 3339 time (2026-01-31T09:00:00Z) or a log offset",
            )
        })
}

impl FromRequestParts<AppState> for AsOf {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let raw = form_pairs(query)
            .into_iter()
            .filter(|(k, _)| k == "as_of" || k == "$as_of")
            .map(|(_, v)| v)
            .collect::<Vec<_>>();
        let raw = match raw.as_slice() {
            [] => return Ok(AsOf(None)),
            [one] => one.clone(),
            _ => return Err(ApiError::validation("as_of", "given more than once")),
        };
        let until = parse(&raw)?;
        let caller = Caller::from_request_parts(parts, state).await?;
        require(state, &caller, Capability::ViewAudit)?;
        // Every past read is of the caller's tenant's scope: only that
        // tenant is rebuilt.
        let tenant = tenant_of(&caller).ok();
        let past =
            state.queries.as_of_in(until, tenant).await.map_err(|e| {
                ApiError::unavailable(format!("rebuilding the past state failed: {e}"))
            })?;
        Ok(AsOf(Some(past)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_takes_an_offset_or_a_time_and_nothing_else() {
        assert_eq!(parse("42").ok(), Some(Until::Offset(42)));
        assert!(matches!(parse("2026-01-31T09:00:00Z"), Ok(Until::Time(_))));
        for bad in [
            "",
            "yesterday",
            "-1",
            "2026-01-31",
            "99999999999999999999999",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
