//! ImportUsers: many CreateUser decisions as one, for a batch of a bulk
//! import. Each row is decided by the very function `POST /users` uses
//! ([`users::create`]); what a batch adds are the rules *across* its rows
//! (no two rows with one account name or one extension number) and
//! all-or-nothing: one failing row fails the batch (one append or none,
//! every row's version expectations kept by [`Decision::merge`]), and every
//! failing row is reported, not just the first.

use super::users::{self, CreateUser, PrimaryChoice};
use super::{Actor, CommandError, ConflictKind, Decision};
use std::collections::HashSet;
use switchboard_projections::directory::Scope;

/// One row of an import: a user creation and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    /// The row's number in its file (1-based, header excluded).
    pub row: u64,
    /// The user to create.
    pub user: CreateUser,
}

/// Create the users of a batch of rows, all or none.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportUsers {
    /// The rows, in file order.
    pub rows: Vec<ImportRow>,
}

/// One row's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRefusal {
    /// The row's number in its file (1-based, header excluded).
    pub row: u64,
    /// The column (top-level field) at fault.
    pub column: String,
    /// The reason, as the single-user API would give it.
    pub error: CommandError,
}

/// Names and numbers already taken by earlier rows of the same import that
/// the scope does not show yet (a dry run applies nothing; a real batch
/// starts empty because earlier batches are already applied).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Claims {
    names: HashSet<String>,
    numbers: HashSet<String>,
}

/// The column a [`CommandError`] is about: the field for validation errors,
/// the field a conflict concerns otherwise.
pub fn column_of(error: &CommandError) -> String {
    match error {
        CommandError::Invalid { field, .. } | CommandError::Escalation { field, .. } => {
            field.split(['.', '[']).next().unwrap_or(field).to_owned()
        }
        CommandError::Conflict(ConflictKind::ExtensionNumberInUse, _) => "extension_number".into(),
        CommandError::Conflict(..) => "name".into(),
        _ => String::new(),
    }
}

/// Decides [`ImportUsers`] (see [`create_batch`]) for a batch whose
/// predecessors are applied.
pub fn import(scope: &Scope, by: &Actor, cmd: &ImportUsers) -> Result<Decision, CommandError> {
    create_batch(scope, by, &mut Claims::default(), &cmd.rows).map_err(CommandError::Rows)
}

