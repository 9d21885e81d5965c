//! StartSession, RefreshSession, EndSession: sign-in as events.

use super::prepare::NewId;
use super::{CommandError, Decision, Denial};
use switchboard_events::domain::{SessionEnded, SessionRefreshed, SessionStarted};
use switchboard_events::{Event, Expected, Id, StreamId, TenantId};
use switchboard_projections::Directory;

/// Token material for a new or rotated session (hashes only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenHashes {
    /// SHA-256 of the access token.
    pub access_hash: [u8; 32],
    /// SHA-256 of the refresh token.
    pub refresh_hash: [u8; 32],
    /// Access expiry, Unix seconds.
    pub access_expires_at: i64,
    /// Refresh expiry, Unix seconds.
    pub refresh_expires_at: i64,
}

/// Begin a session for a user whose password was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartSession {
    /// New session id.
    pub session_id: NewId,
    /// The user.
    pub user_id: Id,
    /// The user's tenant.
    pub tenant: TenantId,
    /// Tokens.
    pub tokens: TokenHashes,
    /// The most sessions a user may hold; signing in beyond it ends the
    /// least recently active ones.
    pub max_per_user: usize,
}

/// Decides a sign-in: the user must still exist and be enabled (it may have
/// changed while the password was being checked). A user holds at most
/// `max_per_user` sessions: the least recently active ones (signed in or
/// refreshed longest ago) end in the same append.
pub fn start(state: &Directory, cmd: StartSession) -> Result<Decision, CommandError> {
    let user = state
        .scope(cmd.tenant)
        .and_then(|s| s.users.get(&cmd.user_id))
        .ok_or_else(|| {
            CommandError::forbidden(Denial::Credentials, "the account no longer exists")
        })?;
    if !user.enabled() {
        return Err(CommandError::forbidden(
            Denial::Credentials,
            "the account is disabled",
        ));
    }
    let session_id = cmd.session_id.get()?;
    let mut held: Vec<_> = state.sessions.of_user(cmd.user_id);
    held.sort_by_key(|s| s.active_offset);
    let excess = (held.len() + 1).saturating_sub(cmd.max_per_user.max(1));
    let mut events: Vec<Event> = held
        .iter()
        .take(excess)
        .map(|s| Event::SessionEnded(SessionEnded { session_id: s.id }))
        .collect();
    events.push(Event::SessionStarted(SessionStarted {
        session_id,
        user_id: cmd.user_id,
        access_hash: cmd.tokens.access_hash,
        refresh_hash: cmd.tokens.refresh_hash,
        access_expires_at: cmd.tokens.access_expires_at,
        refresh_expires_at: cmd.tokens.refresh_expires_at,
    }));
    Ok(Decision::events(events).expect(StreamId::of("session", session_id), Expected::NoStream))
}

/// Rotate a session's tokens with its refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshSession {
    /// SHA-256 of the presented refresh token.
    pub presented: [u8; 32],
    /// Now, Unix seconds.
    pub now: i64,
    /// The new tokens.
    pub tokens: TokenHashes,
}

/// Decides a refresh: the refresh token must belong to a live session whose
/// user is still enabled. Returns the session's user id.
pub fn refresh(state: &Directory, cmd: RefreshSession) -> Result<(Decision, Id), CommandError> {
    let invalid = || CommandError::forbidden(Denial::Session, "the refresh token is not valid");
    let session = state
        .sessions
        .by_refresh(&cmd.presented)
        .ok_or_else(invalid)?;
    if session.refresh_expires_at <= cmd.now {
        return Err(invalid());
    }
    let enabled = state
        .scope(session.home_tenant)
        .and_then(|s| s.users.get(&session.user_id))
        .is_some_and(|u| u.enabled());
    if !enabled {
        return Err(invalid());
    }
    Ok((
        Decision::events(vec![Event::SessionRefreshed(SessionRefreshed {
            session_id: session.id,
            access_hash: cmd.tokens.access_hash,
            refresh_hash: cmd.tokens.refresh_hash,
            access_expires_at: cmd.tokens.access_expires_at,
            refresh_expires_at: cmd.tokens.refresh_expires_at,
        })]),
        session.user_id,
    ))
}

