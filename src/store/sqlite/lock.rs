//! Process locks of a SQLite store: an exclusive `flock` on `<state file>.<name>.lock`, which
//! the operating system releases when the process dies (kill -9 included), so a lock is never
//! left stale. An in-memory store keeps its locks in a set shared by its clones. A lock can be
//! tried once (`take`) or waited for up to a deadline (`take_waiting`, the token-refresh lock).

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::store::{ProcessLock, StoreError, StoreResult};

/// The locks an in-memory store holds, and a signal for those waiting on one.
#[derive(Default)]
pub(super) struct MemoryLocks {
    held: Mutex<HashSet<String>>,
    freed: Condvar,
}

/// Takes the lock `name` for the store at `path` (`None`: in memory, through `held`), or fails
/// at once with `LockHeld`.
pub(super) fn take(
    held: &Arc<MemoryLocks>,
    path: Option<&Path>,
    location: &str,
    name: &str,
) -> StoreResult<ProcessLock> {
    check_name(name)?;
    take_waiting(held, path, location, name, name, Duration::ZERO)
}

/// Takes the lock named `name` in messages and `file_part` in the lock file's name, waiting up
/// to `wait` while another process or guard holds it; then fails with `LockHeld`.
pub(super) fn take_waiting(
    held: &Arc<MemoryLocks>,
    path: Option<&Path>,
    location: &str,
    name: &str,
    file_part: &str,
    wait: Duration,
) -> StoreResult<ProcessLock> {
    let refused = || StoreError::LockHeld {
        location: location.to_owned(),
        lock: name.to_owned(),
    };
    let deadline = Instant::now() + wait;
    let Some(path) = path else {
        let mut set = held.held.lock().unwrap_or_else(PoisonError::into_inner);
        while set.contains(file_part) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(refused());
            }
            set = held
                .freed
                .wait_timeout(set, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        set.insert(file_part.to_owned());
        return Ok(ProcessLock::new(
            name,
            Box::new(MemoryGuard {
                held: held.clone(),
                name: file_part.to_owned(),
            }),
        ));
    };
    let mut file_name = path.file_name().unwrap_or_default().to_os_string();
    file_name.push(format!(".{file_part}.lock"));
    let lock_path = path.with_file_name(file_name);
    let io = |e: std::io::Error| StoreError::Io {
        location: lock_path.display().to_string(),
        detail: e.to_string(),
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io)?;
    // `flock` has no timeout: try, and between tries wait a little longer each time (a lock of
    // this kind is held for one HTTP call at most).
    let mut pause = Duration::from_millis(2);
    loop {
        match File::try_lock(&file) {
            Ok(()) => return Ok(ProcessLock::new(name, Box::new(file))),
            Err(std::fs::TryLockError::WouldBlock) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(refused());
                }
                std::thread::sleep(pause.min(left));
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
    }
}

fn check_name(name: &str) -> StoreResult<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(StoreError::decode("lock name", format!("{name:?}")));
    }
    Ok(())
}

/// An in-memory store's lock: leaves the set when dropped, and wakes those waiting.
struct MemoryGuard {
    held: Arc<MemoryLocks>,
    name: String,
}

impl Drop for MemoryGuard {
    fn drop(&mut self) {
        self.held
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.name);
        self.held.freed.notify_all();
    }
}
