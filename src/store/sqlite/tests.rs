//! Tests of the SQLite store as a whole: opening, migrations, runs, checkpoints and the atomic
//! page commit. Per-table tests sit beside their SQL.

use jiff::Timestamp;

use super::SqliteStore;

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
        assert_traits::<SqliteStore>();
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
