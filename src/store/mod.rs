//! Durable state: links, the ledger, outcomes, create intents, runs and checkpoints, OAuth
//! tokens, the webhook inbox and dead letters. The [`StateStore`] trait is the interface;
//! [`SqliteStore`] the embedded implementation, [`PostgresStore`] the shared one. Only this module writes SQL; it never knows
//! about HTTP, and it never reads the clock: every time comes in as a parameter.

mod audit;
mod budget;
mod claim;
mod commit;
mod copy;
mod error;
mod inbox;
mod intent;
mod ledger;
mod link;
mod lock;
mod outcome;
mod postgres;
mod run;
pub mod seal;
mod secret;
mod snapshot;
mod sqlite;
mod token;

use std::time::Duration;

use jiff::Timestamp;

use crate::mapping::{Direction, Side};

pub use audit::{AuditEntry, AuditKind};
pub use budget::{BudgetGrant, BudgetPriority, BudgetRate};
pub use claim::{ClaimKey, ClaimScope, RecordClaim};
pub use commit::{CommitReport, PageCommit, RunCheckpoint, TakenLink};
pub use copy::{CopyReport, copy_store};
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
pub use lock::ProcessLock;
pub use outcome::{Outcome, OutcomeKind, OutcomeRecord};
pub use postgres::{DEFAULT_SCHEMA, PostgresConfig, PostgresStore};
pub use run::{Checkpoint, Run, RunEnd, RunStart, RunState};
pub use secret::Secret;
pub use snapshot::SnapshotEntry;
pub use sqlite::{Durability, SqliteConfig, SqliteStore};
pub use token::{ConsumedState, OAuthState, OAuthToken};

