//! Network modes of users' containers, and the addresses of per-user networks.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::PolicyError;

/// The network modes a tier may use, from the strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// Only a loopback interface; the model is reached through the gateway socket.
    #[default]
    None,
    /// As `none`, plus an HTTP CONNECT proxy on a second socket that lets the container
    /// reach the hosts of the tier's egress allowlist.
    Proxy,
    /// A network of the user's own, with no route out and no other container on it.
    Internal,
    /// Docker's default bridge: the internet and every other bridge container are
    /// reachable. The weakest mode.
    Bridge,
}

impl NetworkMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(NetworkMode::None),
            "proxy" => Some(NetworkMode::Proxy),
            "internal" => Some(NetworkMode::Internal),
            "bridge" => Some(NetworkMode::Bridge),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Proxy => "proxy",
            NetworkMode::Internal => "internal",
            NetworkMode::Bridge => "bridge",
        }
    }
}

/// An IPv4 address pool from which every user's internal network gets its own block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SubnetPool {
    base: Ipv4Addr,
    prefix: u8,
}

/// Each user's internal network is a /29: network, gateway, the container, and room for
/// the engine's own addresses.
const BLOCK_PREFIX: u8 = 29;

/// A user's internal network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InternalNetwork {
    pub name: String,
    /// The host's bridge interface for the network, at most 15 characters, such as
    /// `cc1a2bu42`. The host firewall drops what arrives on it for the host itself.
    pub bridge: String,
    /// CIDR, such as `10.128.0.8/29`.
    pub subnet: String,
    pub gateway: String,
}

impl SubnetPool {
    /// Parses `10.128.0.0/9`. The pool must be aligned, hold at least 256 blocks, and lie
    /// within a private range, because each block becomes a route on the host.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = |reason: &str| format!("{text:?} {reason}; use a private IPv4 block such as 10.128.0.0/9");
        let (address, prefix) = text.split_once('/').ok_or_else(|| invalid("has no /prefix"))?;
        let base: Ipv4Addr = address.parse().map_err(|_| invalid("is not an IPv4 address"))?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid("has an invalid prefix"))?;
        if !(8..=21).contains(&prefix) {
            return Err(invalid("must have a prefix from /8 to /21"));
        }
        let mask = u32::MAX << (32 - prefix);
        if u32::from(base) & !mask != 0 {
            return Err(invalid("is not aligned to its prefix"));
        }
        let last = Ipv4Addr::from(u32::from(base) | !mask);
        if !(base.is_private() && last.is_private() && same_private_range(base, last)) {
            return Err(invalid("is not inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"));
        }
        Ok(Self { base, prefix })
    }

    /// Returns how many users the pool has room for.
    pub fn capacity(&self) -> u64 {
        1u64 << (BLOCK_PREFIX - self.prefix)
    }

    /// Returns the network of user `user_id`: block number `user_id` of the pool, so two
    /// users never share or overlap a block.
    pub fn network_for(&self, instance: &str, user_id: i64) -> Result<InternalNetwork, PolicyError> {
        let index = u64::try_from(user_id).ok().filter(|i| *i < self.capacity()).ok_or_else(|| PolicyError::RejectedSetting {
            setting: "security.internal_subnet_pool",
            reason: format!("user {user_id} is beyond the pool's {} networks; configure a larger pool", self.capacity()),
        })?;
        let block = u32::from(self.base) + (index as u32) * (1 << (32 - BLOCK_PREFIX));
        Ok(InternalNetwork {
            name: internal_network_name(instance, user_id),
            bridge: format!("{}{user_id}", bridge_prefix(instance)),
            subnet: format!("{}/{BLOCK_PREFIX}", Ipv4Addr::from(block)),
            gateway: Ipv4Addr::from(block + 1).to_string(),
        })
    }
}

/// The name of user `user_id`'s internal network, whatever the user's current mode.
pub fn internal_network_name(instance: &str, user_id: i64) -> String {
    format!("{instance}-user-{user_id}-net")
}

/// Returns the start of the bridge names of hub `instance`: `cc`, four hex digits derived
/// from the instance name, and `u`. The bridges of hubs that share an engine then differ
/// while each name stays within the kernel's 15 characters.
pub fn bridge_prefix(instance: &str) -> String {
    use sha2::Digest;
    format!("cc{}u", hex::encode(&sha2::Sha256::digest(instance.as_bytes())[..2]))
}

/// Returns whether two private addresses belong to the same private range.
fn same_private_range(a: Ipv4Addr, b: Ipv4Addr) -> bool {
    let range = |ip: Ipv4Addr| match ip.octets() {
        [10, ..] => 10,
        [172, ..] => 172,
        _ => 192,
    };
    range(a) == range(b)
}

impl Default for SubnetPool {
    fn default() -> Self {
        Self::parse("10.128.0.0/9").expect("a valid built-in pool")
    }
}