/// Ends a session (sign-out). Ending one that is already gone does nothing.
pub fn end(state: &Directory, session_id: Id) -> Decision {
    if state.sessions.get(session_id).is_none() {
        return Decision::none();
    }
    Decision::events(vec![Event::SessionEnded(SessionEnded { session_id })])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::given_in;
    use switchboard_events::domain::{UserCreated, UserUpdated};
    use switchboard_events::{Fields, Value, SYSTEM_TENANT};

    fn alice() -> Event {
        Event::UserCreated(UserCreated {
            user_id: Id(1),
            name: "alice".into(),
            role: "SystemAdmin".into(),
            password_hash: "h".into(),
            attrs: Fields::new(),
        })
    }

    fn tokens(seed: u8, expires: i64) -> TokenHashes {
        TokenHashes {
            access_hash: [seed; 32],
            refresh_hash: [seed + 100; 32],
            access_expires_at: expires,
            refresh_expires_at: expires + 1000,
        }
    }

    fn start_cmd() -> StartSession {
        StartSession {
            session_id: NewId::given(Id(9)),
            user_id: Id(1),
            tenant: SYSTEM_TENANT,
            tokens: tokens(1, 100),
            max_per_user: 8,
        }
    }

    #[test]
    fn given_an_enabled_user_when_starting_a_session_then_it_starts() {
        let d = start(&given_in(SYSTEM_TENANT, &[alice()]), start_cmd()).expect("starts");
        assert!(matches!(&d.events[..], [Event::SessionStarted(s)] if s.session_id == Id(9)));
    }

    #[test]
    fn given_a_disabled_or_missing_user_when_starting_then_rejected() {
        let mut off = Fields::new();
        off.insert("enabled".into(), Value::Bool(false));
        let disabled = Event::UserUpdated(UserUpdated {
            user_id: Id(1),
            changes: off.into(),
        });
        assert!(start(&given_in(SYSTEM_TENANT, &[alice(), disabled]), start_cmd()).is_err());
        assert!(start(&given_in(SYSTEM_TENANT, &[]), start_cmd()).is_err());
    }

    #[test]
    fn given_a_session_when_refreshing_then_tokens_rotate_and_old_ones_die() {
        let started = start(&given_in(SYSTEM_TENANT, &[alice()]), start_cmd())
            .expect("starts")
            .events;
        let state = given_in(SYSTEM_TENANT, &[vec![alice()], started.clone()].concat());
        let presented = [101u8; 32];
        let (d, user) = refresh(
            &state,
            RefreshSession {
                presented,
                now: 50,
                tokens: tokens(2, 200),
            },
        )
        .expect("refreshes");
        assert_eq!(user, Id(1));
        let state = given_in(SYSTEM_TENANT, &[vec![alice()], started, d.events].concat());
        assert!(state.sessions.by_access(&[1; 32]).is_none());
        assert!(state.sessions.by_access(&[2; 32]).is_some());
        assert!(refresh(
            &state,
            RefreshSession {
                presented,
                now: 50,
                tokens: tokens(3, 300)
            }
        )
        .is_err());
    }

    #[test]
    fn given_an_expired_refresh_token_when_refreshing_then_rejected() {
        let started = start(&given_in(SYSTEM_TENANT, &[alice()]), start_cmd())
            .expect("starts")
            .events;
        let state = given_in(SYSTEM_TENANT, &[vec![alice()], started].concat());
        let late = RefreshSession {
            presented: [101; 32],
            now: 5000,
            tokens: tokens(2, 9000),
        };
        assert!(refresh(&state, late).is_err());
    }

    #[test]
    fn ending_a_session_twice_records_it_once() {
        let started = start(&given_in(SYSTEM_TENANT, &[alice()]), start_cmd())
            .expect("starts")
            .events;
        let state = given_in(SYSTEM_TENANT, &[vec![alice()], started.clone()].concat());
        let d = end(&state, Id(9));
        assert_eq!(d.events.len(), 1);
        let state = given_in(SYSTEM_TENANT, &[vec![alice()], started, d.events].concat());
        assert_eq!(end(&state, Id(9)), Decision::none());
    }

    #[test]
    fn given_a_user_at_the_session_limit_when_signing_in_then_the_least_recent_ends() {
        let mut events = vec![alice()];
        for n in 0..3u8 {
            let cmd = StartSession {
                session_id: NewId::given(Id(20 + u64::from(n))),
                tokens: tokens(10 + n, 100 + i64::from(n)),
                max_per_user: 3,
                ..start_cmd()
            };
            events.extend(
                start(&given_in(SYSTEM_TENANT, &events), cmd)
                    .expect("starts")
                    .events,
            );
        }
        let dir = given_in(SYSTEM_TENANT, &events);
        assert_eq!(dir.sessions.of_user(Id(1)).len(), 3);
        let fourth = StartSession {
            session_id: NewId::given(Id(30)),
            tokens: tokens(40, 500),
            max_per_user: 3,
            ..start_cmd()
        };
        let d = start(&dir, fourth).expect("starts");
        assert_eq!(
            d.events.first(),
            Some(&Event::SessionEnded(SessionEnded { session_id: Id(20) })),
            "the least recently active session ends"
        );
        events.extend(d.events);
        let dir = given_in(SYSTEM_TENANT, &events);
        assert_eq!(dir.sessions.of_user(Id(1)).len(), 3);
        assert!(dir.sessions.get(Id(20)).is_none());
        assert!(dir.sessions.get(Id(30)).is_some());
    }
}
