//! `StoreBudget`: a system's declared rate limit spent from the state store, so `sync` and
//! `serve` on one store share it instead of each spending all of it; `serve`'s requests are
//! live and go before a sync's back-fill (the rule is in `store::budget`).

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::connector::SharedBudget;
use crate::store::{BudgetPriority, BudgetRate, StateStore};

/// One system's shared budget, as one process spends it.
pub struct StoreBudget {
    store: Arc<dyn StateStore>,
    key: String,
    priority: BudgetPriority,
}

impl StoreBudget {
    /// The budget of `system` in `store`, spent at `priority`.
    pub fn new(store: Arc<dyn StateStore>, system: &str, priority: BudgetPriority) -> StoreBudget {
        StoreBudget {
            store,
            key: format!("system:{system}"),
            priority,
        }
    }
}

impl SharedBudget for StoreBudget {
    fn take(&self, per_second: f64, burst: f64) -> Result<(bool, Duration), String> {
        let rate = BudgetRate { per_second, burst };
        self.store
            .take_budget(&self.key, &rate, self.priority, Timestamp::now())
            .map(|g| (g.taken, g.wait))
            .map_err(|e| e.to_string())
    }

    fn pause(&self, wait: Duration) {
        let now = Timestamp::now();
        let until = jiff::SignedDuration::try_from(wait)
            .ok()
            .and_then(|d| now.checked_add(d).ok())
            .unwrap_or(now);
        if let Err(e) = self.store.pause_budget(&self.key, until) {
            tracing::warn!(error = %e, "Could not share a pause with the other processes.");
        }
    }
}
