//! The inbox workers of `mapsync serve`: claim one record key together with its linked
//! counterpart (one pair, one worker, across processes), keep the claim alive with a heartbeat
//! and stop the moment it is lost, re-read the source record (events are only hints, R8), find the target through the store's
//! link and a live read, plan with the same engine as `sync`, apply with the same writer,
//! commit links, ledger and outcomes (no checkpoint), then ack. Echoes are skipped (the
//! webhook's `ours` hint, then the ledger through the engine), every skip is logged with its
//! reason; deletes follow the pair's policy; transient failures retry with exponential
//! backoff, permanent or exhausted ones become dead letters (R10).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::{Notify, watch};

use super::apply::{Sides, Writer};
use super::lookup::{Candidates, Planner, Prepared};
use super::sync::{Connectors, record, settle_existing};
use crate::clock::Clock;
use crate::connector::{Connector, ConnectorError};
use crate::engine::{Engine, LinkValue, PlanKind, RecordPlan};
use crate::expr::Vars;
use crate::mapping::model::{Collection, ErrorClass, EventAction, Mapping};
use crate::mapping::{Direction, Side};
use crate::store::{
    AuditKind, ClaimKey, ClaimScope, CreateIntent, InboxClaim, Lease, PageCommit, RetryLater,
    StateStore, StoreError,
};

/// How long a claim holds before another holder may take the record over (the holder is
/// presumed dead). The heartbeat renews it every third of this while the worker works, so no
/// call, however slow, outlasts it while the worker lives.
pub const LEASE: Duration = Duration::from_secs(30);

/// How long a record waits when a record it must be claimed with (its target, found by a link
/// field or a match key) is held by someone else; the wake-up after every claim ends usually
/// comes sooner.
const BUSY_WAIT: Duration = Duration::from_millis(250);

/// Idle workers look for due retries this often even when nothing wakes them.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Failed attempts before a record's events become a dead letter.
pub const MAX_ATTEMPTS: u32 = 8;

/// The first retry delay; doubled per attempt, with ±25 % jitter, capped at [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_secs(1);

/// The longest retry delay (also caps a server's `Retry-After`, so a hostile server cannot
/// stall a record for long).
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What the workers did, for `/metrics`.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    /// Claims processed to the end (acked).
    pub processed: AtomicU64,
    /// Records skipped as echoes of mapsync's own writes.
    pub echo_skipped: AtomicU64,
    /// Claims put back for a later attempt.
    pub retried: AtomicU64,
    /// Claims moved to the dead letters (and refused deletes recorded as dead letters).
    pub dead_lettered: AtomicU64,
    /// Claims lost while working (the lease ran out and another holder took the record over):
    /// the worker stopped and wrote nothing more.
    pub claims_lost: AtomicU64,
}

/// What every worker shares.
#[derive(Clone)]
pub struct WorkerContext {
    /// The mapping.
    pub mapping: Arc<Mapping>,
    /// The state store.
    pub store: Arc<dyn StateStore>,
    /// One connector per system.
    pub connectors: Arc<Connectors>,
    /// Leases and backoff read time here.
    pub clock: Arc<dyn Clock>,
    /// Counters for `/metrics`.
    pub counters: Arc<WorkerCounters>,
    /// The receiver signals it after storing events; a worker, after it let go of a claim.
    pub wake: Arc<Notify>,
    /// This process's name among the instances sharing the store; prefixes its workers' names
    /// (`<instance>:worker-N-…`), so a restart can take over its predecessor's claims.
    pub instance: String,
    /// How long a claim lasts without renewal ([`LEASE`]; shorter in tests). The heartbeat
    /// renews it every third of this.
    pub lease: Duration,
}

/// The pair and side of every inbox source the workers take, so a claim covers the record's
/// linked counterpart: the two collections, and the dead letters a sync put back.
pub fn claim_scopes(mapping: &Mapping) -> Vec<ClaimScope> {
    let pair = mapping.pair_key();
    let mut scopes = Vec::new();
    for side in [Side::Home, Side::External] {
        scopes.push(ClaimScope {
            source: mapping.pair.collections.get(side).to_string(),
            pair: pair.clone(),
            side,
        });
    }
    for dir in [Direction::Outbound, Direction::Inbound] {
        scopes.push(ClaimScope {
            source: format!("sync:{dir}"),
            pair: pair.clone(),
            side: dir.source(),
        });
    }
    scopes
}

