use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

use super::runs::page;
use super::*;
use crate::mapping::Direction;
use crate::store::{RunStart, StateStore, StoreError};

/// Random page commits, in any order: the stored checkpoint is always the highest page
/// committed so far, with the cursor of the latest commit of that page. One store serves every
/// case (a store can be costly to create); each case runs in a pair of its own.
#[test]
fn the_checkpoint_never_moves_backwards() {
    let s = store();
    let case = std::cell::Cell::new(0u32);
    let mut runner = TestRunner::new(Config::with_cases(64));
    let strategy = proptest::collection::vec(0u64..20, 1..40);
    let result = runner.run(&strategy, |pages| {
        case.set(case.get() + 1);
        let pair = format!("p{}", case.get());
        let run = s
            .begin_run(&pair, Direction::Outbound, RunStart::New, t(0))
            .unwrap();
        let mut highest: Option<(u64, usize)> = None;
        for (i, &n) in pages.iter().enumerate() {
            let result = s.commit_page(&pair, &page(&run.id, n, json!({"commit": i})));
            match highest {
                Some((top, _)) if n < top => {
                    let backwards = matches!(result, Err(StoreError::CheckpointBackwards { .. }));
                    prop_assert!(backwards, "{:?}", result);
                }
                _ => {
                    prop_assert!(result.is_ok(), "{:?}", result);
                    highest = Some((n, i));
                }
            }
            let stored = s.run(&run.id).unwrap().unwrap().checkpoint.unwrap();
            let (top, at) = highest.unwrap();
            prop_assert_eq!(stored.page, top);
            prop_assert_eq!(stored.cursor, json!({"commit": at}));
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
