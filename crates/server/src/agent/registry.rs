//! Agent runs that outlive the socket that started them.
//!
//! Each run keeps a log of the messages it produced, numbered from 1. A client that
//! (re)attaches names the last number it saw and gets the rest of the log, then the live
//! messages, so nothing is lost or repeated. Finished runs stay attachable for a while.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

/// How long a finished run's log stays available for a late reconnect.
const KEEP_FINISHED: Duration = Duration::from_secs(15 * 60);
/// Most messages kept per run; older ones are dropped and a reader is told so.
const MAX_LOG_MESSAGES: usize = 20_000;

/// The runs of every user.
#[derive(Default, Clone)]
pub struct RunRegistry {
    runs: Arc<Mutex<HashMap<String, Arc<Run>>>>,
}

/// One agent run and its message log.
pub struct Run {
    pub id: String,
    pub user_id: i64,
    started: Instant,
    abort: watch::Sender<bool>,
    /// The number of the newest message; readers wait on it.
    newest: watch::Sender<u64>,
    log: Mutex<RunLog>,
}

#[derive(Default)]
struct RunLog {
    /// (number, message), oldest first.
    messages: Vec<(u64, Value)>,
    finished_at: Option<Instant>,
    session_id: Option<String>,
}

/// What a client sees of a run in `GET /api/runs`.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub run_id: String,
    pub session_id: Option<String>,
    pub running: bool,
    pub last_seq: u64,
    pub age_secs: u64,
}

/// Why a run could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimitReached {
    pub limit: u32,
}

/// Messages of a run from a given number on.
pub struct RunReader {
    run: Arc<Run>,
    cursor: u64,
    newest: watch::Receiver<u64>,
}

impl RunRegistry {
    /// Registers a new run unless the user already has `limit` runs in progress.
    pub fn start(&self, user_id: i64, run_id: &str, limit: u32) -> Result<Arc<Run>, RunLimitReached> {
        let mut runs = self.runs.lock().expect("run registry poisoned");
        runs.retain(|_, run| !run.expired());
        let active = runs.values().filter(|r| r.user_id == user_id && r.is_running()).count();
        if active >= limit as usize {
            return Err(RunLimitReached { limit });
        }
        let run = Arc::new(Run {
            id: run_id.to_string(),
            user_id,
            started: Instant::now(),
            abort: watch::channel(false).0,
            newest: watch::channel(0).0,
            log: Mutex::new(RunLog::default()),
        });
        runs.insert(run_id.to_string(), run.clone());
        Ok(run)
    }

    /// The user's run `run_id`, finished or not.
    pub fn get(&self, user_id: i64, run_id: &str) -> Option<Arc<Run>> {
        let runs = self.runs.lock().expect("run registry poisoned");
        runs.get(run_id).filter(|r| r.user_id == user_id && !r.expired()).cloned()
    }

    /// The user's runs, newest first.
    pub fn list(&self, user_id: i64) -> Vec<RunInfo> {
        let runs = self.runs.lock().expect("run registry poisoned");
        let mut mine: Vec<&Arc<Run>> = runs.values().filter(|r| r.user_id == user_id && !r.expired()).collect();
        mine.sort_by_key(|r| std::cmp::Reverse(r.started));
        mine.into_iter().map(|r| r.info()).collect()
    }

    /// Asks every running run of the user to stop; returns how many were asked.
    pub fn abort_all(&self, user_id: i64) -> usize {
        let runs = self.runs.lock().expect("run registry poisoned");
        runs.values().filter(|r| r.user_id == user_id && r.is_running()).filter(|r| r.request_abort()).count()
    }

    pub fn active_count(&self, user_id: i64) -> usize {
        let runs = self.runs.lock().expect("run registry poisoned");
        runs.values().filter(|r| r.user_id == user_id && r.is_running()).count()
    }
}

impl Run {
    /// Appends a message and wakes the readers; returns its number.
    pub fn push(&self, message: Value) -> u64 {
        self.append(message, false)
    }

    /// Appends the last message and marks the run finished in one step, so that no
    /// reader sees the run finished without that message, nor the message while the
    /// run still counts as running.
    pub fn finish_with(&self, message: Value) -> u64 {
        self.append(message, true)
    }

    fn append(&self, message: Value, last: bool) -> u64 {
        let mut log = self.log.lock().expect("run log poisoned");
        let number = log.messages.last().map(|(n, _)| n + 1).unwrap_or(1);
        if message["type"] == "event" && message["event"]["type"] == "system" && message["event"]["subtype"] == "init" {
            log.session_id = message["event"]["session_id"].as_str().map(str::to_string);
        }
        log.messages.push((number, message));
        if last {
            log.finished_at = Some(Instant::now());
        }
        if log.messages.len() > MAX_LOG_MESSAGES {
            let excess = log.messages.len() - MAX_LOG_MESSAGES;
            log.messages.drain(..excess);
        }
        drop(log);
        self.newest.send_replace(number);
        number
    }

