//! Host firewall rules for per-user internal networks.
//!
//! Docker keeps an internal network from reaching other networks, but the host has the
//! network's gateway address on the bridge, so services listening on the host's wildcard
//! address would answer a container. One `INPUT` rule per bridge drops everything the
//! host receives on it. Containers need nothing from the host over IP: the model and the
//! egress proxy are reached through Unix sockets.

use tokio::process::Command;
use tracing::info;

use crate::RuntimeError;

/// Makes sure the host drops packets arriving on `bridge` for itself.
pub async fn isolate_bridge(bridge: &str) -> Result<(), RuntimeError> {
    check_name(bridge)?;
    if rule_present(bridge).await? {
        return Ok(());
    }
    run(&["-I", "INPUT", "-i", bridge, "-j", "DROP"], bridge).await?;
    info!(bridge, "host input from the internal network's bridge is dropped");
    Ok(())
}

/// Removes the rule of `bridge`, if present.
pub async fn release_bridge(bridge: &str) -> Result<(), RuntimeError> {
    check_name(bridge)?;
    while rule_present(bridge).await? {
        run(&["-D", "INPUT", "-i", bridge, "-j", "DROP"], bridge).await?;
    }
    Ok(())
}

/// Returns whether the host drops packets arriving on `bridge` for itself.
pub async fn rule_present(bridge: &str) -> Result<bool, RuntimeError> {
    check_name(bridge)?;
    let status = iptables(&["-C", "INPUT", "-i", bridge, "-j", "DROP"], bridge).await?;
    // iptables -C exits 1 when the rule is absent and 2 or more on other errors.
    match status.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(firewall_error(bridge, &status)),
    }
}

fn check_name(bridge: &str) -> Result<(), RuntimeError> {
    let valid = !bridge.is_empty() && bridge.len() <= 15 && bridge.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(RuntimeError::Firewall {
            bridge: bridge.to_string(),
            message: "not a valid interface name".into(),
        })
    }
}

async fn run(args: &[&str], bridge: &str) -> Result<(), RuntimeError> {
    let output = iptables(args, bridge).await?;
    if output.status.success() {
        Ok(())
    } else {
        Err(firewall_error(bridge, &output))
    }
}

async fn iptables(args: &[&str], bridge: &str) -> Result<std::process::Output, RuntimeError> {
    // -w waits for the xtables lock that dockerd may hold.
    Command::new("iptables").arg("-w").args(args).output().await.map_err(|err| RuntimeError::Firewall {
        bridge: bridge.to_string(),
        message: format!("cannot run iptables: {err}; install iptables on the host"),
    })
}

fn firewall_error(bridge: &str, output: &std::process::Output) -> RuntimeError {
    RuntimeError::Firewall {
        bridge: bridge.to_string(),
        message: format!("iptables exited with {}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim()),
    }
}
