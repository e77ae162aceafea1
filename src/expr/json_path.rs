//! `JsonPath`: an RFC 9535 JSONPath parsed once. Simple paths (`$.a.b[0]`, `$['x']`) take a
//! fast direct lookup; everything else runs through jsonpath-rust.

use std::fmt;
use std::sync::Arc;

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

use super::ExprError;

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Clone)]
enum Kind {
    Simple(Vec<Seg>),
    Full(Arc<JpQuery>),
}

/// A compiled JSONPath.
#[derive(Clone)]
pub struct JsonPath {
    source: String,
    kind: Kind,
}

impl fmt::Debug for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonPath({:?})", self.source)
    }
}

impl PartialEq for JsonPath {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl JsonPath {
    /// Parses a JSONPath; every path is checked by the full RFC 9535 parser.
    pub fn compile(source: &str) -> Result<JsonPath, ExprError> {
        let parsed = parse_json_path(source).map_err(|e| ExprError::JsonPath {
            source_text: source.to_string(),
            message: describe(&e.to_string()),
        })?;
        let kind = match simple_segments(source) {
            Some(segs) => Kind::Simple(segs),
            None => Kind::Full(Arc::new(parsed)),
        };
        Ok(JsonPath {
            source: source.to_string(),
            kind,
        })
    }

    /// The root path `$`.
    pub fn root() -> JsonPath {
        JsonPath {
            source: "$".to_string(),
            kind: Kind::Simple(Vec::new()),
        }
    }

    /// The path as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The object keys of a simple path made only of names (`$.a.b`), for writing values there.
    pub fn simple_keys(&self) -> Option<Vec<&str>> {
        match &self.kind {
            Kind::Simple(segs) => segs
                .iter()
                .map(|s| match s {
                    Seg::Key(k) => Some(k.as_str()),
                    Seg::Index(_) => None,
                })
                .collect(),
            Kind::Full(_) => None,
        }
    }

    /// Every value the path selects.
    pub fn query<'a>(&self, doc: &'a Value) -> Vec<&'a Value> {
        match &self.kind {
            Kind::Simple(segs) => lookup(doc, segs).into_iter().collect(),
            Kind::Full(q) => js_path_process(q, doc)
                .map(|refs| refs.into_iter().map(|r| r.val()).collect())
                .unwrap_or_default(),
        }
    }

    /// The first value the path selects.
    pub fn first<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        match &self.kind {
            Kind::Simple(segs) => lookup(doc, segs),
            Kind::Full(_) => self.query(doc).into_iter().next(),
        }
    }

    /// The first value as text: strings as they are, numbers and booleans in JSON form;
    /// `None` for null, objects and arrays.
    pub fn first_text(&self, doc: &Value) -> Option<String> {
        match self.first(doc)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// Condenses pest's multi-line report to `at character N: expected …`.
fn describe(report: &str) -> String {
    let position = report
        .split("-->")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.split(':').nth(1));
    let expected = report
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("= "))
        .unwrap_or("unexpected input");
    match position {
        Some(col) => format!("at character {col}: {expected}"),
        None => expected.to_string(),
    }
}

fn lookup<'a>(mut doc: &'a Value, segs: &[Seg]) -> Option<&'a Value> {
    for s in segs {
        doc = match s {
            Seg::Key(k) => doc.as_object()?.get(k)?,
            Seg::Index(i) => doc.as_array()?.get(*i)?,
        };
    }
    Some(doc)
}

/// Parses `$`, `.name`, `['name']`, `["name"]` and `[N]` segments; `None` for anything else.
fn simple_segments(src: &str) -> Option<Vec<Seg>> {
    let mut rest = src.strip_prefix('$')?;
    let mut segs = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            if name.is_empty()
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || name.starts_with(|c: char| c.is_ascii_digit())
            {
                return None;
            }
            segs.push(Seg::Key(name.to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            if let Some(q) = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
            {
                if q.contains(['\\', '\'', '"']) {
                    return None;
                }
                segs.push(Seg::Key(q.to_string()));
            } else if !inner.is_empty() && inner.chars().all(|c| c.is_ascii_digit()) {
                segs.push(Seg::Index(inner.parse().ok()?));
            } else {
                return None;
            }
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(segs)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn simple_and_full_paths_agree() {
        let doc = json!({"paging": {"next": {"after": "abc"}}, "results": [{"id": "1"}, {"id": "2"}], "a b": 1});
        for (p, want) in [
            ("$.paging.next.after", Some(json!("abc"))),
            ("$.results[1].id", Some(json!("2"))),
            ("$['a b']", Some(json!(1))),
            ("$.missing", None),
            ("$", Some(doc.clone())),
        ] {
            let jp = JsonPath::compile(p).unwrap();
            assert!(matches!(jp.kind, Kind::Simple(_)), "{p} should be simple");
            assert_eq!(jp.first(&doc).cloned(), want, "{p}");
            let full = js_path_process(&parse_json_path(p).unwrap(), &doc).unwrap();
            assert_eq!(
                full.into_iter().next().map(|r| r.val().clone()),
                jp.first(&doc).cloned(),
                "{p} vs full"
            );
        }
        let all = JsonPath::compile("$.results[*].id").unwrap();
        assert_eq!(all.query(&doc), vec![&json!("1"), &json!("2")]);
    }

    #[test]
    fn bad_paths_are_errors() {
        assert!(JsonPath::compile("results").is_err());
        assert!(JsonPath::compile("$.[").is_err());
    }

    #[test]
    fn numbers_read_as_text() {
        let jp = JsonPath::compile("$.objectId").unwrap();
        assert_eq!(
            jp.first_text(&json!({"objectId": 123})),
            Some("123".to_string())
        );
    }
}
