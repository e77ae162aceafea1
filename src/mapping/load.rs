//! Loading a mapping file: YAML syntax, stage 1 (the JSON Schema), then stage 2 (`compile`),
//! with every diagnostic located at file:line:col. Never panics on any input, and never touches
//! the network.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_saphyr::{MessageFormatter, UserMessageFormatter};

use super::compile::{EnvMode, compile};
use super::env::Env;
use super::pointer_index::PointerIndex;
use super::raw::RawMapping;
use super::schema_check;
use super::{Diagnostic, Location, Mapping, Severity};

/// Diagnostic code: the file is not valid YAML (or breaks a parser limit).
pub const CODE_YAML_SYNTAX: &str = "yaml-syntax";
/// Diagnostic code: the document does not match the JSON Schema.
pub const CODE_SCHEMA: &str = "schema";
/// Diagnostic code: the file could not be read.
pub const CODE_READ: &str = "file-unreadable";

/// The largest mapping file accepted, so a stray huge file cannot exhaust memory.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The outcome of loading one mapping file.
#[derive(Debug)]
pub struct Loaded {
    /// The raw model, when the file passed the YAML and schema checks.
    pub raw: Option<RawMapping>,
    /// The validated model, when there are no errors at all.
    pub mapping: Option<Mapping>,
    /// Every finding, errors and warnings, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// The number of errors.
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    /// The number of warnings.
    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }
}

/// Reads and loads the mapping file at `path`; `path` is shown in diagnostics as given.
pub fn load_file(path: &Path, env: &Env, mode: EnvMode) -> Loaded {
    let name = path.display().to_string();
    match read(path) {
        Ok(src) => load_str(&src, &name, env, mode),
        Err(message) => Loaded {
            raw: None,
            mapping: None,
            diagnostics: vec![Diagnostic {
                location: Some(Location {
                    file: name,
                    line: 1,
                    column: 1,
                }),
                ..Diagnostic::error(CODE_READ, "", message)
                    .with_hint("check the path, and that the file is readable UTF-8 text")
            }],
        },
    }
}

fn read(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read the file: {e}"))?;
    if meta.is_dir() {
        return Err("this is a directory, not a mapping file".to_string());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "the file is {} bytes; mapping files may be at most {MAX_FILE_BYTES}",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "the file is not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Loads a mapping from its text; `file` names it in diagnostics.
pub fn load_str(src: &str, file: &str, env: &Env, mode: EnvMode) -> Loaded {
    let index = PointerIndex::build(src);
    let mut loaded = stages(src, env, mode);
    for d in &mut loaded.diagnostics {
        if d.location.is_none() {
            // Property names point at their key; everything else at its value.
            let pos = if d.code == CODE_SCHEMA {
                index.key(&d.pointer)
            } else {
                index.value(&d.pointer)
            };
            // An empty document indexes nothing: point at its start.
            let (line, column) = pos.map_or((1, 1), |p| (p.line, p.column));
            d.location = Some(Location {
                file: file.to_string(),
                line,
                column,
            });
        } else if let Some(l) = &mut d.location {
            l.file = file.to_string();
        }
    }
    loaded.diagnostics.sort_by(|a, b| {
        let pos = |d: &Diagnostic| d.location.as_ref().map(|l| (l.line, l.column));
        pos(a)
            .cmp(&pos(b))
            .then_with(|| a.pointer.cmp(&b.pointer))
            .then_with(|| a.message.cmp(&b.message))
    });
    loaded.diagnostics.dedup();
    loaded
}

fn stages(src: &str, env: &Env, mode: EnvMode) -> Loaded {
    let failed = |diagnostics| Loaded {
        raw: None,
        mapping: None,
        diagnostics,
    };
    // YAML syntax, into an untyped value.
    let value: serde_json::Value = match parse(src) {
        Ok(v) => v,
        Err(d) => return failed(vec![*d]),
    };
    // Stage 1: the schema, every error at once.
    let diagnostics = schema_check::check(&value);
    if !diagnostics.is_empty() {
        return failed(diagnostics);
    }
    // The typed model. The schema should have caught anything that fails here.
    let raw: RawMapping = match parse(src) {
        Ok(r) => r,
        Err(mut d) => {
            d.code = CODE_SCHEMA;
            d.hint = Some("check this value against the schema's description of it".to_string());
            return failed(vec![*d]);
        }
    };
    // Stage 2: meaning.
    let compiled = compile(&raw, env, mode);
    Loaded {
        raw: Some(raw),
        mapping: compiled.mapping,
        diagnostics: compiled.diagnostics,
    }
}

/// Parses YAML strictly: YAML 1.2 booleans only, unknown tags rejected, and budgets on size,
/// depth and alias expansion so a small file cannot explode.
fn parse<T: DeserializeOwned>(src: &str) -> Result<T, Box<Diagnostic>> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        reject_unsupported_tags: true,
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_reader_input_bytes: Some(MAX_FILE_BYTES as usize),
            max_events: 200_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_depth: 64,
            max_nodes: 100_000,
            max_total_scalar_bytes: MAX_FILE_BYTES as usize,
        },
    };
    serde_saphyr::from_str_with_options(src, options).map_err(|e| yaml_error(&e))
}

fn yaml_error(e: &serde_saphyr::Error) -> Box<Diagnostic> {
    let inner = e.without_snippet();
    let message: String = UserMessageFormatter
        .format_message(inner)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let hint = if message.contains("duplicate") {
        "each key may appear once in a mapping; remove or rename the repeated one"
    } else if message.contains("limits breached") || message.contains("budget") {
        "mapping files are small: this one is too large, too deep, or expands too many aliases"
    } else if message.contains("unsupported tag") {
        "remove the tag: mapping files use plain YAML"
    } else if message.contains("multiple") {
        "a mapping file holds one YAML document; remove the extra `---`"
    } else {
        "fix the YAML at this position; text containing `: `, ` #`, `{` or `[` needs quotes"
    };
    let mut d = Diagnostic::error(CODE_YAML_SYNTAX, "", message).with_hint(hint);
    if let Some(l) = e.location().filter(|l| l.line() > 0) {
        d.location = Some(Location {
            file: String::new(),
            line: usize::try_from(l.line()).unwrap_or(usize::MAX),
            column: usize::try_from(l.column()).unwrap_or(usize::MAX).max(1),
        });
    }
    Box::new(d)
}

/// The 1-based line where the value at each JSON pointer starts in `src` (`None` where there is
/// no such value), for commands that cite places in a mapping file.
pub fn lines_of(src: &str, pointers: &[String]) -> Vec<Option<usize>> {
    let index = PointerIndex::build(src);
    pointers
        .iter()
        .map(|p| index.value(p).map(|pos| pos.line))
        .collect()
}
