use std::collections::BTreeSet;

use serde::Deserialize;

use crate::PolicyError;

const BUILTIN: &str = include_str!("allowlist.yaml");
const KNOWN_SYSCALLS: &str = include_str!("syscalls_x86_64.txt");

/// Calls that a custom profile may not remove: without them no dynamically linked program
/// starts, so the container would fail with an opaque engine error.
const ESSENTIAL: &[&str] = &[
    "execve", "exit", "exit_group", "brk", "mmap", "munmap", "mprotect", "openat", "read", "write", "close", "rt_sigreturn",
];

fn known_syscalls() -> BTreeSet<&'static str> {
    KNOWN_SYSCALLS.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

/// A reviewed list of allowed syscalls, grouped by the purpose they serve.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    pub groups: Vec<SyscallGroup>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyscallGroup {
    pub name: String,
    pub reason: String,
    pub syscalls: Vec<String>,
}

/// An administrator's changes to the shipped allowlist: groups of calls to add and calls
/// to remove. The file has the shape of `allowlist.yaml` plus an optional `remove` list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistChanges {
    #[serde(default)]
    pub groups: Vec<SyscallGroup>,
    #[serde(default)]
    pub remove: Vec<String>,
}

impl AllowlistChanges {
    pub fn parse(yaml: &str) -> Result<Self, PolicyError> {
        let changes: Self = serde_yaml::from_str(yaml).map_err(|err| PolicyError::InvalidSeccomp(err.to_string()))?;
        if changes.groups.is_empty() && changes.remove.is_empty() {
            return Err(PolicyError::InvalidSeccomp("the file has neither groups to add nor calls to remove".into()));
        }
        Allowlist { groups: changes.groups.clone() }.check_shape()?;
        Ok(changes)
    }
}

impl Allowlist {
    /// Returns this allowlist with `changes` applied. A call that is added but already
    /// allowed is kept once, so a full copy of the shipped file is accepted too.
    pub fn with_changes(&self, changes: &AllowlistChanges) -> Result<Self, PolicyError> {
        let mut allowed: BTreeSet<&str> = self.groups.iter().flat_map(|g| &g.syscalls).map(String::as_str).collect();
        let mut groups = self.groups.clone();
        for group in &changes.groups {
            let fresh: Vec<String> = group.syscalls.iter().filter(|name| allowed.insert(name.as_str())).cloned().collect();
            if !fresh.is_empty() {
                groups.push(SyscallGroup { syscalls: fresh, ..group.clone() });
            }
        }
        for name in &changes.remove {
            if ESSENTIAL.contains(&name.as_str()) {
                return Err(PolicyError::InvalidSeccomp(format!("remove lists {name:?}, which every program in the image needs")));
            }
            if !allowed.contains(name.as_str()) {
                return Err(PolicyError::InvalidSeccomp(format!("remove lists {name:?}, which the profile does not allow")));
            }
        }
        for group in &mut groups {
            group.syscalls.retain(|name| !changes.remove.contains(name));
        }
        groups.retain(|group| !group.syscalls.is_empty());
        Ok(Self { groups })
    }

    /// The allowlist shipped with cchub.
    pub fn builtin() -> Result<Self, PolicyError> {
        Self::parse(BUILTIN)
    }

    pub fn parse(yaml: &str) -> Result<Self, PolicyError> {
        let list: Self =
            serde_yaml::from_str(yaml).map_err(|err| PolicyError::InvalidSeccomp(err.to_string()))?;
        list.check_shape()?;
        Ok(list)
    }

    fn check_shape(&self) -> Result<(), PolicyError> {
        let known = known_syscalls();
        let mut seen = BTreeSet::new();
        for group in &self.groups {
            if group.reason.trim().is_empty() {
                return Err(PolicyError::InvalidSeccomp(format!(
                    "group {:?} has no reason",
                    group.name
                )));
            }
            for name in &group.syscalls {
                let well_formed = !name.is_empty()
                    && name.len() <= 40
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !well_formed || !known.contains(name.as_str()) {
                    return Err(PolicyError::InvalidSeccomp(format!(
                        "group {:?} lists {name:?}, which is not a Linux x86_64 syscall",
                        group.name
                    )));
                }
                if !seen.insert(name.as_str()) {
                    return Err(PolicyError::InvalidSeccomp(format!(
                        "{name:?} is listed twice (again in group {:?})",
                        group.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// Fails if any call in `forbidden` is listed; `why` ends the message.
    pub fn check_against(&self, forbidden: &[&str], why: &str) -> Result<(), PolicyError> {
        for group in &self.groups {
            if let Some(name) = group.syscalls.iter().find(|n| forbidden.contains(&n.as_str())) {
                return Err(PolicyError::InvalidSeccomp(format!(
                    "group {:?} lists {name:?}, which cannot be allowed here: {why}",
                    group.name
                )));
            }
        }
        Ok(())
    }

    /// Every allowed call, sorted so the compiled profile is stable.
    pub fn all_syscalls(&self) -> Vec<String> {
        let all: BTreeSet<&String> = self.groups.iter().flat_map(|g| &g.syscalls).collect();
        all.into_iter().cloned().collect()
    }
}
