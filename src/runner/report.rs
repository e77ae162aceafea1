//! What a sync did: the counts a person reads at the end, and the options it ran with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::connector::ConnectorStats;
use crate::mapping::Direction;

/// How a full sync runs.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Which way records flow.
    pub direction: Direction,
    /// Plan and report, write nothing to either system.
    pub dry_run: bool,
    /// Process at most this many source records (a sample run; not resumable).
    pub limit: Option<u64>,
    /// Stop before a page that would take the run's creates past this.
    pub max_creates: Option<u64>,
    /// Stop before a page that would take the run's deletes past this.
    pub max_deletes: Option<u64>,
    /// Allow a first sync into a non-empty target without match keys.
    pub allow_unmatched: bool,
    /// Start over instead of resuming an unfinished run.
    pub fresh: bool,
    /// Writes in flight at once per system (the rate limit still applies).
    pub concurrency: usize,
}

impl SyncOptions {
    /// Defaults for a direction.
    pub fn new(direction: Direction) -> SyncOptions {
        SyncOptions {
            direction,
            dry_run: false,
            limit: None,
            max_creates: None,
            max_deletes: None,
            allow_unmatched: false,
            fresh: false,
            concurrency: 8,
        }
    }
}

/// Per-outcome counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Source records read.
    pub seen: u64,
    /// Target records created.
    pub created: u64,
    /// Target records updated.
    pub updated: u64,
    /// Existing target records linked by match keys or a duplicate answer.
    pub linked: u64,
    /// Records already in step.
    pub unchanged: u64,
    /// Records skipped because their side had not changed since mapsync last synced them.
    pub echo_skipped: u64,
    /// Records written with a placeholder because a value broke a rule.
    pub invalid: u64,
    /// Records whose write failed (retried on the next run).
    pub failed: u64,
    /// Target records deleted.
    pub deleted: u64,
    /// Conflicts and ambiguous matches left for a person.
    pub conflicts: u64,
    /// Records skipped for another reason (policy, nothing to do).
    pub skipped: u64,
    /// Deletes the target refused (needs attention).
    pub refused: u64,
    /// Source write-backs (link, status) that failed.
    pub writeback_failed: u64,
}

/// The outcome of `mapsync sync`.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// The direction synced.
    pub direction: Direction,
    /// The run's id in the state store (`None` for a dry run).
    pub run_id: Option<String>,
    /// The page the run resumed at, when it continued a killed run.
    pub resumed_at_page: Option<u64>,
    /// Whether anything was written.
    pub dry_run: bool,
    /// The counts, for the whole run including pages done before a resume.
    pub counts: Counts,
    /// Source pages read by this invocation.
    pub pages: u64,
    /// Records in the target's index.
    pub target_records: u64,
    /// HTTP requests per system.
    pub requests: BTreeMap<String, ConnectorStats>,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}
