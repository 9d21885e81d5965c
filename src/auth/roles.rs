//! Roles and what they may do.
//!
//! Built-in roles are code: they cannot be modified or deleted and their
//! names are reserved. Custom roles carry PortSIP's permission object,
//! stored as sorted `section.flag` names. Every endpoint asks for a
//! [`Capability`]; [`allows`] answers from the caller's role.
//!
//! | role | may |
//! | --- | --- |
//! | SystemAdmin | everything, in every tenant |
//! | Dealer | manage tenants (system scope), and everything inside a tenant it switched to |
//! | Admin | everything inside its own tenant |
//! | QueueManager | its own data, plus call queues, ring groups and every agent's status in its tenant |
//! | Replicator | read the directory, report registrations, call state, CDRs, messages and meetings' state |
//! | StandardUser, StandardInternationalUser | only `/api/user/...`: their own data |
//! | custom | its own data, plus what its permission flags grant (table below) |
//!
//! | permission flag | grants |
//! | --- | --- |
//! | `user_management.users` | manage users, extensions, links and user groups |
//! | `user_management.roles` | manage custom roles |
//! | `company.full_access` / `company.view_only` | tenant settings and business contacts (write / read) |
//! | `phone_system.full_access` / `phone_system.view_only` | call queues, ring groups, agent status (write / read) |
//! | `company_call_log.call_log_view_only` / `company_call_log.call_log_full_access` | the tenant's CDRs and external messages (read) |
//! | `system.*` | nothing: system-scope permissions are refused on custom roles and never take effect inside a tenant |
//!
//! Tenants themselves (list, create, update, delete, switch into) are the
//! system scope's alone: a capability that [`Capability::is_system`] is
//! never granted to a user of a tenant, whatever its role or flags say
//! (an old log may hold a custom role with `system.tenant`; it is judged at
//! read time, here, not only when the role was written).
//!
//! [`Authority`] is what a caller holds (capabilities and flags); it
//! [`covers`](Authority::covers) another role or user when it holds
//! everything they hold. That is the rule against escalation: nobody may
//! create, change or assign a role, or act on a user, beyond their own
//! authority.

use std::collections::BTreeSet;
use switchboard_projections::directory::Scope;

/// Built-in role names, in PortSIP's order.
pub const BUILT_IN_ROLES: &[&str] = &[
    "SystemAdmin",
    "Dealer",
    "Admin",
    "StandardUser",
    "StandardInternationalUser",
    "QueueManager",
    "Replicator",
];

/// PortSIP's permission object: section → flags.
pub const PERMISSION_SECTIONS: &[(&str, &[&str])] = &[
    (
        "general",
        &["voicemail_view_only", "voicemail_full_access", "meeting"],
    ),
    ("system", &["information", "dealer", "tenant"]),
    ("trunk", &["view_only", "full_access"]),
    ("company", &["view_only", "full_access"]),
    (
        "company_call_log",
        &[
            "call_log_view_only",
            "call_log_full_access",
            "call_recording_view_only",
            "call_recording_full_access",
        ],
    ),
    ("phone_system", &["view_only", "full_access"]),
    ("user_management", &["roles", "users"]),
    (
        "user_call_log",
        &[
            "call_log_view_only",
            "call_log_full_access",
            "call_recording_view_only",
            "call_recording_full_access",
        ],
    ),
    (
        "policies",
        &["domestic_calls", "internal_calls", "international_calls"],
    ),
    (
        "analytics",
        &["call_report_view_only", "call_report_full_access"],
    ),
    ("billing", &["view_only", "full_access"]),
];

/// Whether a name is a built-in role (exact match).
pub fn is_built_in(name: &str) -> bool {
    BUILT_IN_ROLES.contains(&name)
}

