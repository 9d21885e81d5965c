//! Directory snapshots: the whole read model at one log offset, so that a
//! restart replays only the tail of the log.
//!
//! ```text
//! file     = magic "SBSNAP01" · header · body
//! header   = format:u16le · offset:u64le · record_hash:[u8;32] · body_len:u64le · body_crc32:u32le · schema:u64le
//! body     = postcard(head) · sessions · scope*
//! head     = tenants · domains · offset · sync_retention_secs · sessions_len · [(tenant, scope_len)]
//! sessions = postcard(Sessions)
//! scope    = postcard(Scope)          (one per tenant, in the head's order)
//! ```
//!
//! Each tenant's scope is a section of its own, so a reader that needs one
//! tenant (a past state for `?as_of=`, [`decode_tenant`]) decodes the head
//! and that section and passes over the others (and over the sessions)
//! by their lengths; [`decode`] reads them all.
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

use crate::directory::{Directory, Scope, Sessions, TenantView};
use crate::pmap::{PHashMap, PMap};
use switchboard_events::{Id, TenantId};

/// The snapshot format version this build writes and reads.
///
/// 5: the body is sectioned (a head, the sessions, one section per
/// tenant's scope), so one tenant can be read alone.
///
/// 4: user, item, group, queue and tenant rows keep their fields as
/// [`switchboard_events::Attrs`] and users their hashes as
/// [`crate::directory::SecretHash`]. Both encode as the map and strings of
/// format 3, but the rows are a new shape: a format 3 snapshot is not read
/// (the fallback is a full replay), so no decoder has to guess.
pub const SNAPSHOT_FORMAT: u16 = 5;

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

/// The body's head as written: the directory without its scopes and
/// sessions, and the lengths of the sections that follow.
#[derive(serde::Serialize)]
struct HeadOut<'a> {
    tenants: &'a PMap<Id, TenantView>,
    domains: &'a PHashMap<String, Id>,
    offset: u64,
    sync_retention_secs: u64,
    sessions_len: u64,
    scopes: Vec<(TenantId, u64)>,
}

/// The body's head as read.
#[derive(serde::Deserialize)]
struct HeadIn {
    tenants: PMap<Id, TenantView>,
    domains: PHashMap<String, Id>,
    offset: u64,
    sync_retention_secs: u64,
    sessions_len: u64,
    scopes: Vec<(TenantId, u64)>,
}

fn body_error(e: postcard::Error) -> SnapshotError {
    SnapshotError::Body(e.to_string())
}

/// Encodes a directory into snapshot bytes.
pub fn encode(dir: &Directory, record_hash: [u8; 32]) -> Result<Vec<u8>, SnapshotError> {
    let sessions = postcard::to_allocvec(&dir.sessions).map_err(body_error)?;
    let mut scopes = Vec::with_capacity(dir.scopes.len());
    let mut sections = Vec::with_capacity(dir.scopes.len());
    for (tenant, scope) in dir.scopes.iter() {
        let bytes = postcard::to_allocvec(scope).map_err(body_error)?;
        scopes.push((*tenant, bytes.len() as u64));
        sections.push(bytes);
    }
    let mut body = postcard::to_allocvec(&HeadOut {
        tenants: &dir.tenants,
        domains: &dir.domains,
        offset: dir.offset,
        sync_retention_secs: dir.sync_retention_secs,
        sessions_len: sessions.len() as u64,
        scopes,
    })
    .map_err(body_error)?;
    body.reserve(sessions.len() + sections.iter().map(Vec::len).sum::<usize>());
    body.extend_from_slice(&sessions);
    for section in sections {
        body.extend_from_slice(&section);
    }
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
    read(bytes, None)
}

/// Decodes the tenants, the domains and the scope of `tenant` only (none
/// if it has none): the other tenants' sections and the sessions are
/// passed over unread, after the same checks as [`decode`]. The state is
/// right for reads of that one tenant's scope, nothing else.
pub fn decode_tenant(
    bytes: &[u8],
    tenant: TenantId,
) -> Result<(SnapshotHeader, Directory), SnapshotError> {
    read(bytes, Some(tenant))
}

