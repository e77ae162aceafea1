//! Conversions between store types and SQLite columns: times as INTEGER milliseconds since the
//! epoch, JSON as TEXT, enums as their names. Decoding failures become `StoreError::Decode`.

use jiff::Timestamp;
use serde_json::Value;

use crate::mapping::Direction;
use crate::store::{StoreError, StoreResult};

pub(in crate::store) fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

pub(in crate::store) fn timestamp(millis: i64) -> StoreResult<Timestamp> {
    Timestamp::from_millisecond(millis).map_err(|e| StoreError::decode("timestamp", e))
}

pub(in crate::store) fn opt_timestamp(millis: Option<i64>) -> StoreResult<Option<Timestamp>> {
    millis.map(timestamp).transpose()
}

pub(in crate::store) fn json_text(value: &Value) -> String {
    value.to_string()
}

pub(in crate::store) fn json(what: &'static str, text: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(|e| StoreError::decode(what, e))
}

pub(in crate::store) fn direction(text: &str) -> StoreResult<Direction> {
    match text {
        "outbound" => Ok(Direction::Outbound),
        "inbound" => Ok(Direction::Inbound),
        other => Err(StoreError::decode("direction", format!("{other:?}"))),
    }
}

/// A count or page number from SQLite, which stores only signed integers.
pub(in crate::store) fn unsigned(what: &'static str, n: i64) -> StoreResult<u64> {
    u64::try_from(n).map_err(|e| StoreError::decode(what, e))
}

/// A count or page number to SQLite. Values past `i64::MAX` are clamped: no real sync gets there.
pub(in crate::store) fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
