use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The folders of the data directory.
///
/// ```text
/// database/cchub.db   secrets/   users/<id>/{mnt/{workspace,home},run}
/// containers/seccomp/   containers/apparmor/   logs/   backups/daily/   cache/
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLayout {
    root: PathBuf,
}

/// One user's folders on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDirs {
    pub root: PathBuf,
    pub mnt: PathBuf,
    pub workspace: PathBuf,
    pub home: PathBuf,
    pub run: PathBuf,
}

impl DataLayout {
    /// `root` must be absolute; [`crate::Config`] makes it so.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn database_dir(&self) -> PathBuf {
        self.root.join("database")
    }

    pub fn secrets_dir(&self) -> PathBuf {
        self.root.join("secrets")
    }

    pub fn users_dir(&self) -> PathBuf {
        self.root.join("users")
    }

    pub fn backups_dir(&self) -> PathBuf {
        self.root.join("backups")
    }

    pub fn seccomp_dir(&self) -> PathBuf {
        self.root.join("containers").join("seccomp")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    pub fn user(&self, user_id: i64) -> UserDirs {
        let root = self.users_dir().join(user_id.to_string());
        let mnt = root.join("mnt");
        UserDirs {
            workspace: mnt.join("workspace"),
            home: mnt.join("home"),
            run: root.join("run"),
            mnt,
            root,
        }
    }

    /// Creates the folders. `database/`, `secrets/`, `users/` and `backups/` are private
    /// to the hub's user (0700): a host account that shares the containers' uid 1000 must
    /// not reach another user's workspace or gateway socket through them. Containers are
    /// unaffected, because they see their folders through bind mounts, not these paths.
    pub fn ensure(&self) -> io::Result<()> {
        for dir in [self.seccomp_dir(), self.root.join("containers").join("apparmor"), self.root.join("logs"), self.cache_dir()] {
            fs::create_dir_all(&dir)?;
        }
        for private in [self.database_dir(), self.secrets_dir(), self.users_dir(), self.backups_dir()] {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(&private)?;
            fs::set_permissions(&private, fs::Permissions::from_mode(0o700))?;
        }
        fs::create_dir_all(self.backups_dir().join("daily"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_dirs_live_under_users() {
        let layout = DataLayout::new("/srv/cchub");
        let dirs = layout.user(42);
        assert_eq!(dirs.root, Path::new("/srv/cchub/users/42"));
        assert_eq!(dirs.workspace, Path::new("/srv/cchub/users/42/mnt/workspace"));
        assert_eq!(dirs.home, Path::new("/srv/cchub/users/42/mnt/home"));
        assert_eq!(dirs.run, Path::new("/srv/cchub/users/42/run"));
    }

    #[test]
    fn ensure_makes_private_folders() {
        let dir = tempfile::tempdir().unwrap();
        let layout = DataLayout::new(dir.path());
        layout.ensure().unwrap();
        for private in [layout.secrets_dir(), layout.database_dir(), layout.users_dir()] {
            let mode = fs::metadata(&private).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", private.display());
        }
        assert!(layout.database_dir().is_dir());
        assert!(layout.seccomp_dir().is_dir());
    }
}
