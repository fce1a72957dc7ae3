//! The files API's operations on a user's workspace, done on the host side.
//!
//! Every path is parsed into a [`WorkspacePath`] first, and every file system call goes
//! through a `cap_std::fs::Dir` opened on the workspace root. cap-std resolves paths
//! beneath that directory (openat2 with RESOLVE_BENEATH where the kernel has it), so a
//! symbolic link the user plants can never lead the hub outside the user's tree.

mod ops;
mod path;

pub use ops::{
    begin_upload, delete_entry, list_dir, make_dir, open_for_download, read_file, rename_entry, write_file, DirEntryInfo,
    EntryKind, FileContent, FileError, Listing, Upload, WrittenFile,
};
pub use path::WorkspacePath;
