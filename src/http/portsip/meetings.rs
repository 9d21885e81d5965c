//! Meetings as they run (issue #17), beside the declared `meetings`
//! collection (`/user/meetings…` CRUD, [`crate::collections::meetings`]):
//!
//! - controls, `POST /user/meetings/{id}/{mute,unmute,lock,unlock,start,
//!   stop,start_recording,stop_recording}`, `…/participants/layout`,
//!   `…/participants/invite` and `…/participants/{participant_id}/{mute,
//!   unmute,chairman,position,destroy}`: each records the **desired** state
//!   ([`Command::ControlMeeting`]); the media server follows the change
//!   stream and acts. Answers are PortSIP's (200 `{}`, 204 for destroy);
//!   an illegal control is 409 with its code (`commands::meetings`);
//! - reads, `GET /user/meetings/{id}/status`, `…/participants` and
//!   `…/participants/{participant_id}`: the **actual** state the media
//!   server last reported, in PortSIP's shape, plus a `desired` object with
//!   whatever was asked and is not (yet) so (empty when they agree);
//! - the media server's report, `POST /meetings/{id}/state` (ours; the
//!   `ReportMeetings` capability, the Replicator role): the actual state,
//!   replacing the previous report; a repeat records nothing.
//!
//! A meeting is reached by its owner, or by the tenant user the media
//! server reports chairing it; anyone else gets 404.

use super::VIA;
use crate::auth::roles::Capability::ReportMeetings;
use crate::commands::meetings::{
    controlled_by, ControlMeeting, ReportMeetingState, ReportedParticipant, PARTICIPANT,
};
use crate::commands::{Command, CommandError};
use crate::http::access::tenant_of;
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::JsonBody;
use crate::http::ids::portsip as ids;
use crate::http::routes::{Access::*, Routes};
use crate::http::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use switchboard_events::domain::{
    MeetingActual, MeetingControl, MeetingParticipant, MeetingStatus,
};
use switchboard_events::{Event, Id};
use switchboard_projections::directory::meetings::{Desired, MeetingLive};

/// The longest participant id or number accepted.
const MAX_ID: usize = 64;

/// Participant ids a report may not use: PortSIP's routes
/// `…/participants/layout` and `…/participants/invite` sit where
/// `…/participants/{participant_id}` would address such a participant, so
/// one by that id could never be read or controlled.
const RESERVED_IDS: &[&str] = &["layout", "invite"];

/// The most participants a room holds (PortSIP's `capacity` maximum).
const MAX_PARTICIPANTS: usize = 200;

/// The most participants a layout shows (`LAYOUT9`).
const MAX_LAYOUT: usize = 9;

/// A handler recording a control of the meeting in the path (no body).
macro_rules! control {
    ($control:expr) => {
        |State(state): State<AppState>, caller: Caller, Path(id): Path<String>| async move {
            run(&state, &caller, &id, $control).await?;
            Ok::<_, ApiError>(Json(json!({})))
        }
    };
}

/// A handler recording a control of the participant in the path (no body).
macro_rules! participant_control {
    ($make:expr) => {
        |State(state): State<AppState>,
         caller: Caller,
         Path((id, p)): Path<(String, String)>| async move {
            let participant = participant_id(&p)?;
            run(&state, &caller, &id, $make(participant)).await?;
            Ok::<_, ApiError>(Json(json!({})))
        }
    };
}