/// Runs `n` workers until `shutdown` turns true; each finishes the record it holds first.
///
/// The workers run as local tasks on the calling thread (a `LocalSet`): the writer's futures
/// are not `Send`, and the work is I/O-bound, so one thread is enough. Await this next to the
/// server (e.g. with `tokio::join!`), not in `tokio::spawn`.
pub async fn run_workers(ctx: WorkerContext, n: usize, shutdown: watch::Receiver<bool>) {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            let mut tasks = Vec::new();
            for i in 0..n.max(1) {
                let ctx = ctx.clone();
                let shutdown = shutdown.clone();
                let worker = format!(
                    "{}:worker-{i}-{}",
                    ctx.instance,
                    uuid::Uuid::new_v4().simple()
                );
                tasks.push(tokio::task::spawn_local(worker_loop(ctx, worker, shutdown)));
            }
            for t in tasks {
                let _ = t.await;
            }
        })
        .await;
}

async fn worker_loop(ctx: WorkerContext, worker: String, mut shutdown: watch::Receiver<bool>) {
    let lease = Lease {
        worker: worker.clone(),
        duration: ctx.lease,
        scopes: claim_scopes(&ctx.mapping),
    };
    loop {
        if *shutdown.borrow() {
            return;
        }
        let notified = ctx.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let claim = {
            let store = ctx.store.clone();
            let lease = lease.clone();
            let at = ctx.clock.now();
            tokio::task::spawn_blocking(move || store.inbox_claim(&lease, at)).await
        };
        match claim {
            Ok(Ok(Some(claim))) => {
                let work = AssertUnwindSafe(process(&ctx, &claim)).catch_unwind();
                tokio::select! {
                    outcome = work => {
                        if outcome.is_err() {
                            tracing::error!(worker = %worker, record_key = %claim.record_key, "A worker panicked on a record; it is retried later.");
                            let at = ctx.clock.now();
                            retry(&ctx, &claim, "internal error while processing", at, None);
                        }
                    }
                    () = heartbeat(&ctx, &claim) => {
                        // The work future is dropped here, mid-call if need be: nothing more
                        // is written for this claim.
                        ctx.counters.claims_lost.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(worker = %worker, source = %claim.source, record_key = %claim.record_key, "Lost the claim on a record (its lease ran out and another worker took it over); stopped without writing more.");
                    }
                }
                // Records that waited for this pair may go now.
                ctx.wake.notify_waiters();
            }
            Ok(Ok(None)) => {
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Ok(Err(error)) => {
                tracing::error!(worker = %worker, error = %error, "Claiming inbox work failed.");
                tokio::select! {
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(error) => {
                tracing::error!(worker = %worker, error = %error, "Claiming inbox work failed.");
            }
        }
    }
}

/// Renews the claim every third of the lease while the work runs; returns only when the claim
/// is lost (taken over or ended), so the caller stops the work.
async fn heartbeat(ctx: &WorkerContext, claim: &InboxClaim) {
    let every = ctx.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        match ctx
            .store
            .renew_claim(claim.claim.token, ctx.lease, ctx.clock.now())
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(record_key = %claim.record_key, error = %e, "Could not renew a claim; trying again at the next heartbeat.")
            }
        }
    }
}

/// Whether the claim still holds; a worker checks before every remote write.
fn still_held(ctx: &WorkerContext, claim: &InboxClaim) -> bool {
    match ctx.store.claim_held(claim.claim.token) {
        Ok(true) => true,
        Ok(false) => {
            ctx.counters.claims_lost.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(source = %claim.source, record_key = %claim.record_key, "Lost the claim on a record before writing (another worker took it over); stopped without writing.");
            false
        }
        Err(e) => {
            tracing::error!(record_key = %claim.record_key, error = %e, "Could not check a claim; not writing (the record is worked again).");
            false
        }
    }
}

