//! Loading the AppArmor profile where the host enforces AppArmor, and saying so plainly
//! where it does not: a configured profile the kernel ignores is never reported as
//! applied.

use std::path::Path;
use std::process::Command;

use cchub_config::Config;
use cchub_policy::apparmor::{profile_text, PROFILE_NAME};
use tracing::{info, warn};

const ENABLED_FLAG: &str = "/sys/module/apparmor/parameters/enabled";
const LOADED_PROFILES: &str = "/sys/kernel/security/apparmor/profiles";

/// Whether the running kernel enforces AppArmor.
pub fn host_supports_apparmor() -> bool {
    std::fs::read_to_string(ENABLED_FLAG).map(|v| v.trim() == "Y").unwrap_or(false)
}

/// Whether a profile of this name is loaded in the kernel.
pub fn profile_loaded(name: &str) -> bool {
    std::fs::read_to_string(LOADED_PROFILES)
        .map(|list| list.lines().any(|line| line.split_whitespace().next() == Some(name)))
        .unwrap_or(false)
}

/// Writes the generated profile to `containers/apparmor/`, loads it when the host enforces
/// AppArmor, and returns the profile name containers get: the configured one, the
/// generated one, or none when the host has no AppArmor.
pub fn prepare(config: &Config) -> Option<String> {
    let dir = config.layout().root().join("containers").join("apparmor");
    let path = dir.join(PROFILE_NAME);
    if let Err(err) = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, profile_text())) {
        warn!(path = %path.display(), error = %err, "cannot write the AppArmor profile");
    }

    if !host_supports_apparmor() {
        match &config.security.apparmor_profile {
            Some(name) => warn!(profile = %name, "security.apparmor_profile is set but this kernel has no AppArmor; nothing enforces it"),
            None => warn!("this kernel has no AppArmor; containers are confined by seccomp, dropped capabilities and no-new-privileges"),
        }
        return None;
    }
    if let Some(name) = &config.security.apparmor_profile {
        return Some(name.clone());
    }
    match load(&path) {
        Ok(()) => {
            info!(profile = PROFILE_NAME, "loaded the AppArmor profile");
            Some(PROFILE_NAME.to_string())
        }
        Err(err) => {
            // Keep the name: starting containers then fails loudly instead of running
            // them unconfined.
            warn!(profile = PROFILE_NAME, error = %err, "cannot load the AppArmor profile; workspaces will not start until it loads");
            Some(PROFILE_NAME.to_string())
        }
    }
}

fn load(path: &Path) -> std::io::Result<()> {
    let output = Command::new("apparmor_parser").arg("-r").arg("-W").arg(path).output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(String::from_utf8_lossy(&output.stderr).trim().to_string()))
    }
}
