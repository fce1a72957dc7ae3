//! `cchub`: a self-hosted, multi-user hub for Claude Code.

mod commands;
mod logging;
mod rotating;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cchub", version, about = "A self-hosted, multi-user hub for Claude Code")]
struct Cli {
    /// YAML configuration file; defaults to $CCHUB_CONFIG, then to built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub: web API, WebSocket endpoints and model gateway.
    Serve,
    /// Manage user accounts in the hub's database.
    #[command(subcommand)]
    User(commands::user::UserCommand),
    /// Build the workspace image.
    #[command(subcommand)]
    Image(commands::image::ImageCommand),
    /// Print the sandbox policy.
    #[command(subcommand)]
    Policy(commands::policy::PolicyCommand),
    /// Check the deployment against the security checklist (non-zero exit on any FAIL).
    Doctor {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Back up, list, verify and restore the database and the users' files.
    #[command(subcommand)]
    Backup(commands::backup::BackupCommand),
    /// Remove orphaned and long-stopped containers, unused networks, dangling workspace
    /// images and stale store rows; every removal is audited.
    Gc {
        /// List what would be removed without removing it.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve => commands::serve::run(cli.config.as_deref()).await,
            Command::User(command) => commands::user::run(cli.config.as_deref(), command).await,
            Command::Image(command) => commands::image::run(cli.config.as_deref(), command).await,
            Command::Policy(command) => commands::policy::run(cli.config.as_deref(), command),
            Command::Doctor { json } => commands::doctor::run_doctor(cli.config.as_deref(), json).await,
            Command::Backup(command) => commands::backup::run(cli.config.as_deref(), command).await,
            Command::Gc { dry_run, json } => commands::gc::run_gc(cli.config.as_deref(), dry_run, json).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", error_text(&err));
            ExitCode::FAILURE
        }
    }
}

/// Joins an error and its causes, leaving out a cause whose text the message before it
/// already contains (many errors quote their source).
fn error_text(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
