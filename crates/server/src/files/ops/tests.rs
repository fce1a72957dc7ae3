//! Confinement of the files API against links a user plants. These run on the host file
//! system with plain folders; the end-to-end suite repeats them through the HTTP API.

use std::os::unix::fs::symlink;

use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    workspace: std::path::PathBuf,
    outside: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("users/1/mnt/workspace");
    let outside = dir.path().join("users/2/mnt/workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "other user's secret").unwrap();
    std::fs::write(workspace.join("hello.txt"), "hello").unwrap();
    std::fs::create_dir(workspace.join("src")).unwrap();
    Fixture {
        _dir: dir,
        workspace,
        outside,
    }
}

fn path(raw: &str) -> WorkspacePath {
    WorkspacePath::parse(raw).unwrap()
}

#[test]
fn reads_and_lists_inside() {
    let f = fixture();
    assert_eq!(read_file(&f.workspace, &path("hello.txt"), 1024).unwrap().bytes, b"hello");
    let listing = list_dir(&f.workspace, &WorkspacePath::root(), 0, 100).unwrap();
    assert!(!listing.truncated);
    assert_eq!(listing.total, 2);
    let names: Vec<&str> = listing.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["src", "hello.txt"]);
    let second_page = list_dir(&f.workspace, &WorkspacePath::root(), 1, 1).unwrap();
    assert_eq!(second_page.entries[0].name, "hello.txt");
}

#[test]
fn absolute_symlinks_are_not_followed() {
    let f = fixture();
    symlink("/etc/passwd", f.workspace.join("passwd")).unwrap();
    symlink("/", f.workspace.join("rootfs")).unwrap();
    symlink("/proc/self/environ", f.workspace.join("environ")).unwrap();
    for name in ["passwd", "rootfs/etc/passwd", "environ"] {
        let err = read_file(&f.workspace, &path(name), 1 << 20).unwrap_err();
        assert!(matches!(err, FileError::Escapes(_) | FileError::NotFound(_)), "{name}: {err:?}");
    }
    assert!(list_dir(&f.workspace, &path("rootfs"), 0, 10).is_err());
    assert!(list_dir(&f.workspace, &path("rootfs/etc"), 0, 10).is_err());
}

#[test]
fn relative_symlinks_out_of_the_tree_are_not_followed() {
    let f = fixture();
    symlink(&f.outside, f.workspace.join("neighbour")).unwrap();
    symlink("../../../2/mnt/workspace", f.workspace.join("relative")).unwrap();
    for name in ["neighbour/secret.txt", "relative/secret.txt"] {
        assert!(read_file(&f.workspace, &path(name), 1 << 20).is_err(), "{name} must not be readable");
    }
    assert!(write_file(&f.workspace, &path("neighbour/new.txt"), b"x", false).is_err());
    assert!(!f.outside.join("new.txt").exists());
    assert!(list_dir(&f.workspace, &path("relative"), 0, 10).is_err());
}

#[test]
fn writing_over_a_symlink_replaces_the_link() {
    let f = fixture();
    let target = f.outside.join("secret.txt");
    symlink(&target, f.workspace.join("link.txt")).unwrap();
    write_file(&f.workspace, &path("link.txt"), b"mine", false).unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "other user's secret");
    let meta = std::fs::symlink_metadata(f.workspace.join("link.txt")).unwrap();
    assert!(meta.is_file(), "the link itself is replaced by a regular file");
}

#[test]
fn symlinks_inside_the_tree_work() {
    let f = fixture();
    symlink("hello.txt", f.workspace.join("alias.txt")).unwrap();
    assert_eq!(read_file(&f.workspace, &path("alias.txt"), 1024).unwrap().bytes, b"hello");
}

#[test]
fn fifo_does_not_hang() {
    let f = fixture();
    rustix::fs::mknodat(rustix::fs::CWD, f.workspace.join("pipe"), rustix::fs::FileType::Fifo, rustix::fs::Mode::from_raw_mode(0o644), 0).unwrap();
    let err = read_file(&f.workspace, &path("pipe"), 1024).unwrap_err();
    assert!(matches!(err, FileError::NotRegular(_)), "{err:?}");
}