/// Whether a name collides with a built-in role, ignoring case (reserved).
pub fn is_reserved(name: &str) -> bool {
    BUILT_IN_ROLES.iter().any(|r| r.eq_ignore_ascii_case(name))
}

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Create, update, delete, switch into tenants.
    ManageTenants,
    /// Read tenants (system scope).
    ViewTenants,
    /// Read the tenant's own settings.
    ViewTenantSettings,
    /// Change the tenant's own settings.
    ManageTenantSettings,
    /// Read users, extensions, links, groups.
    ViewUsers,
    /// Change users, extensions, links, groups.
    ManageUsers,
    /// Read custom roles.
    ViewRoles,
    /// Change custom roles.
    ManageRoles,
    /// Read business contacts.
    ViewBusinessContacts,
    /// Change business contacts.
    ManageBusinessContacts,
    /// Read call queues, ring groups, agent status.
    ViewQueues,
    /// Change call queues, ring groups and anyone's agent status.
    ManageQueues,
    /// Report registrations and call state (the SIP registrar).
    ReportRegistrations,
    /// Read audit logs and history.
    ViewAudit,
    /// Report call detail records and external messages (the PBX).
    ReportCallHistory,
    /// Read the tenant's call detail records and external messages.
    ViewCallHistory,
    /// Destroy any of the tenant's call recordings.
    ManageCallHistory,
    /// Report meetings' actual state and follow every meeting's controls
    /// (the media server).
    ReportMeetings,
}

impl Capability {
    /// Every capability.
    pub const ALL: &'static [Capability] = &[
        Capability::ManageTenants,
        Capability::ViewTenants,
        Capability::ViewTenantSettings,
        Capability::ManageTenantSettings,
        Capability::ViewUsers,
        Capability::ManageUsers,
        Capability::ViewRoles,
        Capability::ManageRoles,
        Capability::ViewBusinessContacts,
        Capability::ManageBusinessContacts,
        Capability::ViewQueues,
        Capability::ManageQueues,
        Capability::ReportRegistrations,
        Capability::ViewAudit,
        Capability::ReportCallHistory,
        Capability::ViewCallHistory,
        Capability::ManageCallHistory,
        Capability::ReportMeetings,
    ];

    /// Capabilities of the system scope: never granted inside a tenant.
    pub fn is_system(self) -> bool {
        matches!(self, Capability::ManageTenants | Capability::ViewTenants)
    }
}

/// The system-scope roles: they exist only in the system scope and cannot
/// be given inside a tenant.
pub fn is_system_role(name: &str) -> bool {
    matches!(name, "SystemAdmin" | "Dealer")
}

/// Whether a built-in role allows a capability. `None` for custom roles.
fn built_in_allows(role: &str, cap: Capability) -> Option<bool> {
    use Capability::*;
    Some(match role {
        "SystemAdmin" => true,
        "Admin" => !matches!(cap, ManageTenants | ViewTenants),
        "Dealer" => true,
        "QueueManager" => matches!(cap, ViewQueues | ManageQueues | ViewUsers),
        "Replicator" => matches!(
            cap,
            ReportRegistrations
                | ReportCallHistory
                | ReportMeetings
                | ViewUsers
                | ViewQueues
                | ViewBusinessContacts
        ),
        "StandardUser" | "StandardInternationalUser" => false,
        _ => return None,
    })
}

/// Whether a custom role's permission flags (`has`: whether it holds
/// one) allow a capability.
fn flags_allow(has: impl Fn(&str) -> bool, cap: Capability) -> bool {
    use Capability::*;
    match cap {
        // System-scope permissions never take effect inside a tenant, and
        // the audit log is the Admin's: no flag of a custom role grants them.
        ManageTenants | ViewTenants | ViewAudit => false,
        ViewTenantSettings => has("company.view_only") || has("company.full_access"),
        ManageTenantSettings => has("company.full_access"),
        ViewUsers | ManageUsers => has("user_management.users"),
        ViewRoles | ManageRoles => has("user_management.roles"),
        ViewBusinessContacts => has("company.view_only") || has("company.full_access"),
        ManageBusinessContacts => has("company.full_access"),
        ViewQueues => has("phone_system.view_only") || has("phone_system.full_access"),
        ManageQueues => has("phone_system.full_access"),
        ReportRegistrations | ReportCallHistory | ReportMeetings => false,
        ViewCallHistory => {
            has("company_call_log.call_log_view_only")
                || has("company_call_log.call_log_full_access")
        }
        ManageCallHistory => has("company_call_log.call_log_full_access"),
    }
}

/// Whether `role` (with `custom_flags` if it is a custom role) allows `cap`.
pub fn allows(role: &str, custom_flags: Option<&[String]>, cap: Capability) -> bool {
    match built_in_allows(role, cap) {
        Some(b) => b,
        None => custom_flags.is_some_and(|f| flags_allow(|x| f.iter().any(|y| y == x), cap)),
    }
}

