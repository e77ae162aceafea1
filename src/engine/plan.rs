//! `RecordPlan`: what the engine decided for one source record, and the values the runner
//! needs to apply it, display it and remember it.

use serde::Serialize;
use serde_json::Value;

use super::merge::GroupConflict;
use super::shadow::Shadow;
use super::status::StatusMeaning;

/// What to do with one source record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    /// Create the target record.
    Create,
    /// Update changed fields of the target.
    Update,
    /// The target already matches (a status-only write may still happen).
    Unchanged,
    /// The source has not changed since mapsync last synced it; the difference is the
    /// target's own newer change, which syncs the other way.
    Echo,
    /// Both sides changed and the policy says to report it, or the links disagree.
    Conflict,
    /// Delete the target.
    Delete,
    /// Forget the link (the source was deleted, and the policy says unlink).
    Unlink,
    /// Nothing to do, for the reason given.
    Skip,
    /// The mapping could not be evaluated for this record.
    Failed,
}

/// How the target was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkedBy {
    /// The state store's link.
    Store,
    /// The source's link field.
    LinkField,
    /// The target's link field names the source.
    TargetLinkField,
    /// The match keys (first linking).
    Match,
}

/// One field that will change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The field path.
    pub field: String,
    /// Its value now (canonical; `null` when empty).
    pub from: Value,
    /// Its value after the write.
    pub to: Value,
}

/// The plan for one source record.
#[derive(Debug, Clone, Serialize)]
pub struct RecordPlan {
    /// The source record's id.
    pub source_id: String,
    /// The decision.
    pub kind: PlanKind,
    /// The target record's id, when known.
    pub target_id: Option<String>,
    /// How the target was found.
    pub linked_by: Option<LinkedBy>,
    /// The fields object to send to the target (all fields for a create, the changed ones for
    /// an update); `None` when nothing is written.
    pub write: Option<Value>,
    /// Data fields that change, for plans and logs.
    pub changes: Vec<FieldChange>,
    /// The status the sync will report, when the pair declares status fields.
    pub status: Option<StatusMeaning>,
    /// Rule messages (values replaced by placeholders, or protected).
    pub invalid: Vec<String>,
    /// Field groups that differ where no single side's change explains it (both changed, or
    /// no last sync yet), and how the conflict policy decided each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<GroupConflict>,
    /// Why the record is skipped, conflicted or failed.
    pub reason: Option<String>,
    /// For a delete: use the API's force.
    pub force: bool,
    /// The source's data values as read, to remember after a successful write.
    #[serde(skip)]
    pub source_shadow: Shadow,
    /// The target's data values once the write lands.
    #[serde(skip)]
    pub target_shadow: Shadow,
    /// The source's link field now, to decide the write-back.
    #[serde(skip)]
    pub source_link: Option<String>,
    /// The source's status text now.
    #[serde(skip)]
    pub source_status: Option<String>,
}

impl RecordPlan {
    pub(crate) fn new(source_id: &str, kind: PlanKind) -> RecordPlan {
        RecordPlan {
            source_id: source_id.to_string(),
            kind,
            target_id: None,
            linked_by: None,
            write: None,
            changes: Vec::new(),
            status: None,
            invalid: Vec::new(),
            conflicts: Vec::new(),
            reason: None,
            force: false,
            source_shadow: Shadow::default(),
            target_shadow: Shadow::default(),
            source_link: None,
            source_status: None,
        }
    }

    /// A plan that does nothing, for the reason given.
    pub fn skipped(source_id: &str, reason: &str) -> RecordPlan {
        RecordPlan::new(source_id, PlanKind::Skip).because(reason)
    }

    pub(crate) fn because(mut self, reason: impl Into<String>) -> RecordPlan {
        self.reason = Some(reason.into());
        self
    }

    /// True when a field group waits for a person (a `report` conflict).
    pub fn reported(&self) -> bool {
        self.conflicts.iter().any(|c| c.winner.is_none())
    }

    /// True when applying the plan sends a write to the target.
    pub fn writes_target(&self) -> bool {
        matches!(self.kind, PlanKind::Delete) || self.write.is_some()
    }
}
