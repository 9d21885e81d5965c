//! Why a command was not carried out: typed rejections. Each dialect maps
//! them to its own status codes and error bodies in one function at its
//! edge; nothing downstream of a decision matches on strings.

use switchboard_events::AppendError;

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// A field failed validation.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field (dotted path for nested fields, in the request's words).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The target does not exist (or belongs to another tenant or user:
    /// the two are indistinguishable on purpose).
    #[error("{} not found", .0.noun())]
    NotFound(Thing),
    /// The command conflicts with current state.
    #[error("{1}")]
    Conflict(ConflictKind, String),
    /// The caller may not do this.
    #[error("{1}")]
    Forbidden(Denial, String),
    /// The caller would give or touch more than it holds itself (a role
    /// with a capability it lacks, an Admin it is not, a user above it).
    #[error("{field}: {reason}")]
    Escalation {
        /// The field whose value asks for too much.
        field: String,
        /// What the caller lacks.
        reason: String,
    },
    /// The log cannot take writes right now (or the projection stopped).
    #[error("{0}")]
    Unavailable(String),
    /// The command's appends kept losing races to other writers of a
    /// shared log (other nodes writing in the same tenant) until the
    /// pipeline's deadline passed: nothing of it was appended, and nothing
    /// conflicts with it either, so the client may send it again (503 with
    /// `Retry-After`, never 409).
    #[error("{0}")]
    Contended(String),
    /// A command over many rows (a bulk import's batch) was refused: every
    /// failing row with its own rejection. Nothing of it was appended.
    #[error("{} rows refused", .0.len())]
    Rows(Vec<super::user_import::RowRefusal>),
}

impl CommandError {
    /// A validation error naming `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> CommandError {
        CommandError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A conflict of `kind`.
    pub fn conflict(kind: ConflictKind, message: impl Into<String>) -> CommandError {
        CommandError::Conflict(kind, message.into())
    }

    /// A refusal of `kind`.
    pub fn forbidden(kind: Denial, message: impl Into<String>) -> CommandError {
        CommandError::Forbidden(kind, message.into())
    }

    /// The same error with a validation error's field renamed by `rename`
    /// (dialects whose field names differ from the command's).
    pub fn rename_field(self, rename: impl FnOnce(&str) -> String) -> CommandError {
        match self {
            CommandError::Invalid { field, reason } => CommandError::Invalid {
                field: rename(&field),
                reason,
            },
            other => other,
        }
    }
}

/// What a command found missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thing {
    /// A tenant.
    Tenant,
    /// A user.
    User,
    /// An extension.
    Extension,
    /// A user↔extension link.
    Link,
    /// A custom role.
    Role,
    /// A user group.
    Group,
    /// A member of a user group.
    GroupMember,
    /// A call queue.
    CallQueue,
    /// A ring group.
    RingGroup,
    /// An agent of a call queue.
    CallQueueAgent,
    /// A personal or business contact (or a favorite's item).
    Contact,
    /// A SIP registration.
    Registration,
    /// An item of a declared collection (its noun).
    Item(&'static str),
}

impl Thing {
    /// The noun used in messages ("user", "call queue agent").
    pub fn noun(self) -> &'static str {
        match self {
            Thing::Tenant => "tenant",
            Thing::User => "user",
            Thing::Extension => "extension",
            Thing::Link => "link",
            Thing::Role => "role",
            Thing::Group => "group",
            Thing::GroupMember => "group member",
            Thing::CallQueue => "call queue",
            Thing::RingGroup => "ring group",
            Thing::CallQueueAgent => "call queue agent",
            Thing::Contact => "contact",
            Thing::Registration => "registration",
            Thing::Item(noun) => noun,
        }
    }
}

