//! `PageCommit`: everything one acknowledged page of writes changes, applied in one transaction
//! (E2). A crash leaves either all of it or none of it.

use jiff::Timestamp;
use serde_json::Value;

use crate::mapping::Side;
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
/// Checked first: the fence (every claim token must still hold, else nothing is applied), then
/// the links (a link that would give a record a second live partner is set aside, see
/// [`CommitReport`]). Applied in this order: links, ledger, statuses, outcomes, intent
/// settlements, dead letters, checkpoint.
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
    /// The tokens of the claims the writer holds on these records. If any of them no longer
    /// holds (taken over or ended), the commit fails with `StoreError::ClaimLost` and applies
    /// nothing. Empty: unfenced (tests and tools that hold no claim).
    pub fence: Vec<i64>,
}

/// A link of a page commit that was not applied because one of its records is linked, by a link
/// that is not deleted, to another record (someone else linked it meanwhile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenLink {
    /// The link the commit asked for.
    pub link: Link,
    /// The side whose record is linked elsewhere.
    pub side: Side,
    /// The record it is linked to (on the other side).
    pub linked_to: String,
}

/// What a page commit set aside. Everything else of the commit was applied.
///
/// For each taken link: the link is not written, no ledger entry of its two records is written,
/// and the outcome of its source record (the outcome whose `source_id` is the link's id on its
/// direction's source side) is recorded as `Conflict` with a message naming the other record.
/// The rest of the page is committed: a taken link is a per-record conflict, never a page abort.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitReport {
    pub taken: Vec<TakenLink>,
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
            fence: Vec::new(),
        }
    }
}
