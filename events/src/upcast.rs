//! Upcasters: old payload schema versions → today's types.
//!
//! Decoding tries this first; `Ok(None)` means "current version, decode
//! normally". Each upcaster keeps a frozen copy of the old shape, so domain
//! code never sees it.

use crate::domain::{CodecError, Event, ExtensionCreated, ExtensionType};
use crate::ids::Id;
use serde::Deserialize;

/// `ExtensionCreated` v1: before extensions had a type and an enabled flag.
#[derive(Deserialize)]
struct ExtensionCreatedV1 {
    extension_id: Id,
    number: String,
    name: String,
}

/// Upcasts an old payload, or returns `Ok(None)` if `version` is not an old one.
pub fn upcast(event_type: &str, version: u16, payload: &[u8]) -> Result<Option<Event>, CodecError> {
    let malformed = |reason: postcard::Error| CodecError::Malformed {
        event_type: event_type.to_owned(),
        reason: reason.to_string(),
    };
    match (event_type, version) {
        ("ExtensionCreated", 1) => {
            let old: ExtensionCreatedV1 = postcard::from_bytes(payload).map_err(malformed)?;
            Ok(Some(Event::ExtensionCreated(ExtensionCreated {
                extension_id: old.extension_id,
                number: old.number,
                name: old.name,
                ext_type: ExtensionType::Sip,
                enabled: true,
            })))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of an `ExtensionCreated` v1 payload as written by the first
    /// schema: `{extension_id: 42, number: "101", name: "Reception"}`. This
    /// constant must never change: it stands for events already on disk.
    const EXTENSION_CREATED_V1: &[u8] = b"\x2a\x03101\x09Reception";

    #[test]
    fn given_stored_v1_bytes_when_decoded_then_they_become_todays_type() {
        let event = Event::decode("ExtensionCreated", 1, EXTENSION_CREATED_V1).expect("decodes");
        assert_eq!(
            event,
            Event::ExtensionCreated(ExtensionCreated {
                extension_id: Id(42),
                number: "101".into(),
                name: "Reception".into(),
                ext_type: ExtensionType::Sip,
                enabled: true,
            })
        );
    }

    #[test]
    fn current_versions_round_trip() {
        let event = Event::ExtensionCreated(ExtensionCreated {
            extension_id: Id(7),
            number: "200".into(),
            name: "Desk".into(),
            ext_type: ExtensionType::WebRtc,
            enabled: false,
        });
        let bytes = event.encode().expect("encodes");
        let back =
            Event::decode(event.event_type(), event.schema_version(), &bytes).expect("decodes");
        assert_eq!(event, back);
    }

    #[test]
    fn unknown_types_and_future_versions_are_errors() {
        assert!(matches!(
            Event::decode("Nope", 1, b""),
            Err(CodecError::UnknownType(_))
        ));
        assert!(matches!(
            Event::decode("ExtensionCreated", 9, b""),
            Err(CodecError::UnknownVersion { .. })
        ));
        assert!(matches!(
            Event::decode("ExtensionCreated", 1, b"\xff"),
            Err(CodecError::Malformed { .. })
        ));
    }
}
