//! Leases that hold: the inbox workers in-process (the library's `run_workers`) against the
//! sandbox, with one call made slower than the lease. A worker whose claim is taken over while
//! its call is in flight writes nothing after that (no write-back, no commit); a worker whose
//! call outlasts the lease keeps its claim through the heartbeat, so nobody else takes the record.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use mapsync::clock::{Clock, FixedClock, SystemClock};
use mapsync::connector::Connector;
use mapsync::mapping::env::Env;
use mapsync::mapping::model::Mapping;
use mapsync::mapping::{Direction, EnvMode, Side, load_file};
use mapsync::runner::{
    Connectors, StoreTokens, WorkerContext, WorkerCounters, claim_scopes, run_workers,
};
use mapsync::store::{ClaimKey, InboxEvent, Lease, SqliteStore, StateStore};
use sandbox::{Faults, Sandbox, SandboxConfig, SandboxHandle, System};
use serde_json::json;
use tokio::sync::{Notify, watch};

use crate::util::root;

struct World {
    sb: SandboxHandle,
    mapping: Arc<Mapping>,
    store: Arc<SqliteStore>,
    connectors: Arc<Connectors>,
    contact: String,
}

/// A sandbox with one unlinked contact whose customer create (10to8) takes `latency`, and an
/// inbox event for that contact.
async fn world(latency: Duration) -> World {
    mapsync::init_crypto();
    let sb = Sandbox::start(SandboxConfig {
        customers: 0,
        contacts: 0,
        precreate_custom_properties: true,
        ..SandboxConfig::for_tests()
    })
    .await
    .expect("sandbox");
    let mut env = sb.env_vars();
    env.push(("TTE_WEBHOOK_TOKEN".into(), "a-long-random-token".into()));
    let loaded = load_file(
        &root().join("mappings/hubspot.yaml"),
        &Env::from_map(env),
        EnvMode::Strict,
    );
    let mapping = Arc::new(loaded.mapping.expect("the reference mapping loads"));
    let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
    let shared: Arc<dyn StateStore> = store.clone();
    let mut connectors = Connectors::new();
    for (name, system) in &mapping.systems {
        let c = Connector::builder(system)
            .token_provider(Arc::new(StoreTokens::new(shared.clone(), None)))
            .build()
            .expect("connector");
        connectors.insert(name.clone(), c);
    }
    let contact = sb
        .ui_create_contact(
            json!({"firstname": "Slow", "lastname": "Call", "email": "slow@example.com"}),
        )
        .expect("contact")["id"]
        .as_str()
        .expect("id")
        .to_string();
    sb.set_faults(
        System::Tte,
        Faults {
            latency,
            path_contains: Some("/customer".into()),
            ..Faults::default()
        },
    );
    store
        .inbox_insert(
            &[InboxEvent {
                source: "sync:inbound".into(),
                dedup_key: None,
                record_key: contact.clone(),
                payload: json!({}),
            }],
            Timestamp::now(),
        )
        .expect("event");
    World {
        sb,
        mapping,
        store,
        connectors: Arc::new(connectors),
        contact,
    }
}

fn context(w: &World, clock: Arc<dyn Clock>, lease: Duration) -> WorkerContext {
    WorkerContext {
        mapping: w.mapping.clone(),
        store: w.store.clone(),
        connectors: w.connectors.clone(),
        clock,
        counters: Arc::new(WorkerCounters::default()),
        wake: Arc::new(Notify::new()),
        lease,
        instance: "test".into(),
    }
}

/// Polls `f` every 20 ms until it holds; panics after `limit`.
async fn until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The create intent is recorded right before the create request: the worker is in the call.
fn in_the_call(w: &World) -> bool {
    !w.store
        .unsettled_intents(&w.mapping.pair_key(), Direction::Inbound)
        .expect("intents")
        .is_empty()
}

