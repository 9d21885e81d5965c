//! Meetings as they run: per meeting, the desired state its owner or
//! chairman asked for and the actual state the media server last reported
//! (events in `switchboard_events::domain::meeting`).
//!
//! The desired state keeps only what was asked (`None`: nothing asked, the
//! actual state stands), so a reader can show both where they differ and a
//! decision can tell an effective control from one that changes nothing.
//! A participant's wishes last as long as the participant is reported
//! present: once gone, what was asked about them is moot.

use super::items::{ItemView, MEETINGS};
use super::{NumberOwner, Scope};
use crate::pmap::PMap;
use std::collections::BTreeMap;
use switchboard_events::domain::ItemOwner;
use switchboard_events::domain::{
    MeetingActual, MeetingControl, MeetingControlled, MeetingStateReported,
};
use switchboard_events::{EnvelopeRef, Fields, Id, Value, ValueRef};

/// The most invitations a meeting remembers (the newest are kept): the
/// PBX acts on each as it follows the log, the list only shows them.
pub const INVITATIONS_KEPT: usize = 32;

/// What was asked about one participant.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DesiredParticipant {
    /// Muted or not, if asked.
    pub muted: Option<bool>,
    /// Layout position, if asked.
    pub position: Option<i32>,
    /// Asked to leave (kicked out).
    pub removed: bool,
}

/// An invitation: who asked to call which number in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Invitation {
    /// The number called.
    pub number: String,
    /// Who invited.
    pub by: Id,
    /// The offset of the event that recorded it.
    pub offset: u64,
}

/// The desired state of a meeting: only what was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Desired {
    /// Running, if asked (start / stop).
    pub running: Option<bool>,
    /// Locked, if asked.
    pub locked: Option<bool>,
    /// Muted, if asked.
    pub muted: Option<bool>,
    /// Recording, if asked.
    pub recording: Option<bool>,
    /// The layout's participants, if asked.
    pub layout: Option<Vec<String>>,
    /// The chairman, if asked.
    pub chairman: Option<String>,
    /// Per participant, what was asked.
    pub participants: BTreeMap<String, DesiredParticipant>,
    /// The newest invitations.
    pub invitations: Vec<Invitation>,
}

/// One meeting's live state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MeetingLive {
    /// Whose meeting.
    pub owner: Id,
    /// What was asked.
    pub desired: Desired,
    /// What the media server last reported.
    pub actual: MeetingActual,
    /// The offset of the last report (0: never reported).
    pub reported_offset: u64,
    /// The offset of the last change of either.
    pub updated_offset: u64,
    /// The version of the meeting's stream (optimistic concurrency of
    /// controls decided against this state).
    pub version: u64,
    /// The media server's counter of the last report, if it sent one.
    pub sequence: Option<u64>,
}

impl MeetingLive {
    /// A meeting of `owner` nothing was asked of nor reported about:
    /// offline, empty.
    pub fn new(owner: Id) -> MeetingLive {
        MeetingLive {
            owner,
            desired: Desired::default(),
            actual: MeetingActual::default(),
            reported_offset: 0,
            updated_offset: 0,
            version: 0,
            sequence: None,
        }
    }

    /// Whether the meeting runs or was asked to: what controls other than
    /// start need.
    pub fn live(&self) -> bool {
        self.actual.status.running() || self.desired.running == Some(true)
    }

    /// The actual participant with this id.
    pub fn participant(&self, id: &str) -> Option<&switchboard_events::domain::MeetingParticipant> {
        self.actual.participants.iter().find(|p| p.id == id)
    }

    /// The user chairing the meeting, as reported.
    pub fn chairman_user(&self) -> Option<Id> {
        self.actual
            .participants
            .iter()
            .find(|p| p.chairman)
            .and_then(|p| p.user_id)
    }
}

/// The field of a meeting item holding its room's number.
const NUMBER: &str = "extension_number";

/// A meeting created with a number claims it in the tenant's number space
/// (the decision made sure it was free).
pub(super) fn number_claimed(scope: &mut Scope, collection: &str, id: Id, attrs: &Fields) {
    if collection != MEETINGS {
        return;
    }
    if let Some(Value::Str(n)) = attrs.get(NUMBER) {
        scope
            .numbers
            .insert(n.as_str().into(), NumberOwner::Meeting(id));
    }
}

/// A deleted meeting releases its number (if it still holds it).
pub(super) fn number_released(scope: &mut Scope, collection: &str, item: &ItemView) {
    if collection == MEETINGS {
        if let Some(n) = number_of(item) {
            release(scope, n, item.id);
        }
    }
}

