//! The request budget shared by every process on one store (`sync` beside `serve`): a token
//! bucket per system, kept in the store, from which live work (`serve`'s workers) is served
//! before the back-fill (a full sync). Plain data and the rule; the SQL lives in
//! `sqlite/budget.rs`.

use std::time::Duration;

/// A declared limit: `per_second` tokens accrue, up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetRate {
    pub per_second: f64,
    pub burst: f64,
}

impl BudgetRate {
    /// The tokens the back-fill leaves for live work: half of the burst beyond one request.
    pub fn reserve(&self) -> f64 {
        ((self.burst - 1.0) / 2.0).max(0.0)
    }
}

/// Whose request it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetPriority {
    /// A live change (`serve`'s workers): always takes a token, queueing behind earlier live
    /// requests when the bucket is empty.
    Live,
    /// The back-fill (a full sync): takes a token only while more than the reserve is left, so a
    /// live request finds one at once.
    Backfill,
}

/// The answer to a request for budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetGrant {
    /// True: a token was taken; send after `wait`. False: none was taken; ask again after
    /// `wait`.
    pub taken: bool,
    pub wait: Duration,
}

/// The bucket's state as stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    pub tokens: f64,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
    pub paused_until: Option<i64>,
}

impl Bucket {
    /// The rule every store implements: refill for the time since `updated_at` (never past
    /// `burst`), then serve one request of `priority` at `at` (milliseconds); returns the new
    /// state and the grant.
    pub(crate) fn take(
        stored: Option<Bucket>,
        rate: &BudgetRate,
        priority: BudgetPriority,
        at: i64,
    ) -> (Bucket, BudgetGrant) {
        let per_ms = rate.per_second.max(1e-9) / 1000.0;
        let mut b = stored.unwrap_or(Bucket {
            tokens: rate.burst,
            updated_at: at,
            paused_until: None,
        });
        if at > b.updated_at {
            b.tokens = (b.tokens + (at - b.updated_at) as f64 * per_ms).min(rate.burst);
            b.updated_at = at;
        }
        let pause = b.paused_until.map_or(0, |p| (p - at).max(0));
        let millis = |ms: f64| Duration::from_secs_f64((ms / 1000.0).max(0.0));
        let grant = match priority {
            BudgetPriority::Live => {
                b.tokens -= 1.0;
                // The bucket's time may be ahead of `at` (it restarts at the end of a pause):
                // a token is counted from then.
                let ahead = (b.updated_at - at).max(0) as f64;
                let queue = ahead
                    + if b.tokens < 0.0 {
                        -b.tokens / per_ms
                    } else {
                        0.0
                    };
                BudgetGrant {
                    taken: true,
                    wait: millis(queue.max(pause as f64)),
                }
            }
            BudgetPriority::Backfill if pause > 0 => BudgetGrant {
                taken: false,
                wait: millis(pause as f64),
            },
            BudgetPriority::Backfill if b.tokens - 1.0 >= rate.reserve() => {
                b.tokens -= 1.0;
                BudgetGrant {
                    taken: true,
                    wait: Duration::ZERO,
                }
            }
            BudgetPriority::Backfill => BudgetGrant {
                taken: false,
                wait: millis((rate.reserve() + 1.0 - b.tokens) / per_ms),
            },
        };
        (b, grant)
    }

    /// The rule for a pause until `until` (milliseconds): no request leaves before it (an
    /// earlier pause never shortens a later one), and the bucket restarts then with at most
    /// one token, so the requests queued meanwhile leave at the declared rate after it rather
    /// than all at once when it ends.
    pub(crate) fn pause(mut self, until: i64) -> Bucket {
        if self.paused_until.is_none_or(|p| p < until) {
            self.paused_until = Some(until);
        }
        if self.updated_at < until {
            self.tokens = self.tokens.min(1.0);
            self.updated_at = until;
        }
        self
    }
}
