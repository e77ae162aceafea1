//! Full-sync acceptance tests (issue 4): each test starts the in-process sandbox on loopback,
//! writes a copy of the reference mapping into a temporary directory and drives the real
//! `mapsync sync` binary with the sandbox's environment. Oracles are the sandbox's records,
//! counters and request log, never timings.

pub(crate) mod ambiguous;
mod crash_campaign;
mod custom_fields;
mod deletes_and_rails;
mod dry_run;
mod faults;
mod inbound;
mod matching;
mod merge;
mod outbound;
mod report;

use std::collections::BTreeMap;
use std::path::PathBuf;

use sandbox::{Sandbox, SandboxConfig, SandboxHandle, System};
use serde_json::Value;
use tempfile::TempDir;

/// The reference mapping, adjusted for tests: the declared paces (10to8 5/s, HubSpot 100/10 s)
/// would make a 1,000-record sync take minutes, and the sandbox's limiters are off, so the
/// budgets are raised; retries back off from 10 ms instead of 0.5–1 s and get more attempts, so
/// the fault test is fast and no record runs out of attempts (a `Retry-After` is still obeyed
/// in full: the connector waits for it whatever its own backoff says).
pub(super) fn test_mapping() -> String {
    let src = std::fs::read_to_string(crate::util::root().join("mappings/hubspot.yaml"))
        .expect("read the reference mapping");
    replace_all(
        &src,
        &[
            (
                "rate_limit: { requests: 5, per: 1s }",
                "rate_limit: { requests: 100000, per: 1s }",
            ),
            (
                "      requests: 100\n      per: 10s",
                "      requests: 100000\n      per: 10s",
            ),
            (
                "max_attempts: 6, base_delay: 500ms, max_delay: 30s",
                "max_attempts: 15, base_delay: 10ms, max_delay: 100ms",
            ),
            (
                "max_attempts: 8, base_delay: 1s, max_delay: 30s",
                "max_attempts: 15, base_delay: 10ms, max_delay: 100ms",
            ),
        ],
    )
}

/// Replaces each `from` (which must occur exactly once) with `to`.
pub(super) fn replace_all(src: &str, edits: &[(&str, &str)]) -> String {
    let mut out = src.to_string();
    for (from, to) in edits {
        assert_eq!(
            out.matches(from).count(),
            1,
            "the mapping should contain {from:?} exactly once"
        );
        out = out.replace(from, to);
    }
    out
}

/// A sandbox, a temporary directory with the mapping, and the state store's path.
pub(super) struct World {
    pub sb: SandboxHandle,
    pub dir: TempDir,
    pub mapping: PathBuf,
    pub state: PathBuf,
}

/// What one `mapsync` run did.
#[derive(Debug)]
pub(super) struct Run {
    /// The exit code; `None` when a signal ended the process (a failpoint's abort).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The `{"report": …}` of the last stdout line (`--json` runs).
    pub fn report(&self) -> Value {
        let last = self.stdout.lines().last().unwrap_or_default();
        let v: Value = serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("the last stdout line is not JSON ({e}): {self:#?}"));
        v.get("report")
            .cloned()
            .unwrap_or_else(|| panic!("no report in {last}"))
    }

    /// The report's counts, by name.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        serde_json::from_value(self.report()["counts"].clone()).expect("counts")
    }

    /// Asserts the exit code, showing everything on failure.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "unexpected exit: {self:#?}");
        self
    }
}

/// `(name, n)` pairs as a count map, for comparing with `Run::counts` in one assert.
pub(super) fn counts(expected: &[(&str, u64)]) -> BTreeMap<String, u64> {
    let mut all: BTreeMap<String, u64> = [
        "seen",
        "created",
        "updated",
        "linked",
        "unchanged",
        "echo_skipped",
        "invalid",
        "failed",
        "deleted",
        "conflicts",
        "skipped",
        "refused",
        "writeback_failed",
    ]
    .into_iter()
    .map(|k| (k.to_string(), 0))
    .collect();
    for (k, n) in expected {
        assert!(all.contains_key(*k), "unknown count {k}");
        all.insert(k.to_string(), *n);
    }
    all
}

