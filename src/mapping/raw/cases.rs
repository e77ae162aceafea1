//! Test cases declared in a mapping (`tests:`), run offline by `mapsync test`: a source record,
//! the direction, optionally the current target record, and what the engine must decide.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::pair::RawConflictPolicy;
use crate::mapping::Direction;

/// One test case: a source record planned through the engine, offline (no network, no state
/// store), and what the plan must say. Status templates see `now` = `2000-01-01T00:00:00Z`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTestCase {
    /// What the case checks, in a few words; `mapsync test` prints it.
    pub name: String,
    /// `outbound`: the source is a home record and the plan writes the external side;
    /// `inbound`: the source is an external record and the plan writes the home side.
    pub direction: Direction,
    /// The source record as its API returns it: its id and its fields where the collection's
    /// `id` and `fields` paths say.
    pub source: serde_json::Value,
    /// The target record as it is now, as its API returns it. The engine finds it as a sync
    /// would: through the source's link field, the target's link field, or the match keys.
    /// Without it (or when nothing links to it) the source is new on the target side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<serde_json::Value>,
    /// The id the target API gives a created record, as seen by the expected write-back.
    /// Default `new-id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_id: Option<String>,
    /// The records as they were after the last sync (the base of the three-way merge), so a
    /// case can test which side changed what. Without it the case plans as a first sync: every
    /// field group that differs is a conflict decided by the conflict policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<RawBase>,
    /// Plans this case under another conflict policy (for every field group), e.g. to test
    /// `report` with a mapping that declares `newest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<RawConflictPolicy>,
    /// What the plan must say. Only what is listed is checked.
    pub expect: RawExpect,
}

/// The last-synced records of a test case, each written as its API returns it. Only the data
/// fields count (link and status fields are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBase {
    /// The source record as it was after the last sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<serde_json::Value>,
    /// The target record as it was after the last sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<serde_json::Value>,
}

/// What a test case expects of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// The decision for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<RawPlanKind>,
    /// Fields of the write to the target, by field path (e.g. `firstname`,
    /// `custom_fields."External ID"`): each must be written with exactly this value; `null`
    /// means the field is not written. Fields not listed are not checked.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// `false`: nothing at all is written to the target, not even the status; `true`:
    /// something is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes: Option<bool>,
    /// The status the sync reports (and writes to the status fields): `ok`, or
    /// `{ error: <message> }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RawExpectedStatus>,
    /// Fields of the write-back to the source (its link and status) once the target write
    /// succeeded, by field path; `null` means the field is not written back.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub writeback: BTreeMap<String, serde_json::Value>,
    /// Text the plan's reason (for a skip, echo, conflict or failure) must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The field groups the plan decides as conflicts (both sides changed, or no last sync),
    /// by name; `[]` means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<Vec<String>>,
}

/// The engine's decision for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawPlanKind {
    /// A new target record.
    Create,
    /// Changed data fields are written to the target.
    Update,
    /// The target's data already matches (a status or link write may still happen).
    Unchanged,
    /// The source is unchanged since the last sync (never without remembered state).
    Echo,
    /// The links disagree, or both sides changed and the policy says report.
    Conflict,
    /// The target record is deleted.
    Delete,
    /// The link is forgotten.
    Unlink,
    /// Nothing is done, for the reason given.
    Skip,
    /// The mapping could not be evaluated for this record.
    Failed,
}

/// An expected status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawExpectedStatus {
    /// The sync succeeded.
    Ok,
    /// The sync reports this error message (e.g. a rule's message).
    Error(String),
}