/// Puts a record back because a record it must be claimed with is held elsewhere: it waits
/// without using up an attempt, and is planned again, against the new base, once that
/// holder is done.
fn wait_busy(ctx: &WorkerContext, claim: &InboxClaim, why: &str) {
    let at = ctx.clock.now();
    let delay = BUSY_WAIT.mul_f64(0.5 + fastrand::f64());
    let r = RetryLater {
        error: why.to_string(),
        next_attempt_at: at
            .checked_add(jiff::SignedDuration::try_from(delay).unwrap_or_default())
            .unwrap_or(at),
        at,
        failed: false,
    };
    match ctx.store.inbox_retry(claim, &r) {
        Ok(_) => {
            tracing::debug!(source = %claim.source, record_key = %claim.record_key, reason = %why, "Waiting for another holder.")
        }
        Err(e) => {
            tracing::error!(record_key = %claim.record_key, error = %e, "Could not put a busy record back; the lease will expire and another worker retries.")
        }
    }
}

/// The direction a source collection syncs in, and whether the claim came from a webhook
/// (`Some(webhook collection)`) or from a replayed sync dead letter.
fn direction_of(mapping: &Mapping, source: &str) -> Option<Direction> {
    if let Some(d) = source.strip_prefix("sync:") {
        return match d {
            "outbound" => Some(Direction::Outbound),
            "inbound" => Some(Direction::Inbound),
            _ => None,
        };
    }
    if mapping.pair.collections.get(Side::Home) == source {
        Some(Direction::Outbound)
    } else if mapping.pair.collections.get(Side::External) == source {
        Some(Direction::Inbound)
    } else {
        None
    }
}

/// Mapped-field variables for one side's requests.
fn vars_for(mapping: &Mapping, side: Side) -> Vars {
    let fields: Vec<String> = mapping.pair.mapped_fields(side).into_iter().collect();
    Vars::new().with("mapped_fields", &Value::from(fields))
}

/// A record holding only its id, for a source that reads as deleted.
fn stub(collection: &Collection, id: &str) -> Value {
    let keys = collection.id.simple_keys().unwrap_or_default();
    keys.iter()
        .rev()
        .fold(Value::String(id.to_string()), |inner, k| {
            let mut m = serde_json::Map::new();
            m.insert((*k).to_string(), inner);
            Value::Object(m)
        })
}

fn backoff(attempts: u32) -> Duration {
    let exp = BASE_BACKOFF.saturating_mul(1u32 << attempts.min(16));
    let capped = exp.min(MAX_BACKOFF);
    let jitter = 0.75 + fastrand::f64() * 0.5;
    capped.mul_f64(jitter).min(MAX_BACKOFF)
}

fn retry(
    ctx: &WorkerContext,
    claim: &InboxClaim,
    error: &str,
    at: Timestamp,
    wait: Option<Duration>,
) {
    let store = ctx.store.as_ref();
    if wait.is_none() && claim.attempts + 1 >= MAX_ATTEMPTS {
        dead_letter(ctx, claim, error, at);
        return;
    }
    let delay = wait
        .unwrap_or_else(|| backoff(claim.attempts))
        .min(MAX_BACKOFF);
    let next = at
        .checked_add(jiff::SignedDuration::try_from(delay).unwrap_or_default())
        .unwrap_or(at);
    let r = RetryLater {
        error: error.to_string(),
        next_attempt_at: next,
        at,
        failed: true,
    };
    audit_note(
        ctx,
        claim,
        AuditKind::Retry,
        format!(
            "attempt {} failed, retried in {} s: {error}",
            claim.attempts + 1,
            delay.as_secs()
        ),
    );
    match store.inbox_retry(claim, &r) {
        Ok(_) => {
            ctx.counters.retried.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(record_key = %claim.record_key, attempt = claim.attempts + 1, error = %error, delay_ms = delay.as_millis() as u64, "Processing failed; retrying later.");
        }
        Err(e) => {
            tracing::error!(record_key = %claim.record_key, error = %e, "Could not schedule a retry; the lease will expire and another worker retries.")
        }
    }
}

/// The events a claim covers, as the first step of this processing in the record's trail.
fn audit_claim(ctx: &WorkerContext, claim: &InboxClaim, dir: Direction) {
    if claim.events.is_empty() {
        return;
    }
    let detail = format!(
        "{} event(s) from {} received (first at {})",
        claim.events.len(),
        claim.source,
        claim.events[0].received_at
    );
    let e = super::audit::entry(
        dir.source(),
        &claim.record_key,
        Some(dir),
        AuditKind::Event,
        detail,
        ctx.clock.now(),
    );
    super::audit::record(ctx.store.as_ref(), &ctx.mapping.pair_key(), &[e]);
}

