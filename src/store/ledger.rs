//! The ledger (shadow): what mapsync last wrote to and last read from each field of a record, as
//! JSON values with a stable hash, plus the last status it wrote on a record. Plain data and the
//! hash function; the SQL lives in `sqlite/ledger.rs`.

use std::collections::HashMap;
use std::fmt;

use jiff::Timestamp;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::mapping::Side;

/// Whether a ledger entry records a write by mapsync or a read of the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedgerKind {
    /// mapsync wrote this value; used to suppress echoes (E3).
    Written,
    /// mapsync read this value; used to tell which side changed since.
    Read,
}

/// One field value to remember, for one record on one side.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    pub side: Side,
    pub record_id: String,
    pub field: String,
    pub kind: LedgerKind,
    pub value: Value,
}

/// A stable hash of a JSON value: SHA-256 (hex) of its canonical form, in which object keys are
/// sorted, so `{"a":1,"b":2}` and `{"b":2,"a":1}` hash alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ValueHash(String);

impl ValueHash {
    pub fn of(value: &Value) -> ValueHash {
        let mut canonical = String::new();
        write_canonical(value, &mut canonical);
        ValueHash(hex::encode(Sha256::digest(canonical.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_stored(hex: String) -> ValueHash {
        ValueHash(hex)
    }
}

impl fmt::Display for ValueHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A remembered value with its hash and when it was recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowValue {
    pub value: Value,
    pub hash: ValueHash,
    pub at: Timestamp,
}

/// What the ledger holds for one field of one record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldShadow {
    pub written: Option<ShadowValue>,
    pub read: Option<ShadowValue>,
}

/// The ledger for one record: field name → what was last written and read.
pub type RecordShadow = HashMap<String, FieldShadow>;

/// The meaning of a status written on a record (E5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    Ok,
    Error,
}

impl StatusKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusKind::Ok => "ok",
            StatusKind::Error => "error",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<StatusKind> {
        match s {
            "ok" => Some(StatusKind::Ok),
            "error" => Some(StatusKind::Error),
            _ => None,
        }
    }
}

/// The last status mapsync wrote on a record; compare before writing a new one so a status is
/// written only when its meaning changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMark {
    pub side: Side,
    pub record_id: String,
    pub kind: StatusKind,
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hash_ignores_key_order_but_not_values() {
        let a = ValueHash::of(&json!({"a": 1, "b": [1, {"y": 2, "x": 3}]}));
        let b = ValueHash::of(&json!({"b": [1, {"x": 3, "y": 2}], "a": 1}));
        assert_eq!(a, b);
        assert_ne!(
            a,
            ValueHash::of(&json!({"a": 1, "b": [{"x": 3, "y": 2}, 1]}))
        );
        assert_ne!(ValueHash::of(&json!("1")), ValueHash::of(&json!(1)));
        assert_ne!(ValueHash::of(&json!(null)), ValueHash::of(&json!("")));
        assert_eq!(a.as_str().len(), 64);
    }
}
