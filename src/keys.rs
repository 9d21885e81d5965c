//! 32-byte keys kept outside the log: derived from a configured secret, or
//! random bytes in a file beside the data (created once, mode 0600). The
//! sync token MAC key and the secrets sealing key both come from here.

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

/// A key derived from a configured secret (SHA-256 of it).
pub fn from_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The key in `path`, created with fresh random bytes (mode 0600, parent
/// directories included) if the file does not exist. A file of another
/// length is refused rather than silently replaced.
pub fn from_file(path: &Path) -> Result<[u8; 32], KeyError> {
    let err = |source| KeyError {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => bytes.as_slice().try_into().map_err(|_| {
            err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "must hold exactly 32 bytes",
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut key);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(err)?;
            }
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(path).map_err(err)?;
            f.write_all(&key).map_err(err)?;
            f.sync_all().map_err(err)?;
            Ok(key)
        }
        Err(e) => Err(err(e)),
    }
}

/// The configured secret's key if one is set, else the key file's.
pub fn load(secret: Option<&str>, file: &Path) -> Result<[u8; 32], KeyError> {
    match secret.filter(|s| !s.is_empty()) {
        Some(s) => Ok(from_secret(s)),
        None => from_file(file),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_created_once_private_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested").join("k.key");
        let first = from_file(&path).expect("created");
        assert_eq!(from_file(&path).expect("read"), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").expect("write");
        assert!(from_file(&path).is_err());
        assert_eq!(load(Some("s"), &path).expect("secret"), from_secret("s"));
    }
}
