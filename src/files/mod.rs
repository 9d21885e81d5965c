//! # The file store
//!
//! Files (greeting audio, queue prompts, recordings) are bytes on disk
//! beside the log, named by their SHA-256 digest; what the log records is
//! their metadata (which tenant has which file, under what name, who
//! references it). This module is the disk side: content-addressed blobs,
//! resumable uploads, and the sweep that deletes blobs nothing references.
//! It knows nothing of HTTP or the log; the commands and dialects build on
//! it.
//!
//! Using it from another part of the service (e.g. to store a recording):
//!
//! ```no_run
//! # use switchboard::files::{Store, Limits, Digest};
//! # fn f(store: &Store, bytes: &[u8]) -> Result<(), switchboard::files::FileError> {
//! let stored = store.put_verified(bytes, None)?; // synced, renamed, pinned
//! // … append the event that references `stored.digest`, wait until applied …
//! drop(stored.pin); // now the reference keeps the blob
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`digest`]: [`Digest`] (SHA-256), parsed from `sha256:<hex>` or `<hex>`.
//! - [`disk`]: durable writes (temporary file, fsync, rename, directory fsync).
//! - [`gc`]: the collector: unreferenced temporary files, abandoned uploads, unreferenced blobs.
//! - [`limits`]: size, media-type and open-upload limits; media types sniffed from the bytes.
//! - [`store`]: [`Store`]: blobs, resumable uploads, pins and the sweep.
//! - [`testing`]: fixtures for tests (a small WAV file).

pub mod digest;
pub mod disk;
pub mod gc;
pub mod limits;
pub mod store;
pub mod testing;

pub use digest::{Digest, DigestError};
pub use limits::Limits;
pub use store::{
    check_name, Begun, Completed, FileError, Intent, Owner, Pin, Progress, Store, Stored, Swept,
    UploadId,
};

#[cfg(test)]
mod tests;
