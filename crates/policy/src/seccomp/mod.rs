//! The seccomp profile given to every workspace container.
//!
//! The allowlist is data (`allowlist.yaml`, grouped by purpose with a reason per group);
//! the argument-checked rules are code (`rules.rs`). [`profile_json`] compiles both into
//! the JSON format the Docker Engine takes inline in `HostConfig.SecurityOpt`.

mod allowlist;
mod rules;

use std::sync::OnceLock;

use serde::Serialize;

use crate::{PolicyError, SeccompChoice};

pub use allowlist::{Allowlist, SyscallGroup};

/// Calls that must never be allowed: each one can break out of the container, reach the
/// kernel's attack surface or change host-wide state. `compile` rejects an allowlist that
/// lists one, and the escape tests try each of them inside a real container.
pub const DENIED: &[&str] = &[
    "mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "process_madvise", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "userfaultfd", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "open_by_handle_at", "name_to_handle_at", "reboot", "swapon",
    "swapoff", "acct", "settimeofday", "clock_settime", "stime", "sethostname",
    "setdomainname", "syslog", "quotactl", "quotactl_fd", "lookup_dcookie",
    "fanotify_init", "iopl", "ioperm", "vhangup", "modify_ldt", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "nfsservctl", "uselib", "vm86", "vm86old",
    "get_mempolicy", "set_mempolicy", "mbind", "migrate_pages", "move_pages",
];

/// errno returned for every call the profile does not allow.
pub const EPERM: u32 = 1;
/// errno returned for `clone3`, so that glibc falls back to `clone`, which is checked.
pub const ENOSYS: u32 = 38;

/// A seccomp profile in the Docker / OCI JSON format.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: &'static str,
    pub default_errno_ret: u32,
    pub arch_map: Vec<ArchMap>,
    pub syscalls: Vec<Rule>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: &'static str,
    pub sub_architectures: Vec<&'static str>,
}

/// One rule: the action for `names`, taken only when every condition in `args` holds.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub names: Vec<String>,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgCondition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A condition on one syscall argument.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ArgCondition {
    pub index: u32,
    pub value: u64,
    pub value_two: u64,
    pub op: &'static str,
}

/// Builds the profile for `choice`.
pub fn profile(choice: SeccompChoice) -> Result<Profile, PolicyError> {
    match choice {
        SeccompChoice::Default => compile(&Allowlist::builtin()?),
    }
}

/// Builds the profile for `choice` as compact JSON, ready for `seccomp=<json>`.
///
/// The result is computed once per process: the allowlist is compiled into the binary,
/// and every container spec needs the profile.
pub fn profile_json(choice: SeccompChoice) -> Result<String, PolicyError> {
    static DEFAULT: OnceLock<Result<String, PolicyError>> = OnceLock::new();
    let compiled = match choice {
        SeccompChoice::Default => DEFAULT.get_or_init(|| {
            let profile = profile(choice)?;
            serde_json::to_string(&profile).map_err(|err| PolicyError::InvalidSeccomp(err.to_string()))
        }),
    };
    compiled.clone()
}

/// Compiles an allowlist plus the argument-checked rules into a profile.
pub fn compile(allowlist: &Allowlist) -> Result<Profile, PolicyError> {
    allowlist.check_against(DENIED)?;

    let mut syscalls = vec![Rule {
        names: allowlist.all_syscalls(),
        action: "SCMP_ACT_ALLOW",
        errno_ret: None,
        args: Vec::new(),
        comment: None,
    }];
    syscalls.extend(rules::argument_rules());
    rules::check_no_repeated_index(&syscalls)?;

    Ok(Profile {
        default_action: "SCMP_ACT_ERRNO",
        default_errno_ret: EPERM,
        // Only 64-bit calls: 32-bit x86 and x32 entry points are outside the map, so the
        // kernel refuses them before any rule is consulted.
        arch_map: vec![
            ArchMap {
                architecture: "SCMP_ARCH_X86_64",
                sub_architectures: Vec::new(),
            },
            ArchMap {
                architecture: "SCMP_ARCH_AARCH64",
                sub_architectures: Vec::new(),
            },
        ],
        syscalls,
    })
}

#[cfg(test)]
mod tests;
