//! What each event means to an auditor: action, object, and the changed
//! fields before → after.
//!
//! [`describe`] is the one place that maps events to audit entries. It is
//! given the directory as it was *before* the event, so old values come from
//! the state the change replaced. Every event family has an arm; events
//! without one (new families added later) go through [`generic`], which
//! derives the action from the type name (`…Created` → CREATE, `…Deleted`
//! → DELETE, otherwise UPDATE), the object type from the stream category,
//! and shows the payload's fields as the new state. To describe a new event
//! family properly, add an arm to the match in [`describe`].
//!
//! Secrets never appear: a changed password, extension password or PIN is
//! shown as the string `"changed"` on both sides, never as a hash.

use crate::directory::items::{QUEUE_PICKUPS, QUEUE_WAITING};
use crate::directory::{ext_type_name, Directory, Scope};
use serde_json::{json, Map, Value as Json};
use switchboard_events::domain::{
    CallQueueAgentAdded, CallQueueAgentUpdated, ContactOwner, ItemOwner, RingGroupAgentAdded,
    RingGroupAgentUpdated,
};
use switchboard_events::{Attrs, Envelope, Event, FieldSet, Fields, Id, Value, ValueRef};

/// The placeholder a secret's old and new value are shown as.
pub const SECRET: &str = "changed";

/// One changed field.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Field name.
    pub field: String,
    /// Value before (`null` if unset or new).
    pub old: Json,
    /// Value after (`null` if cleared or deleted).
    pub new: Json,
}

/// What an event did, for the audit log and object history.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// `CREATE`, `UPDATE`, `DELETE`, `LOGIN`, `LOGOUT`.
    pub action: &'static str,
    /// `USER`, `EXTENSION`, `USER_GROUP`, `ROLE`, `TENANT`, `LOGIN`, ...
    pub object_type: String,
    /// The object's id, if it has one.
    pub object_id: Option<Id>,
    /// The object's name (at the time).
    pub object_name: String,
    /// Changed fields only.
    pub changes: Vec<Change>,
}

impl AuditEntry {
    /// `{field: old}` over the changed fields.
    pub fn old_state(&self) -> Json {
        Json::Object(
            self.changes
                .iter()
                .map(|c| (c.field.clone(), c.old.clone()))
                .collect(),
        )
    }

    /// `{field: new}` over the changed fields.
    pub fn new_state(&self) -> Json {
        Json::Object(
            self.changes
                .iter()
                .map(|c| (c.field.clone(), c.new.clone()))
                .collect(),
        )
    }
}

/// Converts a stored field value to plain JSON (non-finite floats → null).
pub fn value_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => json!(i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::String(s.clone()),
        Value::List(items) => Json::Array(items.iter().map(value_json).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), value_json(v))).collect()),
    }
}

/// [`value_json`] of a borrowed value (a row's field).
pub fn value_ref_json(v: ValueRef<'_>) -> Json {
    match v {
        ValueRef::Null => Json::Null,
        ValueRef::Bool(b) => Json::Bool(b),
        ValueRef::Int(i) => json!(i),
        ValueRef::Float(f) => serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number),
        ValueRef::Str(s) => Json::String(s.to_owned()),
        ValueRef::Nested(v) => value_json(&v),
    }
}

fn change(field: &str, old: Json, new: Json) -> Change {
    Change {
        field: field.to_owned(),
        old,
        new,
    }
}

fn secret(field: &str) -> Change {
    change(field, json!(SECRET), json!(SECRET))
}

/// Attributes that hold a secret the PBX must use (sealed since issue 11,
/// in clear in older logs): shown as [`SECRET`], never as a value, here and
/// in [`crate::canonical`].
pub const SECRET_ATTRS: &[&str] = &["stir_shaken_key"];

/// Field changes `old attrs → changes`, only where the value differs.
fn field_changes<F: FieldSet + ?Sized, C: FieldSet + ?Sized>(
    old: Option<&F>,
    changes: &C,
) -> Vec<Change> {
    changes
        .each()
        .filter_map(|(k, v)| {
            let before = old
                .and_then(|o| o.get(k))
                .map_or(Json::Null, value_ref_json);
            let after = value_ref_json(v);
            if before == after {
                return None;
            }
            Some(if SECRET_ATTRS.contains(&k) {
                secret(k)
            } else {
                change(k, before, after)
            })
        })
        .collect()
}

fn created_fields(attrs: &Fields) -> Vec<Change> {
    field_changes(None::<&Fields>, attrs)
}

fn entry(
    action: &'static str,
    object_type: &str,
    id: Id,
    name: &str,
    changes: Vec<Change>,
) -> AuditEntry {
    AuditEntry {
        action,
        object_type: object_type.to_owned(),
        object_id: Some(id),
        object_name: name.to_owned(),
        changes,
    }
}

