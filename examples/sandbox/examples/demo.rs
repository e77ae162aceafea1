//! `cargo run -p sandbox --example demo`: the whole job on the sandbox in one command. Under
//! `cargo run` (without `MAPSYNC_BIN`) it first builds the `mapsync` binary with the same cargo
//! and profile, so a fresh clone needs no other command. Starts the sandbox, drives the real
//! `mapsync` binary with the reference mapping through validate, test, serve, setup, an outbound
//! and an inbound full sync and live edits in both systems, and tells what happened. Exits 0 only
//! when every step did what it should.

use std::path::PathBuf;
use std::process::ExitCode;

use sandbox::demo::{DemoConfig, find_mapsync, run};

/// Builds `mapsync` with the cargo that runs this example (`$CARGO`), in the same profile, so
/// the binary `find_mapsync` looks for next to this one is current. Does nothing outside
/// `cargo run` or with `MAPSYNC_BIN` set.
fn build_mapsync() -> Result<(), String> {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Ok(());
    };
    if std::env::var_os("MAPSYNC_BIN").is_some() {
        return Ok(());
    }
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "-p", "mapsync", "--bin", "mapsync"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    eprintln!("Building mapsync (cargo build -p mapsync --bin mapsync)…");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo to build mapsync: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "building mapsync failed ({status}); run `cargo build` to see why"
        ))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(e) = build_mapsync() {
        eprintln!("error: {e}");
        return ExitCode::from(69);
    }
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