/// Declares every meeting route beside the collection's CRUD (each path
/// spelled out: `scripts/endpoints.py` reads them).
pub fn declare(routes: Routes) -> Routes {
    use MeetingControl as C;
    routes
        .get("/user/meetings/{id}/status", SignedIn, status)
        .post(
            "/user/meetings/{id}/mute",
            SignedIn,
            control!(C::Mute(true)),
        )
        .post(
            "/user/meetings/{id}/unmute",
            SignedIn,
            control!(C::Mute(false)),
        )
        .post(
            "/user/meetings/{id}/lock",
            SignedIn,
            control!(C::Lock(true)),
        )
        .post(
            "/user/meetings/{id}/unlock",
            SignedIn,
            control!(C::Lock(false)),
        )
        .post(
            "/user/meetings/{id}/start",
            SignedIn,
            control!(C::Run(true)),
        )
        .post(
            "/user/meetings/{id}/stop",
            SignedIn,
            control!(C::Run(false)),
        )
        .post(
            "/user/meetings/{id}/start_recording",
            SignedIn,
            control!(C::Record(true)),
        )
        .post(
            "/user/meetings/{id}/stop_recording",
            SignedIn,
            control!(C::Record(false)),
        )
        .get("/user/meetings/{id}/participants", SignedIn, participants)
        .post("/user/meetings/{id}/participants/layout", SignedIn, layout)
        .post("/user/meetings/{id}/participants/invite", SignedIn, invite)
        .get(
            "/user/meetings/{id}/participants/{participant_id}",
            SignedIn,
            participant,
        )
        .post(
            "/user/meetings/{id}/participants/{participant_id}/mute",
            SignedIn,
            participant_control!(|participant| C::MuteParticipant {
                participant,
                muted: true
            }),
        )
        .post(
            "/user/meetings/{id}/participants/{participant_id}/unmute",
            SignedIn,
            participant_control!(|participant| C::MuteParticipant {
                participant,
                muted: false
            }),
        )
        .post(
            "/user/meetings/{id}/participants/{participant_id}/chairman",
            SignedIn,
            participant_control!(|participant| C::Chairman { participant }),
        )
        .post(
            "/user/meetings/{id}/participants/{participant_id}/position",
            SignedIn,
            position,
        )
        .post(
            "/user/meetings/{id}/participants/{participant_id}/destroy",
            SignedIn,
            |State(state): State<AppState>,
             caller: Caller,
             Path((id, p)): Path<(String, String)>| async move {
                let participant = participant_id(&p)?;
                run(&state, &caller, &id, C::Kick { participant }).await?;
                Ok::<_, ApiError>(StatusCode::NO_CONTENT)
            },
        )
        .post("/meetings/{id}/state", Needs(ReportMeetings), report)
}

/// Records a control of meeting `id` (in the caller's home tenant).
async fn run(
    state: &AppState,
    caller: &Caller,
    id: &str,
    control: MeetingControl,
) -> Result<(), ApiError> {
    let meeting_id = ids::parse_or_404(id, "meeting")?;
    let command = Command::ControlMeeting(ControlMeeting {
        meeting_id,
        control,
    });
    state.pipeline.run(command, caller.at_home(VIA)).await?;
    Ok(())
}

/// A participant id from a path: anything longer than an id could be is
/// not found.
fn participant_id(raw: &str) -> Result<String, ApiError> {
    if raw.is_empty() || raw.chars().count() > MAX_ID {
        return Err(ApiError::not_found(PARTICIPANT.noun()));
    }
    Ok(raw.to_owned())
}

/// Reads meeting `id` as the caller may: `f` gets its live state (a
/// meeting never controlled nor reported is offline and empty).
fn read<T>(
    state: &AppState,
    caller: &Caller,
    id: &str,
    f: impl FnOnce(&MeetingLive) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let meeting_id = ids::parse_or_404(id, "meeting")?;
    let model = state.queries.read();
    let scope = model.scope_or_empty(caller.home_tenant);
    let (_, owner) = controlled_by(scope, meeting_id, caller.user_id)?;
    let fresh = MeetingLive::new(owner);
    f(scope.meetings.get(meeting_id).unwrap_or(&fresh))
}

/// `GET /user/meetings/{id}/status`.
async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    read(&state, &caller, &id, |live| Ok(Json(render_status(live))))
}

/// `GET /user/meetings/{id}/participants`.
async fn participants(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    read(&state, &caller, &id, |live| {
        let items: Vec<Value> = live
            .actual
            .participants
            .iter()
            .map(|p| Value::Object(render_participant(live, p)))
            .collect();
        Ok(Json(json!({ "items": items })))
    })
}

/// `GET /user/meetings/{id}/participants/{participant_id}`.
async fn participant(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, p)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let pid = participant_id(&p)?;
    read(&state, &caller, &id, |live| {
        live.participant(&pid)
            .map(|p| Json(Value::Object(render_participant(live, p))))
            .ok_or_else(|| CommandError::NotFound(PARTICIPANT).into())
    })
}

/// PortSIP's status of a meeting as reported, and what was asked that
/// differs.
pub fn render_status(live: &MeetingLive) -> Value {
    let a = &live.actual;
    json!({
        "status": a.status.as_str(),
        "locked": a.locked,
        "muted": a.muted,
        "recording": a.recording,
        "desired": desired_meeting(live),
    })
}

