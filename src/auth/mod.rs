//! Authentication: password hashing (argon2id) and, later, tokens and roles.

pub mod password;
