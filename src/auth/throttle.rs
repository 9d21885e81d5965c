//! Sign-in throttling: failed attempts are counted per account and per
//! client IP in a sliding window; past the limit, attempts are refused
//! (429) until the window has passed, without even checking the password,
//! which also keeps argon2 from being used as a CPU-exhaustion lever.

use crate::clock::SharedClock;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;
use time::OffsetDateTime;

/// A failure's time. From the service clock (not `Instant`) so tests can
/// move past the window instead of sleeping through it.
type Instant = OffsetDateTime;

/// Failure counters.
pub struct Throttle {
    window: Duration,
    per_account: u32,
    per_ip: u32,
    accounts: Mutex<HashMap<String, Vec<Instant>>>,
    ips: Mutex<HashMap<IpAddr, Vec<Instant>>>,
    clock: SharedClock,
}

impl Throttle {
    /// `per_account` / `per_ip` failures allowed within `window`.
    pub fn new(window: Duration, per_account: u32, per_ip: u32, clock: SharedClock) -> Throttle {
        Throttle {
            window,
            per_account,
            per_ip,
            accounts: Mutex::new(HashMap::new()),
            ips: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// How long ago `t` was (zero if the clock reads earlier).
    fn since(now: Instant, t: Instant) -> Duration {
        Duration::try_from(now - t).unwrap_or(Duration::ZERO)
    }

    fn recent(list: &mut Vec<Instant>, window: Duration, now: Instant) -> usize {
        list.retain(|t| Self::since(now, *t) < window);
        list.len()
    }

    /// If attempts are currently refused, how long until the next may be made.
    pub fn blocked(&self, account: &str, ip: Option<IpAddr>) -> Option<Duration> {
        let now = self.clock.now();
        let mut wait = None;
        let mut check = |list: &mut Vec<Instant>, limit: u32| {
            if Self::recent(list, self.window, now) >= limit as usize {
                if let Some(oldest) = list.first() {
                    let w = self.window.saturating_sub(Self::since(now, *oldest));
                    wait = Some(wait.map_or(w, |x: Duration| x.max(w)));
                }
            }
        };
        if let Some(list) = self.accounts.lock().get_mut(account) {
            check(list, self.per_account);
        }
        if let Some(ip) = ip {
            if let Some(list) = self.ips.lock().get_mut(&ip) {
                check(list, self.per_ip);
            }
        }
        wait
    }

    /// Records a failed attempt.
    pub fn failed(&self, account: &str, ip: Option<IpAddr>) {
        let now = self.clock.now();
        let mut accounts = self.accounts.lock();
        // Bound memory under a spray of random names: forget idle entries.
        if accounts.len() > 100_000 {
            let window = self.window;
            accounts.retain(|_, l| Self::recent(l, window, now) > 0);
        }
        accounts.entry(account.to_owned()).or_default().push(now);
        drop(accounts);
        if let Some(ip) = ip {
            let mut ips = self.ips.lock();
            if ips.len() > 100_000 {
                let window = self.window;
                ips.retain(|_, l| Self::recent(l, window, now) > 0);
            }
            ips.entry(ip).or_default().push(now);
        }
    }

    /// Clears an account's failures after a successful sign-in.
    pub fn succeeded(&self, account: &str) {
        self.accounts.lock().remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_repeated_failures_then_the_account_and_the_ip_are_blocked() {
        let t = Throttle::new(Duration::from_secs(60), 3, 5, crate::clock::system());
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        for _ in 0..3 {
            assert!(t.blocked("a", Some(ip)).is_none());
            t.failed("a", Some(ip));
        }
        assert!(t.blocked("a", None).is_some(), "account blocked");
        assert!(
            t.blocked("b", Some(ip)).is_none(),
            "ip still below its limit"
        );
        t.failed("b", Some(ip));
        t.failed("c", Some(ip));
        assert!(
            t.blocked("d", Some(ip)).is_some(),
            "ip blocked for every account"
        );
        t.succeeded("a");
        assert!(t.blocked("a", None).is_none());
    }

    #[test]
    fn given_a_block_when_the_window_passes_then_attempts_are_allowed_again() {
        let clock = crate::clock::TestClock::new();
        let t = Throttle::new(Duration::from_secs(300), 2, 50, clock.clone());
        t.failed("a", None);
        clock.advance(Duration::from_secs(100));
        t.failed("a", None);
        let wait = t.blocked("a", None).expect("blocked");
        assert!(
            wait <= Duration::from_secs(200) && wait > Duration::from_secs(190),
            "the wait runs from the oldest failure: {wait:?}"
        );
        clock.advance(Duration::from_secs(201));
        assert!(
            t.blocked("a", None).is_none(),
            "the oldest failure left the window"
        );
        t.failed("a", None);
        assert!(
            t.blocked("a", None).is_some(),
            "two failures within the window again"
        );
    }
}
