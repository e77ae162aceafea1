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
fn a_link_taken_meanwhile_is_a_conflict_of_that_record_and_the_rest_lands() {
    let s = store();
    let run_id = setup(&*s);
    s.upsert_link("q", &Link::active("h9", "e9"), t(0)).unwrap(); // another pair: no clash
    // Another process linked e1 to h9 after this page was planned.
    s.upsert_link("p", &Link::active("h9", "e1"), t(0)).unwrap();
    let links = vec![Link::active("h1", "e1"), Link::active("h2", "e2")];
    let mut commit = full_page(&run_id, 1, links);
    commit.outcomes.push(Outcome {
        direction: Direction::Outbound,
        source_id: "h2".into(),
        kind: OutcomeKind::Created,
        message: None,
    });
    let report = s.commit_page("p", &commit).unwrap();
    assert_eq!(report.taken.len(), 1, "{report:?}");
    let taken = &report.taken[0];
    assert_eq!(
        (
            taken.link.home_id.as_str(),
            taken.side,
            taken.linked_to.as_str()
        ),
        ("h1", Side::External, "h9")
    );
    // The taken link, and the ledger of its records, are not written; its record's outcome is
    // a conflict naming the other record.
    assert_eq!(s.link("p", Side::Home, "h1").unwrap(), None);
    assert_eq!(
        s.link("p", Side::External, "e1").unwrap(),
        Some(Link::active("h9", "e1"))
    );
    assert!(
        s.record_shadow("p", Side::External, "e1")
            .unwrap()
            .is_empty()
    );
    let outcome = s.outcome("p", Direction::Outbound, "h1").unwrap().unwrap();
    assert_eq!(outcome.outcome.kind, OutcomeKind::Conflict);
    let message = outcome.outcome.message.unwrap_or_default();
    assert!(
        message.contains("h9") && message.contains("e1"),
        "{message}"
    );
    // The rest of the page landed, checkpoint included.
    assert_eq!(
        s.link("p", Side::Home, "h2").unwrap(),
        Some(Link::active("h2", "e2"))
    );
    assert_eq!(
        s.outcome("p", Direction::Outbound, "h2")
            .unwrap()
            .unwrap()
            .outcome
            .kind,
        OutcomeKind::Created
    );
    let stored = s.run(&run_id).unwrap().unwrap().checkpoint.map(|c| c.page);
    assert_eq!(stored, Some(1));
}

#[test]
fn a_commit_fenced_by_a_lost_claim_lands_nothing() {
    let s = store();
    let run_id = setup(&*s);
    let lease = std::time::Duration::from_secs(30);
    let key = crate::store::ClaimKey::new(Side::Home, "h1");
    let mine = s
        .claim_records("p", "sync", std::slice::from_ref(&key), lease, t(0))
        .unwrap()
        .remove(0)
        .unwrap();
    // The lease runs out (the process stalled), and a worker takes the record over.
    let theirs = s
        .claim_records("p", "worker", std::slice::from_ref(&key), lease, t(31))
        .unwrap()
        .remove(0)
        .expect("taken over");
    let mut commit = full_page(&run_id, 1, vec![Link::active("h1", "e1")]);
    commit.fence = vec![mine.token];
    let err = s.commit_page("p", &commit).unwrap_err();
    assert!(matches!(err, StoreError::ClaimLost { .. }), "{err:?}");
    assert_nothing_landed(&*s, &run_id, None);
    // The holder's own fence lets it through.
    commit.fence = vec![theirs.token];
    s.commit_page("p", &commit).unwrap();
    assert!(s.link("p", Side::Home, "h1").unwrap().is_some());
}
