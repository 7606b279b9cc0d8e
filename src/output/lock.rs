//! One writer per results folder.
//!
//! Every command that writes a folder (`run`, `compare`, `simulate`, `validate`, `sweep`,
//! `merge`, `plot`) holds an exclusive advisory lock (`flock`) on the folder itself while it
//! works, and writes its pid to `FOLDER/.peerfluid.lock` for others to read; a second writer
//! is refused with that pid. The operating system releases the lock when the holder exits,
//! however it exits (a `kill -9` leaves no stale lock, only a stale pid file, which the next
//! writer replaces); a normal exit removes the pid file. Within one process the lock is
//! re-entrant, so a command can take it early and the writers it calls take it again.
//!
//! While holding it, the folder's temporary files of other processes (`.NAME.tmp-PID`,
//! `.tmp-PID-NAME`: a run killed while writing) are removed: nobody else can be writing them.
//! A folder that the lock created and that holds nothing else when it is released (a command
//! that failed before writing) is removed again, so a failure leaves nothing behind.
//!
//! Shards (`--shard K/N` of `sweep`, `simulate`, `validate`) are the exception: many write
//! into one folder at once, each its own files. A shard holds a [`ShardLock`]: the folder
//! *shared* (other shards may hold it too; a whole run or `merge`, which lock it exclusively,
//! may not) and `FOLDER/.shard-KKKK-of-NNNN.lock` exclusively (the same shard twice is
//! refused with the holder's pid). The exclusive holder removes those lock files: no shard
//! can hold one then.

use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::OutputError;

/// The lock file's name inside a results folder.
pub const LOCK_FILE: &str = ".peerfluid.lock";

struct Held {
    dir: PathBuf,
    file: File,
    count: usize,
    created: bool,
}

static HELD: Mutex<Vec<Held>> = Mutex::new(Vec::new());

/// The lock on one results folder; released on drop.
#[derive(Debug)]
pub struct DirLock {
    dir: PathBuf,
}

impl DirLock {
    /// Lock `dir` (created if missing) for writing, or say who holds it.
    pub fn acquire(dir: &Path) -> Result<Self, OutputError> {
        let io = |source| OutputError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let created = !dir.exists();
        std::fs::create_dir_all(dir).map_err(io)?;
        let canon = dir.canonicalize().map_err(io)?;
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = held.iter_mut().find(|h| h.dir == canon) {
            h.count += 1;
            return Ok(Self { dir: canon });
        }
        let path = canon.join(LOCK_FILE);
        let file = File::open(&canon).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path).unwrap_or_default();
                let pid = pid.trim();
                let pid = if pid.is_empty() {
                    shard_pids(&canon)
                } else {
                    pid.chars().take(20).collect()
                };
                return Err(OutputError::Locked {
                    path: dir.to_path_buf(),
                    pid,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        std::fs::write(&path, std::process::id().to_string()).map_err(|source| {
            OutputError::Io {
                path: path.clone(),
                source,
            }
        })?;
        remove_stale_temporaries(&canon);
        held.push(Held {
            dir: canon.clone(),
            file,
            count: 1,
            created,
        });
        Ok(Self { dir: canon })
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        let Some(i) = held.iter().position(|h| h.dir == self.dir) else {
            return;
        };
        held[i].count -= 1;
        if held[i].count > 0 {
            return;
        }
        let h = held.swap_remove(i);
        // The pid file goes first, while the lock still keeps other writers out.
        let _ = std::fs::remove_file(h.dir.join(LOCK_FILE));
        // A folder this lock created and nothing was written into: leave no trace of it.
        if h.created {
            let _ = std::fs::remove_dir(&h.dir); // fails unless empty
        }
        drop(h.file); // unlocks
    }
}

/// Whether `name` is a temporary file of a process other than this one: `.NAME.tmp-PID` or
/// `.tmp-PID-NAME` (see [`super::Staged`]).
fn foreign_temporary(name: &str) -> bool {
    let me = std::process::id().to_string();
    let pid_ok =
        |pid: &str| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) && pid != me;
    if let Some(rest) = name.strip_prefix(".tmp-") {
        return rest.split_once('-').is_some_and(|(pid, _)| pid_ok(pid));
    }
    name.starts_with('.')
        && name
            .rsplit_once(".tmp-")
            .is_some_and(|(_, pid)| pid_ok(pid))
}

/// Whether `name` is a shard's lock file, `.shard-KKKK-of-NNNN.lock`.
fn shard_lock_file(name: &str) -> bool {
    name.starts_with(".shard-") && name.ends_with(".lock")
}

/// The pids written in the folder's shard lock files ("unknown" when there are none): who
/// holds the folder shared.
fn shard_pids(dir: &Path) -> String {
    let mut pids: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| shard_lock_file(&e.file_name().to_string_lossy()))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|p| p.trim().chars().take(20).collect::<String>())
        .filter(|p| !p.is_empty())
        .collect();
    pids.sort();
    if pids.is_empty() {
        "unknown".into()
    } else {
        format!("{} (shards)", pids.join(", "))
    }
}

