//! `mapsync schema` prints exactly the committed `schemas/mapping.schema.json`, and
//! `mapsync schema --markdown` the committed `docs/mapping-reference.md`, and `mapsync schema
//! --language` the committed `docs/expression-language.md`.

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

#[test]
fn schema_language_prints_the_committed_expression_reference() {
    let committed = std::fs::read_to_string(root().join("docs/expression-language.md"))
        .expect("read the committed expression-language reference");
    let files = [
        "mappings/hubspot.yaml",
        "examples/pipedrive.yaml",
        "tests/fixtures/valid/minimal/mapping.yaml",
    ];
    let mut args = vec!["schema", "--language"];
    args.extend(files);
    let out = run(&root(), &args, &[]);
    assert!(
        out == format!("exit: 0\n--- stdout\n{committed}"),
        "docs/expression-language.md is stale; regenerate it with \
         `cargo run -- schema --language {} > docs/expression-language.md`",
        files.join(" ")
    );
}
