//! The custom filters and tests mappings may use, beside minijinja's built-ins:
//! `split_once(sep)`, `split_list`, `compact`, and the test `email`.

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use super::email::is_email;

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("split_once", split_once);
    env.add_filter("split_list", split_list_filter);
    env.add_filter("compact", compact);
    env.add_test("email", |v: &Value| v.as_str().is_some_and(is_email));
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

#[cfg(test)]
mod tests {
    use super::split_list;

    #[test]
    fn split_list_is_tolerant() {
        assert_eq!(split_list("b@y.com, c@z.com"), ["b@y.com", "c@z.com"]);
        assert_eq!(split_list("b@y.com,\n,\nc@z.com"), ["b@y.com", "c@z.com"]);
        assert_eq!(split_list("a; b\n c"), ["a", "b", "c"]);
        assert!(split_list("").is_empty());
    }
}