/// A deleted user's meetings release their numbers.
pub(super) fn owner_deleted(scope: &mut Scope, user: Id) {
    let held: Vec<(String, Id)> = scope
        .items
        .items(MEETINGS, ItemOwner::User(user))
        .filter_map(|i| number_of(i).map(|n| (n.to_owned(), i.id)))
        .collect();
    for (n, id) in held {
        release(scope, &n, id);
    }
}

fn number_of(item: &ItemView) -> Option<&str> {
    match item.attrs.get(NUMBER) {
        Some(ValueRef::Str(n)) => Some(n),
        _ => None,
    }
}

fn release(scope: &mut Scope, number: &str, meeting: Id) {
    if scope.numbers.get(number) == Some(NumberOwner::Meeting(meeting)) {
        scope.numbers.remove(number);
    }
}

/// Every meeting of a tenant that was ever controlled or reported.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Meetings {
    /// Meeting id → its live state.
    pub live: PMap<Id, MeetingLive>,
}

impl Meetings {
    /// A meeting's live state, if it has one.
    pub fn get(&self, id: Id) -> Option<&MeetingLive> {
        self.live.get(&id)
    }

    fn entry(&mut self, id: Id, owner: Id) -> &mut MeetingLive {
        self.live.get_or_insert_with(id, || MeetingLive::new(owner))
    }

    /// Applies a control: the desired state changes.
    pub(super) fn controlled(&mut self, env: &EnvelopeRef<'_>, e: &MeetingControlled) {
        let offset = env.offset;
        let m = self.entry(e.meeting_id, e.owner);
        m.updated_offset = offset;
        m.version = env.stream_version;
        let d = &mut m.desired;
        match &e.control {
            MeetingControl::Run(on) => d.running = Some(*on),
            MeetingControl::Mute(on) => d.muted = Some(*on),
            MeetingControl::Lock(on) => d.locked = Some(*on),
            MeetingControl::Record(on) => d.recording = Some(*on),
            MeetingControl::Layout(items) => d.layout = Some(items.clone()),
            MeetingControl::Invite { number } => {
                d.invitations.push(Invitation {
                    number: number.clone(),
                    by: e.by,
                    offset,
                });
                let over = d.invitations.len().saturating_sub(INVITATIONS_KEPT);
                d.invitations.drain(..over);
            }
            MeetingControl::MuteParticipant { participant, muted } => {
                d.participants.entry(participant.clone()).or_default().muted = Some(*muted)
            }
            MeetingControl::Chairman { participant } => d.chairman = Some(participant.clone()),
            MeetingControl::Position {
                participant,
                position,
            } => {
                d.participants
                    .entry(participant.clone())
                    .or_default()
                    .position = Some(*position)
            }
            MeetingControl::Kick { participant } => {
                d.participants
                    .entry(participant.clone())
                    .or_default()
                    .removed = true
            }
        }
    }

    /// Applies a report: the actual state is replaced, and wishes about
    /// participants who are gone are dropped.
    pub(super) fn reported(&mut self, env: &EnvelopeRef<'_>, e: &MeetingStateReported) {
        let m = self.entry(e.meeting_id, e.owner);
        m.actual = e.actual.clone();
        m.reported_offset = env.offset;
        m.updated_offset = env.offset;
        m.version = env.stream_version;
        if e.sequence.is_some() {
            m.sequence = e.sequence;
        }
        let present = |id: &str| e.actual.participants.iter().any(|p| p.id == id);
        m.desired.participants.retain(|id, _| present(id));
        if m.desired.chairman.as_deref().is_some_and(|c| !present(c)) {
            m.desired.chairman = None;
        }
    }

    /// Forgets a meeting (deleted).
    pub(super) fn removed(&mut self, id: Id) {
        self.live.remove(&id);
    }

