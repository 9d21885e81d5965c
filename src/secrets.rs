//! Secrets the PBX itself must be able to use (STIR/SHAKEN private keys
//! today, SIP digest passwords later) are sealed before they reach a
//! command, so the log, exports, replays, snapshots and the audit log only
//! ever hold ciphertext.
//!
//! Sealing is XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`) with a
//! random 24-byte nonce and the field's name as associated data (a sealed
//! value cannot be passed off as another field's). The sealed form is the
//! string `sealed:v1:` followed by base64url(nonce ‖ ciphertext ‖ tag), so
//! it travels through events as an ordinary string value. The key is
//! `SHA-256(secrets_key)` when that is configured, else 32 random bytes in
//! `secrets_key_file` (default `<data_dir>/secrets.key`, created 0600 on
//! first start): outside the log, so a copy of the log alone reveals
//! nothing. Losing the key loses the sealed values (set them again).
//!
//! Values written before sealing existed are still in the log in clear:
//! the hash chain forbids rewriting them. They load as before and are
//! never rendered (responses show `null`, the audit log `"changed"`,
//! `replay` leaves them out, and `log export` writes `"event": null` for
//! those records, whose payload bytes still hold them). [`open`] accepts
//! them as [`Opened::Legacy`]. Setting the secret again stores it sealed;
//! treat the old value as exposed.

use crate::field_tables::{Fields, Kind, Table, Value};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::path::Path;
use switchboard_events::Event;

/// The prefix of a sealed value.
pub const SEALED_PREFIX: &str = "sealed:v1:";

/// The default key file name in the data directory.
pub const KEY_FILE: &str = "secrets.key";

const NONCE_LEN: usize = 24;

/// The key secrets are sealed with.
#[derive(Clone)]
pub struct SecretKey(XChaCha20Poly1305);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// A sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Not base64, too short, or the tag does not verify (another key,
    /// another field, or altered bytes).
    #[error("the sealed value cannot be opened with this key")]
    Unreadable,
}

/// What [`open`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// A sealed value, opened.
    Sealed(String),
    /// A value written in clear before sealing existed.
    Legacy(String),
}

/// Whether a stored string is a sealed value.
pub fn is_sealed(s: &str) -> bool {
    s.starts_with(SEALED_PREFIX)
}

impl SecretKey {
    /// A key from raw bytes.
    pub fn new(key: [u8; 32]) -> SecretKey {
        SecretKey(XChaCha20Poly1305::new(&key.into()))
    }

    /// The configured secret if any, else the key file (`file`, or
    /// `<data_dir>/secrets.key`; created on first use).
    pub fn load(
        secret: Option<&str>,
        file: Option<&Path>,
        data_dir: &Path,
    ) -> Result<SecretKey, crate::keyfile::KeyError> {
        let file = file.unwrap_or(Path::new(KEY_FILE));
        crate::keyfile::load(secret, data_dir, file).map(SecretKey::new)
    }

    /// Seals `clear` for the field `field`.
    pub fn seal(&self, field: &str, clear: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .0
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: clear.as_bytes(),
                    aad: field.as_bytes(),
                },
            )
            // Encryption fails only for plaintexts beyond 256 GiB.
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Opens a stored value of `field`: a sealed one, or a legacy clear one.
    pub fn open(&self, field: &str, stored: &str) -> Result<Opened, SecretError> {
        let Some(b64) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(Opened::Legacy(stored.to_owned()));
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| SecretError::Unreadable)?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretError::Unreadable);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let clear = self
            .0
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: field.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Unreadable)?;
        String::from_utf8(clear)
            .map(Opened::Sealed)
            .map_err(|_| SecretError::Unreadable)
    }

    /// Seals every secret field ([`Kind::Secret`]) of `table` in `fields`
    /// (validated input): a non-empty string becomes its sealed form;
    /// `null` (cleared) stays.
    pub fn seal_fields(&self, table: &Table, fields: &mut Fields) {
        for f in table.fields {
            if !matches!(f.kind, Kind::Secret { .. }) {
                continue;
            }
            if let Some(Value::Str(clear)) = fields.get(f.name) {
                let sealed = self.seal(f.name, clear);
                fields.insert(f.name.to_owned(), Value::Str(sealed));
            }
        }
    }
}

