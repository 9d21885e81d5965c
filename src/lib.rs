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
//! - [`collections`]: declared collections (a user's or the tenant's lists of field sets: contacts, phones...): one spec each drives commands, projection, list and routes.
//! - [`config`]: layered configuration (defaults, TOML, `SWITCHBOARD_*`).
//! - [`field_tables`]: the PortSIP field tables (users, tenants, groups, queues, contacts, vendor user fields): validation, rendering, diffs, list metadata.
//! - [`commands`]: every change as one [`commands::Command`] enum, decided by pure functions and run by [`commands::Pipeline::run`].
//! - [`bulk`]: bulk users: CSV / JSON Lines import (batches, all or nothing) and export.
//! - [`auth`]: password hashing, tokens and sessions, roles and permissions, throttling (no HTTP).
//! - [`http`]: the route table, the shared edge (caller, errors, id codecs) and the API dialects, which translate only.
//! - [`files`]: the file store: content-addressed blobs on disk, resumable uploads, the sweep.
//! - [`http`]: router, middleware, errors, and the API dialects.
//! - [`ids`]: minting resource ids and their canonical string form.
//! - [`queries`]: the read side for the dialects: indexed lists, audit, history, `as_of`, change feeds.
//! - [`keyfile`]: 32-byte keys from a configured secret or a 0600 file beside the data.
//! - [`log_copy`]: `log copy` between the local log and a JetStream stream; `log verify --on` a stream.
//! - [`metrics`]: Prometheus metrics of one service instance (`/metrics`).
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
pub mod collections;
pub mod commands;
pub mod config;
pub mod field_tables;
pub mod files;
pub mod http;
pub mod ids;
pub mod keyfile;
mod layers;
pub mod log_copy;
pub mod metrics;
pub mod queries;
pub mod records;
pub mod secrets;
pub mod snapshots;
pub mod sync;
pub mod telemetry;
pub mod tools;
pub mod webhooks;