/// What was asked of the meeting and is not so (yet).
fn desired_meeting(live: &MeetingLive) -> Map<String, Value> {
    let a = &live.actual;
    let d: &Desired = &live.desired;
    let mut out = Map::new();
    if let Some(run) = d.running.filter(|r| *r != a.status.running()) {
        let status = if run {
            MeetingStatus::Online
        } else {
            MeetingStatus::Offline
        };
        out.insert("status".into(), json!(status.as_str()));
    }
    for (name, asked, is) in [
        ("locked", d.locked, a.locked),
        ("muted", d.muted, a.muted),
        ("recording", d.recording, a.recording),
    ] {
        if let Some(v) = asked.filter(|v| *v != is) {
            out.insert(name.into(), json!(v));
        }
    }
    if let Some(layout) = &d.layout {
        let mut shown: Vec<&MeetingParticipant> =
            a.participants.iter().filter(|p| p.position >= 0).collect();
        shown.sort_by_key(|p| p.position);
        let shown: Vec<&str> = shown.iter().map(|p| p.id.as_str()).collect();
        if *layout != shown {
            out.insert("layout".into(), json!(layout));
        }
    }
    out
}

/// A participant in PortSIP's shape, plus `desired`: what was asked about
/// them and is not so (yet).
pub fn render_participant(live: &MeetingLive, p: &MeetingParticipant) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(p.id));
    m.insert("display_name".into(), json!(p.display_name));
    m.insert("muted".into(), json!(p.muted));
    m.insert("chairman".into(), json!(p.chairman));
    m.insert("position".into(), json!(p.position));
    let mut desired = Map::new();
    if let Some(w) = live.desired.participants.get(&p.id) {
        if let Some(muted) = w.muted.filter(|v| *v != p.muted) {
            desired.insert("muted".into(), json!(muted));
        }
        if let Some(pos) = w.position.filter(|v| *v != p.position) {
            desired.insert("position".into(), json!(pos));
        }
        if w.removed {
            desired.insert("present".into(), json!(false));
        }
    }
    if live.desired.chairman.as_deref() == Some(p.id.as_str()) && !p.chairman {
        desired.insert("chairman".into(), json!(true));
    }
    m.insert("desired".into(), Value::Object(desired));
    m
}

/// The body of `POST …/participants/layout`.
#[derive(Deserialize)]
struct LayoutBody {
    items: Option<Vec<String>>,
}

/// `POST /user/meetings/{id}/participants/layout`.
async fn layout(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<LayoutBody>,
) -> Result<Json<Value>, ApiError> {
    let items = body
        .items
        .ok_or_else(|| ApiError::validation("items", "is required"))?;
    if items.len() > MAX_LAYOUT {
        return Err(ApiError::validation(
            "items",
            format!("a layout shows at most {MAX_LAYOUT} participants"),
        ));
    }
    for (i, p) in items.iter().enumerate() {
        if p.is_empty() || p.chars().count() > MAX_ID {
            return Err(ApiError::validation(
                &format!("items[{i}]"),
                format!("must be a participant id of 1 to {MAX_ID} characters"),
            ));
        }
        if items[..i].contains(p) {
            return Err(ApiError::validation(
                &format!("items[{i}]"),
                "names a participant twice",
            ));
        }
    }
    run(&state, &caller, &id, MeetingControl::Layout(items)).await?;
    Ok(Json(json!({})))
}

/// The body of `POST …/participants/invite`.
#[derive(Deserialize)]
struct InviteBody {
    number: Option<String>,
}

/// Whether a string is a dialable number: digits, optionally led by `+`,
/// with `*` and `#` allowed (feature codes).
fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    !digits.is_empty()
        && s.len() <= MAX_ID
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
}

/// `POST /user/meetings/{id}/participants/invite`: records the invitation
/// (who, which number) for the PBX to act on; nothing is dialled here.
async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<InviteBody>,
) -> Result<Json<Value>, ApiError> {
    let number = body
        .number
        .ok_or_else(|| ApiError::validation("number", "is required"))?;
    if !is_number(&number) {
        return Err(ApiError::validation(
            "number",
            format!("must be a phone number of at most {MAX_ID} digits (+, * and # allowed)"),
        ));
    }
    run(&state, &caller, &id, MeetingControl::Invite { number }).await?;
    Ok(Json(json!({})))
}

/// The body of `POST …/participants/{participant_id}/position`.
#[derive(Deserialize)]
struct PositionBody {
    position: Option<i64>,
}

