//! `sync`: the full sync of one direction. Indexes the target, then streams the source page by
//! page: plan, apply, and commit links, ledger, outcomes and the checkpoint in one transaction
//! once the target acknowledged the page. A killed sync resumes from its checkpoint.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RunnerError;
use super::apply::{Applied, Sides, Writer};
use super::claims::{claim_page, keep_alive, last_touched, sync_lock};
use super::lookup::{Planner, link_for, links, taken_conflict};
use super::report::{Counts, SyncOptions, SyncReport};
use super::worker::LEASE;
use crate::connector::{Connector, PageCursor, PageGuard};

/// The most pages one listing may have (a million records at 100 a page, ten times over): a
/// listing past it is taken for a loop in the API's paging.
pub(crate) const MAX_PAGES: u64 = 100_000;
use crate::engine::{Engine, LinkValue, LinkedBy, PlanKind, RecordPlan};
use crate::expr::Vars;
use crate::mapping::model::{ErrorClass, ListOp, Mapping};
use crate::mapping::{Direction, Side};
use crate::store::{
    Checkpoint, ClaimKey, CreateIntent, IntentSettlement, LedgerEntry, LedgerKind, LinkState,
    NewDeadLetter, Outcome, OutcomeKind, PageCommit, RecordClaim, RunCheckpoint, RunEnd, RunStart,
    RunState, SnapshotEntry, SqliteStore, StateStore, StoreError,
};

/// Told about progress as the sync goes.
pub trait Observer {
    /// The target index holds `n` records.
    fn indexed(&mut self, _n: u64) {}
    /// The source listing reports this many records in all.
    fn total(&mut self, _total: u64) {}
    /// A page of source records is done.
    fn page(&mut self, _records: u64, _counts: &Counts) {}
    /// A record's plan (every record in a dry run; the ones that changed something otherwise).
    fn plan(&mut self, _plan: &RecordPlan) {}
    /// The run continues a killed or interrupted one that had already done this many source
    /// records (before the first page of this invocation).
    fn resumed(&mut self, _records_done: u64) {}
    /// A planned write failed with this message (the record is retried on the next run).
    fn failed(&mut self, _plan: &RecordPlan, _message: &str) {}
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {}

/// Which listing the checkpoint is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    /// The source's live records.
    Live,
    /// The source's deleted records, where they are listed apart.
    Deleted,
}

/// The resume point stored in a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Position {
    phase: Phase,
    cursor: PageCursor,
}

/// The connectors by system name.
pub type Connectors = BTreeMap<String, Connector>;

