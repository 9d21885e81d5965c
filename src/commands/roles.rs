//! Custom role commands: CreateRole, UpdateRole, DeleteRole. Built-in roles
//! are code ([`crate::auth::roles`]): their names are reserved and they can
//! be neither changed nor deleted.

use super::prepare::NewId;
use super::{Actor, CommandError, ConflictKind, Decision, Denial, Thing};
use crate::auth::roles::{self, Authority, PERMISSION_SECTIONS};
use serde_json::{Map, Value as Json};
use std::collections::BTreeSet;
use switchboard_events::domain::{RoleCreated, RoleDeleted, RoleUpdated};
use switchboard_events::{Event, Expected, StreamId};
use switchboard_projections::directory::{RoleView, Scope};

/// A valid custom role name: 1 to 64 characters, not blank, and not a
/// built-in role's name in any letter case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleName(String);

impl RoleName {
    /// Parses a custom role name.
    pub fn parse(s: &str) -> Result<RoleName, CommandError> {
        let n = s.chars().count();
        if n == 0 || n > 64 || s.trim().is_empty() {
            return Err(CommandError::invalid("name", "must be 1 to 64 characters"));
        }
        if roles::is_reserved(s) {
            return Err(CommandError::invalid(
                "name",
                "is the name of a built-in role",
            ));
        }
        Ok(RoleName(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a role description: at most 1024 characters.
pub fn validate_description(d: &str) -> Result<(), CommandError> {
    if d.chars().count() > 1024 {
        return Err(CommandError::invalid(
            "description",
            "must be at most 1024 characters",
        ));
    }
    Ok(())
}

/// Parses PortSIP's permission object (`{section: {flag: bool}}`) strictly:
/// unknown sections or flags and non-boolean values are refused, naming the
/// path (`permissions.user_management.foo`). Flags not mentioned keep their
/// value in `base` (all false for a new role), so an update may send only
/// what it changes. Returns the granted `section.flag` names, sorted.
///
/// System-scope flags (`system.*`) are unavailable inside a tenant: `true`
/// is refused naming the flag, `false` is accepted (so a client can send
/// back the full object it read), and any such flag in `base` (a role
/// written before this rule) is dropped.
pub fn parse_permissions(value: &Json, base: &[String]) -> Result<Vec<String>, CommandError> {
    let obj = value
        .as_object()
        .ok_or_else(|| CommandError::invalid("permissions", "must be an object"))?;
    let mut granted: BTreeSet<String> = base
        .iter()
        .filter(|f| !roles::is_system_flag(f))
        .cloned()
        .collect();
    for (section, flags) in obj {
        let path = format!("permissions.{section}");
        let known = PERMISSION_SECTIONS
            .iter()
            .find(|(s, _)| s == section)
            .map(|(_, f)| *f)
            .ok_or_else(|| CommandError::invalid(&path, "unknown permission section"))?;
        let flags = flags
            .as_object()
            .ok_or_else(|| CommandError::invalid(&path, "must be an object"))?;
        for (flag, v) in flags {
            let path = format!("{path}.{flag}");
            if !known.contains(&flag.as_str()) {
                return Err(CommandError::invalid(&path, "unknown permission flag"));
            }
            let on = v
                .as_bool()
                .ok_or_else(|| CommandError::invalid(&path, "must be a boolean"))?;
            let name = format!("{section}.{flag}");
            if on && roles::is_system_flag(&name) {
                return Err(CommandError::invalid(
                    &path,
                    "is a system-scope permission and cannot be granted inside a tenant",
                ));
            }
            if on {
                granted.insert(name);
            } else {
                granted.remove(&name);
            }
        }
    }
    Ok(granted.into_iter().collect())
}

/// Renders granted `section.flag` names as PortSIP's full permission object:
/// every section and flag, true or false.
pub fn render_permissions(granted: &[String]) -> Json {
    let mut out = Map::new();
    for (section, flags) in PERMISSION_SECTIONS {
        let mut s = Map::new();
        for flag in *flags {
            let name = format!("{section}.{flag}");
            s.insert((*flag).to_owned(), Json::Bool(granted.contains(&name)));
        }
        out.insert((*section).to_owned(), Json::Object(s));
    }
    Json::Object(out)
}

/// A built-in role as the API shows it: a description and the permission
/// flags that best describe what [`roles::allows`] grants it.
#[derive(Debug, Clone, Copy)]
pub struct BuiltInRole {
    /// Canonical name.
    pub name: &'static str,
    /// What the role is for.
    pub description: &'static str,
    /// Granted `section.flag` names (`*` means every flag).
    flags: &'static [&'static str],
}

impl BuiltInRole {
    /// The granted `section.flag` names, sorted.
    pub fn permissions(&self) -> Vec<String> {
        let mut out: Vec<String> = if self.flags == ["*"] {
            roles::all_flags().collect()
        } else if let Some(except) = self.flags.first().and_then(|f| f.strip_prefix("*-")) {
            // "*-a,b": every flag except those listed.
            let except: Vec<&str> = except.split(',').collect();
            roles::all_flags()
                .filter(|f| !except.contains(&f.as_str()))
                .collect()
        } else {
            self.flags.iter().map(|f| (*f).to_owned()).collect()
        };
        out.sort();
        out
    }
}

/// The built-in roles, in PortSIP's order. Kept consistent with the
/// capability table in [`crate::auth::roles`]: the QueueManager and the
/// Replicator also read users, which no flag grants without also granting
/// user management, so their objects leave `user_management` off.
pub static BUILT_IN: &[BuiltInRole] = &[
    BuiltInRole {
        name: "SystemAdmin",
        description: "System administrator: everything, in every tenant",
        flags: &["*"],
    },
    BuiltInRole {
        name: "Dealer",
        description: "Dealer: manages tenants and everything inside a tenant it switched to",
        flags: &["*"],
    },
    BuiltInRole {
        name: "Admin",
        description: "Tenant administrator: everything inside its own tenant",
        flags: &["*-system.dealer,system.tenant"],
    },
    BuiltInRole {
        name: "StandardUser",
        description: "Standard user: its own data; internal and domestic calls",
        flags: &[
            "general.voicemail_full_access",
            "general.meeting",
            "policies.internal_calls",
            "policies.domestic_calls",
        ],
    },
    BuiltInRole {
        name: "StandardInternationalUser",
        description: "Standard user who may also call internationally",
        flags: &[
            "general.voicemail_full_access",
            "general.meeting",
            "policies.internal_calls",
            "policies.domestic_calls",
            "policies.international_calls",
        ],
    },
    BuiltInRole {
        name: "QueueManager",
        description: "Queue manager: its own data, call queues, ring groups and agent status",
        flags: &[
            "general.voicemail_full_access",
            "general.meeting",
            "phone_system.view_only",
            "phone_system.full_access",
            "policies.internal_calls",
            "policies.domestic_calls",
        ],
    },
    BuiltInRole {
        name: "Replicator",
        description: "Replicator: reads the directory and reports registrations and call state",
        flags: &["company.view_only", "phone_system.view_only"],
    },
];

/// The built-in role called `name`, ignoring case.
pub fn built_in(name: &str) -> Option<&'static BuiltInRole> {
    BUILT_IN.iter().find(|r| r.name.eq_ignore_ascii_case(name))
}

/// A custom role by (case-insensitive) name.
pub fn custom<'a>(scope: &'a Scope, name: &str) -> Option<&'a RoleView> {
    scope
        .roles_by_name
        .get(&name.to_lowercase())
        .and_then(|id| scope.roles.get(id))
}

