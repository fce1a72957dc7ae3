//! The seccomp profiles given to workspace containers.
//!
//! The allowlist is data (`allowlist.yaml`, grouped by purpose with a reason per group);
//! the argument-checked rules are code (`rules.rs`). Two flavours exist: `default`, close
//! to Docker's own default minus what an agent container does not need, and `enterprise`,
//! which also refuses netlink sockets, allows only the plain Linux persona and asks the
//! kernel to log denied calls. [`compile`] turns an allowlist and a flavour into the JSON
//! the Docker Engine takes inline in `HostConfig.SecurityOpt`.

mod allowlist;
mod rules;

use std::sync::OnceLock;

use serde::Serialize;

use crate::PolicyError;

pub use allowlist::{Allowlist, AllowlistChanges, SyscallGroup};
pub use rules::RULE_MANAGED;

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

/// The set of argument rules and options a profile is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    Default,
    Enterprise,
}

impl Flavor {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "default" => Some(Flavor::Default),
            "enterprise" => Some(Flavor::Enterprise),
            _ => None,
        }
    }
}

/// A seccomp profile in the Docker / OCI JSON format.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: &'static str,
    pub default_errno_ret: u32,
    pub arch_map: Vec<ArchMap>,
    /// Filter flags; engines that do not know the field ignore it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<&'static str>,
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

/// A condition on one syscall argument. For `SCMP_CMP_MASKED_EQ`, `value` is the mask
/// and `value_two` the expected result.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ArgCondition {
    pub index: u32,
    pub value: u64,
    pub value_two: u64,
    pub op: &'static str,
}

/// A named profile ready for the engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompiledProfile {
    pub name: String,
    pub flavor: Flavor,
    /// Calls allowed without conditions.
    pub allowed: usize,
    /// Compact JSON, ready for `seccomp=<json>`.
    pub json: String,
}

/// Compiles an allowlist plus the argument-checked rules of `flavor` into a profile.
pub fn compile(allowlist: &Allowlist, flavor: Flavor) -> Result<Profile, PolicyError> {
    allowlist.check_against(DENIED, "cchub always denies it")?;
    allowlist.check_against(RULE_MANAGED, "it is governed by an argument rule")?;

    let mut syscalls = vec![Rule {
        names: allowlist.all_syscalls(),
        action: "SCMP_ACT_ALLOW",
        errno_ret: None,
        args: Vec::new(),
        comment: None,
    }];
    syscalls.extend(rules::argument_rules(flavor));
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
        flags: match flavor {
            Flavor::Default => Vec::new(),
            Flavor::Enterprise => vec!["SECCOMP_FILTER_FLAG_LOG"],
        },
        syscalls,
    })
}

/// Compiles and names a profile.
pub fn compile_named(name: &str, allowlist: &Allowlist, flavor: Flavor) -> Result<CompiledProfile, PolicyError> {
    let profile = compile(allowlist, flavor)?;
    let json = serde_json::to_string(&profile).map_err(|err| PolicyError::InvalidSeccomp(err.to_string()))?;
    Ok(CompiledProfile {
        name: name.to_string(),
        flavor,
        allowed: allowlist.all_syscalls().len(),
        json,
    })
}

/// The built-in profile `name` (`default` or `enterprise`), compiled once per process.
pub fn builtin(name: &str) -> Option<Result<CompiledProfile, PolicyError>> {
    static DEFAULT: OnceLock<Result<CompiledProfile, PolicyError>> = OnceLock::new();
    static ENTERPRISE: OnceLock<Result<CompiledProfile, PolicyError>> = OnceLock::new();
    let (cell, flavor) = match Flavor::parse(name)? {
        Flavor::Default => (&DEFAULT, Flavor::Default),
        Flavor::Enterprise => (&ENTERPRISE, Flavor::Enterprise),
    };
    Some(cell.get_or_init(|| compile_named(name, &Allowlist::builtin()?, flavor)).clone())
}

#[cfg(test)]
mod tests;
