//! The domain events: past-tense facts, one file per family.
//!
//! Every event type has a name (stored in the envelope), a schema version,
//! and a stream it belongs to (derived from its aggregate id). Payloads are
//! postcard-encoded; old schema versions are upcast on read by
//! [`crate::upcast`], so projections only ever see today's shapes.

pub mod agent;
pub mod contact;
pub mod extension;
pub mod group;
pub mod item;
pub mod meeting;
pub mod presence;
pub mod queue;
pub mod record;
pub mod role;
pub mod session;
pub mod tenant;
pub mod user;

pub use agent::*;
pub use contact::*;
pub use extension::*;
pub use group::*;
pub use item::*;
pub use meeting::*;
pub use presence::*;
pub use queue::*;
pub use record::*;
pub use role::*;
pub use session::*;
pub use tenant::*;
pub use user::*;

use crate::ids::StreamId;

/// Why an event payload could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The event type name is not known to this build.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// The schema version is newer than this build, or has no upcaster.
    #[error("event type {event_type} has no decoder for schema version {version}")]
    UnknownVersion {
        /// Event type name.
        event_type: String,
        /// The stored version.
        version: u16,
    },
    /// The payload bytes do not match the schema.
    #[error("malformed {event_type} payload: {reason}")]
    Malformed {
        /// Event type name.
        event_type: String,
        /// What postcard reported.
        reason: String,
    },
}

/// The events whose field changes are kept as their stored bytes
/// ([`crate::Changes`]): updates, by far the most numerous events of a log,
/// so a replay builds no map for them. `None` for the others.
#[inline(always)]
fn decode_in_place(event_type: &str, payload: &[u8]) -> Option<Result<Event, postcard::Error>> {
    match event_type {
        "UserUpdated" => Some(UserUpdated::decode(payload).map(Event::UserUpdated)),
        "UserProfileReset" => Some(UserProfileReset::decode(payload).map(Event::UserProfileReset)),
        _ => None,
    }
}

macro_rules! domain_events {
    ($( $(#[$doc:meta])* $variant:ident : $ver:literal, $category:literal, $field:ident; )*) => {
        /// Every fact switchboard records. (Serialize: exports and the audit
        /// fallback show decoded events as JSON.)
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        pub enum Event {
            $( $(#[$doc])* $variant($variant), )*
        }

        impl Event {
            /// The type name stored in the envelope.
            pub fn event_type(&self) -> &'static str {
                match self { $( Event::$variant(_) => stringify!($variant), )* }
            }

            /// The current schema version of this event type.
            pub fn schema_version(&self) -> u16 {
                match self { $( Event::$variant(_) => $ver, )* }
            }

            /// The stream (aggregate) the event belongs to.
            pub fn stream(&self) -> StreamId {
                match self { $( Event::$variant(e) => StreamId::of($category, e.$field), )* }
            }

            /// Encodes the payload with postcard.
            pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
                let malformed = |reason: postcard::Error| CodecError::Malformed {
                    event_type: self.event_type().to_owned(),
                    reason: reason.to_string(),
                };
                match self { $( Event::$variant(e) => postcard::to_allocvec(e).map_err(malformed), )* }
            }

            /// Decodes a stored payload, upcasting older schema versions.
            pub fn decode(event_type: &str, version: u16, payload: &[u8]) -> Result<Event, CodecError> {
                if let Some(event) = crate::upcast::upcast(event_type, version, payload)? {
                    return Ok(event);
                }
                let malformed = |reason: postcard::Error| CodecError::Malformed {
                    event_type: event_type.to_owned(),
                    reason: reason.to_string(),
                };
                match event_type {
                    $( stringify!($variant) => {
                        if version != $ver {
                            return Err(CodecError::UnknownVersion { event_type: event_type.to_owned(), version });
                        }
                        if let Some(event) = decode_in_place(stringify!($variant), payload) {
                            return event.map_err(malformed);
                        }
                        postcard::from_bytes(payload).map(Event::$variant).map_err(malformed)
                    } )*
                    other => Err(CodecError::UnknownType(other.to_owned())),
                }
            }

            /// Every event type name this build knows, with its current version.
            pub fn catalog() -> &'static [(&'static str, u16)] {
                &[ $( (stringify!($variant), $ver), )* ]
            }
        }

        $( impl From<$variant> for Event {
            fn from(e: $variant) -> Event { Event::$variant(e) }
        } )*
    };
}

