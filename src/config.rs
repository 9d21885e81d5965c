//! Configuration: built-in defaults ← `config/default.toml` ← `--config FILE`
//! ← `SWITCHBOARD_*` environment variables ← command-line flags.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use switchboard_events::Durability;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (default).
    Text,
    /// One JSON object per line.
    Json,
}

/// Every setting of the service. Each key can be set in a TOML file or as
/// `SWITCHBOARD_<KEY>` (upper case) in the environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the event log lives.
    pub data_dir: PathBuf,
    /// Password for the system administrator created on an empty log; a
    /// random one is generated and printed once if unset.
    pub admin_password: Option<String>,
    /// `fsync` (default) or `os` (benchmarks only).
    pub durability: Durability,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `switchboard=debug,tower_http=info`.
    pub log_level: String,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Access token lifetime.
    pub access_token_ttl_secs: u64,
    /// Refresh token lifetime.
    pub refresh_token_ttl_secs: u64,
    /// argon2id memory cost in KiB (OWASP minimum: 19456).
    pub argon2_memory_kib: u32,
    /// argon2id iterations.
    pub argon2_iterations: u32,
    /// How many records at the log's tail are verified on start.
    pub tail_check: usize,
    /// The log starts a new segment file beyond this many MiB.
    pub log_segment_mib: u64,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace_secs: u64,
    /// The secret sync tokens are MAC'd with. Unset: a random key is
    /// generated once into `<data_dir>/sync_token.key` (mode 0600).
    pub sync_token_secret: Option<String>,
    /// Sync tokens older than this many seconds get 403
    /// `SYNC_TOKEN_EXPIRED` (the client resyncs in full); 0 = unlimited.
    /// With a horizon, tombstones of items deleted before it are pruned.
    pub sync_token_retention_secs: u64,
    /// How many events a live change stream (`GET /api/user/events`) may
    /// have queued for a slow client before it is cut off (the client
    /// resumes with `Last-Event-ID`).
    pub event_stream_buffer: usize,
    /// Take a projection snapshot every this many applied events (and on
    /// graceful shutdown); 0 disables snapshots.
    pub snapshot_every_events: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8887)),
            data_dir: PathBuf::from("./data"),
            admin_password: None,
            durability: Durability::Fsync,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            max_body_bytes: 1024 * 1024,
            access_token_ttl_secs: 3600,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            tail_check: 1024,
            log_segment_mib: 256,
            shutdown_grace_secs: 30,
            sync_token_secret: None,
            sync_token_retention_secs: 0,
            event_stream_buffer: 1024,
            snapshot_every_events: 100_000,
        }
    }
}

/// The configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Loads the layers. `file` is the `--config` argument; the base file
    /// `config/default.toml` is read if present in the working directory.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        use figment::providers::{Env, Format, Serialized, Toml};
        let mut fig = figment::Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file("config/default.toml"));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            fig = fig.merge(Toml::file(file));
        }
        fig = fig.merge(Env::prefixed("SWITCHBOARD_"));
        fig.extract().map_err(|e| ConfigError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_default_file_matches_the_built_in_defaults() {
        let shipped: Config =
            toml_file(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"));
        let builtin = Config::default();
        assert_eq!(
            serde_json::to_value(&shipped).expect("json"),
            serde_json::to_value(&builtin).expect("json")
        );
    }

    fn toml_file(path: &str) -> Config {
        use figment::providers::{Format, Serialized, Toml};
        figment::Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(path))
            .extract()
            .expect("parses")
    }
}
