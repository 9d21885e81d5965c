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
//! | Replicator | read the directory, report registrations and call state |
//! | StandardUser, StandardInternationalUser | only `/api/user/...`: their own data |
//! | custom | its own data, plus what its permission flags grant (table below) |
//!
//! | permission flag | grants |
//! | --- | --- |
//! | `user_management.users` | manage users, extensions, links and user groups |
//! | `user_management.roles` | manage custom roles |
//! | `company.full_access` / `company.view_only` | tenant settings and business contacts (write / read) |
//! | `phone_system.full_access` / `phone_system.view_only` | call queues, ring groups, agent status (write / read) |
//! | `system.tenant` | manage tenants (system scope) |
//! | `system.information` | read directory-wide audit logs |

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
            ReportRegistrations | ViewUsers | ViewQueues | ViewBusinessContacts
        ),
        "StandardUser" | "StandardInternationalUser" => false,
        _ => return None,
    })
}

/// Whether a custom role's permission flags allow a capability.
fn flags_allow(flags: &[String], cap: Capability) -> bool {
    use Capability::*;
    let has = |f: &str| flags.iter().any(|x| x == f);
    match cap {
        ManageTenants | ViewTenants => has("system.tenant"),
        ViewTenantSettings => has("company.view_only") || has("company.full_access"),
        ManageTenantSettings => has("company.full_access"),
        ViewUsers | ManageUsers => has("user_management.users"),
        ViewRoles | ManageRoles => has("user_management.roles"),
        ViewBusinessContacts => has("company.view_only") || has("company.full_access"),
        ManageBusinessContacts => has("company.full_access"),
        ViewQueues => has("phone_system.view_only") || has("phone_system.full_access"),
        ManageQueues => has("phone_system.full_access"),
        ReportRegistrations => false,
        ViewAudit => has("system.information"),
    }
}

/// Whether `role` (with `custom_flags` if it is a custom role) allows `cap`.
pub fn allows(role: &str, custom_flags: Option<&[String]>, cap: Capability) -> bool {
    match built_in_allows(role, cap) {
        Some(b) => b,
        None => custom_flags.is_some_and(|f| flags_allow(f, cap)),
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
}
