//! Durable state: links, the ledger, outcomes, create intents, runs and checkpoints, OAuth
//! tokens, the webhook inbox and dead letters. The [`StateStore`] trait is the interface;
//! [`SqliteStore`] the embedded implementation, [`PostgresStore`] the shared one. Only this module writes SQL; it never knows
//! about HTTP, and it never reads the clock: every time comes in as a parameter.

mod commit;
mod error;
mod inbox;
mod intent;
mod ledger;
mod link;
mod outcome;
mod postgres;
mod run;
mod secret;
mod snapshot;
mod sqlite;
mod token;

use jiff::Timestamp;

use crate::mapping::{Direction, Side};

pub use commit::{PageCommit, RunCheckpoint};
pub use error::{StoreError, StoreResult};
pub use inbox::{
    ClaimedEvent, DeadLetter, DeadLetterQuery, InboxClaim, InboxEvent, InsertSummary, Lease,
    NewDeadLetter, RetryLater,
};
pub use intent::{CreateIntent, IntentSettlement, PendingIntent};
pub use ledger::{
    FieldShadow, LedgerEntry, LedgerKind, RecordShadow, ShadowValue, StatusKind, StatusMark,
    ValueHash,
};
pub use link::{Link, LinkCounts, LinkQuery, LinkState};
pub use outcome::{Outcome, OutcomeKind, OutcomeRecord};
pub use postgres::{DEFAULT_SCHEMA, PostgresConfig, PostgresStore};
pub use run::{Checkpoint, Run, RunEnd, RunStart, RunState};
pub use secret::Secret;
pub use snapshot::SnapshotEntry;
pub use sqlite::{Durability, SqliteConfig, SqliteStore};
pub use token::{ConsumedState, OAuthState, OAuthToken};

/// The state store. Synchronous: async callers use `spawn_blocking`. Every method is one
/// transaction. `pair` names a sync pair, so one store can hold several.
pub trait StateStore: Send + Sync {
    // Sharing.

    /// Whether several processes may work on this store at once (PostgreSQL). Then `serve`
    /// does not end every lease at start: other instances' claims are alive, and a dead
    /// instance's claims are taken over when their leases lapse.
    fn shared(&self) -> bool {
        false
    }
    /// Calls `wake` whenever another process stores inbox events, so idle workers start at
    /// once; a store with no other writers does nothing (the receiver wakes its own workers).
    fn watch_inbox(&self, wake: std::sync::Arc<dyn Fn() + Send + Sync>) -> StoreResult<()> {
        let _ = wake;
        Ok(())
    }

    // Links.

