//! Configuration: built-in defaults ← `config/default.toml` ← `--config FILE`
//! ← `SWITCHBOARD_*` environment variables ← command-line flags.
//!
//! Unknown keys in a file are errors (a typo must not be silently ignored),
//! but unknown `SWITCHBOARD_*` environment variables only warn: orchestrators
//! inject variables of their own under the same prefix (Kubernetes adds
//! `SWITCHBOARD_PORT=tcp://…`, `SWITCHBOARD_SERVICE_HOST`, … to every pod when
//! a Service is named `switchboard`), and the service must still start.

use serde::{Deserialize, Deserializer, Serialize};
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

/// Which log backend the service runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogBackend {
    /// Segment files in the data directory (one node).
    #[serde(alias = "sled")]
    Local,
    /// A NATS JetStream stream (several nodes).
    Jetstream,
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
    /// The log starts a new segment file beyond this many MiB.
    pub log_segment_mib: u64,
    /// Write each log segment full of zeros before use, so an `fdatasync`
    /// never has to commit a grown file size (PostgreSQL's
    /// `wal_init_zero`). Turn off on copy-on-write file systems (btrfs,
    /// ZFS), where overwriting allocates anyway.
    pub log_preallocate: bool,
    /// Frame the next group commit while the previous one's `fdatasync`
    /// runs (two writer threads, acknowledgements still in order); off,
    /// one thread frames, writes and syncs in turn (the default: the
    /// pipeline measured slower on 2 cores; see BENCHMARKS.md).
    pub log_pipeline: bool,
    /// Where the log lives: `local` (segment files in `data_dir`, the
    /// default; `sled` is accepted as its old name) or `jetstream` (a NATS
    /// JetStream stream shared by several nodes; see the `jetstream_*` keys).
    pub log_backend: LogBackend,
    /// NATS server URLs of the JetStream backend (`nats://host:4222`; user
    /// and password may be in the URL). In the environment: comma-separated.
    #[serde(deserialize_with = "list")]
    pub jetstream_servers: Vec<String>,
    /// The JetStream stream holding the log (created if missing).
    pub jetstream_stream: String,
    /// Replicas of the stream when this node creates it: 1, or 3 to keep
    /// every acknowledged write on a quorum of NATS servers.
    pub jetstream_replicas: usize,
    /// A NATS credentials file (`.creds`), if the servers require one.
    pub jetstream_credentials: Option<PathBuf>,
    /// How long a publish or a JetStream API call may take before its
    /// outcome counts as unknown, in milliseconds.
    pub jetstream_timeout_ms: u64,
    /// This node's name (in commit ids and metrics); defaults to the
    /// listen address.
    pub node_name: Option<String>,
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
    /// Threads a start-up replay spreads the tenants over (their events
    /// commute; see `switchboard_projections::parallel`): 0 = one per core
    /// (at most 8), 1 = the replaying thread alone.
    pub replay_threads: usize,
    /// Keep CDRs and external messages this many days (by the record's
    /// own time: a call's start, a message's creation); older ones are
    /// pruned from the call history store hourly. 0 keeps them for ever.
    pub records_retention_days: u64,
    /// The call history store's page cache in MiB: the bound on the memory
    /// CDRs and messages take, whatever their number.
    pub records_cache_mib: u64,
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
    /// Keep a periodic snapshot for `?as_of=` whenever the log crossed
    /// another multiple of this many events since the last one kept; a
    /// past read then replays at most about this many events from the
    /// nearest kept snapshot. 0 keeps none (`as_of` replays from the start).
    pub snapshot_retain_every_events: u64,
    /// Disk budget of the kept `as_of` snapshots in MiB (0: unbounded).
    /// Past it, the kept copy whose removal leaves the smallest gap goes
    /// (never the newest), so old history thins out evenly.
    pub snapshot_retain_max_mib: u64,
    /// How many past states `as_of` materialised stay in memory as bases
    /// for the next `as_of` (an admin paging a past list reads the same
    /// offset again); 0 keeps none.
    pub as_of_cached_states: usize,
    /// Keep an in-memory checkpoint of the live projection every this many
    /// applied events for `as_of` in the recent past (0: none). The
    /// directory is persistent, so a checkpoint pins only what changed
    /// after it.
    pub as_of_recent_every_events: u64,
    /// How many recent checkpoints to keep (the oldest leaves).
    pub as_of_recent_states: usize,
    /// Origins allowed to call the API from a browser (CORS), e.g.
    /// `https://portal.example.com`; `*` allows any origin. Empty (the
    /// default) sends no CORS headers, so browsers refuse cross-origin calls.
    /// In the environment: a comma-separated list.
    #[serde(deserialize_with = "list")]
    pub cors_allowed_origins: Vec<String>,
    /// Methods a cross-origin caller may use (comma-separated in the environment).
    #[serde(deserialize_with = "list")]
    pub cors_allowed_methods: Vec<String>,
    /// Request headers a cross-origin caller may send (comma-separated in
    /// the environment).
    #[serde(deserialize_with = "list")]
    pub cors_allowed_headers: Vec<String>,
    /// How long a browser may cache a preflight answer, in seconds.
    pub cors_max_age_secs: u64,
    /// The secret webhook signing keys are derived from (one per tenant).
    /// Unset: a random key is generated once into `<data_dir>/webhook.key`
    /// (mode 0600).
    pub webhook_secret: Option<String>,
    /// Attempts at delivering one event before its subscription is parked in
    /// the dead-letter state (resumed by an administrator).
    pub webhook_max_attempts: u32,
    /// The first retry's delay in milliseconds; each retry doubles it (with
    /// jitter) up to `webhook_retry_max_ms`.
    pub webhook_retry_base_ms: u64,
    /// The longest delay between two attempts, in milliseconds.
    pub webhook_retry_max_ms: u64,
    /// How long one delivery attempt may take, in seconds.
    pub webhook_timeout_secs: u64,
    /// Whether webhook receivers may be on loopback, private or link-local
    /// addresses. Off by default: a tenant administrator must not be able
    /// to make switchboard probe its own network (or a cloud metadata
    /// service) and read the answers' status codes in the delivery log.
    pub webhook_allow_private_targets: bool,
    /// Largest file `POST /api/users/import` reads, in bytes (the import is
    /// streamed, so this bounds the work of one request, not memory).
    pub import_max_bytes: usize,
    /// Serve Prometheus `/metrics` without authentication on this separate
    /// address (keep it off the public network). Unset: not served there.
    pub metrics_listen: Option<SocketAddr>,
    /// Serve `/metrics` on the main listener to callers presenting
    /// `Authorization: Bearer <this token>`. Unset: the main listener does
    /// not serve `/metrics` at all (404).
    pub metrics_token: Option<String>,
    /// The largest file the file store accepts, in bytes.
    pub file_max_bytes: u64,
    /// Media types the file store accepts (read from the bytes): exact
    /// (`audio/mpeg`), a whole type (`audio/*`) or `*/*`. In the
    /// environment: a comma-separated list.
    #[serde(deserialize_with = "list")]
    pub file_media_types: Vec<String>,
    /// Largest body of one upload request (an append, or a completion
    /// carrying the last bytes), in bytes; larger files go in several
    /// appends.
    pub upload_chunk_max_bytes: usize,
    /// Uploads one tenant may have open at once.
    pub uploads_per_tenant: usize,
    /// An upload untouched this many seconds is abandoned.
    pub upload_expiry_secs: u64,
    /// Seconds between two passes of the file collector (expired uploads,
    /// unreferenced temporary files, unreferenced blobs); 0 = never.
    pub file_gc_interval_secs: u64,
    /// A temporary file nothing references is collected this many seconds
    /// after its upload.
    pub temporary_file_grace_secs: u64,
}

