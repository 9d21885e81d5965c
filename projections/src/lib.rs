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
//! - [`canonical`]: canonical JSON of a tenant's state (replay output, equivalence tests).
//! - [`snapshot`]: the directory at one offset, on disk, checked against the log on load.
//! - [`rebuild`]: the directory at a log prefix (offset or time).
//! - [`parallel`]: a replay of the directory with its tenants spread over threads.
//! - [`audit`]: what each event means to an auditor (action, object, before → after).
//! - [`pmap`]: persistent collections, so publishing a version per batch is cheap.
//! - [`short`]: a 16-byte string that keeps short names and numbers inline.
//! - `testing`: a seedable random generator for the randomized tests here and in the service.

pub mod audit;
pub mod canonical;
pub mod directory;
pub mod parallel;
pub mod pmap;
pub mod query;
pub mod rebuild;
pub mod runtime;
pub mod short;
pub mod snapshot;
#[doc(hidden)]
pub mod testing;

pub use directory::Directory;
pub use runtime::{Projection, Projector, ReplayError};
