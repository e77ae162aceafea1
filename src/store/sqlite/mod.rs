//! `SqliteStore`: the embedded [`StateStore`] on one SQLite file in WAL mode, behind a mutex so
//! it is `Clone + Send + Sync`. Owns the connection settings and error classification; the SQL
//! for each table lives in its own file. Never knows about HTTP.
//!
//! Durability: `synchronous=NORMAL` by default. In WAL mode that survives a crash of the
//! process (kill -9) but can lose the last commits on power loss, which the reconcile (a full
//! sync) and the senders' retries repair. `Durability::Full` survives power loss at the cost of
//! an fsync per commit.

mod audit;
mod budget;
mod claims;
pub(in crate::store) mod codec;
mod inbox;
mod intents;
mod ledger;
mod links;
mod lock;
mod migrations;
mod outcomes;
mod runs;
pub(in crate::store) mod snapshot;
mod tokens;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};

use crate::mapping::{Direction, Side};
use crate::store::{
    AuditEntry, BudgetGrant, BudgetPriority, BudgetRate, ClaimKey, CommitReport, ConsumedState,
    CreateIntent, DeadLetter, DeadLetterQuery, InboxClaim, InboxEvent, InsertSummary,
    IntentSettlement, Lease, LedgerEntry, Link, LinkCounts, LinkQuery, NewDeadLetter, OAuthState,
    OAuthToken, Outcome, OutcomeKind, OutcomeRecord, PageCommit, PendingIntent, ProcessLock,
    RecordClaim, RecordShadow, RetryLater, Run, RunEnd, RunStart, Secret, SnapshotEntry,
    StateStore, StatusMark, StoreError, StoreResult, TakenLink,
};

/// How hard SQLite works to keep a commit through a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL`: survives a process crash; the last commits may be lost on power
    /// loss. The default.
    #[default]
    Normal,
    /// `synchronous=FULL`: survives power loss too; slower commits.
    Full,
}

/// How to open a SQLite state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteConfig {
    pub durability: Durability,
    /// How long to wait for another process's write lock before failing with `Locked`.
    pub busy_timeout: Duration,
}

impl Default for SqliteConfig {
    fn default() -> SqliteConfig {
        SqliteConfig {
            durability: Durability::Normal,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The SQLite state store. Cloning shares the connection.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// One connection, so writes from this process are serialised without SQLITE_BUSY between
    /// our own threads; other processes are handled by the busy timeout.
    conn: Mutex<Connection>,
    /// The file path (or `:memory:`), for error messages.
    location: String,
    /// The file, for its process locks (`None` in memory).
    path: Option<std::path::PathBuf>,
    /// The process locks held through this store when it is in memory.
    locks: Arc<lock::MemoryLocks>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.inner.location)
            .finish()
    }
}

