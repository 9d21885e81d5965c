//! The vendor dialects: four other PBX vendors' APIs served from the same
//! commands and queries as PortSIP.
//!
//! | dialect | mounted at | ids | errors |
//! | --- | --- | --- | --- |
//! | user↔extension links v1 ([`user_extensions`]) | `/api/v1/user-extensions` | UUIDs ([`crate::http::ids::uuid`]) | `{success:false,message,data:null,metadata:{code}}` |
//! | client internal-number users ([`client_users`]) | `/client/{client_id}/user/extension/` | integers | `{error:{code,message,field}}` |
//! | eTelecom partner PBX ([`etelecom`]) | `POST /Etelecom/{Method}` | decimal strings | Twirp `{code,msg,meta}`; `{updated:0}` for the `updated` methods |
//! | voipappz user actions ([`voipappz`]) | `PATCH /api/users/{id}?action=`, `GET /api/users/agents` | UUIDs | `{statusCode,error,message}` |
//!
//! Each adapter only translates: the shared edge ([`crate::http`]) resolves
//! its caller and checks the declared capability, the adapter parses the
//! request into a [`Command`](crate::commands::Command) or a query, calls
//! the command layer or the queries layer, and renders the answer with its
//! own ids and field names. None keeps state, decides anything or imports
//! another dialect. Every failure reaches the wire through one function per
//! dialect: edge errors arrive as an [`ApiError`], typed command rejections
//! through the dialect's `From<CommandError>`.

/// Declares a dialect's error type: a newtype over [`ApiError`] that the
/// `?` operator reaches from an `ApiError` (the edge's errors). The dialect
/// then writes its own `From<CommandError>` (its one mapping of typed
/// rejections) and `IntoResponse` (its wire shape).
macro_rules! dialect_error {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(pub ApiError);

        impl From<ApiError> for $name {
            fn from(e: ApiError) -> Self {
                $name(e)
            }
        }
    };
}

pub mod client_users;
pub mod etelecom;
pub mod user_extensions;
pub mod voipappz;

use super::error::ApiError;
use switchboard_events::envelope::format_rfc3339;
use time::OffsetDateTime;

/// Splits a display name into `(first_name, last_name)`: the first name is
/// everything before the first space, the last name everything after it
/// (possibly empty, possibly with spaces of its own). [`join_name`] is the
/// inverse for every first name without a space, and `split(join(f, l)) ==
/// (f, l)` for such names.
pub fn split_name(display_name: &str) -> (String, String) {
    match display_name.split_once(' ') {
        Some((first, last)) => (first.to_owned(), last.to_owned()),
        None => (display_name.to_owned(), String::new()),
    }
}

/// Joins first and last name into a display name: `"first last"`, or just
/// the first name when the last name is empty.
pub fn join_name(first: &str, last: &str) -> String {
    if last.is_empty() {
        first.to_owned()
    } else if first.is_empty() {
        last.to_owned()
    } else {
        format!("{first} {last}")
    }
}

/// RFC 3339 with milliseconds and `Z`, as the v1 and voipappz samples show
/// (`2026-06-28T12:00:00.000Z`).
pub fn format_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt).unwrap_or_else(|_| format_rfc3339(t))
}

/// A path parameter, or 400 naming the path when it cannot be decoded
/// (e.g. invalid percent-encoding), so even that answer is JSON in the
/// dialect's shape.
pub fn path<T>(
    p: Result<axum::extract::Path<T>, axum::extract::rejection::PathRejection>,
) -> Result<T, ApiError> {
    p.map(|axum::extract::Path(t)| t)
        .map_err(|e| ApiError::validation("path", e.body_text()))
}

/// The field an [`ApiError`] names, if it is a validation error.
pub fn field_of(e: &ApiError) -> Option<String> {
    e.detail
        .get("field")
        .and_then(|f| f.as_str())
        .map(str::to_owned)
}

/// Parses a JSON object body (empty = `{}`), as PortSIP does.
pub fn object_body(bytes: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    super::extract::parse(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_the_first_space_and_join_back() {
        assert_eq!(
            split_name("Anna van Dijk"),
            ("Anna".into(), "van Dijk".into())
        );
        assert_eq!(split_name("Cher"), ("Cher".into(), String::new()));
        for (first, last) in [("Anna", "van Dijk"), ("Cher", ""), ("Bo", "Li")] {
            let joined = join_name(first, last);
            assert_eq!(split_name(&joined), (first.to_owned(), last.to_owned()));
        }
        assert_eq!(join_name("", "Solo"), "Solo");
    }

    #[test]
    fn millisecond_timestamps() {
        let t = OffsetDateTime::from_unix_timestamp(1_782_648_000).expect("time");
        assert_eq!(format_millis(t), "2026-06-28T12:00:00.000Z");
    }
}
