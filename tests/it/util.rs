//! Test harness: run `mapsync` hermetically and render what it did as one pinned text.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh temporary directory holding copies of `files` (source path → name in the dir).
pub fn sandbox_dir(files: &[(&Path, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    for (from, to) in files {
        std::fs::copy(from, dir.path().join(to))
            .unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
    dir
}

/// Runs `mapsync args…` in `dir` with an empty environment plus `env`, and renders the exit
/// code, stdout and stderr as one text for `expect!`.
pub fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args(args)
        .current_dir(dir)
        // Clears every MAPSYNC_* variable and every variable a mapping refers to.
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run mapsync");
    let code = out
        .status
        .code()
        .map_or("signal".to_string(), |c| c.to_string());
    let mut text = format!("exit: {code}\n");
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        // Trailing spaces are invisible in a pinned text; drop them.
        let s: String = String::from_utf8_lossy(bytes)
            .lines()
            .map(|l| format!("{}\n", l.trim_end()))
            .collect();
        if !s.is_empty() {
            text.push_str(&format!("--- {name}\n{s}"));
            if !s.ends_with('\n') {
                text.push('\n');
            }
        }
    }
    text
}

/// The variables a mapping requires (`${NAME}` or `${NAME:?…}`), each set to a dummy value, so
/// validation sees a complete environment.
pub fn required_vars(src: &str) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find("${") {
        rest = &rest[i + 2..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let (name, after) = rest.split_at(end);
        if (after.starts_with('}') || after.starts_with(":?"))
            && !vars.iter().any(|(n, _)| n == name)
        {
            vars.push((name.to_string(), "test-value".to_string()));
        }
    }
    vars
}

/// Every valid mapping the repository ships: `mappings/*.yaml` and
/// `tests/fixtures/valid/*/mapping.yaml`.
pub fn valid_mappings() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root().join("mappings")).expect("mappings/") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        }
    }
    for entry in std::fs::read_dir(root().join("tests/fixtures/valid")).expect("valid fixtures") {
        files.push(entry.expect("dir entry").path().join("mapping.yaml"));
    }
    files.sort();
    files
}

/// The size a scale test runs at: `ci` by default, `soak` when `MAPSYNC_SOAK=1` is set (the
/// figures of the issues' "done when"; `scripts/soak.sh` runs them and BENCHMARKS.md records
/// the outcome). Both sizes assert the same things.
pub fn scale(ci: usize, soak: usize) -> usize {
    if std::env::var("MAPSYNC_SOAK").is_ok_and(|v| v == "1") {
        soak
    } else {
        ci
    }
}
