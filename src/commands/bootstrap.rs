//! CreateSystemAdministrator: the first event of every log.

use super::prepare::{NewId, Secret};
use super::{CommandError, Decision};
use switchboard_events::domain::UserCreated;
use switchboard_events::{Event, Expected, Fields, StreamId, Value, SYSTEM_TENANT};
use switchboard_projections::Directory;

/// The system administrator's account name.
pub const ADMIN_NAME: &str = "admin";

/// Create the system administrator, once.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateSystemAdministrator {
    /// The new user's id.
    pub user_id: NewId,
    /// The chosen or generated password.
    pub password: Secret,
}

/// Decides whether to create the administrator: only if the system scope
/// has no user of that name yet.
pub fn decide(
    state: &Directory,
    cmd: &CreateSystemAdministrator,
) -> Result<Decision, CommandError> {
    let exists = state
        .scope(SYSTEM_TENANT)
        .and_then(|s| s.user_by_name(ADMIN_NAME))
        .is_some();
    if exists {
        return Ok(Decision::none());
    }
    let mut attrs = Fields::new();
    attrs.insert("display_name".into(), Value::from("System Administrator"));
    attrs.insert("enabled".into(), Value::Bool(true));
    let user_id = cmd.user_id.get()?;
    Ok(Decision::events(vec![Event::UserCreated(UserCreated {
        user_id,
        name: ADMIN_NAME.into(),
        role: "SystemAdmin".into(),
        password_hash: cmd.password.hashed()?.to_owned(),
        attrs,
    })])
    .expect(StreamId::of("user", user_id), Expected::NoStream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::given_in as given_scope;
    use switchboard_events::Id;

    fn given(events: &[Event]) -> Directory {
        given_scope(SYSTEM_TENANT, events)
    }

    fn cmd(id: u64) -> CreateSystemAdministrator {
        CreateSystemAdministrator {
            user_id: NewId::given(Id(id)),
            password: Secret::Hashed("$argon2id$x".into()),
        }
    }

    #[test]
    fn given_an_empty_log_when_bootstrapping_then_the_admin_is_created() {
        let decision = decide(&given(&[]), &cmd(1)).expect("decides");
        assert_eq!(decision.events.len(), 1);
        match &decision.events[0] {
            Event::UserCreated(u) => {
                assert_eq!(u.name, "admin");
                assert_eq!(u.role, "SystemAdmin");
                assert_eq!(u.password_hash, "$argon2id$x");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn given_an_admin_when_bootstrapping_again_then_nothing_happens() {
        let first = decide(&given(&[]), &cmd(1)).expect("decides");
        let state = given(&first.events);
        assert_eq!(decide(&state, &cmd(2)).expect("decides"), Decision::none());
    }
}
