//! The second pair, from YAML alone: `examples/pipedrive.yaml` (10to8 customers ↔ Pipedrive
//! persons) validated and run both ways against the sandbox's Pipedrive stand-in.

mod live;
mod setup;
mod sync;

use sandbox::{SandboxConfig, System};
use serde_json::Value;

use crate::sync::{World, replace_all};

/// The example mapping with fast retries and no client-side pacing.
pub(super) fn test_mapping() -> String {
    let src = std::fs::read_to_string(crate::util::root().join("examples/pipedrive.yaml"))
        .expect("read the example mapping");
    replace_all(
        &src,
        &[
            (
                "rate_limit: { requests: 5, per: 1s }",
                "rate_limit: { requests: 100000, per: 1s }",
            ),
            (
                "rate_limit: { requests: 20, per: 2s }",
                "rate_limit: { requests: 100000, per: 1s }",
            ),
            (
                "max_attempts: 6, base_delay: 500ms, max_delay: 30s",
                "max_attempts: 15, base_delay: 10ms, max_delay: 100ms",
            ),
            (
                "max_attempts: 6, base_delay: 1s, max_delay: 30s",
                "max_attempts: 15, base_delay: 10ms, max_delay: 100ms",
            ),
        ],
    )
}

/// A sandbox with `customers` and `persons` seeded, and the test mapping.
pub(super) async fn world(seed: u64, customers: usize, persons: usize) -> World {
    World::start(
        SandboxConfig {
            seed,
            customers,
            persons,
            ..SandboxConfig::for_tests()
        },
        &test_mapping(),
    )
    .await
}

/// Writes (non-GET requests) the Pipedrive stand-in received since its log was cleared.
pub(super) fn pd_writes(w: &World) -> Vec<String> {
    w.sb.requests(System::Pipedrive)
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {} → {:?}", r.method, r.path, r.status))
        .collect()
}

/// Active persons by id.
pub(super) fn live_persons(w: &World) -> std::collections::BTreeMap<String, Value> {
    w.sb.persons()
        .into_iter()
        .filter(|p| p["active_flag"] == true)
        .map(|p| (p["id"].to_string(), p))
        .collect()
}

/// The values of a person's `email` or `phone` entries, primary first, empties dropped.
pub(super) fn values(p: &Value, key: &str) -> Vec<String> {
    let items = p[key].as_array().cloned().unwrap_or_default();
    let (primary, rest): (Vec<Value>, Vec<Value>) =
        items.into_iter().partition(|e| e["primary"] == true);
    primary
        .iter()
        .chain(rest.iter())
        .filter_map(|e| e["value"].as_str())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// The hash key of a seeded custom person field.
pub(super) fn key(w: &World, name: &str) -> String {
    w.sb.pipedrive_field_key(name).expect("seeded custom field")
}

#[test]
fn the_example_mapping_validates_without_errors() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args(["validate", "--format", "json"])
        .arg(crate::util::root().join("examples/pipedrive.yaml"))
        .env_clear()
        .output()
        .expect("run mapsync validate");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let diags: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json diagnostics");
    assert!(diags.iter().all(|d| d["severity"] != "error"), "{diags:#?}");
}

/// The example ships offline test cases (issue 8: "tested by `mapsync test`"); they need only
/// the two custom-field keys in the environment.
#[test]
fn the_example_mappings_test_cases_pass() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .arg("test")
        .arg(crate::util::root().join("examples/pipedrive.yaml"))
        .env_clear()
        .env(
            "PIPEDRIVE_FIELD_TTE_URI",
            "0123456789abcdef0123456789abcdef01234567",
        )
        .env(
            "PIPEDRIVE_FIELD_SYNC_STATUS",
            "89abcdef0123456789abcdef0123456789abcdef",
        )
        .output()
        .expect("run mapsync test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout.trim_end().ends_with("3 passed, 0 failed"),
        "{stdout}"
    );
}

#[test]
fn a_field_path_from_an_unset_variable_is_reported_once_as_env_unset() {
    use mapsync::mapping::EnvMode;
    use mapsync::mapping::env::Env;
    use mapsync::mapping::load::load_str;
    let src = std::fs::read_to_string(crate::util::root().join("examples/pipedrive.yaml"))
        .expect("read the example mapping");
    let codes = |mode, env: &Env| {
        load_str(&src, "pipedrive.yaml", env, mode)
            .diagnostics
            .into_iter()
            .filter(|d| {
                d.pointer.starts_with("/pair/link") || d.pointer.starts_with("/pair/status")
            })
            .map(|d| (d.code, d.severity))
            .collect::<Vec<_>>()
    };
    let none = Env::from_map(Vec::<(String, String)>::new());
    for (mode, severity) in [
        (EnvMode::Lenient, mapsync::mapping::Severity::Warning),
        (EnvMode::Strict, mapsync::mapping::Severity::Error),
    ] {
        assert_eq!(
            codes(mode, &none),
            vec![("env-unset", severity), ("env-unset", severity)]
        );
    }
    // set, the hash keys (even one starting with a digit) are valid quoted field paths
    let set = Env::from_map([
        (
            "PIPEDRIVE_FIELD_TTE_URI",
            "0123456789abcdef0123456789abcdef01234567",
        ),
        (
            "PIPEDRIVE_FIELD_SYNC_STATUS",
            "a123456789abcdef0123456789abcdef01234567",
        ),
    ]);
    assert!(codes(EnvMode::Lenient, &set).is_empty());
}
