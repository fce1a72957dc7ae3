//! Login attempt limits per account and per client address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many tracked keys, expired windows are dropped first.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Counts failed logins in fixed windows; a key over its limit is refused until its
/// window ends, before any password is checked.
pub struct LoginLimiter {
    window: Duration,
    max_per_account: u32,
    max_per_ip: u32,
    accounts: Mutex<HashMap<String, Window>>,
    addresses: Mutex<HashMap<IpAddr, Window>>,
}

impl LoginLimiter {
    pub fn new(window: Duration, max_per_account: u32, max_per_ip: u32) -> Self {
        Self {
            window,
            max_per_account,
            max_per_ip,
            accounts: Mutex::new(HashMap::new()),
            addresses: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` when either key is over its limit: the time until it may try again.
    pub fn check(&self, account: &str, ip: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let account_wait = blocked(&self.accounts, account, self.max_per_account, self.window, now);
        let ip_wait = ip.and_then(|ip| blocked(&self.addresses, &ip, self.max_per_ip, self.window, now));
        match account_wait.max(ip_wait) {
            Some(wait) => Err(wait.as_secs().max(1)),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, account: &str, ip: Option<IpAddr>) {
        let now = Instant::now();
        bump(&self.accounts, account.to_string(), self.window, now);
        if let Some(ip) = ip {
            bump(&self.addresses, ip, self.window, now);
        }
    }

    /// A successful login clears the account's failures (not the address's).
    pub fn record_success(&self, account: &str) {
        self.accounts.lock().expect("limiter lock").remove(account);
    }
}

fn blocked<K, Q>(map: &Mutex<HashMap<K, Window>>, key: &Q, max: u32, window: Duration, now: Instant) -> Option<Duration>
where
    K: std::hash::Hash + Eq + std::borrow::Borrow<Q>,
    Q: std::hash::Hash + Eq + ?Sized,
{
    let map = map.lock().expect("limiter lock");
    let entry = map.get(key)?;
    let elapsed = now.duration_since(entry.started);
    (elapsed < window && entry.failures >= max).then(|| window - elapsed)
}

fn bump<K: std::hash::Hash + Eq + Clone>(map: &Mutex<HashMap<K, Window>>, key: K, window: Duration, now: Instant) {
    let mut map = map.lock().expect("limiter lock");
    if map.len() > PRUNE_ABOVE {
        map.retain(|_, w| now.duration_since(w.started) < window);
    }
    let entry = map.entry(key).or_insert(Window { started: now, failures: 0 });
    if now.duration_since(entry.started) >= window {
        *entry = Window { started: now, failures: 0 };
    }
    entry.failures += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_is_blocked_after_max_failures() {
        let limiter = LoginLimiter::new(Duration::from_secs(60), 3, 100);
        for _ in 0..3 {
            assert!(limiter.check("alice", None).is_ok());
            limiter.record_failure("alice", None);
        }
        let wait = limiter.check("alice", None).unwrap_err();
        assert!(wait > 0 && wait <= 60);
        assert!(limiter.check("bob", None).is_ok(), "other accounts are unaffected");
    }

    #[test]
    fn address_is_blocked_across_accounts() {
        let limiter = LoginLimiter::new(Duration::from_secs(60), 100, 2);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        limiter.record_failure("a", Some(ip));
        limiter.record_failure("b", Some(ip));
        assert!(limiter.check("c", Some(ip)).is_err());
        assert!(limiter.check("c", Some("127.0.0.2".parse().unwrap())).is_ok());
    }

    #[test]
    fn window_expires() {
        let limiter = LoginLimiter::new(Duration::from_millis(50), 1, 100);
        limiter.record_failure("alice", None);
        assert!(limiter.check("alice", None).is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert!(limiter.check("alice", None).is_ok());
    }

    #[test]
    fn success_clears_the_account() {
        let limiter = LoginLimiter::new(Duration::from_secs(60), 2, 100);
        limiter.record_failure("alice", None);
        limiter.record_success("alice");
        limiter.record_failure("alice", None);
        assert!(limiter.check("alice", None).is_ok());
    }
}
