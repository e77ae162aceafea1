use std::time::Duration;

use serde_json::json;

use super::{store, t};
use crate::store::{
    DeadLetterQuery, InboxEvent, InsertSummary, Lease, NewDeadLetter, RetryLater, StateStore,
};

fn event(dedup_key: Option<&str>, record_key: &str, n: i64) -> InboxEvent {
    InboxEvent {
        source: "crm".into(),
        dedup_key: dedup_key.map(str::to_owned),
        record_key: record_key.into(),
        payload: json!({"n": n}),
    }
}

fn lease(worker: &str) -> Lease {
    Lease::new(worker, Duration::from_secs(60))
}

#[test]
fn ending_leases_lets_a_new_process_take_over_at_once() {
    let s = store();
    s.inbox_insert(&[event(Some("e1"), "r1", 1)], t(0)).unwrap();
    let dead = s.inbox_claim(&lease("old-process"), t(1)).unwrap().unwrap();
    // Held under its lease: nobody else gets it.
    assert!(s.inbox_claim(&lease("new"), t(2)).unwrap().is_none());
    assert_eq!(s.inbox_end_leases(t(2)).unwrap(), 1);
    let taken = s
        .inbox_claim(&lease("new"), t(2))
        .unwrap()
        .expect("taken over");
    assert_eq!(taken.record_key, "r1");
    assert_eq!(
        taken.attempts,
        dead.attempts + 1,
        "the interrupted attempt counts"
    );
    // The dead process's claim is lost: its ack does nothing.
    assert!(!s.inbox_ack(&dead, t(3)).unwrap());
    assert!(s.inbox_ack(&taken, t(3)).unwrap());
    assert_eq!(s.inbox_end_leases(t(4)).unwrap(), 0);
}

#[test]
fn a_redelivered_event_is_stored_once() {
    let s = store();
    let summary = s
        .inbox_insert(
            &[event(Some("ev1"), "r1", 1), event(Some("ev1"), "r1", 1)],
            t(0),
        )
        .unwrap();
    assert_eq!(
        summary,
        InsertSummary {
            inserted: 1,
            duplicates: 1
        }
    );
    let summary = s
        .inbox_insert(
            &[event(Some("ev1"), "r1", 1), event(Some("ev2"), "r2", 2)],
            t(1),
        )
        .unwrap();
    assert_eq!(
        summary,
        InsertSummary {
            inserted: 1,
            duplicates: 1
        }
    );
    // The same key from another source is another event.
    let other = InboxEvent {
        source: "shop".into(),
        ..event(Some("ev1"), "r1", 1)
    };
    assert_eq!(s.inbox_insert(&[other], t(1)).unwrap().inserted, 1);
    assert_eq!(s.inbox_depth().unwrap(), 3);

    let claim = s.inbox_claim(&lease("w"), t(2)).unwrap().unwrap();
    assert_eq!((claim.record_key.as_str(), claim.events.len()), ("r1", 1));
    assert!(s.inbox_ack(&claim, t(3)).unwrap());
    // Still deduplicated after processing, until pruned.
    assert_eq!(
        s.inbox_insert(&[event(Some("ev1"), "r1", 1)], t(4))
            .unwrap()
            .duplicates,
        1
    );
    assert_eq!(
        s.inbox_prune(t(0)).unwrap(),
        0,
        "only events received before the cutoff go"
    );
    assert_eq!(s.inbox_prune(t(10)).unwrap(), 1);
    assert_eq!(
        s.inbox_insert(&[event(Some("ev1"), "r1", 1)], t(11))
            .unwrap()
            .inserted,
        1
    );
}

#[test]
fn id_less_notifications_coalesce_into_one_unit_of_work() {
    let s = store();
    let batch: Vec<_> = (0..50).map(|n| event(None, "customer-7", n)).collect();
    assert_eq!(s.inbox_insert(&batch, t(0)).unwrap().inserted, 50);
    assert_eq!(s.inbox_depth().unwrap(), 1);
    let claim = s.inbox_claim(&lease("w"), t(1)).unwrap().unwrap();
    assert_eq!(claim.events.len(), 50);
    assert_eq!(claim.dirty_since, t(0));
    assert!(s.inbox_ack(&claim, t(2)).unwrap());
    assert_eq!(s.inbox_depth().unwrap(), 0);
    assert_eq!(s.inbox_claim(&lease("w"), t(3)).unwrap(), None);
}

