//! Call history: CDRs and external messages the PBX reports.
//!
//! High-volume history, not directory state: the records are events in
//! the log (durable, hash-chained, carrying who reported them), but the
//! projection ignores them; their read side is the on-disk [`store`],
//! which a follower keeps in step with the log (ARCHITECTURE.md, "Call
//! history").
//!
//! # Layout
//!
//! - [`store`]: the per-tenant on-disk store: records by time, by user and
//!   by the PBX's own id; pages for `filter/orderby/skip/top`; retention.

pub mod store;

#[cfg(test)]
mod store_tests;
