//! Password-guessing throttle for sign-in and for the old-password check of
//! `POST /user/password`, after OWASP's authentication guidance: count
//! failures per (account, client address) and per address, and slow an
//! account down exponentially instead of locking it, so an attacker cannot
//! lock a victim out from everywhere.
//!
//! | counter | limit (defaults) | past it |
//! | --- | --- | --- |
//! | failures of one account from one address | 5 per window (5 min) | that pair waits until the oldest failure leaves the window |
//! | failures from one address, any account | 50 per window | that address waits likewise |
//! | consecutive failures of one account, any address | 5 free | each further attempt waits `2^(n-5)` s after the last failure, at most `max_delay` (60 s); a success resets it |
//!
//! Checking and recording are one step: [`Throttle::begin`] admits an
//! attempt and counts it as pending under the same lock, so parallel
//! guesses cannot all pass a check made before any of them failed. An
//! admitted attempt ends as [`Attempt::succeeded`] or
//! [`Attempt::failed`]; one dropped unresolved (the client went away during
//! the password check) counts as failed. A refused attempt is answered
//! before the password is hashed, which also keeps argon2 from being a
//! CPU-exhaustion lever.
//!
//! Memory is bounded: entries without failures in the window are pruned,
//! and each map holds at most `max_entries` (the least recently active
//! entries go first).

use crate::clock::SharedClock;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::Duration;
use time::OffsetDateTime;

/// A moment, from the service clock (not `std::time::Instant`) so tests can
/// move past a window or a delay instead of sleeping through it.
type Instant = OffsetDateTime;

/// How long after `t` `now` is (zero if the clock reads earlier).
fn since(now: Instant, t: Instant) -> Duration {
    Duration::try_from(now - t).unwrap_or(Duration::ZERO)
}

/// The throttle's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a failure counts against a pair or an address.
    pub window: Duration,
    /// Failures allowed per (account, address) within the window.
    pub per_pair: u32,
    /// Failures allowed per address within the window.
    pub per_address: u32,
    /// Consecutive failures of an account before its attempts are delayed.
    pub free: u32,
    /// The longest delay between an account's attempts.
    pub max_delay: Duration,
    /// The most entries each map keeps.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            window: Duration::from_secs(300),
            per_pair: 5,
            per_address: 50,
            free: 5,
            max_delay: Duration::from_secs(60),
            max_entries: 100_000,
        }
    }
}

/// Failures within the window, and attempts in flight.
#[derive(Debug, Default)]
struct Window {
    failures: VecDeque<Instant>,
    pending: u32,
    last: Option<Instant>,
}

impl Window {
    fn prune(&mut self, window: Duration, now: Instant) {
        while self
            .failures
            .front()
            .is_some_and(|t| since(now, *t) >= window)
        {
            self.failures.pop_front();
        }
    }

    /// How long until one more attempt fits under `limit`, if it does not now.
    fn wait(&self, limit: u32, window: Duration, now: Instant) -> Option<Duration> {
        let used = self.failures.len() + self.pending as usize;
        if used < limit as usize {
            return None;
        }
        // Room comes back when the oldest failure leaves the window (or,
        // when only attempts in flight fill it, as soon as they finish).
        Some(
            self.failures
                .front()
                .map(|t| window.saturating_sub(since(now, *t)))
                .unwrap_or(Duration::from_secs(1))
                .max(Duration::from_secs(1)),
        )
    }

    fn idle(&self, window: Duration, now: Instant) -> bool {
        self.pending == 0
            && self
                .failures
                .back()
                .is_none_or(|t| since(now, *t) >= window)
    }
}

/// An account's consecutive failures and when it may try again.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
    not_before: Option<Instant>,
    pending: u32,
    last: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    pairs: HashMap<(String, Option<IpAddr>), Window>,
    addresses: HashMap<IpAddr, Window>,
    accounts: HashMap<String, Backoff>,
}

/// The throttle (shared by every request).
pub struct Throttle {
    limits: Limits,
    state: Mutex<State>,
    clock: SharedClock,
}

/// An admitted attempt; resolve it with [`Attempt::succeeded`] or
/// [`Attempt::failed`].
#[must_use = "an attempt must be resolved"]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    account: String,
    address: Option<IpAddr>,
    resolved: bool,
}

/// Keeps a map under `max` entries: idle ones go first, then the least
/// recently active.
fn bound<K: Clone + Eq + Hash, V>(
    map: &mut HashMap<K, V>,
    max: usize,
    idle: impl Fn(&V) -> bool,
    last: impl Fn(&V) -> Option<Instant>,
) {
    if map.len() < max {
        return;
    }
    map.retain(|_, v| !idle(v));
    if map.len() < max {
        return;
    }
    let mut by_age: Vec<(Option<Instant>, K)> =
        map.iter().map(|(k, v)| (last(v), k.clone())).collect();
    by_age.sort_by_key(|(t, _)| *t);
    let excess = map.len() + 1 - max;
    for (_, k) in by_age.into_iter().take(excess) {
        map.remove(&k);
    }
}

