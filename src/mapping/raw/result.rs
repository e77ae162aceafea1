//! How a write's answer reports each record: where one record's result is, when it counts as a
//! success, and how a batch's results are matched to its inputs. For APIs that answer 2xx (or a
//! 4xx for a whole batch) and say inside the body which records they refused.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a single write's per-record result is in its answer, and when it is a success. A
/// result that is not a success fails the record: it is never recorded as written. Its class
/// (what a retry or dead letter makes of it) comes from the system's `errors` rules, matched
/// against the answer's status and the result's JSON text; without a matching rule it is
/// `permanent`. Example, for an API answering `202 {"data": [{"status": "error", …}]}`:
/// `result: { path: "$.data[0]", success: 'result.status == "success"', message: $.message }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawResult {
    /// JSONPath to the record's result in the answer, e.g. `$.data[0]`. An answer without it
    /// is an error.
    pub path: String,
    /// An expression over `result` (the record's result) and `status` (the HTTP status) that
    /// is true when the write succeeded, e.g. `result.status == "success"`. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<String>,
    /// JSONPath, inside a failed result, to its message, e.g. `$.message`. Default: the
    /// result's `message`-like field, else the whole result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// How a batch's answer is matched to its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawBatchMatch {
    /// By key: created records by the link field they carry, errors (and failed results) by
    /// `error_key`. The default.
    Key,
    /// By position: the n-th entry of `results` is the answer for the n-th input, for APIs
    /// that answer in input order without ids. An input without an entry has failed (and is
    /// tried again).
    Position,
}
