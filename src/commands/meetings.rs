//! Meetings as they run (issue #17): the controls a meeting's owner or
//! chairman issues (the **desired** state) and the reports of the media
//! server (the **actual** state). Both are decided here, purely, against
//! the meeting's live state in the directory
//! (`switchboard_projections::directory::meetings`).
//!
//! Who controls a meeting: its owner, or the tenant user the media server
//! reports as its chairman. Anyone else (another user, another tenant) gets
//! 404, as for a meeting that does not exist.
//!
//! Which controls are refused (409, with a code):
//! - any control but start on a meeting that neither runs nor was asked
//!   to: `MEETING_NOT_RUNNING`;
//! - a participant control naming someone the media server does not report
//!   in the meeting: `PARTICIPANT_NOT_PRESENT`;
//! - a toggle (start/stop, mute/unmute, lock/unlock, recording, a
//!   participant's mute, the chair) when the meeting already is in that
//!   state **and** was already asked to be (or nothing contrary was asked):
//!   `MEETING_STATE_UNCHANGED`. A control that differs from either is
//!   recorded: the media server may lag behind, or may have drifted from
//!   what was asked.
//!
//! Setting a layout or a position to what was already asked and is already
//! shown records nothing (200): those are settings, not toggles.

use super::{Actor, CommandError, ConflictKind, Decision, Denial, Thing};
use crate::auth::roles::Capability;
use crate::collections::meetings::NAME;
use switchboard_events::domain::{
    ItemOwner, MeetingActual, MeetingControl, MeetingControlled, MeetingParticipant,
    MeetingStateReported,
};
use switchboard_events::{Event, Expected, Id, StreamId};
use switchboard_projections::directory::items::ItemView;
use switchboard_projections::directory::meetings::MeetingLive;
use switchboard_projections::directory::Scope;

/// The noun of a meeting (404 "meeting not found").
pub const MEETING: Thing = Thing::Item("meeting");

/// The noun of a participant (404 "meeting participant not found").
pub const PARTICIPANT: Thing = Thing::Item("meeting participant");

/// Change a meeting's desired state (or invite someone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlMeeting {
    /// The meeting.
    pub meeting_id: Id,
    /// What is asked.
    pub control: MeetingControl,
}

/// A participant as the media server reports it: its fields, and the
/// number it joined from (resolved to a tenant user when decided).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedParticipant {
    /// The participant (its `user_id` is filled in by the decision).
    pub participant: MeetingParticipant,
    /// The extension number it joined from, if any.
    pub number: Option<String>,
}

/// Record a meeting's actual state, as the media server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMeetingState {
    /// The meeting.
    pub meeting_id: Id,
    /// The reported state (participants without users).
    pub actual: MeetingActual,
    /// The participants, with the numbers they joined from.
    pub participants: Vec<ReportedParticipant>,
    /// The media server's counter of its reports of this meeting, if sent.
    pub sequence: Option<u64>,
}

/// The meeting `id` of the tenant, with its owner.
pub fn meeting(scope: &Scope, id: Id) -> Result<(&ItemView, Id), CommandError> {
    match scope.items.owners.get(&id) {
        Some((c, ItemOwner::User(owner))) if c == NAME => scope
            .items
            .get(NAME, ItemOwner::User(*owner), id)
            .map(|m| (m, *owner))
            .ok_or(CommandError::NotFound(MEETING)),
        _ => Err(CommandError::NotFound(MEETING)),
    }
}

/// The meeting `id` as `user` may control and read it: their own, or one
/// the media server reports them chairing. Otherwise not found.
pub fn controlled_by(scope: &Scope, id: Id, user: Id) -> Result<(&ItemView, Id), CommandError> {
    let (item, owner) = meeting(scope, id)?;
    let chair = scope.meetings.get(id).and_then(MeetingLive::chairman_user);
    if owner == user || chair == Some(user) {
        Ok((item, owner))
    } else {
        Err(CommandError::NotFound(MEETING))
    }
}

fn unchanged(what: &str) -> CommandError {
    CommandError::conflict(
        ConflictKind::MeetingStateUnchanged,
        format!("the meeting already is {what}, and that is what was asked"),
    )
}

/// Refuses a toggle whose target both the actual state and the desired
/// state (when anything was asked) already hold.
fn toggle(
    actual: bool,
    desired: Option<bool>,
    target: bool,
    what: &str,
) -> Result<(), CommandError> {
    if actual == target && desired.unwrap_or(actual) == target {
        return Err(unchanged(what));
    }
    Ok(())
}

fn present<'a>(
    live: &'a MeetingLive,
    participant: &str,
) -> Result<&'a MeetingParticipant, CommandError> {
    live.participant(participant).ok_or_else(|| {
        CommandError::conflict(
            ConflictKind::ParticipantNotPresent,
            format!("participant {participant} is not in the meeting"),
        )
    })
}

