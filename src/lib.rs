//! mapsync: keeps records in two HTTP APIs in step, driven by one YAML mapping file.
//!
//! The layers, each in its own module (see ARCHITECTURE.md for the invariants each keeps):
//! `mapping` (the YAML model, loading, validation, schema), `expr` (JSONPath reads and minijinja
//! expressions), `engine` (pure planning), `cases` (mapping test cases through the engine), `connector` (the generic HTTP runtime), `store`
//! (durable state in SQLite), `runner` (fetch → plan → apply → checkpoint, and the inbox
//! workers), `server` (webhook receivers, OAuth install, health and metrics), `setup`
//! (converges custom fields and webhook subscriptions: plan, then apply) and `cli`.

pub mod cases;
pub mod cli;
pub mod clock;
pub mod connector;
pub mod engine;
pub mod expr;
pub mod mapping;
pub mod runner;
pub mod server;
pub mod setup;
pub mod store;

/// Installs the process-wide TLS crypto provider (ring). Call once before building any HTTP
/// client; calling it again is harmless.
pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