/// Runs a full sync of one direction.
pub async fn sync(
    mapping: &Mapping,
    store: &dyn StateStore,
    connectors: &Connectors,
    opts: &SyncOptions,
    observer: &mut dyn Observer,
) -> Result<SyncReport, RunnerError> {
    let started = Instant::now();
    let engine = Engine::new(mapping, opts.direction);
    let pair = mapping.pair_key();
    let dir = opts.direction;
    let (src_side, tgt_side) = (dir.source(), dir.target());
    let conn = |side: Side| {
        let system = &mapping.collection(side).system;
        connectors
            .get(system)
            .ok_or_else(|| RunnerError::Internal(system.clone()))
    };
    let (src_conn, tgt_conn) = (conn(src_side)?, conn(tgt_side)?);
    let vars_for = |side: Side| {
        let fields: Vec<String> = mapping.pair.mapped_fields(side).into_iter().collect();
        Vars::new().with("mapped_fields", &Value::from(fields))
    };
    let (src_vars, tgt_vars) = (vars_for(src_side), vars_for(tgt_side));

    // A full sync of a direction holds its run lock from before it touches the snapshot (or
    // resumes a run) to the end; a second one refuses. A dry run takes no lock: it indexes into
    // a private snapshot and writes nothing shared.
    let _run_lock = if opts.dry_run {
        None
    } else {
        match store.lock(&sync_lock(&pair, dir)) {
            Ok(lock) => Some(lock),
            Err(StoreError::LockHeld { location, .. }) => {
                return Err(RunnerError::Busy(format!(
                    "a `mapsync sync --direction {dir}` of this pair is already running on the state store \
                     {location}; wait for it to finish (or stop it), then run again"
                )));
            }
            Err(e) => return Err(e.into()),
        }
    };
    let private;
    let snapshot: &dyn StateStore = if opts.dry_run {
        private = SqliteStore::open_in_memory()?;
        &private
    } else {
        store
    };
    let target_records = index(&engine, snapshot, &pair, tgt_conn, &tgt_vars).await?;
    observer.indexed(target_records);
    if target_records > 0 && mapping.pair.match_keys.is_none() && !opts.allow_unmatched {
        let links = store.link_counts(&pair)?;
        if links.active + links.deleted_on_home + links.deleted_on_external + links.conflict == 0 {
            return Err(RunnerError::Refused(format!(
                "the {} collection already holds {target_records} records, no record is linked yet, and the mapping declares no \
                 match keys: a first sync would create duplicates. Declare `pair.match` so existing records are linked, or pass \
                 --allow-unmatched if the target's records are unrelated",
                engine.target().name
            )));
        }
    }

    let now = || whole_seconds(Timestamp::now());
    let sample = opts.limit.is_some();
    let run = if opts.dry_run {
        None
    } else {
        let start = if opts.fresh || sample {
            RunStart::New
        } else {
            RunStart::ResumeOrNew
        };
        Some(store.begin_run(&pair, dir, start, now())?)
    };
    let holder = format!(
        "sync-{dir}-{}",
        run.as_ref().map(|r| r.id.as_str()).unwrap_or("dry-run")
    );
    let resumed = run.as_ref().and_then(|r| r.checkpoint.clone());
    let mut counts: Counts = run
        .as_ref()
        .filter(|r| r.checkpoint.is_some())
        .and_then(|r| serde_json::from_value(r.counters.clone()).ok())
        .unwrap_or_default();
    let mut position = resumed
        .as_ref()
        .and_then(|c| serde_json::from_value::<Position>(c.cursor.clone()).ok())
        .unwrap_or(Position {
            phase: Phase::Live,
            cursor: PageCursor::First,
        });
    let mut page_no = resumed.as_ref().map(|c| c.page).unwrap_or(0);
    let mut records_done = resumed.as_ref().map(|c| c.records_done).unwrap_or(0);
    if records_done > 0 {
        observer.resumed(records_done);
    }
    let mut pages = 0u64;
    let mut processed = 0u64;
    // Creates of earlier attempts whose outcome is unknown (a lost answer, a killed run): the
    // fresh index above is the look-up that resolves them. One found through its link field is
    // linked and counted as the create it was; one not found is created again, under the same
    // key.
    let pending: BTreeMap<String, String> = store
        .unsettled_intents(&pair, dir)?
        .into_iter()
        .map(|p| (p.intent.source_id, p.intent.attempt_key))
        .collect();

    let mut guard = PageGuard::new(&src_conn.system().name, &engine.source().name, MAX_PAGES);
    let result: Result<(), RunnerError> = async {
        loop {
            let op: &ListOp = match position.phase {
                Phase::Live => &engine.source().list,
                Phase::Deleted => match &engine.source().list_deleted {
                    Some(op) => op,
                    None => break,
                },
            };
            let listed_at = Timestamp::now();
            let page = src_conn
                .list_page(engine.source(), op, &position.cursor, &src_vars)
                .await
                .map_err(|source| RunnerError::List {
                    what: format!("{} records (page {})", engine.source().name, page_no + 1),
                    source: Box::new(source),
                })?;
            guard
                .check(&position.cursor, page.records.len(), page.next.as_ref())
                .map_err(|source| RunnerError::List {
                    what: format!("{} records", engine.source().name),
                    source: Box::new(source),
                })?;
            if let (Some(t), true) = (page.total, pages == 0) {
                observer.total(t);
            }
            let mut records = page.records;
            if let Some(limit) = opts.limit {
                records.truncate(
                    usize::try_from(limit.saturating_sub(processed)).unwrap_or(usize::MAX),
                );
            }
            // The ledger's times are exact, so a write is never stamped later than it happened
            // (a rounded-up stamp would look like a change made after the next listing); the
            // text that templates see is whole seconds.
            let stamp = Timestamp::now();
            let now_text = whole_seconds(stamp).to_string();
            let planner = Planner {
                engine: &engine,
                store,
                snapshot,
                pair: &pair,
                now: &now_text,
            };
            let deleted = position.phase == Phase::Deleted;
            let page_len = records.len() as u64;
            processed += page_len;
            records_done += page_len;
            pages += 1;
            page_no += 1;
            let next = match (page.next, opts.limit) {
                (_, Some(l)) if processed >= l => None,
                (n, _) => n,
            };
            let next_position = match next {
                Some(cursor) => Some(Position {
                    phase: position.phase,
                    cursor,
                }),
                None if position.phase == Phase::Live && engine.source().list_deleted.is_some() => {
                    Some(Position {
                        phase: Phase::Deleted,
                        cursor: PageCursor::First,
                    })
                }
                None => None,
            };
            if opts.dry_run {
                let mut plans = Vec::with_capacity(records.len());
                for r in &records {
                    plans.push(planner.plan(r, deleted)?);
                }
                one_source_per_target(&engine, &mut plans);
                check_rails(opts, &counts, &plans)?;
                for p in &plans {
                    count(&mut counts, p, None, &pending);
                    observer.plan(p);
                }
            } else {
                let cursor = next_position
                    .as_ref()
                    .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
                    .unwrap_or(Value::Null);
                let checkpoint = RunCheckpoint {
                    run_id: run.as_ref().map(|r| r.id.clone()).unwrap_or_default(),
                    checkpoint: Checkpoint {
                        cursor,
                        page: page_no,
                        records_done,
                    },
                    counters: None,
                };
                let page_ctx = PageCtx {
                    engine: &engine,
                    store,
                    planner: &planner,
                    pair: &pair,
                    holder: &holder,
                    conns: (src_conn, tgt_conn),
                    vars: (&src_vars, &tgt_vars),
                    opts,
                    listed_at,
                    deleted,
                    page_no,
                    stamp,
                    pending: &pending,
                };
                apply_page(&page_ctx, records, checkpoint, &mut counts, observer).await?;
            }
            observer.page(page_len, &counts);
            match next_position {
                Some(p) => {
                    if p.phase != position.phase {
                        guard = PageGuard::new(
                            &src_conn.system().name,
                            &engine.source().name,
                            MAX_PAGES,
                        );
                    }
                    position = p
                }
                None => break,
            }
        }
        Ok(())
    }
    .await;

    if let Some(run) = &run {
        let state = if result.is_ok() {
            RunState::Done
        } else {
            RunState::Failed
        };
        let end = RunEnd {
            state,
            counters: serde_json::to_value(&counts).unwrap_or(Value::Null),
            at: now(),
        };
        store.finish_run(&run.id, &end)?;
    }
    result?;
    let mut requests = BTreeMap::new();
    for (name, c) in connectors {
        requests.insert(name.clone(), c.stats());
    }
    Ok(SyncReport {
        direction: dir,
        run_id: run.map(|r| r.id),
        resumed_at_page: resumed.map(|c| c.page),
        dry_run: opts.dry_run,
        counts,
        pages,
        target_records,
        requests,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// How long a page waits for records another process holds before it leaves them to the next
/// run: twice the lease, so even the claims of a process that died are taken over first.
const BUSY_LIMIT: Duration = Duration::from_secs(2 * LEASE.as_secs() + 10);

/// How often a page tries again to claim the records another process holds.
const BUSY_POLL: Duration = Duration::from_millis(50);

/// What applying one page needs.
struct PageCtx<'a> {
    engine: &'a Engine<'a>,
    store: &'a dyn StateStore,
    planner: &'a Planner<'a>,
    pair: &'a str,
    holder: &'a str,
    conns: (&'a Connector, &'a Connector),
    vars: (&'a Vars, &'a Vars),
    opts: &'a SyncOptions,
    /// When the page was listed: a pair that someone else worked since is read again.
    listed_at: Timestamp,
    deleted: bool,
    page_no: u64,
    stamp: Timestamp,
    /// Create intents left pending by earlier attempts (source id → key): their records are
    /// looked up in the fresh index, and a record created again reuses its key.
    pending: &'a BTreeMap<String, String>,
}

/// Plans, writes and commits one page under claims (one pair, one worker): the records this
/// run can claim go first, records held by another process (a `serve` worker, the other
/// direction's sync) are tried again once free, each batch is committed fenced by its claims,
/// and the checkpoint moves with the page's last batch.
async fn apply_page(
    p: &PageCtx<'_>,
    records: Vec<Value>,
    checkpoint: RunCheckpoint,
    counts: &mut Counts,
    observer: &mut dyn Observer,
) -> Result<(), RunnerError> {
    let engine = p.engine;
    let store = p.store;
    let tgt_side = engine.direction().target();
    let mut pending = records;
    let waiting_since = Instant::now();
    loop {
        let claimed = claim_page(
            store,
            engine,
            p.pair,
            p.holder,
            std::mem::take(&mut pending),
            LEASE,
            Timestamp::now(),
        )?;
        let mut busy = claimed.busy;
        let mut batch: Vec<(Value, Option<RecordClaim>)> =
            claimed.unnamed.into_iter().map(|r| (r, None)).collect();
        for (r, c) in claimed.mine {
            match refresh(p, r, &c).await {
                Ok(Refreshed::Plan(r)) => batch.push((r, Some(c))),
                Ok(Refreshed::Gone) => store.release_claims(&[c.token])?,
                Ok(Refreshed::Unreadable(id)) => {
                    store.release_claims(&[c.token])?;
                    tracing::warn!(
                        source_id = %id,
                        "Another process changed this pair after the page was listed and the mapping declares no `read` to see its change; the next sync takes it."
                    );
                    counts.seen += 1;
                    counts.skipped += 1;
                }
                Err(e) => {
                    store.release_claims(&[c.token])?;
                    return Err(e);
                }
            }
        }
        let mut planned = Vec::with_capacity(batch.len());
        for (r, _) in &batch {
            planned.push(p.planner.plan(r, p.deleted)?);
        }
        one_source_per_target(engine, &mut planned);
        let mut plans = Vec::with_capacity(batch.len());
        let mut claims = Vec::with_capacity(batch.len());
        let mut lost_race = Vec::new();
        for ((r, mut c), plan) in batch.into_iter().zip(planned) {
            // A target found outside the claim (a link field, a match key) is claimed too
            // before it is written; if someone else holds it, the record waits.
            if let (Some(t), Some(claim)) = (&plan.target_id, c.as_mut())
                && !claim.covers(tgt_side, t)
                && !store.extend_claim(
                    claim,
                    &[ClaimKey::new(tgt_side, t.clone())],
                    Timestamp::now(),
                )?
            {
                lost_race.push(claim.token);
                busy.push(r);
                continue;
            }
            plans.push(plan);
            claims.push(c);
        }
        store.release_claims(&lost_race)?;
        let tokens: Vec<i64> = claims.iter().flatten().map(|c| c.token).collect();
        let by_source: HashMap<String, i64> = plans
            .iter()
            .zip(&claims)
            .filter_map(|(plan, c)| Some((plan.source_id.clone(), c.as_ref()?.token)))
            .collect();
        let last = busy.is_empty() || waiting_since.elapsed() > BUSY_LIMIT;
        let result = write_batch(
            p,
            plans,
            &by_source,
            last.then(|| checkpoint.clone()),
            counts,
            observer,
        )
        .await;
        store.release_claims(&tokens)?;
        result?;
        if busy.is_empty() {
            return Ok(());
        }
        if waiting_since.elapsed() > BUSY_LIMIT {
            // Left to the next run: their holder is working them right now.
            for r in &busy {
                let id = engine.source().id_of(r).unwrap_or_default();
                tracing::warn!(source_id = %id, "A record stayed held by another process; the next sync takes it.");
                counts.seen += 1;
                counts.skipped += 1;
            }
            return Ok(());
        }
        tokio::time::sleep(BUSY_POLL).await;
        pending = busy;
    }
}

/// What [`refresh`] found for a listed record.
enum Refreshed {
    /// Plan this record (as listed, or as read again).
    Plan(Value),
    /// The record is gone since the listing.
    Gone,
    /// Someone else worked its pair since the listing and a side declares no `read`, so it
    /// cannot be read again: planning the listed copy could undo their write. Left to the
    /// next run.
    Unreadable(String),
}

/// The source record to plan: as listed, or read again when someone else worked its pair
/// since the page was listed (the listing may predate their write).
/// The linked target's snapshot entry is refreshed too.
async fn refresh(
    p: &PageCtx<'_>,
    listed: Value,
    claim: &RecordClaim,
) -> Result<Refreshed, RunnerError> {
    let engine = p.engine;
    let dir = engine.direction();
    let (src_side, tgt_side) = (dir.source(), dir.target());
    let touched = |side: Side, id: &str| -> Result<bool, RunnerError> {
        Ok(last_touched(p.store, p.pair, side, id)?.is_some_and(|at| at >= p.listed_at))
    };
    let Some(source_id) = engine.source().id_of(&listed) else {
        return Ok(Refreshed::Plan(listed));
    };
    let target_id = claim
        .keys
        .iter()
        .find(|k| k.side == tgt_side)
        .map(|k| k.record_id.clone());
    let stale = touched(src_side, &source_id)?
        || match &target_id {
            Some(t) => touched(tgt_side, t)?,
            None => false,
        };
    if !stale {
        return Ok(Refreshed::Plan(listed));
    }
    if engine.source().read.is_none() || (target_id.is_some() && engine.target().read.is_none()) {
        return Ok(Refreshed::Unreadable(source_id));
    }
    let read_err = |what: String| {
        move |source: crate::connector::ConnectorError| RunnerError::List {
            what,
            source: Box::new(source),
        }
    };
    let fresh = p
        .conns
        .0
        .read(engine.source(), &source_id, p.vars.0)
        .await
        .map_err(read_err(format!("{} {source_id}", engine.source().name)))?;
    if let Some(t) = &target_id {
        let target = p
            .conns
            .1
            .read(engine.target(), t, p.vars.1)
            .await
            .map_err(read_err(format!("{} {t}", engine.target().name)))?;
        if let Some(record) = target.filter(|r| !engine.is_deleted(tgt_side, r)) {
            p.store.snapshot_put(
                p.pair,
                tgt_side,
                &[snapshot_entry(engine, t.clone(), record)],
            )?;
        }
    }
    Ok(fresh.map_or(Refreshed::Gone, Refreshed::Plan))
}

/// `at` cut to whole seconds (never rounded up: a stamp must not lie in the future).
fn whole_seconds(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).unwrap_or(at)
}

/// Writes one batch of planned records and commits it, fenced by their claims; the checkpoint goes
/// with it when given.
async fn write_batch(
    p: &PageCtx<'_>,
    plans: Vec<RecordPlan>,
    claims: &HashMap<String, i64>,
    checkpoint: Option<RunCheckpoint>,
    counts: &mut Counts,
    observer: &mut dyn Observer,
) -> Result<(), RunnerError> {
    let (engine, store, pair) = (p.engine, p.store, p.pair);
    let dir = engine.direction();
    check_rails(p.opts, counts, &plans)?;
    let mut intent_keys = BTreeMap::new();
    for plan in plans.iter().filter(|plan| plan.kind == PlanKind::Create) {
        let key = p
            .pending
            .get(&plan.source_id)
            .cloned()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let intent = CreateIntent {
            direction: dir,
            source_id: plan.source_id.clone(),
            attempt_key: key,
        };
        store.record_intent(pair, &intent, p.stamp)?;
        intent_keys.insert(intent.source_id, intent.attempt_key);
    }
    let now_text = whole_seconds(p.stamp).to_string();
    let tokens: Vec<i64> = claims.values().copied().collect();
    // Checked before every remote write: a record whose claim was taken over is not written.
    let fence = |source_id: &str| match claims.get(source_id) {
        Some(&token) => store.claim_held(token).unwrap_or(false),
        None => true,
    };
    let writer = Writer {
        fence: Some(&fence),
        engine,
        source: p.conns.0,
        target: p.conns.1,
        vars: Sides {
            source: p.vars.0,
            target: p.vars.1,
        },
        concurrency: p.opts.concurrency,
        now: &now_text,
        page: p.page_no,
        writes: Default::default(),
        intent_keys: &intent_keys,
    };
    // The heartbeat keeps the claims while the writes take their time; a claim lost anyway
    // (the process stalled past its lease) stops the page before it writes more.
    let mut applied = tokio::select! {
        applied = writer.apply(plans) => applied,
        () = keep_alive(store, &tokens, LEASE) => {
            return Err(StoreError::ClaimLost { token: tokens.first().copied().unwrap_or_default() }.into());
        }
    };
    let conflicts = settle_existing(engine, store, pair, &mut applied)?;
    writer.write_back_conflicts(&mut applied, &conflicts).await;
    super::failpoint::hit("before-commit", p.page_no, 0);
    let mut commit = PageCommit::new(p.stamp);
    let mut tentative = counts.clone();
    for a in &applied {
        count(&mut tentative, &a.plan, Some(a), p.pending);
        record(&mut commit, dir, a);
    }
    commit.fence = tokens;
    commit.checkpoint = checkpoint.map(|c| RunCheckpoint {
        counters: serde_json::to_value(&tentative).ok(),
        ..c
    });
    let checkpointed = commit.checkpoint.is_some();
    let report = store.commit_page(pair, &commit)?;
    if checkpointed {
        super::failpoint::hit("after-commit", p.page_no, 0);
    }
    let src_side = dir.source();
    for a in applied.iter_mut() {
        if let Some(t) = report
            .taken
            .iter()
            .find(|t| t.link.id_on(src_side) == a.plan.source_id)
        {
            a.plan.kind = PlanKind::Conflict;
            a.plan.reason = Some(format!(
                "the {} record {} was linked to {} by another process meanwhile; resolve the duplicate by hand",
                t.side.as_str(),
                t.link.id_on(t.side),
                t.linked_to
            ));
        }
    }
    let mut audit = Vec::new();
    for a in &applied {
        count(counts, &a.plan, Some(a), p.pending);
        if a.plan.kind != PlanKind::Unchanged || a.result.is_err() {
            observer.plan(&a.plan);
        }
        if let Err(e) = &a.result {
            observer.failed(&a.plan, &e.message);
        }
        super::narrate::log(dir, engine, a);
        audit.extend(super::audit::applied(dir, engine, a, p.stamp));
    }
    super::audit::record(store, pair, &audit);
    Ok(())
}

/// A target record as the snapshot keeps it (with the ids its link field names among several,
/// for a merged record).
fn snapshot_entry(engine: &Engine<'_>, record_id: String, record: Value) -> SnapshotEntry {
    let side = engine.direction().target();
    let (link_value, several) = match engine.link_value(side, &record) {
        LinkValue::One(id) => (Some(id), Vec::new()),
        LinkValue::Several(ids) => (None, ids),
        LinkValue::None => (None, Vec::new()),
    };
    SnapshotEntry {
        record_id,
        link_value,
        match_key: engine.match_key(side, &record),
        several,
        record,
    }
}

/// Lists every live target record into the snapshot; returns how many there are.
async fn index(
    engine: &Engine<'_>,
    store: &dyn StateStore,
    pair: &str,
    conn: &Connector,
    vars: &Vars,
) -> Result<u64, RunnerError> {
    let side = engine.direction().target();
    let collection = engine.target();
    store.snapshot_clear(pair, side)?;
    let mut cursor = PageCursor::First;
    let mut n = 0u64;
    let mut guard = PageGuard::new(&conn.system().name, &collection.name, MAX_PAGES);
    loop {
        let page = conn
            .list_page(collection, &collection.list, &cursor, vars)
            .await
            .map_err(|source| RunnerError::List {
                what: format!("{} records", collection.name),
                source: Box::new(source),
            })?;
        let entries: Vec<SnapshotEntry> = page
            .records
            .iter()
            .filter(|r| !engine.is_deleted(side, r))
            .filter_map(|r| Some(snapshot_entry(engine, collection.id_of(r)?, r.clone())))
            .collect();
        guard
            .check(&cursor, page.records.len(), page.next.as_ref())
            .map_err(|source| RunnerError::List {
                what: format!("{} records", collection.name),
                source: Box::new(source),
            })?;
        n += entries.len() as u64;
        store.snapshot_put(pair, side, &entries)?;
        match page.next {
            Some(c) => cursor = c,
            None => return Ok(n),
        }
    }
}

/// Several records of a page that would link to the same target (two sources matching one
/// target, or naming it in their link field) cannot all be linked: unless one of them holds the
/// link in the store already, they all become conflicts, and nothing is written for them.
fn one_source_per_target(engine: &Engine<'_>, plans: &mut [RecordPlan]) {
    let mut by_target: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, p) in plans.iter().enumerate() {
        if let (Some(t), true) = (&p.target_id, links(p.kind)) {
            by_target.entry(t.clone()).or_default().push(i);
        }
    }
    for (target_id, claimants) in by_target.into_iter().filter(|(_, c)| c.len() > 1) {
        let holder = claimants
            .iter()
            .copied()
            .find(|&i| plans[i].linked_by == Some(LinkedBy::Store));
        let sources: Vec<String> = claimants
            .iter()
            .map(|&i| plans[i].source_id.clone())
            .collect();
        for i in claimants.into_iter().filter(|&i| Some(i) != holder) {
            let mut conflict = RecordPlan::skipped(
                &plans[i].source_id,
                &format!(
                    "{} {} records would link to the {} {target_id} ({}); resolve the duplicate by hand",
                    sources.len(),
                    engine.source().title,
                    engine.target().title,
                    sources.join(", ")
                ),
            );
            conflict.kind = PlanKind::Conflict;
            plans[i] = conflict;
        }
    }
}

