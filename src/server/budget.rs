//! The budget of unverified body bytes in memory, shared by every webhook route: a delivery
//! reserves its whole size before its body is read and gives it back once verified or refused,
//! so stalled or forged bodies can hold at most the budget, whatever their number.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes that may still be reserved.
pub(super) struct Budget {
    left: Arc<AtomicU64>,
}

/// A reservation; its bytes return to the budget when it is dropped.
#[must_use = "the bytes return to the budget when this is dropped"]
pub(super) struct Reserved {
    left: Arc<AtomicU64>,
    bytes: u64,
}

impl Budget {
    pub(super) fn new(bytes: u64) -> Budget {
        Budget {
            left: Arc::new(AtomicU64::new(bytes)),
        }
    }

    /// Reserves `bytes`, or `None` when fewer are left.
    pub(super) fn take(&self, bytes: u64) -> Option<Reserved> {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(bytes)
            })
            .ok()
            .map(|_| Reserved {
                left: self.left.clone(),
                bytes,
            })
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.left.fetch_add(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_never_exceed_the_budget_and_come_back_when_dropped() {
        let b = Budget::new(10);
        let a = b.take(6).expect("room");
        assert!(b.take(5).is_none());
        let c = b.take(4).expect("room");
        assert!(b.take(1).is_none());
        drop(a);
        drop(c);
        assert!(b.take(10).is_some());
    }
}
