//! `PostgresStore`: the [`StateStore`] on PostgreSQL, for several `mapsync serve` instances (and
//! `sync` runs) sharing one store. The same contract as SQLite (the suite in `../contract/` runs
//! against both); what sharing adds: claims take the oldest due record with `FOR UPDATE SKIP
//! LOCKED`, so workers of every instance pull from one inbox without waiting on each other;
//! inserts of one record's events are serialised by a transaction advisory lock, so event ids
//! grow in commit order per record and an ack never covers an event it did not see; a stored
//! event is announced with `NOTIFY`, so idle workers of every instance wake at once.
//!
//! Transactions run at READ COMMITTED with explicit row locks; a serialisation failure,
//! deadlock or unique-key race is retried from the start, a few times. Migrations run at open
//! under an advisory lock, so instances starting together do not race. One schema per store
//! (`?schema=` in the URL, default `mapsync`), so several mappings can share a database.
//! Driver: tokio-postgres with a deadpool pool, on the store's own runtime (`bridge.rs`).

mod audit;
mod bridge;
mod budget;
mod claims;
mod inbox;
mod intents;
mod ledger;
mod links;
mod lock;
mod migrations;
mod outcomes;
mod runs;
mod snapshot;
mod tokens;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use jiff::Timestamp;
use tokio::runtime::{Handle, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::mapping::{Direction, Side};
use crate::store::sqlite::{lease_until, taken_outcome};
use crate::store::{
    AuditEntry, BudgetGrant, BudgetPriority, BudgetRate, ClaimKey, CommitReport, ConsumedState,
    CreateIntent, DeadLetter, DeadLetterQuery, InboxClaim, InboxEvent, InsertSummary, InstanceBeat,
    IntentSettlement, Lease, LedgerEntry, Link, LinkCounts, LinkQuery, NewDeadLetter, OAuthState,
    OAuthToken, Outcome, OutcomeRecord, PageCommit, PendingIntent, ProcessLock, RecordClaim,
    RecordShadow, RetryLater, Run, RunEnd, RunStart, Secret, SnapshotEntry, StateStore, StatusMark,
    StoreError, StoreResult, TakenLink,
};

/// The schema a store uses when its URL names none.
pub const DEFAULT_SCHEMA: &str = "mapsync";

/// The `NOTIFY` channel for stored inbox events; the payload is the schema's name.
const INBOX_CHANNEL: &str = "mapsync_inbox";

/// How often a transaction that lost a race (serialisation failure, deadlock, unique key) is
/// run again before the error is returned.
const RETRIES: u32 = 8;

/// How to reach a PostgreSQL state store.
#[derive(Clone)]
pub struct PostgresConfig {
    config: tokio_postgres::Config,
    /// The schema holding this store's tables.
    pub schema: String,
    /// Connections in the pool.
    pub pool_size: usize,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("location", &self.location())
            .finish()
    }
}

impl PostgresConfig {
    /// Parses a `postgres://user[:password]@host[:port]/database[?schema=name&…]` URL. The
    /// `schema` parameter is mapsync's; every other parameter goes to the driver.
    pub fn from_url(url: &str) -> StoreResult<PostgresConfig> {
        let invalid = |detail: String| StoreError::InvalidUrl { detail };
        let mut parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(invalid(format!("the scheme is {:?}", parsed.scheme())));
        }
        let mut schema = DEFAULT_SCHEMA.to_owned();
        let rest: Vec<(String, String)> = parsed
            .query_pairs()
            .filter_map(|(k, v)| {
                if k == "schema" {
                    schema = v.into_owned();
                    None
                } else {
                    Some((k.into_owned(), v.into_owned()))
                }
            })
            .collect();
        if schema.is_empty()
            || schema.len() > 63
            || !schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            || schema.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(invalid(format!(
                "the schema {schema:?} is not a plain lower-case name (a-z, 0-9, _; at most 63)"
            )));
        }
        if rest.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(rest);
        }
        let config: tokio_postgres::Config = parsed
            .as_str()
            .parse()
            .map_err(|e: tokio_postgres::Error| invalid(e.to_string()))?;
        if config.get_dbname().is_none() {
            return Err(invalid("it names no database (…/database)".to_owned()));
        }
        Ok(PostgresConfig {
            config,
            schema,
            pool_size: 8,
        })
    }

    /// The driver's configuration for one of the store's connections: the schema on the search
    /// path, a connect timeout.
    fn connect_config(&self) -> tokio_postgres::Config {
        let mut pg = self.config.clone();
        pg.options(format!("-c search_path={}", self.schema));
        pg.application_name("mapsync");
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(Duration::from_secs(10));
        }
        pg
    }

    /// Where the store is, for messages: host, port, database and schema; never the password.
    pub fn location(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
            None => "localhost".to_owned(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!(
            "postgres://{host}:{port}/{} (schema {})",
            self.config.get_dbname().unwrap_or(""),
            self.schema
        )
    }
}