    /// Forgets a deleted user's meetings.
    pub(super) fn user_deleted(&mut self, user: Id) {
        self.live.retain(|_, m| m.owner != user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_events::domain::{MeetingParticipant, MeetingStatus};
    use switchboard_events::Envelope;

    fn env(offset: u64) -> Envelope {
        crate::testing::envelope(offset, "meeting", "MeetingControlled")
    }

    fn control(control: MeetingControl) -> MeetingControlled {
        MeetingControlled {
            meeting_id: Id(1),
            owner: Id(2),
            by: Id(2),
            control,
        }
    }

    fn who(id: &str) -> MeetingParticipant {
        MeetingParticipant {
            id: id.into(),
            display_name: id.into(),
            muted: false,
            chairman: false,
            position: 0,
            user_id: None,
        }
    }

    #[test]
    fn given_meeting_rooms_with_numbers_then_they_hold_them_until_they_or_their_owner_go() {
        use crate::runtime::Projection as _;
        use crate::Directory;
        use switchboard_events::domain::{ItemCreated, ItemDeleted, UserDeleted};
        use switchboard_events::Event;
        let room = |id: u64, owner: u64, number: &str| {
            let mut attrs = Fields::new();
            attrs.insert(NUMBER.into(), Value::from(number));
            Event::ItemCreated(ItemCreated {
                item_id: Id(id),
                collection: MEETINGS.into(),
                owner: ItemOwner::User(Id(owner)),
                attrs,
            })
        };
        let mut dir = Directory::default();
        let mut n = 0;
        let mut apply = |dir: &mut Directory, e: Event| {
            n += 1;
            dir.apply(&crate::testing::envelope(n, "item", "Item"), &e);
        };
        apply(&mut dir, room(50, 2, "900000"));
        apply(&mut dir, room(51, 2, "900001"));
        apply(&mut dir, room(52, 4, "555"));
        let numbers = |dir: &Directory| -> Vec<(String, NumberOwner)> {
            let mut v: Vec<_> = dir
                .scope(Id(3))
                .map(|s| s.numbers.iter().map(|(k, v)| (k.to_string(), v)).collect())
                .unwrap_or_default();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        assert_eq!(numbers(&dir).len(), 3);
        assert_eq!(
            numbers(&dir)[0],
            ("555".to_owned(), NumberOwner::Meeting(Id(52)))
        );
        apply(
            &mut dir,
            Event::ItemDeleted(ItemDeleted {
                item_id: Id(50),
                collection: MEETINGS.into(),
                owner: ItemOwner::User(Id(2)),
            }),
        );
        apply(&mut dir, Event::UserDeleted(UserDeleted { user_id: Id(4) }));
        assert_eq!(
            numbers(&dir),
            [("900001".to_owned(), NumberOwner::Meeting(Id(51)))]
        );
        // Another collection's item with such a field claims nothing.
        let mut attrs = Fields::new();
        attrs.insert(NUMBER.into(), Value::from("777"));
        let phone = ItemCreated {
            item_id: Id(60),
            collection: "phones".into(),
            owner: ItemOwner::User(Id(2)),
            attrs,
        };
        apply(&mut dir, Event::ItemCreated(phone));
        assert_eq!(numbers(&dir).len(), 1);
    }

    #[test]
    fn given_controls_and_reports_then_desired_and_actual_are_kept_apart() {
        let mut m = Meetings::default();
        m.controlled(&env(1).view(), &control(MeetingControl::Run(true)));
        m.controlled(
            &env(2).view(),
            &control(MeetingControl::MuteParticipant {
                participant: "p1".into(),
                muted: true,
            }),
        );
        let live = m.get(Id(1)).expect("live");
        assert_eq!(live.desired.running, Some(true));
        assert!(live.live(), "asked to run");
        assert_eq!(live.actual.status, MeetingStatus::Offline);
        m.reported(
            &env(3).view(),
            &MeetingStateReported {
                meeting_id: Id(1),
                owner: Id(2),
                actual: MeetingActual {
                    status: MeetingStatus::OnCall,
                    participants: vec![who("p2")],
                    ..MeetingActual::default()
                },
                sequence: None,
            },
        );
        let live = m.get(Id(1)).expect("live");
        assert_eq!(live.reported_offset, 3);
        assert!(
            live.desired.participants.is_empty(),
            "p1 is gone: nothing asked about them stands"
        );
        assert_eq!(live.desired.running, Some(true), "meeting wishes stay");
        m.user_deleted(Id(2));
        assert!(m.get(Id(1)).is_none());
    }

    #[test]
    fn invitations_keep_the_newest() {
        let mut m = Meetings::default();
        for i in 0..(INVITATIONS_KEPT as u64 + 3) {
            m.controlled(
                &env(i).view(),
                &control(MeetingControl::Invite {
                    number: format!("{i}"),
                }),
            );
        }
        let inv = &m.get(Id(1)).expect("live").desired.invitations;
        assert_eq!(inv.len(), INVITATIONS_KEPT);
        assert_eq!(inv[0].offset, 3);
    }
}
