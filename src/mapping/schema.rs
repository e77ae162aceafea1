//! The JSON Schema of a mapping file, generated from `RawMapping` (doc comments become
//! descriptions). `schemas/mapping.schema.json` is this text, committed; a test catches drift.
//! Never hand-edit the committed file: run `cargo run -- schema > schemas/mapping.schema.json`.

use super::raw::RawMapping;

/// The committed schema, embedded so that validation never needs the file system.
pub const COMMITTED: &str = include_str!("../../schemas/mapping.schema.json");

/// The command that rewrites the committed schema from the types.
pub const REGENERATE: &str = "cargo run -- schema > schemas/mapping.schema.json";

/// The JSON Schema of `RawMapping`, pretty-printed, with a trailing newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(RawMapping);
    // Serialising a `serde_json::Value`-backed schema cannot fail.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_schema_matches_the_types() {
        assert!(
            schema_json() == COMMITTED,
            "schemas/mapping.schema.json is stale; regenerate it with `{REGENERATE}`"
        );
    }
}
