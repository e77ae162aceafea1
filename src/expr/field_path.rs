//! `FieldPath`: a field inside a record's fields object, written `a.b` or
//! `custom_fields."External ID"`; read, written and compared by the engine.

use std::fmt;

use serde_json::{Map, Value};

use super::ExprError;

/// A path of object keys, with its text (as written in a mapping) kept beside it: the engine
/// keys shadows by that text for every record, so it is made once, not per use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath {
    segs: Vec<String>,
    text: String,
}

impl FieldPath {
    /// Parses `a.b` or `a."b c"`.
    pub fn parse(src: &str) -> Result<FieldPath, ExprError> {
        let err = |m: &str| ExprError::FieldPath {
            source_text: src.to_string(),
            message: m.to_string(),
        };
        let mut segs = Vec::new();
        let mut chars = src.chars().peekable();
        loop {
            let mut seg = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => seg.push(c),
                        None => return Err(err("a quoted name is never closed")),
                    }
                }
                if seg.is_empty() {
                    return Err(err("a quoted name is empty"));
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == '.' {
                        break;
                    }
                    if c == '"' || c.is_whitespace() {
                        return Err(err(
                            "names with spaces or quotes must be written in double quotes, e.g. a.\"b c\"",
                        ));
                    }
                    seg.push(c);
                    chars.next();
                }
                if seg.is_empty() {
                    return Err(err("a name is empty"));
                }
            }
            segs.push(seg);
            match chars.next() {
                None => break,
                Some('.') => continue,
                Some(_) => return Err(err("expected `.` after a quoted name")),
            }
        }
        Ok(FieldPath::from_segments(segs))
    }

    fn from_segments(segs: Vec<String>) -> FieldPath {
        let mut text = String::new();
        for (i, s) in segs.iter().enumerate() {
            if i > 0 {
                text.push('.');
            }
            if s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                text.push_str(s);
            } else {
                text.push('"');
                text.push_str(s);
                text.push('"');
            }
        }
        FieldPath { segs, text }
    }

    /// The path as written in a mapping (`a.b`, `custom_fields."External ID"`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A one-segment path.
    pub fn single(name: &str) -> FieldPath {
        FieldPath::from_segments(vec![name.to_string()])
    }

    /// The segments.
    pub fn segments(&self) -> &[String] {
        &self.segs
    }

    /// The first segment (the top-level field).
    pub fn head(&self) -> &str {
        &self.segs[0]
    }

    /// The value at this path, if any.
    pub fn get<'a>(&self, mut v: &'a Value) -> Option<&'a Value> {
        for s in &self.segs {
            v = v.as_object()?.get(s)?;
        }
        Some(v)
    }

    /// Sets the value, creating objects on the way (a non-object on the way is replaced).
    pub fn set(&self, root: &mut Value, value: Value) {
        let mut cur = root;
        for s in &self.segs[..self.segs.len() - 1] {
            if !cur.is_object() {
                *cur = Value::Object(Map::new());
            }
            cur = cur
                .as_object_mut()
                .map(|m| {
                    m.entry(s.clone())
                        .or_insert_with(|| Value::Object(Map::new()))
                })
                .expect("just made an object");
        }
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        if let Some(m) = cur.as_object_mut() {
            m.insert(self.segs[self.segs.len() - 1].clone(), value);
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parse_print_get_set() {
        let p = FieldPath::parse("custom_fields.\"External ID\"").unwrap();
        assert_eq!(p.segments(), ["custom_fields", "External ID"]);
        assert_eq!(p.to_string(), "custom_fields.\"External ID\"");
        let mut v = json!({"name": "x"});
        p.set(&mut v, json!("42"));
        assert_eq!(
            v,
            json!({"name": "x", "custom_fields": {"External ID": "42"}})
        );
        assert_eq!(p.get(&v), Some(&json!("42")));
        for bad in ["", "a..b", "a.\"b", "a b", "\"\""] {
            assert!(FieldPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
