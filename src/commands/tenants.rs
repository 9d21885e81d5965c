//! CreateTenant, UpdateTenant, DeleteTenant, SwitchTenant.

use super::prepare::NewId;
use super::{CommandError, ConflictKind, Decision, Thing};
use crate::field_tables::Table;
use switchboard_events::domain::{
    SessionTenantSwitched, TenantCreated, TenantDeleted, TenantUpdated,
};
use switchboard_events::{Event, Expected, Fields, Id, StreamId, Value};
use switchboard_projections::Directory;

/// Checks a tenant display name: 1 to 1024 characters.
pub fn validate_name(name: &str) -> Result<(), CommandError> {
    let n = name.chars().count();
    if n == 0 || n > 1024 || name.trim().is_empty() {
        return Err(CommandError::invalid(
            "name",
            "must be 1 to 1024 characters",
        ));
    }
    Ok(())
}

/// Checks a SIP domain: 1 to 280 characters of dot-separated labels made of
/// letters, digits and `-` (not at a label's ends). Returns it lower-cased.
pub fn validate_domain(domain: &str) -> Result<String, CommandError> {
    let bad = || {
        CommandError::invalid(
            "domain",
            "must be a SIP domain: dot-separated labels of letters, digits and '-', at most 280 characters",
        )
    };
    if domain.is_empty() || domain.len() > 280 {
        return Err(bad());
    }
    for label in domain.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(bad());
        }
    }
    Ok(domain.to_ascii_lowercase())
}

/// Create a tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTenant {
    /// New id.
    pub tenant_id: NewId,
    /// Display name (validated).
    pub name: String,
    /// SIP domain (validated, lower-cased).
    pub domain: String,
    /// Other settings (validated by the tenant table).
    pub attrs: Fields,
}

/// A tenant's domain must be unique.
pub fn create(state: &Directory, cmd: CreateTenant) -> Result<Decision, CommandError> {
    if state.tenant_by_domain(&cmd.domain).is_some() {
        return Err(CommandError::conflict(
            ConflictKind::AlreadyExists,
            format!("a tenant with domain {} already exists", cmd.domain),
        ));
    }
    let tenant_id = cmd.tenant_id.get()?;
    Ok(Decision::events(vec![Event::TenantCreated(TenantCreated {
        tenant_id,
        name: cmd.name,
        domain: cmd.domain,
        attrs: cmd.attrs,
    })])
    .expect(StreamId::of("tenant", tenant_id), Expected::NoStream))
}

/// Update a tenant's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateTenant {
    /// The tenant.
    pub tenant_id: Id,
    /// New name, if given (validated).
    pub name: Option<String>,
    /// New domain, if given (validated, lower-cased).
    pub domain: Option<String>,
    /// Validated incoming settings.
    pub incoming: Fields,
}

/// Records only what changes; a domain must stay unique.
pub fn update(
    state: &Directory,
    table: &Table,
    cmd: UpdateTenant,
) -> Result<Decision, CommandError> {
    let tenant = state
        .tenants
        .get(&cmd.tenant_id)
        .ok_or(CommandError::NotFound(Thing::Tenant))?;
    let mut changes = table.diff(&tenant.attrs, &cmd.incoming);
    if let Some(name) = cmd.name.filter(|n| *n != tenant.name) {
        changes.insert("name".into(), Value::Str(name));
    }
    if let Some(domain) = cmd.domain.filter(|d| *d != tenant.domain) {
        if state.tenant_by_domain(&domain).is_some() {
            return Err(CommandError::conflict(
                ConflictKind::AlreadyExists,
                format!("a tenant with domain {domain} already exists"),
            ));
        }
        changes.insert("domain".into(), Value::Str(domain));
    }
    if changes.is_empty() {
        return Ok(Decision::none());
    }
    Ok(Decision::events(vec![Event::TenantUpdated(TenantUpdated {
        tenant_id: cmd.tenant_id,
        changes,
    })])
    .expect(
        StreamId::of("tenant", cmd.tenant_id),
        Expected::Exactly(tenant.stamp.version),
    ))
}

/// Delete a tenant and everything in it.
pub fn delete(state: &Directory, tenant_id: Id) -> Result<Decision, CommandError> {
    let tenant = state
        .tenants
        .get(&tenant_id)
        .ok_or(CommandError::NotFound(Thing::Tenant))?;
    Ok(
        Decision::events(vec![Event::TenantDeleted(TenantDeleted { tenant_id })]).expect(
            StreamId::of("tenant", tenant_id),
            Expected::Exactly(tenant.stamp.version),
        ),
    )
}

/// Make a session act inside a tenant.
pub fn switch(state: &Directory, session_id: Id, tenant_id: Id) -> Result<Decision, CommandError> {
    if !state.tenants.contains_key(&tenant_id) {
        return Err(CommandError::NotFound(Thing::Tenant));
    }
    if state
        .sessions
        .get(session_id)
        .is_some_and(|s| s.acting_tenant == tenant_id)
    {
        return Ok(Decision::none());
    }
    Ok(Decision::events(vec![Event::SessionTenantSwitched(
        SessionTenantSwitched {
            session_id,
            tenant_id,
        },
    )]))
}
