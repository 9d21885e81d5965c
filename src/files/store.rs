//! The store: content-addressed blobs, resumable uploads, pins and the sweep.
//!
//! ```text
//! <data_dir>/files/blobs/sha256/<2 hex>/<64 hex>   one blob per distinct content
//! <data_dir>/files/uploads/<uuid>/meta.json        an open upload (owner, size, token hash)
//! <data_dir>/files/uploads/<uuid>/data             the bytes received so far
//! <data_dir>/files/tmp/                            blobs being written (emptied at open)
//! ```
//!
//! - **Blobs are shared, visibility is not.** A blob is named by its
//!   digest and stored once whoever uploaded it; which tenant may see it is
//!   the business of the file records (events), never of this store.
//! - **Acknowledged means synced.** An append writes the bytes, fdatasyncs
//!   the data file, then records the new size in `meta.json` (temporary
//!   file, fsync, rename, directory fsync). The recorded size is what
//!   `status` reports and where the next append must start; bytes past it
//!   (an append cut off by a crash) are cut by the next append. So a client
//!   that lost an answer asks `status` and resends from there.
//! - **Only a verified upload becomes a blob.** Completion reads the data
//!   back, compares its digest with the client's and its media type with
//!   the limits, and only then renames it into `blobs/` (an existing blob
//!   of the same content is kept and the upload's copy dropped). A refused
//!   completion leaves the upload as it was.
//! - **Pins keep blobs alive between disk and log.** A blob is written
//!   before the event that references it is appended; until that event is
//!   applied the writer holds a [`Pin`] on its digest, and a completed
//!   upload holds one until it is finished or removed. The sweep deletes
//!   only blobs that are neither pinned nor referenced, and it holds the pin
//!   table for its whole pass, so a blob cannot be deleted between a writer
//!   finding it present and pinning it.

use super::digest::{Digest, DigestError, Hasher};
use super::disk;
use super::limits::{sniff, Limits, SNIFF_BYTES};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use switchboard_events::jetstream::coordination::SharedBlobs;
use switchboard_events::{Id, TenantId};
use time::OffsetDateTime;

/// Longest file name, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// No such upload for this owner (another tenant's or user's is the same).
    #[error("upload not found")]
    UploadNotFound,
    /// The upload token does not belong to the upload.
    #[error("the upload token does not match the upload")]
    BadToken,
    /// An append did not start where the upload ends.
    #[error("the upload has {expected} bytes; a chunk starting at {got} is out of order")]
    OutOfOrder {
        /// Bytes received so far (where the next chunk must start).
        expected: u64,
        /// Where the refused chunk said it starts.
        got: u64,
    },
    /// The file would exceed the size limit.
    #[error("the file would exceed the limit of {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: u64,
    },
    /// The bytes received do not have the digest the client named.
    #[error("the content's digest is {actual}, not {expected}")]
    DigestMismatch {
        /// What the client said.
        expected: Digest,
        /// What arrived.
        actual: Digest,
    },
    /// A digest did not parse.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// The content is of a media type the limits do not accept.
    #[error("files of type {media_type} are not accepted")]
    MediaType {
        /// The sniffed media type.
        media_type: String,
    },
    /// The tenant has too many uploads open.
    #[error("at most {limit} uploads may be open at once")]
    TooManyUploads {
        /// The configured limit.
        limit: usize,
    },
    /// The upload was completed already; it takes no more bytes.
    #[error("the upload is complete")]
    Completed,
    /// A value the store checks (a file name) is invalid.
    #[error("{field} {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The disk failed.
    #[error("file store I/O: {0}")]
    Io(#[from] io::Error),
}

/// Who an upload belongs to: only its owner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The tenant.
    pub tenant: TenantId,
    /// The user who began the upload.
    pub user: Id,
}

/// An upload's id: a UUID, as PortSIP's definitions say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UploadId(uuid::Uuid);

impl UploadId {
    /// Parses a client's upload id; `None` for anything that is not a UUID
    /// (so nothing else can ever name a path).
    pub fn parse(s: &str) -> Option<UploadId> {
        uuid::Uuid::parse_str(s).ok().map(UploadId)
    }

    fn random() -> UploadId {
        UploadId(uuid::Builder::from_random_bytes(rand::random()).into_uuid())
    }
}

impl std::fmt::Display for UploadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

