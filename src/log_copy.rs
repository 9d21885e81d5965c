//! `switchboard log copy --from A --to B` and `switchboard log verify --on
//! jetstream:...`: moving a log between the local backend and a JetStream
//! stream, record for record, and checking a stream's chain.
//!
//! An endpoint is `local:DIR` (`sled:DIR` is accepted: the local log's old
//! name) or `jetstream:nats://HOST:PORT/STREAM` (the stream part defaults to
//! `jetstream_stream`; credentials, replicas and the timeout come from the
//! configuration). The target must hold no records. The source is verified
//! first (every CRC, dense offsets, the whole chain); the copy is verified
//! after it is written, read back from the target, and the count and head
//! hash must match the source's.
//!
//! The blobs of uploaded files go along (issue #18): a log copied onto a
//! stream has its data directory's blobs (`files/blobs`) stored in the
//! object store the nodes share (`<stream>_files`), so a node on the
//! stream can serve every file the log names; a stream copied into a data
//! directory has every shared blob written into its `files/blobs`. Each
//! blob is checked against its digest (its name) on the way; one already
//! at the target is left as it is.

use crate::config::Config;
use crate::files::store::{blob_path_in, SHARED_BLOBS};
use crate::files::{disk, Digest};
use crate::tools::{self, ToolError};
use std::path::{Path, PathBuf};
use std::time::Duration;
use switchboard_events::export::{self, FramedRecord};
use switchboard_events::jetstream::{JetStreamConfig, JetStreamLog};
use switchboard_events::raw::RawLog;
use switchboard_events::verify::{hex, verify_records};
use switchboard_events::{codec, EventLog, StreamId};

/// One side of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A local log in a data directory.
    Local(PathBuf),
    /// A JetStream stream.
    JetStream {
        /// The server URL.
        server: String,
        /// The stream.
        stream: String,
    },
}

fn usage(message: impl Into<String>) -> ToolError {
    ToolError {
        message: message.into(),
        code: 2,
    }
}

fn fail(message: impl Into<String>) -> ToolError {
    ToolError {
        message: message.into(),
        code: 1,
    }
}

impl Endpoint {
    /// Parses `local:DIR`, `sled:DIR` or `jetstream:nats://HOST:PORT[/STREAM]`.
    pub fn parse(s: &str, default_stream: &str) -> Result<Endpoint, ToolError> {
        if let Some(dir) = s.strip_prefix("local:").or_else(|| s.strip_prefix("sled:")) {
            if dir.is_empty() {
                return Err(usage(format!("{s:?}: name the data directory")));
            }
            return Ok(Endpoint::Local(PathBuf::from(dir)));
        }
        if let Some(url) = s.strip_prefix("jetstream:") {
            let Some((scheme, rest)) = url.split_once("://") else {
                return Err(usage(format!("{s:?}: jetstream:nats://HOST:PORT/STREAM")));
            };
            let (host, stream) = match rest.split_once('/') {
                Some((host, stream)) if !stream.is_empty() => (host, stream),
                Some((host, _)) => (host, default_stream),
                None => (rest, default_stream),
            };
            if host.is_empty() {
                return Err(usage(format!("{s:?}: name the server")));
            }
            return Ok(Endpoint::JetStream {
                server: format!("{scheme}://{host}"),
                stream: stream.to_owned(),
            });
        }
        Err(usage(format!(
            "{s:?}: an endpoint is local:DIR or jetstream:nats://HOST:PORT/STREAM"
        )))
    }
}

/// Opens a JetStream log for a tool (the configuration's credentials,
/// replicas and timeout).
async fn open_stream(
    config: &Config,
    server: &str,
    stream: &str,
) -> Result<JetStreamLog, ToolError> {
    let mut js = JetStreamConfig::new(vec![server.to_owned()], stream);
    js.replicas = config.jetstream_replicas.max(1);
    js.credentials = config.jetstream_credentials.clone();
    js.timeout = Duration::from_millis(config.jetstream_timeout_ms.max(100));
    js.node = "log-tool".into();
    JetStreamLog::open(js)
        .await
        .map_err(|e| fail(format!("cannot open the stream: {e}")))
}

/// `log verify --on jetstream:...`: every record of the stream, its CRC,
/// dense offsets and the whole chain. Returns `(count, head hash hex)`.
pub async fn verify_stream(
    config: &Config,
    endpoint: &Endpoint,
) -> Result<(u64, String), ToolError> {
    match endpoint {
        Endpoint::Local(dir) => tools::verify(dir),
        Endpoint::JetStream { server, stream } => {
            let log = open_stream(config, server, stream).await?;
            let report = verify_records(log.records(1).map(|(o, b)| Ok((o, b.to_vec()))), |_| {});
            log.close().await;
            report.map(|r| (r.count, hex(&r.head_hash))).map_err(|e| {
                fail(format!(
                    "log verification failed at offset {}: {}",
                    e.offset, e.reason
                ))
            })
        }
    }
}