/// Decides a batch of user creations against `scope` and the `claims` of
/// earlier rows. Either every row is accepted (one decision holding all
/// their events, each user's stream expected new) and `claims` records
/// them, or the refusals of every failing row are returned and `claims` is
/// unchanged.
pub fn create_batch(
    scope: &Scope,
    by: &Actor,
    claims: &mut Claims,
    rows: &[ImportRow],
) -> Result<Decision, Vec<RowRefusal>> {
    let mut decision = Decision::none();
    let mut refusals = Vec::new();
    let mut batch = Claims::default();
    for ImportRow { row, user: cmd } in rows {
        let name = cmd.name.as_str().to_lowercase();
        let number = match &cmd.extension {
            PrimaryChoice::Number(n) => Some(n),
            PrimaryChoice::Extension(_) => None,
        };
        let taken = if claims.names.contains(&name) || !batch.names.insert(name) {
            Some(CommandError::conflict(
                ConflictKind::AlreadyExists,
                format!(
                    "a user named {} is already in this import",
                    cmd.name.as_str()
                ),
            ))
        } else {
            number
                .filter(|n| {
                    let n = n.as_str().to_owned();
                    claims.numbers.contains(&n) || !batch.numbers.insert(n)
                })
                .map(users::number_taken)
        };
        let result = match taken {
            Some(e) => Err(e),
            None => users::create(scope, by, cmd).and_then(|d| {
                let whole = std::mem::take(&mut decision);
                whole.merge(d).map(|m| decision = m)
            }),
        };
        if let Err(error) = result {
            refusals.push(RowRefusal {
                row: *row,
                column: column_of(&error),
                error,
            });
        }
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    claims.names.extend(batch.names);
    claims.numbers.extend(batch.numbers);
    Ok(decision)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::{actor, given_in};
    use crate::commands::users::{ExtensionNumber, NewUserIds, UserName};
    use crate::commands::{NewId, Secret};
    use switchboard_events::{Event, Fields, Id};
    use switchboard_projections::Directory;

    const T: Id = Id(77);

    fn admin() -> Actor {
        actor(Id(9), "Admin", None)
    }

    fn cmd(n: u64, name: &str, number: &str) -> ImportRow {
        ImportRow {
            row: n,
            user: CreateUser {
                ids: NewUserIds {
                    user_id: NewId::given(Id(1000 + n)),
                    extension_id: NewId::given(Id(2000 + n)),
                    link_id: NewId::given(Id(3000 + n)),
                },
                name: UserName::parse(name).expect("name"),
                role: "StandardUser".into(),
                password: Secret::Hashed("h".into()),
                extension_password: Secret::Hashed("h".into()),
                voicemail_pin: Secret::Hashed("h".into()),
                extension: PrimaryChoice::Number(
                    ExtensionNumber::parse(number, "extension_number").expect("number"),
                ),
                attrs: Fields::new(),
            },
        }
    }

    /// The directory holding the users of `rows` (decided one by one).
    fn given_users(rows: Vec<ImportRow>) -> Directory {
        let mut events: Vec<Event> = Vec::new();
        for r in rows {
            let dir = given_in(T, &events);
            let empty = Scope::default();
            let scope = dir.scope(T).unwrap_or(&empty);
            events.extend(
                users::create(scope, &admin(), &r.user)
                    .expect("given user")
                    .events,
            );
        }
        given_in(T, &events)
    }

    fn scope_of(dir: &Directory) -> Scope {
        dir.scope(T).cloned().unwrap_or_default()
    }

    #[test]
    fn given_a_tenant_when_a_batch_of_new_users_then_every_users_events_in_one_decision() {
        let mut claims = Claims::default();
        let d = create_batch(
            &Scope::default(),
            &admin(),
            &mut claims,
            &[cmd(1, "ann", "1001"), cmd(2, "bob", "1002")],
        )
        .expect("accepted");
        let created: Vec<_> = d
            .events
            .iter()
            .filter_map(|e| match e {
                Event::UserCreated(u) => Some(u.name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(created, ["ann", "bob"]);
        assert_eq!(d.expected.len(), 2, "each user's stream expected new");
        // The same import's later rows (in a dry run nothing is applied) see them.
        let again = create_batch(
            &Scope::default(),
            &admin(),
            &mut claims,
            &[cmd(3, "Ann", "1003")],
        );
        assert_eq!(again.expect_err("taken")[0].column, "name");
    }

    #[test]
    fn given_existing_users_when_a_batch_repeats_names_or_numbers_then_every_failing_row_is_named()
    {
        let dir = given_users(vec![cmd(7, "carol", "1007")]);
        let mut claims = Claims::default();
        let refusals = create_batch(
            &scope_of(&dir),
            &admin(),
            &mut claims,
            &[
                cmd(1, "ann", "1001"),
                cmd(2, "carol", "1002"),
                cmd(3, "dave", "1001"),
                cmd(4, "erin", "1007"),
                cmd(5, "ANN", "1005"),
            ],
        )
        .expect_err("refused");
        let got: Vec<_> = refusals
            .iter()
            .map(|r| (r.row, r.column.as_str(), conflict_code(&r.error)))
            .collect();
        assert_eq!(
            got,
            [
                (2, "name", "ALREADY_EXISTS"),
                (3, "extension_number", "EXTENSION_NUMBER_IN_USE"),
                (4, "extension_number", "EXTENSION_NUMBER_IN_USE"),
                (5, "name", "ALREADY_EXISTS"),
            ]
        );
        // Nothing of a refused batch is claimed.
        assert!(create_batch(
            &scope_of(&dir),
            &admin(),
            &mut claims,
            &[cmd(1, "ann", "1001")]
        )
        .is_ok());
    }

    #[test]
    fn given_a_tenant_when_a_row_asks_a_system_role_then_the_row_is_refused_on_role() {
        let mut c = cmd(1, "ann", "1001");
        c.user.role = "SystemAdmin".into();
        let refusals = create_batch(&Scope::default(), &admin(), &mut Claims::default(), &[c])
            .expect_err("refused");
        assert_eq!(refusals[0].column, "role");
    }

    #[test]
    fn given_a_helpdesk_importer_when_a_row_makes_an_admin_then_the_row_is_refused_as_escalation() {
        let mut c = cmd(1, "ann", "1001");
        c.user.role = "Admin".into();
        let helpdesk = actor(Id(9), "StandardUser", None);
        let refusals = create_batch(&Scope::default(), &helpdesk, &mut Claims::default(), &[c])
            .expect_err("refused");
        assert!(
            matches!(refusals[0].error, CommandError::Escalation { .. }),
            "{refusals:?}"
        );
        assert_eq!(refusals[0].column, "role");
    }

    fn conflict_code(e: &CommandError) -> &'static str {
        match e {
            CommandError::Conflict(kind, _) => kind.code(),
            _ => "not a conflict",
        }
    }
}
