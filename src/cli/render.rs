//! Rendering diagnostics for people (`file:line:col: error[code]: message`, an indented hint,
//! a summary line; colour only on a terminal) and for tools (`--format json`).

use std::fmt::Write as _;

use crate::mapping::{Diagnostic, Severity};

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Whether to emit ANSI escapes.
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// One diagnostic in the human format; `file` is used when it has no location.
pub fn human(d: &Diagnostic, file: &str, style: Style) -> String {
    let mut out = String::new();
    let place = match &d.location {
        Some(l) => format!("{}:{}:{}", l.file, l.line, l.column),
        None => file.to_string(),
    };
    let (word, colour) = match d.severity {
        Severity::Error => ("error", "1;31"),
        Severity::Warning => ("warning", "1;33"),
    };
    let _ = writeln!(
        out,
        "{}: {}: {}",
        style.paint("1", &place),
        style.paint(colour, &format!("{word}[{}]", d.code)),
        d.message
    );
    if !d.pointer.is_empty() {
        let _ = writeln!(out, "  {} {}", style.paint("2", "at:"), d.pointer);
    }
    if let Some(h) = &d.hint {
        let _ = writeln!(out, "  {} {h}", style.paint("36", "hint:"));
    }
    out
}

/// The closing line: `2 errors, 1 warning in 3 files`.
pub fn summary(errors: usize, warnings: usize, files: usize) -> String {
    let n = |k: usize, word: &str| format!("{k} {word}{}", if k == 1 { "" } else { "s" });
    format!(
        "{}, {} in {}\n",
        n(errors, "error"),
        n(warnings, "warning"),
        n(files, "file")
    )
}

/// Every diagnostic as one JSON array, with a trailing newline.
pub fn json(diagnostics: &[Diagnostic]) -> String {
    let mut text = serde_json::to_string_pretty(diagnostics).unwrap_or_else(|_| "[]".into());
    text.push('\n');
    text
}
