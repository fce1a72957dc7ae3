use serde::{Deserialize, Serialize};

use crate::PolicyError;

/// How a user's container reaches the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// Only a loopback interface; the model is reached through the gateway socket.
    #[default]
    None,
}

impl NetworkMode {
    pub fn as_docker_mode(self) -> &'static str {
        match self {
            NetworkMode::None => "none",
        }
    }
}

/// Which seccomp profile the containers get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SeccompChoice {
    /// The reviewed allowlist kept in `seccomp/allowlist.yaml`.
    #[default]
    Default,
}

/// The security settings from the configuration that shape every container.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecuritySettings {
    pub seccomp: SeccompChoice,
    /// AppArmor profile name; `None` leaves the engine's default in place.
    pub apparmor_profile: Option<String>,
    pub network: NetworkMode,
    /// Size of the in-memory `/tmp`.
    pub tmp_size: crate::ByteSize,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            seccomp: SeccompChoice::Default,
            apparmor_profile: None,
            network: NetworkMode::None,
            tmp_size: crate::ByteSize::mib(256),
        }
    }
}

impl SecuritySettings {
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
