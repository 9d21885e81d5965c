//! Authentication and authorization below the edge: argon2id secrets,
//! opaque bearer tokens and the sessions they resolve to, roles and
//! capabilities, sign-in throttling. Nothing here knows HTTP; the edge's
//! `Caller` extractor (`crate::http::caller`) is built on [`session`].

pub mod password;
pub mod roles;
pub mod session;
pub mod throttle;
pub mod tokens;