/// Returns whether `host:port` is allowed by `allowlist`. Entries are `host` (ports 80 and 443),
/// `host:port`, or `*.domain` for every subdomain (not the domain itself).
pub fn egress_allowed(allowlist: &[String], host: &str, port: u16) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    allowlist.iter().any(|entry| {
        let entry = entry.to_ascii_lowercase();
        let (pattern, ports): (&str, Vec<u16>) = match entry.rsplit_once(':') {
            Some((name, port)) if port.parse::<u16>().is_ok() => (name, vec![port.parse().unwrap_or(0)]),
            _ => (entry.as_str(), vec![80, 443]),
        };
        let host_matches = match pattern.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == pattern,
        };
        host_matches && ports.contains(&port)
    })
}

/// Checks one allowlist entry's shape.
pub fn check_egress_entry(entry: &str) -> Result<(), String> {
    if entry.contains('/') {
        return Err(format!("{entry:?} must be a host name without scheme or path, such as pypi.org or pypi.org:443"));
    }
    let (name, port) = match entry.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (entry, None),
    };
    if let Some(port) = port {
        if port.parse::<u16>().map(|p| p == 0).unwrap_or(true) {
            return Err(format!("{entry:?} has an invalid port"));
        }
    }
    let name = name.strip_prefix("*.").unwrap_or(name);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !name.starts_with('.')
        && !name.contains('*');
    if let Ok(ip) = name.parse::<Ipv4Addr>() {
        if ip.is_link_local() || ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
            return Err(format!("{entry:?} is a link-local, broadcast or multicast address (cloud metadata lives there) and cannot be listed"));
        }
    }
    if valid {
        Ok(())
    } else {
        Err(format!("{entry:?} is not a host name, IPv4 address or *.domain"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn networks_never_overlap() {
        let pool = SubnetPool::default();
        assert_eq!(pool.capacity(), 1 << 20);
        let mut seen = HashSet::new();
        for user in [1_i64, 2, 3, 255, 256, 257, 511, 65_536, 1_048_575] {
            let network = pool.network_for("cchub", user).unwrap();
            assert!(seen.insert(network.subnet.clone()), "{} repeats", network.subnet);
        }
        let first = pool.network_for("cchub", 1).unwrap();
        assert_eq!(first.subnet, "10.128.0.8/29");
        assert_eq!(first.gateway, "10.128.0.9");
        assert_eq!(first.name, "cchub-user-1-net");
        let widest = SubnetPool::parse("10.0.0.0/8").unwrap();
        let last = widest.network_for("cchub", widest.capacity() as i64 - 1).unwrap();
        assert!(last.bridge.len() <= 15, "{} is too long for an interface name", last.bridge);
        assert_ne!(first.bridge, pool.network_for("other", 1).unwrap().bridge, "instances get their own bridges");
        // A modulo scheme such as 10.{id % 256}.0.0/24 gives users 1 and 257 the same subnet.
        assert_ne!(pool.network_for("cchub", 257).unwrap().subnet, first.subnet);
        assert!(pool.network_for("cchub", 1 << 20).is_err());
        assert!(pool.network_for("cchub", -1).is_err());
    }

    #[test]
    fn pools_are_checked() {
        for bad in ["10.0.0.0", "10.0.0.1/8", "300.0.0.0/8", "10.0.0.0/28", "10.0.0.0/4"] {
            assert!(SubnetPool::parse(bad).is_err(), "{bad}");
        }
        // Outside the private ranges, each block would take over real addresses on the host.
        for outside in ["127.64.0.0/16", "8.0.0.0/8", "169.254.0.0/16", "172.0.0.0/8", "192.0.0.0/8", "100.64.0.0/10"] {
            let message = SubnetPool::parse(outside).unwrap_err();
            assert!(message.contains("10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"), "{outside}: {message}");
        }
        assert_eq!(SubnetPool::parse("172.30.0.0/16").unwrap().capacity(), 8192);
        assert_eq!(SubnetPool::parse("192.168.0.0/16").unwrap().capacity(), 8192);
    }

    #[test]
    fn egress_allowlist_matching() {
        let list = vec!["pypi.org".to_string(), "*.npmjs.org".to_string(), "127.0.0.1:8080".to_string()];
        assert!(egress_allowed(&list, "pypi.org", 443));
        assert!(egress_allowed(&list, "PyPI.org.", 80));
        assert!(!egress_allowed(&list, "pypi.org", 22));
        assert!(egress_allowed(&list, "registry.npmjs.org", 443));
        assert!(!egress_allowed(&list, "npmjs.org", 443), "the wildcard covers subdomains only");
        assert!(!egress_allowed(&list, "evilnpmjs.org", 443));
        assert!(egress_allowed(&list, "127.0.0.1", 8080));
        assert!(!egress_allowed(&list, "127.0.0.1", 443));
        assert!(!egress_allowed(&list, "example.com", 443));
    }

    #[test]
    fn egress_entries_are_checked() {
        for good in ["pypi.org", "*.npmjs.org", "10.0.0.5:8443"] {
            assert!(check_egress_entry(good).is_ok(), "{good}");
        }
        for bad in ["", "*", "a b", "host:0", "host:99999", "*.*.org", "http://x", "169.254.169.254", "169.254.169.254:80"] {
            assert!(check_egress_entry(bad).is_err(), "{bad}");
        }
        assert!(check_egress_entry("http://pypi.org").unwrap_err().contains("without scheme"));
    }
}