impl Config {
    /// The file store's limits.
    pub fn file_limits(&self) -> crate::files::Limits {
        crate::files::Limits {
            max_file_bytes: self.file_max_bytes,
            media_types: self.file_media_types.clone(),
            open_uploads_per_tenant: self.uploads_per_tenant.max(1),
            upload_expiry: std::time::Duration::from_secs(self.upload_expiry_secs),
        }
    }
}

/// Accepts a list either as a TOML/figment array or as one comma-separated
/// string (the natural spelling in an environment variable).
fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        OneOrMany::Many(v) => v,
    })
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
            log_segment_mib: 256,
            log_preallocate: true,
            log_pipeline: false,
            log_backend: LogBackend::Local,
            jetstream_servers: Vec::new(),
            jetstream_stream: "switchboard".into(),
            jetstream_replicas: 1,
            jetstream_credentials: None,
            jetstream_timeout_ms: 5000,
            node_name: None,
            shutdown_grace_secs: 30,
            request_deadline_ms: 30_000,
            max_concurrent_requests: 1024,
            sync_token_secret: None,
            secrets_key: None,
            secrets_key_file: None,
            sync_token_retention_secs: 0,
            replay_threads: 0,
            records_retention_days: 0,
            records_cache_mib: 64,
            event_stream_buffer: 1024,
            event_streams_per_user: 8,
            trusted_proxies: Vec::new(),
            signin_window_secs: 300,
            signin_failures_per_account_address: 5,
            signin_failures_per_address: 50,
            signin_free_failures: 5,
            signin_max_delay_secs: 60,
            snapshot_every_events: 100_000,
            snapshot_retain_every_events: 100_000,
            snapshot_retain_max_mib: 8192,
            as_of_cached_states: 1,
            as_of_recent_every_events: 20_000,
            as_of_recent_states: 3,
            cors_allowed_origins: Vec::new(),
            cors_allowed_methods: ["GET", "POST", "PATCH", "PUT", "DELETE"]
                .map(String::from)
                .to_vec(),
            cors_allowed_headers: [
                "authorization",
                "content-type",
                "last-event-id",
                "x-request-id",
            ]
            .map(String::from)
            .to_vec(),
            cors_max_age_secs: 600,
            webhook_secret: None,
            webhook_max_attempts: 10,
            webhook_retry_base_ms: 1000,
            webhook_retry_max_ms: 300_000,
            webhook_timeout_secs: 10,
            webhook_allow_private_targets: false,
            import_max_bytes: 256 * 1024 * 1024,
            metrics_listen: None,
            metrics_token: None,
            file_max_bytes: 100 * 1024 * 1024,
            file_media_types: crate::files::limits::default_media_types(),
            upload_chunk_max_bytes: 16 * 1024 * 1024,
            uploads_per_tenant: 64,
            upload_expiry_secs: 24 * 3600,
            file_gc_interval_secs: 3600,
            temporary_file_grace_secs: 24 * 3600,
        }
    }
}

