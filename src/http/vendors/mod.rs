//! The vendor dialects: four other PBX vendors' APIs served from the same
//! commands and projections as PortSIP.
//!
//! | dialect | mounted at | ids | errors |
//! | --- | --- | --- | --- |
//! | user↔extension links v1 ([`user_extensions`]) | `/api/v1/user-extensions` | UUIDs ([`uuid`]) | `{success:false,message,data:null,metadata:{code}}` |
//! | client internal-number users ([`client_users`]) | `/client/{client_id}/user/extension/` | integers | `{error:{code,message,field}}` |
//! | eTelecom partner PBX ([`etelecom`]) | `POST /Etelecom/{Method}` | decimal strings | Twirp `{code,msg,meta}`; `{updated:0}` for the `updated` methods |
//! | voipappz user actions ([`voipappz`]) | `PATCH /api/users/{id}?action=`, `GET /api/users/agents` | UUIDs | `{statusCode,error,message}` |
//!
//! Each adapter only translates: it resolves the caller with the shared
//! [`Caller`](crate::auth::caller::Caller) extractor, checks the same
//! capabilities, renders ids and fields its own way and calls the same
//! decision functions in [`crate::commands`]. None keeps state. Internally
//! every failure is an [`ApiError`] (status, code, message, field); each
//! dialect's error type only changes how that is written on the wire.

/// Declares a dialect's error type: a newtype over [`ApiError`] that the
/// `?` operator reaches from an `ApiError` or a
/// [`CommandError`](crate::commands::CommandError) (through `$from_command`,
/// `Into::into` unless the dialect renames fields first). The dialect then
/// writes its own `IntoResponse`.
macro_rules! dialect_error {
    ($(#[$doc:meta])* $name:ident) => {
        dialect_error!($(#[$doc])* $name, Into::into);
    };
    ($(#[$doc:meta])* $name:ident, $from_command:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(pub ApiError);

        impl From<ApiError> for $name {
            fn from(e: ApiError) -> Self {
                $name(e)
            }
        }

        impl From<CommandError> for $name {
            fn from(e: CommandError) -> Self {
                let convert: fn(CommandError) -> ApiError = $from_command;
                $name(convert(e))
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
use switchboard_events::Id;
use time::OffsetDateTime;

/// Deterministic, reversible UUIDs for our numeric ids, so UUID dialects
/// need no id table.
///
/// Layout (a version-8 "custom" UUID, RFC 9562):
/// `5b0K0000-0000-8000-8HHH-HHHHHHHHHHHH`, where `K` is the kind digit
/// (1 user, 2 extension, 3 link, 4 call queue) and the 15 `H` digits are the id in
/// hexadecimal (ids are below 2^53, 14 hex digits). Parsing accepts any
/// letter case and refuses anything we could not have issued — including a
/// user UUID where an extension is expected — so a wrong id is simply "not
/// found".
pub mod uuid {
    use switchboard_events::ids::ID_LIMIT;
    use switchboard_events::Id;

    /// What an id names.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Kind {
        /// A user.
        User = 1,
        /// An extension.
        Extension = 2,
        /// A user↔extension link.
        Link = 3,
        /// A call queue.
        Queue = 4,
    }

    /// Renders `id` as the UUID of a `kind`.
    pub fn render(kind: Kind, id: Id) -> String {
        let hex = format!("{:015x}", id.0);
        format!(
            "5b0{}0000-0000-8000-8{}-{}",
            kind as u8,
            &hex[..3],
            &hex[3..]
        )
    }

    /// Parses a UUID rendered by [`render`] for `kind`.
    pub fn parse(kind: Kind, s: &str) -> Option<Id> {
        let s = s.to_ascii_lowercase();
        let prefix = format!("5b0{}0000-0000-8000-8", kind as u8);
        let rest = s.strip_prefix(&prefix)?;
        let (hi, lo) = rest.split_once('-')?;
        if hi.len() != 3 || lo.len() != 12 {
            return None;
        }
        let hex = format!("{hi}{lo}");
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let n = u64::from_str_radix(&hex, 16).ok()?;
        (n > 0 && n < ID_LIMIT).then_some(Id(n))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trips_and_refuses_other_kinds() {
            for n in [1u64, 42, 0xabc_def, ID_LIMIT - 1] {
                let u = render(Kind::User, Id(n));
                assert!(::uuid::Uuid::parse_str(&u).is_ok(), "{u} is a UUID");
                assert_eq!(parse(Kind::User, &u), Some(Id(n)));
                assert_eq!(parse(Kind::User, &u.to_uppercase()), Some(Id(n)));
                assert_eq!(parse(Kind::Extension, &u), None);
            }
            for bad in [
                "",
                "550e8400-e29b-41d4-a716-446655440000",
                "5b010000-0000-8000-8000-000000000000",
                "5b010000-0000-8000-8fff-ffffffffffff",
                "5b010000-0000-8000-8zzz-000000000001",
                "5b010000-0000-8000-8000-0000000000001",
            ] {
                assert_eq!(parse(Kind::User, bad), None, "{bad}");
            }
        }
    }
}

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

/// An id as a JSON integer (ids are below 2^53, exact in every JSON number).
pub fn int_id(id: Id) -> serde_json::Value {
    serde_json::Value::from(id.0)
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
