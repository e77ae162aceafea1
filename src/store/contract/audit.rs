use super::{store, t};
use crate::mapping::{Direction, Side};
use crate::store::{AuditEntry, AuditKind, StateStore};

fn entry(id: &str, at: i64, kind: AuditKind, detail: &str) -> AuditEntry {
    AuditEntry {
        side: Side::Home,
        record_id: id.into(),
        at: t(at),
        kind,
        direction: Some(Direction::Outbound),
        detail: detail.into(),
    }
}

#[test]
fn a_trail_comes_back_in_append_order_per_record_and_side() {
    let s = store();
    s.audit_append(
        "p",
        &[
            entry("a", 5, AuditKind::Event, "1"),
            entry("b", 1, AuditKind::Write, "other record"),
            // An earlier `at` appended later stays later: append order, not time order.
            entry("a", 3, AuditKind::Write, "2"),
        ],
        10,
    )
    .unwrap();
    s.audit_append(
        "p",
        &[AuditEntry {
            side: Side::External,
            direction: None,
            ..entry("a", 6, AuditKind::Echo, "external a")
        }],
        10,
    )
    .unwrap();
    s.audit_append("q", &[entry("a", 7, AuditKind::Skip, "other pair")], 10)
        .unwrap();
    s.audit_append("p", &[entry("a", 8, AuditKind::DeadLetter, "3")], 10)
        .unwrap();
    let trail = s.audit_trail("p", Side::Home, "a", 100).unwrap();
    let details: Vec<&str> = trail.iter().map(|e| e.detail.as_str()).collect();
    assert_eq!(details, ["1", "2", "3"]);
    assert_eq!(trail[0], entry("a", 5, AuditKind::Event, "1"));
    assert_eq!(trail[2].kind, AuditKind::DeadLetter);
    let external = s.audit_trail("p", Side::External, "a", 100).unwrap();
    assert_eq!(external.len(), 1);
    assert_eq!(
        (external[0].direction, external[0].kind),
        (None, AuditKind::Echo)
    );
    assert!(
        s.audit_trail("p", Side::Home, "zzz", 100)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn retention_keeps_the_newest_entries_of_each_record() {
    let s = store();
    for i in 0..5 {
        s.audit_append(
            "p",
            &[
                entry("a", i, AuditKind::Write, &format!("a{i}")),
                entry("b", i, AuditKind::Write, &format!("b{i}")),
            ],
            3,
        )
        .unwrap();
    }
    let details = |id: &str, limit: u32| -> Vec<String> {
        s.audit_trail("p", Side::Home, id, limit)
            .unwrap()
            .into_iter()
            .map(|e| e.detail)
            .collect()
    };
    assert_eq!(details("a", 100), ["a2", "a3", "a4"]);
    assert_eq!(details("b", 100), ["b2", "b3", "b4"]);
    // `limit` takes the newest, still oldest first.
    assert_eq!(details("a", 2), ["a3", "a4"]);
    // keep = 0 empties the records named.
    s.audit_append("p", &[entry("a", 9, AuditKind::Write, "a9")], 0)
        .unwrap();
    assert!(details("a", 100).is_empty());
    assert_eq!(details("b", 100).len(), 3);
}
