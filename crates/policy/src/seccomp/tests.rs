use super::*;

fn compiled(flavor: Flavor) -> Profile {
    compile(&Allowlist::builtin().unwrap(), flavor).unwrap()
}

fn allowed_unconditionally(profile: &Profile) -> Vec<String> {
    profile
        .syscalls
        .iter()
        .filter(|r| r.action == "SCMP_ACT_ALLOW" && r.args.is_empty())
        .flat_map(|r| r.names.clone())
        .collect()
}

fn rules_for<'a>(profile: &'a Profile, name: &str) -> Vec<&'a Rule> {
    profile.syscalls.iter().filter(|r| r.names == [name]).collect()
}

#[test]
fn builtin_profiles_compile() {
    for flavor in [Flavor::Default, Flavor::Enterprise] {
        let profile = compiled(flavor);
        assert_eq!(profile.default_action, "SCMP_ACT_ERRNO");
        assert_eq!(profile.default_errno_ret, EPERM);
        assert!(allowed_unconditionally(&profile).len() > 200);
    }
    assert_eq!(builtin("default").unwrap().unwrap().name, "default");
    assert_eq!(builtin("enterprise").unwrap().unwrap().flavor, Flavor::Enterprise);
    assert!(builtin("unconfined").is_none());
}

#[test]
fn dangerous_calls_are_not_allowed() {
    for flavor in [Flavor::Default, Flavor::Enterprise] {
        let profile = compiled(flavor);
        let allowed: Vec<&String> = profile.syscalls.iter().filter(|r| r.action == "SCMP_ACT_ALLOW").flat_map(|r| &r.names).collect();
        for name in DENIED {
            assert!(!allowed.iter().any(|a| a == name), "{name} must not be allowed");
        }
    }
    for required in ["mount", "umount2", "unshare", "setns", "ptrace", "keyctl", "add_key", "bpf",
        "perf_event_open", "userfaultfd", "kexec_load", "init_module", "pivot_root", "io_uring_setup"]
    {
        assert!(DENIED.contains(&required), "{required} missing from DENIED");
    }
}

#[test]
fn clone_is_allowed_only_without_namespace_flags() {
    let profile = compiled(Flavor::Default);
    let clone = rules_for(&profile, "clone");
    assert_eq!(clone.len(), 1);
    assert_eq!(clone[0].args.len(), 1);
    let condition = &clone[0].args[0];
    assert_eq!(condition.op, "SCMP_CMP_MASKED_EQ");
    assert_eq!(condition.value, 0x7E02_0000);
    assert_eq!(condition.value_two, 0);
}

#[test]
fn clone3_returns_enosys() {
    let profile = compiled(Flavor::Enterprise);
    let rule = rules_for(&profile, "clone3")[0];
    assert_eq!(rule.action, "SCMP_ACT_ERRNO");
    assert_eq!(rule.errno_ret, Some(38));
}

/// Evaluates the ioctl rules for one request, as the kernel filter would.
fn ioctl_allowed(profile: &Profile, request: u64) -> bool {
    rules_for(profile, "ioctl").iter().any(|rule| {
        rule.args.iter().all(|c| match c.op {
            "SCMP_CMP_LT" => request < c.value,
            "SCMP_CMP_GT" => request > c.value,
            "SCMP_CMP_EQ" => request == c.value,
            "SCMP_CMP_MASKED_EQ" => request & c.value == c.value_two,
            other => panic!("unexpected op {other}"),
        })
    })
}

#[test]
fn ioctl_allows_everything_but_terminal_injection() {
    let profile = compiled(Flavor::Default);
    assert!(!ioctl_allowed(&profile, 0x5412), "TIOCSTI");
    assert!(!ioctl_allowed(&profile, 0x541C), "TIOCLINUX");
    for allowed in [0x5401, 0x5413, 0x5414, 0x541B, 0x541D, 0x5421, 0x8912, 0xC0045401, 0xFFFF_FFFF, 0] {
        assert!(ioctl_allowed(&profile, allowed), "{allowed:#x} must be allowed");
    }
    // The kernel drops the upper 32 bits of the request, so these would be TIOCSTI and
    // TIOCLINUX; any request with upper bits set is refused.
    for high in [1u64 << 32, 0xFFFF_FFFF_0000_0000, 1 << 63] {
        for request in [0x5412, 0x541C, 0x5401, 0x8912] {
            assert!(!ioctl_allowed(&profile, high | request), "{:#x} must be refused", high | request);
        }
    }
}

#[test]
fn aligned_blocks_cover_the_range_exactly() {
    for (first, last) in [(0x541D, u64::from(u32::MAX)), (0, 0), (5, 5), (3, 17), (1, u64::MAX - 1)] {
        let blocks = super::rules::aligned_blocks(first, last);
        let mut next = first;
        for (start, bits) in &blocks {
            assert_eq!(*start, next, "blocks of {first:#x}..={last:#x} must be contiguous: {blocks:?}");
            assert_eq!(start % (1u64 << bits), 0, "block {start:#x} is not aligned to 2^{bits}");
            next = start.wrapping_add(1u64 << bits);
        }
        assert_eq!(next.wrapping_sub(1), last, "blocks of {first:#x}..={last:#x} end at {last:#x}: {blocks:?}");
    }
    assert!(super::rules::aligned_blocks(0x541D, u64::from(u32::MAX)).len() <= 40);
}

