//! SelectGlobalHolidays: a user's `global_holidays`, the tenant holidays
//! that also apply to the user (`POST /user/global_holidays`). The
//! selection is one item of the user's `global_holidays` list, recorded
//! with the item events (so history, audit, `as_of`, replay and snapshots
//! cover it like any item): created by the first selection, updated by the
//! next.

use super::prepare::NewId;
use super::{CommandError, Decision};
use crate::collections::settings::TENANT_HOLIDAYS;
pub use crate::collections::settings::{selected, GLOBAL_HOLIDAYS, SELECTED};
use switchboard_events::domain::{ItemCreated, ItemOwner, ItemUpdated};
use switchboard_events::{Event, Expected, Fields, Id, Value};
use switchboard_projections::directory::Scope;

/// Replace user `user_id`'s selection of tenant holidays.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectGlobalHolidays {
    /// Whose selection.
    pub user_id: Id,
    /// The selection item's id, if this is the user's first selection.
    pub selection_id: NewId,
    /// The tenant holidays selected (ids as parsed from the request).
    pub holidays: Vec<Id>,
}

/// The selection as it is valid: every id a holiday that `exists`, none
/// twice. A failing entry is named by its place (`items[2]`).
pub fn selection(requested: &[Id], exists: impl Fn(Id) -> bool) -> Result<Vec<Id>, CommandError> {
    let mut seen = std::collections::HashSet::new();
    for (i, id) in requested.iter().enumerate() {
        if !exists(*id) {
            return Err(CommandError::invalid(
                format!("items[{i}]"),
                "is not a holiday of the tenant",
            ));
        }
        if !seen.insert(*id) {
            return Err(CommandError::invalid(
                format!("items[{i}]"),
                "is listed twice",
            ));
        }
    }
    Ok(requested.to_vec())
}

/// Decides SelectGlobalHolidays: the user exists; every id is one of the
/// tenant's holidays; an unchanged selection records nothing.
pub fn select(scope: &Scope, cmd: &SelectGlobalHolidays) -> Result<Decision, CommandError> {
    super::users::user(scope, cmd.user_id)?;
    let chosen = selection(&cmd.holidays, |id| {
        scope
            .items
            .get(TENANT_HOLIDAYS.name, ItemOwner::Tenant, id)
            .is_some()
    })?;
    let value = Value::List(
        chosen
            .iter()
            .map(|id| Value::Int(i64::try_from(id.0).unwrap_or(i64::MAX)))
            .collect(),
    );
    let owner = ItemOwner::User(cmd.user_id);
    let current = scope.items.items(GLOBAL_HOLIDAYS, owner).next();
    let (event, expected) = match current {
        Some(it) if it.attrs.get(SELECTED) == Some(value.view()) => return Ok(Decision::none()),
        Some(it) => (
            Event::ItemUpdated(ItemUpdated {
                item_id: it.id,
                collection: GLOBAL_HOLIDAYS.to_owned(),
                owner,
                changes: Fields::from([(SELECTED.to_owned(), value)]),
            }),
            Expected::Exactly(it.stamp.version),
        ),
        None => (
            Event::ItemCreated(ItemCreated {
                item_id: cmd.selection_id.get()?,
                collection: GLOBAL_HOLIDAYS.to_owned(),
                owner,
                attrs: Fields::from([(SELECTED.to_owned(), value)]),
            }),
            Expected::NoStream,
        ),
    };
    let stream = event.stream();
    Ok(Decision::events(vec![event]).expect(stream, expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_holidays_that_exist_when_selected_then_the_selection_keeps_their_order() {
        let got = selection(&[Id(3), Id(1)], |id| id.0 <= 3);
        assert_eq!(got, Ok(vec![Id(3), Id(1)]));
        assert_eq!(selection(&[], |_| false), Ok(vec![]));
    }

    #[test]
    fn given_an_unknown_holiday_when_selected_then_its_place_is_named() {
        let got = selection(&[Id(1), Id(9)], |id| id.0 <= 3);
        assert_eq!(
            got,
            Err(CommandError::invalid(
                "items[1]",
                "is not a holiday of the tenant"
            ))
        );
    }

    #[test]
    fn given_a_holiday_twice_when_selected_then_the_second_is_named() {
        let got = selection(&[Id(1), Id(2), Id(1)], |_| true);
        assert_eq!(
            got,
            Err(CommandError::invalid("items[2]", "is listed twice"))
        );
    }

    #[test]
    fn a_stored_selection_reads_back_in_order() {
        let attrs = Fields::from([(
            SELECTED.to_owned(),
            Value::List(vec![Value::Int(5), Value::Int(2)]),
        )]);
        assert_eq!(selected(&attrs), vec![Id(5), Id(2)]);
        assert_eq!(selected(&Fields::new()), vec![]);
    }
}
