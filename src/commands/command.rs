//! [`Command`]: everything the service can be asked to change, as one
//! enum of plain data. Every dialect (and the bootstrap, and tools) parses
//! its requests into these and hands them to [`super::Pipeline::run`];
//! [`decide`] maps each to its pure decision function.

use super::agents::{self, Requested, StatusChange};
use super::balance::{self, SetBalance};
use super::bootstrap::{self, CreateSystemAdministrator};
use super::call_history::{self, RecordCallHistory};
use super::contacts::{self, SetFavorite};
use super::extensions::{self, CreateExtension, Hotline, LinkUserToExtension, UpdateExtension};
use super::files::{self, FileCommand, GreetingCommand};
use super::groups::{self, CreateGroup, UpdateGroup};
use super::holidays::{self, SelectGlobalHolidays};
use super::items::{self, CreateItem, DeleteItem, UpdateItem};
use super::meetings::{self, ControlMeeting, ReportMeetingState};
use super::ms365::{self, BindMs365};
use super::prepare::{IdKind, Preparer, SecretRule};
use super::presence::{self, RemoveRegistration, ReportCallState, ReportRegistration, SetPresence};
use super::queues::{self, AgentItem, CreateQueue, Target, UpdateQueue};
use super::roles::{self, CreateRole, UpdateRole};
use super::sessions::{self, RefreshSession, StartSession};
use super::tenants::{self, CreateTenant, UpdateTenant};
use super::user_import::{self, ImportUsers};
use super::users::{self, CreateUser, ExtensionNumber, SetUserSecret, UpdateUser};
use super::waiting::WaitingCommand;
use super::{Actor, CommandError, Decision, Denial};
use crate::auth::roles::Authority;
use crate::field_tables::group::GROUP;
use crate::field_tables::tenant::TENANT;
use switchboard_events::{Id, Metadata, TenantId, SYSTEM_TENANT};
use switchboard_projections::Directory;