/// What `log copy` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// Records in the verified copy.
    pub count: u64,
    /// Its head hash (hex).
    pub head: String,
    /// Blobs written to the target (ones already there not counted).
    pub blobs: u64,
}

/// `log copy`: the log, verified, then the blobs of uploaded files.
pub async fn copy(config: &Config, from: &Endpoint, to: &Endpoint) -> Result<Copied, ToolError> {
    let (count, head) = copy_log(config, from, to).await?;
    let blobs = match (from, to) {
        (Endpoint::Local(dir), Endpoint::JetStream { server, stream }) => {
            blobs_onto_stream(config, dir, server, stream).await?
        }
        (Endpoint::JetStream { server, stream }, Endpoint::Local(dir)) => {
            blobs_from_stream(config, server, stream, dir).await?
        }
        _ => 0,
    };
    Ok(Copied { count, head, blobs })
}

/// The digest of the file at `path`, read in chunks.
async fn digest_of(path: &Path) -> Result<Digest, ToolError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = crate::files::digest::Hasher::default();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                return Ok(hasher.finish());
            }
            hasher.update(&buf[..n]);
        }
    })
    .await
    .map_err(|e| fail(e.to_string()))?
    .map_err(|e: std::io::Error| fail(format!("reading a blob: {e}")))
}

/// Every blob in the data directory `dir`: its digest and its path.
fn local_blobs(dir: &Path) -> Result<Vec<(Digest, PathBuf)>, ToolError> {
    let base = dir.join("files/blobs/sha256");
    let read = |d: &Path| std::fs::read_dir(d).map_err(|e| fail(format!("{}: {e}", d.display())));
    let mut blobs = Vec::new();
    if !base.is_dir() {
        return Ok(blobs);
    }
    for prefix in read(&base)? {
        let prefix = prefix.map_err(|e| fail(e.to_string()))?.path();
        if !prefix.is_dir() {
            continue;
        }
        for blob in read(&prefix)? {
            let path = blob.map_err(|e| fail(e.to_string()))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // Only names of the store's layout (64 hex digits) are blobs.
            if let Ok(digest) = Digest::parse(name) {
                blobs.push((digest, path));
            }
        }
    }
    blobs.sort();
    Ok(blobs)
}

/// Stores every blob of `dir` in the stream's shared object store.
async fn blobs_onto_stream(
    config: &Config,
    dir: &Path,
    server: &str,
    stream: &str,
) -> Result<u64, ToolError> {
    let blobs = local_blobs(dir)?;
    if blobs.is_empty() {
        return Ok(0);
    }
    let log = open_stream(config, server, stream).await?;
    let shared = log.shared_blobs(SHARED_BLOBS).await;
    let mut copied = 0;
    let result = async {
        let shared = shared.map_err(|e| fail(format!("the shared file store: {e}")))?;
        for (digest, path) in &blobs {
            if digest_of(path).await? != *digest {
                return Err(fail(format!(
                    "{} does not match its digest: not copied",
                    path.display()
                )));
            }
            if shared.put_file(&digest.hex(), path).await.map_err(|e| {
                fail(format!(
                    "storing {} in the shared file store: {e}",
                    path.display()
                ))
            })? {
                copied += 1;
            }
        }
        Ok(copied)
    }
    .await;
    log.close().await;
    result
}

/// Writes every blob of the stream's shared object store into `dir`.
async fn blobs_from_stream(
    config: &Config,
    server: &str,
    stream: &str,
    dir: &Path,
) -> Result<u64, ToolError> {
    let log = open_stream(config, server, stream).await?;
    let shared = log.shared_blobs(SHARED_BLOBS).await;
    let root = dir.join("files");
    let tmp = root.join("tmp");
    let result = async {
        let shared = shared.map_err(|e| fail(format!("the shared file store: {e}")))?;
        let names = shared
            .names()
            .await
            .map_err(|e| fail(format!("listing the shared file store: {e}")))?;
        std::fs::create_dir_all(&tmp).map_err(|e| fail(format!("{}: {e}", tmp.display())))?;
        let mut copied = 0;
        for name in names {
            let Ok(digest) = Digest::parse(&name) else {
                tracing::warn!(%name, "not a blob (its name is no digest); left out");
                continue;
            };
            let target = blob_path_in(&root, &digest);
            if target.exists() {
                continue;
            }
            let part = tmp.join(format!("{}.copy", digest.hex()));
            let found = shared
                .get_file(&name, &part)
                .await
                .map_err(|e| fail(format!("reading blob {name}: {e}")))?;
            if !found {
                continue;
            }
            if digest_of(&part).await? != digest {
                let _ = std::fs::remove_file(&part);
                return Err(fail(format!(
                    "the shared blob {name} does not match its digest: not copied"
                )));
            }
            let parent = target.parent().unwrap_or(&root);
            std::fs::create_dir_all(parent)
                .map_err(|e| fail(format!("{}: {e}", parent.display())))?;
            disk::rename_durable(&part, &target)
                .map_err(|e| fail(format!("{}: {e}", target.display())))?;
            copied += 1;
        }
        Ok(copied)
    }
    .await;
    log.close().await;
    result
}

