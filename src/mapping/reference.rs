//! The mapping reference (`docs/mapping-reference.md`, `mapsync schema --markdown`), generated
//! from the JSON Schema, whose descriptions are the raw types' doc comments: every section and
//! key with its type, whether it is required, and what it means. Generated, so it cannot drift;
//! a test compares the committed copy with this text.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::schema::schema_json;

/// The committed reference, for the drift test.
pub const COMMITTED: &str = include_str!("../../docs/mapping-reference.md");

/// The command that rewrites the committed reference.
pub const REGENERATE: &str = "cargo run -- schema --markdown > docs/mapping-reference.md";

/// The mapping reference as Markdown, with a trailing newline.
pub fn markdown() -> String {
    let schema: Value = serde_json::from_str(&schema_json()).unwrap_or(Value::Null);
    let empty = Map::new();
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut w = Writer {
        seen: BTreeSet::new(),
        queue: Vec::new(),
        out: String::new(),
    };
    w.out.push_str(
        "# Mapping file reference\n\n\
         <!-- Generated from the raw types' doc comments by `mapsync schema --markdown`; do not \
         edit. Regenerate: `cargo run -- schema --markdown > docs/mapping-reference.md`. -->\n\n\
         Every key a mapping file may hold, section by section, with its type and meaning. The same \
         text is in the JSON Schema (`schemas/mapping.schema.json`) that editors show on hover. \
         `docs/reference-mapping.md` walks through the reference mapping. Keys marked **yes** are \
         required; unknown keys are errors. Strings may use `${VAR}`, `${VAR:-default}` and \
         `${VAR:?message}` where a secret or a URL is expected.\n\n",
    );
    w.section("The file", "(top level)", &schema);
    while !w.queue.is_empty() {
        let (name, path) = w.queue.remove(0);
        if let Some(def) = defs.get(&name) {
            w.section(&title_of(&name), &path, def);
        }
    }
    w.out.truncate(w.out.trim_end().len());
    w.out.push('\n');
    w.out
}

struct Writer {
    seen: BTreeSet<String>,
    /// Definitions to describe, with the YAML path where they were first met.
    queue: Vec<(String, String)>,
    out: String,
}

impl Writer {
    fn section(&mut self, title: &str, path: &str, def: &Value) {
        let _ = writeln!(self.out, "## {title}\n");
        if path.starts_with('(') {
            self.out.push_str("The top level of a mapping file.\n\n");
        } else {
            let _ = writeln!(self.out, "At `{path}`.\n");
        }
        if let Some(d) = def.get("description").and_then(Value::as_str) {
            let _ = writeln!(self.out, "{}\n", paragraph(d));
        }
        if let Some(props) = def.get("properties").and_then(Value::as_object) {
            let required: BTreeSet<&str> = def
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            self.out
                .push_str("| key | type | required | description |\n|---|---|---|---|\n");
            for (key, p) in props {
                let child = join(path, key);
                let ty = self.type_of(p, &child);
                let req = if required.contains(key.as_str()) {
                    "yes"
                } else {
                    ""
                };
                let desc = p.get("description").and_then(Value::as_str).unwrap_or("");
                let _ = writeln!(
                    self.out,
                    "| `{key}` | {ty} | {req} | {} |",
                    cell(&paragraph(desc))
                );
            }
            self.out.push('\n');
        } else if let Some(alts) = def.get("oneOf").and_then(Value::as_array) {
            self.out.push_str("One of:\n\n");
            for alt in alts {
                let desc = alt.get("description").and_then(Value::as_str).unwrap_or("");
                let head = if let Some(c) = alt.get("const") {
                    format!("`{}`", yaml_scalar(c))
                } else if let Some(props) = alt.get("properties").and_then(Value::as_object) {
                    let parts: Vec<String> = props
                        .iter()
                        .map(|(k, p)| {
                            let ty = self.type_of(p, &join(path, k));
                            format!("`{k}:` {ty}")
                        })
                        .collect();
                    parts.join(", ")
                } else {
                    self.type_of(alt, path)
                };
                let _ = writeln!(self.out, "- {head} — {}", paragraph(desc));
            }
            self.out.push('\n');
        } else {
            let ty = self.type_of(&strip_description(def), path);
            let _ = writeln!(self.out, "Type: {ty}.\n");
            if let Some(ex) = def.get("examples").and_then(Value::as_array) {
                let ex: Vec<String> = ex.iter().map(|e| format!("`{}`", yaml_scalar(e))).collect();
                let _ = writeln!(self.out, "Examples: {}.\n", ex.join(", "));
            }
        }
    }

