//! What the pipeline does to a command before deciding it, once: mint its
//! new ids, hash its secrets (argon2id), seal the secrets the PBX itself
//! needs (XChaCha20-Poly1305). A prepared command is plain data that can
//! be decided any number of times against newer states without minting or
//! hashing again (see [`super::Pipeline::run`]).

use super::CommandError;
use crate::auth::password::SecretHasher;
use crate::auth::tokens::new_token;
use crate::secrets::SecretKey;
use rand::Rng;
use std::collections::HashSet;
use switchboard_events::{Id, TenantId};
use switchboard_projections::Directory;

/// A secret on its way to the log: what a client chose (checked when the
/// request was parsed), or a random one nobody sees, until the pipeline
/// hashes it. Decisions record only [`Secret::Hashed`] values. `Debug`
/// never shows a clear value.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// Chosen by the client; hashed by the pipeline before deciding.
    Clear(String),
    /// Minted by the pipeline (a SIP password or a voicemail PIN the
    /// dialect does not carry), then hashed.
    Random,
    /// An argon2id PHC string: what the decision records.
    Hashed(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Clear(_) => f.write_str("Secret::Clear(…)"),
            Secret::Random => f.write_str("Secret::Random"),
            Secret::Hashed(h) => write!(f, "Secret::Hashed({h})"),
        }
    }
}

/// What a secret is, for its rules and for minting a random one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretRule {
    /// A sign-in password: 8 to 128 characters.
    Password,
    /// A SIP extension password: 6 to 64 characters.
    ExtensionPassword,
    /// A voicemail PIN: 6 to 10 digits.
    Pin,
}

impl SecretRule {
    /// Checks a clear value; `field` names it in the error (the request's
    /// own name for it).
    pub fn check(self, field: &str, s: &str) -> Result<(), CommandError> {
        let n = s.chars().count();
        let ok = match self {
            SecretRule::Password => (8..=128).contains(&n),
            SecretRule::ExtensionPassword => (6..=64).contains(&n),
            SecretRule::Pin => (6..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()),
        };
        if ok {
            return Ok(());
        }
        Err(CommandError::invalid(
            field,
            match self {
                SecretRule::Password => "must be 8 to 128 characters",
                SecretRule::ExtensionPassword => "must be 6 to 64 characters",
                SecretRule::Pin => "must be 6 to 10 digits",
            },
        ))
    }

    /// Parses a clear value into a [`Secret`] for the pipeline to hash.
    pub fn parse(self, field: &str, s: &str) -> Result<Secret, CommandError> {
        self.check(field, s)?;
        Ok(Secret::Clear(s.to_owned()))
    }

    /// A random value that passes [`SecretRule::check`].
    fn random(self) -> String {
        match self {
            // 43 characters of base64url: within both password ranges.
            SecretRule::Password | SecretRule::ExtensionPassword => new_token(),
            SecretRule::Pin => format!("{:08}", rand::thread_rng().gen_range(0..100_000_000u32)),
        }
    }
}

impl Secret {
    /// The hash a decision records; a secret the pipeline has not prepared
    /// is refused (it never reaches a decision through [`super::Pipeline::run`]).
    pub fn hashed(&self) -> Result<&str, CommandError> {
        match self {
            Secret::Hashed(h) => Ok(h),
            _ => Err(CommandError::Unavailable(
                "a secret reached a decision unhashed".into(),
            )),
        }
    }
}

/// An id the pipeline mints before deciding, so deciding again uses the
/// same one. `NewId::default()` asks for one; [`NewId::given`] fixes it
/// (tests, replays of a prepared command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NewId(Option<Id>);

impl NewId {
    /// An id already chosen.
    pub fn given(id: Id) -> NewId {
        NewId(Some(id))
    }

    /// The minted id; refused if the pipeline has not minted it yet.
    pub fn get(self) -> Result<Id, CommandError> {
        self.0
            .ok_or_else(|| CommandError::Unavailable("an id reached a decision unminted".into()))
    }
}

/// What a new id names: where it must not be taken yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A tenant (directory-wide).
    Tenant,
    /// A sign-in session (directory-wide).
    Session,
    /// A user of the tenant.
    User,
    /// An extension of the tenant.
    Extension,
    /// A user↔extension link of the tenant.
    Link,
    /// A custom role of the tenant.
    Role,
    /// A user group of the tenant.
    Group,
    /// A call queue or ring group of the tenant (one id space).
    Queue,
    /// An item of a declared collection (every collection's items share
    /// the tenant's item ids: contacts, phones...).
    Item,
}