fn user_name(scope: Option<&Scope>, id: Id) -> String {
    scope
        .and_then(|s| s.users.get(&id))
        .map(|u| u.name.to_string())
        .unwrap_or_default()
}

fn ext_number(scope: Option<&Scope>, id: Id) -> Json {
    scope
        .and_then(|s| s.extensions.get(&id))
        .map_or(Json::Null, |e| json!(e.number))
}

/// Describes `event` (recorded in `env`) against the directory as it was
/// just before it. `None` for events an auditor does not need (token
/// refreshes).
#[allow(unreachable_patterns)] // the fallback arm is for event families added later
pub fn describe(env: &Envelope, event: &Event, before: &Directory) -> Option<AuditEntry> {
    let scope = before.scope(env.tenant);
    Some(match event {
        Event::TenantCreated(e) => {
            let mut c = vec![
                change("name", Json::Null, json!(e.name)),
                change("domain", Json::Null, json!(e.domain)),
            ];
            c.extend(created_fields(&e.attrs));
            entry("CREATE", "TENANT", e.tenant_id, &e.name, c)
        }
        Event::TenantUpdated(e) => {
            let t = before.tenants.get(&e.tenant_id);
            let mut c = field_changes(t.map(|t| &t.attrs), &e.changes);
            // `name` is a core field of the view, not an attribute.
            for ch in &mut c {
                if ch.field == "name" {
                    ch.old = t.map_or(Json::Null, |t| json!(t.name));
                }
            }
            let name = t.map(|t| t.name.clone()).unwrap_or_default();
            entry("UPDATE", "TENANT", e.tenant_id, &name, c)
        }
        Event::TenantDeleted(e) => {
            let name = before
                .tenants
                .get(&e.tenant_id)
                .map(|t| t.name.clone())
                .unwrap_or_default();
            entry("DELETE", "TENANT", e.tenant_id, &name, vec![])
        }

        Event::UserCreated(e) => {
            let mut c = vec![
                change("name", Json::Null, json!(e.name)),
                change("role", Json::Null, json!(e.role)),
                secret("password"),
            ];
            c.extend(created_fields(&e.attrs));
            entry("CREATE", "USER", e.user_id, &e.name, c)
        }
        Event::UserUpdated(e) => {
            let u = scope.and_then(|s| s.users.get(&e.user_id));
            let c = field_changes(u.map(|u| &u.attrs), &e.changes);
            entry("UPDATE", "USER", e.user_id, &user_name(scope, e.user_id), c)
        }
        Event::UserSecretChanged(e) => {
            use switchboard_events::domain::SecretKind;
            let field = match e.secret {
                SecretKind::Password => "password",
                SecretKind::ExtensionPassword => "extension_password",
                SecretKind::VoicemailPin => "voicemail_pin",
            };
            entry(
                "UPDATE",
                "USER",
                e.user_id,
                &user_name(scope, e.user_id),
                vec![secret(field)],
            )
        }
        Event::UserRoleChanged(e) => {
            let old = scope
                .and_then(|s| s.users.get(&e.user_id))
                .map_or(Json::Null, |u| json!(u.role));
            entry(
                "UPDATE",
                "USER",
                e.user_id,
                &user_name(scope, e.user_id),
                vec![change("role", old, json!(e.role))],
            )
        }
        Event::UserProfileReset(e) => {
            let u = scope.and_then(|s| s.users.get(&e.user_id));
            let c = field_changes(u.map(|u| &u.attrs), &e.reset);
            entry("UPDATE", "USER", e.user_id, &user_name(scope, e.user_id), c)
        }
        Event::UserDeleted(e) => entry(
            "DELETE",
            "USER",
            e.user_id,
            &user_name(scope, e.user_id),
            vec![],
        ),

        Event::ExtensionCreated(e) => entry(
            "CREATE",
            "EXTENSION",
            e.extension_id,
            &e.number,
            vec![
                change("number", Json::Null, json!(e.number)),
                change("name", Json::Null, json!(e.name)),
                change("type", Json::Null, json!(ext_type_name(e.ext_type))),
                change("enabled", Json::Null, json!(e.enabled)),
            ],
        ),
        Event::ExtensionUpdated(e) => {
            let x = scope.and_then(|s| s.extensions.get(&e.extension_id));
            let mut old = Fields::new();
            if let Some(x) = x {
                old.insert("number".into(), Value::Str(x.number.to_string()));
                old.insert("name".into(), Value::Str(x.name.to_string()));
                old.insert("type".into(), Value::Str(ext_type_name(x.ext_type).into()));
                old.insert("enabled".into(), Value::Bool(x.enabled));
            }
            let c = field_changes(Some(&old), &e.changes);
            let name = x.map(|x| x.number.clone()).unwrap_or_default();
            entry("UPDATE", "EXTENSION", e.extension_id, &name, c)
        }
        Event::ExtensionDeleted(e) => {
            let name = ext_number(scope, e.extension_id)
                .as_str()
                .unwrap_or_default()
                .to_owned();
            entry("DELETE", "EXTENSION", e.extension_id, &name, vec![])
        }
        Event::UserLinkedToExtension(e) => entry(
            "UPDATE",
            "USER",
            e.user_id,
            &user_name(scope, e.user_id),
            vec![change(
                "linked_extension",
                Json::Null,
                ext_number(scope, e.extension_id),
            )],
        ),
        Event::UserUnlinkedFromExtension(e) => entry(
            "UPDATE",
            "USER",
            e.user_id,
            &user_name(scope, e.user_id),
            vec![change(
                "linked_extension",
                ext_number(scope, e.extension_id),
                Json::Null,
            )],
        ),
        Event::PrimaryExtensionChanged(e) => {
            let old = scope
                .and_then(|s| s.users.get(&e.user_id))
                .and_then(|u| u.primary_extension)
                .map_or(Json::Null, |x| ext_number(scope, x));
            let new = e.extension_id.map_or(Json::Null, |x| ext_number(scope, x));
            entry(
                "UPDATE",
                "USER",
                e.user_id,
                &user_name(scope, e.user_id),
                vec![change("extension_number", old, new)],
            )
        }

        Event::RoleCreated(e) => entry(
            "CREATE",
            "ROLE",
            e.role_id,
            &e.name,
            vec![
                change("name", Json::Null, json!(e.name)),
                change("description", Json::Null, json!(e.description)),
                change("permissions", Json::Null, json!(e.permissions)),
            ],
        ),
        Event::RoleUpdated(e) => {
            let r = scope.and_then(|s| s.roles.get(&e.role_id));
            let mut c = Vec::new();
            if let Some(n) = &e.name {
                c.push(change(
                    "name",
                    r.map_or(Json::Null, |r| json!(r.name)),
                    json!(n),
                ));
            }
            if let Some(d) = &e.description {
                c.push(change(
                    "description",
                    r.map_or(Json::Null, |r| json!(r.description)),
                    json!(d),
                ));
            }
            if let Some(p) = &e.permissions {
                c.push(change(
                    "permissions",
                    r.map_or(Json::Null, |r| json!(r.permissions)),
                    json!(p),
                ));
            }
            c.retain(|c| c.old != c.new);
            let name = r.map(|r| r.name.clone()).unwrap_or_default();
            entry("UPDATE", "ROLE", e.role_id, &name, c)
        }
        Event::RoleDeleted(e) => {
            let name = scope
                .and_then(|s| s.roles.get(&e.role_id))
                .map(|r| r.name.clone())
                .unwrap_or_default();
            entry("DELETE", "ROLE", e.role_id, &name, vec![])
        }

        Event::GroupCreated(e) => {
            let mut c = vec![change("name", Json::Null, json!(e.name))];
            c.extend(created_fields(&e.attrs));
            entry("CREATE", "USER_GROUP", e.group_id, &e.name, c)
        }
        Event::GroupUpdated(e) => {
            let g = scope.and_then(|s| s.groups.get(&e.group_id));
            let mut c = field_changes(g.map(|g| &g.attrs), &e.changes);
            for ch in &mut c {
                if ch.field == "name" {
                    ch.old = g.map_or(Json::Null, |g| json!(g.name));
                }
            }
            c.retain(|c| c.old != c.new);
            let name = g.map(|g| g.name.clone()).unwrap_or_default();
            entry("UPDATE", "USER_GROUP", e.group_id, &name, c)
        }
        Event::GroupDeleted(e) => {
            let name = scope
                .and_then(|s| s.groups.get(&e.group_id))
                .map(|g| g.name.clone())
                .unwrap_or_default();
            entry("DELETE", "USER_GROUP", e.group_id, &name, vec![])
        }
        Event::GroupMemberAdded(e) => {
            let name = scope
                .and_then(|s| s.groups.get(&e.group_id))
                .map(|g| g.name.clone())
                .unwrap_or_default();
            entry(
                "UPDATE",
                "USER_GROUP",
                e.group_id,
                &name,
                vec![change(
                    "member",
                    Json::Null,
                    json!(user_name(scope, e.user_id)),
                )],
            )
        }
        Event::GroupMemberRemoved(e) => {
            let name = scope
                .and_then(|s| s.groups.get(&e.group_id))
                .map(|g| g.name.clone())
                .unwrap_or_default();
            entry(
                "UPDATE",
                "USER_GROUP",
                e.group_id,
                &name,
                vec![change(
                    "member",
                    json!(user_name(scope, e.user_id)),
                    Json::Null,
                )],
            )
        }

        Event::SessionStarted(e) => entry(
            "LOGIN",
            "LOGIN",
            e.user_id,
            &user_name(scope, e.user_id),
            vec![],
        ),
        Event::SessionEnded(e) => {
            let user = before.sessions.get(e.session_id).map(|s| s.user_id);
            let name = user.map(|u| user_name(scope, u)).unwrap_or_default();
            AuditEntry {
                action: "LOGOUT",
                object_type: "LOGIN".into(),
                object_id: user,
                object_name: name,
                changes: vec![],
            }
        }
        Event::SessionTenantSwitched(e) => {
            let s = before.sessions.get(e.session_id);
            let tenant_name = |t: Id| before.tenants.get(&t).map_or(Json::Null, |t| json!(t.name));
            let old = s.map_or(Json::Null, |s| tenant_name(s.acting_tenant));
            AuditEntry {
                action: "UPDATE",
                object_type: "LOGIN".into(),
                object_id: s.map(|s| s.user_id),
                object_name: env.metadata.actor_name.clone(),
                changes: vec![change("acting_tenant", old, tenant_name(e.tenant_id))],
            }
        }
        // Token rotation changes nothing an auditor asks about.
        Event::SessionRefreshed(_) => return None,

        Event::ContactCreated(e) => {
            let c = created_fields(&e.attrs);
            let name = contact_name(&e.attrs);
            contact_entry("CREATE", e.owner, e.contact_id, &name, c)
        }
        Event::ContactUpdated(e) => {
            let old = scope.and_then(|s| s.contact(e.owner, e.contact_id));
            let c = field_changes(old.map(|c| &c.attrs), &e.changes);
            let name = old.map(|c| contact_name(&c.attrs)).unwrap_or_default();
            contact_entry("UPDATE", e.owner, e.contact_id, &name, c)
        }
        Event::ContactDeleted(e) => {
            let old = scope.and_then(|s| s.contact(e.owner, e.contact_id));
            let name = old.map(|c| contact_name(&c.attrs)).unwrap_or_default();
            contact_entry("DELETE", e.owner, e.contact_id, &name, vec![])
        }
        // The PBX's waiting-list reports (a caller in, a caller out, and
        // the pickup request that leaves with the caller) are telemetry like
        // presence: many per minute per queue, kept in the log. The agent's
        // pickup request itself is a person's decision and stays audited.
        Event::ItemCreated(e) if e.collection == QUEUE_WAITING => return None,
        Event::ItemDeleted(e)
            if [QUEUE_WAITING, QUEUE_PICKUPS].contains(&e.collection.as_str()) =>
        {
            return None
        }
        Event::ItemCreated(e) => {
            let c = created_fields(&e.attrs);
            let name = contact_name(&e.attrs);
            item_entry("CREATE", &e.collection, e.owner, e.item_id, &name, c)
        }
        Event::ItemUpdated(e) => {
            let old = scope.and_then(|s| s.items.get(&e.collection, e.owner, e.item_id));
            let c = field_changes(old.map(|i| &i.attrs), &e.changes);
            let name = old.map(|i| contact_name(&i.attrs)).unwrap_or_default();
            item_entry("UPDATE", &e.collection, e.owner, e.item_id, &name, c)
        }
        Event::ItemDeleted(e) => {
            let old = scope.and_then(|s| s.items.get(&e.collection, e.owner, e.item_id));
            let name = old.map(|i| contact_name(&i.attrs)).unwrap_or_default();
            item_entry("DELETE", &e.collection, e.owner, e.item_id, &name, vec![])
        }
        // A favorite is a personal bookmark, and presence, registrations and
        // call state are the PBX's telemetry (many per minute per phone):
        // none is a change to the directory an auditor asks about. They stay
        // in the log, and in the agent status history report.
        Event::FavoriteAdded(_)
        | Event::FavoriteRemoved(_)
        | Event::PresenceSet(_)
        | Event::RegistrationAdded(_)
        | Event::RegistrationRemoved(_)
        | Event::CallStateChanged(_) => return None,
        // Call history is millions of records, each its own audit trail in
        // the log (actor, dialect, address, time) and in the call history
        // store (its offset); describing each again would copy every call
        // into the audit index (ARCHITECTURE.md, "Call history").
        Event::CdrRecorded(_) | Event::ExternalMessageRecorded(_) | Event::RecordingRecorded(_) => {
            return None
        }
        // Destroying a recording is a person's decision about evidence:
        // who did it is what an auditor asks (retention is the system's).
        Event::RecordingDestroyed(e) => {
            entry("DELETE", "CALL_RECORDING", e.id, &e.recording_id, vec![])
        }
        // What an owner or chairman asked of a running meeting is a change
        // an auditor asks about (who muted, kicked, recorded); what the
        // media server reports back is telemetry, like call state.
        Event::MeetingControlled(e) => meeting_control_entry(scope, e),
        Event::MeetingStateReported(_) => return None,

        Event::CallQueueCreated(e) => numbered_created(
            "CALL_QUEUE",
            e.queue_id,
            &e.name,
            &e.extension_number,
            &e.attrs,
        ),
        Event::CallQueueUpdated(e) => {
            let q = scope.and_then(|s| s.call_queues.get(&e.queue_id));
            let before = q.map(|q| (q.name.as_str(), q.number.as_str(), &q.attrs));
            numbered_updated("CALL_QUEUE", e.queue_id, before, &e.changes)
        }
        Event::CallQueueDeleted(e) => {
            let name = queue_name(scope, e.queue_id);
            entry("DELETE", "CALL_QUEUE", e.queue_id, &name, vec![])
        }
        Event::CallQueueAgentAdded(CallQueueAgentAdded {
            queue_id,
            user_id,
            skill_level,
        })
        | Event::CallQueueAgentUpdated(CallQueueAgentUpdated {
            queue_id,
            user_id,
            skill_level,
        }) => {
            let before = queue_level(scope, *queue_id, *user_id);
            let name = queue_name(scope, *queue_id);
            agent_change(
                "CALL_QUEUE",
                *queue_id,
                &name,
                scope,
                *user_id,
                before,
                Some(*skill_level),
            )
        }
        Event::CallQueueAgentRemoved(e) => {
            let before = queue_level(scope, e.queue_id, e.user_id);
            let name = queue_name(scope, e.queue_id);
            agent_change(
                "CALL_QUEUE",
                e.queue_id,
                &name,
                scope,
                e.user_id,
                before,
                None,
            )
        }
        Event::RingGroupCreated(e) => numbered_created(
            "RING_GROUP",
            e.ring_group_id,
            &e.name,
            &e.extension_number,
            &e.attrs,
        ),
        Event::RingGroupUpdated(e) => {
            let g = scope.and_then(|s| s.ring_groups.get(&e.ring_group_id));
            let before = g.map(|g| (g.name.as_str(), g.number.as_str(), &g.attrs));
            numbered_updated("RING_GROUP", e.ring_group_id, before, &e.changes)
        }
        Event::RingGroupDeleted(e) => {
            let name = ring_group_name(scope, e.ring_group_id);
            entry("DELETE", "RING_GROUP", e.ring_group_id, &name, vec![])
        }
        Event::RingGroupAgentAdded(RingGroupAgentAdded {
            ring_group_id,
            user_id,
            skill_level,
        })
        | Event::RingGroupAgentUpdated(RingGroupAgentUpdated {
            ring_group_id,
            user_id,
            skill_level,
        }) => {
            let before = ring_group_level(scope, *ring_group_id, *user_id);
            let name = ring_group_name(scope, *ring_group_id);
            agent_change(
                "RING_GROUP",
                *ring_group_id,
                &name,
                scope,
                *user_id,
                before,
                Some(*skill_level),
            )
        }
        Event::RingGroupAgentRemoved(e) => {
            let before = ring_group_level(scope, e.ring_group_id, e.user_id);
            let name = ring_group_name(scope, e.ring_group_id);
            agent_change(
                "RING_GROUP",
                e.ring_group_id,
                &name,
                scope,
                e.user_id,
                before,
                None,
            )
        }
        // Supervisors audit who put an agent on break, and when.
        Event::AgentStatusSet(e) => entry(
            "UPDATE",
            "CALL_QUEUE_AGENT",
            e.user_id,
            &user_name(scope, e.user_id),
            vec![
                // Which queue, shown on both sides as the change's context.
                change(
                    "call_queue",
                    json!(queue_name(scope, e.queue_id)),
                    json!(queue_name(scope, e.queue_id)),
                ),
                change(
                    "status",
                    json!(e.previous.as_str()),
                    json!(e.status.as_str()),
                ),
            ],
        ),

        other => generic(env, other),
    })
}

