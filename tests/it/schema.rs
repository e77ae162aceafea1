//! `mapsync schema` prints exactly the committed `schemas/mapping.schema.json`.

use crate::util::{root, run};

#[test]
fn schema_command_prints_the_committed_schema() {
    let committed = std::fs::read_to_string(root().join("schemas/mapping.schema.json"))
        .expect("read the committed schema");
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = run(dir.path(), &["schema"], &[]);
    assert!(
        out == format!("exit: 0\n--- stdout\n{committed}"),
        "schemas/mapping.schema.json is stale; regenerate it with \
         `cargo run -- schema > schemas/mapping.schema.json`"
    );
}
