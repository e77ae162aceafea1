//! The shared request budget: a token bucket per key, live work before the back-fill.

use std::time::Duration;

use super::{store, t};
use crate::store::{BudgetGrant, BudgetPriority, BudgetRate, StateStore};

/// 5 per second, burst 5: the back-fill leaves 2 tokens for live work.
const RATE: BudgetRate = BudgetRate {
    per_second: 5.0,
    burst: 5.0,
};

fn taken(wait_ms: u64) -> BudgetGrant {
    BudgetGrant {
        taken: true,
        wait: Duration::from_millis(wait_ms),
    }
}

#[test]
fn the_backfill_leaves_the_reserve_to_live_work() {
    let s = store();
    let back = |at| {
        s.take_budget("api", &RATE, BudgetPriority::Backfill, at)
            .unwrap()
    };
    // Full bucket: the back-fill takes down to the reserve (5 → 2), then waits.
    for _ in 0..3 {
        assert_eq!(back(t(0)), taken(0));
    }
    let refused = back(t(0));
    assert!(!refused.taken);
    assert_eq!(
        refused.wait,
        Duration::from_millis(200),
        "one token accrues in 200 ms"
    );
    // A live request still finds a token at once, twice; the third queues.
    let live = |at| {
        s.take_budget("api", &RATE, BudgetPriority::Live, at)
            .unwrap()
    };
    assert_eq!(live(t(0)), taken(0));
    assert_eq!(live(t(0)), taken(0));
    assert_eq!(live(t(0)), taken(200));
    // Another key is another bucket.
    assert_eq!(
        s.take_budget("crm", &RATE, BudgetPriority::Backfill, t(0))
            .unwrap(),
        taken(0)
    );
    // A second later five tokens have accrued (from -1 to 4): the back-fill may take 2.
    assert_eq!(back(t(1)), taken(0));
    assert_eq!(back(t(1)), taken(0));
    assert!(!back(t(1)).taken);
}

#[test]
fn a_pause_holds_both_kinds_of_request_and_then_the_rate_resumes_from_its_end() {
    let s = store();
    let live = |at| {
        s.take_budget("api", &RATE, BudgetPriority::Live, at)
            .unwrap()
    };
    let back = |at| {
        s.take_budget("api", &RATE, BudgetPriority::Backfill, at)
            .unwrap()
    };
    assert_eq!(live(t(0)), taken(0));
    s.pause_budget("api", t(10)).unwrap();
    s.pause_budget("api", t(5)).unwrap(); // never shortens
    let refused = back(t(4));
    assert_eq!(
        (refused.taken, refused.wait),
        (false, Duration::from_secs(6))
    );
    // Live requests queued during the pause leave when it ends, one, then at the declared rate
    // (5 per second): not all at once, whatever accrued before.
    assert_eq!(live(t(4)), taken(6000));
    assert_eq!(live(t(4)), taken(6200));
    assert_eq!(live(t(9)), taken(1400));
    // The back-fill waits for its reserve to accrue after them: 2 in the red, 3 needed.
    let refused = back(t(10));
    assert_eq!(
        (refused.taken, refused.wait),
        (false, Duration::from_secs(1))
    );
    assert_eq!(back(t(11)), taken(0));
    // A key never taken from is left alone by a pause.
    s.pause_budget("crm", t(10)).unwrap();
    assert_eq!(
        s.take_budget("crm", &RATE, BudgetPriority::Backfill, t(0))
            .unwrap(),
        taken(0)
    );
}
