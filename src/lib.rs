//! # switchboard: the service
//!
//! An event-sourced, multi-tenant PBX directory service. HTTP requests
//! become commands, commands become events through pure decisions, events
//! land in the durable log (`switchboard-events`) and are projected into
//! in-memory views (`switchboard-projections`) that serve every read.
//!
//! # Layout
//! - [`app`]: start-up (replay, bootstrap, readiness) and graceful shutdown.
//! - [`cli`]: `switchboard serve` and the `log` tools.
//! - [`clock`]: the service's clock (injected, so tests advance time instead of sleeping).
//! - [`config`]: layered configuration (defaults, TOML, `SWITCHBOARD_*`).
//! - [`commands`]: the command pipeline and one file per command family.
//! - [`auth`]: password hashing, tokens, roles and permissions.
//! - [`bulk`]: bulk users: CSV / JSON Lines import (batches, all or nothing) and export.
//! - [`http`]: router, middleware, errors, and the API dialects.
//! - [`ids`]: minting resource ids and their canonical string form.
//! - [`queries`]: the read side for the dialects: indexed lists, audit, history, `as_of`, change feeds.
//! - [`keyfile`]: 32-byte keys from a configured secret or a 0600 file beside the data.
//! - [`metrics`]: Prometheus metrics of one service instance (`/metrics`).
//! - [`schema`]: field tables (users, tenants, groups): validation, rendering, diffs, list metadata.
//! - [`secrets`]: sealing secrets the PBX must use (AEAD) before they reach the log.
//! - [`sync`]: sync tokens (MAC-protected log positions) and their key.
//! - [`snapshots`]: projection snapshots at start-up, every N events and on shutdown.
//! - [`tools`]: the offline log tools (verify, export, import, stats, replay).
//! - [`telemetry`]: tracing (text or JSON).
//! - [`webhooks`]: delivering tenants' webhook subscriptions from the log (at least once, in order).

pub mod app;
pub mod auth;
pub mod bulk;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod http;
pub mod ids;
pub mod keyfile;
pub mod metrics;
pub mod queries;
pub mod records;
pub mod schema;
pub mod secrets;
pub mod snapshots;
pub mod sync;
pub mod telemetry;
pub mod tools;
pub mod webhooks;