#[test]
fn one_worker_at_a_time_holds_a_record() {
    let s = store();
    s.inbox_insert(&[event(None, "r1", 1)], t(0)).unwrap();
    s.inbox_insert(&[event(None, "r2", 2)], t(1)).unwrap();

    let a = s.inbox_claim(&lease("a"), t(2)).unwrap().unwrap();
    let b = s.inbox_claim(&lease("b"), t(2)).unwrap().unwrap();
    assert_eq!((a.record_key.as_str(), b.record_key.as_str()), ("r1", "r2"));
    assert_eq!(
        s.inbox_claim(&lease("c"), t(3)).unwrap(),
        None,
        "both records are held"
    );

    // A new event for a held record does not free it for another worker.
    s.inbox_insert(&[event(None, "r1", 3)], t(4)).unwrap();
    assert_eq!(s.inbox_claim(&lease("c"), t(5)).unwrap(), None);

    // Worker a's lease runs out: c takes r1 with every pending event, and a's ack is refused.
    let c = s.inbox_claim(&lease("c"), t(62)).unwrap().unwrap();
    assert_eq!(c.record_key, "r1");
    assert_eq!(c.events.len(), 2);
    assert_eq!(
        c.attempts, 1,
        "a lease that ran out counts as a failed attempt"
    );
    assert!(!s.inbox_ack(&a, t(63)).unwrap());
    assert!(s.inbox_ack(&c, t(63)).unwrap());
    assert!(
        s.inbox_ack(&b, t(63)).unwrap(),
        "b's lease ran out but nobody took r2"
    );
    assert_eq!(s.inbox_depth().unwrap(), 0);
}

#[test]
fn an_event_during_a_claim_makes_the_record_dirty_again() {
    let s = store();
    s.inbox_insert(&[event(None, "r1", 1)], t(0)).unwrap();
    let first = s.inbox_claim(&lease("w"), t(1)).unwrap().unwrap();
    s.inbox_insert(&[event(None, "r1", 2)], t(2)).unwrap();
    assert!(s.inbox_ack(&first, t(3)).unwrap());

    let second = s.inbox_claim(&lease("w"), t(4)).unwrap().unwrap();
    let payloads: Vec<_> = second.events.iter().map(|e| e.payload.clone()).collect();
    assert_eq!(payloads, [json!({"n": 2})]);
    assert_eq!(second.dirty_since, t(2));
    assert!(s.inbox_ack(&second, t(5)).unwrap());
    assert_eq!(s.inbox_depth().unwrap(), 0);
}

#[test]
fn a_failed_record_waits_for_its_next_attempt_then_dead_letters() {
    let s = store();
    s.inbox_insert(&[event(Some("e1"), "r1", 1)], t(0)).unwrap();
    let claim = s.inbox_claim(&lease("w"), t(1)).unwrap().unwrap();
    let retry = RetryLater {
        error: "503".into(),
        next_attempt_at: t(100),
        at: t(1),
        failed: true,
    };
    assert!(s.inbox_retry(&claim, &retry).unwrap());
    assert_eq!(
        s.inbox_claim(&lease("w"), t(99)).unwrap(),
        None,
        "backing off"
    );

    let claim = s.inbox_claim(&lease("w"), t(100)).unwrap().unwrap();
    assert_eq!(claim.attempts, 1);
    assert!(
        s.inbox_dead_letter(&claim, "422 invalid property", t(101))
            .unwrap()
    );
    assert_eq!(s.inbox_depth().unwrap(), 0);

    let letters = s.dead_letters(&DeadLetterQuery::default()).unwrap();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!((letter.record_key.as_str(), letter.attempts), ("r1", 2));
    assert_eq!(
        (letter.first_failed_at, letter.last_failed_at),
        (t(1), t(101))
    );
    assert_eq!(letter.payload, json!([{"n": 1}]));
    assert_eq!(letter.last_error, "422 invalid property");

    // Replay puts the record back in the inbox; drop forgets a letter.
    assert!(s.retry_dead_letter(letter.id, t(200)).unwrap());
    assert!(!s.retry_dead_letter(letter.id, t(200)).unwrap());
    assert_eq!(s.inbox_depth().unwrap(), 1);
    let claim = s.inbox_claim(&lease("w"), t(201)).unwrap().unwrap();
    assert_eq!((claim.record_key.as_str(), claim.attempts), ("r1", 0));
    // Each event of the letter comes back as itself, not the array as one event.
    let payloads: Vec<_> = claim.events.iter().map(|e| e.payload.clone()).collect();
    assert_eq!(payloads, [json!({"n": 1})]);

    let id = s
        .add_dead_letter(&NewDeadLetter {
            source: "pair-a".into(),
            record_key: "h1".into(),
            payload: json!({"op": "delete"}),
            error: "409 future bookings".into(),
            attempts: 1,
            first_failed_at: t(300),
            at: t(300),
        })
        .unwrap();
    let query = DeadLetterQuery {
        source: Some("pair-a".into()),
        ..DeadLetterQuery::default()
    };
    assert_eq!(s.dead_letters(&query).unwrap().len(), 1);
    assert!(s.drop_dead_letter(id).unwrap());
    assert!(!s.drop_dead_letter(id).unwrap());
    assert!(s.dead_letters(&query).unwrap().is_empty());
}