/// Whether built-in `role` allows `cap` for a caller of the system scope
/// (`system`) or not: what [`Authority::allows`] answers for a built-in
/// role, without building its flag set (built-in roles are judged by name;
/// the check runs on every request). `None` if `role` is not built in.
pub fn built_in_role_allows(role: &str, system: bool, cap: Capability) -> Option<bool> {
    if !is_built_in(role) {
        return None;
    }
    if !system && (cap.is_system() || is_system_role(role)) {
        return Some(false);
    }
    built_in_allows(role, cap)
}

/// Whether a `section.flag` name is a system-scope permission.
pub fn is_system_flag(flag: &str) -> bool {
    flag.starts_with("system.")
}

/// What a caller (or a role it would hand out) holds: a role, its effective
/// permission flags, and whether it acts from the system scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    role: String,
    flags: BTreeSet<String>,
    system: bool,
}

/// Something an [`Authority`] holds that another lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Excess {
    /// The Admin role (only an Admin may create or promote an Admin).
    AdminRole,
    /// A capability.
    Capability(Capability),
    /// A permission flag (`section.flag`).
    Flag(String),
}

impl std::fmt::Display for Excess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Excess::AdminRole => write!(f, "the Admin role"),
            Excess::Capability(c) => write!(f, "the {c:?} capability"),
            Excess::Flag(x) => write!(f, "the permission {x}"),
        }
    }
}

impl Authority {
    /// The authority of `role`, a built-in role or a custom role with
    /// `custom_flags` (`None` if no such custom role exists: it grants
    /// nothing). `system` is true only for users of the system scope; for
    /// everyone else system-scope roles and flags count for nothing.
    pub fn new(role: &str, custom_flags: Option<&[String]>, system: bool) -> Authority {
        let flags: BTreeSet<String> = if is_built_in(role) {
            if !system && is_system_role(role) {
                BTreeSet::new()
            } else {
                crate::commands::roles::built_in(role)
                    .map(|b| b.permissions().into_iter().collect())
                    .unwrap_or_default()
            }
        } else {
            custom_flags.unwrap_or_default().iter().cloned().collect()
        };
        let flags = flags
            .into_iter()
            .filter(|f| system || !is_system_flag(f))
            .collect();
        Authority {
            role: role.to_owned(),
            flags,
            system,
        }
    }

    /// The authority of `role` as found in a tenant's `scope` (custom roles
    /// by case-insensitive name).
    pub fn of_role(scope: Option<&Scope>, role: &str, system: bool) -> Authority {
        let custom = scope.and_then(|s| {
            s.roles_by_name
                .get(&role.to_lowercase())
                .and_then(|id| s.roles.get(id))
        });
        Authority::new(role, custom.map(|r| r.permissions.as_slice()), system)
    }

    /// The role's name.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// Whether this authority allows `cap`.
    pub fn allows(&self, cap: Capability) -> bool {
        if !self.system && (cap.is_system() || is_system_role(&self.role)) {
            return false;
        }
        match built_in_allows(&self.role, cap) {
            Some(b) => b,
            None => flags_allow(|f| self.flags.contains(f), cap),
        }
    }

    /// Whether this is an Admin (or a system-scope user, above every Admin).
    pub fn is_admin(&self) -> bool {
        self.role == "Admin" || (self.system && is_system_role(&self.role))
    }

    /// `Ok` if this authority holds everything `other` holds: the Admin
    /// role, every capability and every permission flag. Otherwise the
    /// first thing it lacks.
    pub fn covers(&self, other: &Authority) -> Result<(), Excess> {
        if other.is_admin() && !self.is_admin() {
            return Err(Excess::AdminRole);
        }
        if let Some(c) = Capability::ALL
            .iter()
            .find(|c| other.allows(**c) && !self.allows(**c))
        {
            return Err(Excess::Capability(*c));
        }
        match other.flags.iter().find(|f| !self.flags.contains(*f)) {
            Some(f) => Err(Excess::Flag(f.clone())),
            None => Ok(()),
        }
    }
}

