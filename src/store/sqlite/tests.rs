//! Tests of the SQLite store: the contract suite every store passes (`../contract/`), and what
//! is SQLite's own — opening files, migrations, locks, and failures inside SQLite.

use super::SqliteStore;

/// A fresh in-memory store.
pub(super) fn store() -> Box<SqliteStore> {
    Box::new(SqliteStore::open_in_memory().unwrap())
}

/// The `StateStore` contract suite, run against SQLite.
// Each store includes the same suite on purpose, hence the allow.
#[allow(clippy::duplicate_mod)]
#[path = "../contract/mod.rs"]
mod contract;

use contract::t;

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

    #[cfg(unix)]
    #[test]
    fn a_new_state_file_and_its_wal_are_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let s = SqliteStore::open(&path, &SqliteConfig::default()).unwrap();
        s.upsert_link("p", &Link::active("h1", "e1"), t(0)).unwrap();
        let wal = dir.path().join("state.db-wal");
        let shm = dir.path().join("state.db-shm");
        for f in [&path, &wal, &shm] {
            let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
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
    fn a_token_refresh_lock_on_a_file_is_held_across_stores_and_waited_for() {
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let one = SqliteStore::open(&path, &SqliteConfig::default()).unwrap();
        // Another store on the file: to `flock`, the same as another process.
        let two = SqliteStore::open(&path, &SqliteConfig::default()).unwrap();
        let held = one.lock_token_refresh("crm", Duration::ZERO).unwrap();
        let err = two
            .lock_token_refresh("crm", Duration::from_millis(30))
            .unwrap_err();
        assert!(matches!(err, StoreError::LockHeld { .. }), "{err:?}");
        let (asking, asked) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            asking.send(()).unwrap();
            two.lock_token_refresh("crm", Duration::from_secs(30))
                .map(|_| ())
        });
        asked.recv().unwrap();
        drop(held);
        waiter.join().unwrap().unwrap();
        // The lock file is named by the system's name in hex, whatever characters it has.
        drop(one.lock_token_refresh("a/b", Duration::ZERO).unwrap());
        assert!(dir.path().join("state.db.token-612f62.lock").exists());
    }

    #[test]
    fn the_store_is_shareable_and_object_safe() {
        fn assert_traits<T: Clone + Send + Sync + 'static>() {}
        fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
        assert_traits::<SqliteStore>();
        assert_error::<StoreError>();
        let _object_safe: Box<dyn StateStore> = store();
    }
}

mod failures {
    use serde_json::json;

    use super::contract::commit::{assert_nothing_landed, full_page, setup};
    use super::contract::runs::page;
    use super::*;
    use crate::mapping::Direction;
    use crate::store::{Link, RunStart, StateStore, StoreError};

    #[test]
    fn the_schema_trigger_backs_up_the_checkpoint_check() {
        let s = store();
        let run = s
            .begin_run("p", Direction::Inbound, RunStart::New, t(0))
            .unwrap();
        s.commit_page("p", &page(&run.id, 5, json!("c5"))).unwrap();
        // Even SQL that bypasses the store cannot move a checkpoint backwards.
        let raw = s.with_conn(|c| c.execute("UPDATE run SET page = 1 WHERE id = ?1", [&run.id]));
        assert!(raw.is_err());
    }

    #[test]
    fn a_sqlite_failure_mid_transaction_undoes_the_whole_page() {
        let s = store();
        let run_id = setup(&*s);
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
        assert_nothing_landed(&*s, &run_id, None);
    }
}