/// The custom role called `name`, if it may be changed: built-in roles are
/// refused (`Forbidden`), unknown ones are `NotFound`.
pub fn changeable<'a>(scope: &'a Scope, name: &str) -> Result<&'a RoleView, CommandError> {
    if let Some(b) = built_in(name) {
        return Err(CommandError::forbidden(
            Denial::BuiltInRole,
            format!(
                "{} is a built-in role and cannot be changed or deleted",
                b.name
            ),
        ));
    }
    custom(scope, name).ok_or(CommandError::NotFound(Thing::Role))
}

fn name_taken(name: &RoleName) -> CommandError {
    CommandError::conflict(
        ConflictKind::AlreadyExists,
        format!("a role named {} already exists", name.as_str()),
    )
}

/// Create a custom role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRole {
    /// New id.
    pub role_id: NewId,
    /// Name (validated).
    pub name: RoleName,
    /// Description (validated).
    pub description: String,
    /// Granted `section.flag` names, sorted.
    pub permissions: Vec<String>,
}

/// Refuses unless `by` holds everything a custom role with `flags` grants.
fn within(by: &Actor, flags: &[String]) -> Result<(), CommandError> {
    by.must_cover(&Authority::new("custom", Some(flags), false), "permissions")
}

/// Decides CreateRole: the name must be unused by the tenant's custom roles
/// (case-insensitively; built-in names were refused by [`RoleName`]), and
/// the role may grant only what its creator holds.
pub fn create(scope: &Scope, by: &Actor, cmd: &CreateRole) -> Result<Decision, CommandError> {
    if custom(scope, cmd.name.as_str()).is_some() {
        return Err(name_taken(&cmd.name));
    }
    within(by, &cmd.permissions)?;
    let role_id = cmd.role_id.get()?;
    Ok(Decision::events(vec![Event::RoleCreated(RoleCreated {
        role_id,
        name: cmd.name.as_str().to_owned(),
        description: cmd.description.clone(),
        permissions: cmd.permissions.clone(),
    })])
    .expect(StreamId::of("role", role_id), Expected::NoStream))
}

