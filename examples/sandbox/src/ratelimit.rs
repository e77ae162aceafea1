//! Rate limiting: HubSpot's rolling 10-second windows, search's 5/s and the private app's daily
//! budget (FIDELITY.md §2.7), and the 10to8 token bucket [T-14]. Runs on tokio's clock, so a paused clock in tests drives it.

use crate::config::{HubspotRateLimit, TteRateLimit};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// A private-app token's daily budget, reported in `X-HubSpot-RateLimit-Daily(-Remaining)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Daily {
    pub max: u32,
    pub remaining: u32,
}

/// Outcome of a limit check.
#[derive(Debug, Clone, Copy)]
pub enum Verdict {
    /// Allowed; `remaining` requests left in the window, out of `max`.
    Allowed {
        max: u32,
        remaining: u32,
        daily: Option<Daily>,
    },
    /// Refused by `policy` (`TEN_SECONDLY_ROLLING`, `DAILY` or search's `SECONDLY`); retry
    /// after this long.
    Limited {
        max: u32,
        retry_after: Duration,
        daily: Option<Daily>,
        policy: &'static str,
    },
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
            let policy = if window.as_secs() == 1 {
                "SECONDLY"
            } else {
                "TEN_SECONDLY_ROLLING"
            };
            return Verdict::Limited {
                max,
                retry_after,
                daily: None,
                policy,
            };
        }
        self.hits.push_back(now);
        Verdict::Allowed {
            max,
            remaining: max - self.hits.len() as u32,
            daily: None,
        }
    }
}

/// Requests a private-app token made on one UTC day (the account's time zone is UTC).
#[derive(Default)]
struct DayCount {
    day: i64,
    used: u32,
}

type Windows = (
    HubspotRateLimit,
    HashMap<String, Rolling>,
    HashMap<String, DayCount>,
);

/// HubSpot limits, keyed by token kind (`private`, `oauth`) and by token for search; private-app
/// tokens also have a daily budget (OAuth tokens have none, and get no daily headers).
pub struct HubspotLimiter {
    cfg: Mutex<Windows>,
}

impl HubspotLimiter {
    pub fn new(cfg: HubspotRateLimit) -> Self {
        HubspotLimiter {
            cfg: Mutex::new((cfg, HashMap::new(), HashMap::new())),
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
        *g = (c, HashMap::new(), HashMap::new());
    }

    /// `None` when limits are off.
    pub fn check(&self, key: &str, oauth: bool, search: bool) -> Option<Verdict> {
        self.check_at(Instant::now(), crate::clock::now_ms(), key, oauth, search)
    }

    /// `check` at a given instant; `epoch_ms` decides the day of the daily budget.
    pub fn check_at(
        &self,
        now: Instant,
        epoch_ms: i64,
        key: &str,
        oauth: bool,
        search: bool,
    ) -> Option<Verdict> {
        let mut g = self.cfg.lock().unwrap_or_else(|p| p.into_inner());
        let (cfg, windows, days) = &mut *g;
        if !cfg.enabled {
            return None;
        }
        if !oauth && !search {
            let daily_max = cfg.private_app_daily.max(1);
            let day = epoch_ms.div_euclid(86_400_000);
            let count = days.entry(key.to_string()).or_default();
            if count.day != day {
                *count = DayCount { day, used: 0 };
            }
            let max = cfg.private_app_per_10s.max(1);
            if count.used >= daily_max {
                let midnight = (day + 1) * 86_400_000;
                return Some(Verdict::Limited {
                    max,
                    retry_after: Duration::from_millis((midnight - epoch_ms).max(0) as u64),
                    daily: Some(Daily {
                        max: daily_max,
                        remaining: 0,
                    }),
                    policy: "DAILY",
                });
            }
            let w = windows.entry(format!("private:{key}")).or_default();
            let mut v = w.check(now, Duration::from_secs(10), max);
            if matches!(v, Verdict::Allowed { .. }) {
                count.used += 1;
            }
            let d = Daily {
                max: daily_max,
                remaining: daily_max - count.used,
            };
            match &mut v {
                Verdict::Allowed { daily, .. } | Verdict::Limited { daily, .. } => *daily = Some(d),
            }
            return Some(v);
        }
        if search {
            let max = cfg.search_per_second.max(1);
            let w = windows.entry(format!("search:{key}")).or_default();
            return Some(w.check(now, Duration::from_secs(1), max));
        }
        let max = cfg.oauth_per_10s.max(1);
        let w = windows.entry(format!("oauth:{key}")).or_default();
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
        const MS: i64 = 1_739_288_700_400;
        for left in [2, 1, 0] {
            assert!(
                matches!(l.check_at(t0, MS, "t", false, false), Some(Verdict::Allowed { remaining, .. }) if remaining == left)
            );
        }
        let Some(Verdict::Limited {
            retry_after,
            policy,
            ..
        }) = l.check_at(t0, MS, "t", false, false)
        else {
            panic!("expected a limit")
        };
        assert_eq!(retry_after, Duration::from_secs(10));
        assert_eq!(policy, "TEN_SECONDLY_ROLLING");
        assert!(matches!(
            l.check_at(t0 + Duration::from_secs(10), MS, "t", false, false),
            Some(Verdict::Allowed { .. })
        ));
        // OAuth tokens have their own window and no daily budget
        assert!(matches!(
            l.check_at(t0, MS, "t", true, false),
            Some(Verdict::Allowed {
                max: 110,
                daily: None,
                ..
            })
        ));
    }

    #[test]
    fn the_private_app_daily_budget_runs_out_until_midnight_utc() {
        let l = HubspotLimiter::new(HubspotRateLimit {
            private_app_daily: 2,
            ..HubspotRateLimit::documented()
        });
        let t0 = Instant::now();
        let day = 20_000 * 86_400_000i64;
        let noon = day + 43_200_000;
        for left in [1, 0] {
            assert!(matches!(
                l.check_at(t0, noon, "t", false, false),
                Some(Verdict::Allowed { daily: Some(Daily { max: 2, remaining }), .. }) if remaining == left
            ));
        }
        let Some(Verdict::Limited {
            retry_after,
            policy: "DAILY",
            ..
        }) = l.check_at(t0, noon, "t", false, false)
        else {
            panic!("expected the daily limit")
        };
        assert_eq!(retry_after, Duration::from_secs(12 * 3600));
        assert!(matches!(
            l.check_at(t0, day + 86_400_000, "t", false, false),
            Some(Verdict::Allowed {
                daily: Some(Daily { remaining: 1, .. }),
                ..
            })
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