/// How a command conflicts with the current state. Each dialect names these
/// its own way; [`ConflictKind::code`] is the service's (and PortSIP's) name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// A name, domain or key is already taken.
    AlreadyExists,
    /// An extension number has an owner in the tenant's number space.
    ExtensionNumberInUse,
    /// An extension still linked to users cannot be deleted.
    ExtensionInUse,
    /// The user is already linked to the extension.
    AlreadyLinked,
    /// The extension is nobody's primary extension (so it has no hotline).
    ExtensionHasNoUser,
    /// The tenant's last enabled Admin cannot be removed, demoted or disabled.
    LastAdmin,
    /// A custom role still held by users cannot be deleted.
    RoleInUse,
    /// The agent status table forbids the transition.
    IllegalAgentTransition,
    /// The user is an agent of no call queue.
    NotAnAgent,
    /// An agent of the queue has no primary extension (agent lists are
    /// written by extension number).
    AgentWithoutExtension,
    /// A file something references cannot be deleted.
    FileInUse,
    /// A stream changed between the decision and its append (optimistic
    /// concurrency), and deciding again did not settle it.
    ConcurrentModification,
    /// A list of a declared collection holds as many items as it may.
    ListFull,
    /// The tenant has not enabled the integration the command needs (a
    /// Microsoft 365 binding).
    IntegrationDisabled,
    /// Another agent already asked to pick up the waiting call.
    CallTaken,
    /// A meeting control needs a running meeting (or one asked to run).
    MeetingNotRunning,
    /// A participant control names someone the media server does not
    /// report in the meeting.
    ParticipantNotPresent,
    /// The meeting (or participant) already is, and was already asked to
    /// be, in the state the control asks for.
    MeetingStateUnchanged,
}

impl ConflictKind {
    /// The UPPER_SNAKE_CASE code.
    pub fn code(self) -> &'static str {
        match self {
            ConflictKind::AlreadyExists => "ALREADY_EXISTS",
            ConflictKind::ExtensionNumberInUse => "EXTENSION_NUMBER_IN_USE",
            ConflictKind::ExtensionInUse => "EXTENSION_IN_USE",
            ConflictKind::AlreadyLinked => "ALREADY_LINKED",
            ConflictKind::ExtensionHasNoUser => "EXTENSION_HAS_NO_USER",
            ConflictKind::LastAdmin => "LAST_ADMIN",
            ConflictKind::RoleInUse => "ROLE_IN_USE",
            ConflictKind::IllegalAgentTransition => "ILLEGAL_AGENT_TRANSITION",
            ConflictKind::NotAnAgent => "NOT_AN_AGENT",
            ConflictKind::AgentWithoutExtension => "AGENT_WITHOUT_EXTENSION",
            ConflictKind::FileInUse => "FILE_IN_USE",
            ConflictKind::ConcurrentModification => "CONCURRENT_MODIFICATION",
            ConflictKind::IntegrationDisabled => "INTEGRATION_DISABLED",
            ConflictKind::CallTaken => "CALL_ALREADY_PICKED_UP",
            ConflictKind::MeetingNotRunning => "MEETING_NOT_RUNNING",
            ConflictKind::ParticipantNotPresent => "PARTICIPANT_NOT_PRESENT",
            ConflictKind::MeetingStateUnchanged => "MEETING_STATE_UNCHANGED",
            ConflictKind::ListFull => "LIST_FULL",
        }
    }
}

/// Why a caller may not do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// Built-in roles cannot be changed or deleted.
    BuiltInRole,
    /// Nobody changes their own role.
    OwnRole,
    /// Only the user itself, or a caller holding a capability, may do this.
    NotYours,
    /// The account behind a sign-in is gone or disabled (it changed while
    /// its password was being checked).
    Credentials,
    /// The refresh token is not valid, or the acting user no longer exists.
    Session,
}

impl Denial {
    /// The UPPER_SNAKE_CASE code.
    pub fn code(self) -> &'static str {
        match self {
            Denial::BuiltInRole => "BUILT_IN_ROLE",
            Denial::OwnRole | Denial::NotYours => "FORBIDDEN",
            Denial::Credentials => "INVALID_CREDENTIALS",
            Denial::Session => "UNAUTHORIZED",
        }
    }
}

impl From<AppendError> for CommandError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::Conflict { stream, .. } => CommandError::conflict(
                ConflictKind::ConcurrentModification,
                format!("{stream} was changed concurrently; retry"),
            ),
            AppendError::Stale { tenant, .. } => CommandError::conflict(
                ConflictKind::ConcurrentModification,
                format!("tenant {tenant} was changed concurrently on another node; retry"),
            ),
            AppendError::Empty => CommandError::Unavailable("empty append".into()),
            AppendError::Unavailable(m) => CommandError::Unavailable(m),
        }
    }
}

impl From<switchboard_events::CodecError> for CommandError {
    fn from(e: switchboard_events::CodecError) -> Self {
        CommandError::Unavailable(format!("cannot encode event: {e}"))
    }
}
