//! Per-user disks: each user's workspace and home live on a sparse image, loop-mounted at
//! `users/<id>/mnt`, so a tier's disk size is a hard limit (ENOSPC inside the container)
//! without file system quota support in the kernel.
//!
//! New images are XFS when xfsprogs is installed, because `xfs_growfs` grows a mounted
//! file system with CAP_SYS_ADMIN alone. Online ext4 resizing also needs CAP_SYS_RESOURCE,
//! which some hosts withhold even from root. Without xfsprogs, and below XFS's minimum
//! size, images are ext4.
//!
//! Needs root, `mkfs.ext4`, `mount` and loop devices; without them the folders stay plain
//! and the limit is not enforced.

use std::path::{Path, PathBuf};
use std::process::Command;

use cchub_config::UserDirs;
use cchub_policy::ByteSize;
use tracing::{info, warn};

const IMAGE_NAME: &str = "disk.img";

/// Returns the path of the user's disk image file.
pub fn image_path(dirs: &UserDirs) -> PathBuf {
    dirs.root.join(IMAGE_NAME)
}

/// mkfs.xfs refuses file systems below 300 MB; smaller images stay ext4.
const XFS_MIN_BYTES: u64 = 320 * 1024 * 1024;

/// The way the tier's disk size is enforced on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskMode {
    /// Loop-mounted XFS or ext4 images.
    Image,
    /// Plain folders; nothing limits their size.
    Plain,
}

/// The step [`ensure_mounted`] took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountOutcome {
    AlreadyMounted,
    /// Mounted an existing image, as after a host or hub restart.
    Mounted,
    /// Made a new image (and moved existing files into it).
    Created,
    NotUsed,
}

/// Decides the mode once at start-up; `wanted` is false when the configuration turns
/// images off.
pub fn detect_mode(wanted: bool, as_root: bool) -> DiskMode {
    if !wanted {
        warn!("per-user disk images are turned off (containers.disk_images); the tier disk size is not enforced");
        return DiskMode::Plain;
    }
    let tools = ["mkfs.ext4", "resize2fs", "mount", "umount", "losetup"].iter().all(|tool| which(tool).is_some());
    let loop_devices = Path::new("/dev/loop-control").exists();
    if as_root && tools && loop_devices {
        DiskMode::Image
    } else {
        warn!(as_root, tools, loop_devices, "per-user disk images are unavailable; workspaces are plain folders and their tier disk size is not enforced");
        DiskMode::Plain
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(tool)).find(|p| p.is_file())
}