/// Decodes every section (`only`: `None`) or one tenant's.
fn read(
    bytes: &[u8],
    only: Option<TenantId>,
) -> Result<(SnapshotHeader, Directory), SnapshotError> {
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
    let (head, mut rest): (HeadIn, &[u8]) = postcard::take_from_bytes(body).map_err(body_error)?;
    let declared = head
        .scopes
        .iter()
        .try_fold(head.sessions_len, |n, (_, len)| n.checked_add(*len));
    if declared != Some(rest.len() as u64) {
        return Err(SnapshotError::Body(format!(
            "the sections are {} bytes, the head says {declared:?}: the directory's shape changed",
            rest.len()
        )));
    }
    // Splits the next `len` bytes off `rest` (the lengths were checked above).
    let mut next = |len: u64| {
        let (section, after) = rest.split_at(len as usize);
        rest = after;
        section
    };
    let sessions = next(head.sessions_len);
    let sessions: Sessions = match only {
        None => whole(sessions)?,
        Some(_) => Sessions::default(),
    };
    let mut scopes = PMap::new();
    for (tenant, len) in &head.scopes {
        let section = next(*len);
        if only.is_none_or(|t| t == *tenant) {
            scopes.insert(*tenant, whole::<Scope>(section)?);
        }
    }
    if head.offset != h.offset {
        return Err(SnapshotError::Format(format!(
            "body is at offset {}, header says {}",
            head.offset, h.offset
        )));
    }
    let dir = Directory {
        tenants: head.tenants,
        domains: head.domains,
        scopes,
        sessions,
        offset: head.offset,
        sync_retention_secs: head.sync_retention_secs,
        replaying: false,
        replay_threads: 0,
    };
    Ok((h, dir))
}

/// Decodes a section that must be exactly one value.
fn whole<T: serde::de::DeserializeOwned>(section: &[u8]) -> Result<T, SnapshotError> {
    let (value, left) = postcard::take_from_bytes(section).map_err(body_error)?;
    if !left.is_empty() {
        return Err(SnapshotError::Body(format!(
            "{} bytes left over in a section: the directory's shape changed",
            left.len()
        )));
    }
    Ok(value)
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

    /// A directory with two tenants of a user each (tenants 3 and 4) and
    /// a session.
    fn two_tenants() -> Directory {
        use switchboard_events::domain::{SessionStarted, TenantCreated, UserCreated};
        use switchboard_events::{Event, Fields};
        let mut dir = Directory::default();
        let mut offset = 0;
        for t in [3u64, 4] {
            let mut apply = |tenant: u64, event: Event| {
                offset += 1;
                let mut env = crate::testing::envelope(offset, "x", "X");
                env.tenant = Id(tenant);
                crate::Projection::apply(&mut dir, &env, &event);
            };
            apply(
                0,
                Event::TenantCreated(TenantCreated {
                    tenant_id: Id(t),
                    name: format!("t{t}"),
                    domain: format!("t{t}.example.com"),
                    attrs: Fields::new(),
                }),
            );
            apply(
                t,
                Event::UserCreated(UserCreated {
                    user_id: Id(100 + t),
                    name: format!("u{t}"),
                    role: "Admin".into(),
                    password_hash: "$argon2id$x".into(),
                    attrs: Fields::new(),
                }),
            );
            apply(
                t,
                Event::SessionStarted(SessionStarted {
                    session_id: Id(200 + t),
                    user_id: Id(100 + t),
                    access_hash: [t as u8; 32],
                    refresh_hash: [t as u8 + 10; 32],
                    access_expires_at: i64::MAX,
                    refresh_expires_at: i64::MAX,
                }),
            );
        }
        dir
    }

    #[test]
    fn one_tenant_reads_alone_and_the_whole_directory_reads_back() {
        let dir = two_tenants();
        assert_eq!(dir.scopes.len(), 2);
        let bytes = encode(&dir, [2; 32]).expect("encodes");
        let (_, all) = decode(&bytes).expect("decodes");
        let canonical =
            |d: &Directory, t: u64| crate::canonical::tenant_state(d, Id(t)).expect("canonical");
        for t in [3, 4] {
            assert_eq!(canonical(&all, t), canonical(&dir, t));
        }
        assert_eq!(all.tenants, dir.tenants);
        assert!(all.sessions.by_access(&[3; 32]).is_some());
        let (h, one) = decode_tenant(&bytes, Id(4)).expect("decodes");
        assert_eq!((h.offset, one.offset), (dir.offset, dir.offset));
        assert_eq!(one.scopes.keys().copied().collect::<Vec<_>>(), vec![Id(4)]);
        assert_eq!(canonical(&one, 4), canonical(&dir, 4));
        assert_eq!(one.tenants, dir.tenants, "every tenant's row is kept");
        assert!(
            one.sessions.by_access(&[4; 32]).is_none(),
            "sessions are not read"
        );
        let (_, none) = decode_tenant(&bytes, Id(9)).expect("decodes");
        assert!(none.scopes.is_empty());
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
