//! The custom filters and tests mappings may use, beside minijinja's built-ins:
//! `split_once(sep)`, `split_list`, `compact`, `to_objects(key, **attrs)`, `flag_first(name)`,
//! `merge(other)`, and the tests `email` and `matches(pattern)` (in `matches.rs`).

use std::collections::BTreeMap;

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use super::email::is_email;

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("split_once", split_once);
    env.add_filter("split_list", split_list_filter);
    env.add_filter("compact", compact);
    env.add_filter("to_objects", to_objects);
    env.add_filter("flag_first", flag_first);
    env.add_test("email", |v: &Value| v.as_str().is_some_and(is_email));
    env.add_test("matches", super::matches::matches);
    env.add_filter("merge", super::matches::merge);
}

/// `"Mary Ann Smith" | split_once(' ')` → `["Mary", "Ann Smith"]`; without the separator the
/// second part is `""`.
fn split_once(s: &str, sep: &str) -> Result<Value, Error> {
    if sep.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "split_once needs a non-empty separator",
        ));
    }
    let (a, b) = s.split_once(sep).unwrap_or((s, ""));
    Ok(Value::from(vec![a.to_string(), b.to_string()]))
}

/// Splits a list typed by a person: on commas, semicolons and line breaks, trimming each part
/// and dropping empty ones.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', ';', '\n', '\r'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

fn split_list_filter(v: &Value) -> Result<Value, Error> {
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => Ok(Value::from(Vec::<String>::new())),
        ValueKind::String => Ok(Value::from(split_list(v.as_str().unwrap_or_default()))),
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("split_list takes a string, not {}", v.kind()),
        )),
    }
}

/// Drops null, undefined and empty-string items from a list.
fn compact(v: &Value) -> Result<Value, Error> {
    let items = v.try_iter()?;
    Ok(Value::from(
        items
            .filter(|i| !(i.is_none() || i.is_undefined() || i.as_str() == Some("")))
            .collect::<Vec<_>>(),
    ))
}

/// Turns a list of values into a list of objects: `["a", "b"] | to_objects('value',
/// label='work')` → `[{"value": "a", "label": "work"}, {"value": "b", "label": "work"}]`.
/// For APIs that keep emails or phones as lists of objects.
fn to_objects(v: &Value, key: &str, attrs: Kwargs) -> Result<Value, Error> {
    let extra: Vec<(String, Value)> = attrs
        .args()
        .map(|k| Ok((k.to_string(), attrs.get::<Value>(k)?)))
        .collect::<Result<_, Error>>()?;
    attrs.assert_all_used()?;
    if v.is_none() || v.is_undefined() {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    let items = v.try_iter()?;
    Ok(Value::from(
        items
            .map(|item| {
                let mut map: BTreeMap<String, Value> = extra.iter().cloned().collect();
                map.insert(key.to_string(), item);
                Value::from(map)
            })
            .collect::<Vec<_>>(),
    ))
}

/// Sets a boolean attribute on a list of objects: true on the first, false on the others,
/// e.g. `emails | to_objects('value') | flag_first('primary')`. The other attributes are kept.
fn flag_first(v: &Value, name: &str) -> Result<Value, Error> {
    if v.is_none() || v.is_undefined() {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    let items = v.try_iter()?;
    let mut out = Vec::new();
    for (i, item) in items.enumerate() {
        if item.kind() != ValueKind::Map {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("flag_first takes a list of objects, not of {}", item.kind()),
            ));
        }
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        for k in item.try_iter()? {
            let val = item.get_item(&k)?;
            map.insert(k.to_string(), val);
        }
        map.insert(name.to_string(), Value::from(i == 0));
        out.push(Value::from(map));
    }
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::split_list;
    use crate::expr::{Expr, Vars};
    use serde_json::json;

    fn eval(src: &str, record: serde_json::Value) -> serde_json::Value {
        Expr::compile(src)
            .expect("compiles")
            .eval(&Vars::new().with("record", &record))
            .expect("evaluates")
    }

    #[test]
    fn lists_become_flagged_objects_and_back() {
        let out = eval(
            "record.emails | to_objects('value', label='work') | flag_first('primary')",
            json!({"emails": ["a@x.io", "b@x.io"]}),
        );
        assert_eq!(
            out,
            json!([{"value": "a@x.io", "label": "work", "primary": true},
                   {"value": "b@x.io", "label": "work", "primary": false}])
        );
        assert_eq!(
            eval(
                "record.none | to_objects('value') | flag_first('p')",
                json!({"none": null})
            ),
            json!([])
        );
        // the way back: primary first, then the rest, empty values dropped
        let back = eval(
            "((record.email | selectattr('primary') | map(attribute='value') | list) + (record.email | rejectattr('primary') | map(attribute='value') | list)) | compact",
            json!({"email": [{"value": "b", "primary": false}, {"value": "a", "primary": true}, {"value": "", "primary": false}]}),
        );
        assert_eq!(back, json!(["a", "b"]));
    }

    #[test]
    fn flag_first_refuses_scalars() {
        assert!(
            Expr::compile("record.x | flag_first('p')")
                .unwrap()
                .eval(&Vars::new().with("record", &json!({"x": [1]})))
                .is_err()
        );
    }

    #[test]
    fn split_list_is_tolerant() {
        assert_eq!(split_list("b@y.com, c@z.com"), ["b@y.com", "c@z.com"]);
        assert_eq!(split_list("b@y.com,\n,\nc@z.com"), ["b@y.com", "c@z.com"]);
        assert_eq!(split_list("a; b\n c"), ["a", "b", "c"]);
        assert!(split_list("").is_empty());
    }
}