/// Update the custom role called `role`; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateRole {
    /// The role's current name (any letter case).
    pub role: String,
    /// New name.
    pub name: Option<RoleName>,
    /// New description.
    pub description: Option<String>,
    /// PortSIP's permission object: the flags it mentions change, the
    /// others keep their current value (merged when decided, against the
    /// role as it is then: [`parse_permissions`]).
    pub permissions: Option<Json>,
}

impl UpdateRole {
    /// An update of the role called `role` that changes nothing yet.
    pub fn of(role: &str) -> UpdateRole {
        UpdateRole {
            role: role.to_owned(),
            ..UpdateRole::default()
        }
    }
}

/// Decides UpdateRole on the role called `role`: records only what changes;
/// a new name must not belong to another custom role. The actor must hold
/// what the role grants before and after, so nobody widens a role beyond
/// themselves or reshapes one above them.
pub fn update(scope: &Scope, by: &Actor, cmd: &UpdateRole) -> Result<Decision, CommandError> {
    // Resolving the role first makes a built-in or unknown role answer
    // 403/404 before the body's flags are judged.
    let r = changeable(scope, &cmd.role)?;
    let permissions = cmd
        .permissions
        .as_ref()
        .map(|p| parse_permissions(p, &r.permissions))
        .transpose()?;
    within(by, &r.permissions)?;
    if let Some(p) = &permissions {
        within(by, p)?;
    }
    let name = match cmd.name.as_ref().filter(|n| n.as_str() != r.name) {
        Some(n) => {
            if custom(scope, n.as_str()).is_some_and(|other| other.id != r.id) {
                return Err(name_taken(n));
            }
            Some(n.as_str().to_owned())
        }
        None => None,
    };
    let description = cmd.description.clone().filter(|d| *d != r.description);
    let permissions = permissions.filter(|p| *p != r.permissions);
    if name.is_none() && description.is_none() && permissions.is_none() {
        return Ok(Decision::none());
    }
    Ok(Decision::events(vec![Event::RoleUpdated(RoleUpdated {
        role_id: r.id,
        name,
        description,
        permissions,
    })])
    .expect(
        StreamId::of("role", r.id),
        Expected::Exactly(r.stamp.version),
    ))
}