/// Every valid `section.flag` name.
pub fn all_flags() -> impl Iterator<Item = String> {
    PERMISSION_SECTIONS
        .iter()
        .flat_map(|(s, flags)| flags.iter().map(move |f| format!("{s}.{f}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Capability::*;

    #[test]
    fn built_in_roles_follow_the_table() {
        assert!(allows("SystemAdmin", None, ManageTenants));
        assert!(allows("Admin", None, ManageUsers));
        assert!(!allows("Admin", None, ManageTenants));
        assert!(!allows("StandardUser", None, ViewUsers));
        assert!(allows("QueueManager", None, ManageQueues));
        assert!(!allows("QueueManager", None, ManageUsers));
        assert!(allows("Replicator", None, ReportRegistrations));
        assert!(!allows("Replicator", None, ManageUsers));
    }

    #[test]
    fn custom_roles_get_what_their_flags_grant() {
        let flags = vec![
            "user_management.users".to_owned(),
            "company.view_only".to_owned(),
        ];
        assert!(allows("Support", Some(&flags), ManageUsers));
        assert!(allows("Support", Some(&flags), ViewBusinessContacts));
        assert!(!allows("Support", Some(&flags), ManageBusinessContacts));
        assert!(!allows("Support", Some(&flags), ManageRoles));
        assert!(
            !allows("Ghost", None, ViewUsers),
            "an unknown role grants nothing"
        );
    }

    #[test]
    fn built_in_names_are_reserved_case_insensitively() {
        assert!(is_reserved("admin"));
        assert!(is_reserved("SYSTEMADMIN"));
        assert!(!is_reserved("Support"));
        assert_eq!(all_flags().count(), 29);
    }

    #[test]
    fn system_capabilities_are_never_granted_inside_a_tenant() {
        let flags = vec!["system.tenant".to_owned(), "system.information".to_owned()];
        let old_role = Authority::new("Escalator", Some(&flags), false);
        for cap in Capability::ALL {
            assert!(!old_role.allows(*cap), "{cap:?}");
        }
        // A system role recorded for a tenant user grants nothing either.
        assert!(!Authority::new("SystemAdmin", None, false).allows(ViewUsers));
        assert!(!Authority::new("Admin", None, false).allows(ManageTenants));
        let sys = Authority::new("SystemAdmin", None, true);
        assert!(Capability::ALL.iter().all(|c| sys.allows(*c)));
    }

    #[test]
    fn an_authority_covers_what_it_holds_and_nothing_more() {
        let admin = Authority::new("Admin", None, false);
        let sys = Authority::new("SystemAdmin", None, true);
        let standard = Authority::new("StandardUser", None, false);
        let flags = |f: &[&str]| f.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let users_only = flags(&["user_management.users"]);
        let manager = Authority::new("Mgr", Some(&users_only), false);
        assert_eq!(sys.covers(&admin), Ok(()));
        assert_eq!(admin.covers(&admin), Ok(()));
        assert_eq!(admin.covers(&standard), Ok(()));
        assert_eq!(manager.covers(&admin), Err(Excess::AdminRole));
        assert!(matches!(
            manager.covers(&standard),
            Err(Excess::Flag(ref f)) if f.starts_with("general.")
        ));
        let replicator = Authority::new("Replicator", None, false);
        assert!(matches!(
            Authority::new(
                "Viewer",
                Some(&flags(&["company.view_only", "phone_system.view_only"])),
                false
            )
            .covers(&replicator),
            Err(Excess::Capability(_))
        ));
        // Every tenant flag still does not make an Admin.
        let all: Vec<String> = all_flags().filter(|f| !is_system_flag(f)).collect();
        assert_eq!(
            Authority::new("Everything", Some(&all), false).covers(&admin),
            Err(Excess::AdminRole)
        );
    }

    #[test]
    fn the_per_request_check_of_a_built_in_role_is_its_authoritys() {
        for role in BUILT_IN_ROLES {
            for system in [false, true] {
                let authority = Authority::new(role, None, system);
                for cap in Capability::ALL {
                    assert_eq!(
                        built_in_role_allows(role, system, *cap),
                        Some(authority.allows(*cap)),
                        "{role} (system: {system}) {cap:?}"
                    );
                }
            }
        }
        assert_eq!(built_in_role_allows("Custom", true, ViewUsers), None);
    }

    #[test]
    fn a_custom_authority_allows_what_its_flags_allow() {
        let flags = vec![
            "user_management.users".to_owned(),
            "company.full_access".to_owned(),
        ];
        let authority = Authority::new("Custom", Some(&flags), false);
        for cap in Capability::ALL {
            assert_eq!(
                authority.allows(*cap),
                allows("Custom", Some(&flags), *cap),
                "{cap:?}"
            );
        }
    }
}
