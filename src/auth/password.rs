//! argon2id hashing of passwords, extension passwords and PINs. Only the
//! PHC hash string is ever stored (in events, hence in the log).

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};

/// Hashes and verifies secrets with fixed argon2id parameters.
#[derive(Clone)]
pub struct SecretHasher {
    params: Params,
}

/// The configured parameters are not valid for argon2.
#[derive(Debug, thiserror::Error)]
#[error("invalid argon2 parameters: {0}")]
pub struct HashError(String);

impl SecretHasher {
    /// A hasher with `memory_kib` memory and `iterations` passes.
    pub fn new(memory_kib: u32, iterations: u32) -> Result<SecretHasher, HashError> {
        let params =
            Params::new(memory_kib, iterations, 1, None).map_err(|e| HashError(e.to_string()))?;
        Ok(SecretHasher { params })
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes a secret into a PHC string (blocking, CPU-heavy: call from a
    /// blocking thread).
    pub fn hash(&self, secret: &str) -> Result<String, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon()
            .hash_password(secret.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    }

    /// Checks a secret against a stored PHC string (blocking). A malformed
    /// stored hash never matches. Besides the service's own argon2id, hashes
    /// a bulk import brought along verify too: argon2 with their own
    /// parameters (bounded at import, see
    /// [`check_phc`](crate::commands::user_input::check_phc)) and bcrypt.
    pub fn verify(&self, hash: &str, secret: &str) -> bool {
        if hash.starts_with("$2") {
            // bcrypt compares in constant time; a malformed hash is an error,
            // so a non-match.
            return bcrypt::verify(secret.as_bytes(), hash).unwrap_or(false);
        }
        match PasswordHash::new(hash) {
            Ok(parsed) => self
                .argon()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Hashes on the blocking pool.
    pub async fn hash_async(&self, secret: String) -> Result<String, HashError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.hash(&secret))
            .await
            .map_err(|e| HashError(e.to_string()))?
    }

    /// Verifies on the blocking pool.
    pub async fn verify_async(&self, hash: String, secret: String) -> bool {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.verify(&hash, &secret))
            .await
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_only_its_secret_and_never_contains_it() {
        let h = SecretHasher::new(1024, 1).expect("params");
        let hash = h.hash("s3cret-pass").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("s3cret-pass"));
        assert!(h.verify(&hash, "s3cret-pass"));
        assert!(!h.verify(&hash, "other"));
        assert!(!h.verify("not a hash", "s3cret-pass"));
    }

    #[test]
    fn imported_bcrypt_and_other_argon2_hashes_verify_their_secret_only() {
        let h = SecretHasher::new(1024, 1).expect("params");
        let bcrypt = bcrypt::hash("migrated-pass", 4).expect("bcrypt");
        assert!(h.verify(&bcrypt, "migrated-pass"));
        assert!(!h.verify(&bcrypt, "migrated-pasS"));
        let other = SecretHasher::new(2048, 2).expect("params");
        let argon = other.hash("migrated-pass").expect("argon2");
        assert!(h.verify(&argon, "migrated-pass"));
        assert!(!h.verify(&argon, "other"));
        assert!(!h.verify("$2b$04$garbage", "migrated-pass"));
    }
}
