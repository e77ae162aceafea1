//! Counters of what a connector sent, for metrics and benchmarks. They only count; they never
//! change what is sent.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Live counters, shared by every clone of a connector.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) requests: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) transport_errors: AtomicU64,
    /// HTTP answers of any status: once the system has answered, an unreachable address is a
    /// passing outage (retried), not a wrong base URL.
    pub(crate) answers: AtomicU64,
}

impl Stats {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A snapshot of a connector's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ConnectorStats {
    /// Requests sent to the API (every attempt, token calls excluded).
    pub requests: u64,
    /// Of those, repeats of an earlier failed attempt.
    pub retries: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Attempts that got no HTTP answer (timeouts, resets).
    pub transport_errors: u64,
    /// OAuth token refreshes.
    pub token_refreshes: u64,
}

impl Stats {
    pub(crate) fn snapshot(&self, token_refreshes: u64) -> ConnectorStats {
        ConnectorStats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            transport_errors: self.transport_errors.load(Ordering::Relaxed),
            token_refreshes,
        }
    }
}