/// Creates `path` with mode 0600 if it does not exist; warns when an existing one is readable
/// or writable by group or others.
#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{:o}", mode & 0o777),
                    "The state file (OAuth tokens, record data) is readable by other users; run `chmod 600` on it and its -wal and -shm files."
                );
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn private_file(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The value of `PRAGMA application_id` in every mapsync state file ("msyn").
const APPLICATION_ID: i32 = 0x6d73_796e;

impl SqliteStore {
    /// Opens the state file at `path`, creating and migrating it as needed. A new file is
    /// created readable by its owner only (0600; SQLite gives its `-wal` and `-shm` files the
    /// same mode); an existing file that others can read is used, with a warning saying how to
    /// fix it.
    pub fn open(path: &Path, config: &SqliteConfig) -> StoreResult<SqliteStore> {
        let location = path.display().to_string();
        // If this fails (no such directory, not writable), opening below fails with the
        // store's own explanation.
        if let Err(e) = private_file(path) {
            tracing::debug!(path = %path.display(), error = %e, "Could not pre-create the state file.");
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        SqliteStore::setup(conn, location, Some(path.to_path_buf()), config)
    }

    /// A private in-memory store, for tests and `--dry-run`.
    pub fn open_in_memory() -> StoreResult<SqliteStore> {
        let conn = Connection::open_in_memory()?;
        SqliteStore::setup(conn, ":memory:".to_owned(), None, &SqliteConfig::default())
    }

    fn setup(
        mut conn: Connection,
        location: String,
        path: Option<std::path::PathBuf>,
        config: &SqliteConfig,
    ) -> StoreResult<SqliteStore> {
        let result = (|| {
            conn.busy_timeout(config.busy_timeout)?;
            let synchronous = match config.durability {
                Durability::Normal => "NORMAL",
                Durability::Full => "FULL",
            };
            // WAL lets readers (`mapsync status`) run beside a writer. An in-memory database
            // answers "memory", which is fine.
            let _mode: String =
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
            conn.pragma_update(None, "synchronous", synchronous)?;
            conn.pragma_update(None, "foreign_keys", true)?;
            // Every statement of the store fits in the cache, so none is re-prepared.
            conn.set_prepared_statement_cache_capacity(64);
            migrations::migrate(&mut conn, &location, APPLICATION_ID)
        })();
        result.map_err(|error| classify(error, &location))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                location,
                path,
                locks: Arc::default(),
            }),
        })
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> StoreResult<i64> {
        self.read(|conn| Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?))
    }

    /// Runs `f` on the connection outside an explicit transaction (single reads).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        // A panic while the lock was held cannot leave a transaction open (a dropped
        // `Transaction` rolls back), so a poisoned lock is safe to take over.
        let conn = self
            .inner
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&conn).map_err(|error| classify(error, &self.inner.location))
    }

    /// Runs `f` in one write transaction (`BEGIN IMMEDIATE`) and commits if it returns `Ok`.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self
            .inner
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let result = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        result.map_err(|error| classify(error, &self.inner.location))
    }

    #[cfg(test)]
    fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        let mut conn = self
            .inner
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut conn)
    }
}

/// `at + lease` in milliseconds.
pub(in crate::store) fn lease_until(at: Timestamp, lease: Duration) -> i64 {
    let ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    at.as_millisecond().saturating_add(ms)
}

/// The outcome of a record whose link was taken by someone else before the commit.
pub(in crate::store) fn taken_outcome(outcome: &Outcome, taken: &TakenLink) -> Outcome {
    let other = taken.side.other();
    Outcome {
        kind: OutcomeKind::Conflict,
        message: Some(format!(
            "the {} record {} was linked to the {} record {} by another process meanwhile; \
             resolve the duplicate by hand",
            taken.side.as_str(),
            taken.link.id_on(taken.side),
            other.as_str(),
            taken.linked_to
        )),
        ..outcome.clone()
    }
}

/// Turns a raw SQLite failure into the error that tells the user what to do.
fn classify(error: StoreError, location: &str) -> StoreError {
    let StoreError::Sqlite(sqlite) = &error else {
        return error;
    };
    let location = location.to_owned();
    match sqlite.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Locked { location }
        }
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt {
            location,
            detail: sqlite.to_string(),
        },
        _ => error,
    }
}

impl StateStore for SqliteStore {
    fn link(&self, pair: &str, side: Side, record_id: &str) -> StoreResult<Option<Link>> {
        self.read(|c| links::get(c, pair, side, record_id))
    }

    fn upsert_link(&self, pair: &str, link: &Link, at: Timestamp) -> StoreResult<()> {
        self.write(|tx| links::upsert(tx, pair, link, at))
    }

    fn mark_link_deleted(
        &self,
        pair: &str,
        side: Side,
        record_id: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        self.write(|tx| links::mark_deleted(tx, pair, side, record_id, at))
    }

    fn links(&self, pair: &str, query: &LinkQuery) -> StoreResult<Vec<Link>> {
        self.read(|c| links::list(c, pair, query))
    }

    fn link_counts(&self, pair: &str) -> StoreResult<LinkCounts> {
        self.read(|c| links::counts(c, pair))
    }