/// A contact's entry. A personal contact is its owner's private address
/// book: the auditor sees that it changed and which fields, never the
/// values (each shown as [`SECRET`]) nor its name.
fn contact_entry(
    action: &'static str,
    owner: ContactOwner,
    id: Id,
    name: &str,
    changes: Vec<Change>,
) -> AuditEntry {
    match owner {
        ContactOwner::Business => entry(action, contact_type(owner), id, name, changes),
        ContactOwner::User(_) => {
            let fields = changes.iter().map(|c| secret(&c.field)).collect();
            entry(action, contact_type(owner), id, "", fields)
        }
    }
}

/// An item's entry: its object type is its collection's name in upper
/// case (`PHONES`, `SPEED_DIAL_8`). A user's own items are private like
/// personal contacts: the auditor sees which fields changed, never the
/// values nor the name; the tenant's are shown in full.
fn item_entry(
    action: &'static str,
    collection: &str,
    owner: ItemOwner,
    id: Id,
    name: &str,
    changes: Vec<Change>,
) -> AuditEntry {
    let kind = collection.to_ascii_uppercase();
    match owner {
        ItemOwner::Tenant => entry(action, &kind, id, name, changes),
        ItemOwner::User(_) => {
            let fields = changes.iter().map(|c| secret(&c.field)).collect();
            entry(action, &kind, id, "", fields)
        }
    }
}

