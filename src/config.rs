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
    /// Sessions one user may hold; signing in beyond it ends the least
    /// recently active one.
    pub sessions_per_user: usize,
    /// argon2id memory cost in KiB (OWASP minimum: 19456).
    pub argon2_memory_kib: u32,
    /// argon2id iterations.
    pub argon2_iterations: u32,
    /// How many records at the log's tail are verified on start.
    pub tail_check: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace_secs: u64,
    /// The server-side deadline of a request, in milliseconds (503 with
    /// `Retry-After` past it); 0 = none. Streams count until their first
    /// byte.
    pub request_deadline_ms: u64,
    /// Requests served at once; more are answered 503 with `Retry-After`
    /// at once (health endpoints excepted).
    pub max_concurrent_requests: usize,
    /// The secret sync tokens are MAC'd with. Unset: a random key is
    /// generated once into `<data_dir>/sync_token.key` (mode 0600).
    pub sync_token_secret: Option<String>,
    /// The secret the sealing key for PBX secrets (STIR/SHAKEN keys) is
    /// derived from. Unset: the key file is used.
    pub secrets_key: Option<String>,
    /// The sealing key's file (32 random bytes, created 0600 on first
    /// start). Unset: `<data_dir>/secrets.key`. Keep it with the data but
    /// out of log exports; losing it loses the sealed values.
    pub secrets_key_file: Option<PathBuf>,
    /// Sync tokens older than this many seconds get 403
    /// `SYNC_TOKEN_EXPIRED` (the client resyncs in full); 0 = unlimited.
    /// With a horizon, tombstones of items deleted before it are pruned.
    pub sync_token_retention_secs: u64,
    /// How many events a live change stream (`GET /api/user/events`) may
    /// have queued for a slow client before it is cut off (the client
    /// resumes with `Last-Event-ID`).
    pub event_stream_buffer: usize,
    /// How many live change streams one user may hold open; opening one
    /// more closes the oldest.
    pub event_streams_per_user: usize,
    /// Proxies (CIDR list) whose `Forwarded` / `X-Forwarded-For` headers
    /// are believed. Empty: the TCP peer is the client, whatever headers
    /// say.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long a failed password attempt counts against its (account,
    /// address) pair and its address.
    pub signin_window_secs: u64,
    /// Failed attempts allowed per (account, client address) in the window.
    pub signin_failures_per_account_address: u32,
    /// Failed attempts allowed per client address, any account, in the window.
    pub signin_failures_per_address: u32,
    /// Consecutive failures of an account (from anywhere) before its
    /// attempts are delayed: 1 s, doubling with each further failure.
    pub signin_free_failures: u32,
    /// The longest delay between an account's attempts (never a lock-out).
    pub signin_max_delay_secs: u64,
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
            sessions_per_user: 32,
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            tail_check: 1024,
            shutdown_grace_secs: 30,
            request_deadline_ms: 30_000,
            max_concurrent_requests: 1024,
            sync_token_secret: None,
            secrets_key: None,
            secrets_key_file: None,
            sync_token_retention_secs: 0,
            event_stream_buffer: 1024,
            event_streams_per_user: 8,
            trusted_proxies: Vec::new(),
            signin_window_secs: 300,
            signin_failures_per_account_address: 5,
            signin_failures_per_address: 50,
            signin_free_failures: 5,
            signin_max_delay_secs: 60,
            snapshot_every_events: 100_000,
        }
    }
}

/// The configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// The password-guessing throttle's limits.
    pub fn throttle_limits(&self) -> crate::auth::throttle::Limits {
        use std::time::Duration;
        crate::auth::throttle::Limits {
            window: Duration::from_secs(self.signin_window_secs),
            per_pair: self.signin_failures_per_account_address,
            per_address: self.signin_failures_per_address,
            free: self.signin_free_failures,
            max_delay: Duration::from_secs(self.signin_max_delay_secs),
            ..Default::default()
        }
    }

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