/// An event about a record that holds nothing new: an echo when mapsync has written to the
/// record (its own write came back), otherwise a change to fields the mapping does not map.
fn audit_unchanged(ctx: &WorkerContext, claim: &InboxClaim, side: Side) {
    let ours = ctx
        .store
        .record_shadow(&ctx.mapping.pair_key(), side, &claim.record_key)
        .is_ok_and(|s| s.values().any(|f| f.written.is_some()));
    let (kind, detail) = if ours {
        (
            AuditKind::Echo,
            "echo skipped: no mapped field differs from what mapsync last wrote and read (its own write coming back, or a change to fields the mapping does not map)",
        )
    } else {
        (AuditKind::Skip, "nothing to write: no mapped field differs")
    };
    audit_note(ctx, claim, kind, detail.to_string());
}

/// One step of the claimed record's processing in its trail.
fn audit_note(ctx: &WorkerContext, claim: &InboxClaim, kind: AuditKind, detail: String) {
    let dir = direction_of(&ctx.mapping, &claim.source);
    let side = dir.map_or(Side::Home, |d| d.source());
    let e = super::audit::entry(side, &claim.record_key, dir, kind, detail, ctx.clock.now());
    super::audit::record(ctx.store.as_ref(), &ctx.mapping.pair_key(), &[e]);
}

fn dead_letter(ctx: &WorkerContext, claim: &InboxClaim, error: &str, at: Timestamp) {
    audit_note(
        ctx,
        claim,
        AuditKind::DeadLetter,
        format!(
            "moved to the dead letters after {} attempt(s): {error}",
            claim.attempts + 1
        ),
    );
    match ctx.store.inbox_dead_letter(claim, error, at) {
        Ok(_) => {
            ctx.counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
            tracing::error!(source = %claim.source, record_key = %claim.record_key, attempt = claim.attempts + 1, error = %error, "Moved a record's events to the dead letters.");
        }
        Err(e) => {
            tracing::error!(record_key = %claim.record_key, error = %e, "Could not dead-letter a record.")
        }
    }
}

fn ack(ctx: &WorkerContext, claim: &InboxClaim) {
    match ctx.store.inbox_ack(claim, ctx.clock.now()) {
        Ok(true) => {
            ctx.counters.processed.fetch_add(1, Ordering::Relaxed);
        }
        Ok(false) => {
            tracing::warn!(record_key = %claim.record_key, "The claim was lost before the ack; another worker re-processes the record.")
        }
        Err(e) => {
            tracing::error!(record_key = %claim.record_key, error = %e, "Could not ack a record; it will be processed again.")
        }
    }
}

/// A connector failure: retry when it may pass, dead-letter otherwise.
fn on_connector_error(ctx: &WorkerContext, claim: &InboxClaim, what: &str, e: &ConnectorError) {
    let message = format!("{what}: {e}");
    on_failure(ctx, claim, &message, e.class(), e.retry_after());
}

/// What a failure of `class` does to a claim (R10): permanent → a dead letter at once;
/// rate-limited → retried after the server's wait (capped), without using up an attempt;
/// transient and auth → retried with backoff until the attempts run out.
fn on_failure(
    ctx: &WorkerContext,
    claim: &InboxClaim,
    message: &str,
    class: ErrorClass,
    retry_after: Option<Duration>,
) {
    let at = ctx.clock.now();
    match decide(class, retry_after, claim.attempts) {
        Decision::DeadLetter => dead_letter(ctx, claim, message, at),
        Decision::Retry(wait) => retry(ctx, claim, message, at, wait),
    }
}

/// What to do with a failed claim.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Move its events to the dead letters now.
    DeadLetter,
    /// Try again later: after this wait, or after the backoff when `None`.
    Retry(Option<Duration>),
}

fn decide(class: ErrorClass, retry_after: Option<Duration>, attempts: u32) -> Decision {
    match class {
        ErrorClass::Permanent | ErrorClass::Conflict => Decision::DeadLetter,
        ErrorClass::RateLimited => Decision::Retry(Some(retry_after.unwrap_or(BASE_BACKOFF))),
        ErrorClass::Transient | ErrorClass::Auth if attempts + 1 >= MAX_ATTEMPTS => {
            Decision::DeadLetter
        }
        ErrorClass::Transient | ErrorClass::Auth => Decision::Retry(None),
    }
}