    /// Marks the run finished; readers get the rest of the log and then stop.
    pub fn finish(&self) {
        self.log.lock().expect("run log poisoned").finished_at = Some(Instant::now());
        // Wake readers even when no message came with the end.
        self.newest.send_modify(|_| {});
    }

    pub fn is_running(&self) -> bool {
        self.log.lock().expect("run log poisoned").finished_at.is_none()
    }

    fn expired(&self) -> bool {
        self.log.lock().expect("run log poisoned").finished_at.is_some_and(|at| at.elapsed() > KEEP_FINISHED)
    }

    /// Asks the run to stop; `false` when it already finished.
    pub fn request_abort(&self) -> bool {
        if !self.is_running() {
            return false;
        }
        self.abort.send_replace(true);
        true
    }

    pub fn abort_signal(&self) -> watch::Receiver<bool> {
        self.abort.subscribe()
    }

    pub fn session_id(&self) -> Option<String> {
        self.log.lock().expect("run log poisoned").session_id.clone()
    }

    pub fn info(&self) -> RunInfo {
        let log = self.log.lock().expect("run log poisoned");
        RunInfo {
            run_id: self.id.clone(),
            session_id: log.session_id.clone(),
            running: log.finished_at.is_none(),
            last_seq: log.messages.last().map(|(n, _)| *n).unwrap_or(0),
            age_secs: self.started.elapsed().as_secs(),
        }
    }

    /// A reader of the messages numbered above `after`.
    pub fn reader(self: &Arc<Self>, after: u64) -> RunReader {
        RunReader {
            run: self.clone(),
            cursor: after,
            newest: self.newest.subscribe(),
        }
    }
}

/// One step of a [`RunReader`].
pub enum ReadOutcome {
    Message(u64, Value),
    /// Messages up to this number were dropped from the log before they were read.
    Gap(u64),
    Finished,
}

impl RunReader {
    /// Waits for the next message; [`ReadOutcome::Finished`] once the run ended and
    /// everything was read.
    pub async fn next(&mut self) -> ReadOutcome {
        loop {
            {
                let log = self.run.log.lock().expect("run log poisoned");
                if let Some((oldest, _)) = log.messages.first() {
                    if *oldest > self.cursor + 1 {
                        let skipped = oldest - 1;
                        self.cursor = skipped;
                        return ReadOutcome::Gap(skipped);
                    }
                }
                if let Some((number, message)) = log.messages.iter().find(|(n, _)| *n > self.cursor) {
                    self.cursor = *number;
                    return ReadOutcome::Message(*number, message.clone());
                }
                if log.finished_at.is_some() {
                    return ReadOutcome::Finished;
                }
            }
            if self.newest.changed().await.is_err() {
                return ReadOutcome::Finished;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn reader_gets_the_log_then_live_messages() {
        let registry = RunRegistry::default();
        let run = registry.start(1, "r1", 1).unwrap();
        run.push(json!({"n": 1}));
        run.push(json!({"n": 2}));
        let mut reader = run.reader(1);
        let live = run.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            live.finish_with(json!({"n": 3}));
        });
        let mut seen = Vec::new();
        loop {
            match reader.next().await {
                ReadOutcome::Message(number, message) => seen.push((number, message["n"].as_u64().unwrap())),
                ReadOutcome::Gap(_) => panic!("no gap expected"),
                ReadOutcome::Finished => break,
            }
        }
        assert_eq!(seen, [(2, 2), (3, 3)]);
    }

    #[test]
    fn limit_per_user() {
        let registry = RunRegistry::default();
        let first = registry.start(1, "a", 1).unwrap();
        assert_eq!(registry.start(1, "b", 1).err(), Some(RunLimitReached { limit: 1 }));
        assert!(registry.start(2, "c", 1).is_ok(), "other users are not counted");
        assert!(registry.start(1, "d", 2).is_ok(), "a higher limit admits a second run");
        first.finish();
        assert_eq!(registry.active_count(1), 1);
        assert!(registry.get(2, "a").is_none(), "runs are private to their user");
        assert!(registry.get(1, "a").is_some(), "finished runs stay attachable");
    }

    #[test]
    fn abort_reaches_the_run() {
        let registry = RunRegistry::default();
        let run = registry.start(1, "a", 1).unwrap();
        let signal = run.abort_signal();
        assert_eq!(registry.abort_all(1), 1);
        assert!(*signal.borrow());
        run.finish();
        assert_eq!(registry.abort_all(1), 0);
    }
}
