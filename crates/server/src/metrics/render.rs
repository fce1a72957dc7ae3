//! The text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::{Histogram, Metrics, Socket, BUCKETS};

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (bound, count) in BUCKETS.iter().zip(h.buckets) {
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", h.count);
    let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
    let _ = writeln!(out, "{name}_sum{braces} {}", h.sum);
    let _ = writeln!(out, "{name}_count{braces} {}", h.count);
}

/// Values read at scrape time rather than kept in the registry.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Workspace containers by (state, tier).
    pub containers: BTreeMap<(String, String), u64>,
    /// User accounts, active and disabled, or `None` when the database query failed.
    pub users: Option<(u64, u64)>,
    /// Size and free bytes of the file system holding the data directory.
    pub data_filesystem: Option<(u64, u64)>,
}

/// Renders the registry plus the gauges read at scrape time.
pub fn render(metrics: &Metrics, gauges: &Gauges) -> String {
    let containers = &gauges.containers;
    let mut out = String::new();
    header(&mut out, "cchub_build_info", "gauge", "Version of the running hub.");
    let _ = writeln!(out, "cchub_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));

    header(&mut out, "cchub_http_request_duration_seconds", "histogram", "HTTP requests by method, route and status.");
    for ((method, route, status), h) in metrics.http.lock().expect("metrics poisoned").iter() {
        let labels = format!("method=\"{}\",route=\"{}\",status=\"{status}\"", escape(method), escape(route));
        histogram(&mut out, "cchub_http_request_duration_seconds", &labels, h);
    }

    header(&mut out, "cchub_websocket_connections", "gauge", "Open WebSocket connections by kind.");
    for kind in [Socket::Chat, Socket::Shell] {
        let _ = writeln!(out, "cchub_websocket_connections{{kind=\"{}\"}} {}", kind.as_str(), metrics.sockets[kind as usize].load(Ordering::Relaxed));
    }

    header(&mut out, "cchub_containers", "gauge", "Workspace containers by state and tier.");
    for ((state, tier), count) in containers {
        let _ = writeln!(out, "cchub_containers{{state=\"{}\",tier=\"{}\"}} {count}", escape(state), escape(tier));
    }

    header(&mut out, "cchub_users", "gauge", "User accounts by state.");
    if let Some((active, disabled)) = gauges.users {
        let _ = writeln!(out, "cchub_users{{state=\"active\"}} {active}");
        let _ = writeln!(out, "cchub_users{{state=\"disabled\"}} {disabled}");
    }
    header(&mut out, "cchub_data_filesystem_bytes", "gauge", "Size and free space of the file system holding the data directory.");
    if let Some((size, free)) = gauges.data_filesystem {
        let _ = writeln!(out, "cchub_data_filesystem_bytes{{kind=\"size\"}} {size}");
        let _ = writeln!(out, "cchub_data_filesystem_bytes{{kind=\"free\"}} {free}");
    }
    header(&mut out, "cchub_container_failures_total", "counter", "Workspace containers that stopped without the hub stopping them.");
    let _ = writeln!(out, "cchub_container_failures_total {}", metrics.container_failures.load(Ordering::Relaxed));

    header(&mut out, "cchub_container_start_duration_seconds", "histogram", "Time to make a workspace container run, by action.");
    for (action, h) in metrics.container_starts.lock().expect("metrics poisoned").iter() {
        histogram(&mut out, "cchub_container_start_duration_seconds", &format!("action=\"{action}\""), h);
    }

    header(&mut out, "cchub_agent_runs_started_total", "counter", "Agent runs started.");
    let _ = writeln!(out, "cchub_agent_runs_started_total {}", metrics.runs_started.load(Ordering::Relaxed));
    header(&mut out, "cchub_agent_run_duration_seconds", "histogram", "Ended agent runs by outcome: finished, failed or aborted.");
    for (outcome, h) in metrics.runs_ended.lock().expect("metrics poisoned").iter() {
        histogram(&mut out, "cchub_agent_run_duration_seconds", &format!("outcome=\"{outcome}\""), h);
    }

    header(&mut out, "cchub_gateway_tokens_total", "counter", "Model tokens through the gateway by tier and direction.");
    for ((tier, direction), count) in metrics.tokens.lock().expect("metrics poisoned").iter() {
        let _ = writeln!(out, "cchub_gateway_tokens_total{{tier=\"{}\",direction=\"{direction}\"}} {count}", escape(tier));
    }

    header(&mut out, "cchub_budget_rejections_total", "counter", "Model calls refused because the monthly budget is spent.");
    let _ = writeln!(out, "cchub_budget_rejections_total {}", metrics.budget_rejections.load(Ordering::Relaxed));
    header(&mut out, "cchub_oom_kills_total", "counter", "Processes killed in workspaces for memory.");
    let _ = writeln!(out, "cchub_oom_kills_total {}", metrics.oom_kills.load(Ordering::Relaxed));
    header(&mut out, "cchub_quota_hits_total", "counter", "Workspace limits reached, by kind: pids or disk.");
    for (kind, count) in metrics.quota_hits.lock().expect("metrics poisoned").iter() {
        let _ = writeln!(out, "cchub_quota_hits_total{{kind=\"{kind}\"}} {count}");
    }
    header(&mut out, "cchub_backup_last_success_timestamp_seconds", "gauge", "Unix time of the last successful backup made by this process; 0 before one.");
    let _ = writeln!(out, "cchub_backup_last_success_timestamp_seconds {}", metrics.backup_last_success.load(Ordering::Relaxed));
    header(&mut out, "cchub_backup_last_result", "gauge", "1 when the last backup succeeded, 0 when it failed, -1 before the first.");
    let _ = writeln!(out, "cchub_backup_last_result {}", metrics.backup_last_result.load(Ordering::Relaxed));
    header(&mut out, "cchub_login_failures_total", "counter", "Failed sign-ins and password changes.");
    let _ = writeln!(out, "cchub_login_failures_total {}", metrics.login_failures.load(Ordering::Relaxed));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_lines_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(0.003);
        h.observe(0.2);
        let mut out = String::new();
        histogram(&mut out, "x", "a=\"b\"", &h);
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.005\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.25\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"+Inf\"} 2\n"), "{out}");
        assert!(out.contains("x_count{a=\"b\"} 2\n"), "{out}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