impl Throttle {
    /// A throttle with these limits, on the service clock.
    pub fn new(limits: Limits, clock: SharedClock) -> Throttle {
        Throttle {
            limits,
            state: Mutex::new(State::default()),
            clock,
        }
    }

    /// Admits an attempt on `account` from `address` now, or says how long
    /// to wait.
    pub fn begin(&self, account: &str, address: Option<IpAddr>) -> Result<Attempt<'_>, Duration> {
        self.begin_at(account, address, self.clock.now())
    }

    /// [`Throttle::begin`] at a given instant.
    pub fn begin_at(
        &self,
        account: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt<'_>, Duration> {
        let l = self.limits;
        let mut s = self.state.lock();
        let key = (account.to_owned(), address);
        let mut wait: Option<Duration> = None;
        let mut worst = |w: Option<Duration>| {
            if let Some(w) = w {
                wait = Some(wait.map_or(w, |x| x.max(w)));
            }
        };
        if let Some(p) = s.pairs.get_mut(&key) {
            p.prune(l.window, now);
            worst(p.wait(l.per_pair, l.window, now));
        }
        if let Some(ip) = address {
            if let Some(a) = s.addresses.get_mut(&ip) {
                a.prune(l.window, now);
                worst(a.wait(l.per_address, l.window, now));
            }
        }
        if let Some(b) = s.accounts.get(account) {
            if let Some(t) = b.not_before.filter(|t| *t > now) {
                worst(Some(since(t, now)));
            } else if b.failures >= l.free && b.pending > 0 {
                // Delayed accounts take one attempt at a time, so parallel
                // guesses cannot slip in beside it.
                worst(Some(Duration::from_secs(1)));
            }
        }
        if let Some(w) = wait {
            return Err(w);
        }
        bound(
            &mut s.pairs,
            l.max_entries,
            |v| v.idle(l.window, now),
            |v| v.last,
        );
        let p = s.pairs.entry(key).or_default();
        p.pending += 1;
        p.last = Some(now);
        if let Some(ip) = address {
            bound(
                &mut s.addresses,
                l.max_entries,
                |v| v.idle(l.window, now),
                |v| v.last,
            );
            let a = s.addresses.entry(ip).or_default();
            a.pending += 1;
            a.last = Some(now);
        }
        bound(
            &mut s.accounts,
            l.max_entries,
            |b| b.pending == 0 && b.not_before.is_none_or(|t| t <= now) && b.failures == 0,
            |b| b.last,
        );
        let b = s.accounts.entry(account.to_owned()).or_default();
        b.pending += 1;
        b.last = Some(now);
        Ok(Attempt {
            throttle: self,
            account: account.to_owned(),
            address,
            resolved: false,
        })
    }

    fn resolve(&self, account: &str, address: Option<IpAddr>, ok: bool, now: Instant) {
        let l = self.limits;
        let mut s = self.state.lock();
        let key = (account.to_owned(), address);
        if let Some(p) = s.pairs.get_mut(&key) {
            p.pending = p.pending.saturating_sub(1);
            if ok {
                s.pairs.remove(&key);
            } else {
                p.failures.push_back(now);
            }
        }
        if let Some(ip) = address {
            if let Some(a) = s.addresses.get_mut(&ip) {
                a.pending = a.pending.saturating_sub(1);
                // A success does not clear the address: an attacker could
                // otherwise reset it by signing in to an account of its own.
                if !ok {
                    a.failures.push_back(now);
                }
            }
        }
        if let Some(b) = s.accounts.get_mut(account) {
            b.pending = b.pending.saturating_sub(1);
            if ok {
                b.failures = 0;
                b.not_before = None;
            } else {
                b.failures = b.failures.saturating_add(1);
                if b.failures >= l.free {
                    let exp = (b.failures - l.free).min(30);
                    let delay = Duration::from_secs(1u64 << exp).min(l.max_delay);
                    b.not_before = Some(now + delay);
                }
            }
        }
    }

    /// Number of entries in the (pair, address, account) maps.
    pub fn sizes(&self) -> (usize, usize, usize) {
        let s = self.state.lock();
        (s.pairs.len(), s.addresses.len(), s.accounts.len())
    }
}