/// `POST /user/meetings/{id}/participants/{participant_id}/position`.
async fn position(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, p)): Path<(String, String)>,
    JsonBody(body): JsonBody<PositionBody>,
) -> Result<Json<Value>, ApiError> {
    let participant = participant_id(&p)?;
    let position = body
        .position
        .ok_or_else(|| ApiError::validation("position", "is required"))?;
    let position = i32::try_from(position)
        .ok()
        .filter(|p| (-1..=8).contains(p))
        .ok_or_else(|| ApiError::validation("position", "must be from -1 (hidden) to 8"))?;
    run(
        &state,
        &caller,
        &id,
        MeetingControl::Position {
            participant,
            position,
        },
    )
    .await?;
    Ok(Json(json!({})))
}

/// One participant of a report.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParticipantBody {
    id: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    muted: bool,
    #[serde(default)]
    chairman: bool,
    #[serde(default)]
    position: i64,
    #[serde(default)]
    extension_number: Option<String>,
}

/// The body of `POST /meetings/{id}/state`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    status: String,
    #[serde(default)]
    locked: bool,
    #[serde(default)]
    muted: bool,
    #[serde(default)]
    recording: bool,
    #[serde(default)]
    participants: Vec<ParticipantBody>,
    #[serde(default)]
    sequence: Option<u64>,
}

/// Validates a report, naming the field at fault.
fn reported(body: ReportBody, meeting_id: Id) -> Result<ReportMeetingState, ApiError> {
    let status = match body.status.as_str() {
        "OFFLINE" => MeetingStatus::Offline,
        "ONLINE" => MeetingStatus::Online,
        "ON_CALL" => MeetingStatus::OnCall,
        _ => {
            return Err(ApiError::validation(
                "status",
                "must be one of OFFLINE, ONLINE, ON_CALL",
            ))
        }
    };
    if body.participants.len() > MAX_PARTICIPANTS {
        return Err(ApiError::validation(
            "participants",
            format!("a meeting holds at most {MAX_PARTICIPANTS} participants"),
        ));
    }
    if !status.running() && !body.participants.is_empty() {
        return Err(ApiError::validation(
            "participants",
            "an OFFLINE meeting has no participants",
        ));
    }
    let mut participants = Vec::with_capacity(body.participants.len());
    for (i, p) in body.participants.into_iter().enumerate() {
        let at = |f: &str| format!("participants[{i}].{f}");
        if p.id.is_empty() || p.id.chars().count() > MAX_ID {
            return Err(ApiError::validation(
                &at("id"),
                format!("must be 1 to {MAX_ID} characters"),
            ));
        }
        if RESERVED_IDS.contains(&p.id.as_str()) {
            return Err(ApiError::validation(
                &at("id"),
                "is reserved: `…/participants/layout` and `…/participants/invite` are routes of their own",
            ));
        }
        if participants
            .iter()
            .any(|r: &ReportedParticipant| r.participant.id == p.id)
        {
            return Err(ApiError::validation(&at("id"), "is reported twice"));
        }
        if p.display_name.chars().count() > 128 {
            return Err(ApiError::validation(
                &at("display_name"),
                "must be at most 128 characters",
            ));
        }
        let position = i32::try_from(p.position)
            .ok()
            .filter(|v| (-1..=8).contains(v))
            .ok_or_else(|| ApiError::validation(&at("position"), "must be from -1 to 8"))?;
        if let Some(n) = &p.extension_number {
            if n.is_empty() || n.len() > MAX_ID || !n.chars().all(|c| c.is_ascii_digit()) {
                return Err(ApiError::validation(
                    &at("extension_number"),
                    "must be an extension number (digits)",
                ));
            }
        }
        participants.push(ReportedParticipant {
            participant: MeetingParticipant {
                id: p.id,
                display_name: p.display_name,
                muted: p.muted,
                chairman: p.chairman,
                position,
                user_id: None,
            },
            number: p.extension_number,
        });
    }
    if participants
        .iter()
        .filter(|p| p.participant.chairman)
        .count()
        > 1
    {
        return Err(ApiError::validation(
            "participants",
            "at most one participant chairs the meeting",
        ));
    }
    Ok(ReportMeetingState {
        meeting_id,
        actual: MeetingActual {
            status,
            locked: body.locked,
            muted: body.muted,
            recording: body.recording,
            participants: Vec::new(),
        },
        participants,
        sequence: body.sequence,
    })
}

/// `POST /meetings/{id}/state`: the media server reports a meeting's
/// actual state. 200 `{id, recorded}`: `recorded` is false for a repeat of
/// the last report (nothing written).
async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReportBody>,
) -> Result<Json<Value>, ApiError> {
    let tenant = tenant_of(&caller)?;
    let meeting_id = ids::parse_or_404(&id, "meeting")?;
    let command = Command::ReportMeetingState(reported(body, meeting_id)?);
    let out = state
        .pipeline
        .run(command, caller.acting_in(tenant, VIA))
        .await?;
    Ok(Json(json!({
        "id": ids::render(meeting_id),
        "recorded": out.appended.is_some(),
    })))
}