impl IdKind {
    /// Whether `id` is taken in `tenant` as `dir` sees it.
    fn taken(self, dir: &Directory, tenant: TenantId, id: Id) -> bool {
        if self == IdKind::Tenant {
            return dir.tenants.contains_key(&id);
        }
        if self == IdKind::Session {
            return dir.sessions.get(id).is_some();
        }
        let Some(s) = dir.scope(tenant) else {
            return false;
        };
        match self {
            IdKind::User => s.users.contains_key(&id),
            IdKind::Extension => s.extensions.contains_key(&id),
            IdKind::Link => s.links.contains_key(&id),
            IdKind::Role => s.roles.contains_key(&id),
            IdKind::Group => s.groups.contains_key(&id),
            IdKind::Queue => s.call_queues.contains_key(&id) || s.ring_groups.contains_key(&id),
            IdKind::Item => s.items.is_taken(id),
            IdKind::Tenant | IdKind::Session => false,
        }
    }
}

/// Everything preparation needs: the hasher, the sealing key, and the
/// latest published directory (new ids are checked against it; the
/// decision's version expectations catch the rest).
pub struct Preparer<'a> {
    /// argon2id with the configured cost.
    pub hasher: &'a SecretHasher,
    /// The key PBX secrets are sealed with.
    pub key: &'a SecretKey,
    /// The published directory.
    pub dir: &'a Directory,
    /// The tenant the command acts in.
    pub tenant: TenantId,
}

impl Preparer<'_> {
    /// Mints `id` (if not given) so that it is free as of the published directory.
    pub fn mint(&self, id: &mut NewId, kind: IdKind) {
        if id.0.is_none() {
            id.0 = Some(super::fresh_id(|n| kind.taken(self.dir, self.tenant, n)));
        }
    }

    /// [`Preparer::mint`], also avoiding the ids in `minted` (the other
    /// new ids of one command), and records the id there.
    pub fn mint_distinct(&self, id: &mut NewId, kind: IdKind, minted: &mut HashSet<Id>) {
        if id.0.is_none() {
            let fresh =
                super::fresh_id(|n| kind.taken(self.dir, self.tenant, n) || minted.contains(&n));
            id.0 = Some(fresh);
        }
        if let Some(n) = id.0 {
            minted.insert(n);
        }
    }

    /// Turns `secret` into its hash (minting it first if it is random).
    /// argon2 runs on the blocking pool.
    pub async fn hash(&self, secret: &mut Secret, rule: SecretRule) -> Result<(), CommandError> {
        let clear = match secret {
            Secret::Hashed(_) => return Ok(()),
            Secret::Clear(s) => std::mem::take(s),
            Secret::Random => rule.random(),
        };
        let hash = self
            .hasher
            .hash_async(clear)
            .await
            .map_err(|e| CommandError::Unavailable(e.to_string()))?;
        *secret = Secret::Hashed(hash);
        Ok(())
    }

    /// Seals the secret fields of `table` in `fields`.
    pub fn seal(
        &self,
        table: &crate::field_tables::Table,
        fields: &mut switchboard_events::Fields,
    ) {
        self.key.seal_fields(table, fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_follow_their_rules_and_never_show_in_debug() {
        assert!(SecretRule::Password.parse("p", "short").is_err());
        let s = SecretRule::Password
            .parse("p", "long enough")
            .expect("valid");
        assert!(!format!("{s:?}").contains("long enough"));
        assert!(SecretRule::ExtensionPassword.check("x", "123456").is_ok());
        assert!(SecretRule::ExtensionPassword.check("x", "12345").is_err());
        assert!(SecretRule::Pin.check("pin", "123456").is_ok());
        for bad in ["12345", "12345a", "12345678901"] {
            let e = SecretRule::Pin.check("pin", bad).expect_err(bad);
            assert!(matches!(e, CommandError::Invalid { ref field, .. } if field == "pin"));
        }
        for rule in [
            SecretRule::Password,
            SecretRule::ExtensionPassword,
            SecretRule::Pin,
        ] {
            assert!(rule.check("f", &rule.random()).is_ok(), "{rule:?}");
        }
    }

    #[test]
    fn unprepared_ids_and_secrets_never_reach_an_event() {
        assert!(NewId::default().get().is_err());
        assert_eq!(NewId::given(Id(4)).get(), Ok(Id(4)));
        assert!(Secret::Clear("x".into()).hashed().is_err());
        assert!(Secret::Random.hashed().is_err());
        assert_eq!(Secret::Hashed("h".into()).hashed(), Ok("h"));
    }
}