/// The configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

/// Settings given on the command line: the last layer.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
}

/// A loaded configuration and what was noticed while loading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// Warnings to log once tracing is set up (unknown environment
    /// variables, by name only: their values may be secrets).
    pub warnings: Vec<String>,
}

/// The environment prefix of every setting.
pub const ENV_PREFIX: &str = "SWITCHBOARD_";

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

    /// Loads the layers from the process environment. `file` is the
    /// `--config` argument; the base file `config/default.toml` is read if
    /// present in the working directory.
    pub fn load(file: Option<&Path>, flags: &Flags) -> Result<Loaded, ConfigError> {
        Config::load_from(
            Path::new("config/default.toml"),
            file,
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
            flags,
        )
    }

    /// Every setting's key (lower case, as in a file).
    pub fn keys() -> Vec<String> {
        match serde_json::to_value(Config::default()) {
            Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Loads the layers from explicit sources: the base file (skipped when
    /// absent), the `--config` file (must exist), environment pairs, flags.
    pub fn load_from(
        base: &Path,
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Flags,
    ) -> Result<Loaded, ConfigError> {
        use figment::providers::{Format, Serialized, Toml};
        use figment::value::{Dict, Value};
        let mut fig = figment::Figment::from(Serialized::defaults(Config::default()));
        if base.exists() {
            fig = fig.merge(Toml::file(base));
        }
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            fig = fig.merge(Toml::file(file));
        }
        let keys = Config::keys();
        let mut vars = Dict::new();
        let mut warnings = Vec::new();
        for (name, value) in env {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if keys.contains(&key) {
                // Parsed as figment's own `Env` provider would (numbers,
                // booleans, arrays); the string itself if nothing else fits.
                let parsed = value
                    .parse::<Value>()
                    .unwrap_or_else(|never| match never {});
                vars.insert(key, parsed);
            } else {
                warnings.push(format!(
                    "ignoring the environment variable {name}: not a setting \
                     (orchestrators set such variables; a typo would also land here)"
                ));
            }
        }
        warnings.sort();
        fig = fig.merge(Serialized::globals(vars));
        let mut config: Config = fig.extract().map_err(|e| ConfigError(e.to_string()))?;
        if let Some(listen) = flags.listen {
            config.listen = listen;
        }
        if let Some(dir) = &flags.data_dir {
            config.data_dir = dir.clone();
        }
        Ok(Loaded { config, warnings })
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

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn layers_apply_in_order_defaults_base_file_env_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = write(
            dir.path(),
            "base.toml",
            "tail_check = 10\nmax_body_bytes = 10\nlog_level = \"base\"\nlisten = \"127.0.0.1:1\"\n",
        );
        let file = write(
            dir.path(),
            "file.toml",
            "max_body_bytes = 20\nlog_level = \"file\"\nlisten = \"127.0.0.1:2\"\n",
        );
        let vars = env(&[
            ("SWITCHBOARD_LOG_LEVEL", "env"),
            ("SWITCHBOARD_LISTEN", "127.0.0.1:3"),
            ("SWITCHBOARD_DATA_DIR", "/env/dir"),
        ]);
        let flags = Flags {
            listen: Some("127.0.0.1:4".parse().expect("addr")),
            data_dir: None,
        };
        let loaded = Config::load_from(&base, Some(&file), vars, &flags).expect("loads");
        let c = loaded.config;
        assert_eq!(c.shutdown_grace_secs, 30, "default where nothing is set");
        assert_eq!(c.tail_check, 10, "base file over default");
        assert_eq!(c.max_body_bytes, 20, "--config file over base file");
        assert_eq!(c.log_level, "env", "environment over files");
        assert_eq!(
            c.data_dir,
            PathBuf::from("/env/dir"),
            "environment over default"
        );
        assert_eq!(c.listen.port(), 4, "flags over everything");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);

        let flags = Flags {
            listen: None,
            data_dir: Some(PathBuf::from("/flag/dir")),
        };
        let vars = env(&[("SWITCHBOARD_DATA_DIR", "/env/dir")]);
        let c = Config::load_from(&base, None, vars, &flags)
            .expect("loads")
            .config;
        assert_eq!(c.data_dir, PathBuf::from("/flag/dir"));
        assert_eq!(c.listen.port(), 1, "the base file without --config");
    }

    #[test]
    fn trusted_proxies_are_a_cidr_list_in_a_file_or_the_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(
            dir.path(),
            "file.toml",
            "trusted_proxies = [\"10.0.0.0/8\", \"::1/128\"]\n",
        );
        let missing = dir.path().join("none.toml");
        let c = Config::load_from(&missing, Some(&file), env(&[]), &Flags::default())
            .expect("loads")
            .config;
        assert_eq!(c.trusted_proxies.len(), 2);
        let vars = env(&[("SWITCHBOARD_TRUSTED_PROXIES", "[\"192.168.0.0/16\"]")]);
        let c = Config::load_from(&missing, None, vars, &Flags::default())
            .expect("loads")
            .config;
        assert_eq!(
            c.trusted_proxies,
            vec!["192.168.0.0/16".parse().expect("cidr")]
        );
        let vars = env(&[("SWITCHBOARD_TRUSTED_PROXIES", "[\"not-a-cidr\"]")]);
        assert!(Config::load_from(&missing, None, vars, &Flags::default()).is_err());
    }

    #[test]
    fn unknown_environment_variables_warn_and_loading_goes_on() {
        // What Kubernetes injects for a Service named `switchboard`.
        let vars = env(&[
            ("SWITCHBOARD_PORT", "tcp://10.0.0.7:8887"),
            ("SWITCHBOARD_PORT_8887_TCP_ADDR", "10.0.0.7"),
            ("SWITCHBOARD_SERVICE_HOST", "10.0.0.7"),
            ("SWITCHBOARD_SERVICE_PORT", "8887"),
            ("SWITCHBOARD_TAIL_CHECK", "7"),
            ("PATH", "/usr/bin"),
        ]);
        let loaded = Config::load_from(Path::new("/nonexistent"), None, vars, &Flags::default())
            .expect("starts despite unknown variables");
        assert_eq!(loaded.config.tail_check, 7, "known variables still apply");
        assert_eq!(loaded.warnings.len(), 4, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("SWITCHBOARD_PORT:"));
        assert!(
            loaded.warnings.iter().all(|w| !w.contains("10.0.0.7")),
            "values are not echoed (they may be secrets)"
        );
    }

    #[test]
    fn unknown_keys_in_a_file_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(dir.path(), "typo.toml", "listne = \"127.0.0.1:1\"\n");
        let err = Config::load_from(
            Path::new("/nonexistent"),
            Some(&file),
            env(&[]),
            &Flags::default(),
        )
        .expect_err("a typo in a file is refused");
        assert!(err.to_string().contains("listne"), "{err}");
        let missing = dir.path().join("missing.toml");
        assert!(Config::load_from(
            Path::new("/nonexistent"),
            Some(&missing),
            env(&[]),
            &Flags::default()
        )
        .is_err());
    }

    #[test]
    fn lists_come_as_arrays_in_files_and_comma_separated_in_the_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(
            dir.path(),
            "cors.toml",
            "cors_allowed_origins = [\"https://a.example\", \"https://b.example\"]\n",
        );
        let c = Config::load_from(
            Path::new("/nonexistent"),
            Some(&file),
            env(&[]),
            &Flags::default(),
        )
        .expect("loads")
        .config;
        assert_eq!(
            c.cors_allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        let vars = env(&[(
            "SWITCHBOARD_CORS_ALLOWED_ORIGINS",
            "https://a.example, https://c.example:8443",
        )]);
        let c = Config::load_from(
            Path::new("/nonexistent"),
            Some(&file),
            vars,
            &Flags::default(),
        )
        .expect("loads")
        .config;
        assert_eq!(
            c.cors_allowed_origins,
            ["https://a.example", "https://c.example:8443"]
        );
        let vars = env(&[("SWITCHBOARD_CORS_ALLOWED_ORIGINS", "*")]);
        let c = Config::load_from(Path::new("/nonexistent"), None, vars, &Flags::default())
            .expect("loads")
            .config;
        assert_eq!(c.cors_allowed_origins, ["*"]);
    }

    fn toml_file(path: &str) -> Config {
        use figment::providers::{Format, Serialized, Toml};
        figment::Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(path))
            .extract()
            .expect("parses")
    }
}
