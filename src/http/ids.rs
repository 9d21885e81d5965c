//! The id codecs of the dialects, shared at the edge. Resource ids are
//! numbers below 2^53 (`switchboard_events::ids::Id`); each dialect shows
//! them its own way without storing anything:
//!
//! - [`portsip`]: base64 of the decimal (`NzAwNTUxOTA5NzczMTQ4MTYw`), PortSIP's
//!   form (and the canonical string the queries layer sorts by);
//! - [`uuid`]: a deterministic version-8 UUID with a kind digit;
//! - [`int`]: the number itself, for the integer dialects.
//!
//! Parsing is strict: anything we could not have issued is "not found".

/// PortSIP's opaque ids: base64 of the decimal id, like PortSIP's own.
/// Clients must treat them as opaque; we parse them back strictly.
pub mod portsip {
    pub use crate::ids::{parse, render};
    use switchboard_events::Id;

    /// Parses a path id; anything we could not have issued is a missing
    /// `what` (404 `NOT_FOUND`), indistinguishable from an id of another
    /// tenant.
    pub fn parse_or_404(raw: &str, what: &str) -> Result<Id, super::super::error::ApiError> {
        parse(raw).ok_or_else(|| super::super::error::ApiError::not_found(what))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;
        use switchboard_events::ids::ID_LIMIT;

        #[test]
        fn ids_round_trip_and_look_like_portsips() {
            // base64 of the decimal, as PortSIP's own ids are (pinned values).
            assert_eq!(
                render(Id(700551909773148160 % ID_LIMIT)),
                "Njk5NzU2NzE1ODA5MTc3Ng=="
            );
            assert_eq!(render(Id(42)), "NDI=");
            assert_eq!(
                STANDARD.encode("700551909773148160"),
                "NzAwNTUxOTA5NzczMTQ4MTYw"
            );
            for n in [1u64, 42, 123_456_789, ID_LIMIT - 1] {
                assert_eq!(parse(&render(Id(n))), Some(Id(n)));
            }
            for bad in ["", "!!", "MA==", "LTE=", "YWJj", &STANDARD.encode("01")] {
                assert_eq!(parse(bad), None, "{bad}");
            }
        }
    }
}

/// Integer ids (the client-users and eTelecom dialects).
pub mod int {
    use switchboard_events::Id;

    /// An id as a JSON integer (ids are below 2^53, exact in every JSON number).
    pub fn render(id: Id) -> serde_json::Value {
        serde_json::Value::from(id.0)
    }

    /// A positive decimal id; `None` otherwise.
    pub fn parse(raw: &str) -> Option<Id> {
        raw.parse::<u64>().ok().filter(|n| *n > 0).map(Id)
    }
}

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