/// A create answered "already exists" names a target that may already be linked, to another
/// source record in the store or to another record of this page: linking it again would fail
/// the page's commit on every run, so the record becomes a conflict instead. Returns the
/// records that became conflicts (their status is written back by the caller).
pub(crate) fn settle_existing(
    engine: &Engine<'_>,
    store: &dyn StateStore,
    pair: &str,
    applied: &mut [Applied],
) -> Result<Vec<usize>, RunnerError> {
    let mut changed = Vec::new();
    let tgt_side = engine.direction().target();
    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    for a in applied
        .iter()
        .filter(|a| !a.linked_existing && links(a.plan.kind))
    {
        if let Ok(Some(t)) = &a.result {
            claimed.insert(t.clone(), a.plan.source_id.clone());
        }
    }
    for (i, a) in applied.iter_mut().enumerate() {
        if !a.linked_existing {
            continue;
        }
        let Ok(Some(t)) = a.result.clone() else {
            continue;
        };
        let other = match store.link(pair, tgt_side, &t)? {
            Some(l)
                if l.state == LinkState::Active
                    && l.id_on(tgt_side.other()) != a.plan.source_id =>
            {
                Some(l.id_on(tgt_side.other()).to_string())
            }
            _ => claimed.get(&t).cloned(),
        };
        match other {
            Some(other) => {
                let mut plan = a.plan.clone();
                plan.target_id = Some(t);
                a.plan = taken_conflict(plan, &other, engine);
                a.result = Ok(None);
                a.linked_existing = false;
                changed.push(i);
            }
            None => {
                claimed.insert(t, a.plan.source_id.clone());
            }
        }
    }
    Ok(changed)
}

