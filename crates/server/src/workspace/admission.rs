//! Admission control: a host-wide budget of running workspaces (a count and a sum of
//! memory reservations). A start that would exceed it waits in a first-come queue, and
//! the error gives the user's position, so the host is never overcommitted.
//!
//! Paused and stopped containers do not count, so pausing or stopping one frees its share
//! at once.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cchub_config::AdmissionConfig;

/// A queued user who has not asked again for this long loses their place; clients ask
/// every few seconds.
pub const TICKET_TTL: Duration = Duration::from_secs(15);
/// An admitted start counts against the budget until its container runs, at most this long.
const START_GRACE: Duration = Duration::from_secs(60);

/// A running container's share of the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub user_id: i64,
    pub memory_reservation: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Admitted,
    /// 1 is the next user to start.
    Queued { position: usize },
}

#[derive(Default)]
struct State {
    queue: VecDeque<(i64, Instant)>,
    /// Users admitted whose container may not run yet, with their reservation.
    starting: HashMap<i64, (u64, Instant)>,
}

#[derive(Default)]
pub struct Admission {
    state: Mutex<State>,
}

impl Admission {
    /// Decides whether `user_id`, needing `need` bytes of reservation, may start now, given
    /// the containers running now.
    pub fn decide(&self, budget: &AdmissionConfig, user_id: i64, need: u64, running: &[Share], now: Instant) -> Decision {
        let mut state = self.state.lock().expect("admission state poisoned");
        state.queue.retain(|(_, seen)| now.duration_since(*seen) < TICKET_TTL);
        state.starting.retain(|id, (_, at)| now.duration_since(*at) < START_GRACE && !running.iter().any(|s| s.user_id == *id));

        let others = running.iter().filter(|s| s.user_id != user_id).map(|s| s.memory_reservation);
        let pending = state.starting.iter().filter(|(id, _)| **id != user_id).map(|(_, (memory, _))| *memory);
        let shares: Vec<u64> = others.chain(pending).collect();
        let count_fits = budget.max_running.is_none_or(|max| shares.len() < max as usize);
        let memory_fits = budget.max_memory_reservation.is_none_or(|max| shares.iter().sum::<u64>() + need <= max.as_u64());

        let place = state.queue.iter().position(|(id, _)| *id == user_id);
        let first_in_line = place.map_or(state.queue.is_empty(), |index| index == 0);
        if count_fits && memory_fits && first_in_line {
            state.queue.retain(|(id, _)| *id != user_id);
            state.starting.insert(user_id, (need, now));
            return Decision::Admitted;
        }
        let position = match place {
            Some(index) => {
                state.queue[index].1 = now;
                index + 1
            }
            None => {
                state.queue.push_back((user_id, now));
                state.queue.len()
            }
        };
        Decision::Queued { position }
    }

    /// Removes the user from the queue, as when they stop their own workspace.
    pub fn leave(&self, user_id: i64) {
        self.state.lock().expect("admission state poisoned").queue.retain(|(id, _)| *id != user_id);
    }

    /// Forgets an admitted start once its container runs (or failed to start).
    pub fn settled(&self, user_id: i64) {
        self.state.lock().expect("admission state poisoned").starting.remove(&user_id);
    }

    /// Users waiting now.
    #[cfg(test)]
    fn queue_len(&self) -> usize {
        self.state.lock().expect("admission state poisoned").queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cchub_policy::ByteSize;

    fn two_running() -> AdmissionConfig {
        AdmissionConfig {
            max_running: Some(2),
            max_memory_reservation: None,
        }
    }

    fn share(user_id: i64) -> Share {
        Share { user_id, memory_reservation: 512 << 20 }
    }

    #[test]
    fn third_user_waits_for_a_free_place() {
        let admission = Admission::default();
        let now = Instant::now();
        let budget = two_running();
        assert_eq!(admission.decide(&budget, 3, 0, &[share(1), share(2)], now), Decision::Queued { position: 1 });
        assert_eq!(admission.decide(&budget, 4, 0, &[share(1), share(2)], now), Decision::Queued { position: 2 });
        // A place frees up, but user 4 must let user 3 go first.
        assert_eq!(admission.decide(&budget, 4, 0, &[share(1)], now), Decision::Queued { position: 2 });
        assert_eq!(admission.decide(&budget, 3, 0, &[share(1)], now), Decision::Admitted);
        // User 3's start is pending, so the budget is full again.
        assert_eq!(admission.decide(&budget, 4, 0, &[share(1)], now), Decision::Queued { position: 1 });
    }

    #[test]
    fn restarting_own_container_is_not_counted_twice() {
        let admission = Admission::default();
        assert_eq!(admission.decide(&two_running(), 1, 0, &[share(1), share(2)], Instant::now()), Decision::Admitted);
    }

    #[test]
    fn memory_budget_counts_reservations() {
        let admission = Admission::default();
        let budget = AdmissionConfig {
            max_running: None,
            max_memory_reservation: Some(ByteSize::gib(1)),
        };
        let now = Instant::now();
        assert_eq!(admission.decide(&budget, 2, 600 << 20, &[share(1)], now), Decision::Queued { position: 1 });
        assert_eq!(admission.decide(&budget, 2, 512 << 20, &[share(1)], now), Decision::Admitted);
    }

    #[test]
    fn ticket_expires_after_ttl() {
        let admission = Admission::default();
        let budget = two_running();
        let start = Instant::now();
        assert_eq!(admission.decide(&budget, 3, 0, &[share(1), share(2)], start), Decision::Queued { position: 1 });
        assert_eq!(admission.decide(&budget, 4, 0, &[share(1), share(2)], start), Decision::Queued { position: 2 });
        let later = start + TICKET_TTL + Duration::from_secs(1);
        assert_eq!(admission.decide(&budget, 4, 0, &[share(1)], later), Decision::Admitted);
        assert_eq!(admission.queue_len(), 0);
    }
}
