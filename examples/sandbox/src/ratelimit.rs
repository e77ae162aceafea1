//! Rate limiting: HubSpot's rolling 10-second windows and search's 5/s (FIDELITY.md §2.7), and the
//! 10to8 token bucket [T-14]. Runs on tokio's clock, so a paused clock in tests drives it.

use crate::config::{HubspotRateLimit, TteRateLimit};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Outcome of a limit check.
#[derive(Debug, Clone, Copy)]
pub enum Verdict {
    /// Allowed; `remaining` requests left in the window, out of `max`.
    Allowed { max: u32, remaining: u32 },
    /// Refused; retry after this long.
    Limited { max: u32, retry_after: Duration },
}

/// A rolling window: at most `max` requests in any `window`.
#[derive(Default)]
struct Rolling {
    hits: VecDeque<Instant>,
}

impl Rolling {
    fn check(&mut self, now: Instant, window: Duration, max: u32) -> Verdict {
        while self
            .hits
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.hits.pop_front();
        }
        if self.hits.len() as u32 >= max {
            let oldest = self.hits.front().copied().unwrap_or(now);
            let retry_after = (oldest + window).saturating_duration_since(now);
            return Verdict::Limited { max, retry_after };
        }
        self.hits.push_back(now);
        Verdict::Allowed {
            max,
            remaining: max - self.hits.len() as u32,
        }
    }
}

/// HubSpot limits, keyed by token kind (`private`, `oauth`) and by token for search.
pub struct HubspotLimiter {
    cfg: Mutex<(HubspotRateLimit, HashMap<String, Rolling>)>,
}

impl HubspotLimiter {
    pub fn new(cfg: HubspotRateLimit) -> Self {
        HubspotLimiter {
            cfg: Mutex::new((cfg, HashMap::new())),
        }
    }

    pub fn get(&self) -> HubspotRateLimit {
        self.cfg.lock().unwrap_or_else(|p| p.into_inner()).0.clone()
    }

    /// True when limits are on.
    pub fn enabled(&self) -> bool {
        self.cfg.lock().unwrap_or_else(|p| p.into_inner()).0.enabled
    }

    pub fn set(&self, c: HubspotRateLimit) {
        let mut g = self.cfg.lock().unwrap_or_else(|p| p.into_inner());
        *g = (c, HashMap::new());
    }

    /// `None` when limits are off.
    pub fn check(&self, key: &str, oauth: bool, search: bool) -> Option<Verdict> {
        self.check_at(Instant::now(), key, oauth, search)
    }

    /// `check` at a given instant.
    pub fn check_at(&self, now: Instant, key: &str, oauth: bool, search: bool) -> Option<Verdict> {
        let mut g = self.cfg.lock().unwrap_or_else(|p| p.into_inner());
        let (cfg, windows) = &mut *g;
        if !cfg.enabled {
            return None;
        }
        if search {
            let max = cfg.search_per_second.max(1);
            let w = windows.entry(format!("search:{key}")).or_default();
            return Some(w.check(now, Duration::from_secs(1), max));
        }
        let max = if oauth {
            cfg.oauth_per_10s
        } else {
            cfg.private_app_per_10s
        }
        .max(1);
        let w = windows
            .entry(format!("{}:{key}", if oauth { "oauth" } else { "private" }))
            .or_default();
        Some(w.check(now, Duration::from_secs(10), max))
    }
}

/// 10to8 token bucket [T-14].
pub struct TteLimiter {
    inner: Mutex<(TteRateLimit, f64, Option<Instant>)>,
}

impl TteLimiter {
    pub fn new(cfg: TteRateLimit) -> Self {
        let burst = cfg.burst as f64;
        TteLimiter {
            inner: Mutex::new((cfg, burst, None)),
        }
    }

    pub fn get(&self) -> TteRateLimit {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    pub fn set(&self, c: TteRateLimit) {
        let burst = c.burst as f64;
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = (c, burst, None);
    }

    /// `None` when allowed (or off); `Some(wait)` when throttled.
    pub fn check(&self) -> Option<Duration> {
        self.check_at(Instant::now())
    }

    /// `check` at a given instant.
    pub fn check_at(&self, now: Instant) -> Option<Duration> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (cfg, tokens, last) = &mut *g;
        if !cfg.enabled {
            return None;
        }
        let rate = if cfg.per_second > 0.0 {
            cfg.per_second
        } else {
            10.0
        };
        let burst = cfg.burst.max(1) as f64;
        if let Some(l) = *last {
            *tokens = (*tokens + now.saturating_duration_since(l).as_secs_f64() * rate).min(burst);
        } else {
            *tokens = burst;
        }
        *last = Some(now);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_window_refuses_then_recovers() {
        let l = HubspotLimiter::new(HubspotRateLimit {
            private_app_per_10s: 3,
            ..HubspotRateLimit::documented()
        });
        let t0 = Instant::now();
        for left in [2, 1, 0] {
            assert!(
                matches!(l.check_at(t0, "t", false, false), Some(Verdict::Allowed { remaining, .. }) if remaining == left)
            );
        }
        let Some(Verdict::Limited { retry_after, .. }) = l.check_at(t0, "t", false, false) else {
            panic!("expected a limit")
        };
        assert_eq!(retry_after, Duration::from_secs(10));
        assert!(matches!(
            l.check_at(t0 + Duration::from_secs(10), "t", false, false),
            Some(Verdict::Allowed { .. })
        ));
        // OAuth tokens have their own window
        assert!(matches!(
            l.check_at(t0, "t", true, false),
            Some(Verdict::Allowed { max: 110, .. })
        ));
    }

    #[test]
    fn token_bucket_refills() {
        let l = TteLimiter::new(TteRateLimit {
            enabled: true,
            per_second: 2.0,
            burst: 2,
        });
        let t0 = Instant::now();
        assert!(l.check_at(t0).is_none());
        assert!(l.check_at(t0).is_none());
        let wait = l.check_at(t0).expect("throttled");
        assert_eq!(wait, Duration::from_millis(500));
        assert!(l.check_at(t0 + Duration::from_millis(500)).is_none());
    }
}