/// A meeting control as a field-level change of the desired state
/// (`null`: nothing was asked before).
fn meeting_control_entry(
    scope: Option<&crate::directory::Scope>,
    e: &switchboard_events::domain::MeetingControlled,
) -> AuditEntry {
    use switchboard_events::domain::MeetingControl as C;
    let desired = scope
        .and_then(|s| s.meetings.get(e.meeting_id))
        .map(|m| m.desired.clone())
        .unwrap_or_default();
    let who = |p: &str| desired.participants.get(p).cloned().unwrap_or_default();
    let c = match &e.control {
        C::Run(on) => change("running", json!(desired.running), json!(on)),
        C::Mute(on) => change("muted", json!(desired.muted), json!(on)),
        C::Lock(on) => change("locked", json!(desired.locked), json!(on)),
        C::Record(on) => change("recording", json!(desired.recording), json!(on)),
        C::Layout(items) => change("layout", json!(desired.layout), json!(items)),
        C::Invite { number } => change("invitation", Json::Null, json!(number)),
        C::MuteParticipant { participant, muted } => change(
            &format!("participants.{participant}.muted"),
            json!(who(participant).muted),
            json!(muted),
        ),
        C::Chairman { participant } => {
            change("chairman", json!(desired.chairman), json!(participant))
        }
        C::Position {
            participant,
            position,
        } => change(
            &format!("participants.{participant}.position"),
            json!(who(participant).position),
            json!(position),
        ),
        C::Kick { participant } => change(
            &format!("participants.{participant}.removed"),
            json!(who(participant).removed),
            json!(true),
        ),
    };
    entry("UPDATE", "MEETING", e.meeting_id, "", vec![c])
}

