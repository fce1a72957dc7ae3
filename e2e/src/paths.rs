use std::path::{Path, PathBuf};

/// Returns the repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("e2e/ is inside the repository").to_path_buf()
}

/// Returns the path of the `cchub` binary of this workspace's debug build, failing with
/// the command that builds it when it is missing.
pub fn cchub_binary() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("target"));
    let binary = target.join("debug/cchub");
    assert!(binary.is_file(), "{} is missing; build it with cargo build -p cchub", binary.display());
    binary
}