/// Stops before a page that would take the run past `--max-creates` or `--max-deletes`.
fn check_rails(
    opts: &SyncOptions,
    counts: &Counts,
    plans: &[RecordPlan],
) -> Result<(), RunnerError> {
    let creates = plans.iter().filter(|p| p.kind == PlanKind::Create).count() as u64;
    let deletes = plans.iter().filter(|p| p.kind == PlanKind::Delete).count() as u64;
    if let Some(max) = opts.max_creates
        && counts.created + creates > max
    {
        return Err(RunnerError::Refused(format!(
            "this sync would create more than {max} records ({} so far, {creates} more on the next page); stopped before \
             writing them. Check the plan with --dry-run, then raise --max-creates to go on",
            counts.created
        )));
    }
    if let Some(max) = opts.max_deletes
        && counts.deleted + deletes > max
    {
        return Err(RunnerError::Refused(format!(
            "this sync would delete more than {max} records ({} so far, {deletes} more on the next page); stopped before \
             deleting them. Check the plan with --dry-run, then raise --max-deletes to go on",
            counts.deleted
        )));
    }
    Ok(())
}

/// Adds one record's result to the counts. A record whose earlier create had an unknown
/// outcome (`pending`) and that is now found on the target counts as created: that create
/// landed, and no finished run counted it.
fn count(
    c: &mut Counts,
    plan: &RecordPlan,
    applied: Option<&Applied>,
    pending: &BTreeMap<String, String>,
) {
    c.seen += 1;
    if let Some(a) = applied {
        if a.writeback_error.is_some() {
            c.writeback_failed += 1;
        }
        if let Err(e) = &a.result {
            if e.class == ErrorClass::Conflict {
                c.conflicts += 1;
            } else {
                c.failed += 1;
            }
            return;
        }
        if a.refused.is_some() {
            c.refused += 1;
            return;
        }
        if a.linked_existing {
            c.linked += 1;
            return;
        }
    }
    if plan.reported() {
        c.conflicts += 1;
        return;
    }
    if !plan.invalid.is_empty()
        && matches!(
            plan.kind,
            PlanKind::Create | PlanKind::Update | PlanKind::Unchanged
        )
    {
        c.invalid += 1;
    }
    let recovered = pending.contains_key(&plan.source_id)
        && matches!(
            plan.linked_by,
            Some(LinkedBy::LinkField | LinkedBy::TargetLinkField)
        );
    match plan.kind {
        PlanKind::Create => c.created += 1,
        PlanKind::Update | PlanKind::Unchanged if recovered => c.created += 1,
        PlanKind::Update => c.updated += 1,
        PlanKind::Unchanged => c.unchanged += 1,
        PlanKind::Echo => c.echo_skipped += 1,
        PlanKind::Conflict => c.conflicts += 1,
        PlanKind::Delete => c.deleted += 1,
        PlanKind::Unlink | PlanKind::Skip => c.skipped += 1,
        PlanKind::Failed => c.failed += 1,
    }
}

