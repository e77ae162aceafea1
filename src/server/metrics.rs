//! Prometheus text metrics from hand-rolled atomics: receiver counters, the workers' counters,
//! the ack-latency histogram, and per-system API counters read from `Connector::stats()` at
//! scrape time. No metrics crate: a scrape is a few dozen lines of text.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::runner::{Connectors, WorkerCounters};

/// Upper bounds of the ack-latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// The receiver's counters. One instance per server, shared by every route.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Deliveries received on a webhook route (before verification).
    pub received: AtomicU64,
    /// Deliveries that passed verification.
    pub verified: AtomicU64,
    /// Deliveries refused with 401.
    pub rejected_auth: AtomicU64,
    /// Deliveries refused with 400 (unparseable, foreign record id).
    pub rejected_invalid: AtomicU64,
    /// Deliveries refused with 413.
    pub rejected_too_large: AtomicU64,
    /// Deliveries answered 503 (store failing or inbox above its high-water mark).
    pub unavailable: AtomicU64,
    /// Deliveries refused with 408 (the body came too slowly).
    pub rejected_timeout: AtomicU64,
    /// Deliveries refused with 400 because the body could not be read (the client broke off).
    pub rejected_unreadable: AtomicU64,
    /// Deliveries refused with 413 for carrying more events than the webhook's `max_events`.
    pub rejected_too_many_events: AtomicU64,
    /// Deliveries refused with 503 before reading the body: too many bodies in flight on the
    /// route, or the budget of unverified bytes in memory is spent.
    pub rejected_busy: AtomicU64,
    /// Deliveries refused with 403: an event from another account than the pinned one.
    pub rejected_account: AtomicU64,
    /// Connections closed because a request's head did not arrive within the header timeout
    /// (slowloris, idle kept-alive sockets).
    pub timed_out_connections: AtomicU64,
    /// Connections refused with 503 because the connection cap was reached.
    pub rejected_connections: AtomicU64,
    /// OAuth requests refused: a start without a valid install link (403), over the per-minute
    /// cap (429), or a callback with an unknown, expired or used `state` (400).
    pub rejected_oauth: AtomicU64,
    /// Events newly stored in the inbox.
    pub stored: AtomicU64,
    /// Events already stored (redeliveries), answered 2xx and not stored again.
    pub duplicates: AtomicU64,
    /// Events whose kind the mapping ignores.
    pub ignored: AtomicU64,
    /// Ack latency histogram: counts per bucket (cumulative at render time), sum in µs, count.
    ack_buckets: [AtomicU64; BUCKETS.len()],
    ack_sum_us: AtomicU64,
    ack_count: AtomicU64,
}

