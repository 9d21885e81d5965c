//! Sync tokens: opaque, MAC-protected positions in the event log.
//!
//! A token encodes `(tenant, user, collection, offset, issued_at[, page])`
//! in a fixed binary layout, followed by an HMAC-SHA256 tag over those
//! bytes, all base64url without padding. The layout is written by hand
//! (rather than with a serde format) because it is tiny, must stay readable
//! by every later build, and is covered by a test that pins it.
//!
//! The MAC key survives restarts: `sync_token_secret` in the configuration
//! (hashed to a key) wins; otherwise a random 32-byte key is generated once
//! into `<data_dir>/sync_token.key` (mode 0600) and read on every start.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::Path;
use switchboard_events::{Id, TenantId};

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const BODY_LEN: usize = 1 + 1 + 8 * 4 + 1 + 8 * 3;
const TAG_LEN: usize = 32;
/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "sync_token.key";

/// What a token is a position in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// `/user/contacts`.
    PersonalContacts,
    /// `/user/business_contacts`.
    BusinessContacts,
    /// `/user/extension_contacts`.
    ExtensionContacts,
    /// `/user/cdrs`.
    PersonalCdrs,
    /// `GET /user/events` (the live stream's event ids).
    Events,
}

impl Collection {
    fn code(self) -> u8 {
        match self {
            Collection::PersonalContacts => 1,
            Collection::BusinessContacts => 2,
            Collection::ExtensionContacts => 3,
            Collection::PersonalCdrs => 4,
            Collection::Events => 5,
        }
    }

    fn from_code(c: u8) -> Option<Collection> {
        Some(match c {
            1 => Collection::PersonalContacts,
            2 => Collection::BusinessContacts,
            3 => Collection::ExtensionContacts,
            4 => Collection::PersonalCdrs,
            5 => Collection::Events,
            _ => return None,
        })
    }
}

/// Where the next page of a paged diff starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    /// The head the diff runs to (fixed for all its pages).
    pub head: u64,
    /// The last `(offset, id)` already returned.
    pub after: (u64, Id),
}

/// A decoded, authenticated token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// The tenant it was issued in.
    pub tenant: TenantId,
    /// The user it was issued to.
    pub user: Id,
    /// The collection.
    pub collection: Collection,
    /// The log offset the client is synced to.
    pub offset: u64,
    /// Unix seconds when it was issued (for the retention horizon).
    pub issued_at: i64,
    /// Set while a paged diff is in progress.
    pub page: Option<PageCursor>,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token we issued (bad encoding, bad MAC, unknown version).
    #[error("the sync token is not valid")]
    Invalid,
}

/// The key could not be read or created.
pub use crate::keyfile::KeyError;

/// The MAC key for sync tokens.
#[derive(Clone)]
pub struct SyncKey([u8; 32]);

impl std::fmt::Debug for SyncKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncKey(..)")
    }
}

impl SyncKey {
    /// A key derived from a configured secret.
    pub fn from_secret(secret: &str) -> SyncKey {
        let digest = Sha256::digest(secret.as_bytes());
        SyncKey(digest.into())
    }

    /// The configured secret if any, otherwise the key file in `data_dir`
    /// (created with fresh random bytes, mode 0600, on first use).
    pub fn load(secret: Option<&str>, data_dir: &Path) -> Result<SyncKey, KeyError> {
        crate::keyfile::load(secret, data_dir, KEY_FILE).map(SyncKey)
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; 32 bytes cannot fail.
        <HmacSha256 as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }

    /// Encodes and signs a token.
    pub fn issue(&self, t: &Token) -> String {
        let mut body = Vec::with_capacity(BODY_LEN + TAG_LEN);
        body.push(VERSION);
        body.push(t.collection.code());
        body.extend_from_slice(&t.tenant.0.to_be_bytes());
        body.extend_from_slice(&t.user.0.to_be_bytes());
        body.extend_from_slice(&t.offset.to_be_bytes());
        body.extend_from_slice(&t.issued_at.to_be_bytes());
        let page = t.page.unwrap_or(PageCursor {
            head: 0,
            after: (0, Id(0)),
        });
        body.push(u8::from(t.page.is_some()));
        body.extend_from_slice(&page.head.to_be_bytes());
        body.extend_from_slice(&page.after.0.to_be_bytes());
        body.extend_from_slice(&page.after.1 .0.to_be_bytes());
        let mut mac = self.mac();
        mac.update(&body);
        body.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(body)
    }