/// Whether deciding `control` against `live` changes anything: `Ok(true)`
/// to record it, `Ok(false)` for a setting already in place, or why it is
/// refused.
fn judge(live: &MeetingLive, control: &MeetingControl) -> Result<bool, CommandError> {
    let a = &live.actual;
    let d = &live.desired;
    if let MeetingControl::Run(on) = control {
        let what = if *on { "running" } else { "stopped" };
        toggle(a.status.running(), d.running, *on, what)?;
        return Ok(true);
    }
    if !live.live() {
        return Err(CommandError::conflict(
            ConflictKind::MeetingNotRunning,
            "the meeting is not running: start it first",
        ));
    }
    match control {
        MeetingControl::Run(_) => Ok(true),
        MeetingControl::Mute(on) => {
            toggle(a.muted, d.muted, *on, if *on { "muted" } else { "unmuted" }).map(|_| true)
        }
        MeetingControl::Lock(on) => toggle(
            a.locked,
            d.locked,
            *on,
            if *on { "locked" } else { "unlocked" },
        )
        .map(|_| true),
        MeetingControl::Record(on) => {
            let what = if *on { "recording" } else { "not recording" };
            toggle(a.recording, d.recording, *on, what).map(|_| true)
        }
        MeetingControl::Layout(items) => {
            for p in items {
                present(live, p)?;
            }
            let shown: Vec<String> = {
                let mut v: Vec<&MeetingParticipant> =
                    a.participants.iter().filter(|p| p.position >= 0).collect();
                v.sort_by_key(|p| p.position);
                v.into_iter().map(|p| p.id.clone()).collect()
            };
            Ok(!(d.layout.as_ref().is_none_or(|l| l == items) && &shown == items))
        }
        MeetingControl::Invite { .. } => Ok(true),
        MeetingControl::MuteParticipant { participant, muted } => {
            let p = present(live, participant)?;
            let asked = d.participants.get(participant).and_then(|w| w.muted);
            let what = if *muted { "muted" } else { "unmuted" };
            toggle(p.muted, asked, *muted, &format!("{what} for {participant}"))?;
            Ok(true)
        }
        MeetingControl::Chairman { participant } => {
            let p = present(live, participant)?;
            let asked = d.chairman.as_deref().map(|c| c == participant);
            toggle(
                p.chairman,
                asked,
                true,
                &format!("chaired by {participant}"),
            )?;
            Ok(true)
        }
        MeetingControl::Position {
            participant,
            position,
        } => {
            let p = present(live, participant)?;
            let asked = d.participants.get(participant).and_then(|w| w.position);
            Ok(!(p.position == *position && asked.unwrap_or(*position) == *position))
        }
        MeetingControl::Kick { participant } => {
            present(live, participant)?;
            Ok(true)
        }
    }
}

fn stream(id: Id) -> StreamId {
    StreamId::of("meeting", id)
}

fn expected(live: Option<&MeetingLive>) -> Expected {
    match live {
        Some(m) => Expected::Exactly(m.version),
        None => Expected::NoStream,
    }
}

/// Decides ControlMeeting for `by`: the meeting must be theirs (or
/// chaired by them), and the control must be legal (module docs).
pub fn control(scope: &Scope, by: &Actor, cmd: &ControlMeeting) -> Result<Decision, CommandError> {
    let (_, owner) = controlled_by(scope, cmd.meeting_id, by.user_id)?;
    let stored = scope.meetings.get(cmd.meeting_id);
    let fresh = MeetingLive::new(owner);
    let live = stored.unwrap_or(&fresh);
    if !judge(live, &cmd.control)? {
        return Ok(Decision::none());
    }
    let event = Event::MeetingControlled(MeetingControlled {
        meeting_id: cmd.meeting_id,
        owner,
        by: by.user_id,
        control: cmd.control.clone(),
    });
    Ok(Decision::events(vec![event]).expect(stream(cmd.meeting_id), expected(stored)))
}

