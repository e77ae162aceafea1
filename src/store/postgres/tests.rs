//! Tests of the PostgreSQL store: the contract suite every store passes (`../contract/`), and
//! what is PostgreSQL's own — URLs, schemas, migrations under a lock, and instances sharing
//! one inbox. Each test works in a schema of its own, dropped at the end. PostgreSQL must be
//! reachable (`MAPSYNC_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`); if
//! it is not, the tests fail and say so: they never skip.

use std::ops::Deref;

use super::{PostgresConfig, PostgresStore};

/// The database the tests create their schemas in.
pub(crate) fn test_url() -> String {
    std::env::var("MAPSYNC_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A store in a fresh schema, dropped with the schema.
pub(super) struct TestStore {
    store: PostgresStore,
    schema: String,
}

impl TestStore {
    pub(super) fn new() -> TestStore {
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let url = format!("{}?schema={schema}", test_url());
        let config = PostgresConfig::from_url(&url).unwrap();
        let store = PostgresStore::open(&config).unwrap_or_else(|e| {
            panic!(
                "the PostgreSQL tests need a reachable server: {e}\n(set MAPSYNC_TEST_POSTGRES, \
                 or start PostgreSQL as README.md's Tests section says)"
            )
        });
        TestStore { store, schema }
    }

    /// Another store on the same schema, as a second instance would open it.
    pub(super) fn another_instance(&self) -> PostgresStore {
        let url = format!("{}?schema={}", test_url(), self.schema);
        PostgresStore::open(&PostgresConfig::from_url(&url).unwrap()).unwrap()
    }
}

impl Deref for TestStore {
    type Target = PostgresStore;

    fn deref(&self) -> &PostgresStore {
        &self.store
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        let _ = self
            .store
            .with_client(async |c| c.batch_execute(&sql).await);
    }
}

/// A fresh store in a schema of its own.
pub(super) fn store() -> TestStore {
    TestStore::new()
}

/// The `StateStore` contract suite, run against PostgreSQL.
// Each store includes the same suite on purpose, hence the allow.
#[allow(clippy::duplicate_mod)]
#[path = "../contract/mod.rs"]
mod contract;

mod config {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn the_schema_is_taken_from_the_url_and_the_password_never_shown() {
        let config =
            PostgresConfig::from_url("postgres://u:s3cret@db.example:6543/app?schema=crm_sync")
                .unwrap();
        assert_eq!(config.schema, "crm_sync");
        assert_eq!(
            config.location(),
            "postgres://db.example:6543/app (schema crm_sync)"
        );
        assert!(!format!("{config:?}").contains("s3cret"));
        let default = PostgresConfig::from_url("postgresql://u@h/app").unwrap();
        assert_eq!(default.schema, super::super::DEFAULT_SCHEMA);
    }

    #[test]
    fn a_bad_url_or_schema_is_refused_with_the_expected_form() {
        for url in [
            "postgres://u@h/app?schema=Robert');DROP",
            "postgres://u@h/app?schema=",
            "mysql://u@h/app",
            "postgres://u@h",
            "not a url",
        ] {
            let err = PostgresConfig::from_url(url).unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidUrl { .. }),
                "{url}: {err:?}"
            );
            assert!(err.to_string().contains("postgres://user"), "{err}");
        }
    }

    #[test]
    fn an_unreachable_server_is_named_without_its_password() {
        // Port 1 on loopback: nothing listens there.
        let config = PostgresConfig::from_url("postgres://u:s3cret@127.0.0.1:1/app").unwrap();
        let err = PostgresStore::open(&config).unwrap_err();
        assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("127.0.0.1:1/app") && !text.contains("s3cret"),
            "{text}"
        );
    }
}

mod schema {
    use super::*;
    use crate::mapping::Side;
    use crate::store::{Link, StateStore, StoreError};

    #[test]
    fn instances_opening_together_migrate_once_and_share_the_data() {
        let first = store();
        first
            .upsert_link("p", &Link::active("h1", "e1"), super::contract::t(0))
            .unwrap();
        let opened: Vec<_> = (0..4)
            .map(|_| {
                let url = format!("{}?schema={}", test_url(), first.schema);
                std::thread::spawn(move || {
                    PostgresStore::open(&PostgresConfig::from_url(&url).unwrap()).unwrap()
                })
            })
            .collect();
        for handle in opened {
            let other = handle.join().unwrap();
            assert_eq!(
                other.schema_version().unwrap(),
                super::super::migrations::latest()
            );
            assert!(other.link("p", Side::Home, "h1").unwrap().is_some());
        }
        // A schema from a newer mapsync is refused.
        first
            .with_client(async |c| {
                c.batch_execute("UPDATE mapsync_schema SET version = 99")
                    .await
            })
            .unwrap();
        let err = first_instance_error(&first);
        assert!(
            matches!(err, StoreError::SchemaTooNew { found: 99, .. }),
            "{err:?}"
        );
    }

    fn first_instance_error(s: &TestStore) -> StoreError {
        let url = format!("{}?schema={}", test_url(), s.schema);
        PostgresStore::open(&PostgresConfig::from_url(&url).unwrap()).unwrap_err()
    }