    /// Decodes a token and checks its MAC (in constant time).
    pub fn open(&self, s: &str) -> Result<Token, TokenError> {
        if s.len() > 200 {
            return Err(TokenError::Invalid);
        }
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| TokenError::Invalid)?;
        if bytes.len() != BODY_LEN + TAG_LEN {
            return Err(TokenError::Invalid);
        }
        let (body, tag) = bytes.split_at(BODY_LEN);
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(tag).map_err(|_| TokenError::Invalid)?;
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&body[i..i + 8]);
            u64::from_be_bytes(b)
        };
        if body[0] != VERSION {
            return Err(TokenError::Invalid);
        }
        let collection = Collection::from_code(body[1]).ok_or(TokenError::Invalid)?;
        let page = match body[34] {
            0 => None,
            1 => Some(PageCursor {
                head: u64_at(35),
                after: (u64_at(43), Id(u64_at(51))),
            }),
            _ => return Err(TokenError::Invalid),
        };
        Ok(Token {
            collection,
            tenant: Id(u64_at(2)),
            user: Id(u64_at(10)),
            offset: u64_at(18),
            issued_at: u64_at(26) as i64,
            page,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Token {
        Token {
            tenant: Id(7),
            user: Id(42),
            collection: Collection::BusinessContacts,
            offset: 1234,
            issued_at: 1_790_000_000,
            page: Some(PageCursor {
                head: 2000,
                after: (1500, Id(99)),
            }),
        }
    }

    #[test]
    fn tokens_round_trip_and_resist_tampering() {
        let key = SyncKey::from_secret("s3cret");
        let s = key.issue(&token());
        assert_eq!(key.open(&s), Ok(token()));
        let plain = Token {
            page: None,
            ..token()
        };
        assert_eq!(key.open(&key.issue(&plain)), Ok(plain));
        assert_eq!(
            SyncKey::from_secret("other").open(&s),
            Err(TokenError::Invalid)
        );
        // Flip one bit anywhere: refused.
        let mut bytes = URL_SAFE_NO_PAD.decode(&s).expect("b64");
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            let forged = URL_SAFE_NO_PAD.encode(&bytes);
            assert_eq!(key.open(&forged), Err(TokenError::Invalid), "byte {i}");
            bytes[i] ^= 1;
        }
        for garbage in ["", "x", "!!!!", &"A".repeat(500), &s[..s.len() - 2]] {
            assert_eq!(key.open(garbage), Err(TokenError::Invalid));
        }
    }

    #[test]
    fn the_layout_is_pinned() {
        // A token issued by this build must open in every later one.
        let key = SyncKey::from_secret("pinned");
        let s = key.issue(&token());
        assert_eq!(
            s,
            "AQIAAAAAAAAABwAAAAAAAAAqAAAAAAAABNIAAAAAarE7gAEAAAAAAAAH0AAAAAAAAAXcAAAAAAAAAGNhlxPL-77CxZoasqmf5fS01kTRorU_qE8TtCtfknuSeQ"
        );
    }

    #[test]
    fn the_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = SyncKey::load(None, dir.path()).expect("created");
        let b = SyncKey::load(None, dir.path()).expect("read back");
        assert_eq!(a.0, b.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let c = SyncKey::load(Some("configured"), dir.path()).expect("secret");
        assert_eq!(c.0, SyncKey::from_secret("configured").0);
        std::fs::write(dir.path().join(KEY_FILE), b"short").expect("write");
        assert!(SyncKey::load(None, dir.path()).is_err());
    }
}