impl Attempt<'_> {
    /// The password was right.
    pub fn succeeded(mut self) {
        self.resolved = true;
        let now = self.throttle.clock.now();
        self.throttle
            .resolve(&self.account, self.address, true, now);
    }

    /// The password was wrong.
    pub fn failed(self) {
        let now = self.throttle.clock.now();
        self.failed_at(now);
    }

    /// [`Attempt::failed`] at a given instant.
    pub fn failed_at(mut self, now: Instant) {
        self.resolved = true;
        self.throttle
            .resolve(&self.account, self.address, false, now);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.resolved {
            let now = self.throttle.clock.now();
            self.throttle
                .resolve(&self.account, self.address, false, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    fn limits() -> Limits {
        Limits {
            window: Duration::from_secs(60),
            per_pair: 3,
            per_address: 5,
            free: 3,
            max_delay: Duration::from_secs(8),
            max_entries: 1000,
        }
    }

    #[test]
    fn parallel_attempts_cannot_pass_the_limit() {
        let t = Throttle::new(limits(), crate::clock::system());
        let now = OffsetDateTime::now_utc();
        let admitted: Vec<Attempt<'_>> = (0..10)
            .filter_map(|_| t.begin_at("a", ip("10.0.0.1"), now).ok())
            .collect();
        assert_eq!(
            admitted.len(),
            3,
            "only per_pair attempts are in flight at once"
        );
        for a in admitted {
            a.failed_at(now);
        }
        assert!(t.begin_at("a", ip("10.0.0.1"), now).is_err());
    }

    #[test]
    fn a_pair_is_refused_until_its_oldest_failure_leaves_the_window() {
        let mut l = limits();
        l.free = 100;
        let t = Throttle::new(l, crate::clock::system());
        let start = OffsetDateTime::now_utc();
        for i in 0..3 {
            t.begin_at("a", ip("10.0.0.1"), start)
                .expect("admitted")
                .failed_at(start + Duration::from_secs(i));
        }
        let wait = t
            .begin_at("a", ip("10.0.0.1"), start + Duration::from_secs(10))
            .err()
            .expect("refused");
        assert_eq!(wait, Duration::from_secs(50));
        // The same account from elsewhere, and another account from here,
        // are not refused.
        assert!(t.begin_at("a", ip("10.0.0.2"), start).is_ok());
        assert!(t.begin_at("b", ip("10.0.0.1"), start).is_ok());
        assert!(t
            .begin_at("a", ip("10.0.0.1"), start + Duration::from_secs(60))
            .is_ok());
    }

    #[test]
    fn an_address_guessing_many_accounts_is_refused() {
        let t = Throttle::new(limits(), crate::clock::system());
        let now = OffsetDateTime::now_utc();
        for n in 0..5 {
            t.begin_at(&format!("user{n}"), ip("10.0.0.9"), now)
                .expect("admitted")
                .failed_at(now);
        }
        assert!(t.begin_at("fresh", ip("10.0.0.9"), now).is_err());
        assert!(t.begin_at("fresh", ip("10.0.0.8"), now).is_ok());
    }

    #[test]
    fn an_account_is_delayed_exponentially_not_locked_and_a_success_resets_it() {
        let t = Throttle::new(limits(), crate::clock::system());
        let mut now = OffsetDateTime::now_utc();
        // Failures from many addresses (a distributed guess).
        let mut delays = Vec::new();
        for n in 0..8 {
            let from = ip(&format!("10.0.1.{n}"));
            let attempt = match t.begin_at("victim", from, now) {
                Ok(a) => a,
                Err(wait) => {
                    delays.push(wait.as_secs());
                    now += wait;
                    t.begin_at("victim", from, now).expect("after the delay")
                }
            };
            attempt.failed_at(now);
        }
        assert_eq!(delays, [1, 2, 4, 8, 8], "doubling, capped at max_delay");
        // The victim gets in after at most max_delay, from anywhere.
        now += Duration::from_secs(8);
        t.begin_at("victim", ip("192.168.0.7"), now)
            .expect("admitted")
            .succeeded();
        assert!(
            t.begin_at("victim", ip("192.168.0.7"), now).is_ok(),
            "the backoff is reset"
        );
    }

    #[test]
    fn an_abandoned_attempt_counts_as_failed() {
        let t = Throttle::new(limits(), crate::clock::system());
        let now = OffsetDateTime::now_utc();
        for _ in 0..3 {
            drop(t.begin_at("a", ip("10.0.0.1"), now).expect("admitted"));
        }
        assert!(t.begin_at("a", ip("10.0.0.1"), now).is_err());
    }

    #[test]
    fn the_maps_are_bounded() {
        let mut l = limits();
        l.max_entries = 10;
        let t = Throttle::new(l, crate::clock::system());
        let now = OffsetDateTime::now_utc();
        for n in 0..100 {
            let a = t
                .begin_at(&format!("spray{n}"), ip(&format!("10.1.0.{n}")), now)
                .expect("admitted");
            a.failed_at(now);
        }
        let (pairs, addresses, accounts) = t.sizes();
        assert!(
            pairs <= 10 && addresses <= 10 && accounts <= 10,
            "{:?}",
            t.sizes()
        );
    }

    #[test]
    fn it_reads_the_service_clock() {
        let clock = crate::clock::TestClock::new();
        let mut l = limits();
        l.free = 100;
        let t = Throttle::new(l, clock.clone());
        for _ in 0..3 {
            t.begin("a", ip("10.0.0.1")).expect("admitted").failed();
        }
        let wait = t.begin("a", ip("10.0.0.1")).err().expect("refused");
        assert!(wait > Duration::from_secs(55), "{wait:?}");
        clock.advance(Duration::from_secs(61));
        assert!(t.begin("a", ip("10.0.0.1")).is_ok(), "the window passed");
    }
}
