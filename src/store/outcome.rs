//! `Outcome`: the last result of syncing one source record in one direction, with the failure
//! streak that decides retries. Plain data; the SQL lives in `sqlite/outcomes.rs`.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;

use crate::mapping::Direction;

/// What happened to a source record in its last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutcomeKind {
    Created,
    Updated,
    Unchanged,
    /// Skipped because the change was mapsync's own write coming back (E3).
    Echo,
    /// Linked to an existing target record found by the match keys.
    Linked,
    /// Failed validation; the placeholder and the message went to the target.
    Invalid,
    /// The write failed; retried on later runs.
    Failed,
    /// Both sides changed irreconcilably; retried on later runs until resolved.
    Conflict,
    /// Several target records matched; retried on later runs until resolved.
    Ambiguous,
    /// The API refused an operation a person must look at (e.g. a delete refused with 409).
    NeedsAttention,
    Deleted,
    /// Skipped by policy (e.g. `--max-creates` reached, deletes not allowed).
    Skipped,
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 12] = [
        OutcomeKind::Created,
        OutcomeKind::Updated,
        OutcomeKind::Unchanged,
        OutcomeKind::Echo,
        OutcomeKind::Linked,
        OutcomeKind::Invalid,
        OutcomeKind::Failed,
        OutcomeKind::Conflict,
        OutcomeKind::Ambiguous,
        OutcomeKind::NeedsAttention,
        OutcomeKind::Deleted,
        OutcomeKind::Skipped,
    ];

    /// Whether this outcome is a failure that later runs retry. `Invalid` is not: the data is
    /// wrong, and the record is synced again when it changes.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            OutcomeKind::Failed
                | OutcomeKind::Conflict
                | OutcomeKind::Ambiguous
                | OutcomeKind::NeedsAttention
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Created => "created",
            OutcomeKind::Updated => "updated",
            OutcomeKind::Unchanged => "unchanged",
            OutcomeKind::Echo => "echo",
            OutcomeKind::Linked => "linked",
            OutcomeKind::Invalid => "invalid",
            OutcomeKind::Failed => "failed",
            OutcomeKind::Conflict => "conflict",
            OutcomeKind::Ambiguous => "ambiguous",
            OutcomeKind::NeedsAttention => "needs_attention",
            OutcomeKind::Deleted => "deleted",
            OutcomeKind::Skipped => "skipped",
        }
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutcomeKind {
    type Err = String;

    fn from_str(s: &str) -> Result<OutcomeKind, String> {
        OutcomeKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| format!("unknown outcome kind {s:?}"))
    }
}

/// The outcome of one source record, as the runner reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub direction: Direction,
    pub source_id: String,
    pub kind: OutcomeKind,
    /// The error text or a short explanation; never a token or a whole payload.
    pub message: Option<String>,
}

/// An outcome as stored, with its failure streak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRecord {
    pub outcome: Outcome,
    /// Consecutive failures (0 after a success).
    pub attempts: u32,
    pub first_failed_at: Option<Timestamp>,
    pub last_failed_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}
