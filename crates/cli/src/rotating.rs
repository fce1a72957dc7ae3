//! A log file rotated by size: `PATH` is written until it passes the size, then becomes
//! `PATH.1`, the older ones move up, and the oldest beyond the kept count is removed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

struct State {
    path: PathBuf,
    file: File,
    written: u64,
    max_size: u64,
    keep: u32,
}

/// A `MakeWriter` for tracing; every writer appends to the shared file.
#[derive(Clone)]
pub struct RotatingFile(Arc<Mutex<State>>);

impl RotatingFile {
    pub fn open(path: &Path, max_size: u64, keep: u32) -> std::io::Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let written = file.metadata()?.len();
        Ok(Self(Arc::new(Mutex::new(State {
            path: path.to_path_buf(),
            file,
            written,
            max_size,
            keep,
        }))))
    }
}

fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl State {
    fn rotate(&mut self) -> std::io::Result<()> {
        let _ = std::fs::remove_file(numbered(&self.path, self.keep));
        for n in (1..self.keep).rev() {
            let from = numbered(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, numbered(&self.path, n + 1))?;
            }
        }
        std::fs::rename(&self.path, numbered(&self.path, 1))?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut state = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.written > 0 && state.written + bytes.len() as u64 > state.max_size {
            state.rotate()?;
        }
        state.file.write_all(bytes)?;
        state.written += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).file.flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RotatingFile {
    type Writer = RotatingFile;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_and_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cchub.log");
        let mut log = RotatingFile::open(&path, 100, 2).unwrap();
        for n in 0..10 {
            log.write_all(format!("line {n:02} {}\n", "x".repeat(40)).as_bytes()).unwrap();
        }
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(current.contains("line 09"), "{current}");
        assert!(current.len() <= 100);
        assert!(numbered(&path, 1).exists());
        assert!(numbered(&path, 2).exists());
        assert!(!numbered(&path, 3).exists(), "only two rotated files are kept");
        let oldest = std::fs::read_to_string(numbered(&path, 2)).unwrap();
        assert!(!oldest.contains("line 00"), "the oldest lines are gone: {oldest}");
    }
}
