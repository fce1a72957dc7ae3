use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ByteSize, PolicyError};

/// The name of a resource tier, such as `free` or `pro`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TierName(String);

impl TierName {
    pub fn parse(name: &str) -> Result<Self, PolicyError> {
        let valid_start = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        let valid_chars = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !valid_start || !valid_chars || name.len() > 32 {
            return Err(PolicyError::InvalidTierName(name.to_string()));
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TierName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl<'de> Deserialize<'de> for TierName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The resource limits of one tier, applied to every container of a user in that tier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tier {
    /// CPU time in cores; 0.5 means half of one core, enforced as a CFS quota.
    pub cpu: f64,
    /// Relative CPU weight when cores are contended (Docker's default is 1024).
    pub cpu_shares: u32,
    /// Hard memory limit; the kernel kills the container's largest process above it.
    pub memory: ByteSize,
    /// Memory plus swap; equal to `memory` means no swap.
    pub memory_swap: ByteSize,
    /// Soft limit the kernel reclaims towards under host memory pressure.
    pub memory_reservation: ByteSize,
    /// Size of the user's workspace and home.
    pub disk: ByteSize,
    /// Maximum number of processes and threads in the container.
    pub pids: u32,
    /// Agent runs one user may have in progress at once.
    pub max_runs: u32,
    /// Model tokens (input, cache and output) one user may use per calendar month (UTC);
    /// `None` is unlimited.
    pub monthly_tokens: Option<u64>,
    /// Seccomp profile name; `None` uses `security.seccomp_profile`.
    pub seccomp_profile: Option<String>,
    /// Network mode; `None` uses `security.network_mode`.
    pub network_mode: Option<crate::NetworkMode>,
    /// Hosts the `proxy` network mode lets containers reach: `host`, `host:port` or
    /// `*.domain`.
    pub egress_allowlist: Vec<String>,
    /// Seconds without activity before the container is paused; `None` never.
    pub idle_pause_secs: Option<u64>,
    /// Seconds without activity before the container is stopped; `None` never.
    pub idle_stop_secs: Option<u64>,
}

/// CFS period used for every container; the quota is `cpu * CPU_PERIOD_US`.
pub const CPU_PERIOD_US: i64 = 100_000;

impl Tier {
    /// Checks that the limits are positive and consistent; `name` is used in messages.
    pub fn validate(&self, name: &str) -> Result<(), PolicyError> {
        let invalid = |field: &'static str, reason: String| PolicyError::InvalidTier {
            tier: name.to_string(),
            field,
            reason,
        };

        if !(self.cpu.is_finite() && self.cpu >= 0.01 && self.cpu <= 1024.0) {
            return Err(invalid("cpu", format!("must be between 0.01 and 1024 cores, got {}", self.cpu)));
        }
        if self.cpu_shares < 2 || self.cpu_shares > 262_144 {
            return Err(invalid("cpu_shares", format!("must be between 2 and 262144, got {}", self.cpu_shares)));
        }
        // Docker rejects memory limits below 6 MiB.
        if self.memory < ByteSize::mib(6) {
            return Err(invalid("memory", format!("must be at least 6M, got {}", self.memory)));
        }
        if self.memory_swap < self.memory {
            return Err(invalid(
                "memory_swap",
                format!("({}) must be at least memory ({})", self.memory_swap, self.memory),
            ));
        }
        if self.memory_reservation > self.memory {
            return Err(invalid(
                "memory_reservation",
                format!("({}) must not exceed memory ({})", self.memory_reservation, self.memory),
            ));
        }
        if self.disk < ByteSize::mib(64) {
            return Err(invalid("disk", format!("must be at least 64M, got {}", self.disk)));
        }
        if !(1..=64).contains(&self.max_runs) {
            return Err(invalid("max_runs", format!("must be between 1 and 64, got {}", self.max_runs)));
        }
        if self.pids < 16 {
            // Below this, bash, git and the claude executable cannot start together.
            return Err(invalid("pids", format!("must be at least 16, got {}", self.pids)));
        }
        for (field, value) in [("idle_pause_secs", self.idle_pause_secs), ("idle_stop_secs", self.idle_stop_secs)] {
            if value.is_some_and(|secs| secs < 5) {
                return Err(invalid(field, format!("must be 0 (never) or at least 5, got {}", value.unwrap_or_default())));
            }
        }
        if let (Some(pause), Some(stop)) = (self.idle_pause_secs, self.idle_stop_secs) {
            if pause >= stop {
                return Err(invalid("idle_pause_secs", format!("({pause}) must be less than idle_stop_secs ({stop}), or 0 to never pause")));
            }
        }
        Ok(())
    }

    /// The CFS quota in microseconds per [`CPU_PERIOD_US`].
    pub fn cpu_quota_us(&self) -> i64 {
        (self.cpu * CPU_PERIOD_US as f64).round() as i64
    }
}

/// The built-in tiers: the free, pro and enterprise values of the original deployment plan.
pub fn default_tiers() -> BTreeMap<TierName, Tier> {
    let tier = |cpu, cpu_shares, memory, memory_swap, memory_reservation, disk, pids, max_runs, monthly_tokens| Tier {
        cpu,
        cpu_shares,
        memory: ByteSize::gib(memory),
        memory_swap: ByteSize::gib(memory_swap),
        memory_reservation: ByteSize::mib(memory_reservation),
        disk: ByteSize::gib(disk),
        pids,
        max_runs,
        monthly_tokens,
        seccomp_profile: None,
        network_mode: None,
        egress_allowlist: Vec::new(),
        idle_pause_secs: Some(600),
        idle_stop_secs: Some(1800),
    };
    BTreeMap::from([
        (TierName("free".into()), tier(0.5, 512, 1, 2, 512, 5, 100, 1, Some(2_000_000))),
        (TierName("pro".into()), tier(2.0, 1024, 4, 8, 2048, 20, 500, 2, Some(20_000_000))),
        (TierName("enterprise".into()), tier(4.0, 2048, 8, 16, 4096, 50, 1000, 4, None)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free() -> Tier {
        default_tiers()[&TierName::parse("free").unwrap()].clone()
    }

    #[test]
    fn default_tiers_are_valid() {
        for (name, tier) in default_tiers() {
            tier.validate(name.as_str()).unwrap();
        }
    }

    #[test]
    fn free_tier_has_documented_values() {
        let tier = free();
        assert_eq!(tier.cpu_quota_us(), 50_000);
        assert_eq!(tier.cpu_shares, 512);
        assert_eq!(tier.memory, ByteSize::gib(1));
        assert_eq!(tier.memory_swap, ByteSize::gib(2));
        assert_eq!(tier.memory_reservation, ByteSize::mib(512));
        assert_eq!(tier.disk, ByteSize::gib(5));
        assert_eq!(tier.pids, 100);
    }

    #[test]
    fn reservation_above_limit_is_rejected() {
        let mut tier = free();
        tier.memory_reservation = ByteSize::gib(2);
        let err = tier.validate("free").unwrap_err();
        assert!(err.to_string().contains("memory_reservation"), "{err}");
    }

    #[test]
    fn small_pids_and_zero_cpu_are_rejected() {
        let mut tier = free();
        tier.pids = 0;
        assert!(tier.validate("free").is_err());
        let mut tier = free();
        tier.cpu = 0.0;
        assert!(tier.validate("free").is_err());
        let mut tier = free();
        tier.memory_swap = ByteSize::mib(512);
        assert!(tier.validate("free").is_err());
    }

    #[test]
    fn pause_after_stop_is_rejected() {
        let mut tier = free();
        tier.idle_pause_secs = Some(3600);
        let err = tier.validate("free").unwrap_err();
        assert!(err.to_string().contains("idle_pause_secs"), "{err}");
        tier.idle_stop_secs = None;
        assert!(tier.validate("free").is_ok(), "pausing without a stop is fine");
    }

    #[test]
    fn tier_names_are_checked() {
        assert!(TierName::parse("pro").is_ok());
        assert!(TierName::parse("team-2").is_ok());
        for bad in ["", "Pro", "1pro", "pro tier", "pro/../x", &"a".repeat(33)] {
            assert!(TierName::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
