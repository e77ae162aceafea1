//! `Shadow`: the data values of one record on one side as mapsync last wrote or read them,
//! keyed by field path. Comparing a record with its shadow tells whether that side changed
//! since the last sync (echo suppression, E3, and conflict detection).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::normalize::{canonical, same};
use crate::expr::FieldPath;

/// Field path (as written in the mapping) → canonical value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Shadow(pub BTreeMap<String, Value>);

impl Shadow {
    /// The data values of a fields object.
    pub fn of(fields: &Value, paths: &[FieldPath]) -> Shadow {
        Shadow(
            paths
                .iter()
                .map(|p| (p.as_str().to_string(), canonical(p.get(fields))))
                .collect(),
        )
    }

    /// The data values a (partial) write sets: only the paths present in `write`, so that
    /// overlaying it keeps the values of the fields it leaves alone.
    pub fn of_written(write: &Value, paths: &[FieldPath]) -> Shadow {
        Shadow(
            paths
                .iter()
                .filter_map(|p| Some((p.as_str().to_string(), canonical(Some(p.get(write)?)))))
                .collect(),
        )
    }

    /// True when every field present in either equals the other's (empties equal).
    pub fn same_as(&self, other: &Shadow) -> bool {
        self.0.iter().all(|(k, v)| same(Some(v), other.0.get(k)))
            && other.0.iter().all(|(k, v)| same(Some(v), self.0.get(k)))
    }

    /// Drops the given keys (their remembered values stay as they were in the ledger).
    pub fn forget(&mut self, keys: &[String]) {
        for k in keys {
            self.0.remove(k);
        }
    }

    /// Overlays written values.
    pub fn overlay(&mut self, written: &Shadow) {
        for (k, v) in &written.0 {
            self.0.insert(k.clone(), v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_write_overlays_only_what_it_sets() {
        let paths: Vec<FieldPath> = ["name", "numbers"]
            .iter()
            .map(|p| FieldPath::parse(p).expect("path"))
            .collect();
        let current = serde_json::json!({"name": "Ada", "numbers": ["1"]});
        let mut after = Shadow::of(&current, &paths);
        let write = serde_json::json!({"numbers": ["2"]});
        assert_eq!(Shadow::of_written(&write, &paths).0.len(), 1);
        after.overlay(&Shadow::of_written(&write, &paths));
        let expected = Shadow::of(
            &serde_json::json!({"name": "Ada", "numbers": ["2"]}),
            &paths,
        );
        assert!(after.same_as(&expected), "{after:?}");
    }
}
