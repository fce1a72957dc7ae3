use std::collections::BTreeMap;

use serde::Serialize;

use crate::network::{NetworkMode, SubnetPool};
use crate::seccomp::CompiledProfile;

use crate::PolicyError;

/// The security settings from the configuration that shape every container.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecuritySettings {
    /// Profile of tiers that name none.
    pub seccomp_profile: String,
    /// Every profile a tier may name, compiled: the built-in `default` and `enterprise`
    /// and any custom ones from the configuration.
    pub seccomp_profiles: BTreeMap<String, CompiledProfile>,
    /// AppArmor profile name; `None` leaves the engine's default in place.
    pub apparmor_profile: Option<String>,
    /// Network mode of tiers that name none.
    pub network: NetworkMode,
    /// Where per-user internal networks get their addresses.
    pub internal_subnet_pool: SubnetPool,
    /// Size of the in-memory `/tmp`.
    pub tmp_size: crate::ByteSize,
    /// Whether a name in an egress allowlist may lead to a private address (10/8,
    /// 172.16/12, 192.168/16, 100.64/10, fc00::/7), such as an internal mirror. Off by
    /// default, because other workspaces and the host's own services live there.
    pub egress_allow_private: bool,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        let builtin = |name: &str| {
            crate::seccomp::builtin(name)
                .expect("a built-in profile name")
                .expect("the built-in allowlist compiles; a unit test checks it")
        };
        Self {
            seccomp_profile: "default".into(),
            seccomp_profiles: ["default", "enterprise"].into_iter().map(|n| (n.to_string(), builtin(n))).collect(),
            apparmor_profile: None,
            network: NetworkMode::None,
            internal_subnet_pool: SubnetPool::default(),
            tmp_size: crate::ByteSize::mib(256),
            egress_allow_private: false,
        }
    }
}

impl SecuritySettings {
    /// The profile for `tier`: its own, or the default one.
    pub fn network_for(&self, tier: &crate::Tier) -> NetworkMode {
        tier.network_mode.unwrap_or(self.network)
    }

    pub fn profile_for(&self, tier: &crate::Tier) -> Result<&CompiledProfile, PolicyError> {
        let name = tier.seccomp_profile.as_deref().unwrap_or(&self.seccomp_profile);
        self.seccomp_profiles.get(name).ok_or_else(|| PolicyError::RejectedSetting {
            setting: "seccomp_profile",
            reason: format!("no seccomp profile named {name:?}"),
        })
    }

    /// Rejects settings that would weaken the container boundary.
    ///
    /// `allow_privileged` is taken here only so that a configuration asking for it fails
    /// loudly instead of being ignored.
    pub fn validate(&self, allow_privileged: bool) -> Result<(), PolicyError> {
        if allow_privileged {
            return Err(PolicyError::RejectedSetting {
                setting: "security.allow_privileged",
                reason: "privileged containers can take over the host; cchub never starts one, so set it to false or remove it".into(),
            });
        }
        if let Some(profile) = &self.apparmor_profile {
            let valid = !profile.is_empty()
                && profile.len() <= 64
                && profile
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid || profile == "unconfined" {
                return Err(PolicyError::RejectedSetting {
                    setting: "security.apparmor_profile",
                    reason: format!(
                        "{profile:?} is not a usable profile name; give a loaded profile such as docker-default"
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileged_is_rejected() {
        let err = SecuritySettings::default().validate(true).unwrap_err();
        assert!(err.to_string().contains("allow_privileged"), "{err}");
    }

    #[test]
    fn unconfined_apparmor_is_rejected() {
        let settings = SecuritySettings {
            apparmor_profile: Some("unconfined".into()),
            ..SecuritySettings::default()
        };
        assert!(settings.validate(false).is_err());
    }

    #[test]
    fn defaults_are_accepted() {
        SecuritySettings::default().validate(false).unwrap();
    }
}