#[tokio::test]
async fn a_worker_whose_claim_is_taken_over_during_a_slow_call_writes_nothing_after_it() {
    let w = world(Duration::from_millis(1500)).await;
    let start = Timestamp::now();
    let lease = Duration::from_secs(30);
    // The workers' clock stands still, so only the test moves time past the lease.
    let clock = Arc::new(FixedClock::new(start));
    let ctx = context(&w, clock, lease);
    let counters = ctx.counters.clone();
    let (stop, rx) = watch::channel(false);
    let test = async {
        until(
            "the worker is in its create call",
            Duration::from_secs(10),
            || in_the_call(&w),
        )
        .await;
        // The lease runs out (the worker's process stalled) and another worker takes the record.
        let later = start + jiff::SignedDuration::from_secs(31);
        let other = Lease {
            scopes: claim_scopes(&w.mapping),
            ..Lease::new("other", lease)
        };
        let taken = w
            .store
            .inbox_claim(&other, later)
            .expect("claim")
            .expect("the record is taken over");
        until(
            "the first worker saw it lost its claim",
            Duration::from_secs(10),
            || counters.claims_lost.load(Ordering::Relaxed) > 0,
        )
        .await;
        let _ = stop.send(true);
        taken
    };
    let ((), taken) = tokio::join!(run_workers(ctx.clone(), 1, rx), test);

    // The create was in flight when the claim was lost; it landed once and was not repeated.
    assert_eq!(w.sb.count(System::Tte, "customers.create").total, 1);
    // Nothing after it: no write-back to the contact, no link, no outcome, no ack.
    assert_eq!(w.sb.count(System::Hubspot, "contacts.update").total, 0);
    let contact = w.sb.contact(&w.contact).expect("contact");
    assert_eq!(contact.get("tte_customer_uri").unwrap_or_default(), "");
    let pair = w.mapping.pair_key();
    assert_eq!(
        w.store.link(&pair, Side::External, &w.contact).unwrap(),
        None
    );
    assert_eq!(
        w.store
            .outcome(&pair, Direction::Inbound, &w.contact)
            .unwrap(),
        None
    );
    assert_eq!(counters.processed.load(Ordering::Relaxed), 0);
    assert_eq!(
        w.store.inbox_depth().unwrap(),
        1,
        "the new holder still has the work"
    );
    assert!(w.store.claim_held(taken.claim.token).unwrap());
}

#[tokio::test]
async fn a_call_longer_than_the_lease_keeps_its_claim_through_the_heartbeat() {
    let w = world(Duration::from_millis(1500)).await;
    let lease = Duration::from_millis(600);
    let ctx = context(&w, Arc::new(SystemClock), lease);
    let counters = ctx.counters.clone();
    let (stop, rx) = watch::channel(false);
    let pair = w.mapping.pair_key();
    let test = async {
        until(
            "the worker is in its create call",
            Duration::from_secs(10),
            || in_the_call(&w),
        )
        .await;
        let entered = Instant::now();
        let mut tries = 0;
        // Try to take the record over for as long as the call lasts, well past the lease.
        until(
            "the worker finished the record",
            Duration::from_secs(10),
            || {
                if counters.processed.load(Ordering::Relaxed) > 0 {
                    return true;
                }
                tries += 1;
                let key = ClaimKey::new(Side::External, w.contact.clone());
                let got = w
                    .store
                    .claim_records(&pair, "intruder", &[key], lease, Timestamp::now())
                    .expect("claim");
                assert!(got[0].is_none(), "the record was taken from a live worker");
                false
            },
        )
        .await;
        assert!(entered.elapsed() > lease, "the call outlasted the lease");
        assert!(tries > 10);
        let _ = stop.send(true);
    };
    tokio::join!(run_workers(ctx.clone(), 1, rx), test);

    assert_eq!(counters.claims_lost.load(Ordering::Relaxed), 0);
    assert_eq!(w.sb.count(System::Tte, "customers.create").total, 1);
    let link = w.store.link(&pair, Side::External, &w.contact).unwrap();
    assert!(link.is_some(), "the record was linked");
    let contact = w.sb.contact(&w.contact).expect("contact");
    assert_ne!(contact.get("tte_customer_uri").unwrap_or_default(), "");
}
