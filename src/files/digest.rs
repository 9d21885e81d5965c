//! Content digests: the name of a blob.
//!
//! PortSIP's definitions say a digest is "a serialized hash result,
//! consisting of an algorithm and hex portion. Only sha256 based digest
//! accepted", and their example is the bare hex. Both `sha256:<hex>` and
//! `<hex>` parse; the canonical form (what is rendered, stored and used as
//! the file name on disk) is the bare lowercase hex.

use sha2::{Digest as _, Sha256};
use std::fmt;

/// A SHA-256 digest of a blob's bytes.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Digest(pub [u8; 32]);

/// Why a digest did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// An algorithm other than sha256 was named.
    #[error("only sha256 digests are accepted, not {0:?}")]
    Algorithm(String),
    /// The hex part is not 64 hexadecimal digits.
    #[error("must be 64 hexadecimal digits (sha256), optionally prefixed by \"sha256:\"")]
    Malformed,
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// Parses `sha256:<hex>` or `<hex>` (either case).
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let hex_part = match s.split_once(':') {
            Some((alg, rest)) if alg.eq_ignore_ascii_case("sha256") => rest,
            Some((alg, _)) => {
                // Bounded, so an error message cannot echo a huge input.
                return Err(DigestError::Algorithm(alg.chars().take(32).collect()));
            }
            None => s,
        };
        if hex_part.len() != 64 {
            return Err(DigestError::Malformed);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out).map_err(|_| DigestError::Malformed)?;
        Ok(Digest(out))
    }

    /// The canonical form: 64 lowercase hex digits.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.hex())
    }
}

/// Computes a digest incrementally (uploads hash what they read back).
#[derive(Default)]
pub struct Hasher(Sha256);

impl Hasher {
    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        Digest(self.0.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_both_forms_and_renders_bare_lowercase_hex() {
        let d = Digest::of(b"");
        assert_eq!(d.hex(), EMPTY);
        assert_eq!(Digest::parse(EMPTY), Ok(d));
        assert_eq!(Digest::parse(&format!("sha256:{EMPTY}")), Ok(d));
        assert_eq!(
            Digest::parse(&format!("SHA256:{}", EMPTY.to_uppercase())),
            Ok(d)
        );
        assert_eq!(d.to_string(), EMPTY);
    }

    #[test]
    fn refuses_other_algorithms_and_malformed_hex() {
        assert_eq!(
            Digest::parse(&format!("md5:{EMPTY}")),
            Err(DigestError::Algorithm("md5".into()))
        );
        assert_eq!(Digest::parse("abc"), Err(DigestError::Malformed));
        assert_eq!(
            Digest::parse(&EMPTY.replace('e', "g")),
            Err(DigestError::Malformed)
        );
        assert_eq!(
            Digest::parse("../../etc/passwd"),
            Err(DigestError::Malformed)
        );
        assert_eq!(Digest::parse(&"é".repeat(32)), Err(DigestError::Malformed));
    }

    #[test]
    fn incremental_hashing_equals_one_shot() {
        let mut h = Hasher::default();
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.finish(), Digest::of(b"hello world"));
    }
}