    /// The link of the record `record_id` on `side`, whatever its state.
    fn link(&self, pair: &str, side: Side, record_id: &str) -> StoreResult<Option<Link>>;
    /// Inserts or updates a link. Fails with `LinkTaken` if either record is linked to another
    /// record by a link that is not deleted; a deleted link in the way is replaced.
    fn upsert_link(&self, pair: &str, link: &Link, at: Timestamp) -> StoreResult<()>;
    /// Marks the link of a record deleted on `side`; false if there is no such link.
    fn mark_link_deleted(
        &self,
        pair: &str,
        side: Side,
        record_id: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;
    fn links(&self, pair: &str, query: &LinkQuery) -> StoreResult<Vec<Link>>;
    fn link_counts(&self, pair: &str) -> StoreResult<LinkCounts>;

    // The ledger.

    /// Everything the ledger holds for one record, by field.
    fn record_shadow(&self, pair: &str, side: Side, record_id: &str) -> StoreResult<RecordShadow>;
    fn write_ledger(&self, pair: &str, entries: &[LedgerEntry], at: Timestamp) -> StoreResult<()>;
    fn status_mark(
        &self,
        pair: &str,
        side: Side,
        record_id: &str,
    ) -> StoreResult<Option<StatusMark>>;
    fn set_status_mark(&self, pair: &str, mark: &StatusMark, at: Timestamp) -> StoreResult<()>;

    // Outcomes.

    fn outcome(
        &self,
        pair: &str,
        direction: Direction,
        source_id: &str,
    ) -> StoreResult<Option<OutcomeRecord>>;
    /// Records outcomes; a failure extends the record's failure streak, a success ends it.
    fn record_outcomes(&self, pair: &str, outcomes: &[Outcome], at: Timestamp) -> StoreResult<()>;
    /// Records whose last outcome is a failure, longest-waiting first, for a later run to retry.
    fn failed_outcomes(
        &self,
        pair: &str,
        direction: Direction,
        limit: u32,
    ) -> StoreResult<Vec<OutcomeRecord>>;

    // Create intents (E1).

    /// Records an intent durably; call before the create request.
    fn record_intent(&self, pair: &str, intent: &CreateIntent, at: Timestamp) -> StoreResult<()>;
    fn settle_intents(&self, pair: &str, settlements: &[IntentSettlement]) -> StoreResult<()>;
    fn unsettled_intents(
        &self,
        pair: &str,
        direction: Direction,
    ) -> StoreResult<Vec<PendingIntent>>;

    // Runs and checkpoints (E2).

    /// Starts a run, or resumes an unfinished one, as `start` says. The returned run is
    /// `running`; its checkpoint is where to resume (`None`: from the start).
    fn begin_run(
        &self,
        pair: &str,
        direction: Direction,
        start: RunStart,
        at: Timestamp,
    ) -> StoreResult<Run>;
    fn run(&self, run_id: &str) -> StoreResult<Option<Run>>;
    /// The most recent run of a pair and direction, finished or not (for `mapsync status`).
    fn latest_run(&self, pair: &str, direction: Direction) -> StoreResult<Option<Run>>;
    fn finish_run(&self, run_id: &str, end: &RunEnd) -> StoreResult<()>;
    /// Applies a whole page commit in one transaction: all of it or none of it. Fails with
    /// `CheckpointBackwards` (and applies nothing) if the checkpoint's page is lower than the
    /// stored one.
    fn commit_page(&self, pair: &str, commit: &PageCommit) -> StoreResult<()>;

    // OAuth.

    fn token(&self, system: &str) -> StoreResult<Option<OAuthToken>>;
    fn save_token(&self, system: &str, token: &OAuthToken, at: Timestamp) -> StoreResult<()>;
    fn delete_token(&self, system: &str) -> StoreResult<bool>;
    fn create_oauth_state(&self, state: &OAuthState, at: Timestamp) -> StoreResult<()>;
    /// Consumes a `state` nonce: the first call within its lifetime gets it, every later call
    /// (and any call after it expired) gets `None`.
    fn consume_oauth_state(
        &self,
        nonce: &Secret,
        at: Timestamp,
    ) -> StoreResult<Option<ConsumedState>>;

    // The webhook inbox and dead letters.

    /// Stores events in one transaction; an event whose dedup key is already stored is
    /// counted as a duplicate and not stored again.
    fn inbox_insert(&self, events: &[InboxEvent], at: Timestamp) -> StoreResult<InsertSummary>;
    /// Claims the record key that has waited longest and is due, with its pending events.
    fn inbox_claim(&self, lease: &Lease, at: Timestamp) -> StoreResult<Option<InboxClaim>>;
    /// The claimed events are done. False if the claim was lost (its lease ran out and another
    /// worker took the record).
    fn inbox_ack(&self, claim: &InboxClaim, at: Timestamp) -> StoreResult<bool>;
    /// Releases the claim for another attempt at `retry.next_attempt_at`. False if the claim
    /// was lost.
    fn inbox_retry(&self, claim: &InboxClaim, retry: &RetryLater) -> StoreResult<bool>;
    /// Moves the claimed events to the dead letters. False if the claim was lost.
    fn inbox_dead_letter(
        &self,
        claim: &InboxClaim,
        error: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Ends every lease now: called by `mapsync serve` at startup, when no worker of this
    /// process holds anything yet, so records held by a process that died (kill -9, power
    /// loss) are taken over at once instead of when their lease runs out. The next claim counts
    /// the interrupted attempt. Returns how many claims were ended. Only for a store that is not
    /// [`shared`](StateStore::shared): on a shared one, other instances hold live claims.
    fn inbox_end_leases(&self, at: Timestamp) -> StoreResult<u64>;
    /// Ends the leases held by the workers of one instance (worker names `<instance>:…`): called
    /// by `serve` at start on a shared store, so a restarted instance takes over at once what
    /// its killed predecessor held, while other instances' claims stay alive. Returns how many
    /// claims were ended.
    fn inbox_end_leases_of(&self, instance: &str, at: Timestamp) -> StoreResult<u64>;
    /// Record keys waiting for a worker (for backpressure, R7).
    fn inbox_depth(&self) -> StoreResult<u64>;
    /// Forgets processed events received before `before`; keep at least 7 days (R5).
    fn inbox_prune(&self, before: Timestamp) -> StoreResult<u64>;
    fn add_dead_letter(&self, letter: &NewDeadLetter) -> StoreResult<i64>;
    fn dead_letters(&self, query: &DeadLetterQuery) -> StoreResult<Vec<DeadLetter>>;
    /// Puts a dead letter back into the inbox as a new event for its record; false if no such id.
    fn retry_dead_letter(&self, id: i64, at: Timestamp) -> StoreResult<bool>;
    fn drop_dead_letter(&self, id: i64) -> StoreResult<bool>;

    // The snapshot: a full sync's index of one side's records (a cache, rebuilt per sync).

    /// Forgets the snapshot of a side.
    fn snapshot_clear(&self, pair: &str, side: Side) -> StoreResult<()>;
    /// Adds or replaces records in a side's snapshot, in one transaction.
    fn snapshot_put(&self, pair: &str, side: Side, entries: &[SnapshotEntry]) -> StoreResult<()>;
    /// One record by id.
    fn snapshot_get(
        &self,
        pair: &str,
        side: Side,
        record_id: &str,
    ) -> StoreResult<Option<serde_json::Value>>;
    /// Records whose link field holds `link_value` (at most 10).
    fn snapshot_by_link(
        &self,
        pair: &str,
        side: Side,
        link_value: &str,
    ) -> StoreResult<Vec<(String, serde_json::Value)>>;
    /// Records whose match key is `key` (at most 10).
    fn snapshot_by_match(
        &self,
        pair: &str,
        side: Side,
        key: &str,
    ) -> StoreResult<Vec<(String, serde_json::Value)>>;
    /// How many records a side's snapshot holds.
    fn snapshot_count(&self, pair: &str, side: Side) -> StoreResult<u64>;
}