/// Whether an event carries a secret in clear (one written before sealing
/// existed): `log export` does not render such records' decoded event.
pub fn holds_clear_secret(event: &Event) -> bool {
    let clear = |fields: &Fields| {
        switchboard_projections::audit::SECRET_ATTRS
            .iter()
            .any(|name| matches!(fields.get(*name), Some(Value::Str(s)) if !is_sealed(s)))
    };
    match event {
        Event::TenantCreated(e) => clear(&e.attrs),
        Event::TenantUpdated(e) => clear(&e.changes),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SecretKey {
        SecretKey::new([b; 32])
    }

    #[test]
    fn sealed_values_open_with_the_same_key_and_field_only() {
        let k = key(1);
        let sealed = k.seal("stir_shaken_key", "-----BEGIN PRIVATE KEY-----x");
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("BEGIN"));
        assert_eq!(
            k.open("stir_shaken_key", &sealed),
            Ok(Opened::Sealed("-----BEGIN PRIVATE KEY-----x".into()))
        );
        assert_ne!(
            sealed,
            k.seal("stir_shaken_key", "-----BEGIN PRIVATE KEY-----x")
        );
        assert_eq!(
            key(2).open("stir_shaken_key", &sealed),
            Err(SecretError::Unreadable)
        );
        assert_eq!(k.open("other_field", &sealed), Err(SecretError::Unreadable));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(
            k.open("stir_shaken_key", &tampered),
            Err(SecretError::Unreadable)
        );
        assert_eq!(
            k.open("stir_shaken_key", "sealed:v1:!!"),
            Err(SecretError::Unreadable)
        );
        assert_eq!(
            k.open("stir_shaken_key", "old clear value"),
            Ok(Opened::Legacy("old clear value".into()))
        );
    }

    #[test]
    fn every_secret_field_of_every_table_is_known_to_the_audit_log() {
        use crate::field_tables::{group, tenant, user};
        for table in [&tenant::TENANT, &user::USER, &group::GROUP] {
            for f in table.fields {
                if matches!(f.kind, Kind::Secret { .. }) {
                    assert!(
                        switchboard_projections::audit::SECRET_ATTRS.contains(&f.name),
                        "{} is a secret the audit log and replay must hide",
                        f.name
                    );
                }
            }
        }
    }

    #[test]
    fn secret_fields_are_sealed_and_cleared_ones_stay_null() {
        use crate::field_tables::tenant::TENANT;
        let k = key(3);
        let mut f = Fields::new();
        f.insert("stir_shaken_key".into(), Value::Str("KEY".into()));
        f.insert("website".into(), Value::Str("https://a.example".into()));
        k.seal_fields(&TENANT, &mut f);
        let Some(Value::Str(s)) = f.get("stir_shaken_key") else {
            panic!("sealed string");
        };
        assert_eq!(
            k.open("stir_shaken_key", s),
            Ok(Opened::Sealed("KEY".into()))
        );
        assert_eq!(f["website"], Value::Str("https://a.example".into()));
        let mut cleared = Fields::new();
        cleared.insert("stir_shaken_key".into(), Value::Null);
        k.seal_fields(&TENANT, &mut cleared);
        assert_eq!(cleared["stir_shaken_key"], Value::Null);
        assert!(holds_clear_secret(&Event::TenantUpdated(
            switchboard_events::domain::TenantUpdated {
                tenant_id: switchboard_events::Id(1),
                changes: [("stir_shaken_key".to_owned(), Value::Str("KEY".into()))].into(),
            }
        )));
    }
}
