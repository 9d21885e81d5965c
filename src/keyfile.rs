//! 32-byte keys kept beside the data (`sync_token.key`, `webhook.key`,
//! `secrets.key`): a
//! configured secret wins (hashed to 32 bytes, so every node given the same
//! secret agrees); otherwise a random key is created once in the data
//! directory with mode 0600 and read back on every start.

use rand::RngCore;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// A key file could not be read or created.
#[derive(Debug, thiserror::Error)]
#[error("key file {path}: {source}")]
pub struct KeyError {
    path: String,
    source: std::io::Error,
}

/// The key: `sha256(secret)` when a non-empty secret is configured,
/// otherwise the contents of `data_dir/file` (created on first use; an
/// absolute `file` names a key kept elsewhere).
pub fn load(
    secret: Option<&str>,
    data_dir: &Path,
    file: impl AsRef<Path>,
) -> Result<[u8; 32], KeyError> {
    if let Some(s) = secret.filter(|s| !s.is_empty()) {
        return Ok(Sha256::digest(s.as_bytes()).into());
    }
    let path = data_dir.join(file);
    let err = |source| KeyError {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read(&path) {
        Ok(bytes) => bytes.as_slice().try_into().map_err(|_| {
            err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "must hold exactly 32 bytes",
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut key);
            std::fs::create_dir_all(path.parent().unwrap_or(data_dir)).map_err(err)?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&path).map_err(err)?;
            f.write_all(&key).map_err(err)?;
            f.sync_all().map_err(err)?;
            Ok(key)
        }
        Err(e) => Err(err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_created_once_private_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = load(None, dir.path(), "k.key").expect("created");
        let b = load(None, dir.path(), "k.key").expect("read");
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("k.key"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_ne!(load(Some("s"), dir.path(), "k.key").expect("secret"), a);
        assert_eq!(
            load(Some(""), dir.path(), "k.key").expect("empty = unset"),
            a
        );
        std::fs::write(dir.path().join("bad.key"), b"short").expect("write");
        assert!(load(None, dir.path(), "bad.key").is_err());
    }
}
