//! The backoff schedule between attempts of one call: `base · 2^n` with jitter, capped, and the
//! parsing of `Retry-After`. It never sleeps and never decides what happens after the last
//! attempt (the runner does, from the error class).

use std::sync::Arc;
use std::time::Duration;

use crate::mapping::model::RetryPolicy;

/// A source of uniform numbers in `[0, 1)`, injected so tests can fix the jitter.
pub trait Random: Send + Sync {
    /// The next number in `[0, 1)`.
    fn unit(&self) -> f64;
}

/// The process's random source.
#[derive(Debug, Clone, Copy, Default)]
pub struct FastRandom;

impl Random for FastRandom {
    fn unit(&self) -> f64 {
        fastrand::f64()
    }
}

/// Always the same number (tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedRandom(pub f64);

impl Random for FixedRandom {
    fn unit(&self) -> f64 {
        self.0.clamp(0.0, 1.0)
    }
}

/// How a backoff delay is spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    /// Exactly `base · 2^n`.
    None,
    /// Uniform in `[0, base · 2^n]` ("full jitter").
    Full,
    /// Uniform in `[base · 2^n · (1 − j), base · 2^n · (1 + j)]`, `j` in `[0, 1]`.
    Proportional(f64),
}

impl Default for Jitter {
    /// ±25 %: spreads retries of concurrent callers without ever retrying at once.
    fn default() -> Self {
        Jitter::Proportional(0.25)
    }
}

/// The delays between attempts of one call.
#[derive(Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    jitter: Jitter,
    random: Arc<dyn Random>,
}

impl std::fmt::Debug for Backoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backoff")
            .field("base", &self.base)
            .field("cap", &self.cap)
            .field("jitter", &self.jitter)
            .finish()
    }
}

impl Backoff {
    /// The schedule a retry policy declares.
    pub fn new(policy: &RetryPolicy, jitter: Jitter, random: Arc<dyn Random>) -> Backoff {
        Backoff {
            base: policy.base_delay,
            cap: policy.max_delay,
            jitter,
            random,
        }
    }

    /// The delay after the `n`-th failed attempt (0-based): `base · 2^n` jittered, at most the
    /// cap.
    pub fn delay(&self, n: u32) -> Duration {
        let nominal = self.base.as_secs_f64() * 2f64.powi(n.min(62) as i32);
        let jittered = match self.jitter {
            Jitter::None => nominal,
            Jitter::Full => nominal * self.random.unit(),
            Jitter::Proportional(j) => {
                let j = j.clamp(0.0, 1.0);
                nominal * (1.0 + j * (2.0 * self.random.unit() - 1.0))
            }
        };
        let capped = jittered.min(self.cap.as_secs_f64()).max(0.0);
        Duration::try_from_secs_f64(capped).unwrap_or(self.cap)
    }
}

/// Parses a `Retry-After` value: seconds, or an HTTP date (then the time left until it).
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let left = at.duration_since(now);
    Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn policy(base_ms: u64, cap_ms: u64) -> RetryPolicy {
        RetryPolicy {
            base_delay: Duration::from_millis(base_ms),
            max_delay: Duration::from_millis(cap_ms),
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn doubles_then_caps() {
        let b = Backoff::new(&policy(500, 4000), Jitter::None, Arc::new(FastRandom));
        let ds: Vec<u64> = (0..6).map(|n| b.delay(n).as_millis() as u64).collect();
        assert_eq!(ds, [500, 1000, 2000, 4000, 4000, 4000]);
        let full = Backoff::new(&policy(500, 4000), Jitter::Full, Arc::new(FixedRandom(0.5)));
        assert_eq!(full.delay(1), Duration::from_millis(500));
        assert_eq!(full.delay(100), Duration::from_millis(4000));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after(" 2 ", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:00:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Wed, 31 Dec 2025 00:00:05 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    proptest! {
        #[test]
        fn every_delay_is_within_its_jitter_band_and_the_cap(
            base_ms in 1u64..5_000,
            cap_ms in 1u64..120_000,
            j in 0.0f64..=1.0,
            u in 0.0f64..1.0,
            n in 0u32..40,
        ) {
            let b = Backoff::new(&policy(base_ms, cap_ms), Jitter::Proportional(j), Arc::new(FixedRandom(u)));
            let d = b.delay(n).as_secs_f64();
            let nominal = base_ms as f64 / 1000.0 * 2f64.powi(n as i32);
            let cap = cap_ms as f64 / 1000.0;
            prop_assert!(d <= cap + 1e-9);
            prop_assert!(d >= (nominal * (1.0 - j)).min(cap) - 1e-6);
            prop_assert!(d <= nominal * (1.0 + j) + 1e-6);
        }
    }
}
