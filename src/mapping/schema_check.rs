//! Validation stage 1: checks an untyped document against the committed JSON Schema and turns
//! every error into a `Diagnostic` a person can act on ("unknown key `sytem` (did you mean
//! `system`?)"), with the JSON pointer of the offending key or value. No locations here: the
//! loader adds them from its pointer index.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError, Validator};
use serde_json::Value;

use super::load::CODE_SCHEMA;
use super::schema::COMMITTED;
use super::{Diagnostic, pointer_segment};

/// How deep `oneOf`/`anyOf` explanations recurse, so a pathological schema cannot loop.
const MAX_DEPTH: usize = 16;

struct Checker {
    schema: Value,
    validator: Validator,
}

fn checker() -> Result<&'static Checker, String> {
    static CHECKER: OnceLock<Result<Checker, String>> = OnceLock::new();
    CHECKER
        .get_or_init(|| {
            let schema: Value = serde_json::from_str(COMMITTED)
                .map_err(|e| format!("the embedded schema is not JSON: {e}"))?;
            let validator = jsonschema::validator_for(&schema)
                .map_err(|e| format!("the embedded schema does not compile: {e}"))?;
            Ok(Checker { schema, validator })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Every way `value` breaks the mapping schema.
pub fn check(value: &Value) -> Vec<Diagnostic> {
    let checker = match checker() {
        Ok(c) => c,
        Err(message) => {
            return vec![
                Diagnostic::error("internal", "", message)
                    .with_hint("this is a bug in mapsync; please report it"),
            ];
        }
    };
    let mut out = Vec::new();
    for error in checker.validator.iter_errors(value) {
        explain(&checker.schema, &error, 0, &mut out);
    }
    out
}

/// Appends the diagnostics for one validator error.
fn explain(schema: &Value, e: &ValidationError<'_>, depth: usize, out: &mut Vec<Diagnostic>) {
    let at = e.instance_path().as_str().to_string();
    let instance: &Value = e.instance();
    let keyword_parent = schema_node(schema, parent_path(e.schema_path().as_str()));
    let error = |pointer: String, message: String| Diagnostic::error(CODE_SCHEMA, pointer, message);
    match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let known = property_names(schema, keyword_parent);
            for key in unexpected {
                let mut message = format!("unknown key `{key}`");
                let mut d = error(format!("{at}/{}", pointer_segment(key)), String::new());
                match closest(key, &known) {
                    Some(best) => message.push_str(&format!(" (did you mean `{best}`?)")),
                    None if !known.is_empty() => {
                        d = d.with_hint(format!("allowed here: {}", list(&known)));
                    }
                    None => {}
                }
                d.message = message;
                out.push(d);
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or("?");
            let mut d = error(at, format!("missing required key `{name}`"));
            let described = keyword_parent
                .and_then(|p| p.get("properties"))
                .and_then(|p| p.get(name))
                .and_then(|p| description(schema, p));
            if let Some(text) = described {
                d = d.with_hint(format!("add `{name}`: {text}"));
            }
            out.push(d);
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => type_phrase(*t).to_string(),
                TypeKind::Multiple(set) => {
                    let names: Vec<&str> = set.iter().map(type_phrase).collect();
                    names.join(" or ")
                }
            };
            out.push(error(
                at,
                format!("expected {expected}, not {}", value_phrase(instance)),
            ));
        }
        ValidationErrorKind::Enum { options } => {
            let options = options.as_array().map(Vec::as_slice).unwrap_or_default();
            out.push(error(
                at,
                format!(
                    "expected one of {}, not {}",
                    list_values(options),
                    value_phrase(instance)
                ),
            ));
        }
        ValidationErrorKind::Constant { expected_value } => out.push(error(
            at,
            format!(
                "expected {}, not {}",
                show(expected_value),
                value_phrase(instance)
            ),
        )),
        ValidationErrorKind::Minimum { limit } => out.push(error(
            at,
            format!("must be at least {limit}, not {}", show(instance)),
        )),
        ValidationErrorKind::Maximum { limit } => out.push(error(
            at,
            format!("must be at most {limit}, not {}", show(instance)),
        )),
        ValidationErrorKind::MinItems { limit } => out.push(error(
            at,
            format!("needs at least {limit} item{}", plural(*limit)),
        )),
        ValidationErrorKind::MaxItems { limit } => out.push(error(
            at,
            format!("may have at most {limit} item{}", plural(*limit)),
        )),
        ValidationErrorKind::MinLength { limit } => out.push(error(
            at,
            format!("must be at least {limit} character{} long", plural(*limit)),
        )),
        ValidationErrorKind::Pattern { pattern } => {
            let mut d = error(
                at,
                format!(
                    "{} does not have the expected form (pattern `{pattern}`)",
                    show(instance)
                ),
            );
            if let Some(text) = keyword_parent.and_then(|n| description(schema, n)) {
                d = d.with_hint(text);
            }
            out.push(d);
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            explain_alternatives(schema, e, context, depth, out)
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => out.push(error(
            at,
            "matches more than one of the allowed forms; keep only one".to_string(),
        )),
        ValidationErrorKind::UniqueItems => out.push(error(at, "items must be unique".to_string())),
        _ => out.push(error(at, e.to_string())),
    }
}

/// Explains a failed `oneOf`/`anyOf`: when exactly one alternative has the right shape (for a
/// tagged variant: its one key is present), its own errors are the useful ones; otherwise list
/// what the alternatives want.
fn explain_alternatives(
    schema: &Value,
    e: &ValidationError<'_>,
    context: &[Vec<ValidationError<'static>>],
    depth: usize,
    out: &mut Vec<Diagnostic>,
) {
    let at = e.instance_path().as_str();
    let instance: &Value = e.instance();
    // An alternative is "off-shape" when it fails at this very value on type, const, enum or a
    // missing key: the value was not meant to be that alternative.
    let off_shape = |errors: &Vec<ValidationError<'static>>| {
        errors.iter().any(|x| {
            x.instance_path().as_str() == at
                && matches!(
                    x.kind(),
                    ValidationErrorKind::Type { .. }
                        | ValidationErrorKind::Constant { .. }
                        | ValidationErrorKind::Enum { .. }
                        | ValidationErrorKind::Required { .. }
                        | ValidationErrorKind::OneOfNotValid { .. }
                        | ValidationErrorKind::AnyOf { .. }
                )
        })
    };
    let on_shape: Vec<&Vec<ValidationError<'static>>> =
        context.iter().filter(|errs| !off_shape(errs)).collect();
    if let [only] = on_shape.as_slice()
        && depth < MAX_DEPTH
    {
        for x in only.iter() {
            explain(schema, x, depth + 1, out);
        }
        return;
    }
    // Describe the alternatives from what each one wanted at this value.
    let mut wanted: Vec<String> = Vec::new();
    let mut keys_present: Vec<String> = Vec::new();
    for errors in context {
        for x in errors.iter().filter(|x| x.instance_path().as_str() == at) {
            let w = match x.kind() {
                ValidationErrorKind::Constant { expected_value } => show(expected_value),
                ValidationErrorKind::Enum { options } => {
                    list_values(options.as_array().map(Vec::as_slice).unwrap_or_default())
                }
                ValidationErrorKind::Required { property } => {
                    format!("`{}: …`", property.as_str().unwrap_or("?"))
                }
                ValidationErrorKind::Type { kind } => match kind {
                    TypeKind::Single(t) => type_phrase(*t).to_string(),
                    TypeKind::Multiple(set) => {
                        set.iter().map(type_phrase).collect::<Vec<_>>().join(" or ")
                    }
                },
                ValidationErrorKind::AdditionalProperties { unexpected } => {
                    keys_present.extend(unexpected.iter().cloned());
                    continue;
                }
                _ => continue,
            };
            if !wanted.contains(&w) {
                wanted.push(w);
            }
        }
    }
    let message = if wanted.is_empty() {
        format!(
            "{} matches none of the allowed forms",
            value_phrase(instance)
        )
    } else if instance.is_object() && wanted.iter().all(|w| w.starts_with('`')) {
        // Tagged variants: exactly one of the keys.
        let names: Vec<String> = wanted
            .iter()
            .map(|w| {
                w.trim_start_matches('`')
                    .trim_end_matches(": …`")
                    .to_string()
            })
            .collect();
        let present: Vec<&str> = instance
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut m = format!(
            "expected exactly one of {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        match present.as_slice() {
            [] => m.push_str(", found none"),
            [one] => {
                let known: Vec<&str> = names.iter().map(String::as_str).collect();
                m.push_str(&format!(", not `{one}`"));
                if let Some(best) = closest(one, &known) {
                    m.push_str(&format!(" (did you mean `{best}`?)"));
                }
            }
            many => m.push_str(&format!(
                ", found {}",
                many.iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        m
    } else {
        format!(
            "expected {}, not {}",
            wanted.join(" or "),
            value_phrase(instance)
        )
    };
    let _ = keys_present;
    out.push(Diagnostic::error(CODE_SCHEMA, at, message));
}

/// The schema node at a JSON pointer into the schema document, following `$ref`s met on the
/// way (`#/$defs/…` only; the schema has no remote references).
fn schema_node<'a>(schema: &'a Value, pointer: &str) -> Option<&'a Value> {
    let mut node = schema;
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        if segment == "$ref" {
            node = resolve_ref(schema, node)?;
            continue;
        }
        node = match node {
            Value::Object(m) => m.get(&segment)?,
            Value::Array(a) => a.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

fn resolve_ref<'a>(schema: &'a Value, node: &'a Value) -> Option<&'a Value> {
    let target = node.get("$ref")?.as_str()?.strip_prefix('#')?;
    schema.pointer(target)
}

fn parent_path(pointer: &str) -> &str {
    pointer.rfind('/').map_or("", |i| &pointer[..i])
}

/// The property names a schema object declares (following a `$ref`).
fn property_names<'a>(schema: &'a Value, node: Option<&'a Value>) -> Vec<&'a str> {
    let Some(mut node) = node else {
        return Vec::new();
    };
    if let Some(target) = resolve_ref(schema, node) {
        node = target;
    }
    node.get("properties")
        .and_then(Value::as_object)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// The first sentence of a node's description (following a `$ref`, or a nullable `anyOf`).
fn description(schema: &Value, node: &Value) -> Option<String> {
    let text = node
        .get("description")
        .and_then(Value::as_str)
        .or_else(|| resolve_ref(schema, node)?.get("description")?.as_str())?;
    let text = text.split("\n\n").next().unwrap_or(text).replace('\n', " ");
    Some(text)
}

/// The candidate nearest to `word` by edit distance, if it is near enough to be a typo.
fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), *c))
        .filter(|(d, c)| *d <= (c.chars().count().max(word.chars().count()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn type_phrase(t: JsonType) -> &'static str {
    match t {
        JsonType::Null => "null",
        JsonType::Boolean => "a boolean",
        JsonType::Integer => "a whole number",
        JsonType::Number => "a number",
        JsonType::String => "a string",
        JsonType::Array => "a list",
        JsonType::Object => "a mapping",
    }
}

/// What a value is, for "expected X, not Y".
fn value_phrase(v: &Value) -> String {
    match v {
        Value::Null => "an empty value".to_string(),
        Value::Bool(b) => format!("the boolean `{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the string {}", show(&Value::String(s.clone()))),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    }
}

/// A short rendering of a value for messages.
fn show(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        format!("`{short}…`")
    } else {
        format!("`{short}`")
    }
}

fn list_values(values: &[Value]) -> String {
    values.iter().map(show).collect::<Vec<_>>().join(", ")
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_word() {
        let known = ["system", "title", "id", "list", "webhook"];
        assert_eq!(closest("sytem", &known), Some("system"));
        assert_eq!(closest("webhooks", &known), Some("webhook"));
        assert_eq!(closest("zzzzzz", &known), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
