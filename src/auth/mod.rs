//! Authentication and authorization below the edge: argon2id secrets,
//! opaque bearer tokens and the sessions they resolve to, roles and
//! capabilities, sign-in throttling. Nothing here knows HTTP: the edge's
//! `Caller` extractor (in the HTTP layer) is built on [`session`], and the
//! arrow points from there to here only.

pub mod password;
pub mod roles;
pub mod session;
pub mod throttle;
pub mod tokens;
