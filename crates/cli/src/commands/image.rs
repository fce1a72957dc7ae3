use std::path::Path;

use anyhow::Context;
use cchub_runtime::image::{build, BuildOptions};
use cchub_runtime::DockerRuntime;
use clap::Subcommand;

use super::load_config;

#[derive(Subcommand)]
pub enum ImageCommand {
    /// Build the workspace image (containers.image); skipped when the inputs are unchanged.
    Build {
        /// Build even when an image with the same inputs exists.
        #[arg(long)]
        force: bool,
        /// Do not try a registry; make the Debian base with debootstrap.
        #[arg(long)]
        offline: bool,
    },
}

pub async fn run(config_path: Option<&Path>, command: ImageCommand) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    let ImageCommand::Build { force, offline } = command;
    let runtime = DockerRuntime::connect(&config.docker.socket_path).await.context("cannot build the image")?;
    let layout = config.layout();
    layout.ensure().with_context(|| format!("cannot prepare {}", layout.root().display()))?;

    let progress = |line: &str| {
        let _ = super::print_line(format_args!("  {line}"));
    };
    let options = BuildOptions {
        image: config.containers.image.clone(),
        cache_dir: layout.cache_dir(),
        force,
        offline,
        progress: &progress,
    };
    let report = build(&runtime, &options).await.context("image build failed")?;
    if report.up_to_date {
        super::print_line(format_args!("{} is up to date ({}, {:.1} s)", report.image, short(&report.image_id), report.seconds))?;
    } else {
        println!(
            "built {} ({}) from {} with Claude Code {} in {:.0} s",
            report.image,
            short(&report.image_id),
            report.base,
            report.claude_code_version,
            report.seconds
        );
    }
    Ok(())
}

fn short(id: &str) -> &str {
    let id = id.trim_start_matches("sha256:");
    &id[..id.len().min(12)]
}