fn run(program: &str, args: &[&std::ffi::OsStr]) -> std::io::Result<()> {
    let binary = which(program).unwrap_or_else(|| PathBuf::from(program));
    let output = Command::new(binary).args(args).output()?;
    if output.status.success() {
        return Ok(());
    }
    Err(std::io::Error::other(format!(
        "{program} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}

/// Checks whether `path` is a mount point in this process's mount namespace.
pub fn is_mount_point(path: &Path) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    let wanted = path.to_string_lossy();
    table.lines().any(|line| line.split(' ').nth(4).is_some_and(|point| unescape(point) == wanted))
}

/// mountinfo writes space, tab, newline and backslash in paths as octal escapes.
fn unescape(field: &str) -> String {
    field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
}

fn mount_image(image: &Path, point: &Path) -> std::io::Result<()> {
    run("mount", &["-o".as_ref(), "loop,nosuid,nodev,noatime".as_ref(), image.as_os_str(), point.as_os_str()])
}

fn unmount(point: &Path) -> std::io::Result<()> {
    run("umount", &[point.as_os_str()])
}

/// Mounts the user's existing image at `dirs.mnt` when it is not mounted, as after a
/// reboot before the hub started; returns whether it mounted it. Without an image
/// (plain folders) nothing happens.
pub fn mount_existing(dirs: &UserDirs) -> std::io::Result<bool> {
    let image = dirs.root.join(IMAGE_NAME);
    if !image.exists() || is_mount_point(&dirs.mnt) {
        return Ok(false);
    }
    std::fs::create_dir_all(&dirs.mnt)?;
    mount_image(&image, &dirs.mnt)?;
    info!(image = %image.display(), "mounted a per-user disk image for a backup or restore");
    Ok(true)
}

/// Makes sure the user's image exists, has at least `size` bytes and is mounted at
/// `dirs.mnt`. Existing plain folders move into a new image without loss: they are
/// copied into it, and the old folder is removed only after the image is in place.
pub fn ensure_mounted(dirs: &UserDirs, size: ByteSize, mode: DiskMode) -> std::io::Result<MountOutcome> {
    if mode == DiskMode::Plain {
        return Ok(MountOutcome::NotUsed);
    }
    std::fs::create_dir_all(&dirs.mnt)?;
    let image = dirs.root.join(IMAGE_NAME);
    if is_mount_point(&dirs.mnt) {
        grow_or_warn(&image, &dirs.mnt, size);
        return Ok(MountOutcome::AlreadyMounted);
    }
    if image.exists() {
        mount_image(&image, &dirs.mnt)?;
        grow_or_warn(&image, &dirs.mnt, size);
        return Ok(MountOutcome::Mounted);
    }

    create_image(&image, size)?;
    let has_files = std::fs::read_dir(&dirs.mnt)?.next().is_some();
    if has_files {
        migrate(dirs, &image)?;
    } else {
        mount_image(&image, &dirs.mnt)?;
    }
    info!(image = %image.display(), size = %size, migrated = has_files, "created a per-user disk image");
    Ok(MountOutcome::Created)
}

fn create_image(image: &Path, size: ByteSize) -> std::io::Result<()> {
    let partial = image.with_extension("img.partial");
    let file = std::fs::File::create(&partial)?;
    file.set_len(size.as_u64())?;
    drop(file);
    let formatted = if size.as_u64() >= XFS_MIN_BYTES && which("mkfs.xfs").is_some() && which("xfs_growfs").is_some() {
        run("mkfs.xfs", &["-q".as_ref(), "-f".as_ref(), partial.as_os_str()])
    } else {
        // No blocks reserved for root: the user gets the whole size. Lazy initialisation
        // keeps creation fast on large, sparse images.
        run(
            "mkfs.ext4",
            &["-q".as_ref(), "-F".as_ref(), "-m".as_ref(), "0".as_ref(), "-E".as_ref(), "lazy_itable_init=1,lazy_journal_init=1".as_ref(), partial.as_os_str()],
        )
    };
    if let Err(err) = formatted {
        let _ = std::fs::remove_file(&partial);
        return Err(err);
    }
    std::fs::rename(&partial, image)
}

fn migrate(dirs: &UserDirs, image: &Path) -> std::io::Result<()> {
    let staging = dirs.root.join("mnt.migrating");
    std::fs::create_dir_all(&staging)?;
    mount_image(image, &staging)?;
    let copied = run("cp", &["-a".as_ref(), dirs.mnt.join(".").as_os_str(), staging.as_os_str()]);
    let unmounted = unmount(&staging);
    if let Err(err) = copied.and(unmounted) {
        // The plain folder is untouched; the next attempt starts over with a new image.
        let _ = unmount(&staging);
        let _ = std::fs::remove_file(image);
        return Err(err);
    }
    let _ = std::fs::remove_dir(&staging);

    let old = dirs.root.join("mnt.before-disk-image");
    std::fs::rename(&dirs.mnt, &old)?;
    std::fs::create_dir(&dirs.mnt)?;
    if let Err(err) = mount_image(image, &dirs.mnt) {
        let _ = std::fs::remove_dir(&dirs.mnt);
        let _ = std::fs::rename(&old, &dirs.mnt);
        let _ = std::fs::remove_file(image);
        return Err(err);
    }
    // std's remove_dir_all does not follow the links it finds.
    if let Err(err) = std::fs::remove_dir_all(&old) {
        warn!(path = %old.display(), error = %err, "cannot remove the folder moved into the disk image");
    }
    Ok(())
}

/// Grows the image like [`grow`]; a failure leaves the old size and is only logged,
/// because it is no reason to refuse the user their files.
fn grow_or_warn(image: &Path, point: &Path, size: ByteSize) {
    if let Err(err) = grow(image, point, size) {
        warn!(image = %image.display(), size = %size, error = %err, "cannot grow a per-user disk image");
    }
}

/// Grows the mounted image at `point` (and its file system, online) to `size`; never
/// shrinks it. Returns whether it grew.
fn grow(image: &Path, point: &Path, size: ByteSize) -> std::io::Result<bool> {
    let current = std::fs::metadata(image)?.len();
    if current >= size.as_u64() {
        return Ok(false);
    }
    std::fs::OpenOptions::new().write(true).open(image)?.set_len(size.as_u64())?;
    let device = loop_device(image).ok_or_else(|| std::io::Error::other("no loop device found for the image"))?;
    run("losetup", &["-c".as_ref(), device.as_ref()])?;
    match mount_fs_type(point).as_deref() {
        Some("xfs") => run("xfs_growfs", &["-d".as_ref(), point.as_os_str()])?,
        // NOTE: online ext4 growth needs CAP_SYS_RESOURCE. Without it resize2fs fails with
        // "Permission denied" and the file system keeps its old size, although the file
        // has grown already. Later calls find the file at full size and do not try again,
        // so an admin runs resize2fs on the loop device by hand (the warning names the image).
        _ => run("resize2fs", &[device.as_ref()])?,
    }
    info!(image = %image.display(), size = %size, "grew a per-user disk image");
    Ok(true)
}

/// Returns the file system type mounted at `path`, from mountinfo.
fn mount_fs_type(path: &Path) -> Option<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let target = path.to_string_lossy();
    table.lines().rev().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        (unescape(mount.split(' ').nth(4)?) == target).then(|| fs.split(' ').next().unwrap_or_default().to_string())
    })
}

