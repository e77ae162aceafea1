//! `mapsync state migrate` with the real binary: a SQLite store's links, ledger and dead letters
//! copied into a fresh PostgreSQL schema, which `mapsync status --state postgres://…` then
//! reads; a second copy into the same schema is refused (it already holds links). Needs
//! PostgreSQL (`MAPSYNC_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`).

use mapsync::store::{Link, NewDeadLetter, SqliteConfig, SqliteStore, StateStore};
use serde_json::{Value, json};

use crate::pg::Schema;
use crate::util::{required_vars, root, run, sandbox_dir};

#[test]
fn a_sqlite_store_moves_to_postgres_and_status_reads_it_there() {
    let mapping = root().join("mappings/hubspot.yaml");
    let dir = sandbox_dir(&[(&mapping, "mapping.yaml")]);
    let text = std::fs::read_to_string(&mapping).unwrap();
    let vars = required_vars(&text);
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    let sqlite = dir.path().join("old.state.db");
    let store = SqliteStore::open(&sqlite, &SqliteConfig::default()).unwrap();
    let now = jiff::Timestamp::now();
    for i in 0..25 {
        store
            .upsert_link(
                "customers<->contacts",
                &Link::active(format!("c{i}"), format!("h{i}")),
                now,
            )
            .unwrap();
    }
    store
        .add_dead_letter(&NewDeadLetter {
            source: "contacts".into(),
            record_key: "h3".into(),
            payload: json!([{"n": 1}]),
            error: "422 invalid".into(),
            attempts: 1,
            first_failed_at: now,
            at: now,
        })
        .unwrap();
    drop(store);

    let schema = Schema::new();
    let to = schema.url();
    let from = format!("sqlite:{}", sqlite.display());
    let args = [
        "state",
        "migrate",
        "--mapping",
        "mapping.yaml",
        "--from",
        &from,
        "--to",
        &to,
    ];
    let out = run(dir.path(), &args, &env);
    assert!(out.starts_with("exit: 0\n"), "{out}");
    assert!(
        out.contains("Copied 25 links, 0 ledger entries, 0 status marks, 0 create intents, 0 OAuth tokens and 1 dead letters"),
        "{out}"
    );
    assert!(
        !out.contains("postgres@"),
        "the URL's user part is not echoed: {out}"
    );

    let status = run(
        dir.path(),
        &[
            "status",
            "--mapping",
            "mapping.yaml",
            "--json",
            "--state",
            &to,
        ],
        &env,
    );
    let json: Value = serde_json::from_str(status.split_once("--- stdout\n").unwrap().1.trim())
        .unwrap_or_else(|e| panic!("{e}: {status}"));
    assert_eq!(json["links"]["active"], 25, "{status}");
    assert_eq!(json["dead_letters"], 1, "{status}");

    // Into a store that already holds the pair's links: refused, nothing copied twice.
    let again = run(dir.path(), &args, &env);
    assert!(again.starts_with("exit: 2\n"), "{again}");
    assert!(again.contains("already holds 25 links"), "{again}");
}
