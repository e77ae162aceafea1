//! Tests of the SQLite store as a whole: opening, migrations, runs, checkpoints and the atomic
//! page commit. Per-table tests sit beside their SQL.

use jiff::Timestamp;

use super::SqliteStore;
use crate::mapping::Side;
use crate::store::{SnapshotEntry, StateStore};

/// A fresh in-memory store.
pub(super) fn store() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

/// A fixed time, `seconds` after an arbitrary epoch.
pub(super) fn t(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

mod open {
    use rusqlite::Connection;

    use super::*;
    use crate::mapping::Side;
    use crate::store::sqlite::migrations;
    use crate::store::{Link, SqliteConfig, StateStore, StoreError};

    #[test]
    fn a_new_file_is_created_migrated_and_reopened_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let s = SqliteStore::open(&path, &SqliteConfig::default()).unwrap();
        assert_eq!(s.schema_version().unwrap(), migrations::latest());
        let mode: String = s.with_conn(|c| {
            c.pragma_query_value(None, "journal_mode", |r| r.get(0))
                .unwrap()
        });
        assert_eq!(mode, "wal");
        s.upsert_link("p", &Link::active("h1", "e1"), t(0)).unwrap();
        drop(s);

        for _ in 0..2 {
            let s = SqliteStore::open(&path, &SqliteConfig::default()).unwrap();
            assert_eq!(s.schema_version().unwrap(), migrations::latest());
            assert_eq!(
                s.link("p", Side::Home, "h1").unwrap(),
                Some(Link::active("h1", "e1"))
            );
        }
    }

    #[test]
    fn a_file_from_a_newer_mapsync_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let s = SqliteStore::open(&path, &SqliteConfig::default()).unwrap();
        s.with_conn(|c| c.pragma_update(None, "user_version", 99).unwrap());
        drop(s);
        let err = SqliteStore::open(&path, &SqliteConfig::default()).unwrap_err();
        assert!(
            matches!(err, StoreError::SchemaTooNew { found: 99, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("upgrade mapsync"), "{err}");
    }

    #[test]
    fn a_foreign_or_damaged_file_is_refused_not_altered() {
        let dir = tempfile::tempdir().unwrap();
        let foreign = dir.path().join("foreign.db");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let err = SqliteStore::open(&foreign, &SqliteConfig::default()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");

        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![b'x'; 8192]).unwrap();
        let err = SqliteStore::open(&garbage, &SqliteConfig::default()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("backup"), "{err}");

        let missing_dir = dir.path().join("no/such/dir/state.db");
        let err = SqliteStore::open(&missing_dir, &SqliteConfig::default()).unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    }

    #[test]
    fn a_write_lock_held_elsewhere_is_reported_as_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let holder = SqliteStore::open(&path, &SqliteConfig::default()).unwrap();
        let config = SqliteConfig {
            busy_timeout: std::time::Duration::ZERO,
            ..SqliteConfig::default()
        };
        let other = SqliteStore::open(&path, &config).unwrap();

        holder.with_conn(|c| c.execute_batch("BEGIN IMMEDIATE").unwrap());
        let err = other
            .upsert_link("p", &Link::active("h", "e"), t(0))
            .unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        holder.with_conn(|c| c.execute_batch("ROLLBACK").unwrap());
        other
            .upsert_link("p", &Link::active("h", "e"), t(0))
            .unwrap();
    }

    #[test]
    fn clones_share_one_store_across_threads() {
        fn assert_traits<T: Clone + Send + Sync + 'static>() {}
        fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
        assert_traits::<SqliteStore>();
        assert_error::<StoreError>();
        let _object_safe: Box<dyn StateStore> = Box::new(store());
        let s = store();
        let threads: Vec<_> = (0..4)
            .map(|n| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        s.upsert_link(
                            "p",
                            &Link::active(format!("h{n}-{i}"), format!("e{n}-{i}")),
                            t(0),
                        )
                        .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(s.link_counts("p").unwrap().active, 100);
    }
}

mod runs {
    use serde_json::json;

    use super::*;
    use crate::mapping::Direction;
    use crate::store::{
        Checkpoint, PageCommit, RunCheckpoint, RunEnd, RunStart, RunState, StateStore, StoreError,
    };

    pub(crate) fn page(run_id: &str, page: u64, cursor: serde_json::Value) -> PageCommit {
        PageCommit {
            checkpoint: Some(RunCheckpoint {
                run_id: run_id.to_owned(),
                checkpoint: Checkpoint {
                    cursor,
                    page,
                    records_done: page * 100,
                },
                counters: Some(json!({"created": page})),
            }),
            ..PageCommit::new(t(page as i64))
        }
    }

    #[test]
    fn a_killed_run_is_resumed_from_its_checkpoint() {
        let s = store();
        let run = s
            .begin_run("p", Direction::Outbound, RunStart::ResumeOrNew, t(0))
            .unwrap();
        assert_eq!(
            (run.state, run.checkpoint.clone()),
            (RunState::Running, None)
        );
        s.commit_page("p", &page(&run.id, 1, json!({"after": "100"})))
            .unwrap();
        s.commit_page("p", &page(&run.id, 2, json!({"after": "200"})))
            .unwrap();

        // The process dies; the next sync resumes the same run.
        let resumed = s
            .begin_run("p", Direction::Outbound, RunStart::ResumeOrNew, t(10))
            .unwrap();
        assert_eq!(resumed.id, run.id);
        assert_eq!(
            resumed.checkpoint,
            Some(Checkpoint {
                cursor: json!({"after": "200"}),
                page: 2,
                records_done: 200
            })
        );
        assert_eq!(resumed.counters, json!({"created": 2}));
        // Other directions and pairs are untouched.
        let inbound = s
            .begin_run("p", Direction::Inbound, RunStart::ResumeOrNew, t(10))
            .unwrap();
        assert_ne!(inbound.id, run.id);
        assert_eq!(inbound.checkpoint, None);

        s.finish_run(
            &run.id,
            &RunEnd {
                state: RunState::Done,
                counters: json!({"created": 3}),
                at: t(20),
            },
        )
        .unwrap();
        let done = s.run(&run.id).unwrap().unwrap();
        assert_eq!(
            (done.state, done.finished_at),
            (RunState::Done, Some(t(20)))
        );
        let err = s
            .commit_page("p", &page(&run.id, 3, json!(null)))
            .unwrap_err();
        assert!(matches!(err, StoreError::RunNotRunning { .. }), "{err:?}");

        // A finished run is not resumed.
        let next = s
            .begin_run("p", Direction::Outbound, RunStart::ResumeOrNew, t(30))
            .unwrap();
        assert_ne!(next.id, run.id);
        assert_eq!(
            s.latest_run("p", Direction::Outbound).unwrap().unwrap().id,
            next.id
        );
    }

    #[test]
    fn a_fresh_start_marks_the_running_one_killed() {
        let s = store();
        let first = s
            .begin_run("p", Direction::Outbound, RunStart::New, t(0))
            .unwrap();
        let second = s
            .begin_run("p", Direction::Outbound, RunStart::New, t(1))
            .unwrap();
        assert_eq!(s.run(&first.id).unwrap().unwrap().state, RunState::Killed);
        let err = s
            .commit_page("p", &page(&first.id, 1, json!(1)))
            .unwrap_err();
        assert!(matches!(err, StoreError::RunNotRunning { .. }), "{err:?}");

        // A failed run is resumable too.
        s.finish_run(
            &second.id,
            &RunEnd {
                state: RunState::Failed,
                counters: json!({}),
                at: t(2),
            },
        )
        .unwrap();
        let resumed = s
            .begin_run("p", Direction::Outbound, RunStart::ResumeOrNew, t(3))
            .unwrap();
        assert_eq!(resumed.id, second.id);
        assert_eq!(s.run(&second.id).unwrap().unwrap().state, RunState::Running);

        let err = s
            .commit_page("other-pair", &page(&second.id, 1, json!(1)))
            .unwrap_err();
        assert!(matches!(err, StoreError::RunNotFound { .. }), "{err:?}");
    }

    #[test]
    fn a_checkpoint_never_moves_backwards() {
        let s = store();
        let run = s
            .begin_run("p", Direction::Inbound, RunStart::New, t(0))
            .unwrap();
        s.commit_page("p", &page(&run.id, 5, json!("c5"))).unwrap();
        // Re-committing the same page after a resume re-read it is fine.
        s.commit_page("p", &page(&run.id, 5, json!("c5"))).unwrap();
        let err = s
            .commit_page("p", &page(&run.id, 4, json!("c4")))
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::CheckpointBackwards {
                    stored: 5,
                    attempted: 4,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            s.run(&run.id).unwrap().unwrap().checkpoint.unwrap().cursor,
            json!("c5")
        );
        // The schema trigger backs the check up, even for SQL that bypasses it.
        let raw = s.with_conn(|c| c.execute("UPDATE run SET page = 1 WHERE id = ?1", [&run.id]));
        assert!(raw.is_err());
    }
}

mod commit {
    use serde_json::json;

    use super::runs::page;
    use super::*;
    use crate::mapping::{Direction, Side};
    use crate::store::{
        CreateIntent, DeadLetterQuery, IntentSettlement, LedgerEntry, LedgerKind, Link,
        NewDeadLetter, Outcome, OutcomeKind, StateStore, StatusKind, StatusMark, StoreError,
    };

    /// A page commit that touches every table, for run `run_id` at page `n`.
    fn full_page(run_id: &str, n: u64, links: Vec<Link>) -> crate::store::PageCommit {
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

    fn assert_nothing_landed(s: &SqliteStore, run_id: &str, page: Option<u64>) {
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

    fn setup() -> (SqliteStore, String) {
        let s = store();
        let intent = CreateIntent {
            direction: Direction::Outbound,
            source_id: "h1".into(),
            attempt_key: "k1".into(),
        };
        s.record_intent("p", &intent, t(0)).unwrap();
        let run = s
            .begin_run("p", Direction::Outbound, crate::store::RunStart::New, t(0))
            .unwrap();
        (s, run.id)
    }

    #[test]
    fn a_page_commit_lands_whole() {
        let (s, run_id) = setup();
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
        let (s, run_id) = setup();
        s.commit_page("p", &page(&run_id, 3, json!("c3"))).unwrap();
        // Everything before the checkpoint is applied, then the checkpoint fails.
        let err = s
            .commit_page("p", &full_page(&run_id, 2, vec![Link::active("h1", "e1")]))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::CheckpointBackwards { .. }),
            "{err:?}"
        );
        assert_nothing_landed(&s, &run_id, Some(3));
    }

    #[test]
    fn a_link_taken_meanwhile_is_a_conflict_of_that_record_and_the_rest_lands() {
        let (s, run_id) = setup();
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
        // The taken link, and the ledger of its records, are not written; its record's outcome
        // is a conflict naming the other record.
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
        let (s, run_id) = setup();
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
            .remove(0);
        assert!(theirs.is_some());
        let mut commit = full_page(&run_id, 1, vec![Link::active("h1", "e1")]);
        commit.fence = vec![mine.token];
        let err = s.commit_page("p", &commit).unwrap_err();
        assert!(matches!(err, StoreError::ClaimLost { .. }), "{err:?}");
        assert_nothing_landed(&s, &run_id, None);
        // The holder's own fence lets it through.
        commit.fence = vec![theirs.unwrap().token];
        s.commit_page("p", &commit).unwrap();
        assert!(s.link("p", Side::Home, "h1").unwrap().is_some());
    }

    #[test]
    fn a_sqlite_failure_mid_transaction_undoes_the_whole_page() {
        let (s, run_id) = setup();
        // Make the outcome insert fail inside SQLite, after links, ledger and statuses ran.
        s.with_conn(|c| {
            c.execute_batch(
                "CREATE TEMP TRIGGER fail_outcome BEFORE INSERT ON main.outcome
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            )
            .unwrap()
        });
        let err = s
            .commit_page("p", &full_page(&run_id, 1, vec![Link::active("h1", "e1")]))
            .unwrap_err();
        assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");
        assert_nothing_landed(&s, &run_id, None);
    }
}

mod checkpoint_property {
    use proptest::prelude::*;
    use serde_json::json;

    use super::runs::page;
    use super::*;
    use crate::mapping::Direction;
    use crate::store::{RunStart, StateStore, StoreError};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Random page commits, in any order: the stored checkpoint is always the highest page
        /// committed so far, with the cursor of the latest commit of that page.
        #[test]
        fn the_checkpoint_never_moves_backwards(pages in proptest::collection::vec(0u64..20, 1..40)) {
            let s = store();
            let run = s.begin_run("p", Direction::Outbound, RunStart::New, t(0)).unwrap();
            let mut highest: Option<(u64, usize)> = None;
            for (i, &n) in pages.iter().enumerate() {
                let result = s.commit_page("p", &page(&run.id, n, json!({"commit": i})));
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
        }
    }
}

#[test]
fn the_snapshot_indexes_by_id_link_and_match_key() {
    let store = SqliteStore::open_in_memory().expect("open");
    let entry = |id: &str, link: Option<&str>, key: Option<&str>| SnapshotEntry {
        record_id: id.to_string(),
        record: serde_json::json!({ "id": id }),
        link_value: link.map(str::to_string),
        match_key: key.map(str::to_string),
    };
    store
        .snapshot_put(
            "p",
            Side::External,
            &[
                entry("1", Some("h1"), Some("a@x.com")),
                entry("2", None, Some("a@x.com")),
                entry("3", None, None),
            ],
        )
        .expect("put");
    assert_eq!(store.snapshot_count("p", Side::External).expect("count"), 3);
    assert_eq!(store.snapshot_count("p", Side::Home).expect("count"), 0);
    assert_eq!(
        store.snapshot_get("p", Side::External, "3").expect("get"),
        Some(serde_json::json!({"id": "3"}))
    );
    assert_eq!(
        store.snapshot_get("q", Side::External, "3").expect("get"),
        None
    );
    let ids =
        |v: Vec<(String, serde_json::Value)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .snapshot_by_link("p", Side::External, "h1")
            .expect("link")),
        ["1"]
    );
    assert_eq!(
        ids(store
            .snapshot_by_match("p", Side::External, "a@x.com")
            .expect("match")),
        ["1", "2"]
    );
    store
        .snapshot_put("p", Side::External, &[entry("1", None, Some("b@y.com"))])
        .expect("replace");
    assert!(
        store
            .snapshot_by_link("p", Side::External, "h1")
            .expect("link")
            .is_empty()
    );
    store.snapshot_clear("p", Side::External).expect("clear");
    assert_eq!(store.snapshot_count("p", Side::External).expect("count"), 0);
}
