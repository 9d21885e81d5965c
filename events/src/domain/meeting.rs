//! Meetings as they run: what their owner (or chairman) asks of the media
//! server, and what the media server reports back.
//!
//! A scheduled meeting itself is directory data: an item of the declared
//! `meetings` collection (`ItemCreated/Updated/Deleted`). What happens while
//! it runs is recorded here, in the meeting's own `meeting-{id}` stream:
//!
//! - [`MeetingControlled`]: the **desired state** changed (mute, lock,
//!   start, stop, recording, layout, a participant muted, moved, made
//!   chairman or removed) or an invitation was made. The media server
//!   follows the change stream and acts on it.
//! - [`MeetingStateReported`]: the **actual state** the media server
//!   reports (whether the meeting runs, its flags, who is in it). The
//!   service never assumes a control took effect until a report says so.

use crate::ids::Id;
use serde::{Deserialize, Serialize};

/// Whether a meeting runs, as the media server sees it (PortSIP's
/// `status` of a conference room).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MeetingStatus {
    /// Not running.
    #[default]
    Offline,
    /// Running, nobody on a call in it.
    Online,
    /// Running with participants on a call.
    OnCall,
}

impl MeetingStatus {
    /// PortSIP's name.
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingStatus::Offline => "OFFLINE",
            MeetingStatus::Online => "ONLINE",
            MeetingStatus::OnCall => "ON_CALL",
        }
    }

    /// Whether the meeting runs.
    pub fn running(self) -> bool {
        self != MeetingStatus::Offline
    }
}

/// One participant as the media server reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingParticipant {
    /// The media server's own id of the participant (unique in the meeting).
    pub id: String,
    /// The name shown for them.
    pub display_name: String,
    /// Whether their audio is muted.
    pub muted: bool,
    /// Whether they chair the meeting.
    pub chairman: bool,
    /// Their place in the video layout (`-1`: not shown).
    pub position: i32,
    /// The tenant's user they are, when they joined from one of its
    /// extensions (resolved from the reported number when recorded).
    pub user_id: Option<Id>,
}

/// The actual state of a meeting, as the media server last reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingActual {
    /// Whether it runs.
    pub status: MeetingStatus,
    /// Whether it is locked (nobody else may join).
    pub locked: bool,
    /// Whether everyone but the chairman is muted.
    pub muted: bool,
    /// Whether it is being recorded.
    pub recording: bool,
    /// Who is in it, in the media server's order.
    pub participants: Vec<MeetingParticipant>,
}

/// A change of a meeting's desired state (or an invitation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MeetingControl {
    /// Start (`true`) or stop (`false`) the meeting.
    Run(bool),
    /// Mute or unmute the whole meeting.
    Mute(bool),
    /// Lock or unlock the meeting.
    Lock(bool),
    /// Start or stop recording.
    Record(bool),
    /// Show these participants, in this order, in the layout's grid.
    Layout(Vec<String>),
    /// Call this number into the meeting.
    Invite {
        /// The number to call.
        number: String,
    },
    /// Mute or unmute one participant.
    MuteParticipant {
        /// The participant.
        participant: String,
        /// Muted or not.
        muted: bool,
    },
    /// Hand the chair to a participant.
    Chairman {
        /// The new chairman.
        participant: String,
    },
    /// Move a participant in the layout (`-1`: hide).
    Position {
        /// The participant.
        participant: String,
        /// The position.
        position: i32,
    },
    /// Remove a participant from the meeting.
    Kick {
        /// The participant.
        participant: String,
    },
}

/// The desired state of a meeting changed (its owner or chairman asked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingControlled {
    /// The meeting (an item of the `meetings` collection).
    pub meeting_id: Id,
    /// The user whose meeting it is.
    pub owner: Id,
    /// Who asked (the owner, or the user chairing it).
    pub by: Id,
    /// What was asked.
    pub control: MeetingControl,
}

/// The media server reported a meeting's actual state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingStateReported {
    /// The meeting.
    pub meeting_id: Id,
    /// The user whose meeting it is.
    pub owner: Id,
    /// The state as reported (replaces the previous report).
    pub actual: MeetingActual,
    /// The media server's own counter of its reports of this meeting, if
    /// it sends one: a report at or below the last recorded is stale.
    pub sequence: Option<u64>,
}
