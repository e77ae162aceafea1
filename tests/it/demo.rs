//! The one-command demo (`cargo run -p sandbox --example demo`, `sandbox::demo`) runs the whole
//! job on the sandbox with the real `mapsync` binary and the reference mapping, and every step
//! does what it should.

use std::path::PathBuf;

use sandbox::demo::{DemoConfig, run};

use crate::util::root;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_every_step_and_tells_what_happened() {
    let cfg = DemoConfig::new(
        PathBuf::from(env!("CARGO_BIN_EXE_mapsync")),
        root().join("mappings/hubspot.yaml"),
    );
    let out = match run(cfg, false).await {
        Ok(out) => out,
        Err(out) => panic!("the demo failed:\n{out}"),
    };
    for expected in [
        "1. mapsync validate",
        "passed, 0 failed",
        "contacts created and linked both ways",
        "rejected as invalid",
        "conflict, left for a person",
        "customers created from the seeded contacts",
        "has the new phone",
        "\"Grace Hopper\" exists, linked both ways",
        "skipped as an echo",
        "0 dead letters",
        "checks passed: mapsync kept both systems in step.",
    ] {
        assert!(out.contains(expected), "no {expected:?} in:\n{out}");
    }
    assert!(!out.contains('✗'), "{out}");
}

#[tokio::test]
async fn a_missing_binary_says_to_build_first() {
    let cfg = DemoConfig::new(
        root().join("target/no-such-mapsync"),
        root().join("mappings/hubspot.yaml"),
    );
    let err = run(cfg, false).await.expect_err("no binary");
    assert!(err.contains("run `cargo build` first"), "{err}");
}
