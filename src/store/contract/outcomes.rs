use super::{store, t};
use crate::mapping::Direction;
use crate::store::{Outcome, OutcomeKind, StateStore};

fn outcome(id: &str, kind: OutcomeKind) -> Outcome {
    Outcome {
        direction: Direction::Outbound,
        source_id: id.into(),
        kind,
        message: None,
    }
}

#[test]
fn failures_are_listed_for_retry_until_they_succeed() {
    let s = store();
    s.record_outcomes(
        "p",
        &[
            outcome("a", OutcomeKind::Created),
            Outcome {
                message: Some("503 from target".into()),
                ..outcome("b", OutcomeKind::Failed)
            },
            outcome("c", OutcomeKind::Invalid),
        ],
        t(1),
    )
    .unwrap();
    s.record_outcomes("p", &[outcome("d", OutcomeKind::NeedsAttention)], t(2))
        .unwrap();
    s.record_outcomes("p", &[outcome("b", OutcomeKind::Failed)], t(3))
        .unwrap();

    let failed = s.failed_outcomes("p", Direction::Outbound, 10).unwrap();
    let ids: Vec<_> = failed
        .iter()
        .map(|r| r.outcome.source_id.as_str())
        .collect();
    assert_eq!(ids, ["d", "b"], "longest-waiting first");
    let b = &failed[1];
    assert_eq!(
        (b.attempts, b.first_failed_at, b.last_failed_at),
        (2, Some(t(1)), Some(t(3)))
    );
    assert_eq!(b.outcome.message, None);
    assert!(
        s.failed_outcomes("p", Direction::Inbound, 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.failed_outcomes("p", Direction::Outbound, 1)
            .unwrap()
            .len(),
        1
    );

    s.record_outcomes("p", &[outcome("b", OutcomeKind::Updated)], t(4))
        .unwrap();
    let b = s.outcome("p", Direction::Outbound, "b").unwrap().unwrap();
    assert_eq!(
        (b.attempts, b.first_failed_at, b.last_failed_at),
        (0, None, None)
    );
    assert_eq!(b.outcome.kind, OutcomeKind::Updated);
    assert_eq!(b.updated_at, t(4));
    let ids: Vec<_> = s
        .failed_outcomes("p", Direction::Outbound, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.outcome.source_id)
        .collect();
    assert_eq!(ids, ["d"]);
}

#[test]
fn every_kind_round_trips() {
    let s = store();
    for (i, kind) in OutcomeKind::ALL.into_iter().enumerate() {
        let o = outcome(&i.to_string(), kind);
        s.record_outcomes("p", std::slice::from_ref(&o), t(1))
            .unwrap();
        assert_eq!(
            s.outcome("p", Direction::Outbound, &o.source_id)
                .unwrap()
                .unwrap()
                .outcome,
            o
        );
    }
}
