pub mod image;
pub mod policy;
pub mod serve;
pub mod user;

use std::path::Path;

use anyhow::Context;
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
