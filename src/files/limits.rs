//! What the file store accepts: sizes, media types, open uploads.
//!
//! The media type of a file is read from its bytes (`infer`'s magic
//! numbers), never taken from the client's file name or headers, so a
//! limit to audio cannot be passed by naming an executable `x.wav`.

use std::time::Duration;

/// The media type of bytes nobody recognises.
pub const UNKNOWN_MEDIA_TYPE: &str = "application/octet-stream";

/// How many leading bytes are enough to recognise a media type.
pub const SNIFF_BYTES: usize = 8192;

/// Limits of one file store (from the service's configuration).
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest file, in bytes; an upload growing beyond it is refused.
    pub max_file_bytes: u64,
    /// Accepted media types: exact (`audio/mpeg`), a whole type
    /// (`audio/*`), or `*/*` for anything.
    pub media_types: Vec<String>,
    /// Uploads one tenant may have open at once.
    pub open_uploads_per_tenant: usize,
    /// An upload untouched this long is abandoned (removed by the sweep).
    pub upload_expiry: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 100 * 1024 * 1024,
            media_types: default_media_types(),
            open_uploads_per_tenant: 64,
            upload_expiry: Duration::from_secs(24 * 3600),
        }
    }
}

/// Audio (greetings, prompts, recordings), images (avatars) and PDF (faxes).
pub fn default_media_types() -> Vec<String> {
    ["audio/*", "image/*", "application/pdf"]
        .into_iter()
        .map(String::from)
        .collect()
}

impl Limits {
    /// Whether `media_type` is accepted.
    pub fn accepts(&self, media_type: &str) -> bool {
        self.media_types.iter().any(|p| matches(p, media_type))
    }
}

fn matches(pattern: &str, media_type: &str) -> bool {
    if pattern == "*/*" {
        return true;
    }
    match pattern.strip_suffix("/*") {
        Some(ty) => media_type
            .split_once('/')
            .is_some_and(|(t, _)| t.eq_ignore_ascii_case(ty)),
        None => pattern.eq_ignore_ascii_case(media_type),
    }
}

/// The media type of a file starting with `head`.
pub fn sniff(head: &[u8]) -> &'static str {
    match infer::get(head).map(|t| t.mime_type()) {
        // RFC 2361's registered name, and what PortSIP's definitions show.
        Some("audio/x-wav") => "audio/vnd.wave",
        Some(t) => t,
        None => UNKNOWN_MEDIA_TYPE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::tests::wav;

    #[test]
    fn sniffs_from_the_bytes_not_the_name() {
        assert_eq!(sniff(&wav()), "audio/vnd.wave");
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff(b"PK\x03\x04\x14\0\0\0"), "application/zip");
        assert_eq!(sniff(b"just some text"), UNKNOWN_MEDIA_TYPE);
    }

    #[test]
    fn patterns_match_exact_whole_type_or_anything() {
        let l = Limits::default();
        assert!(l.accepts("audio/vnd.wave"));
        assert!(l.accepts("AUDIO/mpeg"));
        assert!(l.accepts("application/pdf"));
        assert!(!l.accepts("application/zip"));
        assert!(!l.accepts(UNKNOWN_MEDIA_TYPE));
        assert!(!l.accepts("audiox/y"));
        let any = Limits {
            media_types: vec!["*/*".into()],
            ..Limits::default()
        };
        assert!(any.accepts(UNKNOWN_MEDIA_TYPE));
    }
}