/// Everything the service can be asked to change. Each variant is decided
/// by one pure function of the directory (see [`decide`]); composite
/// commands (several changes in one append) are variants too, so no dialect
/// ever merges decisions itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    // ---- the system scope ----
    /// Create the system administrator on an empty directory (once).
    CreateSystemAdministrator(CreateSystemAdministrator),
    /// Create a tenant (unique SIP domain).
    CreateTenant(CreateTenant),
    /// Change a tenant's name, domain or settings.
    UpdateTenant(UpdateTenant),
    /// Delete a tenant and everything in it.
    DeleteTenant {
        /// The tenant.
        tenant_id: Id,
    },
    /// Make a (system administrator's) session act inside a tenant.
    SwitchTenant {
        /// The session.
        session_id: Id,
        /// The tenant to act in.
        tenant_id: Id,
    },

    // ---- sessions ----
    /// Sign in: begin a session (ending the least recently active ones
    /// beyond the per-user cap).
    StartSession(StartSession),
    /// Rotate a session's tokens with its refresh token.
    RefreshSession(RefreshSession),
    /// Sign out.
    EndSession {
        /// The session.
        session_id: Id,
    },

    // ---- users ----
    /// Create a user with its secrets and primary extension.
    CreateUser(CreateUser),
    /// Create the users of a bulk import's batch: every row a CreateUser,
    /// all in one append or none (refused rows: [`CommandError::Rows`]).
    ImportUsers(ImportUsers),
    /// Change a user's fields, primary extension, PIN or password.
    UpdateUser(UpdateUser),
    /// Set a password, SIP password or PIN.
    SetUserSecret(SetUserSecret),
    /// Give a user another role.
    ChangeUserRole {
        /// The user.
        user_id: Id,
        /// The role's name.
        role: String,
    },
    /// Reset the call-handling profile of some users (all when `None`).
    ResetUserProfiles {
        /// The users, or every user of the tenant.
        users: Option<Vec<Id>>,
    },
    /// Delete a user (its links, memberships and agent entries go with it).
    DeleteUser {
        /// The user.
        user_id: Id,
    },

    // ---- extensions and links ----
    /// Create an extension (optionally for a user, with a hotline).
    CreateExtension(CreateExtension),
    /// Change an extension's number, name, type or enabled flag.
    UpdateExtension(UpdateExtension),
    /// Delete an extension nobody is linked to.
    DeleteExtension {
        /// The extension.
        extension_id: Id,
    },
    /// Link a user to an extension.
    LinkUserToExtension(LinkUserToExtension),
    /// Unlink a user from an extension.
    UnlinkUserFromExtension {
        /// The user.
        user_id: Id,
        /// The extension.
        extension_id: Id,
    },
    /// Unlink the user and extension of a link, by the link's id.
    RemoveLink {
        /// The link.
        link_id: Id,
    },
    /// Unlink every user of an extension.
    UnlinkAllUsersOfExtension {
        /// The extension.
        extension_id: Id,
    },
    /// Make a number the hotline of an extension (the preferred outbound
    /// caller ID of the user it is primary for).
    AssignHotline {
        /// The extension.
        extension_id: Id,
        /// The number.
        hotline: Hotline,
    },

    // ---- roles ----
    /// Create a custom role.
    CreateRole(CreateRole),
    /// Change a custom role.
    UpdateRole(UpdateRole),
    /// Delete a custom role nobody holds.
    DeleteRole {
        /// The role's name (any letter case).
        role: String,
    },

    // ---- groups ----
    /// Create a user group.
    CreateGroup(CreateGroup),
    /// Change a user group.
    UpdateGroup(UpdateGroup),
    /// Delete a user group.
    DeleteGroup {
        /// The group.
        group_id: Id,
    },
    /// Add the user behind a number to a group.
    AddGroupMember {
        /// The group.
        group_id: Id,
        /// The member's primary extension number.
        number: ExtensionNumber,
    },
    /// Remove the user behind a number from a group.
    RemoveGroupMember {
        /// The group.
        group_id: Id,
        /// The member's primary extension number.
        number: ExtensionNumber,
    },

    // ---- call queues, ring groups and agents ----
    /// Create a call queue or ring group.
    CreateQueue(CreateQueue),
    /// Change a call queue or ring group.
    UpdateQueue(UpdateQueue),
    /// Delete a call queue (logging its agents out) or ring group.
    DeleteQueue {
        /// Which kind.
        target: Target,
        /// Which one.
        id: Id,
    },
    /// Replace the agent list of a call queue or ring group.
    SetQueueAgents {
        /// Which kind.
        target: Target,
        /// Which one.
        id: Id,
        /// The new list.
        items: Vec<AgentItem>,
    },
    /// Set an agent's skill level in every call queue it belongs to (or one).
    SetAgentSkillLevel {
        /// The agent.
        user_id: Id,
        /// 1 (best) to 100.
        skill_level: u8,
        /// Only this queue.
        queue_id: Option<Id>,
    },
    /// Set an agent's status in one call queue.
    SetAgentStatus {
        /// The queue.
        queue_id: Id,
        /// The agent.
        user_id: Id,
        /// What it asks for.
        requested: Requested,
    },
    /// Set an agent's status in every call queue it belongs to.
    SetAgentStatusInAllQueues {
        /// The agent.
        user_id: Id,
        /// What to set.
        change: StatusChange,
    },

    // ---- presence, registrations, call state ----
    /// Set a user's presence and note.
    SetPresence(SetPresence),
    /// Record a SIP registration (by the registrar).
    ReportRegistration(ReportRegistration),
    /// Remove a SIP registration.
    RemoveRegistration(RemoveRegistration),
    /// Record a user's call state (by the registrar).
    ReportCallState(ReportCallState),
    /// Record a CDR or an external message the PBX reported.
    RecordCallHistory(RecordCallHistory),
    /// Record or destroy call recordings.
    Recording(super::recordings::RecordingCommand),
    /// A call queue's waiting list: callers the PBX reports, pickups.
    Waiting(super::waiting::WaitingCommand),
    /// Change a running meeting's desired state (its owner or chairman).
    ControlMeeting(ControlMeeting),
    /// Record a meeting's actual state (the media server).
    ReportMeetingState(ReportMeetingState),

    // ---- contacts and favorites ----
    /// Create an item in a declared collection (a user's or the tenant's
    /// list: personal and business contacts, phones, speed dials...).
    CreateItem(CreateItem),
    /// Change an item of a declared collection.
    UpdateItem(UpdateItem),
    /// Delete an item of a declared collection.
    DeleteItem(DeleteItem),
    /// Favorite or unfavorite an item of a collection.
    SetFavorite(SetFavorite),

    // ---- files and greetings ----
    /// Record, delete or collect the tenant's files (`files.rs`).
    File(FileCommand),
    /// Add, enable, disable or delete a user's greetings (`files.rs`).
    Greeting(GreetingCommand),
    /// Replace a user's selection of the tenant's holidays.
    SelectGlobalHolidays(SelectGlobalHolidays),
    /// Set a user's balance, recorded as an adjustment of its ledger.
    SetBalance(SetBalance),
    /// Bind a user to a Microsoft 365 account (the tenant's integration on).
    BindMs365(BindMs365),
    /// Remove a user's Microsoft 365 binding.
    UnbindMs365 {
        /// The user.
        user_id: Id,
    },
}

