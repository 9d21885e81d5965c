//! Directory snapshots: the whole read model at one log offset, so that a
//! restart replays only the tail of the log.
//!
//! ```text
//! file   = magic "SBSNAP01" · header · body
//! header = format:u16le · offset:u64le · record_hash:[u8;32] · body_len:u64le · body_crc32:u32le · schema:u64le
//! body   = postcard(Directory)
//! ```
//!
//! `record_hash` is the hash of the log record at `offset` (the chain hash,
//! which commits to every record before it). On load the caller compares it
//! with the log's record at that offset: if the log was replaced, rewound or
//! tampered with, the hashes differ and the snapshot is not used. The body
//! CRC catches a torn or rotted file. `schema` fingerprints the event
//! catalog (every event type and version this build knows): a build with
//! other events (and so, usually, other projections) does not trust an older
//! snapshot, since postcard is not self-describing. A change to the
//! directory's shape without a new event must bump [`SNAPSHOT_FORMAT`].
//! Either way the fallback is a full replay, never a wrong state.
//!
//! This module only encodes and decodes bytes: this crate keeps no storage.
//! Where snapshot files live and how they are written (temporary name,
//! fsync, rename) is the service's (`switchboard::snapshots`).

use crate::directory::Directory;

/// The snapshot format version this build writes and reads.
///
/// 4: user, item, group, queue and tenant rows keep their fields as
/// [`switchboard_events::Attrs`] and users their hashes as
/// [`crate::directory::SecretHash`]. Both encode as the map and strings of
/// format 3, but the rows are a new shape: a format 3 snapshot is not read
/// (the fallback is a full replay), so no decoder has to guess.
pub const SNAPSHOT_FORMAT: u16 = 4;

const MAGIC: &[u8; 8] = b"SBSNAP01";
const HEADER_LEN: usize = 8 + 2 + 8 + 32 + 8 + 4 + 8;

/// Snapshot bytes could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes is not a snapshot of a format this build reads.
    #[error("not a readable snapshot: {0}")]
    Format(String),
    /// The body does not match its checksum.
    #[error("snapshot body checksum mismatch")]
    Checksum,
    /// Encoding or decoding the directory failed.
    #[error("snapshot body: {0}")]
    Body(String),
}

/// The fixed header of a snapshot file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// Format version.
    pub format: u16,
    /// The log offset the state reflects.
    pub offset: u64,
    /// Hash of the log record at `offset` (genesis hash for offset 0).
    pub record_hash: [u8; 32],
    /// Body length in bytes.
    pub body_len: u64,
    /// CRC32 of the body.
    pub body_crc: u32,
    /// Fingerprint of the event catalog of the build that wrote it.
    pub schema: u64,
}

/// This build's schema fingerprint: FNV-1a over every event type name and
/// version in [`switchboard_events::Event::catalog`].
pub fn schema_fingerprint() -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (name, version) in switchboard_events::Event::catalog() {
        eat(name.as_bytes());
        eat(&version.to_le_bytes());
        eat(&[0]);
    }
    h
}

/// Encodes a directory into snapshot bytes.
pub fn encode(dir: &Directory, record_hash: [u8; 32]) -> Result<Vec<u8>, SnapshotError> {
    let body = postcard::to_allocvec(dir).map_err(|e| SnapshotError::Body(e.to_string()))?;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&SNAPSHOT_FORMAT.to_le_bytes());
    out.extend_from_slice(&dir.offset.to_le_bytes());
    out.extend_from_slice(&record_hash);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&schema_fingerprint().to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Reads the header only.
pub fn header(bytes: &[u8]) -> Result<SnapshotHeader, SnapshotError> {
    let h = bytes.get(..HEADER_LEN).ok_or_else(|| {
        SnapshotError::Format(format!("{} bytes is shorter than the header", bytes.len()))
    })?;
    if &h[..8] != MAGIC {
        return Err(SnapshotError::Format("bad magic".into()));
    }
    let u64_at = |i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&h[i..i + 8]);
        u64::from_le_bytes(a)
    };
    let format = u16::from_le_bytes([h[8], h[9]]);
    if format != SNAPSHOT_FORMAT {
        return Err(SnapshotError::Format(format!(
            "format {format}, this build reads {SNAPSHOT_FORMAT}"
        )));
    }
    let mut record_hash = [0u8; 32];
    record_hash.copy_from_slice(&h[18..50]);
    Ok(SnapshotHeader {
        format,
        offset: u64_at(10),
        record_hash,
        body_len: u64_at(50),
        body_crc: u32::from_le_bytes([h[58], h[59], h[60], h[61]]),
        schema: u64_at(62),
    })
}

/// Decodes snapshot bytes, checking the header and the body CRC.
pub fn decode(bytes: &[u8]) -> Result<(SnapshotHeader, Directory), SnapshotError> {
    let h = header(bytes)?;
    let body = &bytes[HEADER_LEN..];
    if body.len() as u64 != h.body_len {
        return Err(SnapshotError::Format(format!(
            "body is {} bytes, header says {}",
            body.len(),
            h.body_len
        )));
    }
    if crc32fast::hash(body) != h.body_crc {
        return Err(SnapshotError::Checksum);
    }
    if h.schema != schema_fingerprint() {
        return Err(SnapshotError::Format(
            "written by a build with other event types".into(),
        ));
    }
    let (dir, rest): (Directory, &[u8]) =
        postcard::take_from_bytes(body).map_err(|e| SnapshotError::Body(e.to_string()))?;
    if !rest.is_empty() {
        return Err(SnapshotError::Body(format!(
            "{} bytes left over: the directory's shape changed",
            rest.len()
        )));
    }
    if dir.offset != h.offset {
        return Err(SnapshotError::Format(format!(
            "body is at offset {}, header says {}",
            dir.offset, h.offset
        )));
    }
    Ok((h, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_round_trips_and_any_damage_is_refused() {
        let dir = Directory {
            offset: 42,
            ..Directory::default()
        };
        let bytes = encode(&dir, [7; 32]).expect("encodes");
        let (h, back) = decode(&bytes).expect("decodes");
        assert_eq!(h.offset, 42);
        assert_eq!(h.record_hash, [7; 32]);
        assert_eq!(back.offset, 42);
        for i in 0..bytes.len() {
            if (18..50).contains(&i) {
                continue; // the record hash is checked against the log, not here
            }
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(decode(&bad).is_err(), "flip at {i} went unnoticed");
        }
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        // Another build's event catalog: refused.
        let mut other = bytes.clone();
        other[62] ^= 1;
        assert!(matches!(decode(&other), Err(SnapshotError::Format(_))));
    }

    #[test]
    fn a_snapshot_of_an_older_format_is_refused_not_misread() {
        let dir = Directory {
            offset: 9,
            ..Directory::default()
        };
        let mut bytes = encode(&dir, [1; 32]).expect("encodes");
        for old in 0..SNAPSHOT_FORMAT {
            bytes[8..10].copy_from_slice(&old.to_le_bytes());
            match decode(&bytes) {
                Err(SnapshotError::Format(why)) => {
                    assert!(why.contains(&format!("format {old}")), "{why}")
                }
                other => panic!("format {old} read: {other:?}"),
            }
            assert!(header(&bytes).is_err());
        }
    }
}
