//! # switchboard-projections: the views
//!
//! Read models fed by events, and the query engine that lists them. Pure:
//! no HTTP, no storage engine. The service feeds events in offset order and
//! reads the models under a lock.
//!
//! # Layout
//! - [`runtime`]: the [`Projection`] trait and the [`Projector`] that replays,
//!   follows the log, and publishes the applied offset (read-your-writes).
//! - [`query`]: OData-style filter, search, orderby, skip/top/count over rendered items.
//! - [`directory`]: the directory read model (tenants, users, extensions,
//!   links, roles, groups, sessions), one file per family.

pub mod directory;
pub mod query;
pub mod runtime;

pub use directory::Directory;
pub use runtime::{Projection, Projector, ReplayError};