/// Who issues a command. Decisions that depend on the actor's privileges
/// judge them from the state they decide against (so a role changed in the
/// meantime counts), not from what the request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// The service itself (bootstrap, tools): holds everything.
    System,
    /// A signed-in user.
    User {
        /// The user.
        user_id: Id,
        /// The tenant the user belongs to.
        home_tenant: TenantId,
    },
}

impl By {
    /// The acting user as of `dir`, with what its role holds there.
    pub fn actor(self, dir: &Directory) -> Result<Actor, CommandError> {
        match self {
            By::System => Ok(Actor {
                user_id: Id(0),
                authority: Authority::new("SystemAdmin", None, true),
            }),
            By::User {
                user_id,
                home_tenant,
            } => {
                let scope = dir.scope(home_tenant);
                let user = scope.and_then(|s| s.users.get(&user_id)).ok_or_else(|| {
                    CommandError::forbidden(Denial::Session, "the account no longer exists")
                })?;
                let system = home_tenant == SYSTEM_TENANT;
                Ok(Actor {
                    user_id,
                    authority: Authority::of_role(scope, &user.role, system),
                })
            }
        }
    }
}

/// Where and by whom a command is issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The tenant the command acts in (its events are recorded there; the
    /// system scope for tenants and the bootstrap).
    pub tenant: TenantId,
    /// Who issues it.
    pub by: By,
    /// Recorded with the events (actor, request id, address, dialect).
    pub metadata: Metadata,
}

impl Context {
    /// The service itself acting in `tenant`; `via` names the cause.
    pub fn system(tenant: TenantId, via: &str) -> Context {
        Context {
            tenant,
            by: By::System,
            metadata: Metadata::system(via),
        }
    }
}

/// What a carried-out command reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The id of what it created (for a registration: the user it resolved).
    pub id: Option<Id>,
    /// Where its events landed; `None` when nothing had to change.
    pub appended: Option<switchboard_events::Appended>,
}

impl Outcome {
    /// The created id (refused for a command that creates nothing).
    pub fn created(&self) -> Result<Id, CommandError> {
        self.id
            .ok_or_else(|| CommandError::Unavailable("the command created nothing".into()))
    }
}

