//! `cchub-bench`: measures the hub against a floor taken in the same run and prints
//! ratios. Run it as root on a machine with the Docker Engine and the workspace image:
//! `cargo run --release -p cchub-bench` (or `scripts/bench.sh`).
//!
//! `cchub-bench ttfb-client ADDR N [KEY]` is an internal mode: the gateway benchmark runs
//! it inside a container's network namespace with nsenter.

mod cold_start;
mod gateway;
mod memory;
mod relay;
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

    let mut reports: Vec<Report> = Vec::new();
    println!("cchub benchmarks (p50 of each; floor = the same work without the hub)\n");
    reports.push(cold_start::run(if iterations > 0 { iterations } else { 10 }).await?);
    reports.push(gateway::run(if iterations > 0 { iterations * 20 } else { 200 }).await?);
    reports.push(relay::run(if iterations > 0 { iterations * 20 } else { 200 }).await?);
    let (open, echo) = terminal::run(if iterations > 0 { iterations } else { 20 }, if iterations > 0 { iterations * 20 } else { 300 }).await?;
    reports.push(open);
    reports.push(echo);

    memory::run().await?;

    println!("\n{:<30} {:>12} {:>12} {:>10} {:>12}  target", "benchmark", "cchub p50", "floor p50", "ratio", "added p50");
    for report in &reports {
        report.print();
    }
    Ok(())
}