impl World {
    /// Starts a sandbox (custom properties pre-created, so no `mapsync setup` is needed) and
    /// writes `mapping` into a fresh temporary directory.
    pub async fn start(cfg: SandboxConfig, mapping: &str) -> World {
        let sb = Sandbox::start(SandboxConfig {
            precreate_custom_properties: true,
            ..cfg
        })
        .await
        .expect("start the sandbox");
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("mapping.yaml");
        std::fs::write(&path, mapping).expect("write the mapping");
        let state = dir.path().join("state.db");
        World {
            sb,
            dir,
            mapping: path,
            state,
        }
    }

    /// A sandbox with `customers` and `contacts` seeded from `seed`, and the test mapping.
    pub async fn seeded(seed: u64, customers: usize, contacts: usize) -> World {
        World::start(
            SandboxConfig {
                seed,
                customers,
                contacts,
                ..SandboxConfig::for_tests()
            },
            &test_mapping(),
        )
        .await
    }

    /// Runs `mapsync sync --mapping … --state … args…` with a cleared environment plus the
    /// sandbox's variables and `env`.
    pub async fn sync(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mapsync"))
            .arg("sync")
            .arg("--mapping")
            .arg(&self.mapping)
            .arg("--state")
            .arg(&self.state)
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .envs(self.sb.env_vars())
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .kill_on_drop(true)
            .output()
            .await
            .expect("run mapsync");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs `mapsync <args…> --mapping … --state …` (another command than sync) and returns its
    /// stdout, asserting exit 0.
    pub async fn mapsync(&self, args: &[&str]) -> String {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mapsync"))
            .args(args)
            .arg("--mapping")
            .arg(&self.mapping)
            .arg("--state")
            .arg(&self.state)
            .current_dir(self.dir.path())
            .env_clear()
            .envs(self.sb.env_vars())
            .env("NO_COLOR", "1")
            .kill_on_drop(true)
            .output()
            .await
            .expect("run mapsync");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "mapsync {args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// `sync --direction <dir> --json`.
    pub async fn sync_json(&self, direction: &str) -> Run {
        self.sync(&["--direction", direction, "--json"], &[]).await
    }

    /// Requests other than GET that `system` received since its log was last cleared.
    pub fn writes(&self, system: System) -> Vec<String> {
        self.sb
            .requests(system)
            .into_iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {} → {:?}", r.method, r.path, r.status))
            .collect()
    }

    /// Forgets both systems' request logs and counters.
    pub fn clear_logs(&self) {
        self.sb.clear_log(System::Tte);
        self.sb.clear_log(System::Hubspot);
    }

    /// Asserts that a further run in `direction` writes nothing to either system.
    pub async fn assert_next_run_writes_nothing(&self, direction: &str, code: i32) -> Run {
        self.clear_logs();
        let run = self.sync_json(direction).await;
        run.expect_code(code);
        assert_eq!(self.writes(System::Tte), Vec::<String>::new(), "{run:#?}");
        assert_eq!(
            self.writes(System::Hubspot),
            Vec::<String>::new(),
            "{run:#?}"
        );
        let c = run.counts();
        assert_eq!((c["created"], c["updated"], c["deleted"]), (0, 0, 0));
        run
    }

    /// Live (not deleted) customers by URI.
    pub fn live_customers(&self) -> BTreeMap<String, sandbox::tte::store::Customer> {
        self.sb
            .customers()
            .into_iter()
            .filter(|c| !c.deleted)
            .map(|c| (c.resource_uri.clone(), c))
            .collect()
    }

    /// Live (not archived) contacts by id.
    pub fn live_contacts(&self) -> BTreeMap<String, sandbox::hubspot::store::Contact> {
        self.sb
            .contacts()
            .into_iter()
            .filter(|c| !c.archived)
            .map(|c| (c.id.to_string(), c))
            .collect()
    }
}

/// A customer's custom field ("" when unset).
pub(super) fn custom(c: &sandbox::tte::store::Customer, label: &str) -> String {
    c.custom_fields.get(label).cloned().unwrap_or_default()
}

/// A contact's property ("" when unset; HubSpot stores "" as no value).
pub(super) fn prop(c: &sandbox::hubspot::store::Contact, name: &str) -> String {
    c.get(name).unwrap_or_default()
}
