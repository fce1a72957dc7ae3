//! When each user last did something, and how many terminals they have open, so that idle
//! containers can be stopped without cutting off anyone who is working.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Entry {
    last: Instant,
    terminals: usize,
}

#[derive(Clone)]
pub struct Activity {
    started: Instant,
    entries: Arc<Mutex<HashMap<i64, Entry>>>,
}

/// Held while a terminal is open; dropping it closes the count.
pub struct TerminalGuard {
    activity: Activity,
    user_id: i64,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            entries: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl Activity {
    pub fn touch(&self, user_id: i64) {
        let mut entries = self.entries.lock().expect("activity map poisoned");
        let entry = entries.entry(user_id).or_insert(Entry { last: Instant::now(), terminals: 0 });
        entry.last = Instant::now();
    }

    pub fn terminal_opened(&self, user_id: i64) -> TerminalGuard {
        {
            let mut entries = self.entries.lock().expect("activity map poisoned");
            let entry = entries.entry(user_id).or_insert(Entry { last: Instant::now(), terminals: 0 });
            entry.terminals += 1;
            entry.last = Instant::now();
        }
        TerminalGuard {
            activity: self.clone(),
            user_id,
        }
    }

    pub fn open_terminals(&self, user_id: i64) -> usize {
        self.entries.lock().expect("activity map poisoned").get(&user_id).map(|e| e.terminals).unwrap_or(0)
    }

    /// Time since the user's last activity; a user not seen since the hub started counts
    /// from the start, so adopted containers get a full idle period.
    pub fn idle_for(&self, user_id: i64) -> Duration {
        let entries = self.entries.lock().expect("activity map poisoned");
        entries.get(&user_id).map(|e| e.last).unwrap_or(self.started).elapsed()
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let mut entries = self.activity.entries.lock().expect("activity map poisoned");
        if let Some(entry) = entries.get_mut(&self.user_id) {
            entry.terminals = entry.terminals.saturating_sub(1);
            entry.last = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminals_are_counted() {
        let activity = Activity::default();
        let first = activity.terminal_opened(1);
        let second = activity.terminal_opened(1);
        assert_eq!(activity.open_terminals(1), 2);
        drop(first);
        assert_eq!(activity.open_terminals(1), 1);
        drop(second);
        assert_eq!(activity.open_terminals(1), 0);
        assert_eq!(activity.open_terminals(2), 0);
    }

    #[test]
    fn touch_resets_idle_time() {
        let activity = Activity::default();
        std::thread::sleep(Duration::from_millis(20));
        assert!(activity.idle_for(1) >= Duration::from_millis(20));
        activity.touch(1);
        assert!(activity.idle_for(1) < Duration::from_millis(20));
    }
}