    fn record_shadow(&self, pair: &str, side: Side, record_id: &str) -> StoreResult<RecordShadow> {
        self.read(|c| ledger::record_shadow(c, pair, side, record_id))
    }

    fn write_ledger(&self, pair: &str, entries: &[LedgerEntry], at: Timestamp) -> StoreResult<()> {
        self.write(|tx| ledger::write(tx, pair, entries, at))
    }

    fn status_mark(
        &self,
        pair: &str,
        side: Side,
        record_id: &str,
    ) -> StoreResult<Option<StatusMark>> {
        self.read(|c| ledger::status_mark(c, pair, side, record_id))
    }

    fn set_status_mark(&self, pair: &str, mark: &StatusMark, at: Timestamp) -> StoreResult<()> {
        self.write(|tx| ledger::set_status_marks(tx, pair, std::slice::from_ref(mark), at))
    }

    fn outcome(
        &self,
        pair: &str,
        direction: Direction,
        source_id: &str,
    ) -> StoreResult<Option<OutcomeRecord>> {
        self.read(|c| outcomes::get(c, pair, direction, source_id))
    }

    fn record_outcomes(&self, pair: &str, list: &[Outcome], at: Timestamp) -> StoreResult<()> {
        self.write(|tx| outcomes::record(tx, pair, list, at))
    }

    fn failed_outcomes(
        &self,
        pair: &str,
        direction: Direction,
        limit: u32,
    ) -> StoreResult<Vec<OutcomeRecord>> {
        self.read(|c| outcomes::failed(c, pair, direction, limit))
    }

    fn audit_append(&self, pair: &str, entries: &[AuditEntry], keep: u32) -> StoreResult<()> {
        self.write(|tx| audit::append(tx, pair, entries, keep))
    }

    fn audit_trail(
        &self,
        pair: &str,
        side: Side,
        record_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        self.read(|c| audit::trail(c, pair, side, record_id, limit))
    }

    fn record_intent(&self, pair: &str, intent: &CreateIntent, at: Timestamp) -> StoreResult<()> {
        self.write(|tx| intents::record(tx, pair, intent, at))
    }

    fn settle_intents(&self, pair: &str, settlements: &[IntentSettlement]) -> StoreResult<()> {
        self.write(|tx| intents::settle(tx, pair, settlements))
    }

    fn unsettled_intents(
        &self,
        pair: &str,
        direction: Direction,
    ) -> StoreResult<Vec<PendingIntent>> {
        self.read(|c| intents::unsettled(c, pair, direction))
    }

    fn begin_run(
        &self,
        pair: &str,
        direction: Direction,
        start: RunStart,
        at: Timestamp,
    ) -> StoreResult<Run> {
        self.write(|tx| runs::begin(tx, pair, direction, start, at))
    }

    fn run(&self, run_id: &str) -> StoreResult<Option<Run>> {
        self.read(|c| runs::get(c, run_id))
    }

    fn latest_run(&self, pair: &str, direction: Direction) -> StoreResult<Option<Run>> {
        self.read(|c| runs::latest(c, pair, direction))
    }

    fn finish_run(&self, run_id: &str, end: &RunEnd) -> StoreResult<()> {
        self.write(|tx| runs::finish(tx, run_id, end))
    }