/// Estimates the bytes of files an image of `size` holds, with a margin for the file
/// system's log and metadata: 96 MiB, or 2 % of a larger image. A 400 MiB XFS image was
/// measured to hold 336 MiB.
pub fn usable_bytes(size: ByteSize) -> u64 {
    size.as_u64().saturating_sub((size.as_u64() / 50).max(96 << 20))
}

/// The result of [`shrink_if_needed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shrink {
    NotNeeded,
    Shrunk,
    /// The files take `used` bytes, more than the smaller image holds.
    TooFull { used: u64 },
}

/// Rebuilds a mounted image that is larger than `size` at `size`, copying the files over,
/// while no container uses it. Keeps the old image when anything fails or the files would
/// not fit.
pub fn shrink_if_needed(dirs: &UserDirs, size: ByteSize, mode: DiskMode) -> std::io::Result<Shrink> {
    let image = dirs.root.join(IMAGE_NAME);
    if mode == DiskMode::Plain || !image.exists() || !is_mount_point(&dirs.mnt) || std::fs::metadata(&image)?.len() <= size.as_u64() {
        return Ok(Shrink::NotNeeded);
    }
    let used = used_bytes(dirs)?;
    if used > usable_bytes(size) {
        warn!(image = %image.display(), used, size = %size, "files do not fit a smaller disk image; keeping the larger one");
        return Ok(Shrink::TooFull { used });
    }

    let smaller = dirs.root.join("disk.img.shrinking");
    let staging = dirs.root.join("mnt.shrinking");
    let _ = std::fs::remove_file(&smaller);
    create_image(&smaller, size)?;
    std::fs::create_dir_all(&staging)?;
    mount_image(&smaller, &staging)?;
    let copied = run("cp", &["-a".as_ref(), dirs.mnt.join(".").as_os_str(), staging.as_os_str()]);
    let unmounted = unmount(&staging);
    let _ = std::fs::remove_dir(&staging);
    if let Err(err) = copied.and(unmounted) {
        let _ = std::fs::remove_file(&smaller);
        return Err(err);
    }

    // From here the old image stays intact until the new one is mounted in its place.
    if let Err(err) = unmount(&dirs.mnt) {
        let _ = std::fs::remove_file(&smaller);
        return Err(err);
    }
    let old = dirs.root.join("disk.img.before-shrink");
    std::fs::rename(&image, &old)?;
    std::fs::rename(&smaller, &image)?;
    if let Err(err) = mount_image(&image, &dirs.mnt) {
        let _ = std::fs::rename(&image, &smaller);
        let _ = std::fs::rename(&old, &image);
        mount_image(&image, &dirs.mnt)?;
        return Err(err);
    }
    std::fs::remove_file(&old)?;
    info!(image = %image.display(), size = %size, used, "shrank a per-user disk image");
    Ok(Shrink::Shrunk)
}

/// The file system new images get, and whether a mounted one can grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrowthSupport {
    /// `xfsprogs` is installed, so images of 320 MiB and more are XFS and grow online.
    pub xfs: bool,
    /// This process has CAP_SYS_RESOURCE, which online ext4 growth needs.
    pub ext4_online: bool,
    /// The data directory's own file system has project quotas turned on.
    pub project_quotas: bool,
}

/// Reads what this host offers for sizing disks; `data_dir` is the hub's data directory.
pub fn growth_support(data_dir: &Path) -> GrowthSupport {
    const CAP_SYS_RESOURCE: u32 = 24;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let effective = status.lines().find_map(|l| l.strip_prefix("CapEff:")).and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok()).unwrap_or(0);
    GrowthSupport {
        xfs: which("mkfs.xfs").is_some() && which("xfs_growfs").is_some(),
        ext4_online: effective & (1 << CAP_SYS_RESOURCE) != 0,
        project_quotas: mount_options(data_dir).is_some_and(|options| options.split(',').any(|o| matches!(o, "prjquota" | "pquota" | "pqnoenforce"))),
    }
}

