//! Value comparison as the engine sees it: absent, `null`, `""` and `[]` are the same empty
//! value (E4), so an API that reads a cleared field back as `null` never looks changed.

use serde_json::Value;

/// True for the values that count as empty.
pub fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// Equality with every empty value equal to every other.
pub fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (is_empty(a), is_empty(b)) {
        (true, true) => true,
        (false, false) => a == b || loosely_equal(a, b),
        _ => false,
    }
}

/// Strings and numbers compare by text (`"42"` equals `42`), since some APIs send every value
/// as a string.
fn loosely_equal(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::String(s)), Some(Value::Number(n)))
        | (Some(Value::Number(n)), Some(Value::String(s))) => *s == n.to_string(),
        _ => false,
    }
}

/// The value as the engine stores and compares it: empty values become `null`.
pub fn canonical(v: Option<&Value>) -> Value {
    if is_empty(v) {
        Value::Null
    } else {
        v.cloned().unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn empties_are_equal() {
        let empties = [None, Some(json!(null)), Some(json!("")), Some(json!([]))];
        for a in &empties {
            for b in &empties {
                assert!(same(a.as_ref(), b.as_ref()));
            }
        }
        assert!(!same(Some(&json!("a")), None));
        assert!(same(Some(&json!("42")), Some(&json!(42))));
        assert!(!same(Some(&json!(["a"])), Some(&json!(["b"]))));
    }
}
