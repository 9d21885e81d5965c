//! Secret hashes as the directory keeps them: [`SecretHash`].
//!
//! A user row holds up to three PHC strings (password, extension password,
//! voicemail PIN), ~97 bytes each for argon2id, most of it base64 and a
//! parameter prefix that every hash of a deployment shares. A
//! [`SecretHash`] keeps the salt and the hash as raw bytes and the prefix
//! (`$argon2id$v=19$m=19456,t=2,p=1$`) as a small number into a
//! process-wide table: 52 bytes on the heap instead of 97. Anything that is
//! not exactly `prefix$salt$hash` with canonical unpadded base64 (a bcrypt
//! hash, a test's placeholder) is kept verbatim, so the string read back is
//! always the string stored.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use parking_lot::RwLock;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock};
use switchboard_events::domain::SecretKind;

/// Distinct hash prefixes kept in the table at most (a deployment has one
/// or two: its argon2 parameters); past that a hash is kept verbatim.
const MAX_PREFIXES: usize = 1024;

/// Prefixes by number, and numbers by prefix.
#[derive(Default)]
struct Prefixes {
    by_id: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u16>,
}

static PREFIXES: LazyLock<RwLock<Prefixes>> = LazyLock::new(Default::default);

const VERBATIM: u8 = 0;
const PACKED: u8 = 1;

/// A secret's hash (a PHC string), stored compactly. Reads back exactly as
/// stored ([`SecretHash::to_phc`]).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(Box<[u8]>);

impl Default for SecretHash {
    /// The empty string (a user created without a password).
    fn default() -> Self {
        SecretHash::new("")
    }
}

fn prefix_id(prefix: &str) -> Option<u16> {
    if let Some(id) = PREFIXES.read().ids.get(prefix) {
        return Some(*id);
    }
    let mut table = PREFIXES.write();
    if let Some(id) = table.ids.get(prefix) {
        return Some(*id);
    }
    if table.by_id.len() >= MAX_PREFIXES {
        return None;
    }
    let id = u16::try_from(table.by_id.len()).ok()?;
    let shared: Arc<str> = Arc::from(prefix);
    table.by_id.push(shared.clone());
    table.ids.insert(shared, id);
    Some(id)
}

/// `prefix$salt$hash` → (prefix with its trailing `$`, salt, hash) when both
/// parts are canonical unpadded base64 of at most 255 bytes.
fn split(phc: &str) -> Option<(&str, Vec<u8>, Vec<u8>)> {
    let (head, hash) = phc.rsplit_once('$')?;
    let cut = head.rfind('$')? + 1;
    let (prefix, salt) = head.split_at(cut);
    if !prefix.starts_with('$') {
        return None;
    }
    let salt_bytes = STANDARD_NO_PAD.decode(salt).ok()?;
    let hash_bytes = STANDARD_NO_PAD.decode(hash).ok()?;
    // Only what reads back byte for byte is packed.
    if salt_bytes.len() > 255
        || STANDARD_NO_PAD.encode(&salt_bytes) != salt
        || STANDARD_NO_PAD.encode(&hash_bytes) != hash
    {
        return None;
    }
    Some((prefix, salt_bytes, hash_bytes))
}

impl SecretHash {
    /// Keeps `phc` (packed when it is a canonical PHC string).
    pub fn new(phc: &str) -> SecretHash {
        if let Some((prefix, salt, hash)) = split(phc) {
            if let Some(id) = prefix_id(prefix) {
                let mut out = Vec::with_capacity(4 + salt.len() + hash.len());
                out.push(PACKED);
                out.extend_from_slice(&id.to_le_bytes());
                out.push(salt.len() as u8);
                out.extend_from_slice(&salt);
                out.extend_from_slice(&hash);
                return SecretHash(out.into_boxed_slice());
            }
        }
        let mut out = Vec::with_capacity(1 + phc.len());
        out.push(VERBATIM);
        out.extend_from_slice(phc.as_bytes());
        SecretHash(out.into_boxed_slice())
    }

    /// The PHC string, exactly as it was stored.
    pub fn to_phc(&self) -> String {
        phc_of(&self.0)
    }
}

/// The PHC string of a [`SecretHash`]'s bytes.
fn phc_of(bytes: &[u8]) -> String {
    match bytes.split_first() {
        Some((&PACKED, rest)) if rest.len() >= 3 => {
            let id = u16::from_le_bytes([rest[0], rest[1]]);
            let salt_len = usize::from(rest[2]);
            let body = &rest[3..];
            let (salt, hash) = body.split_at(salt_len.min(body.len()));
            let prefix = PREFIXES
                .read()
                .by_id
                .get(usize::from(id))
                .cloned()
                .unwrap_or_else(|| Arc::from(""));
            let mut out = String::with_capacity(prefix.len() + 100);
            out.push_str(&prefix);
            STANDARD_NO_PAD.encode_string(salt, &mut out);
            out.push('$');
            STANDARD_NO_PAD.encode_string(hash, &mut out);
            out
        }
        Some((_, rest)) => String::from_utf8_lossy(rest).into_owned(),
        None => String::new(),
    }
}

/// A user's three secret hashes (password, extension password, voicemail
/// PIN), each a [`SecretHash`]'s bytes, in one allocation: 16 bytes in the
/// row instead of three boxes' 48. Each slot is a length + 1 (0: not set,
/// one byte below 127) and the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets(Box<[u8]>);

/// A slot of [`Secrets`].
fn slot(kind: SecretKind) -> usize {
    match kind {
        SecretKind::Password => 0,
        SecretKind::ExtensionPassword => 1,
        SecretKind::VoicemailPin => 2,
    }
}

