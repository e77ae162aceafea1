//! The YAML mapping model: raw types, loading, validation and the JSON Schema.
