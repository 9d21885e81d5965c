//! The input of a user creation, parsed from a JSON object whatever it came
//! from: a `POST /users` body, a CSV row or a JSON Lines row of a bulk
//! import. One parser, so every way of creating a user checks the same rules
//! and names the same fields in its errors.
//!
//! A bulk import may carry secrets already hashed (`password_hash`,
//! `extension_password_hash`, `voicemail_pin_hash`: PHC strings of argon2 or
//! bcrypt), so a migration need not know clear passwords; `POST /users`
//! refuses those keys (see [`Hashes`]).

use super::users::{CreateUser, ExtensionNumber, NewUserIds, PrimaryChoice, UserName};
use super::{CommandError, Secret, SecretRule};
use crate::field_tables::user::{USER, USER_SKIP};
use crate::field_tables::{Fields, Mode};
use serde_json::{Map, Value};

/// Whether pre-hashed secrets are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hashes {
    /// Only clear secrets (`POST /users`).
    Refused,
    /// Clear secrets or PHC hashes, one of the two per secret (bulk import).
    Accepted,
}

/// A user creation, parsed and validated (everything but the checks that
/// need the tenant's state, which are the decision's). Secrets are
/// [`Secret::Clear`] (validated) or, from an import, [`Secret::Hashed`].
#[derive(Debug, Clone)]
pub struct UserInput {
    /// Account name.
    pub name: UserName,
    /// Requested role (checked by the decision).
    pub role: String,
    /// Sign-in password.
    pub password: Secret,
    /// SIP extension password.
    pub extension_password: Secret,
    /// Voicemail PIN.
    pub voicemail_pin: Secret,
    /// Primary extension number.
    pub extension_number: ExtensionNumber,
    /// The field table's attributes.
    pub attrs: Fields,
}

impl UserInput {
    /// The [`CreateUser`] command it asks for (ids minted and clear secrets
    /// hashed by the pipeline).
    pub fn into_command(self) -> CreateUser {
        CreateUser {
            ids: NewUserIds::default(),
            name: self.name,
            role: self.role,
            password: self.password,
            extension_password: self.extension_password,
            voicemail_pin: self.voicemail_pin,
            extension: PrimaryChoice::Number(self.extension_number),
            attrs: self.attrs,
        }
    }
}

/// A secret's clear key, its hash key and the clear value's rule.
type SecretSpec = (&'static str, &'static str, SecretRule);

/// The secret keys of a user creation, with their rules.
const SECRETS: [SecretSpec; 3] = [
    ("password", "password_hash", SecretRule::Password),
    (
        "extension_password",
        "extension_password_hash",
        SecretRule::ExtensionPassword,
    ),
    ("voicemail_pin", "voicemail_pin_hash", SecretRule::Pin),
];

/// The extra keys a bulk import accepts beyond the API's.
pub const HASH_KEYS: [&str; 3] = [
    "password_hash",
    "extension_password_hash",
    "voicemail_pin_hash",
];

/// Parses a user creation. Errors name the field (the JSON key).
pub fn parse(body: &Map<String, Value>, hashes: Hashes) -> Result<UserInput, CommandError> {
    let name = UserName::parse(&required(body, "name")?)?;
    let role = required(body, "role")?;
    // In the order POST /users has always reported them.
    let [password_spec, extension_spec, pin_spec] = SECRETS;
    let password = secret(body, password_spec, hashes)?;
    let extension_number =
        ExtensionNumber::parse(&required(body, "extension_number")?, "extension_number")?;
    let extension_password = secret(body, extension_spec, hashes)?;
    let voicemail_pin = secret(body, pin_spec, hashes)?;
    // The hash keys are handled here, not by the table.
    let skip: Vec<&str> = match hashes {
        Hashes::Refused => USER_SKIP.to_vec(),
        Hashes::Accepted => USER_SKIP.iter().chain(HASH_KEYS.iter()).copied().collect(),
    };
    let attrs = USER
        .validate(body, Mode::Create, &skip)
        .map_err(|e| CommandError::invalid(e.field, e.message))?;
    Ok(UserInput {
        name,
        role,
        password,
        extension_password,
        voicemail_pin,
        extension_number,
        attrs,
    })
}

