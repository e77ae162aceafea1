//! `AuditEntry`: one step in a record's history — an inbox event, a plan, a write, an echo
//! skip, a conflict, a failure, a retry, a dead letter — kept per record (bounded) so
//! `mapsync explain` can tell what happened to it and why. Plain data; the SQL lives in
//! `sqlite/audit.rs`.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;

use crate::mapping::{Direction, Side};

/// What kind of step an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// Webhook events about the record were taken from the inbox (the detail names their
    /// source and kinds).
    Event,
    /// A write landed on the target (create, update, delete, link, status).
    Write,
    /// Skipped as mapsync's own write coming back.
    Echo,
    /// Left for a person: a conflict or an ambiguous match.
    Conflict,
    /// Planned no write for another reason (unchanged, policy).
    Skip,
    /// The write or the plan failed.
    Failed,
    /// Processing failed and is retried later.
    Retry,
    /// Moved to the dead letters.
    DeadLetter,
}

impl AuditKind {
    pub const ALL: [AuditKind; 8] = [
        AuditKind::Event,
        AuditKind::Write,
        AuditKind::Echo,
        AuditKind::Conflict,
        AuditKind::Skip,
        AuditKind::Failed,
        AuditKind::Retry,
        AuditKind::DeadLetter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Event => "event",
            AuditKind::Write => "write",
            AuditKind::Echo => "echo",
            AuditKind::Conflict => "conflict",
            AuditKind::Skip => "skip",
            AuditKind::Failed => "failed",
            AuditKind::Retry => "retry",
            AuditKind::DeadLetter => "dead_letter",
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditKind {
    type Err = String;

    fn from_str(s: &str) -> Result<AuditKind, String> {
        AuditKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown audit kind {s:?}"))
    }
}

/// One step in the history of the record `record_id` on `side`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The side the record is on.
    pub side: Side,
    /// The record's id on that side.
    pub record_id: String,
    /// When the step happened.
    pub at: Timestamp,
    pub kind: AuditKind,
    /// The direction of the sync that took the step, when one did.
    pub direction: Option<Direction>,
    /// What happened and why, for a person (never a token or a whole payload).
    pub detail: String,
}