impl Metrics {
    /// Adds one.
    pub fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the time from a delivery's arrival to its 2xx.
    pub fn observe_ack(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.ack_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.ack_sum_us.fetch_add(us, Ordering::Relaxed);
        self.ack_count.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(
        &self,
        workers: &WorkerCounters,
        inbox_depth: Option<u64>,
        connectors: &Connectors,
    ) -> String {
        let mut out = String::new();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            "mapsync_webhook_deliveries_received_total",
            "Deliveries received on webhook routes.",
            load(&self.received),
        );
        counter(
            "mapsync_webhook_deliveries_verified_total",
            "Deliveries that passed verification.",
            load(&self.verified),
        );
        counter(
            "mapsync_webhook_deliveries_rejected_unauthorized_total",
            "Deliveries refused with 401.",
            load(&self.rejected_auth),
        );
        counter(
            "mapsync_webhook_deliveries_rejected_invalid_total",
            "Deliveries refused with 400.",
            load(&self.rejected_invalid),
        );
        counter(
            "mapsync_webhook_deliveries_rejected_too_large_total",
            "Deliveries refused with 413.",
            load(&self.rejected_too_large),
        );
        counter(
            "mapsync_webhook_deliveries_unavailable_total",
            "Deliveries answered 503.",
            load(&self.unavailable),
        );
        counter(
            "mapsync_webhook_deliveries_rejected_timeout_total",
            "Deliveries refused with 408 (body too slow).",
            load(&self.rejected_timeout),
        );
        counter(
            "mapsync_webhook_deliveries_rejected_unreadable_total",
            "Deliveries refused with 400 because the body could not be read.",
            load(&self.rejected_unreadable),
        );
        counter(
            "mapsync_webhook_deliveries_rejected_too_many_events_total",
            "Deliveries refused with 413 for carrying more events than max_events.",
            load(&self.rejected_too_many_events),
        );
        counter(
            "mapsync_webhook_deliveries_rejected_busy_total",
            "Deliveries refused with 503 before their body was read (route or memory budget full).",
            load(&self.rejected_busy),
        );
        counter(
            "mapsync_webhook_deliveries_rejected_account_total",
            "Deliveries refused with 403: an event from another account than the pinned one.",
            load(&self.rejected_account),
        );
        counter(
            "mapsync_connections_timed_out_total",
            "Connections closed by the header-read timeout.",
            load(&self.timed_out_connections),
        );
        counter(
            "mapsync_connections_rejected_total",
            "Connections refused with 503 at the connection cap.",
            load(&self.rejected_connections),
        );
        counter(
            "mapsync_oauth_rejected_total",
            "OAuth start or callback requests refused.",
            load(&self.rejected_oauth),
        );
        counter(
            "mapsync_webhook_events_stored_total",
            "Events stored in the inbox.",
            load(&self.stored),
        );
        counter(
            "mapsync_webhook_events_duplicate_total",
            "Redelivered events answered 2xx and not stored again.",
            load(&self.duplicates),
        );
        counter(
            "mapsync_webhook_events_ignored_total",
            "Events whose kind the mapping ignores.",
            load(&self.ignored),
        );
        counter(
            "mapsync_records_processed_total",
            "Inbox records processed by workers.",
            load(&workers.processed),
        );
        counter(
            "mapsync_records_echo_skipped_total",
            "Records skipped as echoes of mapsync's own writes.",
            load(&workers.echo_skipped),
        );
        counter(
            "mapsync_records_retried_total",
            "Records put back for a later attempt.",
            load(&workers.retried),
        );
        counter(
            "mapsync_records_dead_lettered_total",
            "Records moved to the dead letters.",
            load(&workers.dead_lettered),
        );
        if let Some(d) = inbox_depth {
            let _ = writeln!(
                out,
                "# HELP mapsync_inbox_depth Record keys waiting for a worker.\n# TYPE mapsync_inbox_depth gauge\nmapsync_inbox_depth {d}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP mapsync_api_requests_total Requests sent to each system.\n# TYPE mapsync_api_requests_total counter"
        );
        for (name, c) in connectors {
            let _ = writeln!(
                out,
                "mapsync_api_requests_total{{system=\"{name}\"}} {}",
                c.stats().requests
            );
        }
        let _ = writeln!(
            out,
            "# HELP mapsync_api_rate_limited_total 429 answers from each system.\n# TYPE mapsync_api_rate_limited_total counter"
        );
        for (name, c) in connectors {
            let _ = writeln!(
                out,
                "mapsync_api_rate_limited_total{{system=\"{name}\"}} {}",
                c.stats().rate_limited
            );
        }
        let _ = writeln!(
            out,
            "# HELP mapsync_webhook_ack_seconds Time from a delivery's arrival to its 2xx.\n# TYPE mapsync_webhook_ack_seconds histogram"
        );
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += load(&self.ack_buckets[i]);
            let _ = writeln!(
                out,
                "mapsync_webhook_ack_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            );
        }
        let count = load(&self.ack_count);
        let _ = writeln!(
            out,
            "mapsync_webhook_ack_seconds_bucket{{le=\"+Inf\"}} {count}\nmapsync_webhook_ack_seconds_sum {}\nmapsync_webhook_ack_seconds_count {count}",
            load(&self.ack_sum_us) as f64 / 1e6
        );
        out
    }
}
