//! Process locks of a SQLite store: an exclusive `flock` on `<state file>.<name>.lock`, which
//! the operating system releases when the process dies (kill -9 included), so a lock is never
//! left stale. An in-memory store keeps its locks in a set shared by its clones.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use crate::store::{ProcessLock, StoreError, StoreResult};

/// Takes the lock `name` for the store at `path` (`None`: in memory, through `held`).
pub(super) fn take(
    held: &Arc<Mutex<HashSet<String>>>,
    path: Option<&Path>,
    location: &str,
    name: &str,
) -> StoreResult<ProcessLock> {
    let refused = || StoreError::LockHeld {
        location: location.to_owned(),
        lock: name.to_owned(),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(StoreError::decode("lock name", format!("{name:?}")));
    }
    let Some(path) = path else {
        let mut set = held.lock().unwrap_or_else(PoisonError::into_inner);
        if !set.insert(name.to_owned()) {
            return Err(refused());
        }
        return Ok(ProcessLock::new(
            name,
            Box::new(MemoryGuard {
                held: held.clone(),
                name: name.to_owned(),
            }),
        ));
    };
    let mut file_name = path.file_name().unwrap_or_default().to_os_string();
    file_name.push(format!(".{name}.lock"));
    let lock_path = path.with_file_name(file_name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::Io {
            location: lock_path.display().to_string(),
            detail: e.to_string(),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(ProcessLock::new(name, Box::new(file))),
        Err(std::fs::TryLockError::WouldBlock) => Err(refused()),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Io {
            location: lock_path.display().to_string(),
            detail: e.to_string(),
        }),
    }
}

/// An in-memory store's lock: leaves the set when dropped.
struct MemoryGuard {
    held: Arc<Mutex<HashSet<String>>>,
    name: String,
}

impl Drop for MemoryGuard {
    fn drop(&mut self) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.name);
    }
}
