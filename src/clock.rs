//! The service's clock: every decision that depends on "now" (token and
//! session expiry, sync token retention, registration expiry, sign-in
//! throttling windows, webhook signature timestamps) asks the [`Clock`] in
//! `AppState`, so tests can move time forward instead of sleeping past it.
//!
//! The event log stamps `recorded_at` with the wall clock itself. A
//! [`TestClock`] therefore only ever runs *ahead* of the wall clock (by
//! what a test advanced it), never behind, so `recorded_at ≤ clock.now()`
//! holds for every recorded event, as it does in production.

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time (UTC).
    fn now(&self) -> OffsetDateTime;

    /// Whole seconds since the Unix epoch.
    fn unix_secs(&self) -> i64 {
        self.now().unix_timestamp()
    }

    /// Milliseconds since the Unix epoch.
    fn unix_ms(&self) -> i64 {
        i64::try_from(self.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The shared clock handle kept in `AppState`.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock as a [`SharedClock`].
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock for tests: the wall clock plus however far the test has
/// [`advance`](TestClock::advance)d it. Time keeps flowing (a server needs
/// it to), and a test can jump past a TTL at once instead of sleeping.
#[derive(Debug, Default)]
pub struct TestClock {
    ahead: Mutex<Duration>,
}

impl TestClock {
    /// A clock that starts at the wall clock.
    pub fn new() -> Arc<TestClock> {
        Arc::new(TestClock::default())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.ahead.lock() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + *self.ahead.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_jumps_forward_and_never_runs_behind_the_wall_clock() {
        let clock = TestClock::new();
        let before = OffsetDateTime::now_utc();
        assert!(clock.now() >= before);
        clock.advance(Duration::from_secs(3600));
        let now = clock.now();
        assert!(
            now - before >= time::Duration::seconds(3600),
            "{now} vs {before}"
        );
        assert!(now - OffsetDateTime::now_utc() <= time::Duration::seconds(3600));
    }
}