/// Processes one claimed record to the end: ack, retry or dead letter.
async fn process(ctx: &WorkerContext, claim: &InboxClaim) {
    let mapping = ctx.mapping.as_ref();
    let Some(dir) = direction_of(mapping, &claim.source) else {
        dead_letter(
            ctx,
            claim,
            &format!(
                "no collection of the pair is named `{}` (the mapping changed?)",
                claim.source
            ),
            ctx.clock.now(),
        );
        return;
    };
    let (src_side, tgt_side) = (dir.source(), dir.target());
    let engine = Engine::new(mapping, dir);
    let src_coll = engine.source();
    audit_claim(ctx, claim, dir);
    let webhook = src_coll
        .webhook
        .as_ref()
        .filter(|_| !claim.source.starts_with("sync:"));

    // The events' hints: actions, and whether every one reports our own write.
    let mut deletes = 0usize;
    let mut upserts = 0usize;
    let mut ours = 0usize;
    for e in &claim.events {
        let action = match webhook {
            Some(w) => {
                let kind = w.kind_of(&e.payload);
                w.action(kind.as_deref())
            }
            None => EventAction::Upsert,
        };
        match action {
            EventAction::Delete => deletes += 1,
            EventAction::Upsert => upserts += 1,
            EventAction::Ignore => {}
        }
        if let Some((w, expr)) = webhook.and_then(|w| w.ours.as_ref().map(|x| (w, x)))
            && expr
                .eval_bool(&Vars::new().with("event", w.event_of(&e.payload)))
                .unwrap_or(false)
        {
            ours += 1;
        }
    }
    let record_key = claim.record_key.as_str();
    if !claim.events.is_empty() && ours == claim.events.len() {
        ctx.counters.echo_skipped.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(source = %claim.source, record_key, reason = "every event reports mapsync's own write", "Skipped an echo.");
        audit_note(
            ctx,
            claim,
            AuditKind::Echo,
            "echo skipped: every event reports mapsync's own write (the webhook's `ours` hint)"
                .into(),
        );
        ack(ctx, claim);
        return;
    }
    if deletes + upserts == 0 && !claim.events.is_empty() {
        tracing::debug!(source = %claim.source, record_key, reason = "the mapping ignores these event kinds", "Skipped a record.");
        ack(ctx, claim);
        return;
    }

    let Some(src_conn) = ctx.connectors.get(&src_coll.system) else {
        dead_letter(
            ctx,
            claim,
            "no connector for the source system",
            ctx.clock.now(),
        );
        return;
    };
    let Some(tgt_conn) = ctx.connectors.get(&engine.target().system) else {
        dead_letter(
            ctx,
            claim,
            "no connector for the target system",
            ctx.clock.now(),
        );
        return;
    };
    let (src_vars, tgt_vars) = (vars_for(mapping, src_side), vars_for(mapping, tgt_side));

    // Re-read the source: the event only says "this record may have changed".
    let read = match src_conn.read(src_coll, record_key, &src_vars).await {
        Ok(r) => r,
        Err(e) => {
            on_connector_error(
                ctx,
                claim,
                &format!("reading {} {record_key}", src_coll.title),
                &e,
            );
            return;
        }
    };
    // The live read decides, not the events: a record that reads back (restored since its
    // delete event, or the events arrived out of order) is upserted, never deleted.
    let deleted = read.is_none();
    if !deleted && upserts == 0 && deletes > 0 {
        tracing::info!(source = %claim.source, record_key, reason = "the record still exists", "Ignored a stale delete event; syncing the record as it reads now.");
    }
    let source = read.unwrap_or_else(|| stub(src_coll, record_key));

    // One pair, one worker: a target found through a link field or a match key is claimed too
    // before anything is written, and the record is planned again under that claim (the
    // target's previous holder may have changed it).
    let now = ctx.clock.now();
    let now_text = now.round(jiff::Unit::Second).unwrap_or(now).to_string();
    let mut held = claim.claim.clone();
    let mut planned = 0;
    let plan = loop {
        planned += 1;
        let plan = match live_plan(
            ctx, &engine, tgt_conn, &tgt_vars, &source, deleted, &now_text,
        )
        .await
        {
            Ok(p) => p,
            Err(LiveError::Store(e)) => {
                retry(
                    ctx,
                    claim,
                    &format!("state store: {e}"),
                    ctx.clock.now(),
                    None,
                );
                return;
            }
            Err(LiveError::Connector(e)) => {
                on_connector_error(
                    ctx,
                    claim,
                    &format!("reading the linked {}", engine.target().title),
                    &e,
                );
                return;
            }
        };
        let Some(target_id) = plan.target_id.clone() else {
            break plan;
        };
        if held.covers(tgt_side, &target_id) {
            break plan;
        }
        let why = format!(
            "the {} {target_id} it would be written to is being worked by another holder",
            engine.target().title
        );
        if planned > 1 {
            wait_busy(ctx, claim, &why);
            return;
        }
        let key = ClaimKey::new(tgt_side, target_id);
        match ctx.store.extend_claim(&mut held, &[key], ctx.clock.now()) {
            Ok(true) => {}
            Ok(false) => {
                wait_busy(ctx, claim, &why);
                return;
            }
            Err(e) => {
                retry(
                    ctx,
                    claim,
                    &format!("state store: {e}"),
                    ctx.clock.now(),
                    None,
                );
                return;
            }
        }
    };
    tracing::debug!(source = %claim.source, record_key, kind = ?plan.kind, changed = ?plan.changes.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(), reason = plan.reason.as_deref().unwrap_or(""), "Planned.");
    match plan.kind {
        PlanKind::Echo => {
            ctx.counters.echo_skipped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(source = %claim.source, record_key, reason = "the record equals what mapsync last wrote to it", "Skipped an echo.");
        }
        PlanKind::Unchanged => {
            tracing::debug!(source = %claim.source, record_key, reason = "nothing differs", "Nothing to write.");
            if !claim.events.is_empty() && plan.write.is_none() {
                audit_unchanged(ctx, claim, src_side);
            }
        }
        PlanKind::Skip | PlanKind::Conflict | PlanKind::Failed => {
            tracing::info!(source = %claim.source, record_key, kind = ?plan.kind, reason = plan.reason.as_deref().unwrap_or(""), "Planned no write.");
        }
        _ => {}
    }

    let pair = mapping.pair_key();
    // A claim lost while planning (a stalled process) must not write anything more.
    if !still_held(ctx, claim) {
        return;
    }
    let mut intent_keys = std::collections::BTreeMap::new();
    if plan.kind == PlanKind::Create {
        // A pending intent of this record was resolved by `live_plan` (looked up, not found):
        // its key is sent again, so an API with idempotency keys answers with what it made.
        let earlier = match ctx.store.unsettled_intents(&pair, dir) {
            Ok(p) => p
                .into_iter()
                .find(|p| p.intent.source_id == plan.source_id)
                .map(|p| p.intent.attempt_key),
            Err(e) => {
                retry(ctx, claim, &format!("state store: {e}"), now, None);
                return;
            }
        };
        let intent = CreateIntent {
            direction: dir,
            source_id: plan.source_id.clone(),
            attempt_key: earlier.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        };
        if let Err(e) = ctx.store.record_intent(&pair, &intent, now) {
            retry(ctx, claim, &format!("state store: {e}"), now, None);
            return;
        }
        intent_keys.insert(intent.source_id, intent.attempt_key);
    }
    // Checked before every remote write: once the claim is lost, nothing more is written.
    let fence = |_: &str| ctx.store.claim_held(claim.claim.token).unwrap_or(false);
    let writer = Writer {
        fence: Some(&fence),
        engine: &engine,
        source: src_conn,
        target: tgt_conn,
        vars: Sides {
            source: &src_vars,
            target: &tgt_vars,
        },
        concurrency: 1,
        now: &now_text,
        page: 0,
        writes: Default::default(),
        intent_keys: &intent_keys,
    };
    let mut applied = writer.apply(vec![plan]).await;
    // An "already exists" answer naming a record linked to another is a conflict, as in sync.
    match settle_existing(&engine, ctx.store.as_ref(), &pair, &mut applied) {
        Ok(conflicts) => writer.write_back_conflicts(&mut applied, &conflicts).await,
        Err(e) => {
            retry(ctx, claim, &format!("state store: {e}"), now, None);
            return;
        }
    }
    super::failpoint::hit_nth("worker-before-commit");
    let mut commit = PageCommit::new(now);
    for a in &applied {
        record(&mut commit, dir, a);
    }
    // Fenced: the commit lands only if this worker still holds the claim.
    commit.fence = vec![claim.claim.token];
    let refused = commit.dead_letters.len() as u64;
    match ctx.store.commit_page(&pair, &commit) {
        Ok(report) => {
            for t in &report.taken {
                tracing::warn!(source = %claim.source, record_key, side = %t.side.as_str(), linked_to = %t.linked_to, "The target was linked to another record meanwhile; recorded as a conflict.");
            }
        }
        Err(StoreError::ClaimLost { .. }) => {
            ctx.counters.claims_lost.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(source = %claim.source, record_key, "Lost the claim on a record before its commit (another worker took it over); nothing was recorded.");
            return;
        }
        Err(e) => {
            retry(ctx, claim, &format!("state store: {e}"), now, None);
            return;
        }
    }
    let audit: Vec<_> = applied
        .iter()
        .flat_map(|a| super::audit::applied(dir, &engine, a, now))
        .collect();
    super::audit::record(ctx.store.as_ref(), &pair, &audit);
    super::failpoint::hit_nth("worker-before-ack");
    if refused > 0 {
        ctx.counters
            .dead_lettered
            .fetch_add(refused, Ordering::Relaxed);
    }
    for a in &applied {
        if let Some(r) = &a.refused {
            tracing::warn!(source = %claim.source, record_key, reason = %r, "The target refused the delete; recorded as a dead letter.");
        }
        if let Some(e) = &a.writeback_error {
            tracing::warn!(source = %claim.source, record_key, error = %e, "Writing the link or status back to the source failed.");
        }
        if let Err(e) = &a.result
            && e.class != ErrorClass::Conflict
        {
            // The failure is already in the outcomes and the source's status field; its class
            // decides between another attempt and a dead letter (a conflict is an outcome for a
            // person, recorded and acked).
            on_failure(ctx, claim, &e.message, e.class, e.retry_after);
            return;
        }
        super::narrate::log(dir, &engine, a);
    }
    ack(ctx, claim);
}

