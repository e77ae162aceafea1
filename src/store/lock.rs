//! `ProcessLock`: a named lock on a state store, held by one process (one guard) at a time and
//! released when the guard is dropped or the process dies: one `serve` per store, one full
//! sync per pair and direction.

/// A held process lock; dropping it releases the lock.
pub struct ProcessLock {
    name: String,
    _guard: Box<dyn Send + Sync>,
}

impl ProcessLock {
    /// A lock named `name`, released when `guard` is dropped.
    pub fn new(name: impl Into<String>, guard: Box<dyn Send + Sync>) -> ProcessLock {
        ProcessLock {
            name: name.into(),
            _guard: guard,
        }
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Debug for ProcessLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessLock")
            .field("name", &self.name)
            .finish()
    }
}
