//! Gateway time to first byte: a streaming Messages request through the container's
//! relay, the user's socket and the gateway to the mock model, against the same request
//! sent to the mock directly. The same client code runs in both cases: inside the
//! container's network namespace (entered with nsenter) and on the host.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bollard::query_parameters::InspectContainerOptions;
use cchub_e2e::{TestHub, TEST_KEY};
use cchub_policy::GATEWAY_RELAY_PORT;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

use crate::stats::Report;

pub async fn run(requests: usize) -> anyhow::Result<Report> {
    let hub = TestHub::start().await?;
    let user = hub.create_user("bench-gateway").await?;
    let id = hub.start_workspace(&user).await?;
    let inspect = hub.runtime.client().inspect_container(&id, None::<InspectContainerOptions>).await?;
    let pid = inspect.state.and_then(|s| s.pid).context("container has no pid")?;
    let mock = hub.mock.as_ref().context("mock model")?.addr();
    let exe = std::env::current_exe()?;

    let relay_addr = format!("127.0.0.1:{GATEWAY_RELAY_PORT}");
    let through_hub = Command::new("nsenter")
        .arg("-t")
        .arg(pid.to_string())
        .arg("-n")
        .arg(&exe)
        .args(["ttfb-client", &relay_addr, &requests.to_string()])
        .output()
        .await
        .context("cannot run nsenter (util-linux) as root")?;
    let direct = Command::new(&exe)
        .args(["ttfb-client", &mock.to_string(), &requests.to_string(), TEST_KEY])
        .output()
        .await?;
    let report = Report {
        name: "gateway time to first byte",
        hub: parse_samples(&through_hub.stdout, &through_hub.stderr)?,
        floor: parse_samples(&direct.stdout, &direct.stderr)?,
        target: "added <= 2 ms",
    };
    report.print_detail();
    Ok(report)
}

fn parse_samples(stdout: &[u8], stderr: &[u8]) -> anyhow::Result<Vec<Duration>> {
    let samples: Vec<Duration> = String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .map(Duration::from_nanos)
        .collect();
    if samples.is_empty() {
        bail!("the client printed no samples: {}", String::from_utf8_lossy(stderr));
    }
    Ok(samples)
}

/// `ttfb-client ADDR N [KEY]`: N requests, one connection each; prints nanoseconds from
/// connect to the first response byte, one per line.
pub async fn client_mode(args: &[String]) -> anyhow::Result<()> {
    let addr = args.first().context("address missing")?;
    let count: usize = args.get(1).context("count missing")?.parse()?;
    let key = args.get(2).cloned().unwrap_or_else(|| "placeholder".into());
    let body = r#"{"model":"claude-bench","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"[[text: ok]]"}]}"#;
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nanthropic-version: 2023-06-01\r\nx-api-key: {key}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    for round in 0..count + 5 {
        let started = Instant::now();
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        stream.write_all(request.as_bytes()).await?;
        let mut first = [0u8; 1];
        stream.read_exact(&mut first).await?;
        let elapsed = started.elapsed();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await?;
        if !rest.starts_with(b"TTP/1.1 200") {
            bail!("unexpected response: {}", String::from_utf8_lossy(&rest[..rest.len().min(200)]));
        }
        // The first rounds warm connection pools and caches; they are not reported.
        if round >= 5 {
            println!("{}", elapsed.as_nanos());
        }
    }
    Ok(())
}
