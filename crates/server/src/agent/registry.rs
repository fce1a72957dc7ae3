use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// The agent runs in progress, at most one per user.
#[derive(Default, Clone)]
pub struct RunRegistry {
    active: Arc<Mutex<HashMap<i64, ActiveRun>>>,
}

struct ActiveRun {
    run_id: String,
    abort: watch::Sender<bool>,
}

/// Held by a running run; dropping it frees the user's slot.
pub struct RunGuard {
    registry: RunRegistry,
    user_id: i64,
    run_id: String,
    pub abort: watch::Receiver<bool>,
}

impl RunRegistry {
    /// Claims the user's run slot; `None` while another run of the user is active.
    pub fn try_start(&self, user_id: i64, run_id: &str) -> Option<RunGuard> {
        let mut active = self.active.lock().expect("run registry poisoned");
        if active.contains_key(&user_id) {
            return None;
        }
        let (sender, receiver) = watch::channel(false);
        active.insert(user_id, ActiveRun { run_id: run_id.to_string(), abort: sender });
        Some(RunGuard {
            registry: self.clone(),
            user_id,
            run_id: run_id.to_string(),
            abort: receiver,
        })
    }

    /// Asks the user's active run to stop; `false` when there is none.
    pub fn abort(&self, user_id: i64) -> bool {
        let active = self.active.lock().expect("run registry poisoned");
        match active.get(&user_id) {
            Some(run) => run.abort.send(true).is_ok(),
            None => false,
        }
    }

    pub fn is_active(&self, user_id: i64) -> bool {
        self.active.lock().expect("run registry poisoned").contains_key(&user_id)
    }
}

impl RunGuard {
    pub fn run_id(&self) -> &str {
        &self.run_id
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        let mut active = self.registry.active.lock().expect("run registry poisoned");
        if active.get(&self.user_id).is_some_and(|run| run.run_id == self.run_id) {
            active.remove(&self.user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_run_per_user() {
        let registry = RunRegistry::default();
        let first = registry.try_start(1, "a").unwrap();
        assert!(registry.try_start(1, "b").is_none());
        assert!(registry.try_start(2, "c").is_some());
        assert!(registry.abort(1));
        assert!(*first.abort.borrow());
        drop(first);
        assert!(!registry.is_active(1));
        assert!(registry.try_start(1, "d").is_some());
    }
}
