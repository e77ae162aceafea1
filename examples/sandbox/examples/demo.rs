//! `cargo run -p sandbox --example demo`: the whole job on the sandbox in one command (run
//! `cargo build` first, so the `mapsync` binary exists). Starts the sandbox, drives the real
//! `mapsync` binary with the reference mapping through validate, test, serve, setup, an outbound
//! and an inbound full sync and live edits in both systems, and tells what happened. Exits 0 only
//! when every step did what it should.

use std::path::PathBuf;
use std::process::ExitCode;

use sandbox::demo::{DemoConfig, find_mapsync, run};

#[tokio::main]
async fn main() -> ExitCode {
    let mapsync = match find_mapsync() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(69);
        }
    };
    let mapping = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../mappings/hubspot.yaml"
    ));
    let mapping = mapping.canonicalize().unwrap_or(mapping);
    // Show the mapping relative to the working directory when it is inside it.
    let shown = std::env::current_dir()
        .ok()
        .and_then(|d| mapping.strip_prefix(d).ok().map(PathBuf::from))
        .unwrap_or_else(|| mapping.clone());
    match run(DemoConfig::new(mapsync, shown), true).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
