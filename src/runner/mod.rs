//! The sync loop: fetch → plan → apply → checkpoint, over the connector, engine and store.
