//! `cchub-bench`: measures the hub against a floor taken in the same run and prints
//! ratios. Run it as root on a machine with the Docker Engine and the workspace image:
//! `cargo run --release -p cchub-bench` (or `scripts/bench.sh`).
//!
//! `cchub-bench [cold-start|gateway|relay|terminal|resume|memory]...` runs only the named ones.
//! `cchub-bench ttfb-client ADDR N [KEY]` is an internal mode: the gateway benchmark runs
//! it inside a container's network namespace with nsenter.

mod cold_start;
mod gateway;
mod memory;
mod relay;
mod resume;
mod stats;
mod terminal;

use stats::Report;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("ttfb-client") {
        return gateway::client_mode(&args[2..]).await;
    }
    let iterations: usize = std::env::var("CCHUB_BENCH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let scaled = |default: usize, factor: usize| if iterations > 0 { iterations * factor } else { default };
    // Names given on the command line select benchmarks; none runs them all.
    let selected: Vec<String> = args[1..].to_vec();
    let wanted = |name: &str| selected.is_empty() || selected.iter().any(|s| s == name);

    let mut reports: Vec<Report> = Vec::new();
    println!("cchub benchmarks (p50 of each; floor = the same work without the hub)\n");
    if wanted("cold-start") {
        reports.push(cold_start::run(scaled(10, 1)).await?);
    }
    if wanted("gateway") {
        reports.push(gateway::run(scaled(200, 20)).await?);
    }
    if wanted("relay") {
        reports.push(relay::run(scaled(200, 20)).await?);
    }
    if wanted("terminal") {
        let (open, echo) = terminal::run(scaled(20, 1), scaled(300, 20)).await?;
        reports.push(open);
        reports.push(echo);
    }
    if wanted("resume") {
        reports.push(resume::run(scaled(30, 1)).await?);
    }
    if wanted("memory") {
        memory::run().await?;
    }

    println!("\n{:<30} {:>12} {:>12} {:>10} {:>12}  target", "benchmark", "cchub p50", "floor p50", "ratio", "added p50");
    for report in &reports {
        report.print();
    }
    Ok(())
}
