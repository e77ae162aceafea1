//! The test `matches(pattern)`: true when the whole text matches a regular expression, e.g.
//! `value is matches('[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}')`, so a rule can state an
//! API's own validity test (compiled patterns are kept, a bounded number of them); and the
//! filter `merge(other)`, which puts entries beside an object's (`fields | merge({'id': id})`).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use minijinja::value::Value;
use minijinja::{Error, ErrorKind};
use regex::Regex;

/// The most patterns kept compiled; a mapping has a handful.
const MAX_CACHED: usize = 256;

static CACHE: LazyLock<Mutex<HashMap<String, Regex>>> = LazyLock::new(Default::default);

/// `value is matches(pattern)`: false for anything that is not a string; an invalid pattern is
/// an error naming it.
pub(crate) fn matches(v: &Value, pattern: &str) -> Result<bool, Error> {
    let Some(text) = v.as_str() else {
        return Ok(false);
    };
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !cache.contains_key(pattern) {
        let re = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("matches: `{pattern}` is not a valid regular expression: {e}"),
            )
        })?;
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(pattern.to_string(), re);
    }
    Ok(cache.get(pattern).is_some_and(|re| re.is_match(text)))
}

/// `object | merge(other)`: the object's entries with `other`'s added (replacing same-named
/// ones), e.g. `fields | merge({'id': id})` for an API that wants the id beside the fields.
pub(crate) fn merge(v: &Value, other: &Value) -> Result<Value, Error> {
    let mut map = std::collections::BTreeMap::new();
    for (what, obj) in [("merge's input", v), ("merge's argument", other)] {
        if obj.is_none() || obj.is_undefined() {
            continue;
        }
        if obj.kind() != minijinja::value::ValueKind::Map {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("{what} must be an object, not {}", obj.kind()),
            ));
        }
        for k in obj.try_iter()? {
            let val = obj.get_item(&k)?;
            map.insert(k.to_string(), val);
        }
    }
    Ok(Value::from(map))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::expr::{Expr, Vars};

    fn eval(src: &str, value: serde_json::Value) -> Result<serde_json::Value, String> {
        Expr::compile(src)
            .map_err(|e| e.to_string())?
            .eval(&Vars::new().with("value", &value))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn matches_tests_the_whole_text() {
        let re = r"value is matches('[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}')";
        for (v, ok) in [
            ("ann@example.com", true),
            ("ü@example.com", false),
            ("a@b.co1", false),
            ("a@[127.0.0.1]", false),
            ("x ann@example.com", false),
        ] {
            assert_eq!(eval(re, json!(v)), Ok(json!(ok)), "{v}");
        }
        assert_eq!(eval(re, json!(null)), Ok(json!(false)));
        assert_eq!(eval(re, json!(3)), Ok(json!(false)));
        let bad = eval("value is matches('(')", json!("x")).unwrap_err();
        assert!(bad.contains("not a valid regular expression"), "{bad}");
    }

    #[test]
    fn merge_puts_entries_beside_the_object() {
        assert_eq!(
            eval("value | merge({'id': '7'})", json!({"a": 1, "id": "0"})),
            Ok(json!({"a": 1, "id": "7"}))
        );
        assert!(eval("value | merge({'id': 1})", json!([1])).is_err());
    }
}