domain_events! {
    /// A tenant was created (system scope).
    TenantCreated: 1, "tenant", tenant_id;
    /// Tenant settings changed.
    TenantUpdated: 1, "tenant", tenant_id;
    /// A tenant was deleted with everything in it.
    TenantDeleted: 1, "tenant", tenant_id;

    /// A user was created.
    UserCreated: 1, "user", user_id;
    /// User fields changed (only the changed fields are recorded).
    UserUpdated: 1, "user", user_id;
    /// A secret of the user (password, extension password, voicemail PIN) was set.
    UserSecretChanged: 1, "user", user_id;
    /// The user's role changed.
    UserRoleChanged: 1, "user", user_id;
    /// The user's profile was reset to defaults.
    UserProfileReset: 1, "user", user_id;
    /// A user was deleted.
    UserDeleted: 1, "user", user_id;

    /// An extension was created.
    ExtensionCreated: 2, "extension", extension_id;
    /// Extension fields changed.
    ExtensionUpdated: 1, "extension", extension_id;
    /// An extension was deleted.
    ExtensionDeleted: 1, "extension", extension_id;
    /// A user was linked to an extension (LinkUserToExtension).
    UserLinkedToExtension: 1, "user", user_id;
    /// A user was unlinked from an extension.
    UserUnlinkedFromExtension: 1, "user", user_id;
    /// The user's primary extension changed.
    PrimaryExtensionChanged: 1, "user", user_id;

    /// A custom role was created.
    RoleCreated: 1, "role", role_id;
    /// A custom role changed.
    RoleUpdated: 1, "role", role_id;
    /// A custom role was deleted.
    RoleDeleted: 1, "role", role_id;

    /// A user group was created.
    GroupCreated: 1, "group", group_id;
    /// A user group changed.
    GroupUpdated: 1, "group", group_id;
    /// A user group was deleted.
    GroupDeleted: 1, "group", group_id;
    /// A user joined a group.
    GroupMemberAdded: 1, "group", group_id;
    /// A user left a group.
    GroupMemberRemoved: 1, "group", group_id;

    /// A user signed in and a session began.
    SessionStarted: 1, "session", session_id;
    /// A session's tokens were rotated with its refresh token.
    SessionRefreshed: 1, "session", session_id;
    /// A session's acting tenant changed (system administrator switching tenants).
    SessionTenantSwitched: 1, "session", session_id;
    /// A session ended (sign-out).
    SessionEnded: 1, "session", session_id;
    /// A call queue was created.
    CallQueueCreated: 1, "call-queue", queue_id;
    /// Call queue fields changed.
    CallQueueUpdated: 1, "call-queue", queue_id;
    /// A call queue was deleted.
    CallQueueDeleted: 1, "call-queue", queue_id;
    /// A user became an agent of a call queue.
    CallQueueAgentAdded: 1, "call-queue", queue_id;
    /// A call queue agent's skill level changed.
    CallQueueAgentUpdated: 1, "call-queue", queue_id;
    /// A user stopped being an agent of a call queue.
    CallQueueAgentRemoved: 1, "call-queue", queue_id;
    /// A ring group was created.
    RingGroupCreated: 1, "ring-group", ring_group_id;
    /// Ring group fields changed.
    RingGroupUpdated: 1, "ring-group", ring_group_id;
    /// A ring group was deleted.
    RingGroupDeleted: 1, "ring-group", ring_group_id;
    /// A user became a ring group agent.
    RingGroupAgentAdded: 1, "ring-group", ring_group_id;
    /// A ring group agent's skill level changed.
    RingGroupAgentUpdated: 1, "ring-group", ring_group_id;
    /// A user stopped being a ring group agent.
    RingGroupAgentRemoved: 1, "ring-group", ring_group_id;
    /// An agent's settable status in a queue changed (SetAgentStatus).
    AgentStatusSet: 1, "agent", user_id;
    /// A user's presence or note changed.
    PresenceSet: 1, "presence", user_id;
    /// The registrar reported a SIP registration.
    RegistrationAdded: 1, "presence", user_id;
    /// A SIP registration was removed.
    RegistrationRemoved: 1, "presence", user_id;
    /// The PBX reported a user's call state.
    CallStateChanged: 1, "presence", user_id;

    /// A personal or business contact was created.
    ContactCreated: 1, "contact", contact_id;
    /// Contact fields changed (only the changed fields are recorded).
    ContactUpdated: 1, "contact", contact_id;
    /// A contact was deleted.
    ContactDeleted: 1, "contact", contact_id;
    /// A user favorited a contact or an extension contact.
    FavoriteAdded: 1, "favorite", user_id;
    /// A user unfavorited a contact or an extension contact.
    FavoriteRemoved: 1, "favorite", user_id;

    /// An item of a declared collection was created.
    ItemCreated: 1, "item", item_id;
    /// Item fields changed (only the changed fields are recorded).
    ItemUpdated: 1, "item", item_id;
    /// An item was deleted.
    ItemDeleted: 1, "item", item_id;

    /// The PBX reported a call detail record (tenant stream: call history).
    CdrRecorded: 1, "cdrs", tenant_id;
    /// The PBX reported an external message (tenant stream: call history).
    ExternalMessageRecorded: 1, "messages", tenant_id;
    /// The PBX reported a call recording (tenant stream: call history).
    RecordingRecorded: 1, "recordings", tenant_id;
    /// A call recording was destroyed (tenant stream: call history).
    RecordingDestroyed: 1, "recordings", tenant_id;

    /// A meeting's desired state changed (its owner or chairman asked).
    MeetingControlled: 1, "meeting", meeting_id;
    /// The media server reported a meeting's actual state.
    MeetingStateReported: 1, "meeting", meeting_id;
}