fn contact_type(owner: ContactOwner) -> &'static str {
    match owner {
        ContactOwner::Business => "CONTACT",
        ContactOwner::User(_) => "PERSONAL_CONTACT",
    }
}

fn contact_name(attrs: &(impl FieldSet + ?Sized)) -> String {
    match attrs.get("name") {
        Some(ValueRef::Str(n)) => n.to_owned(),
        _ => String::new(),
    }
}

/// A call queue or ring group (a named number with attributes) was created.
fn numbered_created(kind: &str, id: Id, name: &str, number: &str, attrs: &Fields) -> AuditEntry {
    let mut c = vec![
        change("name", Json::Null, json!(name)),
        change("extension_number", Json::Null, json!(number)),
    ];
    c.extend(created_fields(attrs));
    entry("CREATE", kind, id, name, c)
}

/// A call queue or ring group changed; `before` is its (name, number,
/// attributes), compared as one set of fields.
fn numbered_updated(
    kind: &str,
    id: Id,
    before: Option<(&str, &str, &Attrs)>,
    changes: &Fields,
) -> AuditEntry {
    let old = before.map(|(name, number, attrs)| {
        let mut old = attrs.to_fields();
        old.insert("name".into(), Value::Str(name.to_owned()));
        old.insert("extension_number".into(), Value::Str(number.to_owned()));
        old
    });
    let name = before.map(|(n, _, _)| n.to_owned()).unwrap_or_default();
    entry(
        "UPDATE",
        kind,
        id,
        &name,
        field_changes(old.as_ref(), changes),
    )
}