/// Adds what one applied record changes in the store to the page commit.
pub(crate) fn record(commit: &mut PageCommit, dir: Direction, a: &Applied) {
    let (src_side, tgt_side) = (dir.source(), dir.target());
    let plan = &a.plan;
    let id = plan.source_id.clone();
    let outcome = |kind: OutcomeKind, message: Option<String>| Outcome {
        direction: dir,
        source_id: id.clone(),
        kind,
        message,
    };
    // A create that failed with an unknown outcome may have landed: its intent stays, so the
    // record is looked up before it is created again.
    let unknown =
        plan.kind == PlanKind::Create && a.result.as_ref().is_err_and(|e| e.outcome_unknown);
    if !unknown
        && (plan.kind == PlanKind::Create
            || plan.kind == PlanKind::Conflict
            || a.result.is_ok() && plan.target_id.is_some()
            || a.linked_existing)
    {
        commit.settled_intents.push(IntentSettlement {
            direction: dir,
            source_id: id.clone(),
        });
    }
    let target_id = match &a.result {
        Err(e) => {
            let kind = if e.class == ErrorClass::Conflict {
                OutcomeKind::Conflict
            } else {
                OutcomeKind::Failed
            };
            commit.outcomes.push(outcome(kind, Some(e.message.clone())));
            return;
        }
        Ok(t) => t.clone(),
    };
    if let Some(refusal) = &a.refused {
        commit
            .outcomes
            .push(outcome(OutcomeKind::NeedsAttention, Some(refusal.clone())));
        commit.dead_letters.push(NewDeadLetter {
            source: format!("sync:{dir}"),
            record_key: id.clone(),
            payload: serde_json::json!({"operation": "delete", "target_id": target_id, "force": plan.force}),
            error: refusal.clone(),
            attempts: 1,
            first_failed_at: commit.at,
            at: commit.at,
        });
        return;
    }
    let kind = match plan.kind {
        _ if a.linked_existing => OutcomeKind::Linked,
        _ if plan.reported() => OutcomeKind::Conflict,
        PlanKind::Create if !plan.invalid.is_empty() => OutcomeKind::Invalid,
        PlanKind::Create => OutcomeKind::Created,
        PlanKind::Update if !plan.invalid.is_empty() => OutcomeKind::Invalid,
        PlanKind::Update if plan.linked_by == Some(crate::engine::LinkedBy::Match) => {
            OutcomeKind::Linked
        }
        PlanKind::Update => OutcomeKind::Updated,
        PlanKind::Unchanged if !plan.invalid.is_empty() => OutcomeKind::Invalid,
        PlanKind::Unchanged => OutcomeKind::Unchanged,
        PlanKind::Echo => OutcomeKind::Echo,
        PlanKind::Conflict if plan.target_id.is_none() => OutcomeKind::Ambiguous,
        PlanKind::Conflict => OutcomeKind::Conflict,
        PlanKind::Delete => OutcomeKind::Deleted,
        PlanKind::Unlink | PlanKind::Skip => OutcomeKind::Skipped,
        PlanKind::Failed => OutcomeKind::Failed,
    };
    let message = plan
        .reason
        .clone()
        .or_else(|| plan.invalid.first().cloned())
        .or_else(|| a.writeback_error.clone());
    commit.outcomes.push(outcome(kind, message));
    let Some(target_id) = target_id else { return };
    match plan.kind {
        PlanKind::Delete | PlanKind::Unlink => {
            let mut link = link_for(src_side, &id, &target_id);
            link.state = if src_side == Side::Home {
                LinkState::DeletedOnHome
            } else {
                LinkState::DeletedOnExternal
            };
            commit.links.push(link);
        }
        PlanKind::Create | PlanKind::Update | PlanKind::Unchanged => {
            commit.links.push(link_for(src_side, &id, &target_id));
            if a.linked_existing {
                return;
            }
            commit
                .ledger
                .extend(ledger(src_side, &id, LedgerKind::Read, &plan.source_shadow));
            let kind = if plan.write.is_some() {
                LedgerKind::Written
            } else {
                LedgerKind::Read
            };
            commit
                .ledger
                .extend(ledger(tgt_side, &target_id, kind, &plan.target_shadow));
        }
        _ => {}
    }
}

/// Ledger entries for every field of a shadow.
fn ledger(
    side: Side,
    record_id: &str,
    kind: LedgerKind,
    shadow: &crate::engine::Shadow,
) -> Vec<LedgerEntry> {
    shadow
        .0
        .iter()
        .map(|(field, value)| LedgerEntry {
            side,
            record_id: record_id.to_string(),
            field: field.clone(),
            kind,
            value: value.clone(),
        })
        .collect()
}
