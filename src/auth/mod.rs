//! Authentication and authorization: argon2id secrets, opaque bearer
//! tokens, sign-in throttling, and resolving a request's caller.

pub mod caller;
pub mod password;
pub mod roles;
pub mod throttle;
pub mod tokens;
