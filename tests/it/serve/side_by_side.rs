//! Processes side by side on one state store, with the real binary: a second `serve` is refused
//! with a message that names the store, a second `sync` of the same direction is refused while
//! one runs (exit 75) even with `serve` running, and `--dry-run` changes nothing shared.

use std::time::{Duration, Instant};

use mapsync::mapping::Side;
use mapsync::store::{SqliteConfig, SqliteStore, StateStore};
use sandbox::{Faults, System};
use serde_json::json;

use super::harness::{Opts, start};

/// The reference mapping's pair key in the state store.
const PAIR: &str = "customers<->contacts";

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_on_one_store_is_refused_naming_the_store() {
    let live = start(Opts {
        subscribe: false,
        ..Opts::default()
    })
    .await;
    let out = live.mapsync(&[
        "serve",
        "--mapping",
        "mapping.yaml",
        "--listen",
        "127.0.0.1:0",
    ]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(75), "{all}");
    assert!(
        all.contains("another `mapsync serve` is running on the state store mapping.state.db"),
        "{all}"
    );
    // The first one still serves.
    assert!(live.metric("mapsync_inbox_depth").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sync_of_a_direction_is_refused_while_one_runs_and_a_dry_run_changes_nothing() {
    let live = start(Opts {
        subscribe: false,
        ..Opts::default()
    })
    .await;
    for i in 0..3 {
        live.sb
            .ui_create_customer(json!({"name": format!("Lee Side{i}"),
                                       "emails": [format!("lee{i}@example.com")], "numbers": []}))
            .expect("customer");
    }
    // The outbound index lists HubSpot slowly, so the first sync holds its lock a while.
    live.clear();
    live.sb.set_faults(
        System::Hubspot,
        Faults {
            latency: Duration::from_millis(4000),
            ..Faults::default()
        },
    );
    let live = std::sync::Arc::new(live);
    let first = {
        let live = live.clone();
        tokio::task::spawn_blocking(move || {
            live.mapsync(&[
                "sync",
                "--mapping",
                "mapping.yaml",
                "--direction",
                "outbound",
            ])
        })
    };
    // The first sync is indexing (it took its lock before that).
    let deadline = Instant::now() + Duration::from_secs(20);
    while live.sb.requests(System::Hubspot).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the first sync never listed HubSpot"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = live.mapsync(&[
        "sync",
        "--mapping",
        "mapping.yaml",
        "--direction",
        "outbound",
    ]);
    let all = text(&second);
    assert_eq!(second.status.code(), Some(75), "{all}");
    assert!(
        all.contains("is already running on the state store"),
        "{all}"
    );
    // The other direction is not held by it.
    let inbound = live.mapsync(&[
        "sync",
        "--mapping",
        "mapping.yaml",
        "--direction",
        "inbound",
    ]);
    assert_ne!(inbound.status.code(), Some(75), "{}", text(&inbound));
    let first = first.await.expect("first sync");
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    live.sb.set_faults(System::Hubspot, Faults::default());

    // A dry run changes nothing shared: the snapshot a real sync left is kept.
    let again = live.mapsync(&[
        "sync",
        "--mapping",
        "mapping.yaml",
        "--direction",
        "outbound",
    ]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let store = SqliteStore::open(
        &live.dir.path().join("mapping.state.db"),
        &SqliteConfig::default(),
    )
    .expect("store");
    let before = store.snapshot_count(PAIR, Side::External).unwrap();
    assert!(before >= 3);
    live.sb
        .ui_create_contact(
            json!({"firstname": "New", "lastname": "Person", "email": "new@example.com"}),
        )
        .expect("contact");
    let dry = live.mapsync(&[
        "sync",
        "--mapping",
        "mapping.yaml",
        "--direction",
        "outbound",
        "--dry-run",
    ]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert_eq!(store.snapshot_count(PAIR, Side::External).unwrap(), before);
    assert!(
        store
            .latest_run(PAIR, mapsync::mapping::Direction::Outbound)
            .unwrap()
            .is_some()
    );
}
