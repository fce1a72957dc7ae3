use std::path::Path;

use anyhow::bail;
use clap::Subcommand;

use super::load_config;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Print a seccomp profile as the engine receives it.
    Seccomp {
        /// Profile name; only `default` exists.
        #[arg(long, default_value = "default")]
        profile: String,
    },
}

pub fn run(config_path: Option<&Path>, command: PolicyCommand) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    match command {
        PolicyCommand::Seccomp { profile } => {
            if profile != "default" {
                bail!("unknown seccomp profile {profile:?}; the available profile is default");
            }
            let profile = cchub_policy::seccomp::profile(config.security.seccomp)?;
            super::print_line(format_args!("{}", serde_json::to_string_pretty(&profile)?))?;
        }
    }
    Ok(())
}