impl Command {
    /// The scopes whose locks the command holds besides `tenant`'s: a
    /// tenant's own scope while the system scope changes it.
    pub fn extra_scope(&self) -> Option<TenantId> {
        match self {
            Command::UpdateTenant(c) => Some(c.tenant_id),
            Command::DeleteTenant { tenant_id } => Some(*tenant_id),
            _ => None,
        }
    }

    /// The command's name (its variant), for logs.
    pub fn name(&self) -> &'static str {
        macro_rules! names {
            ($($v:ident),* $(,)?) => {
                match self { $(Command::$v { .. } => stringify!($v),)* }
            };
        }
        names!(
            CreateSystemAdministrator,
            CreateTenant,
            UpdateTenant,
            DeleteTenant,
            SwitchTenant,
            StartSession,
            RefreshSession,
            EndSession,
            CreateUser,
            ImportUsers,
            UpdateUser,
            SetUserSecret,
            ChangeUserRole,
            ResetUserProfiles,
            DeleteUser,
            CreateExtension,
            UpdateExtension,
            DeleteExtension,
            LinkUserToExtension,
            UnlinkUserFromExtension,
            RemoveLink,
            UnlinkAllUsersOfExtension,
            AssignHotline,
            CreateRole,
            UpdateRole,
            DeleteRole,
            CreateGroup,
            UpdateGroup,
            DeleteGroup,
            AddGroupMember,
            RemoveGroupMember,
            CreateQueue,
            UpdateQueue,
            DeleteQueue,
            SetQueueAgents,
            SetAgentSkillLevel,
            SetAgentStatus,
            SetAgentStatusInAllQueues,
            SetPresence,
            ReportRegistration,
            RemoveRegistration,
            ReportCallState,
            RecordCallHistory,
            Recording,
            Waiting,
            ControlMeeting,
            ReportMeetingState,
            CreateItem,
            UpdateItem,
            DeleteItem,
            SetFavorite,
            File,
            Greeting,
            SelectGlobalHolidays,
            SetBalance,
            BindMs365,
            UnbindMs365,
        )
    }

    /// Mints the command's new ids, hashes its secrets and seals the PBX
    /// secrets among its fields: everything impure, done once before any
    /// decision.
    pub async fn prepare(&mut self, p: &Preparer<'_>) -> Result<(), CommandError> {
        match self {
            Command::CreateSystemAdministrator(c) => {
                p.mint(&mut c.user_id, IdKind::User);
                p.hash(&mut c.password, SecretRule::Password).await?;
            }
            Command::CreateTenant(c) => {
                p.mint(&mut c.tenant_id, IdKind::Tenant);
                p.seal(&TENANT, &mut c.attrs);
            }
            Command::UpdateTenant(c) => p.seal(&TENANT, &mut c.incoming),
            Command::StartSession(c) => p.mint(&mut c.session_id, IdKind::Session),
            Command::CreateUser(c) => prepare_user(p, c, &mut Default::default()).await?,
            Command::ImportUsers(c) => {
                // Ids distinct across the rows too (the published directory
                // cannot show the batch's own); an importer hashes clear
                // secrets in parallel beforehand, so this is mostly minting.
                let mut minted = std::collections::HashSet::new();
                for r in &mut c.rows {
                    prepare_user(p, &mut r.user, &mut minted).await?;
                }
            }
            Command::UpdateUser(c) => {
                if c.extension.is_some() {
                    p.mint(&mut c.ids.extension_id, IdKind::Extension);
                    p.mint(&mut c.ids.link_id, IdKind::Link);
                }
                if let Some(pin) = &mut c.voicemail_pin {
                    p.hash(pin, SecretRule::Pin).await?;
                }
                if let Some(password) = &mut c.password {
                    p.hash(password, SecretRule::Password).await?;
                }
            }
            Command::SetUserSecret(c) => {
                let rule = match c.kind {
                    switchboard_events::domain::SecretKind::Password => SecretRule::Password,
                    switchboard_events::domain::SecretKind::ExtensionPassword => {
                        SecretRule::ExtensionPassword
                    }
                    switchboard_events::domain::SecretKind::VoicemailPin => SecretRule::Pin,
                };
                p.hash(&mut c.secret, rule).await?;
            }
            Command::CreateExtension(c) => {
                p.mint(&mut c.extension_id, IdKind::Extension);
                if let Some(u) = &mut c.for_user {
                    p.mint(&mut u.link_id, IdKind::Link);
                }
            }
            Command::LinkUserToExtension(c) => p.mint(&mut c.link_id, IdKind::Link),
            Command::CreateRole(c) => p.mint(&mut c.role_id, IdKind::Role),
            Command::CreateGroup(c) => p.mint(&mut c.group_id, IdKind::Group),
            Command::CreateQueue(c) => p.mint(&mut c.id, IdKind::Queue),
            Command::CreateItem(c) => {
                p.mint(&mut c.item_id, IdKind::Item);
                if let Some(t) = c.collection.tenant {
                    (t.mint)(&mut c.attrs);
                }
            }
            // Waiting callers and pickup requests are items.
            Command::Waiting(WaitingCommand::Report(c)) => p.mint(&mut c.entry_id, IdKind::Item),
            Command::Waiting(WaitingCommand::Pickup { pickup_id, .. }) => {
                p.mint(pickup_id, IdKind::Item)
            }
            Command::Waiting(WaitingCommand::Remove { .. }) => {}
            Command::SelectGlobalHolidays(c) => p.mint(&mut c.selection_id, IdKind::Item),
            Command::SetBalance(c) => p.mint(&mut c.adjustment_id, IdKind::Item),
            Command::BindMs365(c) => p.mint(&mut c.binding_id, IdKind::Item),
            Command::UnbindMs365 { .. } => {}
            Command::DeleteTenant { .. }
            | Command::SwitchTenant { .. }
            | Command::RefreshSession(_)
            | Command::EndSession { .. }
            | Command::ChangeUserRole { .. }
            | Command::ResetUserProfiles { .. }
            | Command::DeleteUser { .. }
            | Command::UpdateExtension(_)
            | Command::DeleteExtension { .. }
            | Command::UnlinkUserFromExtension { .. }
            | Command::RemoveLink { .. }
            | Command::UnlinkAllUsersOfExtension { .. }
            | Command::AssignHotline { .. }
            | Command::UpdateRole(_)
            | Command::DeleteRole { .. }
            | Command::UpdateGroup(_)
            | Command::DeleteGroup { .. }
            | Command::AddGroupMember { .. }
            | Command::RemoveGroupMember { .. }
            | Command::UpdateQueue(_)
            | Command::DeleteQueue { .. }
            | Command::SetQueueAgents { .. }
            | Command::SetAgentSkillLevel { .. }
            | Command::SetAgentStatus { .. }
            | Command::SetAgentStatusInAllQueues { .. }
            | Command::SetPresence(_)
            | Command::ReportRegistration(_)
            | Command::RemoveRegistration(_)
            | Command::ReportCallState(_)
            | Command::RecordCallHistory(_)
            | Command::Recording(_)
            | Command::ControlMeeting(_)
            | Command::ReportMeetingState(_)
            | Command::UpdateItem(_)
            | Command::DeleteItem(_)
            | Command::SetFavorite(_)
            | Command::File(_) => {}
            Command::Greeting(GreetingCommand::Create { greeting_id, .. }) => {
                // Greetings are items: their ids are unique among the tenant's items.
                p.mint(greeting_id, IdKind::Item)
            }
            Command::Greeting(_) => {}
        }
        Ok(())
    }

    /// The id a successful decision of this command creates, if any.
    fn created(&self) -> Option<Id> {
        match self {
            Command::CreateSystemAdministrator(c) => c.user_id.get().ok(),
            Command::CreateTenant(c) => c.tenant_id.get().ok(),
            Command::StartSession(c) => c.session_id.get().ok(),
            Command::CreateUser(c) => c.ids.user_id.get().ok(),
            Command::CreateExtension(c) => c.extension_id.get().ok(),
            Command::LinkUserToExtension(c) => c.link_id.get().ok(),
            Command::CreateRole(c) => c.role_id.get().ok(),
            Command::CreateGroup(c) => c.group_id.get().ok(),
            Command::CreateQueue(c) => c.id.get().ok(),
            Command::CreateItem(c) => c.item_id.get().ok(),
            _ => None,
        }
    }
}

