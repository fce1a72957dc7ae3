use std::path::Path;

use anyhow::bail;
use clap::Subcommand;

use super::load_config;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Print a seccomp profile as the engine receives it.
    Seccomp {
        /// Profile name: default, enterprise or a custom one from the configuration
        /// (default: security.seccomp_profile).
        #[arg(long)]
        profile: Option<String>,
    },
}

pub fn run(config_path: Option<&Path>, command: PolicyCommand) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    match command {
        PolicyCommand::Seccomp { profile } => {
            let name = profile.unwrap_or_else(|| config.security.seccomp_profile.clone());
            let Some(compiled) = config.security.seccomp_profiles.get(&name) else {
                let known: Vec<&str> = config.security.seccomp_profiles.keys().map(String::as_str).collect();
                bail!("unknown seccomp profile {name:?}; available: {}", known.join(", "));
            };
            let parsed: serde_json::Value = serde_json::from_str(&compiled.json)?;
            super::print_line(format_args!("{}", serde_json::to_string_pretty(&parsed)?))?;
        }
    }
    Ok(())
}