/// Remove temporaries of other processes, and shard lock files (with the folder locked
/// exclusively, no shard holds one).
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if (foreign_temporary(&name) || shard_lock_file(&name)) && e.path().is_file() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The lock of one shard writer (module docs): the folder shared, its own lock file
/// exclusively. Released on drop (the lock file stays, for the next exclusive writer to
/// remove).
#[derive(Debug)]
pub struct ShardLock {
    _folder: File,
    _file: File,
}

impl ShardLock {
    /// Lock `dir` (created if missing) for shard `stem` (`shard-KKKK-of-NNNN`), or say who
    /// holds the folder (a whole run or a merge) or the shard (its pid).
    pub fn acquire(dir: &Path, stem: &str) -> Result<Self, OutputError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| OutputError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let folder = File::open(dir).map_err(io(dir))?;
        match folder.try_lock_shared() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(dir.join(LOCK_FILE)).unwrap_or_default();
                let pid = pid.trim();
                return Err(OutputError::Locked {
                    path: dir.to_path_buf(),
                    pid: if pid.is_empty() {
                        "unknown".into()
                    } else {
                        pid.chars().take(20).collect()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(dir)(e)),
        }
        let path = dir.join(format!(".{stem}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path).unwrap_or_default();
                let pid = pid.trim();
                return Err(OutputError::Locked {
                    path: path.clone(),
                    pid: if pid.is_empty() {
                        "unknown".into()
                    } else {
                        pid.chars().take(20).collect()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        file.set_len(0).map_err(io(&path))?;
        (&file)
            .write_all(std::process::id().to_string().as_bytes())
            .map_err(io(&path))?;
        Ok(Self {
            _folder: folder,
            _file: file,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_of_other_processes_are_recognised() {
        let me = std::process::id();
        assert!(foreign_temporary(".timeseries.csv.tmp-1"));
        assert!(foreign_temporary(".tmp-77-leechers.png"));
        assert!(!foreign_temporary(&format!(".timeseries.csv.tmp-{me}")));
        assert!(!foreign_temporary(&format!(".tmp-{me}-leechers.png")));
        assert!(!foreign_temporary("timeseries.csv"));
        assert!(!foreign_temporary("sweep.csv.partial"));
        assert!(!foreign_temporary(".tmp-x-y"));
        assert!(!foreign_temporary(LOCK_FILE));
    }

    /// Shards share a folder; the same shard twice, or a whole writer beside a shard, is
    /// refused; the whole writer removes the shard lock files.
    #[test]
    fn shards_share_a_folder_that_a_whole_writer_locks_alone() {
        let base = std::env::temp_dir().join(format!("pf-shardlock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let a = ShardLock::acquire(&base, "shard-0000-of-0002").expect("shard 0");
        let b = ShardLock::acquire(&base, "shard-0001-of-0002").expect("shard 1 beside it");
        let e = ShardLock::acquire(&base, "shard-0001-of-0002").expect_err("shard 1 twice");
        assert!(
            e.to_string().contains(&format!(
                "in use by another peerfluid process (pid {})",
                std::process::id()
            )),
            "{e}"
        );
        // flock is per open file: the exclusive lock of a whole writer is refused even here.
        let e = DirLock::acquire(&base).expect_err("whole writer beside shards");
        assert!(e.to_string().contains("(shards)"), "{e}");
        drop((a, b));
        {
            let _w = DirLock::acquire(&base).expect("alone now");
            assert!(!base.join(".shard-0000-of-0002.lock").exists());
            let e = ShardLock::acquire(&base, "shard-0000-of-0002").expect_err("merging");
            assert!(e.to_string().contains("in use"), "{e}");
        }
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn the_lock_is_reentrant_and_a_failed_command_leaves_no_folder() {
        let base = std::env::temp_dir().join(format!("pf-lock-{}", std::process::id()));
        let dir = base.join("new");
        let _ = std::fs::remove_dir_all(&base);
        {
            let a = DirLock::acquire(&dir).expect("first");
            let b = DirLock::acquire(&dir).expect("re-entrant in one process");
            assert!(dir.join(LOCK_FILE).is_file());
            drop(b);
            assert!(dir.join(LOCK_FILE).is_file(), "still held by a");
            drop(a);
            assert!(!dir.join(LOCK_FILE).exists(), "released: no pid file");
        }
        assert!(!dir.exists(), "created and left empty: removed");
        {
            let _a = DirLock::acquire(&dir).expect("again");
            std::fs::write(dir.join("result.txt"), "x").expect("write");
        }
        assert!(
            dir.join("result.txt").is_file(),
            "a folder with results stays"
        );
        assert!(
            !dir.join(LOCK_FILE).exists(),
            "and holds nothing of the lock"
        );
        let _ = std::fs::remove_dir_all(&base);
    }
}
