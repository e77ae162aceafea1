//! Claims (one pair, one worker), fencing tokens, leases and process locks.

use std::time::Duration;

use serde_json::json;

use super::{store, t};
use crate::mapping::Side;
use crate::store::{
    ClaimKey, ClaimScope, InboxEvent, Lease, Link, RetryLater, StateStore, StoreError,
};

const LEASE: Duration = Duration::from_secs(30);

fn home(id: &str) -> ClaimKey {
    ClaimKey::new(Side::Home, id)
}

fn external(id: &str) -> ClaimKey {
    ClaimKey::new(Side::External, id)
}

fn claim_one(
    s: &dyn StateStore,
    holder: &str,
    key: ClaimKey,
    at: i64,
) -> Option<crate::store::RecordClaim> {
    s.claim_records("p", holder, &[key], LEASE, t(at))
        .unwrap()
        .remove(0)
}

#[test]
fn a_linked_pair_is_held_by_one_holder_whichever_record_it_claims() {
    let s = store();
    s.upsert_link("p", &Link::active("h1", "e1"), t(0)).unwrap();
    let a = claim_one(&*s, "a", home("h1"), 0).expect("free");
    assert_eq!(a.keys, [home("h1"), external("e1")]);
    assert!(
        claim_one(&*s, "b", external("e1"), 1).is_none(),
        "the counterpart is held"
    );
    assert!(claim_one(&*s, "b", home("h1"), 1).is_none());
    // Another pair's record, and an unlinked record, are free.
    assert!(claim_one(&*s, "b", home("h2"), 1).is_some());
    assert!(
        s.claim_records("q", "b", &[home("h1")], LEASE, t(1))
            .unwrap()[0]
            .is_some()
    );
    s.release_claims(&[a.token]).unwrap();
    let b = claim_one(&*s, "b", external("e1"), 2).expect("free again");
    assert_eq!(b.keys, [external("e1"), home("h1")]);
    assert!(b.token > a.token, "tokens are never reused");
}

#[test]
fn each_request_of_a_batch_is_granted_on_its_own() {
    let s = store();
    s.upsert_link("p", &Link::active("h2", "e2"), t(0)).unwrap();
    let _worker = claim_one(&*s, "worker", external("e2"), 0).unwrap();
    let got = s
        .claim_records(
            "p",
            "sync",
            &[home("h1"), home("h2"), home("h3")],
            LEASE,
            t(1),
        )
        .unwrap();
    let granted: Vec<bool> = got.iter().map(Option::is_some).collect();
    assert_eq!(granted, [true, false, true]);
}

#[test]
fn a_claim_whose_lease_ran_out_is_taken_over_and_fences_its_holder() {
    let s = store();
    let old = claim_one(&*s, "stalled", home("h1"), 0).unwrap();
    assert!(
        claim_one(&*s, "b", home("h1"), 29).is_none(),
        "held until the lease ends"
    );
    // The heartbeat keeps it.
    assert!(s.renew_claim(old.token, LEASE, t(20)).unwrap());
    assert!(
        claim_one(&*s, "b", home("h1"), 45).is_none(),
        "renewed to t(50)"
    );
    let new = claim_one(&*s, "b", home("h1"), 50).expect("taken over");
    assert!(!s.claim_held(old.token).unwrap());
    assert!(
        !s.renew_claim(old.token, LEASE, t(51)).unwrap(),
        "the old holder stops"
    );
    assert!(s.claim_held(new.token).unwrap());
    // An expired claim nobody took over still holds.
    let idle = claim_one(&*s, "c", home("h9"), 0).unwrap();
    assert!(s.claim_held(idle.token).unwrap());
}

#[test]
fn a_target_found_outside_the_claim_is_added_only_if_free() {
    let s = store();
    let mut a = claim_one(&*s, "a", home("h1"), 0).unwrap();
    let b = claim_one(&*s, "b", external("e1"), 0).unwrap();
    assert!(!s.extend_claim(&mut a, &[external("e1")], t(1)).unwrap());
    assert_eq!(a.keys, [home("h1")]);
    s.release_claims(&[b.token]).unwrap();
    assert!(s.extend_claim(&mut a, &[external("e1")], t(2)).unwrap());
    assert_eq!(a.keys, [home("h1"), external("e1")]);
    assert!(claim_one(&*s, "b", external("e1"), 3).is_none());
    s.release_claims(&[a.token]).unwrap();
    assert!(
        !s.extend_claim(&mut a, &[home("h5")], t(4)).unwrap(),
        "a lost claim is not extended"
    );
}

