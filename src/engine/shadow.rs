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
                .map(|p| (p.to_string(), canonical(p.get(fields))))
                .collect(),
        )
    }

    /// True when every field present in either equals the other's (empties equal).
    pub fn same_as(&self, other: &Shadow) -> bool {
        self.0.iter().all(|(k, v)| same(Some(v), other.0.get(k)))
            && other.0.iter().all(|(k, v)| same(Some(v), self.0.get(k)))
    }

    /// Overlays written values.
    pub fn overlay(&mut self, written: &Shadow) {
        for (k, v) in &written.0 {
            self.0.insert(k.clone(), v.clone());
        }
    }
}
