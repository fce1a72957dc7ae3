//! Rules that allow a call only for some argument values.

use std::collections::BTreeSet;

use super::{ArgCondition, Flavor, Rule, ENOSYS};
use crate::PolicyError;

/// Every `CLONE_NEW*` flag: a clone with any of them set would create a namespace.
pub const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// Calls governed by the rules below; an allowlist must not name them.
pub const RULE_MANAGED: &[&str] = &["clone", "clone3", "socket", "personality", "ioctl"];

const AF_UNIX: u64 = 1;
const AF_INET: u64 = 2;
const AF_INET6: u64 = 10;
const AF_NETLINK: u64 = 16;
/// The socket type sits in the low bits of socket()'s second argument; SOCK_NONBLOCK and
/// SOCK_CLOEXEC are higher flags.
const SOCK_TYPE_MASK: u64 = 0xF;
const SOCK_STREAM: u64 = 1;
const SOCK_DGRAM: u64 = 2;
/// Terminal requests that inject input into, or take over, another program's terminal.
const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541C;

fn condition(index: u32, op: &'static str, value: u64, value_two: u64) -> ArgCondition {
    ArgCondition { index, value, value_two, op }
}

fn allow(name: &str, args: Vec<ArgCondition>, comment: &str) -> Rule {
    Rule {
        names: vec![name.to_string()],
        action: "SCMP_ACT_ALLOW",
        errno_ret: None,
        args,
        comment: Some(comment.to_string()),
    }
}

pub(super) fn argument_rules(flavor: Flavor) -> Vec<Rule> {
    let mut rules = vec![
        allow(
            "clone",
            vec![condition(0, "SCMP_CMP_MASKED_EQ", CLONE_NAMESPACE_FLAGS, 0)],
            "threads and processes, but no CLONE_NEW* flag",
        ),
        Rule {
            names: vec!["clone3".to_string()],
            action: "SCMP_ACT_ERRNO",
            errno_ret: Some(ENOSYS),
            args: Vec::new(),
            comment: Some("its flags live in memory seccomp cannot read; ENOSYS makes glibc fall back to clone".into()),
        },
    ];

    // ioctl: every request except TIOCSTI and TIOCLINUX. "Not A and not B" would need two
    // conditions on argument 1, which runc splits into rules that each allow on their own,
    // so the allowed ranges are written out one rule each.
    //
    // The filter compares the request as 64 bits but the kernel uses only the low 32, so
    // TIOCSTI with any upper bit set would pass a plain "greater than TIOCLINUX". The
    // range above TIOCLINUX is therefore written as aligned blocks whose masks also
    // require the upper 32 bits to be zero. The ranges below compare the whole 64 bits
    // and so already exclude upper bits.
    rules.push(allow("ioctl", vec![condition(1, "SCMP_CMP_LT", TIOCSTI, 0)], "requests below TIOCSTI"));
    for request in TIOCSTI + 1..TIOCLINUX {
        rules.push(allow("ioctl", vec![condition(1, "SCMP_CMP_EQ", request, 0)], "requests between TIOCSTI and TIOCLINUX"));
    }
    for (start, bits) in aligned_blocks(TIOCLINUX + 1, u64::from(u32::MAX)) {
        let mask = !((1u64 << bits) - 1);
        rules.push(allow("ioctl", vec![condition(1, "SCMP_CMP_MASKED_EQ", mask, start)], "requests above TIOCLINUX, upper 32 bits zero"));
    }

    // socket: local sockets, and TCP or UDP over IPv4 and IPv6. Raw, packet, AF_ALG and
    // AF_VSOCK sockets match no rule. Each rule names one family (argument 0) and one
    // type (argument 1), so no rule repeats an index.
    rules.push(allow("socket", vec![condition(0, "SCMP_CMP_EQ", AF_UNIX, 0)], "AF_UNIX"));
    for (family, family_name) in [(AF_INET, "AF_INET"), (AF_INET6, "AF_INET6")] {
        for (kind, kind_name) in [(SOCK_STREAM, "SOCK_STREAM"), (SOCK_DGRAM, "SOCK_DGRAM")] {
            rules.push(allow(
                "socket",
                vec![condition(0, "SCMP_CMP_EQ", family, 0), condition(1, "SCMP_CMP_MASKED_EQ", SOCK_TYPE_MASK, kind)],
                &format!("{family_name} {kind_name}"),
            ));
        }
    }
    if flavor == Flavor::Default {
        rules.push(allow("socket", vec![condition(0, "SCMP_CMP_EQ", AF_NETLINK, 0)], "AF_NETLINK: glibc's getifaddrs and the ip tool"));
    }

    // personality(2): the values programs use to query or set the Linux persona; any
    // other could turn off address space randomisation.
    let personas: &[(u64, &str)] = match flavor {
        Flavor::Default => &[
            (0x0, "PER_LINUX"),
            (0x8, "PER_LINUX32"),
            (0x20000, "PER_LINUX with UNAME26"),
            (0x20008, "PER_LINUX32 with UNAME26"),
            (0xffff_ffff, "query the current persona"),
        ],
        Flavor::Enterprise => &[(0x0, "PER_LINUX"), (0xffff_ffff, "query the current persona")],
    };
    for (persona, name) in personas {
        rules.push(allow("personality", vec![condition(0, "SCMP_CMP_EQ", *persona, 0)], name));
    }
    rules
}

/// Splits `first..=last` into the fewest blocks `start..start + 2^bits` with `start`
/// a multiple of `2^bits`, so that each block is one masked comparison.
pub(super) fn aligned_blocks(first: u64, last: u64) -> Vec<(u64, u32)> {
    let mut blocks = Vec::new();
    let mut start = first;
    loop {
        let mut bits = if start == 0 { 63 } else { start.trailing_zeros().min(63) };
        while bits > 0 && start.checked_add((1u64 << bits) - 1).is_none_or(|end| end > last) {
            bits -= 1;
        }
        blocks.push((start, bits));
        let end = start + ((1u64 << bits) - 1);
        if end >= last {
            return blocks;
        }
        start = end + 1;
    }
}

/// Fails if a rule has two conditions on the same argument index.
///
/// runc turns such conditions into separate rules that each allow on their own (an OR),
/// which silently allows far more than the rule appears to.
pub(super) fn check_no_repeated_index(rules: &[Rule]) -> Result<(), PolicyError> {
    for rule in rules {
        let mut seen = BTreeSet::new();
        for condition in &rule.args {
            if !seen.insert(condition.index) {
                return Err(PolicyError::InvalidSeccomp(format!(
                    "rule for {:?} has two conditions on argument {}",
                    rule.names, condition.index
                )));
            }
        }
    }
    Ok(())
}
