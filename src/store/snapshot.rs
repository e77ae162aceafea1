//! `SnapshotEntry`: one record of a full sync's target index (id, the record, its link field's
//! value and its match key). Plain data; the SQL lives in `sqlite/snapshot.rs`.

use serde_json::Value;

/// One indexed record.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotEntry {
    /// The record's id.
    pub record_id: String,
    /// The whole record as the API returned it.
    pub record: Value,
    /// What its link field holds (the other side's id), if anything.
    pub link_value: Option<String>,
    /// Its match key, if the pair declares match keys and the record has one.
    pub match_key: Option<String>,
    /// The ids its link field names when it names several (a merged record); empty otherwise.
    pub several: Vec<String>,
}
