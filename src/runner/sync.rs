//! `sync`: the full sync of one direction. Indexes the target, then streams the source page by
//! page: plan, apply, and commit links, ledger, outcomes and the checkpoint in one transaction
//! once the target acknowledged the page. A killed sync resumes from its checkpoint.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RunnerError;
use super::apply::{Applied, Sides, Writer};
use super::lookup::{Planner, link_for, links, taken_conflict};
use super::report::{Counts, SyncOptions, SyncReport};
use crate::connector::{Connector, PageCursor};
use crate::engine::{Engine, LinkValue, LinkedBy, PlanKind, RecordPlan};
use crate::expr::Vars;
use crate::mapping::model::{ListOp, Mapping};
use crate::mapping::{Direction, Side};
use crate::store::{
    Checkpoint, CreateIntent, IntentSettlement, LedgerEntry, LedgerKind, LinkState, NewDeadLetter,
    Outcome, OutcomeKind, PageCommit, RunCheckpoint, RunEnd, RunStart, RunState, SnapshotEntry,
    StateStore,
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

    let (target_records, several) = index(&engine, store, &pair, tgt_conn, &tgt_vars).await?;
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

    let now = || {
        Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap_or_else(|_| Timestamp::now())
    };
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
    let mut pages = 0u64;
    let mut processed = 0u64;

    let result: Result<(), RunnerError> = async {
        loop {
            let op: &ListOp = match position.phase {
                Phase::Live => &engine.source().list,
                Phase::Deleted => match &engine.source().list_deleted {
                    Some(op) => op,
                    None => break,
                },
            };
            let page = src_conn
                .list_page(engine.source(), op, &position.cursor, &src_vars)
                .await
                .map_err(|source| RunnerError::List {
                    what: format!("{} records (page {})", engine.source().name, page_no + 1),
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
            let stamp = now();
            let now_text = stamp.to_string();
            let planner = Planner {
                engine: &engine,
                store,
                pair: &pair,
                now: &now_text,
            };
            let deleted = position.phase == Phase::Deleted;
            let mut plans = Vec::with_capacity(records.len());
            for r in &records {
                plans.push(planner.plan(r, deleted, &several)?);
            }
            one_source_per_target(&engine, &mut plans);
            check_rails(opts, &counts, &plans)?;
            processed += records.len() as u64;
            records_done += records.len() as u64;
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
                for p in &plans {
                    count(&mut counts, p, None);
                    observer.plan(p);
                }
            } else {
                for p in plans.iter().filter(|p| p.kind == PlanKind::Create) {
                    let intent = CreateIntent {
                        direction: dir,
                        source_id: p.source_id.clone(),
                        attempt_key: format!("{}:{page_no}", p.source_id),
                    };
                    store.record_intent(&pair, &intent, stamp)?;
                }
                let writer = Writer {
                    engine: &engine,
                    source: src_conn,
                    target: tgt_conn,
                    vars: Sides {
                        source: &src_vars,
                        target: &tgt_vars,
                    },
                    concurrency: opts.concurrency,
                    now: &now_text,
                    page: page_no,
                    writes: Default::default(),
                };
                let mut applied = writer.apply(plans).await;
                settle_existing(&engine, store, &pair, &mut applied)?;
                super::failpoint::hit("before-commit", page_no, 0);
                let mut commit = PageCommit::new(stamp);
                let mut audit = Vec::new();
                for a in &applied {
                    audit.extend(super::audit::applied(dir, &engine, a, stamp));
                    count(&mut counts, &a.plan, Some(a));
                    record(&mut commit, dir, a);
                    if a.plan.kind != PlanKind::Unchanged || a.result.is_err() {
                        observer.plan(&a.plan);
                    }
                    if let Err(e) = &a.result {
                        observer.failed(&a.plan, &e.message);
                    }
                    super::narrate::log(dir, &engine, a);
                }
                let run_id = run.as_ref().map(|r| r.id.clone()).unwrap_or_default();
                let cursor = next_position
                    .as_ref()
                    .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
                    .unwrap_or(Value::Null);
                commit.checkpoint = Some(RunCheckpoint {
                    run_id,
                    checkpoint: Checkpoint {
                        cursor,
                        page: page_no,
                        records_done,
                    },
                    counters: serde_json::to_value(&counts).ok(),
                });
                store.commit_page(&pair, &commit)?;
                super::audit::record(store, &pair, &audit);
            }
            observer.page(records.len() as u64, &counts);
            match next_position {
                Some(p) => position = p,
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

/// Ids named in a target's link field among several (a merged record): id → (the target's
/// id, its link field's text). Gathered while indexing; rare, so kept in memory for the run.
type NamedBySeveral = HashMap<String, (String, String)>;

/// Lists every live target record into the snapshot; returns how many there are, and the ids
/// that link fields name among several.
async fn index(
    engine: &Engine<'_>,
    store: &dyn StateStore,
    pair: &str,
    conn: &Connector,
    vars: &Vars,
) -> Result<(u64, NamedBySeveral), RunnerError> {
    let side = engine.direction().target();
    let collection = engine.target();
    store.snapshot_clear(pair, side)?;
    let mut cursor = PageCursor::First;
    let mut n = 0u64;
    let mut several = NamedBySeveral::new();
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
            .filter_map(|r| {
                Some(SnapshotEntry {
                    record_id: collection.id_of(r)?,
                    record: r.clone(),
                    link_value: match engine.link_value(side, r) {
                        LinkValue::One(id) => Some(id),
                        _ => None,
                    },
                    match_key: engine.match_key(side, r),
                })
            })
            .collect();
        for r in page.records.iter().filter(|r| !engine.is_deleted(side, r)) {
            if let (LinkValue::Several(ids), Some(holder)) =
                (engine.link_value(side, r), collection.id_of(r))
            {
                let text = ids.join(", ");
                for id in ids {
                    several.insert(id, (holder.clone(), text.clone()));
                }
            }
        }
        n += entries.len() as u64;
        store.snapshot_put(pair, side, &entries)?;
        match page.next {
            Some(c) => cursor = c,
            None => return Ok((n, several)),
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
/// the page's commit on every run, so the record becomes a conflict instead.
fn settle_existing(
    engine: &Engine<'_>,
    store: &dyn StateStore,
    pair: &str,
    applied: &mut [Applied],
) -> Result<(), RunnerError> {
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
    for a in applied.iter_mut().filter(|a| a.linked_existing) {
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
            }
            None => {
                claimed.insert(t, a.plan.source_id.clone());
            }
        }
    }
    Ok(())
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

/// Adds one record's result to the counts.
fn count(c: &mut Counts, plan: &RecordPlan, applied: Option<&Applied>) {
    c.seen += 1;
    if let Some(a) = applied {
        if a.writeback_error.is_some() {
            c.writeback_failed += 1;
        }
        if a.result.is_err() {
            c.failed += 1;
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
    match plan.kind {
        PlanKind::Create => c.created += 1,
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
    if plan.kind == PlanKind::Create
        || plan.kind == PlanKind::Conflict
        || a.result.is_ok() && plan.target_id.is_some()
        || a.linked_existing
    {
        commit.settled_intents.push(IntentSettlement {
            direction: dir,
            source_id: id.clone(),
        });
    }
    let target_id = match &a.result {
        Err(e) => {
            commit
                .outcomes
                .push(outcome(OutcomeKind::Failed, Some(e.message.clone())));
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
