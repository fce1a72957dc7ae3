//! When each user last did something, and how many terminals and file transfers they have
//! open, so that idle containers can be paused or stopped without cutting off anyone who
//! is working.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Entry {
    last: Instant,
    /// Open terminals and file transfers.
    busy: usize,
}

#[derive(Clone)]
pub struct Activity {
    started: Instant,
    entries: Arc<Mutex<HashMap<i64, Entry>>>,
}

/// Held while a terminal or a file transfer is open; dropping it ends the count.
pub struct BusyGuard {
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
        let entry = entries.entry(user_id).or_insert(Entry { last: Instant::now(), busy: 0 });
        entry.last = Instant::now();
    }

    /// Counts a terminal or a file transfer until the guard is dropped.
    pub fn busy(&self, user_id: i64) -> BusyGuard {
        {
            let mut entries = self.entries.lock().expect("activity map poisoned");
            let entry = entries.entry(user_id).or_insert(Entry { last: Instant::now(), busy: 0 });
            entry.busy += 1;
            entry.last = Instant::now();
        }
        BusyGuard {
            activity: self.clone(),
            user_id,
        }
    }

    pub fn busy_count(&self, user_id: i64) -> usize {
        self.entries.lock().expect("activity map poisoned").get(&user_id).map(|e| e.busy).unwrap_or(0)
    }

    /// Time since the user's last activity; a user not seen since the hub started counts
    /// from the start, so adopted containers get a full idle period.
    pub fn idle_for(&self, user_id: i64) -> Duration {
        let entries = self.entries.lock().expect("activity map poisoned");
        entries.get(&user_id).map(|e| e.last).unwrap_or(self.started).elapsed()
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let mut entries = self.activity.entries.lock().expect("activity map poisoned");
        if let Some(entry) = entries.get_mut(&self.user_id) {
            entry.busy = entry.busy.saturating_sub(1);
            entry.last = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_guards_are_counted() {
        let activity = Activity::default();
        let first = activity.busy(1);
        let second = activity.busy(1);
        assert_eq!(activity.busy_count(1), 2);
        drop(first);
        assert_eq!(activity.busy_count(1), 1);
        drop(second);
        assert_eq!(activity.busy_count(1), 0);
        assert_eq!(activity.busy_count(2), 0);
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
