use serde_json::json;

use super::{store, t};
use crate::mapping::Side;
use crate::store::{LedgerEntry, LedgerKind, StateStore, StatusKind, StatusMark, ValueHash};

fn entry(field: &str, kind: LedgerKind, value: serde_json::Value) -> LedgerEntry {
    LedgerEntry {
        side: Side::External,
        record_id: "42".into(),
        field: field.into(),
        kind,
        value,
    }
}

#[test]
fn written_and_read_values_round_trip_per_field() {
    let s = store();
    let nested = json!({"lines": ["a", "b"], "n": 1.5, "ok": true, "none": null});
    s.write_ledger(
        "p",
        &[
            entry("email", LedgerKind::Written, json!("a@example.com")),
            entry("email", LedgerKind::Read, json!("A@example.com")),
            entry("address", LedgerKind::Written, nested.clone()),
            entry("phone", LedgerKind::Read, json!(null)),
        ],
        t(5),
    )
    .unwrap();

    let shadow = s.record_shadow("p", Side::External, "42").unwrap();
    assert_eq!(shadow.len(), 3);
    let email = &shadow["email"];
    assert_eq!(
        email.written.as_ref().unwrap().value,
        json!("a@example.com")
    );
    assert_eq!(email.read.as_ref().unwrap().value, json!("A@example.com"));
    assert_eq!(email.read.as_ref().unwrap().at, t(5));
    let address = shadow["address"].written.as_ref().unwrap();
    assert_eq!(address.value, nested);
    assert_eq!(address.hash, ValueHash::of(&nested));
    assert!(shadow["address"].read.is_none());
    assert_eq!(shadow["phone"].read.as_ref().unwrap().value, json!(null));

    // A later write replaces only its own half.
    s.write_ledger(
        "p",
        &[entry("email", LedgerKind::Written, json!("b@example.com"))],
        t(6),
    )
    .unwrap();
    let email = &s.record_shadow("p", Side::External, "42").unwrap()["email"];
    assert_eq!(
        email.written.as_ref().unwrap().value,
        json!("b@example.com")
    );
    assert_eq!(email.read.as_ref().unwrap().value, json!("A@example.com"));

    // Other sides, records and pairs are separate.
    assert!(s.record_shadow("p", Side::Home, "42").unwrap().is_empty());
    assert!(
        s.record_shadow("q", Side::External, "42")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn status_mark_round_trip() {
    let s = store();
    assert_eq!(s.status_mark("p", Side::Home, "h1").unwrap(), None);
    let mark = StatusMark {
        side: Side::Home,
        record_id: "h1".into(),
        kind: StatusKind::Error,
        message: Some("invalid email".into()),
    };
    s.set_status_mark("p", &mark, t(1)).unwrap();
    assert_eq!(
        s.status_mark("p", Side::Home, "h1").unwrap(),
        Some(mark.clone())
    );
    let ok = StatusMark {
        kind: StatusKind::Ok,
        message: None,
        ..mark
    };
    s.set_status_mark("p", &ok, t(2)).unwrap();
    assert_eq!(s.status_mark("p", Side::Home, "h1").unwrap(), Some(ok));
}
