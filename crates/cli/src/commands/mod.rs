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
