//! The request budget of one system: a token bucket from the declared `rate_limit`, fed by the
//! budget headers the API returns, and a system-wide pause that holds every request until a
//! `Retry-After` has passed. It never sends anything and never decides to give up. With a
//! [`SharedBudget`] (several processes on one state store), the tokens come from it instead,
//! and pauses are shared through it too.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::mapping::model::RateLimit;

/// A budget shared with other processes (kept in the state store by the runner, which knows
/// whether this process's work is live or a back-fill).
pub trait SharedBudget: Send + Sync {
    /// Asks for one request at `per_second` with a bucket of `burst`: `Ok((true, wait))` when a
    /// token was taken (send after `wait`), `Ok((false, wait))` when none was (ask again after
    /// `wait`). An error says the budget cannot be reached; the local bucket is used then.
    fn take(&self, per_second: f64, burst: f64) -> Result<(bool, Duration), String>;
    /// Holds every process's requests for `wait` from now (a `Retry-After`).
    fn pause(&self, wait: Duration);
}

/// The budget shared by every request to one system (all clones of a connector).
pub struct RateLimiter {
    /// Tokens per second and the bucket size; `None` when the mapping declares no limit.
    rate: Option<(f64, f64)>,
    state: Mutex<State>,
    /// Where the tokens come from when other processes share the limit.
    shared: Option<Arc<dyn SharedBudget>>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("rate", &self.rate)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

#[derive(Debug)]
struct State {
    /// Tokens available; negative when requests have reserved future tokens.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
    /// No request may leave before this instant (a `Retry-After`, or a spent budget).
    paused_until: Option<Instant>,
}

impl RateLimiter {
    /// A bucket for a declared limit (or none: only pauses apply).
    pub fn new(limit: Option<&RateLimit>) -> RateLimiter {
        let rate = limit.map(|l| {
            let per_sec = f64::from(l.requests.max(1)) / l.per.as_secs_f64().max(1e-3);
            (per_sec, f64::from(l.burst.max(1)))
        });
        RateLimiter {
            rate,
            state: Mutex::new(State {
                tokens: rate.map_or(0.0, |(_, burst)| burst),
                updated: Instant::now(),
                paused_until: None,
            }),
            shared: None,
        }
    }

    /// Takes the declared limit's tokens from `budget`, shared with other processes.
    pub fn shared_with(mut self, budget: Arc<dyn SharedBudget>) -> RateLimiter {
        self.shared = Some(budget);
        self
    }

    /// A token from the shared budget, waited for; false if the budget cannot be reached.
    async fn acquire_shared(&self) -> bool {
        let (Some(shared), Some((per_sec, burst))) = (&self.shared, self.rate) else {
            return false;
        };
        loop {
            match shared.take(per_sec, burst) {
                Ok((true, wait)) => {
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                    return true;
                }
                Ok((false, wait)) => {
                    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "The shared request budget cannot be reached; keeping to the declared limit in this process alone.");
                    return false;
                }
            }
        }
    }