/// Returns the options of the mount that contains `path` (the longest mount point above it).
fn mount_options(path: &Path) -> Option<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    table
        .lines()
        .filter_map(|line| {
            let (mount, fs) = line.split_once(" - ")?;
            let point = unescape(mount.split(' ').nth(4)?);
            let super_options = fs.split(' ').nth(2).unwrap_or_default();
            path.starts_with(&point).then(|| (point.len(), format!("{},{super_options}", mount.split(' ').nth(5).unwrap_or_default())))
        })
        .max_by_key(|(length, _)| *length)
        .map(|(_, options)| options)
}

/// The effect of a tier change on a user's disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskChange {
    Grown,
    Unchanged,
    /// The new size is smaller: the image keeps its size until the next start of a
    /// stopped workspace rebuilds it at the new size.
    ShrinkPending,
    /// The image is not mounted now; the next start sizes it.
    NotMounted,
    NotUsed,
}

impl DiskChange {
    pub fn as_str(self) -> &'static str {
        match self {
            DiskChange::Grown => "grown",
            DiskChange::Unchanged => "unchanged",
            DiskChange::ShrinkPending => "shrink_pending",
            DiskChange::NotMounted => "not_mounted",
            DiskChange::NotUsed => "not_used",
        }
    }
}

/// Bytes the user's files take now: the file system's used blocks for a mounted image,
/// else the sizes of the files under the user's folders.
pub fn used_bytes(dirs: &UserDirs) -> std::io::Result<u64> {
    if is_mount_point(&dirs.mnt) {
        // XFS frees the blocks of deleted files in the background; a sync makes the count
        // current.
        let folder = rustix::fs::open(&dirs.mnt, rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY, rustix::fs::Mode::empty())?;
        rustix::fs::syncfs(&folder)?;
        let stats = rustix::fs::statvfs(&dirs.mnt)?;
        return Ok((stats.f_blocks - stats.f_bfree) * stats.f_frsize);
    }
    Ok(tree_size(&dirs.mnt, 0))
}

/// Returns used and total bytes of the user's mounted disk image, or `None` when no image
/// is mounted.
pub fn disk_space(dirs: &UserDirs) -> Option<(u64, u64)> {
    if !is_mount_point(&dirs.mnt) {
        return None;
    }
    let stats = rustix::fs::statvfs(&dirs.mnt).ok()?;
    Some(((stats.f_blocks - stats.f_bfree) * stats.f_frsize, stats.f_blocks * stats.f_frsize))
}

/// Sums file sizes below `path` without following links, up to a depth of 64.
fn tree_size(path: &Path, depth: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() && depth < 64 => tree_size(&entry.path(), depth + 1),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Applies a new disk size to a mounted image: grows it online, or leaves a smaller size
/// for the next start.
pub fn resize(dirs: &UserDirs, size: ByteSize, mode: DiskMode) -> std::io::Result<DiskChange> {
    if mode == DiskMode::Plain {
        return Ok(DiskChange::NotUsed);
    }
    let image = dirs.root.join(IMAGE_NAME);
    if !image.exists() || !is_mount_point(&dirs.mnt) {
        return Ok(DiskChange::NotMounted);
    }
    if std::fs::metadata(&image)?.len() > size.as_u64() {
        return Ok(DiskChange::ShrinkPending);
    }
    Ok(if grow(&image, &dirs.mnt, size)? { DiskChange::Grown } else { DiskChange::Unchanged })
}

fn loop_device(image: &Path) -> Option<String> {
    let binary = which("losetup")?;
    let output = Command::new(binary).args(["-j"]).arg(image).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().next()?.split(':').next().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_paths_are_unescaped() {
        assert_eq!(unescape("/srv/my\\040data"), "/srv/my data");
        assert!(is_mount_point(Path::new("/")));
        assert!(!is_mount_point(Path::new("/definitely/not/mounted")));
    }

    #[test]
    fn root_mount_options_are_found() {
        let options = mount_options(Path::new("/definitely/not/mounted")).unwrap();
        assert!(options.contains("rw") || options.contains("ro"), "{options}");
    }

    #[test]
    fn plain_mode_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = cchub_config::DataLayout::new(dir.path()).user(1);
        assert_eq!(ensure_mounted(&dirs, ByteSize::mib(64), DiskMode::Plain).unwrap(), MountOutcome::NotUsed);
        assert!(!dirs.root.join(IMAGE_NAME).exists());
    }
}