/// Evaluates the socket rules for (family, type), as the kernel filter would.
fn socket_allowed(profile: &Profile, family: u64, kind: u64) -> bool {
    rules_for(profile, "socket").iter().any(|rule| {
        rule.args.iter().all(|c| {
            let arg = if c.index == 0 { family } else { kind };
            match c.op {
                "SCMP_CMP_EQ" => arg == c.value,
                "SCMP_CMP_MASKED_EQ" => arg & c.value == c.value_two,
                other => panic!("unexpected op {other}"),
            }
        })
    })
}

#[test]
fn socket_families_and_types() {
    const SOCK_NONBLOCK: u64 = 0o4000;
    for flavor in [Flavor::Default, Flavor::Enterprise] {
        let profile = compiled(flavor);
        assert!(socket_allowed(&profile, 1, 1), "AF_UNIX stream");
        assert!(socket_allowed(&profile, 2, 1 | SOCK_NONBLOCK), "TCP over IPv4 with flags");
        assert!(socket_allowed(&profile, 10, 2), "UDP over IPv6");
        assert!(!socket_allowed(&profile, 2, 3), "raw IPv4");
        assert!(!socket_allowed(&profile, 10, 3), "raw IPv6");
        assert!(!socket_allowed(&profile, 17, 3), "AF_PACKET");
        assert!(!socket_allowed(&profile, 38, 5), "AF_ALG");
        assert!(!socket_allowed(&profile, 40, 1), "AF_VSOCK");
    }
    assert!(socket_allowed(&compiled(Flavor::Default), 16, 3), "netlink in default");
    assert!(!socket_allowed(&compiled(Flavor::Enterprise), 16, 3), "no netlink in enterprise");
}

#[test]
fn enterprise_is_stricter() {
    let default = compiled(Flavor::Default);
    let enterprise = compiled(Flavor::Enterprise);
    assert_eq!(rules_for(&default, "personality").len(), 5);
    assert_eq!(rules_for(&enterprise, "personality").len(), 2);
    assert_eq!(enterprise.flags, ["SECCOMP_FILTER_FLAG_LOG"]);
    assert!(default.flags.is_empty());
}

#[test]
fn start_up_calls_are_allowed() {
    // runc needs these between installing the filter and exec'ing the container's
    // init; a profile without them cannot start a container at all.
    let allowed = allowed_unconditionally(&compiled(Flavor::Enterprise));
    for name in ["prctl", "capget", "capset", "setgroups", "setresuid", "setresgid", "execve",
        "fstat", "close", "futex", "getdents64", "newfstatat", "rt_sigreturn"]
    {
        assert!(allowed.iter().any(|a| a == name), "{name} must be allowed");
    }
}

#[test]
fn no_rule_repeats_an_argument_index() {
    let profile = compiled(Flavor::Default);
    rules::check_no_repeated_index(&profile.syscalls).unwrap();

    let mut bad = profile.syscalls[1].clone();
    bad.args.push(bad.args[0].clone());
    assert!(rules::check_no_repeated_index(&[bad]).is_err());
}

#[test]
fn allowlists_naming_forbidden_or_unknown_calls_are_rejected() {
    let list = Allowlist::parse("groups:\n  - name: bad\n    reason: test\n    syscalls: [read, mount]\n").unwrap();
    let err = compile(&list, Flavor::Default).unwrap_err();
    assert!(err.to_string().contains("mount"), "{err}");
    let list = Allowlist::parse("groups:\n  - name: bad\n    reason: test\n    syscalls: [read, ioctl]\n").unwrap();
    assert!(compile(&list, Flavor::Default).unwrap_err().to_string().contains("ioctl"));
    let err = Allowlist::parse("groups:\n  - name: typo\n    reason: test\n    syscalls: [reed]\n").unwrap_err();
    assert!(err.to_string().contains("reed"), "{err}");
}

#[test]
fn malformed_allowlists_are_rejected() {
    for yaml in [
        "groups:\n  - name: a\n    reason: ''\n    syscalls: [read]\n",
        "groups:\n  - name: a\n    reason: r\n    syscalls: [Read]\n",
        "groups:\n  - name: a\n    reason: r\n    syscalls: [read, read]\n",
        "groups:\n  - name: a\n    reason: r\n    syscalls: [read]\n    extra: 1\n",
        "not yaml: [",
    ] {
        assert!(Allowlist::parse(yaml).is_err(), "{yaml:?} should be rejected");
    }
}

#[test]
fn json_is_stable_and_inline_ready() {
    let first = builtin("default").unwrap().unwrap().json;
    let second = compile_named("default", &Allowlist::builtin().unwrap(), Flavor::Default).unwrap().json;
    assert_eq!(first, second);
    assert!(!first.contains('\n'));
    let parsed: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(parsed["defaultAction"], "SCMP_ACT_ERRNO");
}