/// The PostgreSQL state store. Cloning shares the pool.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// Drives the connections; shut down in the background on drop, so dropping the last clone
    /// inside async code is fine.
    runtime: Option<Runtime>,
    handle: Handle,
    config: PostgresConfig,
    location: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.pool.close();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.inner.location)
            .finish()
    }
}

impl PostgresStore {
    /// Connects, creates the schema if needed and migrates it (under an advisory lock).
    pub fn open(config: &PostgresConfig) -> StoreResult<PostgresStore> {
        let location = config.location();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("mapsync-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unreachable {
                location: location.clone(),
                detail: format!("cannot start the database runtime: {e}"),
            })?;
        let manager = Manager::from_config(
            config.connect_config(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::Unreachable {
                location: location.clone(),
                detail: e.to_string(),
            })?;
        let store = PostgresStore {
            inner: Arc::new(Inner {
                pool,
                handle: runtime.handle().clone(),
                runtime: Some(runtime),
                config: config.clone(),
                location,
            }),
        };
        store.block_on(async {
            let mut client = store.client().await?;
            migrations::migrate(&mut client, &store.inner.config.schema).await
        })?;
        Ok(store)
    }

    /// Where the store is (no password), for messages.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The schema version of the store.
    pub fn schema_version(&self) -> StoreResult<i64> {
        self.read(async |c| migrations::version(c).await)
    }

    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        let _context = self.inner.handle.enter();
        bridge::block_on(future)
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Unreachable {
                location: self.inner.location.clone(),
                detail: pool_detail(e),
            })
    }

    /// Runs `f` on a pooled connection outside an explicit transaction (single reads).
    fn read<T>(
        &self,
        f: impl AsyncFnOnce(&deadpool_postgres::Client) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.block_on(async {
            let client = self.client().await?;
            f(&client).await
        })
    }

    /// Runs `f` in one transaction and commits if it returns `Ok`; a transaction that lost a
    /// race to another one is run again from the start.
    fn write<T>(
        &self,
        f: impl AsyncFn(&deadpool_postgres::Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.block_on(async {
            let mut client = self.client().await?;
            let mut attempt = 0;
            loop {
                attempt += 1;
                let result = async {
                    let tx = client.transaction().await?;
                    let value = f(&tx).await?;
                    tx.commit().await?;
                    Ok(value)
                }
                .await;
                match result {
                    Err(error) if attempt < RETRIES && lost_race(&error) => {
                        tokio::time::sleep(Duration::from_millis(fastrand::u64(
                            1..=5 * attempt as u64,
                        )))
                        .await;
                    }
                    other => return other,
                }
            }
        })
    }

    #[cfg(test)]
    fn with_client<T>(&self, f: impl AsyncFnOnce(&deadpool_postgres::Client) -> T) -> T {
        self.block_on(async {
            let client = self.client().await.unwrap();
            f(&client).await
        })
    }
}

fn pool_detail(error: deadpool_postgres::PoolError) -> String {
    match error {
        deadpool_postgres::PoolError::Backend(e) => db_detail(&e),
        other => other.to_string(),
    }
}

/// The server's message for a database error, or the driver's.
pub(crate) fn db_detail(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}

/// Whether a transaction failed only because another one won a race, so running it again can
/// succeed.
fn lost_race(error: &StoreError) -> bool {
    let StoreError::Postgres(error) = error else {
        return false;
    };
    matches!(
        error.code(),
        Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::UNIQUE_VIOLATION
    )
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Runs a cached statement and returns its rows.
async fn query(c: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query(&statement, params).await?)
}

/// Runs a cached statement and returns its one row, if any.
async fn query_opt(
    c: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Option<Row>> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&statement, params).await?)
}

/// Runs a cached statement and returns how many rows it changed.
async fn execute(c: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<u64> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.execute(&statement, params).await?)
}

/// Column `i` of a row, or a decode error (never a panic) if it has another type.
fn col<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> StoreResult<T> {
    row.try_get(i)
        .map_err(|e| StoreError::decode("database column", db_detail(&e)))
}

