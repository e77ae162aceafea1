//! `PageCommit`: everything one acknowledged page of writes changes, applied in one transaction
//! (E2). A crash leaves either all of it or none of it.

use jiff::Timestamp;
use serde_json::Value;

use crate::store::inbox::NewDeadLetter;
use crate::store::intent::IntentSettlement;
use crate::store::ledger::{LedgerEntry, StatusMark};
use crate::store::link::Link;
use crate::store::outcome::Outcome;
use crate::store::run::Checkpoint;

/// The checkpoint part of a page commit.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCheckpoint {
    pub run_id: String,
    pub checkpoint: Checkpoint,
    /// The run's counters after this page; unchanged when `None`.
    pub counters: Option<Value>,
}

/// One page's worth of state changes, committed after the target acknowledged the page's writes.
/// Applied in this order: links, ledger, statuses, outcomes, intent settlements, dead letters,
/// checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct PageCommit {
    /// When the page was committed (from the injected clock).
    pub at: Timestamp,
    /// Links to insert or update (a deleted link is a link whose state says so).
    pub links: Vec<Link>,
    pub ledger: Vec<LedgerEntry>,
    pub statuses: Vec<StatusMark>,
    pub outcomes: Vec<Outcome>,
    pub settled_intents: Vec<IntentSettlement>,
    /// Operations the target refused for good (e.g. a delete refused with 409, E6).
    pub dead_letters: Vec<NewDeadLetter>,
    /// The new checkpoint; `None` for commits outside a full sync (e.g. a webhook worker).
    pub checkpoint: Option<RunCheckpoint>,
}

impl PageCommit {
    /// An empty commit at `at`; fill the fields you need.
    pub fn new(at: Timestamp) -> PageCommit {
        PageCommit {
            at,
            links: Vec::new(),
            ledger: Vec::new(),
            statuses: Vec::new(),
            outcomes: Vec::new(),
            settled_intents: Vec::new(),
            dead_letters: Vec::new(),
            checkpoint: None,
        }
    }
}
