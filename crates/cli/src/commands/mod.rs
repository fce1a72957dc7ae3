pub mod backup;
pub mod doctor;
pub mod gc;
pub mod image;
pub mod policy;
pub mod serve;
pub mod user;

use std::path::Path;

use anyhow::{bail, Context};
use cchub_config::Config;

pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    Config::from_env(path).context("invalid configuration")
}

/// Prints a line to stdout. A closed pipe (`cchub user list | head -1`) ends the output
/// quietly instead of panicking as `println!` would.
pub fn print_line(text: impl std::fmt::Display) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}") {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(()),
    }
}

/// Catches a command run in the wrong folder: without a configuration file the data
/// directory is `./workspace`, and a new, empty database there would hide the real one.
pub fn check_database(config: &cchub_config::Config, creating_user: bool) -> anyhow::Result<()> {
    let url = config.database.url.expose();
    let Some(path) = url.strip_prefix("sqlite://").map(|rest| rest.split('?').next().unwrap_or(rest)) else {
        return Ok(());
    };
    if std::path::Path::new(path).exists() {
        return Ok(());
    }
    if creating_user {
        eprintln!("note: creating a new database at {path}; the hub must use the same data directory");
        return Ok(());
    }
    bail!(
        "no cchub database at {path}; run this in the folder where the hub runs, or give the hub's --config or CCHUB_DATA_DIR"
    )
}