/// Decides DeleteRole: a role still held by a user cannot go, nor one
/// that grants more than the actor holds.
pub fn delete(scope: &Scope, by: &Actor, role: &str) -> Result<Decision, CommandError> {
    let r = changeable(scope, role)?;
    within(by, &r.permissions)?;
    let holders = scope.count_role(&r.name);
    if holders > 0 {
        return Err(CommandError::conflict(
            ConflictKind::RoleInUse,
            format!("{holders} user(s) still hold the role {}", r.name),
        ));
    }
    Ok(
        Decision::events(vec![Event::RoleDeleted(RoleDeleted { role_id: r.id })]).expect(
            StreamId::of("role", r.id),
            Expected::Exactly(r.stamp.version),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::prepare::NewId;
    use crate::commands::testing::{actor, given_in, system_actor};
    use serde_json::json;
    use switchboard_events::domain::{RoleCreated, UserCreated};
    use switchboard_events::{Fields, Id, TenantId};

    const T: TenantId = Id(7);
    const SUPPORT: Id = Id(100);
    const SALES: Id = Id(101);

    fn support() -> Event {
        Event::RoleCreated(RoleCreated {
            role_id: SUPPORT,
            name: "Support".into(),
            description: "helpdesk".into(),
            permissions: vec!["user_management.users".into()],
        })
    }

    fn sales() -> Event {
        Event::RoleCreated(RoleCreated {
            role_id: SALES,
            name: "Sales".into(),
            description: String::new(),
            permissions: vec![],
        })
    }

    fn user_with_role(role: &str) -> Event {
        Event::UserCreated(UserCreated {
            user_id: Id(500),
            name: "alice".into(),
            role: role.into(),
            password_hash: "h".into(),
            attrs: Fields::new(),
        })
    }

    fn scope(events: &[Event]) -> Scope {
        given_in(T, events).scope(T).cloned().unwrap_or_default()
    }

    fn name(s: &str) -> RoleName {
        RoleName::parse(s).expect("valid name")
    }

    #[test]
    fn role_names_are_1_to_64_characters_and_not_built_in() {
        assert!(RoleName::parse("Support").is_ok());
        assert!(RoleName::parse(&"é".repeat(64)).is_ok());
        for bad in [
            "",
            "   ",
            &"a".repeat(65),
            "admin",
            "SYSTEMADMIN",
            "Replicator",
        ] {
            let e = RoleName::parse(bad).expect_err(bad);
            assert!(matches!(e, CommandError::Invalid { ref field, .. } if field == "name"));
        }
    }

    #[test]
    fn descriptions_are_at_most_1024_characters() {
        assert!(validate_description(&"x".repeat(1024)).is_ok());
        assert!(validate_description(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn permissions_parse_strictly_and_merge_with_a_base() {
        let p = parse_permissions(
            &json!({"user_management": {"users": true, "roles": false}, "company": {}}),
            &[],
        )
        .expect("valid");
        assert_eq!(p, vec!["user_management.users".to_owned()]);
        let merged = parse_permissions(
            &json!({"user_management": {"users": false}, "billing": {"view_only": true}}),
            &["user_management.users".into(), "company.view_only".into()],
        )
        .expect("valid");
        assert_eq!(merged, vec!["billing.view_only", "company.view_only"]);
        let field = |v: Json| match parse_permissions(&v, &[]) {
            Err(CommandError::Invalid { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert_eq!(
            field(json!({"user_management": {"foo": true}})),
            "permissions.user_management.foo"
        );
        assert_eq!(field(json!({"nope": {}})), "permissions.nope");
        assert_eq!(field(json!({"company": true})), "permissions.company");
        assert_eq!(
            field(json!({"company": {"view_only": "yes"}})),
            "permissions.company.view_only"
        );
        assert_eq!(field(json!([])), "permissions");
    }

    #[test]
    fn permissions_render_every_section_and_flag() {
        let v = render_permissions(&["user_management.roles".into()]);
        assert_eq!(v["user_management"]["roles"], true);
        assert_eq!(v["user_management"]["users"], false);
        let count: usize = v
            .as_object()
            .map(|m| {
                m.values()
                    .filter_map(|s| s.as_object())
                    .map(|s| s.len())
                    .sum()
            })
            .unwrap_or(0);
        assert_eq!(count, roles::all_flags().count());
    }

    #[test]
    fn the_permission_object_matches_the_spec() {
        use crate::field_tables::spec;
        let doc = spec::load("portsip-users-openapi.json");
        let show = spec::response(&doc, "/roles/{name}", "get", "200");
        let sections = &show["properties"]["permissions"]["properties"];
        let rendered = render_permissions(&[]);
        let mut spec_flags: Vec<String> = Vec::new();
        for (section, schema) in sections.as_object().into_iter().flatten() {
            for flag in spec::props(&spec::flatten(schema)) {
                spec_flags.push(format!("{section}.{flag}"));
                assert_eq!(rendered[section][&flag], false, "{section}.{flag}");
            }
        }
        spec_flags.sort();
        let mut ours: Vec<String> = roles::all_flags().collect();
        ours.sort();
        assert_eq!(spec_flags, ours);
        let mut fields = spec::props(&show);
        fields.sort();
        assert_eq!(fields, ["description", "name", "permissions"]);
        let mut body = spec::props(&spec::body(&doc, "/roles", "post"));
        body.sort();
        assert_eq!(body, ["description", "name", "permissions"]);
        let list = spec::response(&doc, "/roles", "get", "200");
        let mut items = spec::props(&list["properties"]["items"]["items"]);
        items.sort();
        assert_eq!(items, ["description", "name"]);
    }

    #[test]
    fn built_in_permissions_agree_with_capabilities() {
        use crate::auth::roles::Capability::*;
        assert_eq!(BUILT_IN.len(), roles::BUILT_IN_ROLES.len());
        for b in BUILT_IN {
            assert!(roles::is_built_in(b.name), "{}", b.name);
            let flags = b.permissions();
            for f in &flags {
                assert!(roles::all_flags().any(|x| x == *f), "{f}");
            }
            // A custom role with the same flags never gets more than the built-in.
            for cap in [
                ManageTenants,
                ViewTenants,
                ManageUsers,
                ManageRoles,
                ManageQueues,
                ViewQueues,
                ViewAudit,
                ManageTenantSettings,
            ] {
                if roles::allows("custom", Some(&flags), cap) {
                    assert!(roles::allows(b.name, None, cap), "{} {cap:?}", b.name);
                }
            }
        }
        assert_eq!(
            built_in("admin").map(|b| b.permissions().len()),
            Some(roles::all_flags().count() - 2)
        );
    }

    #[test]
    fn given_nothing_when_creating_a_role_then_it_is_created() {
        let d = create(
            &scope(&[]),
            &system_actor(),
            &CreateRole {
                role_id: NewId::given(SUPPORT),
                name: name("Support"),
                description: "helpdesk".into(),
                permissions: vec!["user_management.users".into()],
            },
        )
        .expect("created");
        assert_eq!(d.events, vec![support()]);
        assert_eq!(
            d.expected,
            vec![(StreamId::of("role", SUPPORT), Expected::NoStream)]
        );
    }

    #[test]
    fn given_a_role_when_creating_the_same_name_in_another_case_then_conflict() {
        let e = create(
            &scope(&[support()]),
            &system_actor(),
            &CreateRole {
                role_id: NewId::given(SALES),
                name: name("SUPPORT"),
                description: String::new(),
                permissions: vec![],
            },
        )
        .expect_err("duplicate");
        assert!(matches!(
            e,
            CommandError::Conflict(ConflictKind::AlreadyExists, _)
        ));
    }

    #[test]
    fn given_a_role_when_updating_then_only_changes_are_recorded() {
        let s = scope(&[support()]);
        let d = update(
            &s,
            &system_actor(),
            &UpdateRole {
                role: "support".into(),
                name: Some(name("Support")),
                description: Some("first line".into()),
                permissions: Some(json!({"user_management": {"users": true}})),
            },
        )
        .expect("updated");
        assert_eq!(
            d.events,
            vec![Event::RoleUpdated(RoleUpdated {
                role_id: SUPPORT,
                name: None,
                description: Some("first line".into()),
                permissions: None,
            })]
        );
        assert_eq!(
            d.expected,
            vec![(StreamId::of("role", SUPPORT), Expected::Exactly(1))]
        );
    }

    #[test]
    fn given_a_role_when_nothing_changes_then_nothing_is_recorded() {
        let s = scope(&[support()]);
        let d = update(
            &s,
            &system_actor(),
            &UpdateRole {
                role: "Support".into(),
                name: Some(name("Support")),
                description: Some("helpdesk".into()),
                permissions: Some(json!({"user_management": {"users": true}})),
            },
        )
        .expect("no-op");
        assert_eq!(d, Decision::none());
        assert_eq!(
            update(&s, &system_actor(), &UpdateRole::of("Support")).expect("no-op"),
            Decision::none()
        );
    }

    #[test]
    fn given_a_role_when_renaming_then_the_name_changes_even_by_case() {
        let s = scope(&[support()]);
        let d = update(
            &s,
            &system_actor(),
            &UpdateRole {
                role: "Support".into(),
                name: Some(name("support")),
                ..UpdateRole::default()
            },
        )
        .expect("renamed");
        assert_eq!(
            d.events,
            vec![Event::RoleUpdated(RoleUpdated {
                role_id: SUPPORT,
                name: Some("support".into()),
                description: None,
                permissions: None,
            })]
        );
    }

    #[test]
    fn given_two_roles_when_renaming_one_to_the_other_then_conflict() {
        let s = scope(&[support(), sales()]);
        let e = update(
            &s,
            &system_actor(),
            &UpdateRole {
                role: "Support".into(),
                name: Some(name("sales")),
                ..UpdateRole::default()
            },
        )
        .expect_err("taken");
        assert!(matches!(
            e,
            CommandError::Conflict(ConflictKind::AlreadyExists, _)
        ));
    }

    #[test]
    fn given_nothing_when_updating_or_deleting_an_unknown_role_then_not_found() {
        let s = scope(&[support()]);
        assert_eq!(
            update(&s, &system_actor(), &UpdateRole::of("Ghost")),
            Err(CommandError::NotFound(Thing::Role))
        );
        assert_eq!(
            delete(&s, &system_actor(), "Ghost"),
            Err(CommandError::NotFound(Thing::Role))
        );
    }

    #[test]
    fn built_in_roles_cannot_be_updated_or_deleted() {
        let s = scope(&[]);
        for r in ["Admin", "standarduser", "SystemAdmin"] {
            assert!(matches!(
                update(&s, &system_actor(), &UpdateRole::of(r)),
                Err(CommandError::Forbidden(Denial::BuiltInRole, _))
            ));
            assert!(matches!(
                delete(&s, &system_actor(), r),
                Err(CommandError::Forbidden(Denial::BuiltInRole, _))
            ));
        }
    }

    #[test]
    fn given_a_role_when_deleting_then_it_is_deleted() {
        let d = delete(&scope(&[sales(), support()]), &system_actor(), "support").expect("deleted");
        assert_eq!(
            d.events,
            vec![Event::RoleDeleted(RoleDeleted { role_id: SUPPORT })]
        );
        assert_eq!(
            d.expected,
            vec![(StreamId::of("role", SUPPORT), Expected::Exactly(1))]
        );
    }

    #[test]
    fn given_a_role_held_by_a_user_when_deleting_then_role_in_use() {
        let s = scope(&[support(), user_with_role("Support")]);
        let e = delete(&s, &system_actor(), "Support").expect_err("in use");
        assert!(matches!(
            e,
            CommandError::Conflict(ConflictKind::RoleInUse, _)
        ));
    }

    #[test]
    fn given_a_renamed_role_held_by_a_user_then_the_user_follows_and_it_stays_in_use() {
        let renamed = Event::RoleUpdated(RoleUpdated {
            role_id: SUPPORT,
            name: Some("Helpdesk".into()),
            description: None,
            permissions: None,
        });
        let s = scope(&[support(), user_with_role("Support"), renamed]);
        assert!(custom(&s, "support").is_none());
        assert!(matches!(
            delete(&s, &system_actor(), "helpdesk"),
            Err(CommandError::Conflict(ConflictKind::RoleInUse, _))
        ));
    }

    #[test]
    fn system_flags_are_refused_when_granted_and_dropped_from_old_roles() {
        let e = parse_permissions(&json!({"system": {"tenant": true}}), &[]).expect_err("system");
        assert!(
            matches!(e, CommandError::Invalid { ref field, .. } if field == "permissions.system.tenant")
        );
        // The full object a client read (system flags false) round-trips.
        let read_back = render_permissions(&["company.view_only".into()]);
        assert_eq!(
            parse_permissions(&read_back, &[]).expect("round trip"),
            vec!["company.view_only".to_owned()]
        );
        // A role written before the rule loses its system flags on update.
        let old = vec!["system.tenant".to_owned(), "company.view_only".to_owned()];
        assert_eq!(
            parse_permissions(&json!({}), &old).expect("merge"),
            vec!["company.view_only".to_owned()]
        );
    }

    #[test]
    fn given_a_role_manager_when_granting_beyond_itself_then_refused() {
        let by = actor(
            Id(5),
            "RoleMgr",
            Some(&["user_management.roles", "company.view_only"]),
        );
        let create_with = |flags: &[&str]| {
            create(
                &scope(&[]),
                &by,
                &CreateRole {
                    role_id: NewId::given(SALES),
                    name: name("Sales"),
                    description: String::new(),
                    permissions: flags.iter().map(|f| (*f).to_owned()).collect(),
                },
            )
        };
        assert!(create_with(&["company.view_only"]).is_ok());
        assert!(matches!(
            create_with(&["company.full_access"]),
            Err(CommandError::Escalation { ref field, .. }) if field == "permissions"
        ));
        // Support grants user management, which the role manager lacks: it
        // can neither widen, reshape nor delete it.
        let s = scope(&[support()]);
        let widen = UpdateRole {
            permissions: Some(json!({"company": {"view_only": true}})),
            ..UpdateRole::of("Support")
        };
        assert!(matches!(
            update(&s, &by, &widen),
            Err(CommandError::Escalation { .. })
        ));
        assert!(matches!(
            delete(&s, &by, "Support"),
            Err(CommandError::Escalation { .. })
        ));
        // An Admin holds it all.
        let admin = actor(Id(6), "Admin", None);
        assert!(delete(&s, &admin, "Support").is_ok());
    }
}
