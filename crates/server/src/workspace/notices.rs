//! Messages the hub pushes to a user's open chat and terminal sockets, such as "your
//! workspace ran out of memory".

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::broadcast;

/// Notices kept per user for a subscriber that falls behind.
const BACKLOG: usize = 16;

/// One message for a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// Stable kind: `oom`, `exited`, `pids_limit`, `disk_full` or `queued`.
    pub kind: &'static str,
    /// English text for people, saying what happened and what to do.
    pub message: String,
}

/// Per-user broadcast channels; a channel exists while someone listens.
#[derive(Default)]
pub struct Notices {
    channels: Mutex<HashMap<i64, broadcast::Sender<Notice>>>,
}

impl Notices {
    pub fn subscribe(&self, user_id: i64) -> broadcast::Receiver<Notice> {
        let mut channels = self.channels.lock().expect("notice map poisoned");
        channels.entry(user_id).or_insert_with(|| broadcast::channel(BACKLOG).0).subscribe()
    }

    /// Sends `notice` to every open socket of the user; returns how many received it.
    pub fn send(&self, user_id: i64, notice: Notice) -> usize {
        let mut channels = self.channels.lock().expect("notice map poisoned");
        let Some(sender) = channels.get(&user_id) else { return 0 };
        match sender.send(notice) {
            Ok(count) => count,
            Err(_) => {
                // No subscriber is left, so the channel goes.
                channels.remove(&user_id);
                0
            }
        }
    }
}

/// Waits for the next notice; skips what a slow reader missed, and never returns once the
/// channel is closed.
pub async fn next_notice(receiver: &mut broadcast::Receiver<Notice>) -> Notice {
    loop {
        match receiver.recv().await {
            Ok(notice) => return notice,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

impl Notice {
    /// Returns the notice as a JSON message for a chat or terminal socket.
    pub fn to_message(&self) -> serde_json::Value {
        serde_json::json!({"type": "notice", "kind": self.kind, "message": self.message})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_user_receives() {
        let notices = Notices::default();
        let mut mine = notices.subscribe(1);
        let mut theirs = notices.subscribe(2);
        let notice = Notice { kind: "oom", message: "out of memory".into() };
        assert_eq!(notices.send(1, notice.clone()), 1);
        assert_eq!(mine.recv().await.unwrap(), notice);
        assert!(theirs.try_recv().is_err());
    }

    #[test]
    fn nobody_listening_is_fine() {
        let notices = Notices::default();
        assert_eq!(notices.send(9, Notice { kind: "oom", message: String::new() }), 0);
        drop(notices.subscribe(9));
        assert_eq!(notices.send(9, Notice { kind: "oom", message: String::new() }), 0);
    }
}
