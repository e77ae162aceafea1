//! The webhook inbox and dead letters (R5, R8, R10): events stored once under a dedup key,
//! coalesced into one unit of work per record key, claimed by one worker at a time under a
//! lease, retried later, or dead-lettered. Plain data; the SQL lives in `sqlite/inbox.rs`.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

use crate::store::claim::{ClaimScope, RecordClaim};

/// One event of a delivery, as the receiver stores it before answering 2xx.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxEvent {
    /// The webhook source's name from the mapping.
    pub source: String,
    /// The per-source unique key (sender's event id, or a compound key). `None` for id-less
    /// notifications, which are never deduplicated by body, only coalesced per record.
    pub dedup_key: Option<String>,
    /// The record the event is about; all pending events of a record are one unit of work.
    pub record_key: String,
    /// The event as parsed from the delivery (verified before it got here).
    pub payload: Value,
}

/// What an insert of events did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsertSummary {
    pub inserted: u32,
    /// Events whose dedup key was already stored: answered 2xx, not stored again.
    pub duplicates: u32,
}

/// Who claims work, for how long, and how its records map to pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// A name for the worker, unique among live workers (e.g. a UUID per worker task).
    pub worker: String,
    /// How long the claim holds unless renewed; after that another worker may take the record
    /// (the first one is presumed dead).
    pub duration: Duration,
    /// The pair and side of each inbox source's records, so the claim covers a record's linked
    /// counterpart too (one pair, one worker). A source not listed here is claimed by its
    /// record key alone, under the pair `""` and the key `<source>:<record key>` on the home
    /// side.
    pub scopes: Vec<ClaimScope>,
}

impl Lease {
    /// A lease for `worker` lasting `duration`, with no scopes.
    pub fn new(worker: impl Into<String>, duration: Duration) -> Lease {
        Lease {
            worker: worker.into(),
            duration,
            scopes: Vec::new(),
        }
    }
}

/// A pending event handed to a worker with its claim.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedEvent {
    pub id: i64,
    pub dedup_key: Option<String>,
    pub payload: Value,
    pub received_at: Timestamp,
}

/// One record key claimed by one worker. No other worker gets this record, nor its linked
/// counterpart, until the claim is acked, retried, dead-lettered or its lease runs out.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxClaim {
    pub source: String,
    pub record_key: String,
    /// The record claim that holds the work (its token fences the worker's commits).
    pub claim: RecordClaim,
    /// When the record first became dirty since it was last processed.
    pub dirty_since: Timestamp,
    /// Failed attempts so far for this record.
    pub attempts: u32,
    /// The pending events covered by this claim, oldest first. Events arriving during the claim
    /// are not included; they make the record dirty again after the ack.
    pub events: Vec<ClaimedEvent>,
    /// The highest event id covered by this claim.
    pub(crate) high_water: i64,
}

/// Put a claimed record back for a later attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryLater {
    pub error: String,
    pub next_attempt_at: Timestamp,
    pub at: Timestamp,
    /// True: the attempt failed and counts toward the dead letter (`attempts` grows by one).
    /// False: the record could not be worked yet (a record it must be claimed with is held
    /// elsewhere) and waits without using up an attempt.
    pub failed: bool,
}

/// A dead letter to add directly (e.g. a sync's delete refused by the API, E6).
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeadLetter {
    pub source: String,
    pub record_key: String,
    pub payload: Value,
    pub error: String,
    pub attempts: u32,
    pub first_failed_at: Timestamp,
    pub at: Timestamp,
}

/// A stored dead letter.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub id: i64,
    pub source: String,
    pub record_key: String,
    pub payload: Value,
    pub last_error: String,
    pub attempts: u32,
    pub first_failed_at: Timestamp,
    pub last_failed_at: Timestamp,
}

/// Which dead letters to list, keyset-paged by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterQuery {
    pub source: Option<String>,
    pub after_id: Option<i64>,
    pub limit: u32,
}

impl Default for DeadLetterQuery {
    fn default() -> DeadLetterQuery {
        DeadLetterQuery {
            source: None,
            after_id: None,
            limit: 1000,
        }
    }
}