    #[test]
    fn a_schema_holding_foreign_tables_is_refused_not_altered() {
        let s = store();
        let foreign = format!("f_{}", uuid::Uuid::new_v4().simple());
        s.with_client(async |c| {
            c.batch_execute(&format!(
                "CREATE SCHEMA {foreign}; CREATE TABLE {foreign}.t (x int)"
            ))
            .await
        })
        .unwrap();
        let url = format!("{}?schema={foreign}", test_url());
        let err = PostgresStore::open(&PostgresConfig::from_url(&url).unwrap()).unwrap_err();
        s.with_client(async |c| {
            c.batch_execute(&format!("DROP SCHEMA {foreign} CASCADE"))
                .await
        })
        .unwrap();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn the_schema_trigger_backs_up_the_checkpoint_check() {
        use serde_json::json;

        use crate::mapping::Direction;
        use crate::store::RunStart;
        let s = store();
        let run = s
            .begin_run(
                "p",
                Direction::Inbound,
                RunStart::New,
                super::contract::t(0),
            )
            .unwrap();
        s.commit_page("p", &super::contract::runs::page(&run.id, 5, json!("c5")))
            .unwrap();
        let sql = format!("UPDATE run SET page = 1 WHERE id = '{}'", run.id);
        assert!(
            s.with_client(async |c| c.batch_execute(&sql).await)
                .is_err()
        );
    }
}

mod instances {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::store::{InboxEvent, Lease, StateStore};

    fn lease(worker: &str) -> Lease {
        Lease::new(worker, Duration::from_secs(60))
    }

    /// Three instances insert the same deliveries (redelivered to each) and claim from one
    /// inbox at once: every event is stored once, every record is claimed by exactly one worker
    /// at a time, and every record is processed.
    #[test]
    fn instances_store_each_delivery_once_and_never_claim_a_record_twice() {
        let s = store();
        let instances: Vec<PostgresStore> = (0..3).map(|_| s.another_instance()).collect();
        let t = super::contract::t;
        let records = 60;
        let inserted: Vec<_> = instances
            .iter()
            .cloned()
            .map(|store| {
                std::thread::spawn(move || {
                    let mut n = 0;
                    for r in 0..records {
                        let event = InboxEvent {
                            source: "crm".into(),
                            dedup_key: Some(format!("ev{r}")),
                            record_key: format!("r{}", r % 20),
                            payload: json!({"r": r}),
                        };
                        n += store.inbox_insert(&[event], t(r)).unwrap().inserted;
                    }
                    n
                })
            })
            .collect();
        let total: u32 = inserted.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(
            total, records as u32,
            "each delivery is stored once across instances"
        );

        let held = Arc::new(Mutex::new(HashSet::new()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let workers: Vec<_> = instances
            .iter()
            .enumerate()
            .flat_map(|(i, store)| (0..3).map(move |w| (format!("i{i}-w{w}"), store.clone())))
            .map(|(name, store)| {
                let held = held.clone();
                let seen = seen.clone();
                std::thread::spawn(move || {
                    while let Some(claim) = store.inbox_claim(&lease(&name), t(100)).unwrap() {
                        assert!(
                            held.lock().unwrap().insert(claim.record_key.clone()),
                            "{} claimed twice at once",
                            claim.record_key
                        );
                        seen.lock()
                            .unwrap()
                            .extend(claim.events.iter().map(|e| e.id));
                        held.lock().unwrap().remove(&claim.record_key);
                        assert!(store.inbox_ack(&claim, t(101)).unwrap());
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let mut seen = seen.lock().unwrap().clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(
            seen.len(),
            records as usize,
            "every event processed exactly once"
        );
        assert_eq!(s.inbox_depth().unwrap(), 0);
    }

    /// An event stored by one instance wakes the idle workers of another.
    #[test]
    fn a_stored_event_wakes_the_other_instances() {
        let s = store();
        let other = s.another_instance();
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = Mutex::new(tx);
        other
            .watch_inbox(Arc::new(move || {
                let _ = tx.lock().unwrap().send(());
            }))
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        // The listener starts on its own; keep storing until one wake-up arrives.
        let mut n = 0;
        loop {
            n += 1;
            let event = InboxEvent {
                source: "crm".into(),
                dedup_key: Some(format!("e{n}")),
                record_key: "r1".into(),
                payload: json!({}),
            };
            s.inbox_insert(&[event], super::contract::t(n)).unwrap();
            if rx.recv_timeout(Duration::from_millis(200)).is_ok() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no wake-up within 10 s"
            );
        }
    }

    /// `mapsync status` reads the instances' heartbeats and the claims each one's workers hold.
    #[test]
    fn heartbeats_list_the_instances_and_their_live_claims() {
        let s = store();
        let t = super::contract::t;
        s.beat_instance("host-a:8080", t(0)).unwrap();
        s.beat_instance("host-b:8080", t(1)).unwrap();
        s.beat_instance("host-a:8080", t(5)).unwrap();
        let event = InboxEvent {
            source: "crm".into(),
            dedup_key: None,
            record_key: "r1".into(),
            payload: json!({}),
        };
        s.inbox_insert(&[event], t(5)).unwrap();
        s.inbox_claim(&lease("host-a:8080:worker-0-x"), t(6))
            .unwrap()
            .unwrap();
        let seen = s.instances(t(7)).unwrap();
        let names: Vec<_> = seen.iter().map(|i| (i.name.as_str(), i.claims)).collect();
        assert_eq!(names, [("host-a:8080", 1), ("host-b:8080", 0)]);
        assert_eq!((seen[0].started_at, seen[0].beat_at), (t(0), t(5)));
        // After the lease (60 s) the claim no longer counts; a beat after a long silence starts
        // a new life.
        assert_eq!(s.instances(t(100)).unwrap()[0].claims, 0);
        s.beat_instance("host-b:8080", t(200)).unwrap();
        let b = s.instances(t(200)).unwrap().remove(0);
        assert_eq!((b.name.as_str(), b.started_at), ("host-b:8080", t(200)));
    }
}
