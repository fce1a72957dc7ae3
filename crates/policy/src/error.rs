use thiserror::Error;

/// A rejected policy value or container specification.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum PolicyError {
    /// A size such as `512M` could not be parsed.
    #[error("invalid size {value:?}: {reason}; use a number with an optional unit K, M, G or T (powers of 1024), e.g. 512M")]
    InvalidSize { value: String, reason: &'static str },

    /// A tier name is not a short lowercase identifier.
    #[error("invalid tier name {0:?}: use 1 to 32 characters from a-z, 0-9, '-' and '_', starting with a letter")]
    InvalidTierName(String),

    /// A tier's limits contradict each other or are out of range.
    #[error("invalid tier {tier:?}: {field} {reason}")]
    InvalidTier {
        tier: String,
        field: &'static str,
        reason: String,
    },

    /// A security setting requests something cchub never does.
    #[error("rejected security setting {setting}: {reason}")]
    RejectedSetting {
        setting: &'static str,
        reason: String,
    },

    /// A mount would expose a path outside the user's own directories.
    #[error("refusing to mount {source_path:?} at {target:?}: {reason}")]
    ForbiddenMount {
        source_path: String,
        target: String,
        reason: &'static str,
    },

    /// The seccomp allowlist data is malformed or names an unknown syscall.
    #[error("invalid seccomp allowlist: {0}")]
    InvalidSeccomp(String),
}
