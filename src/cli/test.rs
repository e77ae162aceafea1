//! `mapsync test`: runs the test cases declared in a mapping (`tests:`) offline through the
//! engine and reports them like a test runner: one line per case, a per-field diff for each
//! failure, and a last line `N passed, N failed`; or, with `--json`, one JSON document.

use std::fmt::Write as _;
use std::io::IsTerminal;

use serde_json::{Value, json};

use super::{Exit, TestArgs, print};
use crate::cases::{self, CaseResult};
use crate::mapping::env::Env;
use crate::mapping::{EnvMode, Severity, lines_of, load_file};

/// One case as it ran: its direction, where it is declared, and what it found.
struct Outcome {
    direction: String,
    line: Option<usize>,
    result: CaseResult,
}

/// Runs `mapsync test`.
pub fn run(args: &TestArgs) -> Exit {
    let path = args.file.as_ref().unwrap_or(&args.mapping.mapping);
    let name = path.display().to_string();
    let loaded = load_file(path, &Env::process(), EnvMode::Lenient);
    let (Some(raw), Some(mapping)) = (&loaded.raw, &loaded.mapping) else {
        let errors: Vec<_> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        if args.json {
            print(&document(&name, &[], json!(errors)));
            return Exit::Invalid;
        }
        let style = super::render::Style {
            color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        };
        let mut text = String::new();
        for d in errors {
            text.push_str(&super::render::human(d, &name, style));
        }
        text.push_str(&format!(
            "{name}: the mapping is invalid, so its tests cannot run; `mapsync validate {name}` explains every problem\n"
        ));
        eprint!("{text}");
        return Exit::Invalid;
    };
    let selected: Vec<(usize, &crate::mapping::raw::RawTestCase)> = raw
        .tests
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            args.filter
                .as_ref()
                .is_none_or(|f| c.name.contains(f.as_str()))
        })
        .collect();
    let src = std::fs::read_to_string(path).unwrap_or_default();
    let pointers: Vec<String> = selected
        .iter()
        .map(|(i, _)| format!("/tests/{i}"))
        .collect();
    let lines = lines_of(&src, &pointers);
    let outcomes: Vec<Outcome> = selected
        .iter()
        .zip(lines)
        .map(|((_, case), line)| Outcome {
            direction: case.direction.as_str().to_string(),
            line,
            result: cases::run_case(mapping, case),
        })
        .collect();
    if args.json {
        print(&document(&name, &outcomes, json!([])));
    } else {
        print(&human(&name, raw.tests.is_empty(), &outcomes));
    }
    if outcomes.iter().all(|o| o.result.passed()) {
        Exit::Ok
    } else {
        Exit::TestsFailed
    }
}

/// The `--json` document: the file, the counts, every case run (a failed one with its
/// differences and its plan), and the mapping's errors when it is invalid (no case ran then).
fn document(name: &str, outcomes: &[Outcome], diagnostics: Value) -> String {
    let passed = outcomes.iter().filter(|o| o.result.passed()).count();
    let cases: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            let r = &o.result;
            let mut case = json!({
                "name": r.name,
                "direction": o.direction,
                "line": o.line,
                "passed": r.passed(),
            });
            if !r.passed() {
                case["mismatches"] = r
                    .mismatches
                    .iter()
                    .map(|m| json!({"what": m.what, "expected": m.expected, "found": m.found}))
                    .collect();
                case["plan"] = json!(r.plan);
            }
            case
        })
        .collect();
    let doc = json!({
        "file": name,
        "passed": passed,
        "failed": outcomes.len() - passed,
        "cases": cases,
        "diagnostics": diagnostics,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

/// The human report: a line per case, the failures with their diffs, and `N passed, N failed`.
fn human(name: &str, no_tests: bool, outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    if no_tests {
        let _ = writeln!(
            out,
            "{name} declares no test cases: add a `tests:` section (see docs/mapping-reference.md)"
        );
    } else {
        let _ = writeln!(out, "running {} tests from {name}", outcomes.len());
    }
    for o in outcomes {
        let title = format!("{}: {}", o.direction, o.result.name);
        let verdict = if o.result.passed() { "ok" } else { "FAILED" };
        let _ = writeln!(out, "test {title} ... {verdict}");
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.result.passed()).collect();
    if !failed.is_empty() {
        out.push_str("\nfailures:\n");
        for o in &failed {
            let r = &o.result;
            let place = match o.line {
                Some(l) => format!("{name}:{l}"),
                None => name.to_string(),
            };
            let _ = writeln!(out, "\n---- {}: {} ({place}) ----", o.direction, r.name);
            let width = r.mismatches.iter().map(|m| m.what.len()).max().unwrap_or(0);
            for m in &r.mismatches {
                let _ = writeln!(out, "  {:width$}  expected: {}", m.what, m.expected);
                let _ = writeln!(out, "  {:width$}     found: {}", "", m.found);
            }
            if !r.plan.is_empty() {
                let _ = writeln!(out, "  the plan: {}", r.plan);
            }
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} passed, {} failed",
        outcomes.len() - failed.len(),
        failed.len()
    );
    out
}