#[test]
fn a_restarted_instance_takes_over_only_its_own_claims() {
    let s = store();
    s.inbox_insert(&[event(None, "r1", 1), event(None, "r2", 2)], t(0))
        .unwrap();
    let mine = s
        .inbox_claim(&lease("host-a:8080:worker-0"), t(1))
        .unwrap()
        .unwrap();
    let theirs = s
        .inbox_claim(&lease("host-b:8080:worker-0"), t(1))
        .unwrap()
        .unwrap();
    // A name that merely starts like the instance's is another instance.
    assert_eq!(s.inbox_end_leases_of("host-a:808", t(2)).unwrap(), 0);
    assert_eq!(s.inbox_end_leases_of("host-a:8080", t(2)).unwrap(), 1);
    let again = s
        .inbox_claim(&lease("host-a:8080:worker-1"), t(2))
        .unwrap()
        .unwrap();
    assert_eq!(again.record_key, mine.record_key);
    assert_eq!(again.attempts, 1, "the interrupted attempt counts");
    assert!(!s.inbox_ack(&mine, t(3)).unwrap());
    assert!(
        s.inbox_ack(&theirs, t(3)).unwrap(),
        "the other instance's claim holds"
    );
    assert!(s.inbox_ack(&again, t(3)).unwrap());
}

#[test]
fn a_retried_dead_letter_of_several_events_goes_back_as_each_event_and_a_sync_letter_as_one() {
    let s = store();
    s.inbox_insert(
        &[event(Some("a"), "r9", 1), event(Some("b"), "r9", 2)],
        t(1),
    )
    .unwrap();
    let claim = s.inbox_claim(&lease("w"), t(2)).unwrap().unwrap();
    assert_eq!(claim.events.len(), 2);
    assert!(s.inbox_dead_letter(&claim, "gone wrong", t(3)).unwrap());
    let letter = s
        .dead_letters(&DeadLetterQuery::default())
        .unwrap()
        .remove(0);
    assert_eq!(letter.payload, json!([{"n": 1}, {"n": 2}]));
    assert!(s.retry_dead_letter(letter.id, t(4)).unwrap());
    assert_eq!(
        s.inbox_depth().unwrap(),
        1,
        "one record waits, with both events"
    );
    let claim = s.inbox_claim(&lease("w"), t(5)).unwrap().unwrap();
    let payloads: Vec<_> = claim.events.iter().map(|e| e.payload.clone()).collect();
    assert_eq!(payloads, [json!({"n": 1}), json!({"n": 2})]);
    assert!(s.inbox_ack(&claim, t(6)).unwrap());

    // A sync's dead letter (an object) goes back as one event holding it.
    let id = s
        .add_dead_letter(&NewDeadLetter {
            source: "sync:outbound".into(),
            record_key: "h2".into(),
            payload: json!({"operation": "delete"}),
            error: "409".into(),
            attempts: 1,
            first_failed_at: t(7),
            at: t(7),
        })
        .unwrap();
    assert!(s.retry_dead_letter(id, t(8)).unwrap());
    let claim = s.inbox_claim(&lease("w"), t(9)).unwrap().unwrap();
    let payloads: Vec<_> = claim.events.iter().map(|e| e.payload.clone()).collect();
    assert_eq!(payloads, [json!({"operation": "delete"})]);
}

#[test]
fn pending_events_count_what_is_stored_until_acked_or_dead_lettered() {
    let s = store();
    assert_eq!(s.inbox_pending_events().unwrap(), 0);
    s.inbox_insert(
        &[
            event(Some("a1"), "r1", 1),
            event(Some("a2"), "r1", 2),
            event(Some("b1"), "r2", 3),
            event(Some("a1"), "r1", 1),
        ],
        t(0),
    )
    .unwrap();
    assert_eq!(
        s.inbox_pending_events().unwrap(),
        3,
        "the duplicate is not stored"
    );
    assert_eq!(s.inbox_depth().unwrap(), 2, "depth is in record keys");
    let first = s.inbox_claim(&lease("w"), t(1)).unwrap().unwrap();
    let held = first.events.len() as u64;
    s.inbox_retry(
        &first,
        &RetryLater {
            error: "later".into(),
            next_attempt_at: t(2),
            at: t(1),
            failed: true,
        },
    )
    .unwrap();
    assert_eq!(s.inbox_pending_events().unwrap(), 3, "a retry keeps them");
    let again = s.inbox_claim(&lease("w"), t(3)).unwrap().unwrap();
    assert!(s.inbox_ack(&again, t(4)).unwrap());
    let after_ack = s.inbox_pending_events().unwrap();
    assert_eq!(after_ack, 3 - again.events.len() as u64);
    let last = s.inbox_claim(&lease("w"), t(5)).unwrap().unwrap();
    assert!(s.inbox_dead_letter(&last, "gone", t(6)).unwrap());
    assert_eq!(s.inbox_pending_events().unwrap(), 0);
    assert!(held > 0);
}