/// Decides ReportMeetingState: only the media server (a caller holding
/// [`Capability::ReportMeetings`]) reports; participants' numbers are
/// resolved to the tenant's users; a report equal to the last one records
/// nothing (a repeat is harmless), and so does one whose `sequence` is at
/// or below the last recorded (a stale report arriving late).
pub fn report(
    scope: &Scope,
    by: &Actor,
    cmd: &ReportMeetingState,
) -> Result<Decision, CommandError> {
    if !by.authority.allows(Capability::ReportMeetings) {
        return Err(CommandError::forbidden(
            Denial::NotYours,
            "only the media server (the Replicator role) reports meeting state",
        ));
    }
    let (_, owner) = meeting(scope, cmd.meeting_id)?;
    let mut actual = cmd.actual.clone();
    actual.participants = cmd
        .participants
        .iter()
        .map(|r| MeetingParticipant {
            user_id: r
                .number
                .as_deref()
                .and_then(|n| scope.user_by_number(n))
                .map(|u| u.id),
            ..r.participant.clone()
        })
        .collect();
    let stored = scope.meetings.get(cmd.meeting_id);
    let stale =
        |m: &MeetingLive| matches!((cmd.sequence, m.sequence), (Some(n), Some(last)) if n <= last);
    if stored.is_some_and(|m| stale(m) || (m.reported_offset > 0 && m.actual == actual)) {
        return Ok(Decision::none());
    }
    let event = Event::MeetingStateReported(MeetingStateReported {
        meeting_id: cmd.meeting_id,
        owner,
        actual,
        sequence: cmd.sequence,
    });
    Ok(Decision::events(vec![event]).expect(stream(cmd.meeting_id), expected(stored)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::{actor, given_in};
    use switchboard_events::domain::{ItemCreated, MeetingStatus, UserCreated};
    use switchboard_events::{Fields, Value};

    const T: Id = Id(7);
    const ANN: Id = Id(10);
    const BOB: Id = Id(11);
    const ROOM: Id = Id(50);

    fn user(id: Id, name: &str) -> Event {
        let mut attrs = Fields::new();
        attrs.insert("enabled".into(), Value::Bool(true));
        Event::UserCreated(UserCreated {
            user_id: id,
            name: name.into(),
            role: "StandardUser".into(),
            password_hash: String::new(),
            attrs,
        })
    }

    fn room() -> Event {
        let mut attrs = Fields::new();
        attrs.insert("subject".into(), Value::from("Weekly"));
        Event::ItemCreated(ItemCreated {
            item_id: ROOM,
            collection: NAME.into(),
            owner: ItemOwner::User(ANN),
            attrs,
        })
    }

    fn who(id: &str, chairman: bool, user_id: Option<Id>) -> MeetingParticipant {
        MeetingParticipant {
            id: id.into(),
            display_name: id.into(),
            muted: false,
            chairman,
            position: 0,
            user_id,
        }
    }

    fn running(participants: Vec<MeetingParticipant>) -> Event {
        Event::MeetingStateReported(MeetingStateReported {
            meeting_id: ROOM,
            owner: ANN,
            actual: MeetingActual {
                status: MeetingStatus::OnCall,
                participants,
                ..MeetingActual::default()
            },
            sequence: None,
        })
    }

    fn asked(control: MeetingControl) -> Event {
        Event::MeetingControlled(MeetingControlled {
            meeting_id: ROOM,
            owner: ANN,
            by: ANN,
            control,
        })
    }

    fn when(past: &[Event], by: Id, control: MeetingControl) -> Result<Decision, CommandError> {
        let mut all = vec![user(ANN, "ann"), user(BOB, "bob"), room()];
        all.extend_from_slice(past);
        let dir = given_in(T, &all);
        let cmd = ControlMeeting {
            meeting_id: ROOM,
            control,
        };
        control_of(&dir, by, &cmd)
    }

    fn control_of(
        dir: &switchboard_projections::Directory,
        by: Id,
        cmd: &ControlMeeting,
    ) -> Result<Decision, CommandError> {
        control(dir.scope_or_empty(T), &actor(by, "StandardUser", None), cmd)
    }

    fn conflict(r: Result<Decision, CommandError>) -> Option<&'static str> {
        match r {
            Err(CommandError::Conflict(k, _)) => Some(k.code()),
            _ => None,
        }
    }

    #[test]
    fn given_a_stopped_meeting_when_started_then_the_wish_is_recorded_once() {
        let d = when(&[], ANN, MeetingControl::Run(true)).expect("start");
        assert!(matches!(
            &d.events[..],
            [Event::MeetingControlled(MeetingControlled {
                control: MeetingControl::Run(true),
                ..
            })]
        ));
        assert_eq!(d.expected, vec![(stream(ROOM), Expected::NoStream)]);
        let again = when(
            &[asked(MeetingControl::Run(true))],
            ANN,
            MeetingControl::Run(true),
        );
        assert!(
            again.is_ok(),
            "asked but not yet running: asking again is legal"
        );
    }

    #[test]
    fn given_a_stopped_meeting_when_stopped_or_muted_then_409() {
        assert_eq!(
            conflict(when(&[], ANN, MeetingControl::Run(false))),
            Some("MEETING_STATE_UNCHANGED")
        );
        assert_eq!(
            conflict(when(&[], ANN, MeetingControl::Lock(true))),
            Some("MEETING_NOT_RUNNING")
        );
    }

    #[test]
    fn given_a_running_meeting_when_locked_twice_then_the_second_is_409_only_once_reported() {
        let past = [running(vec![]), asked(MeetingControl::Lock(true))];
        // Asked, not yet reported: asking again is legal (the server lags).
        assert!(when(&past, ANN, MeetingControl::Lock(true)).is_ok());
        let mut locked = past.to_vec();
        locked.push(Event::MeetingStateReported(MeetingStateReported {
            meeting_id: ROOM,
            owner: ANN,
            actual: MeetingActual {
                status: MeetingStatus::Online,
                locked: true,
                ..MeetingActual::default()
            },
            sequence: None,
        }));
        assert_eq!(
            conflict(when(&locked, ANN, MeetingControl::Lock(true))),
            Some("MEETING_STATE_UNCHANGED")
        );
        assert!(when(&locked, ANN, MeetingControl::Lock(false)).is_ok());
    }

    #[test]
    fn given_a_participant_not_present_when_muted_then_409() {
        let past = [running(vec![who("p1", false, None)])];
        let mute = |p: &str| MeetingControl::MuteParticipant {
            participant: p.into(),
            muted: true,
        };
        assert_eq!(
            conflict(when(&past, ANN, mute("p9"))),
            Some("PARTICIPANT_NOT_PRESENT")
        );
        assert!(when(&past, ANN, mute("p1")).is_ok());
        assert_eq!(
            conflict(when(
                &past,
                ANN,
                MeetingControl::MuteParticipant {
                    participant: "p1".into(),
                    muted: false
                }
            )),
            Some("MEETING_STATE_UNCHANGED")
        );
    }

    #[test]
    fn given_another_user_when_controlling_then_not_found_unless_chairing() {
        let past = [running(vec![who("p1", false, Some(BOB))])];
        assert_eq!(
            when(&past, BOB, MeetingControl::Mute(true)),
            Err(CommandError::NotFound(MEETING))
        );
        let chaired = [running(vec![who("p1", true, Some(BOB))])];
        let d = when(&chaired, BOB, MeetingControl::Mute(true)).expect("the chairman controls");
        assert!(matches!(
            &d.events[..],
            [Event::MeetingControlled(MeetingControlled { by, owner, .. })] if *by == BOB && *owner == ANN
        ));
    }

    #[test]
    fn given_the_shown_layout_when_set_again_then_nothing_is_recorded() {
        let past = [running(vec![
            who("p1", false, None),
            who("p2", false, None),
        ])];
        let same = when(
            &past,
            ANN,
            MeetingControl::Layout(vec!["p1".into(), "p2".into()]),
        );
        assert_eq!(same, Ok(Decision::none()));
        let d = when(&past, ANN, MeetingControl::Layout(vec!["p2".into()])).expect("layout");
        assert_eq!(d.events.len(), 1);
        assert_eq!(
            conflict(when(&past, ANN, MeetingControl::Layout(vec!["zz".into()]))),
            Some("PARTICIPANT_NOT_PRESENT")
        );
    }

    #[test]
    fn given_a_report_when_repeated_then_nothing_is_recorded_and_numbers_name_users() {
        let dir = given_in(T, &[user(ANN, "ann"), room()]);
        let replicator = actor(Id(99), "Replicator", None);
        let cmd = ReportMeetingState {
            meeting_id: ROOM,
            actual: MeetingActual {
                status: MeetingStatus::OnCall,
                ..MeetingActual::default()
            },
            participants: vec![ReportedParticipant {
                participant: who("p1", true, None),
                number: Some("999".into()),
            }],
            sequence: Some(5),
        };
        let d = report(dir.scope_or_empty(T), &replicator, &cmd).expect("report");
        assert_eq!(d.events.len(), 1);
        let mut all = vec![user(ANN, "ann"), room()];
        all.extend(d.events.clone());
        let after = given_in(T, &all);
        assert_eq!(
            report(after.scope_or_empty(T), &replicator, &cmd),
            Ok(Decision::none())
        );
        // An older report arriving late (a lower sequence) records nothing,
        // even though it differs.
        let stale = ReportMeetingState {
            actual: MeetingActual::default(),
            participants: Vec::new(),
            sequence: Some(4),
            ..cmd.clone()
        };
        assert_eq!(
            report(after.scope_or_empty(T), &replicator, &stale),
            Ok(Decision::none())
        );
        let newer = ReportMeetingState {
            sequence: Some(6),
            ..stale
        };
        assert_eq!(
            report(after.scope_or_empty(T), &replicator, &newer).map(|d| d.events.len()),
            Ok(1)
        );
        let user = actor(ANN, "StandardUser", None);
        assert!(matches!(
            report(after.scope_or_empty(T), &user, &cmd),
            Err(CommandError::Forbidden(..))
        ));
        let gone = ReportMeetingState {
            meeting_id: Id(404),
            ..cmd
        };
        assert_eq!(
            report(after.scope_or_empty(T), &replicator, &gone),
            Err(CommandError::NotFound(MEETING))
        );
    }
}