/// Mints a new user's ids (none of them in `minted`, which receives them)
/// and hashes its secrets.
async fn prepare_user(
    p: &Preparer<'_>,
    c: &mut CreateUser,
    minted: &mut std::collections::HashSet<Id>,
) -> Result<(), CommandError> {
    for (id, kind) in [
        (&mut c.ids.user_id, IdKind::User),
        (&mut c.ids.extension_id, IdKind::Extension),
        (&mut c.ids.link_id, IdKind::Link),
    ] {
        p.mint_distinct(id, kind, minted);
    }
    p.hash(&mut c.password, SecretRule::Password).await?;
    p.hash(&mut c.extension_password, SecretRule::ExtensionPassword)
        .await?;
    p.hash(&mut c.voicemail_pin, SecretRule::Pin).await
}

/// Decides `command`, issued in `ctx`, against `dir`: the one pure function
/// behind every change. Returns what to append and the id the command
/// created (or resolved), if any. Deciding the same prepared command again
/// against a newer directory is how a lost optimistic-concurrency race is
/// settled.
pub fn decide(
    dir: &Directory,
    ctx: &Context,
    command: &Command,
) -> Result<(Decision, Option<Id>), CommandError> {
    let s = dir.scope_or_empty(ctx.tenant);
    let by = || ctx.by.actor(dir);
    let decision = match command {
        Command::CreateSystemAdministrator(c) => bootstrap::decide(dir, c)?,
        Command::CreateTenant(c) => tenants::create(dir, c.clone())?,
        Command::UpdateTenant(c) => tenants::update(dir, &TENANT, c.clone())?,
        Command::DeleteTenant { tenant_id } => tenants::delete(dir, *tenant_id)?,
        Command::SwitchTenant {
            session_id,
            tenant_id,
        } => tenants::switch(dir, *session_id, *tenant_id)?,
        Command::StartSession(c) => sessions::start(dir, c.clone())?,
        Command::RefreshSession(c) => sessions::refresh(dir, c.clone())?.0,
        Command::EndSession { session_id } => sessions::end(dir, *session_id),
        Command::CreateUser(c) => users::create(s, &by()?, c)?,
        Command::ImportUsers(c) => user_import::import(s, &by()?, c)?,
        Command::UpdateUser(c) => users::update(s, &by()?, c)?,
        Command::SetUserSecret(c) => users::set_secret(s, &by()?, c)?,
        Command::ChangeUserRole { user_id, role } => users::change_role(s, &by()?, *user_id, role)?,
        Command::ResetUserProfiles { users: ids } => users::reset_profiles(s, ids.as_deref())?,
        Command::DeleteUser { user_id } => users::delete(s, &by()?, *user_id)?,
        Command::CreateExtension(c) => extensions::create(s, &by()?, c)?,
        Command::UpdateExtension(c) => extensions::update(s, c)?,
        Command::DeleteExtension { extension_id } => extensions::delete(s, *extension_id)?,
        Command::LinkUserToExtension(c) => extensions::link(s, c)?,
        Command::UnlinkUserFromExtension {
            user_id,
            extension_id,
        } => extensions::unlink(s, *user_id, *extension_id)?,
        Command::RemoveLink { link_id } => extensions::remove_link(s, *link_id)?,
        Command::UnlinkAllUsersOfExtension { extension_id } => {
            extensions::unlink_all(s, *extension_id)?
        }
        Command::AssignHotline {
            extension_id,
            hotline,
        } => extensions::assign_hotline(s, &by()?, *extension_id, hotline)?,
        Command::CreateRole(c) => roles::create(s, &by()?, c)?,
        Command::UpdateRole(c) => roles::update(s, &by()?, c)?,
        Command::DeleteRole { role } => roles::delete(s, &by()?, role)?,
        Command::CreateGroup(c) => groups::create(s, c.clone())?,
        Command::UpdateGroup(c) => groups::update(s, &GROUP, c.clone())?,
        Command::DeleteGroup { group_id } => groups::delete(s, *group_id)?,
        Command::AddGroupMember { group_id, number } => groups::add_member(s, *group_id, number)?,
        Command::RemoveGroupMember { group_id, number } => {
            groups::remove_member(s, *group_id, number)?
        }
        Command::CreateQueue(c) => queues::create(s, &by()?, c)?,
        Command::UpdateQueue(c) => queues::update(s, &by()?, c)?,
        Command::DeleteQueue { target, id } => queues::delete(s, *target, *id)?,
        Command::SetQueueAgents { target, id, items } => {
            queues::set_agents(s, *target, *id, items)?
        }
        Command::SetAgentSkillLevel {
            user_id,
            skill_level,
            queue_id,
        } => queues::set_skill_level(s, *user_id, *skill_level, *queue_id)?,
        Command::SetAgentStatus {
            queue_id,
            user_id,
            requested,
        } => agents::set_status(s, &by()?, *queue_id, *user_id, *requested)?,
        Command::SetAgentStatusInAllQueues { user_id, change } => {
            agents::set_status_everywhere(s, &by()?, *user_id, *change)?
        }
        Command::SetPresence(c) => presence::set_presence(s, &by()?, c)?,
        Command::ReportRegistration(c) => {
            let (d, user) = presence::register(s, c)?;
            return Ok((d, Some(user)));
        }
        Command::RemoveRegistration(c) => presence::remove_registration(s, c)?,
        Command::ReportCallState(c) => presence::call_state(s, c)?,
        Command::RecordCallHistory(c) => call_history::record(s, ctx.tenant, &by()?, c)?,
        Command::Recording(c) => super::recordings::decide(s, ctx.tenant, &by()?, c)?,
        Command::Waiting(c) => return super::waiting::decide(s, &by()?, c),
        Command::ControlMeeting(c) => meetings::control(s, &by()?, c)?,
        Command::ReportMeetingState(c) => meetings::report(s, &by()?, c)?,
        Command::CreateItem(c) => items::create(s, c)?,
        Command::UpdateItem(c) => items::update(s, c)?,
        Command::DeleteItem(c) => items::delete(s, c)?,
        Command::SelectGlobalHolidays(c) => holidays::select(s, c)?,
        Command::SetBalance(c) => {
            let currency = dir
                .tenants
                .get(&ctx.tenant)
                .and_then(|t| t.attrs.get("currency"))
                .and_then(|v| v.as_str());
            balance::set(s, currency, by()?.user_id, c)?
        }
        Command::BindMs365(c) => {
            let enabled = dir.tenants.get(&ctx.tenant).is_some_and(|t| {
                TENANT.effective(&t.attrs, ms365::INTEGRATION_SETTING)
                    == switchboard_events::Value::Bool(true)
            });
            ms365::bind_user(s, enabled, c)?
        }
        Command::UnbindMs365 { user_id } => ms365::unbind_user(s, *user_id)?,
        Command::SetFavorite(c) => {
            contacts::set_favorite(s, c.user_id, c.collection, c.item, c.on)?
        }
        Command::File(c) => return files::decide_file(s, &by()?, c),
        Command::Greeting(c) => return files::decide_greeting(s, &by()?, c),
    };
    Ok((decision, command.created()))
}