/// A new upload: its id and the token its appends and completion carry.
#[derive(Debug, Clone)]
pub struct Begun {
    /// The upload id.
    pub id: UploadId,
    /// The upload token (shown once; only its hash is kept).
    pub token: String,
}

/// How far an upload got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes received and synced.
    pub size: u64,
    /// Whether the upload was completed (its blob exists).
    pub completed: bool,
}

/// What an upload is to become: decided at its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// The id the file will have (minted at the start, so a completion
    /// retried after a crash names the same file).
    pub file_id: Id,
    /// The file's name.
    pub name: String,
    /// A temporary file is collected once nothing references it.
    pub temporary: bool,
}

/// A blob in the store, pinned until the event referencing it is applied.
#[derive(Debug)]
pub struct Stored {
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type (sniffed from the bytes).
    pub media_type: String,
    /// Keeps the sweep off the blob; drop it once the referencing event is
    /// applied (or has failed).
    pub pin: Pin,
}

/// A completed upload: the blob, and the file it was meant to become.
#[derive(Debug)]
pub struct Completed {
    /// The upload's intent (file id, name, temporary).
    pub intent: Intent,
    /// Who uploaded it.
    pub owner: Owner,
    /// The blob.
    pub stored: Stored,
}

/// What a sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Blobs deleted (nothing referenced or pinned them).
    pub blobs: usize,
    /// Uploads abandoned (untouched past the expiry).
    pub uploads: usize,
}

type PinTable = Arc<Mutex<HashMap<Digest, usize>>>;
type SharedSlot = Arc<Mutex<Slot>>;

/// Keeps one blob from being swept while it lives.
#[derive(Debug)]
pub struct Pin {
    digest: Digest,
    table: PinTable,
}

impl Pin {
    fn new(table: &PinTable, digest: Digest) -> Pin {
        *table.lock().entry(digest).or_insert(0) += 1;
        Pin {
            digest,
            table: table.clone(),
        }
    }

    /// The pinned digest.
    pub fn digest(&self) -> Digest {
        self.digest
    }
}

impl Clone for Pin {
    fn clone(&self) -> Pin {
        Pin::new(&self.table, self.digest)
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        let mut t = self.table.lock();
        if let Some(n) = t.get_mut(&self.digest) {
            *n -= 1;
            if *n == 0 {
                t.remove(&self.digest);
            }
        }
    }
}

/// What `meta.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    owner: Owner,
    file_id: Id,
    name: String,
    temporary: bool,
    token_sha256: String,
    created_ms: i64,
    touched_ms: i64,
    size: u64,
    completed: Option<CompletedMeta>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CompletedMeta {
    digest: Digest,
    media_type: String,
}

/// One open upload. Its mutex serialises the upload's own operations;
/// different uploads proceed in parallel.
struct Slot {
    meta: Meta,
    /// Set when the upload is removed while someone waited for the lock.
    removed: bool,
    /// A completed upload keeps its blob until it is finished or removed.
    pin: Option<Pin>,
}

/// The name of the object store beside a JetStream log (`<stream>_files`)
/// that holds the blobs the nodes share.
pub const SHARED_BLOBS: &str = "files";

/// Where the blob `d` lives in the file store whose root is `root`
/// (`<data_dir>/files`).
pub fn blob_path_in(root: &Path, d: &Digest) -> PathBuf {
    let hex = d.hex();
    root.join("blobs/sha256").join(&hex[..2]).join(hex)
}

/// Blobs shared by the nodes of a JetStream log (a JetStream object store):
/// every blob placed in a node's store is also stored there before the
/// operation answers, and a blob a node does not have is fetched from there
/// (checked against its digest) the first time it is read.
pub struct Remote {
    blobs: SharedBlobs,
    runtime: tokio::runtime::Handle,
}

impl Remote {
    /// The shared blobs, reached through `runtime` (the store's operations
    /// run on blocking threads and wait for the object store there).
    pub fn new(blobs: SharedBlobs, runtime: tokio::runtime::Handle) -> Remote {
        Remote { blobs, runtime }
    }
}

fn remote_error(e: String) -> FileError {
    FileError::Io(io::Error::other(format!("shared file store: {e}")))
}