    fn commit_page(&self, pair: &str, commit: &PageCommit) -> StoreResult<CommitReport> {
        self.write(|tx| {
            claims::fence(tx, &commit.fence)?;
            let mut report = CommitReport::default();
            for link in &commit.links {
                match links::taken(tx, pair, link)? {
                    Some((side, linked_to)) => report.taken.push(TakenLink {
                        link: link.clone(),
                        side,
                        linked_to,
                    }),
                    None => links::upsert(tx, pair, link, commit.at)?,
                }
            }
            let set_aside =
                |side: Side, id: &str| report.taken.iter().any(|t| t.link.id_on(side) == id);
            let ledger: Vec<LedgerEntry> = commit
                .ledger
                .iter()
                .filter(|e| !set_aside(e.side, &e.record_id))
                .cloned()
                .collect();
            let outcomes: Vec<Outcome> = commit
                .outcomes
                .iter()
                .map(|o| {
                    match report
                        .taken
                        .iter()
                        .find(|t| t.link.id_on(o.direction.source()) == o.source_id)
                    {
                        Some(t) => taken_outcome(o, t),
                        None => o.clone(),
                    }
                })
                .collect();
            ledger::write(tx, pair, &ledger, commit.at)?;
            ledger::set_status_marks(tx, pair, &commit.statuses, commit.at)?;
            outcomes::record(tx, pair, &outcomes, commit.at)?;
            intents::settle(tx, pair, &commit.settled_intents)?;
            for letter in &commit.dead_letters {
                inbox::add_dead_letter(tx, letter)?;
            }
            if let Some(checkpoint) = &commit.checkpoint {
                runs::checkpoint(tx, pair, checkpoint, commit.at)?;
            }
            Ok(report)
        })
    }

    fn claim_records(
        &self,
        pair: &str,
        holder: &str,
        records: &[ClaimKey],
        lease: Duration,
        at: Timestamp,
    ) -> StoreResult<Vec<Option<RecordClaim>>> {
        let until = lease_until(at, lease);
        self.write(|tx| claims::claim_records(tx, pair, holder, records, until, at))
    }

    fn extend_claim(
        &self,
        claim: &mut RecordClaim,
        records: &[ClaimKey],
        at: Timestamp,
    ) -> StoreResult<bool> {
        self.write(|tx| claims::extend(tx, claim, records, at))
    }

    fn renew_claim(&self, token: i64, lease: Duration, at: Timestamp) -> StoreResult<bool> {
        self.write(|tx| claims::renew(tx, token, lease_until(at, lease)))
    }

    fn claim_held(&self, token: i64) -> StoreResult<bool> {
        self.read(|c| claims::held(c, token))
    }

    fn release_claims(&self, tokens: &[i64]) -> StoreResult<()> {
        self.write(|tx| {
            for &token in tokens {
                claims::delete(tx, token)?;
            }
            Ok(())
        })
    }

    fn take_budget(
        &self,
        key: &str,
        rate: &BudgetRate,
        priority: BudgetPriority,
        at: Timestamp,
    ) -> StoreResult<BudgetGrant> {
        self.write(|tx| budget::take(tx, key, rate, priority, at))
    }

    fn pause_budget(&self, key: &str, until: Timestamp) -> StoreResult<()> {
        self.write(|tx| budget::pause(tx, key, until))
    }

    fn lock(&self, name: &str) -> StoreResult<ProcessLock> {
        lock::take(
            &self.inner.locks,
            self.inner.path.as_deref(),
            &self.inner.location,
            name,
        )
    }

    fn lock_token_refresh(&self, system: &str, wait: Duration) -> StoreResult<ProcessLock> {
        // The system's name may hold any character; the lock file's name holds its hex.
        lock::take_waiting(
            &self.inner.locks,
            self.inner.path.as_deref(),
            &self.inner.location,
            &format!("token-{system}"),
            &format!("token-{}", hex::encode(system)),
            wait,
        )
    }

    fn token(&self, system: &str) -> StoreResult<Option<OAuthToken>> {
        self.read(|c| tokens::get(c, system))
    }

    fn save_token(&self, system: &str, token: &OAuthToken, at: Timestamp) -> StoreResult<()> {
        self.write(|tx| tokens::save(tx, system, token, at))
    }

    fn delete_token(&self, system: &str) -> StoreResult<bool> {
        self.write(|tx| tokens::delete(tx, system))
    }

    fn create_oauth_state(&self, state: &OAuthState, at: Timestamp) -> StoreResult<()> {
        self.write(|tx| tokens::create_state(tx, state, at))
    }

    fn purge_oauth_states(&self, at: Timestamp) -> StoreResult<u64> {
        self.write(|tx| tokens::purge_states(tx, at))
    }

    fn consume_oauth_state(
        &self,
        nonce: &Secret,
        at: Timestamp,
    ) -> StoreResult<Option<ConsumedState>> {
        self.write(|tx| tokens::consume_state(tx, nonce, at))
    }