impl Default for Secrets {
    /// The empty password, nothing else set (as `SecretHash::default()`).
    fn default() -> Secrets {
        Secrets::new("")
    }
}

impl Secrets {
    /// A password hash alone.
    pub fn new(password: &str) -> Secrets {
        Secrets::of([Some(password), None, None])
    }

    /// The password's, the extension password's and the voicemail PIN's
    /// hashes (each packed once, one allocation).
    pub fn of(phcs: [Option<&str>; 3]) -> Secrets {
        let hashes = phcs.map(|p| p.map(SecretHash::new));
        Secrets(Self::pack(
            hashes.each_ref().map(|h| h.as_ref().map(|h| &h.0[..])),
        ))
    }

    fn pack(slots: [Option<&[u8]>; 3]) -> Box<[u8]> {
        let mut out =
            Vec::with_capacity(3 + slots.iter().flatten().map(|s| s.len()).sum::<usize>());
        for s in slots {
            let mut n = s.map_or(0, |s| s.len() + 1);
            while n >= 0x80 {
                out.push((n as u8) | 0x80);
                n >>= 7;
            }
            out.push(n as u8);
            out.extend_from_slice(s.unwrap_or_default());
        }
        out.into_boxed_slice()
    }

    /// The three slots' bytes.
    fn slots(&self) -> [Option<&[u8]>; 3] {
        let mut out = [None; 3];
        let mut at = 0;
        for o in &mut out {
            let mut n = 0usize;
            let mut shift = 0;
            while let Some(&b) = self.0.get(at) {
                at += 1;
                n |= usize::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 || shift > 28 {
                    break;
                }
            }
            if n > 0 {
                let end = (at + n - 1).min(self.0.len());
                *o = self.0.get(at..end);
                at = end;
            }
        }
        out
    }

    /// Sets (`Some`) or clears a secret's hash.
    pub fn set(&mut self, kind: SecretKind, phc: Option<&str>) {
        let new = phc.map(SecretHash::new);
        let mut slots = self.slots();
        slots[slot(kind)] = new.as_ref().map(|h| &h.0[..]);
        self.0 = Self::pack(slots);
    }

    /// A secret's PHC string, exactly as stored, if set.
    pub fn phc(&self, kind: SecretKind) -> Option<String> {
        self.slots()[slot(kind)].map(phc_of)
    }
}

impl fmt::Debug for Secrets {
    /// Not the hashes: a debug print of a row must not leak them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets(..)")
    }
}

impl From<&str> for SecretHash {
    fn from(phc: &str) -> Self {
        SecretHash::new(phc)
    }
}

impl PartialEq<str> for SecretHash {
    fn eq(&self, other: &str) -> bool {
        self.to_phc() == other
    }
}

impl PartialEq<&str> for SecretHash {
    fn eq(&self, other: &&str) -> bool {
        self.to_phc() == *other
    }
}

impl fmt::Debug for SecretHash {
    /// Not the hash: a debug print of a row must not leak it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// Encoded as the PHC string (a snapshot does not depend on the table).
impl Serialize for SecretHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_phc())
    }
}

impl<'de> Deserialize<'de> for SecretHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SecretHash, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(SecretHash::new(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_reads_back_exactly_and_phc_strings_are_packed() {
        let argon = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$3Vq0oO0bq6gH0v6lQ5cW0t7j0G8n3aXr1Zl8J5wqkYc";
        let cases = [
            argon,
            "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$3CkiyD3vVz2LDJ9G4O5UeaAhTr5ZwcW6E7mq7fJQxkE",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$argon2id$x",
            "",
            "plain",
            "$a$b$",
            "$a$$",
            "$p$QQ$QR",  // not canonical base64 (trailing bits set): verbatim
            "$p$QUI=$QQ", // padded: verbatim
            "näive$x$y",
        ];
        for s in cases {
            let h = SecretHash::new(s);
            assert_eq!(h.to_phc(), s);
            assert!(h == s);
            crate::testing::assert_encodes_as(&h, s);
        }
        assert_eq!(SecretHash::new(argon).0[0], PACKED);
        assert!(
            SecretHash::new(argon).0.len() < 60,
            "salt and hash as bytes"
        );
        assert_eq!(
            SecretHash::new("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW")
                .to_phc()
                .len(),
            60
        );
        assert!(!format!("{:?}", SecretHash::new(argon)).contains("argon"));
    }

    #[test]
    fn a_users_three_secrets_share_one_allocation_and_read_back() {
        let argon = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$3Vq0oO0bq6gH0v6lQ5cW0t7j0G8n3aXr1Zl8J5wqkYc";
        let long = "x".repeat(300);
        let kinds = [
            SecretKind::Password,
            SecretKind::ExtensionPassword,
            SecretKind::VoicemailPin,
        ];
        let mut s = Secrets::default();
        assert_eq!(s.phc(SecretKind::Password).as_deref(), Some(""));
        assert_eq!(s.phc(SecretKind::VoicemailPin), None);
        let mut reference: [Option<String>; 3] = [Some(String::new()), None, None];
        let values = [
            Some(argon),
            Some(""),
            Some(long.as_str()),
            None,
            Some("$2b$x"),
        ];
        for step in 0..60 {
            let k = step % 3;
            let v = values[(step * 7 + step / 3) % values.len()];
            s.set(kinds[k], v);
            reference[k] = v.map(str::to_owned);
            for (i, kind) in kinds.iter().enumerate() {
                assert_eq!(s.phc(*kind), reference[i], "step {step}");
            }
        }
        assert!(!format!("{s:?}").contains('$'));
    }
}
