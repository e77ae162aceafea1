//! The state file at rest, through the real binary: created readable by its owner only, and an
//! existing one that others can read is used with a warning saying how to fix it.

use std::os::unix::fs::PermissionsExt;

use crate::util::{root, run, sandbox_dir};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_new_state_file_is_private_and_a_readable_one_is_warned_about() {
    let dir = sandbox_dir(&[(&root().join("mappings/hubspot.yaml"), "mapping.yaml")]);
    // `oauth-link` creates the store (it keeps the link there).
    let link = [
        "oauth-link",
        "hubspot",
        "--mapping",
        "mapping.yaml",
        "--public-url",
        "https://sync.example.com",
    ];
    let out = run(dir.path(), &link, &[]);
    assert!(out.starts_with("exit: 0\n"), "{out}");
    assert!(
        out.contains("https://sync.example.com/oauth/hubspot/start?link="),
        "{out}"
    );
    let status = ["status", "--mapping", "mapping.yaml"];
    let db = dir.path().join("mapping.state.db");
    assert_eq!(mode(&db), 0o600);
    for side in ["mapping.state.db-wal", "mapping.state.db-shm"] {
        let p = dir.path().join(side);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{side}");
        }
    }
    assert!(!out.contains("chmod"), "{out}");

    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run(dir.path(), &status, &[]);
    assert!(out.starts_with("exit: 0\n"), "{out}");
    assert!(out.contains("readable by other users"), "{out}");
    assert!(out.contains("chmod 600"), "{out}");
}

/// Processed inbox events: (old, recent) counts, read straight from the file.
fn processed(db: &std::path::Path, cutoff_ms: i64) -> (i64, i64) {
    let conn = rusqlite::Connection::open(db).expect("open");
    let count = |sql: &str| -> i64 {
        conn.query_row(sql, [cutoff_ms], |r| r.get(0))
            .expect("count")
    };
    (
        count(
            "SELECT count(*) FROM inbox_event WHERE processed_at IS NOT NULL AND received_at < ?1",
        ),
        count(
            "SELECT count(*) FROM inbox_event WHERE processed_at IS NOT NULL AND received_at >= ?1",
        ),
    )
}

#[test]
fn serve_prunes_processed_events_past_their_retention() {
    use mapsync::store::{InboxEvent, Lease, SqliteConfig, SqliteStore, StateStore};
    use std::io::BufRead;

    let dir = sandbox_dir(&[(&root().join("mappings/hubspot.yaml"), "mapping.yaml")]);
    let db = dir.path().join("mapping.state.db");
    let now = jiff::Timestamp::now();
    let eight_days_ago = now
        .checked_sub(jiff::SignedDuration::from_hours(24 * 8))
        .expect("time");
    let cutoff = now
        .checked_sub(jiff::SignedDuration::from_hours(24 * 7))
        .expect("time");
    {
        let store = SqliteStore::open(&db, &SqliteConfig::default()).expect("store");
        let event = |key: &str, record: &str| InboxEvent {
            source: "contacts".into(),
            dedup_key: Some(key.into()),
            record_key: record.into(),
            payload: serde_json::json!({}),
        };
        for (at, keys) in [(eight_days_ago, ["o1", "o2"]), (now, ["n1", "n2"])] {
            store
                .inbox_insert(&[event(keys[0], keys[0]), event(keys[1], keys[1])], at)
                .expect("insert");
            for _ in 0..2 {
                let claim = store
                    .inbox_claim(&Lease::new("t", std::time::Duration::from_secs(60)), at)
                    .expect("claim")
                    .expect("work");
                assert!(store.inbox_ack(&claim, at).expect("ack"));
            }
        }
    }
    assert_eq!(processed(&db, cutoff.as_millisecond()), (2, 2));

    let src = std::fs::read_to_string(root().join("mappings/hubspot.yaml")).expect("read");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args([
            "serve",
            "--mapping",
            "mapping.yaml",
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(dir.path())
        .env_clear()
        .envs(crate::util::required_vars(&src))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let listening = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(listening.starts_with("Listening on "), "{listening}");
    // Default retention: 7 days. The old processed events go, the recent ones stay.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = processed(&db, cutoff.as_millisecond());
    while seen != (0, 2) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        seen = processed(&db, cutoff.as_millisecond());
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        seen,
        (0, 2),
        "old processed events pruned, recent ones kept"
    );
}