/// A meeting event as the change stream shows it (`meetings`, UPDATED):
/// a control names the meeting, the action and its arguments (what the
/// media server acts on) and who asked; a report is the new status.
pub fn render_event(event: &Event) -> Option<(&'static str, Value)> {
    let item = match event {
        Event::MeetingControlled(e) => {
            let mut m = Map::new();
            m.insert("id".into(), json!(ids::render(e.meeting_id)));
            m.insert("by".into(), json!(ids::render(e.by)));
            let (action, args) = match &e.control {
                MeetingControl::Run(on) => (if *on { "start" } else { "stop" }, json!({})),
                MeetingControl::Mute(on) => (if *on { "mute" } else { "unmute" }, json!({})),
                MeetingControl::Lock(on) => (if *on { "lock" } else { "unlock" }, json!({})),
                MeetingControl::Record(on) => (
                    if *on {
                        "start_recording"
                    } else {
                        "stop_recording"
                    },
                    json!({}),
                ),
                MeetingControl::Layout(items) => ("layout", json!({ "items": items })),
                MeetingControl::Invite { number } => ("invite", json!({ "number": number })),
                MeetingControl::MuteParticipant { participant, muted } => (
                    if *muted {
                        "mute_participant"
                    } else {
                        "unmute_participant"
                    },
                    json!({ "participant_id": participant }),
                ),
                MeetingControl::Chairman { participant } => {
                    ("chairman", json!({ "participant_id": participant }))
                }
                MeetingControl::Position {
                    participant,
                    position,
                } => (
                    "position",
                    json!({ "participant_id": participant, "position": position }),
                ),
                MeetingControl::Kick { participant } => (
                    "destroy_participant",
                    json!({ "participant_id": participant }),
                ),
            };
            m.insert("action".into(), json!(action));
            if let Value::Object(args) = args {
                m.extend(args);
            }
            m
        }
        Event::MeetingStateReported(e) => {
            let a = &e.actual;
            let mut m = Map::new();
            m.insert("id".into(), json!(ids::render(e.meeting_id)));
            m.insert("action".into(), json!("state"));
            m.insert("status".into(), json!(a.status.as_str()));
            m.insert("locked".into(), json!(a.locked));
            m.insert("muted".into(), json!(a.muted));
            m.insert("recording".into(), json!(a.recording));
            m.insert("participants".into(), json!(a.participants.len()));
            m
        }
        _ => return None,
    };
    Some((
        "meetings",
        json!({ "collection": "meetings", "change_type": "UPDATED", "item": item }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_to_invite() {
        for ok in ["101", "+4930123", "*97", "123#"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in ["", "+", "12a", "1 2", &"1".repeat(65)] {
            assert!(!is_number(bad), "{bad}");
        }
    }

    fn body(v: Value) -> ReportBody {
        serde_json::from_value(v).expect("body")
    }

    #[test]
    fn given_bad_reports_then_the_field_is_named() {
        let field = |v: Value| match reported(body(v), Id(1)) {
            Err(e) => e.detail["field"].as_str().map(str::to_owned),
            Ok(_) => None,
        };
        assert_eq!(field(json!({"status": "BUSY"})), Some("status".into()));
        assert_eq!(
            field(json!({"status": "OFFLINE", "participants": [{"id": "a"}]})),
            Some("participants".into())
        );
        assert_eq!(
            field(json!({"status": "ON_CALL", "participants": [{"id": "a"}, {"id": "a"}]})),
            Some("participants[1].id".into())
        );
        for reserved in ["layout", "invite"] {
            assert_eq!(
                field(
                    json!({"status": "ON_CALL", "participants": [{"id": "a"}, {"id": reserved}]})
                ),
                Some("participants[1].id".into()),
                "{reserved}"
            );
        }
        assert_eq!(
            field(json!({"status": "ON_CALL", "participants": [{"id": "a", "position": 9}]})),
            Some("participants[0].position".into())
        );
        assert_eq!(
            field(json!({"status": "ON_CALL",
                         "participants": [{"id": "a", "extension_number": "1x"}]})),
            Some("participants[0].extension_number".into())
        );
        assert!(reported(
            body(json!({"status": "ON_CALL", "participants": [{"id": "a", "chairman": true}]})),
            Id(1)
        )
        .is_ok());
    }
}
