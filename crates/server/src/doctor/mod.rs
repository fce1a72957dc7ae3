//! `cchub doctor`: the deployment security checklist, run against the live system. Each
//! item is PASS, WARN or FAIL with the evidence it was decided on.

mod checks;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cchub_config::Config;
use cchub_runtime::DockerRuntime;
use cchub_store::Store;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One checklist item.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub title: &'static str,
    pub status: Status,
    pub evidence: String,
}

/// The whole checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
    /// The worst status of all checks.
    pub status: Status,
}

impl Report {
    pub fn has_failures(&self) -> bool {
        self.status == Status::Fail
    }
}

/// What the checks look at.
pub struct DoctorContext<'a> {
    pub config: &'a Config,
    pub store: &'a Store,
    pub runtime: &'a DockerRuntime,
}

/// Runs every check.
pub async fn run(context: &DoctorContext<'_>) -> Report {
    let mut checks = checks::containers(context).await;
    checks.push(checks::apparmor(context.config));
    checks.push(checks::seccomp_profiles(context.config));
    checks.push(checks::jwt_key(context.config));
    checks.push(checks::secrets_at_rest(context).await);
    checks.push(checks::data_dir(context.config));
    checks.push(checks::transport(context.config));
    checks.push(checks::user_namespaces(context).await);
    checks.push(checks::image_age(context).await);
    checks.push(checks::disk_quota(context.config));
    let status = checks.iter().map(|c| c.status).max().unwrap_or(Status::Pass);
    Report { checks, status }
}

pub(crate) fn file_mode(path: &Path) -> Option<u32> {
    std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
}