/// The log part of `log copy`: returns `(count, head hash hex)` of the
/// verified copy.
async fn copy_log(
    config: &Config,
    from: &Endpoint,
    to: &Endpoint,
) -> Result<(u64, String), ToolError> {
    match (from, to) {
        (Endpoint::Local(dir), Endpoint::JetStream { server, stream }) => {
            let (count, head) = tools::verify(dir)?;
            let raw = RawLog::open(dir).map_err(|e| fail(e.to_string()))?;
            let log = open_stream(config, server, stream).await?;
            let bar = tools::progress(count, "copying");
            let ticker = bar.clone();
            let copied = log
                .copy_in(raw.records(1), move |o| ticker.set_position(o))
                .await
                .map_err(|e| fail(format!("copy stopped: {e}")));
            bar.finish_and_clear();
            log.close().await;
            drop(raw);
            let copied = copied?;
            if (copied.count, hex(&copied.head_hash)) != (count, head.clone()) {
                return Err(fail("the copy does not match the source's head"));
            }
            // Read back from the stream, as a fresh node would.
            let back = verify_stream(config, to).await?;
            if back != (count, head) {
                return Err(fail(format!(
                    "the stream reads back {} records, head {}: not the source's",
                    back.0, back.1
                )));
            }
            Ok(back)
        }
        (Endpoint::JetStream { server, stream }, Endpoint::Local(dir)) => {
            let (count, head) = verify_stream(config, from).await?;
            let log = open_stream(config, server, stream).await?;
            let records: Result<Vec<FramedRecord>, ToolError> = log
                .records(1)
                .take_while(|(o, _)| *o <= count)
                .map(|(offset, bytes)| {
                    let view = codec::RecordView::parse(&bytes)
                        .map_err(|e| fail(format!("offset {offset}: {e}")))?;
                    let stream = StreamId::parse(view.stream)
                        .map_err(|e| fail(format!("offset {offset}: {e}")))?;
                    Ok((offset, stream, view.stream_version, bytes.to_vec()))
                })
                .collect();
            log.close().await;
            let records = records?;
            let bar = tools::progress(count, "copying");
            let ticker = bar.clone();
            let dir2 = dir.clone();
            let written = tokio::task::spawn_blocking(move || {
                export::write_fresh(&dir2, records, move |o| ticker.set_position(o))
            })
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(format!("refusing the copy: {e}")))?;
            bar.finish_and_clear();
            let back = tools::verify(dir)?;
            if (written.count, hex(&written.head_hash)) != (count, head.clone())
                || back != (count, head)
            {
                return Err(fail("the copy does not match the source's head"));
            }
            Ok(back)
        }
        _ => Err(usage(
            "log copy moves a log between local:DIR and jetstream:URL/STREAM (one of each)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_with_and_without_a_stream() {
        assert_eq!(
            Endpoint::parse("local:/var/lib/sb", "x").expect("local"),
            Endpoint::Local("/var/lib/sb".into())
        );
        assert_eq!(
            Endpoint::parse("sled:data", "x").expect("old name"),
            Endpoint::Local("data".into())
        );
        assert_eq!(
            Endpoint::parse("jetstream:nats://10.0.0.1:4222/logs", "x").expect("js"),
            Endpoint::JetStream {
                server: "nats://10.0.0.1:4222".into(),
                stream: "logs".into()
            }
        );
        assert_eq!(
            Endpoint::parse("jetstream:nats://h:4222", "default").expect("js"),
            Endpoint::JetStream {
                server: "nats://h:4222".into(),
                stream: "default".into()
            }
        );
        for bad in ["", "local:", "jetstream:", "jetstream:h:4222", "s3:bucket"] {
            assert_eq!(
                Endpoint::parse(bad, "x").map_err(|e| e.code),
                Err(2),
                "{bad}"
            );
        }
    }
}