fn queue_name(scope: Option<&Scope>, id: Id) -> String {
    scope
        .and_then(|s| s.call_queues.get(&id))
        .map(|q| q.name.clone())
        .unwrap_or_default()
}

fn ring_group_name(scope: Option<&Scope>, id: Id) -> String {
    scope
        .and_then(|s| s.ring_groups.get(&id))
        .map(|g| g.name.clone())
        .unwrap_or_default()
}

/// An agent joined, left or changed skill level in a queue or ring group:
/// the agent and level before → after (`null` where it was or is no agent).
fn agent_change(
    kind: &str,
    id: Id,
    name: &str,
    scope: Option<&Scope>,
    user: Id,
    before: Option<u8>,
    after: Option<u8>,
) -> AuditEntry {
    let agent = |level: Option<u8>| {
        level.map_or(
            Json::Null,
            |l| json!({"agent": user_name(scope, user), "skill_level": l}),
        )
    };
    entry(
        "UPDATE",
        kind,
        id,
        name,
        vec![change("agent", agent(before), agent(after))],
    )
}

fn queue_level(scope: Option<&Scope>, queue: Id, user: Id) -> Option<u8> {
    scope
        .and_then(|s| s.call_queues.get(&queue))
        .and_then(|q| q.agents.get(&user))
        .map(|a| a.skill_level)
}

