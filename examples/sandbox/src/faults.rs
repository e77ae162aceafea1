//! Fault injection for one system: error and 429 answers, latency, dropped connections,
//! and dropped / duplicated / reordered outbound deliveries. Draws come from a seeded generator,
//! so a given seed and request order give the same faults.

use crate::config::{AfterApply, Faults};
use std::sync::Mutex;
use std::time::Duration;

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Serve it normally.
    Serve,
    /// Answer this status without serving (`fault` names the cause).
    Status {
        status: u16,
        retry_after: Option<u64>,
        fault: &'static str,
    },
    /// Close the connection without answering.
    Drop,
    /// Serve it (it takes effect), then answer this instead of the real answer.
    ApplyThenFail(AfterApply),
}

/// What to do with one outbound delivery.
#[derive(Debug, Clone, Default)]
pub struct DeliveryPlan {
    pub drop: bool,
    pub duplicate: bool,
    /// Hold the delivery back this long before the first attempt.
    pub hold: Duration,
    /// Shuffle the events of a batch.
    pub shuffle: bool,
}

/// Current fault settings plus the generator.
pub struct FaultState {
    inner: Mutex<(Faults, fastrand::Rng)>,
}

impl FaultState {
    pub fn new(cfg: Faults, seed: u64) -> Self {
        FaultState {
            inner: Mutex::new((cfg, fastrand::Rng::with_seed(seed))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Faults, fastrand::Rng)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self) -> Faults {
        self.lock().0.clone()
    }

    pub fn set(&self, f: Faults) {
        self.lock().0 = f;
    }

    /// Decide the latency and the action for a request.
    pub fn decide(&self, method: &str, path: &str) -> (Duration, Action) {
        let mut g = self.lock();
        let (cfg, rng) = &mut *g;
        // Scripted faults first, in order.
        if let Some(i) = cfg.scripted.iter().position(|s| {
            s.count > 0
                && s.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && s.path_contains.as_deref().is_none_or(|p| path.contains(p))
        }) {
            let s = &mut cfg.scripted[i];
            s.count -= 1;
            if s.apply_first {
                let after = match s.status {
                    0 => AfterApply::Drop,
                    st => AfterApply::Status(st),
                };
                return (Duration::ZERO, Action::ApplyThenFail(after));
            }
            let action = match s.status {
                0 => Action::Drop,
                429 => Action::Status {
                    status: 429,
                    retry_after: Some(s.retry_after_secs.unwrap_or(1)),
                    fault: "scripted",
                },
                st => Action::Status {
                    status: st,
                    retry_after: None,
                    fault: "scripted",
                },
            };
            return (Duration::ZERO, action);
        }
        if cfg
            .path_contains
            .as_deref()
            .is_some_and(|p| !path.contains(p))
        {
            return (Duration::ZERO, Action::Serve);
        }
        // Clamp to an hour so absurd settings from the control API cannot overflow.
        const HOUR_US: i64 = 3_600_000_000;
        let base = (cfg.latency.as_micros() as i64).clamp(0, HOUR_US);
        let j = (cfg.jitter.as_micros() as i64).clamp(0, HOUR_US);
        let off = if j == 0 { 0 } else { rng.i64(-j..=j) };
        let latency = Duration::from_micros((base + off).max(0) as u64);
        let applies = cfg.apply_then_fail_methods.is_empty()
            || cfg
                .apply_then_fail_methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case(method));
        let action =
            if cfg.apply_then_fail_rate > 0.0 && applies && rng.f64() < cfg.apply_then_fail_rate {
                Action::ApplyThenFail(cfg.apply_then_fail)
            } else if cfg.drop_rate > 0.0 && rng.f64() < cfg.drop_rate {
                Action::Drop
            } else if cfg.error_rate > 0.0 && rng.f64() < cfg.error_rate {
                let statuses: &[u16] = if cfg.error_statuses.is_empty() {
                    &[500, 503]
                } else {
                    &cfg.error_statuses
                };
                let status = statuses[rng.usize(..statuses.len())];
                Action::Status {
                    status,
                    retry_after: None,
                    fault: "error",
                }
            } else if cfg.throttle_rate > 0.0 && rng.f64() < cfg.throttle_rate {
                Action::Status {
                    status: 429,
                    retry_after: Some(cfg.retry_after_secs.max(1)),
                    fault: "throttle",
                }
            } else {
                Action::Serve
            };
        (latency, action)
    }

    /// Decide the fate of an outbound delivery.
    pub fn plan_delivery(&self) -> DeliveryPlan {
        let mut g = self.lock();
        let (cfg, rng) = &mut *g;
        let mut plan = DeliveryPlan::default();
        if cfg.delivery_drop_rate > 0.0 && rng.f64() < cfg.delivery_drop_rate {
            plan.drop = true;
        }
        if cfg.delivery_duplicate_rate > 0.0 && rng.f64() < cfg.delivery_duplicate_rate {
            plan.duplicate = true;
        }
        if cfg.delivery_reorder_rate > 0.0 && rng.f64() < cfg.delivery_reorder_rate {
            plan.shuffle = true;
            let w = cfg.reorder_window.as_millis() as u64;
            plan.hold = Duration::from_millis(if w == 0 { 0 } else { rng.u64(0..=w) });
        }
        plan
    }

    /// Shuffle with the seeded generator.
    pub fn shuffle<T>(&self, items: &mut [T]) {
        self.lock().1.shuffle(items);
    }
}