impl StateStore for PostgresStore {
    fn shared(&self) -> bool {
        true
    }

    fn watch_inbox(&self, wake: Arc<dyn Fn() + Send + Sync>) -> StoreResult<()> {
        inbox::watch(
            &self.inner.handle,
            self.inner.config.connect_config(),
            self.inner.config.schema.clone(),
            self.inner.location.clone(),
            wake,
        );
        Ok(())
    }

    fn beat_instance(&self, instance: &str, at: Timestamp) -> StoreResult<()> {
        self.write(async |tx| claims::beat(tx, instance, at).await)
    }

    fn instances(&self, at: Timestamp) -> StoreResult<Vec<InstanceBeat>> {
        self.read(async |c| claims::instances(c, at).await)
    }

    fn link(&self, pair: &str, side: Side, record_id: &str) -> StoreResult<Option<Link>> {
        self.read(async |c| links::get(c, pair, side, record_id).await)
    }

    fn upsert_link(&self, pair: &str, link: &Link, at: Timestamp) -> StoreResult<()> {
        self.write(async |tx| links::upsert(tx, pair, link, at).await)
    }

    fn mark_link_deleted(
        &self,
        pair: &str,
        side: Side,
        record_id: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        self.write(async |tx| links::mark_deleted(tx, pair, side, record_id, at).await)
    }

    fn links(&self, pair: &str, query: &LinkQuery) -> StoreResult<Vec<Link>> {
        self.read(async |c| links::list(c, pair, query).await)
    }

    fn link_counts(&self, pair: &str) -> StoreResult<LinkCounts> {
        self.read(async |c| links::counts(c, pair).await)
    }

    fn record_shadow(&self, pair: &str, side: Side, record_id: &str) -> StoreResult<RecordShadow> {
        self.read(async |c| ledger::record_shadow(c, pair, side, record_id).await)
    }

    fn write_ledger(&self, pair: &str, entries: &[LedgerEntry], at: Timestamp) -> StoreResult<()> {
        self.write(async |tx| ledger::write(tx, pair, entries, at).await)
    }

    fn status_mark(
        &self,
        pair: &str,
        side: Side,
        record_id: &str,
    ) -> StoreResult<Option<StatusMark>> {
        self.read(async |c| ledger::status_mark(c, pair, side, record_id).await)
    }

    fn set_status_mark(&self, pair: &str, mark: &StatusMark, at: Timestamp) -> StoreResult<()> {
        self.write(async |tx| {
            ledger::set_status_marks(tx, pair, std::slice::from_ref(mark), at).await
        })
    }

    fn outcome(
        &self,
        pair: &str,
        direction: Direction,
        source_id: &str,
    ) -> StoreResult<Option<OutcomeRecord>> {
        self.read(async |c| outcomes::get(c, pair, direction, source_id).await)
    }

    fn record_outcomes(&self, pair: &str, list: &[Outcome], at: Timestamp) -> StoreResult<()> {
        self.write(async |tx| outcomes::record(tx, pair, list, at).await)
    }

    fn failed_outcomes(
        &self,
        pair: &str,
        direction: Direction,
        limit: u32,
    ) -> StoreResult<Vec<OutcomeRecord>> {
        self.read(async |c| outcomes::failed(c, pair, direction, limit).await)
    }

    fn record_intent(&self, pair: &str, intent: &CreateIntent, at: Timestamp) -> StoreResult<()> {
        self.write(async |tx| intents::record(tx, pair, intent, at).await)
    }

    fn settle_intents(&self, pair: &str, settlements: &[IntentSettlement]) -> StoreResult<()> {
        self.write(async |tx| intents::settle(tx, pair, settlements).await)
    }

    fn unsettled_intents(
        &self,
        pair: &str,
        direction: Direction,
    ) -> StoreResult<Vec<PendingIntent>> {
        self.read(async |c| intents::unsettled(c, pair, direction).await)
    }

    fn begin_run(
        &self,
        pair: &str,
        direction: Direction,
        start: RunStart,
        at: Timestamp,
    ) -> StoreResult<Run> {
        self.write(async |tx| runs::begin(tx, pair, direction, start, at).await)
    }

    fn run(&self, run_id: &str) -> StoreResult<Option<Run>> {
        self.read(async |c| runs::get(c, run_id).await)
    }

    fn latest_run(&self, pair: &str, direction: Direction) -> StoreResult<Option<Run>> {
        self.read(async |c| runs::latest(c, pair, direction).await)
    }