fn ring_group_level(scope: Option<&Scope>, group: Id, user: Id) -> Option<u8> {
    scope
        .and_then(|s| s.ring_groups.get(&group))
        .and_then(|g| g.agents.get(&user))
        .copied()
}

/// The fallback for event types without an arm in [`describe`].
pub fn generic(env: &Envelope, event: &Event) -> AuditEntry {
    let t = env.event_type.as_str();
    let action = if t.ends_with("Created") || t.ends_with("Added") {
        "CREATE"
    } else if t.ends_with("Deleted") || t.ends_with("Removed") {
        "DELETE"
    } else {
        "UPDATE"
    };
    let stream = env.stream.as_str();
    let (category, id) = stream.rsplit_once('-').unwrap_or((stream, ""));
    let object_id = id.parse::<u64>().ok().map(Id);
    // `{"Variant": {fields}}` → the fields, less ids and secret hashes.
    let payload = serde_json::to_value(event)
        .ok()
        .and_then(|v| match v {
            Json::Object(m) => m.into_iter().next().map(|(_, v)| v),
            _ => None,
        })
        .unwrap_or(Json::Null);
    let mut fields = match payload {
        Json::Object(m) => m,
        _ => Map::new(),
    };
    fields.retain(|k, _| !k.ends_with("_id") && !k.ends_with("_hash"));
    let object_name = fields
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned();
    let changes = flatten_changes(fields);
    AuditEntry {
        action,
        // `call-queue-5` → `CALL_QUEUE` (the companion spec's spelling).
        object_type: category.to_uppercase().replace('-', "_"),
        object_id,
        object_name,
        changes,
    }
}

