//! `mapsync schema` prints exactly the committed `schemas/mapping.schema.json`, and
//! `mapsync schema --markdown` the committed `docs/mapping-reference.md`.

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

#[test]
fn schema_markdown_prints_the_committed_mapping_reference() {
    let committed = std::fs::read_to_string(root().join("docs/mapping-reference.md"))
        .expect("read the committed reference");
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = run(dir.path(), &["schema", "--markdown"], &[]);
    assert!(
        out == format!("exit: 0\n--- stdout\n{committed}"),
        "docs/mapping-reference.md is stale; regenerate it with \
         `cargo run -- schema --markdown > docs/mapping-reference.md`"
    );
}
