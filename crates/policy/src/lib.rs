//! Pure sandbox policy for cchub.
//!
//! Every security property of a user's container is decided here, from the user, the
//! tier and the security settings, and unit-tested here. Nothing in this crate does I/O:
//! the runtime crate turns a [`ContainerSpec`] into engine calls.

pub mod apparmor;
mod error;
mod network;
pub mod seccomp;
mod security;
mod size;
mod spec;
mod tier;

pub use error::PolicyError;
pub use network::{bridge_prefix, check_egress_entry, egress_allowed, internal_network_name, InternalNetwork, NetworkMode, SubnetPool};
pub use security::SecuritySettings;
pub use size::ByteSize;
pub use spec::{
    build_container_spec, container_name, BindMount, ContainerSpec, ResourceLimits, SpecInput, UserPaths,
    CONTAINER_GID, CONTAINER_HOME, CONTAINER_UID, CONTAINER_WORKSPACE, GATEWAY_MOUNT,
    GATEWAY_RELAY_PORT, GATEWAY_SOCKET_NAME, PROXY_RELAY_PORT, PROXY_SOCKET_NAME, LABEL_INSTANCE, PLACEHOLDER_API_KEY, LABEL_MANAGED, LABEL_SPEC_HASH, LABEL_TIER,
    LABEL_USER_ID, LABEL_USER_NAME,
};
pub use tier::{default_tiers, Tier, TierName};