/// `changes`/`attrs` maps of stored values (tagged JSON) are flattened to
/// one change per field with plain values.
fn flatten_changes(fields: Map<String, Json>) -> Vec<Change> {
    let mut out = Vec::new();
    for (k, v) in fields {
        if matches!(k.as_str(), "changes" | "attrs" | "reset") {
            if let Ok(f) = serde_json::from_value::<Fields>(v.clone()) {
                out.extend(created_fields(&f));
                continue;
            }
        }
        out.push(change(&k, Json::Null, v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Projection as _;
    use switchboard_events::domain::{GroupCreated, SecretKind, UserCreated, UserSecretChanged};
    use switchboard_events::{Metadata, StreamId};

    fn envelope(offset: u64, stream: &str, event_type: &str) -> Envelope {
        Envelope {
            offset,
            stream: StreamId::parse(stream).expect("stream"),
            stream_version: 1,
            tenant: Id(7),
            event_type: event_type.into(),
            schema_version: 1,
            recorded_at: time::OffsetDateTime::UNIX_EPOCH,
            metadata: Metadata::system("test"),
            payload: vec![],
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    #[test]
    fn the_generic_fallback_derives_action_object_and_fields() {
        let mut attrs = Fields::new();
        attrs.insert("max_wait".into(), Value::Int(30));
        let event = Event::GroupCreated(GroupCreated {
            group_id: Id(5),
            name: "Support".into(),
            attrs,
        });
        let e = generic(&envelope(1, "call-queue-5", "CallQueueCreated"), &event);
        assert_eq!(e.action, "CREATE");
        assert_eq!(e.object_type, "CALL_QUEUE");
        assert_eq!(e.object_id, Some(Id(5)));
        assert_eq!(e.object_name, "Support");
        assert_eq!(e.new_state(), json!({"max_wait": 30, "name": "Support"}));
        assert_eq!(e.old_state(), json!({"max_wait": null, "name": null}));
        let e = generic(&envelope(2, "call-queue-5", "CallQueueDeleted"), &event);
        assert_eq!(e.action, "DELETE");
    }

    #[test]
    fn given_a_queued_call_when_the_pbx_reports_it_then_only_the_pickup_is_audited() {
        use switchboard_events::domain::{ItemCreated, ItemDeleted};
        let created = |collection: &str, id| {
            Event::ItemCreated(ItemCreated {
                item_id: Id(id),
                collection: collection.into(),
                owner: ItemOwner::Tenant,
                attrs: Fields::new(),
            })
        };
        let deleted = |collection: &str, id| {
            Event::ItemDeleted(ItemDeleted {
                item_id: Id(id),
                collection: collection.into(),
                owner: ItemOwner::Tenant,
            })
        };
        let dir = Directory::default();
        let described = |n, e: &Event| describe(&envelope(n, "item-1", "Item"), e, &dir);
        // the caller in, the agent's pickup, the caller out with the request
        assert!(described(1, &created(QUEUE_WAITING, 1)).is_none());
        let pickup = described(2, &created(QUEUE_PICKUPS, 2)).expect("audited");
        assert_eq!(
            (pickup.action, pickup.object_type.as_str()),
            ("CREATE", "QUEUE_PICKUPS")
        );
        assert!(described(3, &deleted(QUEUE_WAITING, 1)).is_none());
        assert!(described(4, &deleted(QUEUE_PICKUPS, 2)).is_none());
        // other collections' items stay audited
        assert!(described(5, &created("phones", 3)).is_some());
        assert!(described(6, &deleted("phones", 3)).is_some());
    }

    #[test]
    fn secrets_are_shown_as_changed_never_as_hashes() {
        let mut dir = Directory::default();
        let created = Event::UserCreated(UserCreated {
            user_id: Id(3),
            name: "alice".into(),
            role: "StandardUser".into(),
            password_hash: "$argon2id$secret".into(),
            attrs: Fields::new(),
        });
        let env = envelope(1, "user-3", "UserCreated");
        let e = describe(&env, &created, &dir).expect("described");
        dir.apply(&env, &created);
        assert!(!format!("{:?}", e).contains("argon2"));
        let changed = Event::UserSecretChanged(UserSecretChanged {
            user_id: Id(3),
            secret: SecretKind::VoicemailPin,
            hash: "$argon2id$pin".into(),
        });
        let e = describe(&envelope(2, "user-3", "UserSecretChanged"), &changed, &dir)
            .expect("described");
        assert_eq!(e.object_name, "alice", "named from the state before");
        assert_eq!(e.new_state(), json!({"voicemail_pin": "changed"}));
        assert!(!format!("{:?}", e).contains("argon2"));
    }

    #[test]
    fn personal_contacts_show_which_fields_changed_never_their_values() {
        use switchboard_events::domain::{ContactCreated, ContactUpdated};
        let mut dir = Directory::default();
        let mut attrs = Fields::new();
        attrs.insert("name".into(), Value::Str("Carol".into()));
        attrs.insert("mobile_phone".into(), Value::Str("+4915112345".into()));
        let created = Event::ContactCreated(ContactCreated {
            contact_id: Id(4),
            owner: ContactOwner::User(Id(3)),
            attrs: attrs.clone(),
        });
        let env = envelope(1, "contact-4", "ContactCreated");
        let e = describe(&env, &created, &dir).expect("described");
        dir.apply(&env, &created);
        assert_eq!(e.object_type, "PERSONAL_CONTACT");
        assert_eq!(e.object_name, "");
        assert_eq!(
            e.new_state(),
            json!({"mobile_phone": "changed", "name": "changed"})
        );
        let mut changes = Fields::new();
        changes.insert("mobile_phone".into(), Value::Str("+4915199999".into()));
        let updated = Event::ContactUpdated(ContactUpdated {
            contact_id: Id(4),
            owner: ContactOwner::User(Id(3)),
            changes,
        });
        let e = describe(&envelope(2, "contact-4", "ContactUpdated"), &updated, &dir)
            .expect("described");
        let shown = format!("{e:?}");
        assert!(
            !shown.contains("Carol") && !shown.contains("+49"),
            "{shown}"
        );
        assert_eq!(e.old_state(), json!({"mobile_phone": "changed"}));
        // A business contact is the tenant's phonebook: values are shown.
        let business = Event::ContactCreated(ContactCreated {
            contact_id: Id(5),
            owner: ContactOwner::Business,
            attrs,
        });
        let e = describe(&envelope(3, "contact-5", "ContactCreated"), &business, &dir)
            .expect("described");
        assert_eq!(e.object_name, "Carol");
        assert_eq!(e.new_state()["name"], "Carol");
    }
}
