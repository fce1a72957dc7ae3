use std::path::Path;

use anyhow::{bail, Context};
use cchub_runtime::DockerRuntime;
use cchub_server::backup;
use cchub_store::Store;
use clap::Subcommand;

use super::{load_config, print_line};

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back up the database and every user's files now.
    Create,
    /// List the complete backups, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Check every checksum and extract every archive into a scratch folder.
    Verify { name: String },
    /// Put users' files back from a backup (their containers are stopped first).
    Restore {
        name: String,
        /// Only this user's files.
        #[arg(long)]
        user: Option<String>,
        /// Every user's files; required when --user is not given.
        #[arg(long, conflicts_with = "user")]
        all: bool,
    },
}

fn progress(line: &str) {
    eprintln!("{line}");
}

pub async fn run(config_path: Option<&Path>, command: BackupCommand) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    super::check_database(&config, false)?;
    match command {
        BackupCommand::Create => {
            let store = Store::open(config.database.url.expose(), 2).await.context("cannot open the database")?;
            let runtime = DockerRuntime::connect(&config.docker.socket_path).await?;
            let created = backup::create(&config, &store, &runtime, config.backup_keep, &progress).await;
            store.close().await;
            let manifest = created.context("the backup failed")?;
            print_line(format_args!("created backup {} ({} users)", manifest.name, manifest.users.len()))
        }
        BackupCommand::List { json } => {
            let manifests = backup::list(&config)?;
            if json {
                return print_line(serde_json::to_string_pretty(&manifests)?);
            }
            for manifest in manifests {
                let bytes: u64 = manifest.database.bytes + manifest.users.iter().map(|u| u.archive.bytes).sum::<u64>();
                print_line(format_args!("{}  {} users  {} bytes", manifest.name, manifest.users.len(), bytes))?;
            }
            Ok(())
        }
        BackupCommand::Verify { name } => {
            let report = backup::verify(&config, &name, &progress).await?;
            if report.problems.is_empty() {
                return print_line(format_args!("backup {} is sound: {} files checked", report.name, report.files_checked));
            }
            for problem in &report.problems {
                print_line(format_args!("problem: {problem}"))?;
            }
            bail!("backup {} has {} problem(s)", report.name, report.problems.len())
        }
        BackupCommand::Restore { name, user, all } => {
            if user.is_none() && !all {
                bail!("give --user NAME to restore one user's files, or --all for every user");
            }
            let runtime = DockerRuntime::connect(&config.docker.socket_path).await?;
            let restored = backup::restore(&config, &runtime, &name, user.as_deref(), &progress).await?;
            print_line(format_args!("restored the files of {restored} user(s) from {name}; their next start brings the workspace back"))
        }
    }
}