/// The file store of one data directory. Its operations block on the disk:
/// call them from a blocking thread (`spawn_blocking`).
pub struct Store {
    root: PathBuf,
    limits: Limits,
    /// On JetStream: the blobs shared by the nodes.
    remote: Option<Remote>,
    /// Open uploads with their (immutable) owners, so counting a tenant's
    /// uploads never waits for an append in progress.
    uploads: Mutex<HashMap<UploadId, (Owner, SharedSlot)>>,
    pins: PinTable,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish()
    }
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn token_hash(token: &str) -> String {
    hex::encode(crate::auth::tokens::token_hash(token))
}

/// Checks a file name: 1–255 characters, no path separators or control
/// characters (it ends up in `Content-Disposition`).
pub fn check_name(name: &str) -> Result<(), FileError> {
    let invalid = |reason: &str| FileError::Invalid {
        field: "filename",
        reason: reason.into(),
    };
    if name.trim().is_empty() {
        return Err(invalid("must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid("must be at most 255 characters"));
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\' || c == '"')
    {
        return Err(invalid(
            "must not contain control characters, slashes or quotes",
        ));
    }
    Ok(())
}

impl Store {
    /// Opens (creating) the store under `root`: empties `tmp/`, loads the
    /// open uploads (an upload without a readable `meta.json` was never
    /// acknowledged and is removed) and pins the blobs of completed ones.
    pub fn open(root: impl Into<PathBuf>, limits: Limits) -> Result<Store, FileError> {
        let root = root.into();
        for d in ["blobs/sha256", "uploads", "tmp"] {
            fs::create_dir_all(root.join(d))?;
        }
        for e in fs::read_dir(root.join("tmp"))? {
            let e = e?;
            let _ = fs::remove_file(e.path());
        }
        let pins: PinTable = Arc::default();
        let mut uploads = HashMap::new();
        for e in fs::read_dir(root.join("uploads"))? {
            let e = e?;
            let dir = e.path();
            let id = e.file_name().to_str().and_then(UploadId::parse);
            let meta = fs::read(dir.join("meta.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Meta>(&b).ok());
            match (id, meta) {
                (Some(id), Some(meta)) => {
                    let pin = meta.completed.as_ref().map(|c| Pin::new(&pins, c.digest));
                    let owner = meta.owner;
                    let slot = Slot {
                        meta,
                        removed: false,
                        pin,
                    };
                    uploads.insert(id, (owner, Arc::new(Mutex::new(slot))));
                }
                _ => {
                    tracing::warn!(dir = %dir.display(), "removing an upload that was never acknowledged");
                    disk::remove_dir_durable(&dir)?;
                }
            }
        }
        Ok(Store {
            root,
            limits,
            remote: None,
            uploads: Mutex::new(uploads),
            pins,
        })
    }

    /// Shares blobs with the other nodes through `remote` (see [`Remote`]).
    pub fn with_remote(mut self, remote: Remote) -> Store {
        self.remote = Some(remote);
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        blob_path_in(&self.root, d)
    }

    fn upload_dir(&self, id: UploadId) -> PathBuf {
        self.root.join("uploads").join(id.to_string())
    }

    /// Pins `digest` (whether or not its blob exists yet).
    pub fn pin(&self, digest: Digest) -> Pin {
        Pin::new(&self.pins, digest)
    }

    /// Whether the blob is on disk.
    pub fn contains(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Opens a blob for reading; `None` if it is not on disk (nor, on
    /// JetStream, in the shared blobs: then it is fetched first).
    pub fn open_blob(&self, digest: &Digest) -> Result<Option<File>, FileError> {
        match File::open(self.blob_path(digest)) {
            Ok(f) => return Ok(Some(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let Some(remote) = &self.remote else {
            return Ok(None);
        };
        let tmp = self.root.join("tmp").join(UploadId::random().to_string());
        let fetched = remote
            .runtime
            .block_on(remote.blobs.get_file(&digest.hex(), &tmp))
            .map_err(remote_error)?;
        if !fetched {
            return Ok(None);
        }
        // Named by its digest, checked by it: a damaged copy is not served.
        let mut hasher = Hasher::default();
        let mut f = File::open(&tmp)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        drop(f);
        let actual = hasher.finish();
        if actual != *digest {
            let _ = fs::remove_file(&tmp);
            return Err(remote_error(format!(
                "blob {} came back with digest {}",
                digest.hex(),
                actual.hex()
            )));
        }
        let _pin = self.pin(*digest);
        self.place_local(&tmp, digest)?;
        Ok(Some(File::open(self.blob_path(digest))?))
    }

    /// Stores `bytes` as a blob (temporary file, fsync, rename, directory
    /// fsync), after checking them against `expected` (if given) and the
    /// limits. The blob comes back pinned: keep the pin until the event that
    /// references the digest is applied.
    pub fn put_verified(
        &self,
        bytes: &[u8],
        expected: Option<&Digest>,
    ) -> Result<Stored, FileError> {
        if bytes.len() as u64 > self.limits.max_file_bytes {
            return Err(FileError::TooLarge {
                limit: self.limits.max_file_bytes,
            });
        }
        let digest = Digest::of(bytes);
        if let Some(expected) = expected {
            if *expected != digest {
                return Err(FileError::DigestMismatch {
                    expected: *expected,
                    actual: digest,
                });
            }
        }
        let media_type = self.check_media(&bytes[..bytes.len().min(SNIFF_BYTES)])?;
        let pin = self.pin(digest);
        if !self.contains(&digest) {
            let tmp = self.root.join("tmp").join(UploadId::random().to_string());
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            drop(f);
            self.place(&tmp, &digest)?;
        }
        Ok(Stored {
            digest,
            size: bytes.len() as u64,
            media_type,
            pin,
        })
    }

    fn check_media(&self, head: &[u8]) -> Result<String, FileError> {
        let media_type = sniff(head);
        if !self.limits.accepts(media_type) {
            return Err(FileError::MediaType {
                media_type: media_type.into(),
            });
        }
        Ok(media_type.into())
    }

    /// Moves a synced file into place as the blob `digest` (the caller
    /// holds a pin on it, so no sweep is deleting it meanwhile). If the blob
    /// exists already, the copy is dropped.
    fn place(&self, file: &Path, digest: &Digest) -> Result<(), FileError> {
        // Shared before the upload is answered (and so before the event
        // naming it is appended): every node can then fetch it. Shared
        // first, so a failure leaves `file` where it was and a retry of the
        // completion finds it.
        if let Some(remote) = &self.remote {
            remote
                .runtime
                .block_on(remote.blobs.put_file(&digest.hex(), file))
                .map_err(remote_error)?;
        }
        self.place_local(file, digest)
    }

    fn place_local(&self, file: &Path, digest: &Digest) -> Result<(), FileError> {
        let to = self.blob_path(digest);
        if to.is_file() {
            fs::remove_file(file)?;
            return Ok(());
        }
        let dir = to.parent().ok_or_else(|| io::Error::other("blob path"))?;
        if !dir.is_dir() {
            fs::create_dir_all(dir)?;
            disk::sync_dir(&self.root.join("blobs/sha256"))?;
        }
        disk::rename_durable(file, &to)?;
        Ok(())
    }

    // ---- uploads ----

    /// Begins an upload for `owner`, meant to become the file `intent`.
    pub fn begin(
        &self,
        owner: Owner,
        intent: Intent,
        now: OffsetDateTime,
    ) -> Result<Begun, FileError> {
        check_name(&intent.name)?;
        let mut uploads = self.uploads.lock();
        let open = uploads
            .values()
            .filter(|(o, _)| o.tenant == owner.tenant)
            .count();
        if open >= self.limits.open_uploads_per_tenant {
            return Err(FileError::TooManyUploads {
                limit: self.limits.open_uploads_per_tenant,
            });
        }
        let id = UploadId::random();
        let token = crate::auth::tokens::new_token();
        let meta = Meta {
            owner,
            file_id: intent.file_id,
            name: intent.name,
            temporary: intent.temporary,
            token_sha256: token_hash(&token),
            created_ms: ms(now),
            touched_ms: ms(now),
            size: 0,
            completed: None,
        };
        let dir = self.upload_dir(id);
        fs::create_dir(&dir)?;
        File::create(dir.join("data"))?.sync_all()?;
        disk::write_atomic(&dir.join("meta.json"), &json(&meta)?)?;
        disk::sync_dir(&self.root.join("uploads"))?;
        let slot = Slot {
            meta,
            removed: false,
            pin: None,
        };
        uploads.insert(id, (owner, Arc::new(Mutex::new(slot))));
        Ok(Begun { id, token })
    }

    fn slot(&self, id: UploadId, owner: Owner) -> Result<SharedSlot, FileError> {
        match self.uploads.lock().get(&id) {
            // Another tenant's or user's upload is indistinguishable from none.
            Some((o, slot)) if *o == owner => Ok(slot.clone()),
            _ => Err(FileError::UploadNotFound),
        }
    }

    /// How many bytes of the upload arrived (and whether it is complete).
    pub fn status(&self, id: UploadId, owner: Owner) -> Result<Progress, FileError> {
        let slot = self.slot(id, owner)?;
        let s = slot.lock();
        if s.removed {
            return Err(FileError::UploadNotFound);
        }
        Ok(progress(&s.meta))
    }

    /// Appends `bytes` at `start` (if given, it must equal the bytes
    /// received so far) and syncs them before answering.
    pub fn append(
        &self,
        id: UploadId,
        owner: Owner,
        token: &str,
        start: Option<u64>,
        bytes: &[u8],
        now: OffsetDateTime,
    ) -> Result<Progress, FileError> {
        let slot = self.slot(id, owner)?;
        let mut s = slot.lock();
        self.check_open(&s, token)?;
        if s.meta.completed.is_some() {
            return Err(FileError::Completed);
        }
        if let Some(start) = start {
            if start != s.meta.size {
                return Err(FileError::OutOfOrder {
                    expected: s.meta.size,
                    got: start,
                });
            }
        }
        self.write_chunk(id, &mut s.meta, bytes, now)?;
        Ok(progress(&s.meta))
    }

    fn check_open(&self, s: &Slot, token: &str) -> Result<(), FileError> {
        if s.removed {
            return Err(FileError::UploadNotFound);
        }
        if token_hash(token) != s.meta.token_sha256 {
            return Err(FileError::BadToken);
        }
        Ok(())
    }

    fn write_chunk(
        &self,
        id: UploadId,
        meta: &mut Meta,
        bytes: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), FileError> {
        let end = meta.size.saturating_add(bytes.len() as u64);
        if end > self.limits.max_file_bytes {
            return Err(FileError::TooLarge {
                limit: self.limits.max_file_bytes,
            });
        }
        let dir = self.upload_dir(id);
        let mut f = OpenOptions::new().write(true).open(dir.join("data"))?;
        // Whatever lies past the recorded size was never acknowledged.
        f.set_len(meta.size)?;
        f.seek(SeekFrom::Start(meta.size))?;
        f.write_all(bytes)?;
        f.sync_data()?;
        let mut next = meta.clone();
        next.size = end;
        next.touched_ms = ms(now);
        disk::write_atomic(&dir.join("meta.json"), &json(&next)?)?;
        *meta = next;
        Ok(())
    }

    /// Completes the upload: appends `tail` (the body of the completing
    /// request, possibly empty), verifies the digest and the media type,
    /// and moves the bytes into the blob store. Completing again (a retry
    /// after a lost answer or a crash) returns the same result. The blob
    /// comes back pinned; call [`Store::finish`] once the file's event is
    /// applied.
    pub fn complete(
        &self,
        id: UploadId,
        owner: Owner,
        token: &str,
        expected: &Digest,
        tail: &[u8],
        now: OffsetDateTime,
    ) -> Result<Completed, FileError> {
        let slot = self.slot(id, owner)?;
        let mut s = slot.lock();
        self.check_open(&s, token)?;
        if s.meta.completed.is_none() {
            let before = s.meta.clone();
            if !tail.is_empty() {
                self.write_chunk(id, &mut s.meta, tail, now)?;
            }
            let dir = self.upload_dir(id);
            let (actual, head) = hash_file(&dir.join("data"), s.meta.size)?;
            let checked = if actual != *expected {
                Err(FileError::DigestMismatch {
                    expected: *expected,
                    actual,
                })
            } else {
                self.check_media(&head)
            };
            let media_type = match checked {
                Ok(m) => m,
                Err(e) => {
                    // A refused completion changes nothing: its body is
                    // forgotten (the next append cuts it off the data).
                    if s.meta.size != before.size {
                        disk::write_atomic(&dir.join("meta.json"), &json(&before)?)?;
                        s.meta = before;
                    }
                    return Err(e);
                }
            };
            let pin = self.pin(actual);
            // The data file holds exactly the recorded size (appends cut
            // anything past it before writing), and was synced by them.
            let data = dir.join("data");
            let f = OpenOptions::new().write(true).open(&data)?;
            f.set_len(s.meta.size)?;
            f.sync_all()?;
            drop(f);
            self.place(&data, &actual)?;
            let mut next = s.meta.clone();
            next.completed = Some(CompletedMeta {
                digest: actual,
                media_type,
            });
            next.touched_ms = ms(now);
            disk::write_atomic(&dir.join("meta.json"), &json(&next)?)?;
            s.meta = next;
            s.pin = Some(pin);
        } else if !tail.is_empty() {
            return Err(FileError::Completed);
        }
        let c = s
            .meta
            .completed
            .clone()
            .ok_or_else(|| io::Error::other("completion not recorded"))?;
        if c.digest != *expected {
            return Err(FileError::DigestMismatch {
                expected: *expected,
                actual: c.digest,
            });
        }
        Ok(Completed {
            intent: Intent {
                file_id: s.meta.file_id,
                name: s.meta.name.clone(),
                temporary: s.meta.temporary,
            },
            owner: s.meta.owner,
            stored: Stored {
                digest: c.digest,
                size: s.meta.size,
                media_type: c.media_type,
                pin: self.pin(c.digest),
            },
        })
    }

    /// Forgets a completed upload once its file's event is applied (its
    /// blob is then referenced by the file record).
    pub fn finish(&self, id: UploadId) -> Result<(), FileError> {
        self.remove(id)
    }

    /// Abandons an upload (its bytes go; a completed upload's blob stays
    /// only if something else references it).
    pub fn destroy(&self, id: UploadId, owner: Owner) -> Result<(), FileError> {
        self.slot(id, owner)?;
        self.remove(id)
    }

    fn remove(&self, id: UploadId) -> Result<(), FileError> {
        let Some((_, slot)) = self.uploads.lock().remove(&id) else {
            return Ok(());
        };
        let mut s = slot.lock();
        s.removed = true;
        s.pin = None;
        disk::remove_dir_durable(&self.upload_dir(id))?;
        Ok(())
    }

    /// Removes uploads untouched past the expiry, then deletes every blob
    /// that is neither pinned nor `referenced`. The pin table is held for
    /// the blob pass, so `referenced` must not pin anything.
    pub fn sweep(
        &self,
        now: OffsetDateTime,
        referenced: &dyn Fn(&Digest) -> bool,
    ) -> Result<Swept, FileError> {
        let mut swept = Swept::default();
        let expiry_ms = i64::try_from(self.limits.upload_expiry.as_millis()).unwrap_or(i64::MAX);
        let cutoff = ms(now).saturating_sub(expiry_ms);
        let expired: Vec<UploadId> = self
            .uploads
            .lock()
            .iter()
            .filter(|(_, (_, s))| s.lock().meta.touched_ms < cutoff)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.remove(id)?;
            swept.uploads += 1;
        }
        let pins = self.pins.lock();
        let base = self.root.join("blobs/sha256");
        for shard in fs::read_dir(&base)? {
            let shard = shard?.path();
            if !shard.is_dir() {
                continue;
            }
            let mut removed = false;
            for e in fs::read_dir(&shard)? {
                let e = e?;
                // Names that are not digests are not ours to judge.
                let Some(d) = e.file_name().to_str().and_then(|n| Digest::parse(n).ok()) else {
                    continue;
                };
                if pins.contains_key(&d) || referenced(&d) {
                    continue;
                }
                fs::remove_file(e.path())?;
                swept.blobs += 1;
                removed = true;
            }
            if removed {
                disk::sync_dir(&shard)?;
            }
        }
        Ok(swept)
    }
}

fn progress(meta: &Meta) -> Progress {
    Progress {
        size: meta.size,
        completed: meta.completed.is_some(),
    }
}

fn json(meta: &Meta) -> Result<Vec<u8>, FileError> {
    serde_json::to_vec(meta).map_err(|e| FileError::Io(io::Error::other(e)))
}

/// The digest of the first `len` bytes of `path`, and its first bytes.
fn hash_file(path: &Path, len: u64) -> Result<(Digest, Vec<u8>), FileError> {
    let mut f = File::open(path)?.take(len);
    let mut h = Hasher::default();
    let mut head = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if head.len() < SNIFF_BYTES {
            let take = n.min(SNIFF_BYTES - head.len());
            head.extend_from_slice(&buf[..take]);
        }
        h.update(&buf[..n]);
    }
    Ok((h.finish(), head))
}
