//! Rules that allow a call only for some argument values.

use std::collections::BTreeSet;

use super::{ArgCondition, Rule, ENOSYS};
use crate::PolicyError;

/// Every `CLONE_NEW*` flag: a clone with any of them set would create a namespace.
pub const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

const AF_UNIX: u64 = 1;
const AF_INET: u64 = 2;
const AF_INET6: u64 = 10;
const AF_NETLINK: u64 = 16;

fn allow_if(name: &str, index: u32, op: &'static str, value: u64, value_two: u64, comment: &str) -> Rule {
    Rule {
        names: vec![name.to_string()],
        action: "SCMP_ACT_ALLOW",
        errno_ret: None,
        args: vec![ArgCondition {
            index,
            value,
            value_two,
            op,
        }],
        comment: Some(comment.to_string()),
    }
}

pub(super) fn argument_rules() -> Vec<Rule> {
    let mut rules = vec![
        allow_if(
            "clone",
            0,
            "SCMP_CMP_MASKED_EQ",
            CLONE_NAMESPACE_FLAGS,
            0,
            "threads and processes, but no CLONE_NEW* flag",
        ),
        Rule {
            names: vec!["clone3".to_string()],
            action: "SCMP_ACT_ERRNO",
            errno_ret: Some(ENOSYS),
            args: Vec::new(),
            comment: Some(
                "its flags live in memory seccomp cannot read; ENOSYS makes glibc fall back to clone".into(),
            ),
        },
    ];

    // One rule per family: conditions on the same argument inside one rule would be
    // split by runc into separate rules anyway, which reads as a different policy.
    for (family, name) in [
        (AF_UNIX, "AF_UNIX"),
        (AF_INET, "AF_INET"),
        (AF_INET6, "AF_INET6"),
        (AF_NETLINK, "AF_NETLINK: glibc's getifaddrs and the ip tool"),
    ] {
        rules.push(allow_if("socket", 0, "SCMP_CMP_EQ", family, 0, name));
    }

    // personality(2) with the values programs use to query or set the default Linux
    // persona; anything else could turn off address space randomisation.
    for (persona, name) in [
        (0x0, "PER_LINUX"),
        (0x8, "PER_LINUX32"),
        (0x20000, "PER_LINUX with UNAME26"),
        (0x20008, "PER_LINUX32 with UNAME26"),
        (0xffff_ffff, "query the current persona"),
    ] {
        rules.push(allow_if("personality", 0, "SCMP_CMP_EQ", persona, 0, name));
    }
    rules
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