fn optional(body: &Map<String, Value>, field: &str) -> Result<Option<String>, CommandError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(CommandError::invalid(field, "must be a string")),
    }
}

fn required(body: &Map<String, Value>, field: &str) -> Result<String, CommandError> {
    optional(body, field)?.ok_or_else(|| CommandError::invalid(field, "is required"))
}

fn secret(
    body: &Map<String, Value>,
    (clear_key, hash_key, rule): SecretSpec,
    hashes: Hashes,
) -> Result<Secret, CommandError> {
    let hashed = match hashes {
        Hashes::Refused => None,
        Hashes::Accepted => optional(body, hash_key)?,
    };
    match (optional(body, clear_key)?, hashed) {
        (Some(_), Some(_)) => Err(CommandError::invalid(
            hash_key,
            format!("give {clear_key} or {hash_key}, not both"),
        )),
        (Some(clear), None) => rule.parse(clear_key, &clear),
        (None, Some(hash)) => {
            check_phc(&hash).map_err(|m| CommandError::invalid(hash_key, m))?;
            Ok(Secret::Hashed(hash))
        }
        (None, None) => Err(CommandError::invalid(
            clear_key,
            match hashes {
                Hashes::Refused => "is required".to_owned(),
                Hashes::Accepted => format!("is required (or {hash_key})"),
            },
        )),
    }
}

/// The most an imported argon2 hash may ask of a sign-in: 256 MiB of memory,
/// 16 passes, 8 lanes. Verifying runs with the hash's own parameters, so
/// without a bound one imported row could make every sign-in attempt for
/// that account allocate gigabytes.
pub const ARGON2_MAX_MEMORY_KIB: u32 = 256 * 1024;
/// See [`ARGON2_MAX_MEMORY_KIB`].
pub const ARGON2_MAX_ITERATIONS: u32 = 16;
/// See [`ARGON2_MAX_MEMORY_KIB`].
pub const ARGON2_MAX_LANES: u32 = 8;
/// The highest bcrypt cost accepted (2^16 rounds, about 5 s on a server
/// core; bcrypt allows 31, which is days).
pub const BCRYPT_MAX_COST: u32 = 16;

