//! `cchub-mock-model`: runs the mock Messages API server until interrupted.
//!
//! Usage: `cchub-mock-model [--listen ADDR] [--expect-key KEY]`. The default address is
//! 127.0.0.1:8787. Point the hub at it with `CCHUB_MODEL_UPSTREAM=http://ADDR`.

use std::net::SocketAddr;

use anyhow::{bail, Context};
use cchub_testkit::mock_model::MockModel;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();

    let mut listen: SocketAddr = "127.0.0.1:8787".parse()?;
    let mut expected_key = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let value = args.next().context("--listen needs an address such as 127.0.0.1:8787")?;
                listen = value.parse().with_context(|| format!("invalid --listen address {value:?}"))?;
            }
            "--expect-key" => expected_key = Some(args.next().context("--expect-key needs a value")?),
            "-h" | "--help" => {
                println!("usage: cchub-mock-model [--listen ADDR] [--expect-key KEY]");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}; see --help"),
        }
    }

    let mock = MockModel::start(listen, expected_key)
        .await
        .with_context(|| format!("failed to listen on {listen}"))?;
    println!("mock model listening on {}", mock.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