/// Why a live plan could not be made.
enum LiveError {
    Store(crate::store::StoreError),
    Connector(ConnectorError),
}

impl From<crate::store::StoreError> for LiveError {
    fn from(e: crate::store::StoreError) -> LiveError {
        LiveError::Store(e)
    }
}

/// Plans one source record against the live target, through the same planning path as `sync`
/// (`lookup::Planner`): the store's link and the source's link field are read now; candidates
/// from the last full sync's snapshot (link field and match key) are each re-read before use.
async fn live_plan(
    ctx: &WorkerContext,
    engine: &Engine<'_>,
    tgt_conn: &Connector,
    tgt_vars: &Vars,
    source: &Value,
    deleted: bool,
    now: &str,
) -> Result<RecordPlan, LiveError> {
    let dir = engine.direction();
    let tgt_side = dir.target();
    let store = ctx.store.as_ref();
    let pair = ctx.mapping.pair_key();
    let planner = Planner {
        engine,
        store,
        snapshot: store,
        pair: &pair,
        now,
    };
    let lookup = match planner.prepare(source, deleted)? {
        Prepared::Planned(plan) => return Ok(*plan),
        Prepared::Lookup(l) => l,
    };
    let source_id = lookup.source_id.as_str();
    // A create of this record may have reached the target without being recorded: the process
    // died between the write and the commit, which leaves the create's intent unsettled. Before
    // creating again, look for a target record that already links back to this one.
    let mut recovered: Vec<String> = Vec::new();
    if lookup.store_link.is_none()
        && store
            .unsettled_intents(&pair, dir)?
            .iter()
            .any(|p| p.intent.source_id == source_id)
    {
        // Only the ids: each is re-read below like every other candidate (a listing may hold
        // fewer fields than a read).
        for id in linked_back(engine, tgt_conn, tgt_vars, source_id).await? {
            tracing::info!(source_id = %source_id, target_id = %id, "An interrupted create had reached the target; linking it instead of creating again.");
            recovered.push(id);
        }
    }
    let ids = |found: Vec<(String, Value)>| -> Vec<String> {
        found.into_iter().map(|(id, _)| id).collect()
    };
    let mut linked_ids = ids(store.snapshot_by_link(&pair, tgt_side, source_id)?);
    linked_ids.extend(recovered);
    let matched_ids = match engine.match_key(dir.source(), source) {
        Some(key) => ids(store.snapshot_by_match(&pair, tgt_side, &key)?),
        None => Vec::new(),
    };
    let mut read: HashMap<String, Value> = HashMap::new();
    for id in lookup
        .ids
        .iter()
        .chain(linked_ids.iter())
        .chain(matched_ids.iter())
    {
        if read.contains_key(id) {
            continue;
        }
        if let Some(v) = tgt_conn
            .read(engine.target(), id, tgt_vars)
            .await
            .map_err(LiveError::Connector)?
            && !engine.is_deleted(tgt_side, &v)
        {
            read.insert(id.clone(), v);
        }
    }
    let pick = |wanted: &[String]| -> Vec<(String, Value)> {
        let mut out: Vec<(String, Value)> = Vec::new();
        for id in wanted {
            if let Some(v) = read.get(id)
                && !out.iter().any(|(i, _)| i == id)
            {
                out.push((id.clone(), v.clone()));
            }
        }
        out
    };
    let candidates = Candidates {
        linked_to: pick(&linked_ids),
        matched: pick(&matched_ids),
        by_id: lookup
            .ids
            .iter()
            .filter_map(|id| Some((id.clone(), read.get(id)?.clone())))
            .collect(),
        named_by_several: store.snapshot_named_among_several(&pair, tgt_side, source_id)?,
    };
    Ok(planner.decide(source, deleted, &lookup, candidates)?)
}

