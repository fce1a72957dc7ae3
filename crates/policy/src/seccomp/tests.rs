use super::*;

fn compiled() -> Profile {
    profile(SeccompChoice::Default).unwrap()
}

fn allowed_unconditionally(profile: &Profile) -> Vec<String> {
    profile
        .syscalls
        .iter()
        .filter(|r| r.action == "SCMP_ACT_ALLOW" && r.args.is_empty())
        .flat_map(|r| r.names.clone())
        .collect()
}

#[test]
fn builtin_allowlist_compiles() {
    let profile = compiled();
    assert_eq!(profile.default_action, "SCMP_ACT_ERRNO");
    assert_eq!(profile.default_errno_ret, EPERM);
    assert!(allowed_unconditionally(&profile).len() > 200);
}

#[test]
fn dangerous_calls_are_not_allowed() {
    let profile = compiled();
    let allowed: Vec<&String> = profile
        .syscalls
        .iter()
        .filter(|r| r.action == "SCMP_ACT_ALLOW")
        .flat_map(|r| &r.names)
        .collect();
    for name in DENIED {
        assert!(!allowed.iter().any(|a| a == name), "{name} must not be allowed");
    }
    for required in ["mount", "umount2", "unshare", "setns", "ptrace", "keyctl", "add_key", "bpf",
        "perf_event_open", "userfaultfd", "kexec_load", "init_module", "pivot_root"]
    {
        assert!(DENIED.contains(&required), "{required} missing from DENIED");
    }
}

#[test]
fn clone_is_allowed_only_without_namespace_flags() {
    let profile = compiled();
    let clone: Vec<&Rule> = profile.syscalls.iter().filter(|r| r.names == ["clone"]).collect();
    assert_eq!(clone.len(), 1);
    assert_eq!(clone[0].args.len(), 1);
    let condition = &clone[0].args[0];
    assert_eq!(condition.op, "SCMP_CMP_MASKED_EQ");
    assert_eq!(condition.value, 0x7E02_0000);
    assert_eq!(condition.value_two, 0);
}

#[test]
fn clone3_returns_enosys() {
    let profile = compiled();
    let rule = profile.syscalls.iter().find(|r| r.names == ["clone3"]).unwrap();
    assert_eq!(rule.action, "SCMP_ACT_ERRNO");
    assert_eq!(rule.errno_ret, Some(38));
}

#[test]
fn start_up_calls_are_allowed() {
    // runc needs these between installing the filter and exec'ing the container's
    // init; a profile without them cannot start a container at all.
    let allowed = allowed_unconditionally(&compiled());
    for name in ["prctl", "capget", "capset", "setgroups", "setresuid", "setresgid", "execve",
        "fstat", "close", "futex", "ioctl", "getdents64", "newfstatat", "rt_sigreturn"]
    {
        assert!(allowed.iter().any(|a| a == name), "{name} must be allowed");
    }
}

#[test]
fn no_rule_repeats_an_argument_index() {
    let profile = compiled();
    rules::check_no_repeated_index(&profile.syscalls).unwrap();

    let mut bad = profile.syscalls[1].clone();
    bad.args.push(bad.args[0].clone());
    assert!(rules::check_no_repeated_index(&[bad]).is_err());
}

#[test]
fn allowlist_naming_a_denied_call_is_rejected() {
    let list = Allowlist::parse("groups:\n  - name: bad\n    reason: test\n    syscalls: [read, mount]\n").unwrap();
    let err = compile(&list).unwrap_err();
    assert!(err.to_string().contains("mount"), "{err}");
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
    let first = profile_json(SeccompChoice::Default).unwrap();
    let second = profile_json(SeccompChoice::Default).unwrap();
    assert_eq!(first, second);
    assert!(!first.contains('\n'));
    let parsed: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(parsed["defaultAction"], "SCMP_ACT_ERRNO");
}
