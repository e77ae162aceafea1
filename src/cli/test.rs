//! `mapsync test`: runs the test cases declared in a mapping (`tests:`) offline through the
//! engine and reports them like a test runner: one line per case, a per-field diff for each
//! failure, and a last line `N passed, N failed`.

use std::fmt::Write as _;
use std::io::IsTerminal;

use super::{Exit, TestArgs, print};
use crate::cases::{self, CaseResult};
use crate::mapping::env::Env;
use crate::mapping::{EnvMode, Severity, lines_of, load_file};

/// Runs `mapsync test`.
pub fn run(args: &TestArgs) -> Exit {
    let path = args.file.as_ref().unwrap_or(&args.mapping.mapping);
    let name = path.display().to_string();
    let loaded = load_file(path, &Env::process(), EnvMode::Lenient);
    let (Some(raw), Some(mapping)) = (&loaded.raw, &loaded.mapping) else {
        let style = super::render::Style {
            color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        };
        let mut text = String::new();
        for d in loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
        {
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
    let mut out = String::new();
    if raw.tests.is_empty() {
        let _ = writeln!(
            out,
            "{name} declares no test cases: add a `tests:` section (see docs/mapping-reference.md)"
        );
    } else {
        let _ = writeln!(out, "running {} tests from {name}", selected.len());
    }
    let mut failed: Vec<(CaseResult, Option<usize>, &str)> = Vec::new();
    let mut passed = 0;
    for ((_, case), line) in selected.iter().zip(lines) {
        let result = cases::run_case(mapping, case);
        let title = format!("{}: {}", case.direction, case.name);
        if result.passed() {
            passed += 1;
            let _ = writeln!(out, "test {title} ... ok");
        } else {
            let _ = writeln!(out, "test {title} ... FAILED");
            failed.push((result, line, case.direction.as_str()));
        }
    }
    if !failed.is_empty() {
        out.push_str("\nfailures:\n");
        for (r, line, direction) in &failed {
            let place = match line {
                Some(l) => format!("{name}:{l}"),
                None => name.clone(),
            };
            let _ = writeln!(out, "\n---- {direction}: {} ({place}) ----", r.name);
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
    let _ = writeln!(out, "{passed} passed, {} failed", failed.len());
    print(&out);
    if failed.is_empty() {
        Exit::Ok
    } else {
        Exit::TestsFailed
    }
}