    /// A property's type as Markdown, queueing the definitions it refers to.
    fn type_of(&mut self, p: &Value, path: &str) -> String {
        if let Some(r) = p.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/$defs/").to_string();
            return self.link(&name, path);
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(alts) = p.get(key).and_then(Value::as_array) {
                let parts: Vec<String> = alts
                    .iter()
                    .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                    .map(|a| self.type_of(a, path))
                    .collect();
                return parts.join(" or ");
            }
        }
        if let Some(c) = p.get("const") {
            return format!("`{}`", yaml_scalar(c));
        }
        if let Some(e) = p.get("enum").and_then(Value::as_array) {
            let v: Vec<String> = e.iter().map(|c| format!("`{}`", yaml_scalar(c))).collect();
            return format!("one of {}", v.join(", "));
        }
        let types: Vec<&str> = match p.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect(),
            _ => return "any YAML value".to_string(),
        };
        let parts: Vec<String> = types
            .iter()
            .map(|t| match *t {
                "array" => match p.get("items") {
                    Some(items) => format!("list of {}", self.type_of(items, &format!("{path}[]"))),
                    None => "list".to_string(),
                },
                "object" => match p.get("additionalProperties") {
                    Some(v @ Value::Object(_)) => {
                        let inner = self.type_of(v, &join(path, "<name>"));
                        format!("map of name → {inner}")
                    }
                    _ => "map".to_string(),
                },
                "integer" => {
                    let mut s = "integer".to_string();
                    if let (Some(lo), Some(hi)) = (p.get("minimum"), p.get("maximum")) {
                        s = if lo == hi {
                            format!("`{lo}`")
                        } else {
                            format!("integer {lo}–{hi}")
                        };
                    } else if let Some(lo) = p.get("minimum") {
                        s = format!("integer ≥ {lo}");
                    }
                    s
                }
                other => other.to_string(),
            })
            .collect();
        parts.join(" or ")
    }

    fn link(&mut self, name: &str, path: &str) -> String {
        if self.seen.insert(name.to_string()) {
            self.queue.push((name.to_string(), path.to_string()));
        }
        let title = title_of(name);
        format!("[{title}](#{})", anchor(&title))
    }
}

fn strip_description(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("description");
        o.remove("examples");
    }
    v
}

/// `RawFieldGroup` → `FieldGroup`.
fn title_of(def: &str) -> String {
    def.strip_prefix("Raw").unwrap_or(def).to_string()
}

/// GitHub's heading anchor for a one-word title.
fn anchor(title: &str) -> String {
    title.to_lowercase()
}

fn join(path: &str, key: &str) -> String {
    if path.starts_with('(') {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Doc-comment text as one paragraph.
fn paragraph(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_reference_matches_the_types() {
        assert!(
            markdown() == COMMITTED,
            "docs/mapping-reference.md is stale; regenerate it with `{REGENERATE}`"
        );
    }

    #[test]
    fn every_definition_is_described() {
        let text = markdown();
        let schema: Value = serde_json::from_str(&schema_json()).unwrap();
        for name in schema["$defs"].as_object().unwrap().keys() {
            assert!(
                text.contains(&format!("## {}\n", title_of(name))),
                "{name} has no section"
            );
        }
    }
}