/// Checks that `hash` is a PHC string the service can verify: argon2id,
/// argon2i or argon2d (version 0x13 or 0x10) with parameters within the
/// bounds above, or bcrypt (`$2a$`, `$2b$`, `$2x$`, `$2y$`) with cost 4 to
/// [`BCRYPT_MAX_COST`].
pub fn check_phc(hash: &str) -> Result<(), String> {
    if hash.starts_with("$2") {
        let parts: bcrypt::HashParts = hash
            .parse()
            .map_err(|e| format!("is not a bcrypt hash: {e}"))?;
        if !matches!(&hash[..4], "$2a$" | "$2b$" | "$2x$" | "$2y$") {
            return Err("is not a bcrypt hash: unknown version".into());
        }
        let cost = parts.get_cost();
        if !(4..=BCRYPT_MAX_COST).contains(&cost) {
            return Err(format!("bcrypt cost must be 4 to {BCRYPT_MAX_COST}"));
        }
        return Ok(());
    }
    let parsed = argon2::PasswordHash::new(hash)
        .map_err(|e| format!("is not a PHC hash string (argon2 or bcrypt): {e}"))?;
    if !matches!(
        parsed.algorithm.as_str(),
        "argon2id" | "argon2i" | "argon2d"
    ) {
        return Err(format!(
            "algorithm {} is not supported (argon2id, argon2i, argon2d or bcrypt)",
            parsed.algorithm
        ));
    }
    let params = argon2::Params::try_from(&parsed)
        .map_err(|e| format!("has invalid argon2 parameters: {e}"))?;
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err("has no salt or no hash value".into());
    }
    if params.m_cost() > ARGON2_MAX_MEMORY_KIB
        || params.t_cost() > ARGON2_MAX_ITERATIONS
        || params.p_cost() > ARGON2_MAX_LANES
    {
        return Err(format!(
            "argon2 parameters above the accepted bounds (m ≤ {ARGON2_MAX_MEMORY_KIB}, t ≤ {ARGON2_MAX_ITERATIONS}, p ≤ {ARGON2_MAX_LANES})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test bodies are objects"),
        }
    }

    fn base() -> Map<String, Value> {
        body(json!({
            "name": "alice", "role": "StandardUser", "extension_number": "1001",
            "email": "a@example.com", "display_name": "Alice",
            "password": "Passw0rd!", "extension_password": "sip-secret", "voicemail_pin": "123456",
        }))
    }

    const ARGON: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3CkiyD3vVz2LDJ9G4O5UeaAhTr5ZwcW6E7mq7fJQxkE";
    const BCRYPT: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

    #[test]
    fn clear_secrets_parse_and_hash_keys_are_refused_by_the_api_parser() {
        let u = parse(&base(), Hashes::Refused).expect("valid");
        assert!(
            matches!(u.password, Secret::Clear(_)) && matches!(u.voicemail_pin, Secret::Clear(_))
        );
        assert_eq!(u.attrs.len(), 2);
        let mut b = base();
        b.remove("password");
        b.insert("password_hash".into(), json!(ARGON));
        let e = parse(&b, Hashes::Refused).expect_err("POST /users takes no hashes");
        assert_eq!(
            e,
            CommandError::invalid("password", "is required"),
            "the missing clear password is named first"
        );
    }

    #[test]
    fn phc_hashes_are_taken_as_they_are_by_the_import_parser() {
        let mut b = base();
        b.remove("password");
        b.remove("voicemail_pin");
        b.insert("password_hash".into(), json!(ARGON));
        b.insert("voicemail_pin_hash".into(), json!(BCRYPT));
        let u = parse(&b, Hashes::Accepted).expect("valid");
        assert!(matches!(u.password, Secret::Hashed(ref h) if h == ARGON));
        assert!(matches!(u.voicemail_pin, Secret::Hashed(ref h) if h == BCRYPT));
        assert!(matches!(u.extension_password, Secret::Clear(_)));
    }

    #[test]
    fn both_or_neither_form_of_a_secret_is_refused_naming_the_field() {
        let mut b = base();
        b.insert("password_hash".into(), json!(ARGON));
        let e = parse(&b, Hashes::Accepted).expect_err("both");
        assert!(matches!(e, CommandError::Invalid { ref field, .. } if field == "password_hash"));
        let mut b = base();
        b.remove("extension_password");
        let e = parse(&b, Hashes::Accepted).expect_err("neither");
        assert!(
            matches!(e, CommandError::Invalid { ref field, .. } if field == "extension_password")
        );
    }

    #[test]
    fn hashes_are_checked_for_shape_algorithm_and_cost() {
        assert_eq!(check_phc(ARGON), Ok(()));
        assert_eq!(check_phc(BCRYPT), Ok(()));
        for bad in [
            "",
            "plain text",
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ",
            "$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA",
            "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3CkiyD3vVz2LDJ9G4O5UeaAhTr5ZwcW6E7mq7fJQxkE",
            "$2b$31$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
            "$2b$10$tooshort",
        ] {
            assert!(check_phc(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn other_fields_are_the_field_tables() {
        let mut b = base();
        b.insert("enable_dnd".into(), json!("yes"));
        let e = parse(&b, Hashes::Accepted).expect_err("not a bool");
        assert!(matches!(e, CommandError::Invalid { ref field, .. } if field == "enable_dnd"));
        let mut b = base();
        b.insert("shoe_size".into(), json!(42));
        let e = parse(&b, Hashes::Accepted).expect_err("unknown");
        assert!(matches!(e, CommandError::Invalid { ref field, .. } if field == "shoe_size"));
    }
}
