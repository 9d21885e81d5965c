//! `?as_of=<RFC 3339 time | offset>`: answer a read as the directory was at
//! that moment.
//!
//! `recorded_at` never decreases along offsets, so a time is a prefix of the
//! log. The state is rebuilt by replaying that prefix into a fresh
//! directory on a blocking thread; the cost is a replay of the prefix per
//! request (see BENCHMARKS.md for replay rates), which is why it is an
//! administrator's tool (`ViewAudit`). Without `as_of` the live projection
//! is read as before.

use crate::auth::caller::Caller;
use crate::auth::roles::Capability;
use crate::http::access::require;
use crate::http::error::ApiError;
use crate::http::list::form_pairs;
use crate::http::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::sync::Arc;
use switchboard_projections::rebuild::{rebuild, Until};
use switchboard_projections::Directory;

/// The state a read answers from: live, or rebuilt as of a past moment.
pub struct AsOf(Option<Arc<Directory>>);

impl AsOf {
    /// The directory to answer from: the live projection's published
    /// version, or the rebuilt past state.
    pub fn read(&self, state: &AppState) -> Arc<Directory> {
        match &self.0 {
            Some(d) => d.clone(),
            None => state.pipeline.projector().read(),
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

/// Rebuilds the directory as of `until` (blocking work on a blocking thread).
pub async fn rebuild_at(state: &AppState, until: Until) -> Result<Directory, ApiError> {
    let log = state.pipeline.log().clone();
    // Never beyond what the live projection has applied: a request must not
    // see events the live view does not show yet.
    let applied = state.pipeline.projector().applied();
    let until = match until {
        Until::Offset(n) => Until::Offset(n.min(applied)),
        other => other,
    };
    tokio::task::spawn_blocking(move || {
        let mut dir = Directory::default();
        let bounded = log.read_all(1).take_while(move |e| match e {
            Ok(env) => env.offset <= applied,
            Err(_) => true,
        });
        rebuild(&mut dir, bounded, until, |_, _, _| {}).map(|_| dir)
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("rebuilding the past state failed: {e}")))?
    .map_err(|e| ApiError::unavailable(format!("rebuilding the past state failed: {e}")))
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
        Ok(AsOf(Some(Arc::new(rebuild_at(state, until).await?))))
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
