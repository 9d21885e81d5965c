//! PortSIP resource ids: opaque strings such as `NzAwNTUxOTA5NzczMTQ4MTYw`
//! (base64 of the decimal id, like PortSIP's own). Clients must treat them
//! as opaque; we parse them back strictly.

pub use crate::ids::{parse, render};
use switchboard_events::Id;

/// Parses a path id; anything we could not have issued is a missing `what`
/// (404 `NOT_FOUND`), indistinguishable from an id of another tenant.
pub fn parse_or_404(raw: &str, what: &str) -> Result<Id, crate::http::error::ApiError> {
    parse(raw).ok_or_else(|| crate::http::error::ApiError::not_found(what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use switchboard_events::ids::ID_LIMIT;
    use switchboard_events::Id;

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
