//! Runs of `mapsync sync` and their checkpoints: where a killed sync resumes. Plain data; the SQL
//! lives in `sqlite/runs.rs`.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde_json::Value;

use crate::mapping::Direction;

/// The state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunState {
    Running,
    Done,
    Failed,
    /// Found still `running` when a newer run started: the process died.
    Killed,
}

impl RunState {
    pub const ALL: [RunState; 4] = [
        RunState::Running,
        RunState::Done,
        RunState::Failed,
        RunState::Killed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Done => "done",
            RunState::Failed => "failed",
            RunState::Killed => "killed",
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunState {
    type Err = String;

    fn from_str(s: &str) -> Result<RunState, String> {
        RunState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown run state {s:?}"))
    }
}

/// The durable resume point of a run (E2).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The opaque page cursor to resume from, as the connector gave it.
    pub cursor: Value,
    /// Pages committed so far. Never moves backwards; committing the same page again (after a
    /// resume re-read it) is allowed.
    pub page: u64,
    pub records_done: u64,
}

/// One run of a sync for a pair and a direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// A UUID v7, so ids sort by start time.
    pub id: String,
    pub pair: String,
    pub direction: Direction,
    pub state: RunState,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// The summary counters (created, updated, …) as the runner keeps them; opaque to the store.
    pub counters: Value,
    pub checkpoint: Option<Checkpoint>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEnd {
    /// `Done`, `Failed` or `Killed`.
    pub state: RunState,
    pub counters: Value,
    pub at: Timestamp,
}

/// How `begin_run` treats an earlier run that did not finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStart {
    /// Continue the latest run of the pair and direction from its checkpoint if it did not
    /// finish (`running`, `failed` or `killed`); otherwise start a new one.
    ResumeOrNew,
    /// Start a new run; a run still marked `running` is marked `killed`.
    New,
}
