//! Sign-in sessions, looked up by token hash.

use crate::pmap::PHashMap as HashMap;
use switchboard_events::domain::{
    SessionEnded, SessionRefreshed, SessionStarted, SessionTenantSwitched,
};
use switchboard_events::{EnvelopeRef, Id, TenantId};

/// One session.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionView {
    /// Id.
    pub id: Id,
    /// Who.
    pub user_id: Id,
    /// The tenant the user belongs to.
    pub home_tenant: TenantId,
    /// The tenant the session acts in (differs after a tenant switch).
    pub acting_tenant: TenantId,
    /// SHA-256 of the access token.
    pub access_hash: [u8; 32],
    /// SHA-256 of the refresh token.
    pub refresh_hash: [u8; 32],
    /// Access expiry, Unix seconds.
    pub access_expires_at: i64,
    /// Refresh expiry, Unix seconds.
    pub refresh_expires_at: i64,
    /// The offset of the event that started or last refreshed the session:
    /// how recently it was active (a user's least recent session is the
    /// one ended when it holds too many).
    pub active_offset: u64,
}

/// All live sessions with token-hash indexes.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Sessions {
    by_id: HashMap<Id, SessionView>,
    by_access: HashMap<[u8; 32], Id>,
    by_refresh: HashMap<[u8; 32], Id>,
}

impl Sessions {
    /// The session an access token hash belongs to.
    pub fn by_access(&self, hash: &[u8; 32]) -> Option<&SessionView> {
        self.by_access.get(hash).and_then(|id| self.by_id.get(id))
    }

    /// The session a refresh token hash belongs to.
    pub fn by_refresh(&self, hash: &[u8; 32]) -> Option<&SessionView> {
        self.by_refresh.get(hash).and_then(|id| self.by_id.get(id))
    }

    /// A session by id.
    pub fn get(&self, id: Id) -> Option<&SessionView> {
        self.by_id.get(&id)
    }

    /// A user's live sessions (a scan of every session: called once per
    /// sign-in, which costs an argon2 hash anyway).
    pub fn of_user(&self, user: Id) -> Vec<&SessionView> {
        self.by_id.values().filter(|s| s.user_id == user).collect()
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn remove(&mut self, id: Id) {
        if let Some(s) = self.by_id.remove(&id) {
            self.by_access.remove(&s.access_hash);
            self.by_refresh.remove(&s.refresh_hash);
        }
    }

    pub(super) fn started(&mut self, tenant: TenantId, env: &EnvelopeRef<'_>, e: &SessionStarted) {
        // Forget sessions whose refresh token expired before this event:
        // deterministic (event time, not wall clock), and it bounds memory.
        let now = env.recorded_at.unix_timestamp();
        let stale: Vec<Id> = self
            .by_id
            .values()
            .filter(|s| s.refresh_expires_at < now)
            .map(|s| s.id)
            .collect();
        for id in stale {
            self.remove(id);
        }
        self.by_access.insert(e.access_hash, e.session_id);
        self.by_refresh.insert(e.refresh_hash, e.session_id);
        self.by_id.insert(
            e.session_id,
            SessionView {
                id: e.session_id,
                user_id: e.user_id,
                home_tenant: tenant,
                acting_tenant: tenant,
                access_hash: e.access_hash,
                refresh_hash: e.refresh_hash,
                access_expires_at: e.access_expires_at,
                refresh_expires_at: e.refresh_expires_at,
                active_offset: env.offset,
            },
        );
    }

    pub(super) fn refreshed(&mut self, env: &EnvelopeRef<'_>, e: &SessionRefreshed) {
        let Some(s) = self.by_id.get_mut(&e.session_id) else {
            return;
        };
        self.by_access.remove(&s.access_hash);
        self.by_refresh.remove(&s.refresh_hash);
        s.access_hash = e.access_hash;
        s.refresh_hash = e.refresh_hash;
        s.access_expires_at = e.access_expires_at;
        s.refresh_expires_at = e.refresh_expires_at;
        s.active_offset = env.offset;
        self.by_access.insert(e.access_hash, e.session_id);
        self.by_refresh.insert(e.refresh_hash, e.session_id);
    }

    pub(super) fn switched(&mut self, e: &SessionTenantSwitched) {
        if let Some(s) = self.by_id.get_mut(&e.session_id) {
            s.acting_tenant = e.tenant_id;
        }
    }

    pub(super) fn ended(&mut self, e: &SessionEnded) {
        self.remove(e.session_id);
    }

    /// Revokes every session of a user (disabled, deleted, password changed).
    pub fn revoke_user(&mut self, user: Id) {
        let ids: Vec<Id> = self
            .by_id
            .values()
            .filter(|s| s.user_id == user)
            .map(|s| s.id)
            .collect();
        for id in ids {
            self.remove(id);
        }
    }

    /// Sessions acting inside a deleted tenant fall back to their home tenant.
    pub(super) fn leave_tenant(&mut self, tenant: TenantId) {
        for (_, s) in self.by_id.iter_mut() {
            if s.acting_tenant == tenant {
                s.acting_tenant = s.home_tenant;
            }
        }
    }
}