/// Most pages listed while looking for an interrupted create.
const MAX_RECOVERY_PAGES: usize = 1_000;

/// The ids of the live target records whose link field names `source_id`, found by listing the
/// target collection (only after an interrupted create, so rarely).
async fn linked_back(
    engine: &Engine<'_>,
    tgt_conn: &Connector,
    tgt_vars: &Vars,
    source_id: &str,
) -> Result<Vec<String>, LiveError> {
    let target = engine.target();
    let tgt_side = engine.direction().target();
    let mut cursor = crate::connector::PageCursor::First;
    let mut found = Vec::new();
    let mut guard = crate::connector::PageGuard::new(
        &tgt_conn.system().name,
        &target.name,
        MAX_RECOVERY_PAGES as u64,
    );
    for _ in 0..MAX_RECOVERY_PAGES {
        let page = tgt_conn
            .list_page(target, &target.list, &cursor, tgt_vars)
            .await
            .map_err(LiveError::Connector)?;
        guard
            .check(&cursor, page.records.len(), page.next.as_ref())
            .map_err(LiveError::Connector)?;
        for r in page.records {
            if engine.link_value(tgt_side, &r) == LinkValue::One(source_id.to_string())
                && !engine.is_deleted(tgt_side, &r)
                && let Some(id) = target.id_of(&r)
            {
                found.push(id);
            }
        }
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_failures_dead_letter_at_once_and_transient_ones_retry() {
        assert_eq!(decide(ErrorClass::Permanent, None, 0), Decision::DeadLetter);
        assert_eq!(
            decide(ErrorClass::Transient, None, 0),
            Decision::Retry(None)
        );
        assert_eq!(decide(ErrorClass::Auth, None, 3), Decision::Retry(None));
        assert_eq!(
            decide(ErrorClass::Transient, None, MAX_ATTEMPTS - 1),
            Decision::DeadLetter
        );
        let wait = Duration::from_secs(7);
        // A 429 does not use up the attempts.
        assert_eq!(
            decide(ErrorClass::RateLimited, Some(wait), MAX_ATTEMPTS + 3),
            Decision::Retry(Some(wait))
        );
        assert_eq!(
            decide(ErrorClass::RateLimited, None, 0),
            Decision::Retry(Some(BASE_BACKOFF))
        );
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        for n in 0..20 {
            let d = backoff(n);
            let base = BASE_BACKOFF
                .saturating_mul(1u32 << n.min(16))
                .min(MAX_BACKOFF);
            assert!(d <= MAX_BACKOFF, "attempt {n}");
            assert!(d >= base.mul_f64(0.75).min(MAX_BACKOFF), "attempt {n}");
            assert!(d <= base.mul_f64(1.25), "attempt {n}");
        }
    }
}
