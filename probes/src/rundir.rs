//! The run directory: where a run's results live, written so that nothing is half-written.
//!
//! ```text
//! results/<run-id>/
//!   manifest.json      the context: host, kernel, CPU, clock, placement, tool, config
//!   summary.json       per probe: counts and latency statistics
//!   <probe>.hlog       per probe: HdrHistogram interval log of RTT (ns)
//! ```
//!
//! Every file is written to a temporary name in the same directory, synced, and renamed into
//! place, so a reader never sees a partial file. A run that was interrupted still writes its
//! manifest and summary, with `"status": "partial"`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes `value` as pretty JSON (with a final newline) to `path`, atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Whether a run finished or was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Still being written.
    Running,
    /// Every probe ran to its end.
    Complete,
    /// Interrupted (Ctrl-C) or a probe failed: what was measured is kept.
    Partial,
}

/// A run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
    id: String,
}

impl RunDir {
    /// Creates `root/<run-id>/`, where the id is `YYYYMMDDTHHMMSSZ-<kind>-<host>` (with a
    /// numeric suffix if that already exists).
    pub fn create(root: &Path, kind: &str) -> io::Result<RunDir> {
        fs::create_dir_all(root).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create results directory {}: {e}", root.display()),
            )
        })?;
        let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
            .to_string()
            .replace(['-', ':'], "");
        let host: String = hostname()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base = format!("{stamp}-{kind}-{host}");
        for n in 0..1000 {
            let id = if n == 0 {
                base.clone()
            } else {
                format!("{base}.{n}")
            };
            let path = root.join(&id);
            match fs::create_dir(&path) {
                Ok(()) => return Ok(RunDir { path, id }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot create run directory {}: {e}", path.display()),
                    ))
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "too many runs with the same id this second",
        ))
    }

    /// Opens an existing run directory.
    pub fn open(path: &Path) -> io::Result<RunDir> {
        if !path.exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} does not exist", path.display()),
            ));
        }
        if !path.join("manifest.json").is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} is not a latlab run directory (no manifest.json)",
                    path.display()
                ),
            ));
        }
        let id = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(RunDir {
            path: path.to_path_buf(),
            id,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run id (the directory's name).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A file inside the run directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

/// This machine's host name.
pub fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_json(&p, &serde_json::json!({"x": 1})).unwrap();
        write_json(&p, &serde_json::json!({"x": 2})).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["x"], 2);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn run_ids_are_unique_within_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let a = RunDir::create(dir.path(), "lab").unwrap();
        let b = RunDir::create(dir.path(), "lab").unwrap();
        assert_ne!(a.id(), b.id());
        assert!(a.path().is_dir() && b.path().is_dir());
        assert!(RunDir::open(a.path()).is_err(), "no manifest yet");
    }
}
