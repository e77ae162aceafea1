//! Query-string and body helpers shared by both APIs: repeated keys, Python-style booleans.

use bytes::Bytes;
use serde_json::Value;

/// All `key=value` pairs, percent-decoded, in order.
pub fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// The first value of `key`.
pub fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// [T-06] `True`/`true`/`1` and `False`/`false`/`0`; anything else is `Err`.
pub fn boolean(v: &str) -> Result<bool, ()> {
    match v {
        "True" | "true" | "1" | "TRUE" => Ok(true),
        "False" | "false" | "0" | "FALSE" => Ok(false),
        _ => Err(()),
    }
}

/// Parse a JSON body; `Err` carries serde's message.
pub fn json(body: &Bytes) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}
