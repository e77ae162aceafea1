//! The request log, per-operation counters and the outbound delivery log of one system.

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// One request the sandbox received (control requests under `/_sandbox` are not logged).
#[derive(Clone, Debug, Serialize)]
pub struct LoggedRequest {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path and query exactly as received.
    pub path: String,
    /// Operation name, e.g. `contacts.create`, `customers.patch` (`other` if no route matched).
    pub operation: String,
    /// Status sent; `None` when the connection was dropped without an answer.
    pub status: Option<u16>,
    /// `Retry-After` seconds sent with a 429.
    pub retry_after: Option<u64>,
    /// The injected fault, if any: `error`, `throttle`, `drop`, `scripted`, `ratelimit`.
    pub fault: Option<String>,
    /// When the request arrived, on tokio's clock (pausable in tests).
    #[serde(skip)]
    pub received: Instant,
    /// When the answer was ready, on tokio's clock.
    #[serde(skip)]
    pub answered: Instant,
    /// `received` as milliseconds since the sandbox started.
    pub received_ms: f64,
    /// `answered` as milliseconds since the sandbox started.
    pub answered_ms: f64,
    /// Wall clock at arrival, epoch milliseconds.
    pub received_epoch_ms: i64,
    /// First 16 hex digits of SHA-256 of the body (`None` without a body): tells a retry of the
    /// same request from a different request to the same path.
    pub body_hash: Option<String>,
}

/// A request that arrived before the `Retry-After` of an earlier 429 for the same request had
/// passed.
#[derive(Clone, Debug, Serialize)]
pub struct RetryAfterViolation {
    /// The 429 answer.
    pub throttled: LoggedRequest,
    /// The next identical request (method, path and query, body), which came too early.
    pub early: LoggedRequest,
}

/// For every 429 with `Retry-After`, the next identical request must arrive at least that many
/// seconds after the 429 was answered.
pub fn retry_after_violations(log: &[LoggedRequest]) -> Vec<RetryAfterViolation> {
    let mut out = Vec::new();
    for (i, r) in log.iter().enumerate() {
        let (Some(429), Some(secs)) = (r.status, r.retry_after) else {
            continue;
        };
        let same = |x: &&LoggedRequest| {
            x.method == r.method && x.path == r.path && x.body_hash == r.body_hash
        };
        if let Some(next) = log[i + 1..].iter().find(same)
            && next.received.saturating_duration_since(r.answered) < Duration::from_secs(secs)
        {
            out.push(RetryAfterViolation {
                throttled: r.clone(),
                early: next.clone(),
            });
        }
    }
    out
}

/// Requests and successes of one operation.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct OpCount {
    /// Every request routed to the operation, whatever its answer.
    pub total: u64,
    /// Those answered 2xx.
    pub ok: u64,
}

/// One attempt to deliver a notification (10to8) or a webhook batch (HubSpot).
#[derive(Clone, Debug, Serialize)]
pub struct DeliveryAttempt {
    /// Order of the attempt, from 1.
    pub seq: u64,
    /// Id of the logical delivery; retries and duplicates share it.
    pub delivery_id: u64,
    /// URL called.
    pub url: String,
    /// 0 for the first attempt.
    pub attempt: u32,
    /// Status answered; `None` on a connection error, a timeout, or a dropped delivery.
    pub status: Option<u16>,
    /// Error text (timeout, connection refused) or `dropped by fault`.
    pub error: Option<String>,
    /// The exact body sent (or that would have been sent, when dropped).
    pub body: String,
    /// Milliseconds since the sandbox started.
    pub at_ms: f64,
}

impl DeliveryAttempt {
    /// True when the attempt was answered 2xx.
    pub fn succeeded(&self) -> bool {
        matches!(self.status, Some(s) if (200..300).contains(&s))
    }
}

/// The logs of one system.
pub struct Journal {
    started: Instant,
    capacity: usize,
    inner: Mutex<JournalInner>,
}

#[derive(Default)]
struct JournalInner {
    next_seq: u64,
    requests: VecDeque<LoggedRequest>,
    counters: BTreeMap<String, OpCount>,
    next_delivery_seq: u64,
    deliveries: Vec<DeliveryAttempt>,
}

/// What the gate knows about a request once it is answered.
pub struct Entry {
    pub method: String,
    pub path: String,
    pub operation: String,
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub fault: Option<String>,
    pub received: Instant,
    pub received_epoch_ms: i64,
    pub body_hash: Option<String>,
}

impl Journal {
    pub fn new(started: Instant, capacity: usize) -> Self {
        Journal {
            started,
            capacity: capacity.max(1),
            inner: Mutex::new(JournalInner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, JournalInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn since_start_ms(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.started).as_secs_f64() * 1000.0
    }

    pub fn record(&self, e: Entry) {
        let answered = Instant::now();
        let mut g = self.lock();
        g.next_seq += 1;
        let c = g.counters.entry(e.operation.clone()).or_default();
        c.total += 1;
        if matches!(e.status, Some(s) if (200..300).contains(&s)) {
            c.ok += 1;
        }
        let item = LoggedRequest {
            seq: g.next_seq,
            method: e.method,
            path: e.path,
            operation: e.operation,
            status: e.status,
            retry_after: e.retry_after,
            fault: e.fault,
            received: e.received,
            answered,
            received_ms: self.since_start_ms(e.received),
            answered_ms: self.since_start_ms(answered),
            received_epoch_ms: e.received_epoch_ms,
            body_hash: e.body_hash,
        };
        if g.requests.len() >= self.capacity {
            g.requests.pop_front();
        }
        g.requests.push_back(item);
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.lock().requests.iter().cloned().collect()
    }

    pub fn counters(&self) -> BTreeMap<String, OpCount> {
        self.lock().counters.clone()
    }

    pub fn clear(&self) {
        let mut g = self.lock();
        g.requests.clear();
        g.counters.clear();
        g.deliveries.clear();
    }

    pub fn delivery(
        &self,
        delivery_id: u64,
        url: &str,
        attempt: u32,
        body: &str,
        status: Option<u16>,
        error: Option<String>,
    ) {
        let at_ms = self.since_start_ms(Instant::now());
        let mut g = self.lock();
        g.next_delivery_seq += 1;
        let seq = g.next_delivery_seq;
        g.deliveries.push(DeliveryAttempt {
            seq,
            delivery_id,
            url: url.to_string(),
            attempt,
            status,
            error,
            body: body.to_string(),
            at_ms,
        });
    }

    pub fn deliveries(&self) -> Vec<DeliveryAttempt> {
        self.lock().deliveries.clone()
    }
}

/// Duration in whole seconds, rounded up (for `Retry-After`).
pub fn ceil_secs(d: Duration) -> u64 {
    let s = d.as_secs();
    if d.subsec_nanos() > 0 { s + 1 } else { s }
}