#[test]
fn write_is_atomic_and_leaves_no_temp_files() {
    let f = fixture();
    let written = write_file(&f.workspace, &path("src/main.rs"), b"fn main() {}", false).unwrap();
    assert_eq!(written.size, 12);
    write_file(&f.workspace, &path("src/main.rs"), b"fn main() { println!(); }", false).unwrap();
    let names: Vec<String> = std::fs::read_dir(f.workspace.join("src"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, ["main.rs"]);
    assert_eq!(std::fs::read_to_string(f.workspace.join("src/main.rs")).unwrap(), "fn main() { println!(); }");
}

#[test]
fn errors_are_specific() {
    let f = fixture();
    assert!(matches!(read_file(&f.workspace, &path("missing"), 10), Err(FileError::NotFound(_))));
    assert!(matches!(read_file(&f.workspace, &path("src"), 10), Err(FileError::IsDirectory(_))));
    assert!(matches!(read_file(&f.workspace, &path("hello.txt"), 2), Err(FileError::TooLarge { .. })));
    assert!(matches!(write_file(&f.workspace, &path("src"), b"x", false), Err(FileError::IsDirectory(_))));
    assert!(matches!(write_file(&f.workspace, &path("nope/x.txt"), b"x", false), Err(FileError::NotFound(_))));
    assert!(list_dir(&f.workspace, &path("hello.txt"), 0, 10).is_err());
}

#[test]
fn mkdir_rename_and_delete_inside() {
    let f = fixture();
    make_dir(&f.workspace, &path("a/b/c"), true, false).unwrap();
    assert!(f.workspace.join("a/b/c").is_dir());
    assert!(matches!(make_dir(&f.workspace, &path("a"), false, false), Err(FileError::Exists(_))));
    assert!(matches!(make_dir(&f.workspace, &path("x/y"), false, false), Err(FileError::NotFound(_))));

    rename_entry(&f.workspace, &path("hello.txt"), &path("a/greeting.txt"), false).unwrap();
    assert_eq!(std::fs::read_to_string(f.workspace.join("a/greeting.txt")).unwrap(), "hello");
    std::fs::write(f.workspace.join("other.txt"), "x").unwrap();
    assert!(matches!(rename_entry(&f.workspace, &path("other.txt"), &path("a/greeting.txt"), false), Err(FileError::Exists(_))));
    rename_entry(&f.workspace, &path("other.txt"), &path("a/greeting.txt"), true).unwrap();
    assert!(matches!(rename_entry(&f.workspace, &path("src"), &path("a"), true), Err(FileError::Exists(_))));

    assert!(matches!(delete_entry(&f.workspace, &path("a"), false), Err(FileError::NotEmpty(_))));
    delete_entry(&f.workspace, &path("a"), true).unwrap();
    assert!(!f.workspace.join("a").exists());
    assert!(matches!(delete_entry(&f.workspace, &WorkspacePath::root(), true), Err(FileError::IsRoot)));
}

#[test]
fn rename_and_delete_never_cross_planted_links() {
    let f = fixture();
    symlink(&f.outside, f.workspace.join("neighbour")).unwrap();

    // Moving a file out through the link, or the neighbour's file in, fails.
    assert!(rename_entry(&f.workspace, &path("hello.txt"), &path("neighbour/stolen.txt"), false).is_err());
    assert!(rename_entry(&f.workspace, &path("neighbour/secret.txt"), &path("mine.txt"), false).is_err());
    assert!(f.outside.join("secret.txt").exists());
    assert!(!f.outside.join("stolen.txt").exists());
    assert!(make_dir(&f.workspace, &path("neighbour/new"), false, false).is_err());
    assert!(!f.outside.join("new").exists());

    // Deleting through the link fails; deleting the link removes only the link; a
    // recursive delete of a folder holding the link leaves the target alone.
    assert!(delete_entry(&f.workspace, &path("neighbour/secret.txt"), false).is_err());
    std::fs::create_dir(f.workspace.join("nest")).unwrap();
    symlink(&f.outside, f.workspace.join("nest/link")).unwrap();
    delete_entry(&f.workspace, &path("nest"), true).unwrap();
    delete_entry(&f.workspace, &path("neighbour"), false).unwrap();
    assert_eq!(std::fs::read_to_string(f.outside.join("secret.txt")).unwrap(), "other user's secret");
}

#[test]
fn uploads_are_confined_and_atomic() {
    let f = fixture();
    let mut upload = begin_upload(&f.workspace, &path("src"), "data.bin").unwrap();
    std::io::Write::write_all(&mut upload.file, b"payload").unwrap();
    assert!(!f.workspace.join("src/data.bin").exists(), "nothing is visible before the commit");
    upload.commit(false).unwrap();
    assert_eq!(std::fs::read(f.workspace.join("src/data.bin")).unwrap(), b"payload");

    let abandoned = begin_upload(&f.workspace, &WorkspacePath::root(), "partial.bin").unwrap();
    abandoned.abandon();
    let names: Vec<String> = std::fs::read_dir(&f.workspace).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");

    symlink(&f.outside, f.workspace.join("neighbour")).unwrap();
    assert!(begin_upload(&f.workspace, &path("neighbour"), "x.bin").is_err());
    for bad in ["../x", "a/b", "..", "", "\u{0}"] {
        assert!(begin_upload(&f.workspace, &WorkspacePath::root(), bad).is_err(), "{bad:?}");
    }
}

#[test]
fn download_opens_only_regular_files_inside() {
    let f = fixture();
    let (_, size) = open_for_download(&f.workspace, &path("hello.txt")).unwrap();
    assert_eq!(size, 5);
    symlink("/etc/passwd", f.workspace.join("passwd")).unwrap();
    assert!(open_for_download(&f.workspace, &path("passwd")).is_err());
    assert!(matches!(open_for_download(&f.workspace, &path("src")), Err(FileError::IsDirectory(_))));
}
