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
    merge_misspelt_required(out)
}

/// A misspelt required key shows as both "unknown key `sytem` (did you mean `system`?)" and
/// "missing required key `system`" on the same mapping: keep only the first.
fn merge_misspelt_required(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let misspelt: Vec<String> = diagnostics
        .iter()
        .filter_map(|d| {
            let suggested = d
                .message
                .split("(did you mean `")
                .nth(1)?
                .split('`')
                .next()?;
            let parent = &d.pointer[..d.pointer.rfind('/')?];
            Some(format!("{parent}\u{0}{suggested}"))
        })
        .collect();
    diagnostics
        .into_iter()
        .filter(|d| {
            let Some(name) = d
                .message
                .strip_prefix("missing required key `")
                .and_then(|m| m.strip_suffix('`'))
            else {
                return true;
            };
            !misspelt.contains(&format!("{}\u{0}{name}", d.pointer))
        })
        .collect()
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
                    // `Option<T>` allows null, but null is never what the user meant.
                    let names: Vec<&str> = set
                        .iter()
                        .filter(|t| *t != JsonType::Null || set.len() == 1)
                        .map(type_phrase)
                        .collect();
                    names.join(" or ")
                }
            };
            let mut d = error(
                at,
                format!("expected {expected}, not {}", value_phrase(instance)),
            );
            if let Some(s) = instance.as_str()
                && expected.contains("boolean")
                && ["yes", "no", "on", "off", "y", "n"].contains(&s.to_lowercase().as_str())
            {
                d = d
                    .with_hint("write `true` or `false`; YAML 1.1 spellings are not booleans here");
            } else if let Some(text) = keyword_parent.and_then(|n| description(schema, n)) {
                d = d.with_hint(text);
            }
            out.push(d);
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
/// tagged variant: its one key is present), its own errors are the useful ones; otherwise say
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
    // `Option<T>` becomes `anyOf: [T, null]`: a non-null value was meant to be a `T`.
    let candidates: Vec<&Vec<ValidationError<'static>>> = context
        .iter()
        .filter(|errs| !(errs.len() == 1 && errs.iter().all(|x| wants_null(x, at))))
        .collect();
    // An alternative is "off-shape" when it fails at this very value on type, const, enum or a
    // missing key: the value was not meant to be that alternative.
    let off_shape = |errors: &&Vec<ValidationError<'static>>| {
        errors.iter().any(|x| {
            x.instance_path().as_str() == at
                && matches!(
                    x.kind(),
                    ValidationErrorKind::Type { .. }
                        | ValidationErrorKind::Constant { .. }
                        | ValidationErrorKind::Enum { .. }
                        | ValidationErrorKind::Required { .. }
                )
        })
    };
    let chosen = match candidates.as_slice() {
        [only] => Some(*only),
        _ => match candidates
            .iter()
            .filter(|c| !off_shape(c))
            .collect::<Vec<_>>()
            .as_slice()
        {
            [only] => Some(**only),
            _ => None,
        },
    };
    if let Some(errors) = chosen
        && depth < MAX_DEPTH
    {
        for x in errors {
            explain(schema, x, depth + 1, out);
        }
        return;
    }
    let mut wanted = Wanted::default();
    wanted.collect(at, context, 0);
    out.push(Diagnostic::error(CODE_SCHEMA, at, wanted.message(instance)));
}

fn wants_null(x: &ValidationError<'_>, at: &str) -> bool {
    x.instance_path().as_str() == at
        && matches!(
            x.kind(),
            ValidationErrorKind::Type {
                kind: TypeKind::Single(JsonType::Null)
            }
        )
}

/// What the alternatives of a failed `oneOf`/`anyOf` accept at one value.
#[derive(Default)]
struct Wanted {
    /// Constant values (unit variants).
    consts: Vec<Value>,
    /// Keys of tagged variants.
    keys: Vec<String>,
    /// JSON types.
    types: Vec<&'static str>,
}

impl Wanted {
    fn collect(&mut self, at: &str, context: &[Vec<ValidationError<'static>>], depth: usize) {
        for x in context
            .iter()
            .flatten()
            .filter(|x| x.instance_path().as_str() == at)
        {
            match x.kind() {
                ValidationErrorKind::Constant { expected_value } => {
                    push_new(&mut self.consts, (**expected_value).clone())
                }
                ValidationErrorKind::Enum { options } => {
                    for o in options.as_array().into_iter().flatten() {
                        push_new(&mut self.consts, o.clone());
                    }
                }
                ValidationErrorKind::Required { property } => {
                    push_new(&mut self.keys, property.as_str().unwrap_or("?").to_string())
                }
                ValidationErrorKind::Type { kind } => match kind {
                    TypeKind::Single(JsonType::Null) => {}
                    TypeKind::Single(t) => push_new(&mut self.types, type_phrase(*t)),
                    TypeKind::Multiple(set) => {
                        for t in set.iter().filter(|t| *t != JsonType::Null) {
                            push_new(&mut self.types, type_phrase(t));
                        }
                    }
                },
                ValidationErrorKind::OneOfNotValid { context }
                | ValidationErrorKind::AnyOf { context }
                    if depth < MAX_DEPTH =>
                {
                    self.collect(at, context, depth + 1)
                }
                _ => {}
            }
        }
    }

    fn message(&self, instance: &Value) -> String {
        if let (Some(map), false) = (instance.as_object(), self.keys.is_empty()) {
            let names: Vec<&str> = self.keys.iter().map(String::as_str).collect();
            let mut m = format!("expected exactly one of {}", list(&names));
            let present: Vec<&str> = map.keys().map(String::as_str).collect();
            match present.as_slice() {
                [] => m.push_str(", found none"),
                [one] => {
                    m.push_str(&format!(", not `{one}`"));
                    if let Some(best) = closest(one, &names) {
                        m.push_str(&format!(" (did you mean `{best}`?)"));
                    }
                }
                many => m.push_str(&format!(", found {}", list(many))),
            }
            return m;
        }
        if self.types.is_empty() && !self.consts.is_empty() {
            let mut m = format!(
                "expected one of {}, not {}",
                list_values(&self.consts),
                value_phrase(instance)
            );
            let names: Vec<&str> = self.consts.iter().filter_map(Value::as_str).collect();
            if let Some(best) = instance.as_str().and_then(|s| closest(s, &names)) {
                m.push_str(&format!(" (did you mean `{best}`?)"));
            }
            return m;
        }
        let mut forms: Vec<String> = self.types.iter().map(|t| t.to_string()).collect();
        forms.extend(self.consts.iter().map(show));
        if !self.keys.is_empty() {
            forms.push("a mapping".to_string());
        }
        if forms.is_empty() {
            format!(
                "{} matches none of the allowed forms",
                value_phrase(instance)
            )
        } else {
            format!(
                "expected {}, not {}",
                forms.join(" or "),
                value_phrase(instance)
            )
        }
    }
}

fn push_new<T: PartialEq>(v: &mut Vec<T>, item: T) {
    if !v.contains(&item) {
        v.push(item);
    }
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
    // The first sentence is enough for a hint.
    let end = text.match_indices(". ").map(|(i, _)| i).find(|&i| {
        let before = &text[..i];
        let next_upper = text[i + 2..].starts_with(|c: char| c.is_uppercase());
        next_upper && !before.ends_with("e.g") && !before.ends_with("i.e")
    });
    let text = match end {
        Some(i) => text[..=i].to_string(),
        None => text,
    };
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