    fn inbox_insert(&self, events: &[InboxEvent], at: Timestamp) -> StoreResult<InsertSummary> {
        self.write(|tx| inbox::insert(tx, events, at))
    }

    fn inbox_claim(&self, lease: &Lease, at: Timestamp) -> StoreResult<Option<InboxClaim>> {
        self.write(|tx| inbox::claim(tx, lease, at))
    }

    fn inbox_ack(&self, claim: &InboxClaim, at: Timestamp) -> StoreResult<bool> {
        self.write(|tx| inbox::ack(tx, claim, at))
    }

    fn inbox_retry(&self, claim: &InboxClaim, retry: &RetryLater) -> StoreResult<bool> {
        self.write(|tx| inbox::retry(tx, claim, retry))
    }

    fn inbox_dead_letter(
        &self,
        claim: &InboxClaim,
        error: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        self.write(|tx| inbox::dead_letter(tx, claim, error, at))
    }

    fn inbox_end_leases(&self, _at: Timestamp) -> StoreResult<u64> {
        self.write(|tx| inbox::end_leases(tx))
    }

    fn inbox_end_leases_of(&self, instance: &str, _at: Timestamp) -> StoreResult<u64> {
        self.write(|tx| inbox::end_leases_of(tx, instance))
    }

    fn inbox_depth(&self) -> StoreResult<u64> {
        self.read(inbox::depth)
    }

    fn inbox_pending_events(&self) -> StoreResult<u64> {
        self.read(inbox::pending_events)
    }

    fn inbox_prune(&self, before: Timestamp) -> StoreResult<u64> {
        self.write(|tx| inbox::prune(tx, before))
    }

    fn add_dead_letter(&self, letter: &NewDeadLetter) -> StoreResult<i64> {
        self.write(|tx| inbox::add_dead_letter(tx, letter))
    }

    fn dead_letters(&self, query: &DeadLetterQuery) -> StoreResult<Vec<DeadLetter>> {
        self.read(|c| inbox::dead_letters(c, query))
    }

    fn retry_dead_letter(&self, id: i64, at: Timestamp) -> StoreResult<bool> {
        self.write(|tx| inbox::retry_dead_letter(tx, id, at))
    }

    fn drop_dead_letter(&self, id: i64) -> StoreResult<bool> {
        self.write(|tx| inbox::drop_dead_letter(tx, id))
    }

    fn snapshot_clear(&self, pair: &str, side: Side) -> StoreResult<()> {
        self.write(|tx| snapshot::clear(tx, pair, side))
    }

    fn snapshot_put(&self, pair: &str, side: Side, entries: &[SnapshotEntry]) -> StoreResult<()> {
        self.write(|tx| snapshot::put(tx, pair, side, entries))
    }

    fn snapshot_get(
        &self,
        pair: &str,
        side: Side,
        record_id: &str,
    ) -> StoreResult<Option<serde_json::Value>> {
        self.read(|c| snapshot::get(c, pair, side, record_id))
    }

    fn snapshot_by_link(
        &self,
        pair: &str,
        side: Side,
        link_value: &str,
    ) -> StoreResult<Vec<(String, serde_json::Value)>> {
        self.read(|c| snapshot::by_link(c, pair, side, link_value))
    }

    fn snapshot_by_match(
        &self,
        pair: &str,
        side: Side,
        key: &str,
    ) -> StoreResult<Vec<(String, serde_json::Value)>> {
        self.read(|c| snapshot::by_match(c, pair, side, key))
    }

    fn snapshot_count(&self, pair: &str, side: Side) -> StoreResult<u64> {
        self.read(|c| snapshot::count(c, pair, side))
    }

    fn snapshot_named_among_several(
        &self,
        pair: &str,
        side: Side,
        id: &str,
    ) -> StoreResult<Option<(String, String)>> {
        self.read(|c| snapshot::named_among_several(c, pair, side, id))
    }
}

#[cfg(test)]
mod tests;