    /// Waits until a request may be sent: a token is reserved (waiting for it to accrue when the
    /// bucket is empty), then any pause is waited out.
    pub async fn acquire(&self) {
        if !self.acquire_shared().await {
            let wait = self.reserve(Instant::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        loop {
            let until = self.lock().paused_until;
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => return,
            }
        }
    }

    /// Takes one token and says how long until it is there.
    fn reserve(&self, now: Instant) -> Duration {
        let Some((per_sec, burst)) = self.rate else {
            return Duration::ZERO;
        };
        let mut s = self.lock();
        if now > s.updated {
            let accrued = now.duration_since(s.updated).as_secs_f64() * per_sec;
            s.tokens = (s.tokens + accrued).min(burst);
            s.updated = now;
        }
        s.tokens -= 1.0;
        let ahead = s.updated.saturating_duration_since(now);
        if s.tokens >= 0.0 {
            ahead
        } else {
            ahead + Duration::from_secs_f64(-s.tokens / per_sec)
        }
    }

    /// Holds every request to the system until `until` (e.g. `now + Retry-After`); an earlier
    /// pause never shortens a later one. The bucket restarts with one token at the end of the
    /// pause, so requests resume at the declared rate rather than all at once.
    pub fn pause_until(&self, until: Instant) {
        if let Some(shared) = &self.shared {
            shared.pause(until.saturating_duration_since(Instant::now()));
        }
        let mut s = self.lock();
        if s.paused_until.is_none_or(|t| t < until) {
            s.paused_until = Some(until);
        }
        if self.rate.is_some() && s.updated < until {
            s.tokens = s.tokens.min(1.0);
            s.updated = until;
        }
    }

    /// Takes the API's own account of the budget: `remaining` requests left in the current
    /// window of `interval` (the declared `per` when the API does not say). None left: pause
    /// until the window has passed.
    pub fn observe_budget(&self, remaining: u64, interval: Option<Duration>) {
        if remaining == 0 {
            let window = interval.or(self.window()).unwrap_or(Duration::from_secs(1));
            self.pause_until(Instant::now() + window);
            return;
        }
        if self.rate.is_some() {
            let mut s = self.lock();
            s.tokens = s.tokens.min(remaining as f64);
        }
    }

    /// When requests may leave again, if paused now.
    pub fn paused_until(&self) -> Option<Instant> {
        self.lock().paused_until.filter(|t| *t > Instant::now())
    }

    fn window(&self) -> Option<Duration> {
        self.rate
            .map(|(per_sec, burst)| Duration::from_secs_f64(burst / per_sec))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another task panicked while holding it; the state is a
        // few numbers that stay meaningful.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn limit(requests: u32, per_ms: u64, burst: u32) -> RateLimit {
        RateLimit {
            requests,
            per: Duration::from_millis(per_ms),
            burst,
            headers: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn paces_after_the_burst() {
        let l = RateLimiter::new(Some(&limit(5, 1000, 2)));
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..6 {
            l.acquire().await;
            at.push(start.elapsed().as_millis());
        }
        assert_eq!(at, [0, 0, 200, 400, 600, 800]);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_the_budget() {
        let l = Arc::new(RateLimiter::new(Some(&limit(10, 1000, 1))));
        let start = Instant::now();
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let l = l.clone();
                tokio::spawn(async move {
                    l.acquire().await;
                    start.elapsed()
                })
            })
            .collect();
        let mut at = Vec::new();
        for t in tasks {
            at.push(t.await.unwrap().as_millis());
        }
        at.sort();
        assert_eq!(at, [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_everyone_and_the_bucket_restarts_nearly_empty() {
        let l = RateLimiter::new(Some(&limit(10, 1000, 10)));
        let start = Instant::now();
        l.pause_until(start + Duration::from_secs(2));
        l.pause_until(start + Duration::from_secs(1)); // never shortens
        l.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        l.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(2100));
    }

    #[tokio::test(start_paused = true)]
    async fn budget_headers_feed_the_bucket() {
        let l = RateLimiter::new(Some(&limit(100, 10_000, 100)));
        let start = Instant::now();
        l.observe_budget(0, Some(Duration::from_millis(1500)));
        l.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(1500));
        // Without a declared limit, an exhausted budget still pauses.
        let free = RateLimiter::new(None);
        let start = Instant::now();
        free.acquire().await;
        free.observe_budget(0, Some(Duration::from_millis(300)));
        free.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(300));
    }

    /// A shared budget that refuses twice, then grants, and records pauses.
    #[derive(Default)]
    struct Fake {
        asked: std::sync::atomic::AtomicU32,
        paused: Mutex<Vec<Duration>>,
    }

    impl SharedBudget for Fake {
        fn take(&self, per_second: f64, burst: f64) -> Result<(bool, Duration), String> {
            assert_eq!((per_second, burst), (10.0, 2.0));
            let n = self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok((n >= 2, Duration::from_millis(100)))
        }

        fn pause(&self, wait: Duration) {
            self.paused.lock().unwrap().push(wait);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_shared_budget_is_asked_until_it_grants_and_shares_pauses() {
        let fake = Arc::new(Fake::default());
        let l = RateLimiter::new(Some(&limit(10, 1000, 2))).shared_with(fake.clone());
        let start = Instant::now();
        l.acquire().await;
        // Two refusals of 100 ms each, then a grant to send after 100 ms.
        assert_eq!(fake.asked.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(start.elapsed(), Duration::from_millis(300));
        l.pause_until(Instant::now() + Duration::from_secs(7));
        assert_eq!(*fake.paused.lock().unwrap(), [Duration::from_secs(7)]);
    }
}