/// A `serve` instance's heartbeat on a shared store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceBeat {
    /// Its name (`--instance`).
    pub name: String,
    /// When it first beat since it last started.
    pub started_at: Timestamp,
    /// Its last heartbeat.
    pub beat_at: Timestamp,
    /// Claims its workers hold whose lease has not run out.
    pub claims: u64,
}

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
    /// The heartbeat of a `serve` instance on a shared store (for `mapsync status`); nothing on
    /// a store only one `serve` may use.
    fn beat_instance(&self, instance: &str, at: Timestamp) -> StoreResult<()> {
        let _ = (instance, at);
        Ok(())
    }
    /// The instances that ever beat on this store, the latest first, each with the claims its
    /// workers hold at `at`; empty on a store only one `serve` may use.
    fn instances(&self, at: Timestamp) -> StoreResult<Vec<InstanceBeat>> {
        let _ = at;
        Ok(Vec::new())
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

    // The audit trail (`mapsync explain`).

    /// Appends `entries`, in order, to the trails of the records they name (by `pair`, side
    /// and record id), then keeps only the newest `keep` entries of each record named
    /// (`keep` = 0 keeps none). One transaction. Entries are never reordered: a record's trail
    /// is in append order, whatever their `at`.
    fn audit_append(&self, pair: &str, entries: &[AuditEntry], keep: u32) -> StoreResult<()>;
    /// The newest `limit` entries of the trail of `record_id` on `side`, oldest first (append
    /// order); empty for a record with no trail.
    fn audit_trail(
        &self,
        pair: &str,
        side: Side,
        record_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>>;

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
    /// `ClaimLost` (and applies nothing) if a token of `commit.fence` no longer holds, and with
    /// `CheckpointBackwards` (and applies nothing) if the checkpoint's page is lower than the
    /// stored one. A link whose record is linked elsewhere meanwhile is not an error: it is set
    /// aside with its record's ledger, its record's outcome becomes a conflict, and the report
    /// lists it (see [`CommitReport`]).
    fn commit_page(&self, pair: &str, commit: &PageCommit) -> StoreResult<CommitReport>;

    // Claims (one pair, one worker) and process locks.

    /// Claims records for `holder`, each request on its own, in one transaction. A request
    /// covers its record and, when the store holds a link for it (in any state), the linked
    /// counterpart. It is granted (all of its keys, under a new token never used before, with
    /// `lease_until = at + lease`) unless one of its keys belongs to another claim whose
    /// `lease_until` is after `at`. A claim in the way whose lease has run out is taken over:
    /// deleted with all of its keys, so its token no longer holds. Returns, per request and in
    /// order, the claim, or `None` when it is busy (nothing of that request changed).
    fn claim_records(
        &self,
        pair: &str,
        holder: &str,
        records: &[ClaimKey],
        lease: Duration,
        at: Timestamp,
    ) -> StoreResult<Vec<Option<RecordClaim>>>;
    /// Adds records (and, as in `claim_records`, their linked counterparts) to a claim that
    /// still holds, under the same rule and in one transaction; its lease is unchanged. On
    /// success `claim.keys` lists the new keys too. False, and nothing changed, if the claim no
    /// longer holds or another claim with a lease after `at` holds one of the records.
    fn extend_claim(
        &self,
        claim: &mut RecordClaim,
        records: &[ClaimKey],
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// The heartbeat: sets the claim's `lease_until` to `at + lease`. False if the claim no
    /// longer holds (taken over or ended); its holder must then stop and write nothing more.
    fn renew_claim(&self, token: i64, lease: Duration, at: Timestamp) -> StoreResult<bool>;
    /// Whether the claim still holds: it was neither taken over nor ended. A claim whose lease
    /// ran out still holds until another holder takes it over.
    fn claim_held(&self, token: i64) -> StoreResult<bool>;
    /// Ends claims (with all of their keys); tokens that no longer hold are ignored.
    fn release_claims(&self, tokens: &[i64]) -> StoreResult<()>;
    /// Takes the process lock `name` (letters, digits, `-` and `_`) on this store for as long as
    /// the returned guard lives; a process that dies releases it at once. Fails with `LockHeld`
    /// (naming the store) if another process, or another guard of this one, holds it. Used for
    /// one `serve` per store and one full sync per pair and direction.
    fn lock(&self, name: &str) -> StoreResult<ProcessLock>;
    /// Takes the store-wide lock on refreshing the OAuth tokens of `system`, waiting up to
    /// `wait` while another process (or another guard of this one) holds it; held for as long
    /// as the returned guard lives, and released at once by a process that dies. Fails with
    /// `LockHeld` when `wait` passes first. A refresh takes it and then reads the stored token
    /// again before calling the token endpoint: if another holder refreshed meanwhile, that
    /// token is used, so a token is refreshed once across every process sharing the store.
    fn lock_token_refresh(&self, system: &str, wait: Duration) -> StoreResult<ProcessLock>;

    // The shared request budget.

    /// Serves one request of `priority` from the budget `key` (a system's name), shared by
    /// every process on this store, in one transaction. The budget is a token bucket: a key
    /// seen for the first time starts full (`rate.burst` tokens at `at`); tokens accrue at
    /// `rate.per_second` since the stored time, never beyond `rate.burst`. Then: while `at` is
    /// before a stored pause, a back-fill request takes nothing and waits for the pause, and a
    /// live one waits at least that long. A live request always takes a token (the count may go
    /// negative: queued requests) and waits until its token has accrued, counted from the
    /// bucket's time (after a pause, its end). A back-fill request
    /// takes one only if at least `rate.reserve() + 1` are there, and otherwise takes nothing
    /// and is told how long until there will be. The exact rule is `budget::Bucket::take`.
    fn take_budget(
        &self,
        key: &str,
        rate: &BudgetRate,
        priority: BudgetPriority,
        at: Timestamp,
    ) -> StoreResult<BudgetGrant>;
    /// Holds every request of the budget `key` until `until` (a `Retry-After`); an earlier
    /// pause never shortens a later one. The bucket restarts at `until` with at most one
    /// token, so the requests queued meanwhile leave at the declared rate after it, not all at
    /// once when it ends. A key never taken from is left alone. The rule is `budget::Bucket::pause`.
    fn pause_budget(&self, key: &str, until: Timestamp) -> StoreResult<()>;

    // OAuth.

    fn token(&self, system: &str) -> StoreResult<Option<OAuthToken>>;
    fn save_token(&self, system: &str, token: &OAuthToken, at: Timestamp) -> StoreResult<()>;
    fn delete_token(&self, system: &str) -> StoreResult<bool>;
    fn create_oauth_state(&self, state: &OAuthState, at: Timestamp) -> StoreResult<()>;
    /// Deletes every OAuth `state` (install links included) whose `expires_at` is at or before
    /// `at`, and returns how many; unexpired ones are untouched and can still be consumed once.
    /// `mapsync serve` calls it on a timer so expired rows never pile up.
    fn purge_oauth_states(&self, at: Timestamp) -> StoreResult<u64>;
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
    /// Claims the record key that has waited longest and is due, with its pending events, in
    /// one transaction: the work is taken together with a record claim (as `claim_records`
    /// does, for `lease.worker` and `lease.duration`) on the record and its linked counterpart,
    /// the pair and side coming from `lease.scopes`. A due record whose claim is busy (another
    /// holder works it or its counterpart) is passed over, and waits, without counting an
    /// attempt; the next due one is tried. A record whose previous claim was ended or taken
    /// over counts that interrupted attempt.
    fn inbox_claim(&self, lease: &Lease, at: Timestamp) -> StoreResult<Option<InboxClaim>>;
    /// The claimed events are done; ends the claim. False, and nothing changed, if the claim no
    /// longer holds (its lease ran out and another worker took the record, or it was ended).
    fn inbox_ack(&self, claim: &InboxClaim, at: Timestamp) -> StoreResult<bool>;
    /// Ends the claim and puts the record back for another attempt at
    /// `retry.next_attempt_at`. False if the claim no longer holds.
    fn inbox_retry(&self, claim: &InboxClaim, retry: &RetryLater) -> StoreResult<bool>;
    /// Moves the claimed events to the dead letters; ends the claim. False if the claim no
    /// longer holds.
    fn inbox_dead_letter(
        &self,
        claim: &InboxClaim,
        error: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Ends every claim that holds inbox work now: called by `mapsync serve` at startup, under
    /// its `serve` lock and before any worker of this process holds anything, so records held
    /// by a `serve` that died (kill -9, power loss) are taken over at once instead of when their
    /// lease runs out. Claims not holding inbox work (a running `sync`'s) are left alone. The
    /// next claim counts the interrupted attempt. Returns how many claims were ended.
    /// Only for a store that is not [`shared`](StateStore::shared): there, other instances
    /// hold live claims (see `inbox_end_leases_of`).
    fn inbox_end_leases(&self, at: Timestamp) -> StoreResult<u64>;
    /// Ends the leases held by the workers of one instance (worker names `<instance>:…`): called
    /// by `serve` at start on a shared store, so a restarted instance takes over at once what
    /// its killed predecessor held, while other instances' claims stay alive. Returns how many
    /// claims were ended.
    fn inbox_end_leases_of(&self, instance: &str, at: Timestamp) -> StoreResult<u64>;
    /// Record keys waiting for a worker (for backpressure, R7).
    fn inbox_depth(&self) -> StoreResult<u64>;
    /// Events stored and not yet processed: every event `inbox_insert` stored (duplicates are
    /// not stored, so not counted) until an `inbox_ack` or `inbox_dead_letter` of a claim that
    /// covers it; `inbox_retry` keeps it counted. Processed events kept for deduplication are
    /// not counted. The webhook receiver's high-water mark is in events (R7).
    fn inbox_pending_events(&self) -> StoreResult<u64>;
    /// Forgets processed events received before `before`; keep at least 7 days (R5).
    fn inbox_prune(&self, before: Timestamp) -> StoreResult<u64>;
    fn add_dead_letter(&self, letter: &NewDeadLetter) -> StoreResult<i64>;
    fn dead_letters(&self, query: &DeadLetterQuery) -> StoreResult<Vec<DeadLetter>>;
    /// Puts a dead letter back into the inbox for its record, in one transaction with its
    /// removal; false if no such id. A payload that is a non-empty JSON array (a worker's dead
    /// letter: the record's events) goes back as one inbox event per element, in order; any
    /// other payload (a sync's dead letter) as one event. The events have no dedup key.
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
    /// A record whose link field names `id` among several (a merged record): its id and the
    /// ids it names, joined with ", ". `None` when no record does.
    fn snapshot_named_among_several(
        &self,
        pair: &str,
        side: Side,
        id: &str,
    ) -> StoreResult<Option<(String, String)>>;
}