    fn finish_run(&self, run_id: &str, end: &RunEnd) -> StoreResult<()> {
        self.write(async |tx| runs::finish(tx, run_id, end).await)
    }

    fn commit_page(&self, pair: &str, commit: &PageCommit) -> StoreResult<CommitReport> {
        self.write(async |tx| {
            claims::fence(tx, &commit.fence).await?;
            let mut report = CommitReport::default();
            for link in &commit.links {
                match links::taken(tx, pair, link).await? {
                    Some((side, linked_to)) => report.taken.push(TakenLink {
                        link: link.clone(),
                        side,
                        linked_to,
                    }),
                    None => links::upsert(tx, pair, link, commit.at).await?,
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
            ledger::write(tx, pair, &ledger, commit.at).await?;
            ledger::set_status_marks(tx, pair, &commit.statuses, commit.at).await?;
            outcomes::record(tx, pair, &outcomes, commit.at).await?;
            intents::settle(tx, pair, &commit.settled_intents).await?;
            for letter in &commit.dead_letters {
                inbox::add_dead_letter(tx, letter).await?;
            }
            if let Some(checkpoint) = &commit.checkpoint {
                runs::checkpoint(tx, pair, checkpoint, commit.at).await?;
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
        self.write(async |tx| claims::claim_records(tx, pair, holder, records, until, at).await)
    }

    fn extend_claim(
        &self,
        claim: &mut RecordClaim,
        records: &[ClaimKey],
        at: Timestamp,
    ) -> StoreResult<bool> {
        // Worked on a copy, so a transaction run again starts from the claim as it was.
        let extended = self.write(async |tx| {
            let mut copy = claim.clone();
            let ok = claims::extend(tx, &mut copy, records, at).await?;
            Ok((ok, copy))
        })?;
        if extended.0 {
            *claim = extended.1;
        }
        Ok(extended.0)
    }

    fn renew_claim(&self, token: i64, lease: Duration, at: Timestamp) -> StoreResult<bool> {
        let until = lease_until(at, lease);
        self.write(async |tx| claims::renew(tx, token, until).await)
    }

    fn claim_held(&self, token: i64) -> StoreResult<bool> {
        self.read(async |c| claims::held(c, token).await)
    }

    fn release_claims(&self, tokens: &[i64]) -> StoreResult<()> {
        self.write(async |tx| {
            for &token in tokens {
                claims::delete(tx, token).await?;
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
        self.write(async |tx| budget::take(tx, key, rate, priority, at).await)
    }

    fn pause_budget(&self, key: &str, until: Timestamp) -> StoreResult<()> {
        self.write(async |tx| budget::pause(tx, key, until).await)
    }

    fn lock(&self, name: &str) -> StoreResult<ProcessLock> {
        lock::take(
            &self.inner.handle,
            &self.inner.config.connect_config(),
            &self.inner.config.schema,
            &self.inner.location,
            name,
        )
    }

    fn lock_token_refresh(&self, system: &str, wait: Duration) -> StoreResult<ProcessLock> {
        lock::take_token(
            &self.inner.handle,
            &self.inner.config.connect_config(),
            &self.inner.config.schema,
            &self.inner.location,
            system,
            wait,
        )
    }

    fn token(&self, system: &str) -> StoreResult<Option<OAuthToken>> {
        self.read(async |c| tokens::get(c, system).await)
    }

    fn save_token(&self, system: &str, token: &OAuthToken, at: Timestamp) -> StoreResult<()> {
        self.write(async |tx| tokens::save(tx, system, token, at).await)
    }

    fn delete_token(&self, system: &str) -> StoreResult<bool> {
        self.write(async |tx| tokens::delete(tx, system).await)
    }

    fn create_oauth_state(&self, state: &OAuthState, at: Timestamp) -> StoreResult<()> {
        self.write(async |tx| tokens::create_state(tx, state, at).await)
    }

    fn purge_oauth_states(&self, at: Timestamp) -> StoreResult<u64> {
        self.write(async |tx| tokens::purge_states(tx, at).await)
    }

    fn audit_append(&self, pair: &str, entries: &[AuditEntry], keep: u32) -> StoreResult<()> {
        self.write(async |tx| audit::append(tx, pair, entries, keep).await)
    }

    fn audit_trail(
        &self,
        pair: &str,
        side: Side,
        record_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        self.read(async |c| audit::trail(c, pair, side, record_id, limit).await)
    }

    fn consume_oauth_state(
        &self,
        nonce: &Secret,
        at: Timestamp,
    ) -> StoreResult<Option<ConsumedState>> {
        self.write(async |tx| tokens::consume_state(tx, nonce, at).await)
    }

    fn inbox_insert(&self, events: &[InboxEvent], at: Timestamp) -> StoreResult<InsertSummary> {
        let schema = &self.inner.config.schema;
        self.write(async |tx| inbox::insert(tx, schema, events, at).await)
    }

    fn inbox_claim(&self, lease: &Lease, at: Timestamp) -> StoreResult<Option<InboxClaim>> {
        self.write(async |tx| inbox::claim(tx, lease, at).await)
    }

    fn inbox_ack(&self, claim: &InboxClaim, at: Timestamp) -> StoreResult<bool> {
        self.write(async |tx| inbox::ack(tx, claim, at).await)
    }

    fn inbox_retry(&self, claim: &InboxClaim, retry: &RetryLater) -> StoreResult<bool> {
        self.write(async |tx| inbox::retry(tx, claim, retry).await)
    }

    fn inbox_dead_letter(
        &self,
        claim: &InboxClaim,
        error: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        self.write(async |tx| inbox::dead_letter(tx, claim, error, at).await)
    }

    fn inbox_end_leases(&self, _at: Timestamp) -> StoreResult<u64> {
        self.write(async |tx| inbox::end_leases(tx).await)
    }

    fn inbox_end_leases_of(&self, instance: &str, _at: Timestamp) -> StoreResult<u64> {
        self.write(async |tx| inbox::end_leases_of(tx, instance).await)
    }

    fn inbox_depth(&self) -> StoreResult<u64> {
        self.read(async |c| inbox::depth(c).await)
    }

    fn inbox_pending_events(&self) -> StoreResult<u64> {
        self.read(async |c| inbox::pending_events(c).await)
    }

    fn inbox_prune(&self, before: Timestamp) -> StoreResult<u64> {
        self.write(async |tx| inbox::prune(tx, before).await)
    }

    fn add_dead_letter(&self, letter: &NewDeadLetter) -> StoreResult<i64> {
        self.write(async |tx| inbox::add_dead_letter(tx, letter).await)
    }

    fn dead_letters(&self, query: &DeadLetterQuery) -> StoreResult<Vec<DeadLetter>> {
        self.read(async |c| inbox::dead_letters(c, query).await)
    }

    fn retry_dead_letter(&self, id: i64, at: Timestamp) -> StoreResult<bool> {
        let schema = &self.inner.config.schema;
        self.write(async |tx| inbox::retry_dead_letter(tx, schema, id, at).await)
    }

    fn drop_dead_letter(&self, id: i64) -> StoreResult<bool> {
        self.write(async |tx| inbox::drop_dead_letter(tx, id).await)
    }

    fn snapshot_clear(&self, pair: &str, side: Side) -> StoreResult<()> {
        self.write(async |tx| snapshot::clear(tx, pair, side).await)
    }

    fn snapshot_put(&self, pair: &str, side: Side, entries: &[SnapshotEntry]) -> StoreResult<()> {
        self.write(async |tx| snapshot::put(tx, pair, side, entries).await)
    }

    fn snapshot_get(
        &self,
        pair: &str,
        side: Side,
        record_id: &str,
    ) -> StoreResult<Option<serde_json::Value>> {
        self.read(async |c| snapshot::get(c, pair, side, record_id).await)
    }

    fn snapshot_by_link(
        &self,
        pair: &str,
        side: Side,
        link_value: &str,
    ) -> StoreResult<Vec<(String, serde_json::Value)>> {
        self.read(async |c| snapshot::by_link(c, pair, side, link_value).await)
    }

    fn snapshot_by_match(
        &self,
        pair: &str,
        side: Side,
        key: &str,
    ) -> StoreResult<Vec<(String, serde_json::Value)>> {
        self.read(async |c| snapshot::by_match(c, pair, side, key).await)
    }

    fn snapshot_count(&self, pair: &str, side: Side) -> StoreResult<u64> {
        self.read(async |c| snapshot::count(c, pair, side).await)
    }

    fn snapshot_named_among_several(
        &self,
        pair: &str,
        side: Side,
        id: &str,
    ) -> StoreResult<Option<(String, String)>> {
        self.read(async |c| snapshot::named_among_several(c, pair, side, id).await)
    }
}

#[cfg(test)]
mod tests;
