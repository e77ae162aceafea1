use serde_json::json;

use super::runs::page;
use super::*;
use crate::mapping::{Direction, Side};
use crate::store::{
    CreateIntent, DeadLetterQuery, IntentSettlement, LedgerEntry, LedgerKind, Link, NewDeadLetter,
    Outcome, OutcomeKind, StateStore, StatusKind, StatusMark, StoreError,
};

/// A page commit that touches every table, for run `run_id` at page `n`.
pub(crate) fn full_page(run_id: &str, n: u64, links: Vec<Link>) -> crate::store::PageCommit {
    let mut commit = page(run_id, n, json!({"after": n}));
    commit.links = links;
    commit.ledger = vec![LedgerEntry {
        side: Side::External,
        record_id: "e1".into(),
        field: "email".into(),
        kind: LedgerKind::Written,
        value: json!("a@example.com"),
    }];
    commit.statuses = vec![StatusMark {
        side: Side::Home,
        record_id: "h1".into(),
        kind: StatusKind::Ok,
        message: None,
    }];
    commit.outcomes = vec![Outcome {
        direction: Direction::Outbound,
        source_id: "h1".into(),
        kind: OutcomeKind::Created,
        message: None,
    }];
    commit.settled_intents = vec![IntentSettlement {
        direction: Direction::Outbound,
        source_id: "h1".into(),
    }];
    commit.dead_letters = vec![NewDeadLetter {
        source: "p".into(),
        record_key: "h0".into(),
        payload: json!({"op": "delete"}),
        error: "409".into(),
        attempts: 1,
        first_failed_at: t(0),
        at: t(0),
    }];
    commit
}

pub(crate) fn assert_nothing_landed(s: &dyn StateStore, run_id: &str, page: Option<u64>) {
    assert_eq!(s.link("p", Side::Home, "h1").unwrap(), None);
    assert!(
        s.record_shadow("p", Side::External, "e1")
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.status_mark("p", Side::Home, "h1").unwrap(), None);
    assert_eq!(s.outcome("p", Direction::Outbound, "h1").unwrap(), None);
    assert_eq!(
        s.unsettled_intents("p", Direction::Outbound).unwrap().len(),
        1
    );
    assert!(
        s.dead_letters(&DeadLetterQuery::default())
            .unwrap()
            .is_empty()
    );
    let stored = s.run(run_id).unwrap().unwrap().checkpoint.map(|c| c.page);
    assert_eq!(stored, page);
}

/// Gives the store an unsettled intent for `h1` and a running run; returns the run's id.
pub(crate) fn setup(s: &dyn StateStore) -> String {
    let intent = CreateIntent {
        direction: Direction::Outbound,
        source_id: "h1".into(),
        attempt_key: "k1".into(),
    };
    s.record_intent("p", &intent, t(0)).unwrap();
    let run = s
        .begin_run("p", Direction::Outbound, crate::store::RunStart::New, t(0))
        .unwrap();
    run.id
}

#[test]
fn a_page_commit_lands_whole() {
    let s = store();
    let run_id = setup(&*s);
    s.commit_page("p", &full_page(&run_id, 1, vec![Link::active("h1", "e1")]))
        .unwrap();
    assert_eq!(
        s.link("p", Side::External, "e1").unwrap(),
        Some(Link::active("h1", "e1"))
    );
    assert_eq!(s.record_shadow("p", Side::External, "e1").unwrap().len(), 1);
    assert!(s.status_mark("p", Side::Home, "h1").unwrap().is_some());
    assert!(s.outcome("p", Direction::Outbound, "h1").unwrap().is_some());
    assert!(
        s.unsettled_intents("p", Direction::Outbound)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.dead_letters(&DeadLetterQuery::default()).unwrap().len(),
        1
    );
    assert_eq!(s.run(&run_id).unwrap().unwrap().checkpoint.unwrap().page, 1);
}

#[test]
fn a_failure_in_the_last_statement_undoes_the_whole_page() {
    let s = store();
    let run_id = setup(&*s);
    s.commit_page("p", &page(&run_id, 3, json!("c3"))).unwrap();
    // Everything before the checkpoint is applied, then the checkpoint fails.
    let err = s
        .commit_page("p", &full_page(&run_id, 2, vec![Link::active("h1", "e1")]))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::CheckpointBackwards { .. }),
        "{err:?}"
    );
    assert_nothing_landed(&*s, &run_id, Some(3));
}

#[test]
fn a_failure_in_the_middle_undoes_the_whole_page() {
    let s = store();
    let run_id = setup(&*s);
    s.upsert_link("q", &Link::active("h9", "e9"), t(0)).unwrap(); // another pair: no clash
    s.upsert_link("p", &Link::active("h9", "e9"), t(0)).unwrap();
    // The first link lands, the second clashes with h9 ↔ e9, the rest never runs.
    let links = vec![Link::active("h1", "e1"), Link::active("h2", "e9")];
    let err = s
        .commit_page("p", &full_page(&run_id, 1, links))
        .unwrap_err();
    assert!(matches!(err, StoreError::LinkTaken { .. }), "{err:?}");
    assert_nothing_landed(&*s, &run_id, None);
    assert_eq!(s.link_counts("p").unwrap().total(), 1);

    // The same page without the clash then commits.
    s.commit_page("p", &full_page(&run_id, 1, vec![Link::active("h1", "e1")]))
        .unwrap();
    assert_eq!(s.link_counts("p").unwrap().total(), 2);
}