fn scopes() -> Vec<ClaimScope> {
    vec![
        ClaimScope {
            source: "customers".into(),
            pair: "p".into(),
            side: Side::Home,
        },
        ClaimScope {
            source: "contacts".into(),
            pair: "p".into(),
            side: Side::External,
        },
    ]
}

fn lease(worker: &str) -> Lease {
    Lease {
        scopes: scopes(),
        ..Lease::new(worker, LEASE)
    }
}

fn event(source: &str, record_key: &str) -> InboxEvent {
    InboxEvent {
        source: source.into(),
        dedup_key: None,
        record_key: record_key.into(),
        payload: json!({}),
    }
}

#[test]
fn inbox_work_for_the_other_record_of_a_pair_waits_without_using_an_attempt() {
    let s = store();
    s.upsert_link("p", &Link::active("h1", "e1"), t(0)).unwrap();
    s.inbox_insert(&[event("customers", "h1")], t(0)).unwrap();
    s.inbox_insert(&[event("contacts", "e1")], t(1)).unwrap();
    s.inbox_insert(&[event("contacts", "e2")], t(2)).unwrap();
    let a = s.inbox_claim(&lease("a"), t(3)).unwrap().unwrap();
    assert_eq!(a.record_key, "h1");
    assert!(a.claim.covers(Side::External, "e1"));
    // e1 is due but its pair is held: the next free record is claimed instead.
    let b = s.inbox_claim(&lease("b"), t(3)).unwrap().unwrap();
    assert_eq!(b.record_key, "e2");
    assert_eq!(s.inbox_claim(&lease("c"), t(3)).unwrap(), None);
    // A sync cannot take either record of the pair meanwhile.
    assert!(claim_one(&*s, "sync", external("e1"), 3).is_none());
    assert!(s.inbox_ack(&a, t(4)).unwrap());
    let c = s.inbox_claim(&lease("c"), t(4)).unwrap().unwrap();
    assert_eq!((c.record_key.as_str(), c.attempts), ("e1", 0));
    // A busy put-back does not count; a failure does.
    let busy = RetryLater {
        error: "busy".into(),
        next_attempt_at: t(5),
        at: t(4),
        failed: false,
    };
    assert!(s.inbox_retry(&c, &busy).unwrap());
    let c = s.inbox_claim(&lease("c"), t(5)).unwrap().unwrap();
    assert_eq!(c.attempts, 0);
    assert!(
        s.inbox_retry(
            &c,
            &RetryLater {
                failed: true,
                ..busy
            }
        )
        .unwrap()
    );
    let c = s.inbox_claim(&lease("c"), t(5)).unwrap().unwrap();
    assert_eq!(c.attempts, 1);
}

#[test]
fn ending_inbox_leases_leaves_a_syncs_claims_alone() {
    let s = store();
    s.inbox_insert(&[event("customers", "h1")], t(0)).unwrap();
    let dead = s.inbox_claim(&lease("dead"), t(0)).unwrap().unwrap();
    let sync = claim_one(&*s, "sync", home("h2"), 0).unwrap();
    assert_eq!(s.inbox_end_leases(t(1)).unwrap(), 1);
    assert!(!s.claim_held(dead.claim.token).unwrap());
    assert!(s.claim_held(sync.token).unwrap());
    let again = s.inbox_claim(&lease("new"), t(1)).unwrap().unwrap();
    assert_eq!(again.attempts, 1, "the interrupted attempt counts");
    assert!(!s.inbox_ack(&dead, t(2)).unwrap());
}

#[test]
fn a_process_lock_is_held_once_and_released_with_its_guard() {
    let s = store();
    let held = s.lock("serve").unwrap();
    let err = (*s).clone().lock("serve").unwrap_err();
    assert!(
        matches!(err, StoreError::LockHeld { ref lock, .. } if lock == "serve"),
        "{err:?}"
    );
    let _other = s.lock("sync-p-outbound").unwrap();
    drop(held);
    assert!(s.lock("serve").is_ok());
    assert!(s.lock("../x").is_err(), "names are plain");
}
