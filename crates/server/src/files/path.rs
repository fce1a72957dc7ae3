use std::fmt;
use std::path::{Component, Path, PathBuf};

/// A path inside a user's workspace: relative, without `..`, NUL or control characters.
/// The empty path is the workspace root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspacePath(PathBuf);

/// Longest accepted path and file name, in bytes (Linux's PATH_MAX and NAME_MAX).
const MAX_PATH_BYTES: usize = 4096;
const MAX_NAME_BYTES: usize = 255;

impl WorkspacePath {
    pub fn root() -> Self {
        Self(PathBuf::new())
    }

    /// Parses a path from a request. `""`, `"."` and `"/"` mean the workspace root; any
    /// other absolute path is rejected rather than reinterpreted.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > MAX_PATH_BYTES {
            return Err(format!("the path is longer than {MAX_PATH_BYTES} bytes"));
        }
        if raw.chars().any(|c| c.is_control()) {
            return Err("the path contains a NUL or another control character".into());
        }
        if matches!(raw, "" | "." | "/") {
            return Ok(Self::root());
        }
        if raw.starts_with('/') {
            return Err(format!("{raw:?} is absolute; give a path relative to the workspace root, such as src/main.rs"));
        }

        let mut clean = PathBuf::new();
        for component in Path::new(raw).components() {
            match component {
                Component::Normal(name) => {
                    if name.len() > MAX_NAME_BYTES {
                        return Err(format!("a name in the path is longer than {MAX_NAME_BYTES} bytes"));
                    }
                    clean.push(name);
                }
                Component::CurDir => {}
                Component::ParentDir => return Err(format!("{raw:?} contains '..'; paths must stay inside the workspace")),
                Component::RootDir | Component::Prefix(_) => return Err(format!("{raw:?} is not a relative path")),
            }
        }
        Ok(Self(clean))
    }

    pub fn is_root(&self) -> bool {
        self.0.as_os_str().is_empty()
    }

    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// The parent folder and the final name; `None` for the root.
    pub fn split(&self) -> Option<(WorkspacePath, String)> {
        let name = self.0.file_name()?.to_string_lossy().to_string();
        let parent = self.0.parent().map(Path::to_path_buf).unwrap_or_default();
        Some((WorkspacePath(parent), name))
    }

    pub fn join(&self, name: &str) -> WorkspacePath {
        WorkspacePath(self.0.join(name))
    }

    /// The path as the API shows it (`/` separated, empty for the root).
    pub fn display(&self) -> String {
        self.0.to_string_lossy().to_string()
    }

    /// Where cap-std starts: `.` for the root.
    pub(crate) fn for_dir(&self) -> &Path {
        if self.is_root() {
            Path::new(".")
        } else {
            &self.0
        }
    }
}

impl fmt::Display for WorkspacePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_normalised() {
        assert_eq!(WorkspacePath::parse("src/main.rs").unwrap().display(), "src/main.rs");
        assert_eq!(WorkspacePath::parse("./src//x/./y").unwrap().display(), "src/x/y");
        assert!(WorkspacePath::parse("").unwrap().is_root());
        assert!(WorkspacePath::parse("/").unwrap().is_root());
        assert!(WorkspacePath::parse(".").unwrap().is_root());
        assert_eq!(WorkspacePath::parse("%2e%2e/etc").unwrap().display(), "%2e%2e/etc");
        assert_eq!(WorkspacePath::parse("中文/文件.txt").unwrap().display(), "中文/文件.txt");
    }

    #[test]
    fn escapes_are_rejected() {
        for bad in ["..", "../x", "a/../../b", "a/..", "/etc/passwd", "//etc", "a\0b", "a\nb", &"x/".repeat(3000)] {
            assert!(WorkspacePath::parse(bad).is_err(), "{bad:?} must be rejected");
        }
        assert!(WorkspacePath::parse(&"n".repeat(256)).is_err());
    }

    #[test]
    fn split_gives_parent_and_name() {
        let path = WorkspacePath::parse("a/b/c.txt").unwrap();
        let (parent, name) = path.split().unwrap();
        assert_eq!(parent.display(), "a/b");
        assert_eq!(name, "c.txt");
        let (parent, name) = WorkspacePath::parse("top.txt").unwrap().split().unwrap();
        assert!(parent.is_root());
        assert_eq!(name, "top.txt");
        assert!(WorkspacePath::root().split().is_none());
    }
}
