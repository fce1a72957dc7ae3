//! Prometheus metrics in the text exposition format, kept in one process-wide registry.
//! Labels never name a user: per-user figures come from the admin API.

mod render;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub use render::{render, Gauges};

/// Upper bounds of the duration histograms, in seconds.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Counts of observations per bucket, their sum and count.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bucket, bound) in self.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }
}

/// Kinds of WebSocket connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Socket {
    Chat,
    Shell,
}

impl Socket {
    fn as_str(self) -> &'static str {
        match self {
            Socket::Chat => "chat",
            Socket::Shell => "shell",
        }
    }
}

/// Every metric the hub keeps between scrapes.
pub struct Metrics {
    http: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    sockets: [AtomicI64; 2],
    container_starts: Mutex<BTreeMap<&'static str, Histogram>>,
    runs_started: AtomicU64,
    runs_ended: Mutex<BTreeMap<&'static str, Histogram>>,
    tokens: Mutex<BTreeMap<(String, &'static str), u64>>,
    budget_rejections: AtomicU64,
    oom_kills: AtomicU64,
    container_failures: AtomicU64,
    quota_hits: Mutex<BTreeMap<&'static str, u64>>,
    login_failures: AtomicU64,
    /// Unix seconds of the last successful backup, 0 before the first.
    backup_last_success: AtomicI64,
    /// 1 when the last backup succeeded, 0 when it failed, -1 before the first.
    backup_last_result: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            http: Mutex::default(),
            sockets: Default::default(),
            container_starts: Mutex::default(),
            runs_started: AtomicU64::default(),
            runs_ended: Mutex::default(),
            tokens: Mutex::default(),
            budget_rejections: AtomicU64::default(),
            oom_kills: AtomicU64::default(),
            container_failures: AtomicU64::default(),
            quota_hits: Mutex::default(),
            login_failures: AtomicU64::default(),
            backup_last_success: AtomicI64::new(0),
            backup_last_result: AtomicI64::new(-1),
        }
    }
}

/// Returns the process-wide registry.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

/// Counts an open WebSocket until dropped.
pub struct SocketGuard(Socket);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        metrics().sockets[self.0 as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut http = self.http.lock().expect("metrics poisoned");
        http.entry((method.to_string(), route.to_string(), status)).or_default().observe(elapsed.as_secs_f64());
    }

    pub fn socket_opened(&self, kind: Socket) -> SocketGuard {
        self.sockets[kind as usize].fetch_add(1, Ordering::Relaxed);
        SocketGuard(kind)
    }

    /// Records how long making a container run took; `action` is created, started,
    /// unpaused or recreated.
    pub fn container_start(&self, action: &'static str, elapsed: Duration) {
        self.container_starts.lock().expect("metrics poisoned").entry(action).or_default().observe(elapsed.as_secs_f64());
    }

    pub fn run_started(&self) {
        self.runs_started.fetch_add(1, Ordering::Relaxed);
    }

    /// Records an ended agent run; `outcome` is finished, failed or aborted.
    pub fn run_ended(&self, outcome: &'static str, elapsed: Duration) {
        self.runs_ended.lock().expect("metrics poisoned").entry(outcome).or_default().observe(elapsed.as_secs_f64());
    }

    /// Adds model tokens of a tier; `direction` is input, output, cache_write or cache_read.
    pub fn tokens(&self, tier: &str, direction: &'static str, count: u64) {
        if count > 0 {
            *self.tokens.lock().expect("metrics poisoned").entry((tier.to_string(), direction)).or_default() += count;
        }
    }

    pub fn budget_rejection(&self) {
        self.budget_rejections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn oom_kill(&self) {
        self.oom_kills.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a workspace container that stopped without the hub stopping it.
    pub fn container_failure(&self) {
        self.container_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a limit hit; `kind` is pids or disk.
    pub fn quota_hit(&self, kind: &'static str) {
        *self.quota_hits.lock().expect("metrics poisoned").entry(kind).or_default() += 1;
    }

    pub fn backup_result(&self, success: bool) {
        self.backup_last_result.store(i64::from(success), Ordering::Relaxed);
        if success {
            self.backup_last_success.store(cchub_store::now_ms() / 1000, Ordering::Relaxed);
        }
    }

    pub fn login_failure(&self) {
        self.login_failures.fetch_add(1, Ordering::Relaxed);
    }
}
