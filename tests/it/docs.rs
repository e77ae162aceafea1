//! The documentation keeps up with the code: every diagnostic code the validator can emit is in
//! README.md's table.

use std::collections::BTreeSet;

use crate::util::root;

#[test]
fn every_diagnostic_code_is_documented() {
    let re = regex::Regex::new(r#"(?:error|warning)\(\s*"([a-z]+(?:-[a-z]+)*)""#).expect("pattern");
    let mut codes = BTreeSet::new();
    let mut stack = vec![root().join("src/mapping")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src/mapping") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read source");
                codes.extend(re.captures_iter(&text).map(|c| c[1].to_string()));
            }
        }
    }
    assert!(codes.len() > 15, "the scan found too few codes: {codes:?}");
    let readme = std::fs::read_to_string(root().join("README.md")).expect("read README.md");
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| !readme.contains(&format!("| `{c}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "diagnostic codes missing from README.md's table: {missing:?}"
    );
}

/// Every text file the repository holds (outside `target/` and `.git/`).
fn repository_files() -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a repository directory") {
            let path = entry.expect("entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !matches!(name, "target" | ".git" | "node_modules") {
                    stack.push(path);
                }
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// A clone is complete: no file points at notes outside the repository (the API facts live in
/// `examples/sandbox/FIDELITY.md`, the demo in `DEMO-2021.md`, the reliability catalogue in
/// `docs/reliability-catalogue.md`).
#[test]
fn no_file_refers_to_anything_outside_the_repository() {
    let needles = [
        concat!("shared", "/reference"),
        concat!("shared", "/design"),
        concat!("../", "shared/"),
        concat!("apis", ".md"),
        concat!("seed-demo", ".md"),
    ];
    let files = repository_files();
    assert!(
        files.len() > 100,
        "the scan found too few files: {}",
        files.len()
    );
    let mut offenders = Vec::new();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for needle in needles {
            if let Some(line) = text.lines().position(|l| l.contains(needle)) {
                offenders.push(format!("{}:{}: {needle}", path.display(), line + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "references outside the repository: {offenders:#?}"
    );
}
