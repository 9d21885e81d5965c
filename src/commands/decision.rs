//! What a decision produces: events to append atomically and the version
//! expectations they rely on, and the checked merge that composite
//! commands build one append from.

use super::CommandError;
use switchboard_events::{Event, Expected, StreamId};

/// What a decision produced: events to append (possibly none) and the
/// version expectations they rely on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// Events, in order; appended atomically.
    pub events: Vec<Event>,
    /// Optimistic-concurrency expectations, checked by the log.
    pub expected: Vec<(StreamId, Expected)>,
}

impl Decision {
    /// A decision to do nothing (e.g. setting a value it already has).
    pub fn none() -> Decision {
        Decision::default()
    }

    /// A decision to append these events.
    pub fn events(events: Vec<Event>) -> Decision {
        Decision {
            events,
            expected: Vec::new(),
        }
    }

    /// Adds an expectation.
    pub fn expect(mut self, stream: StreamId, expected: Expected) -> Decision {
        self.expected.push((stream, expected));
        self
    }

    /// Whether nothing is to be appended.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Appends `other` after `self` as one decision (one append, all or
    /// nothing). Every expectation of both is kept; the same expectation
    /// twice is kept once. Two parts that expect different versions of one
    /// stream were decided against different states, so their merge is
    /// refused (`ConcurrentModification`) rather than appended with one of
    /// the two silently dropped.
    pub fn merge(mut self, other: Decision) -> Result<Decision, CommandError> {
        for (stream, expected) in other.expected {
            match self.expected.iter().find(|(s, _)| *s == stream) {
                Some((_, mine)) if *mine == expected => {}
                Some((_, mine)) => {
                    return Err(CommandError::conflict(
                        super::ConflictKind::ConcurrentModification,
                        format!(
                            "{stream} was expected at {mine:?} and at {expected:?} in one command"
                        ),
                    ))
                }
                None => self.expected.push((stream, expected)),
            }
        }
        self.events.extend(other.events);
        Ok(self)
    }

    /// Merges every decision of `parts`, in order ([`Decision::merge`]).
    pub fn merge_all(parts: impl IntoIterator<Item = Decision>) -> Result<Decision, CommandError> {
        parts
            .into_iter()
            .try_fold(Decision::none(), |all, d| all.merge(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::ConflictKind;
    use switchboard_events::domain::{UserDeleted, UserUpdated};
    use switchboard_events::{Fields, Id};

    fn updated(n: u64) -> Event {
        Event::UserUpdated(UserUpdated {
            user_id: Id(n),
            changes: Fields::new().into(),
        })
    }

    #[test]
    fn a_merge_keeps_every_event_in_order_and_every_expectation() {
        let a = Decision::events(vec![updated(1)])
            .expect(StreamId::of("user", Id(1)), Expected::Exactly(3));
        let b = Decision::events(vec![updated(2)])
            .expect(StreamId::of("user", Id(2)), Expected::Exactly(5));
        let c = Decision::events(vec![Event::UserDeleted(UserDeleted { user_id: Id(1) })])
            .expect(StreamId::of("user", Id(1)), Expected::Exactly(3));
        let all = Decision::merge_all([a, b, c]).expect("compatible");
        assert_eq!(all.events.len(), 3);
        assert_eq!(all.events[1], updated(2));
        assert_eq!(
            all.expected,
            vec![
                (StreamId::of("user", Id(1)), Expected::Exactly(3)),
                (StreamId::of("user", Id(2)), Expected::Exactly(5)),
            ],
            "the second decision's expectation is kept, the repeated one once"
        );
    }

    #[test]
    fn parts_expecting_different_versions_of_one_stream_are_refused() {
        let a = Decision::events(vec![updated(1)])
            .expect(StreamId::of("user", Id(1)), Expected::Exactly(3));
        let b = Decision::events(vec![updated(1)])
            .expect(StreamId::of("user", Id(1)), Expected::Exactly(4));
        assert!(matches!(
            a.merge(b),
            Err(CommandError::Conflict(
                ConflictKind::ConcurrentModification,
                _
            ))
        ));
    }

    #[test]
    fn merging_nothing_is_nothing() {
        assert_eq!(
            Decision::merge_all(Vec::new()).expect("empty"),
            Decision::none()
        );
    }
}
