//! Applies a page of plans: creates (batched where the mapping declares it), updates, deletes,
//! then the write-backs of links and statuses to the source. Many writes are in flight at once;
//! the connector's rate limit paces them.

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use crate::connector::{
    BatchItem, BatchItemError, Connector, ConnectorError, CreateOutcome, DeleteOutcome,
};
use crate::engine::{Engine, LinkValue, PlanKind, RecordPlan, WriteOutcome};
use crate::expr::Vars;
use crate::mapping::model::ErrorClass;

/// Why a target write failed, and whether trying again may help (the workers act on the class:
/// permanent failures become dead letters at once, the others are retried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WriteError {
    /// The message kept in outcomes, status fields and dead letters.
    pub message: String,
    /// The class of the failure.
    pub class: ErrorClass,
    /// How long the API asked to wait (rate-limited answers).
    pub retry_after: Option<std::time::Duration>,
    /// The write may have landed although it failed (a timeout, a lost connection, a 5xx). A
    /// create failing this way keeps its create intent unsettled, so the record is looked up
    /// before it is created again.
    pub outcome_unknown: bool,
    /// The HTTP status of the refusal, when the API answered one.
    pub status: Option<u16>,
}

impl WriteError {
    /// A failure of this class without a server-given wait.
    pub fn new(message: impl Into<String>, class: ErrorClass) -> WriteError {
        WriteError {
            message: message.into(),
            class,
            retry_after: None,
            outcome_unknown: false,
            status: None,
        }
    }

    /// A connector's failure, keeping its class and `Retry-After`.
    pub fn from_connector(e: &ConnectorError) -> WriteError {
        WriteError {
            message: e.to_string(),
            class: e.class(),
            retry_after: e.retry_after(),
            outcome_unknown: e.outcome_unknown(),
            status: e.status(),
        }
    }
}

impl WriteError {
    /// The short, fixed text a status field in the *other* system gets: never the remote
    /// API's own words, which may carry its data, ids or echoed credentials (the full message
    /// stays in the local outcomes and dead letters).
    pub fn status_message(&self) -> &'static str {
        match self.class {
            ErrorClass::Permanent => {
                "the other system refused this record; see mapsync's dead letters"
            }
            ErrorClass::Auth => "mapsync could not authenticate with the other system",
            ErrorClass::Conflict => {
                "the other system holds a conflicting record (a duplicate, a value already taken); resolve it by hand"
            }
            ErrorClass::RateLimited | ErrorClass::Transient => {
                "the other system was unavailable; mapsync retries"
            }
        }
    }
}

#[cfg(test)]
mod status_message_tests {
    use super::*;

    #[test]
    fn a_status_field_never_gets_the_remote_error_text() {
        for class in [
            ErrorClass::Permanent,
            ErrorClass::Conflict,
            ErrorClass::Auth,
            ErrorClass::RateLimited,
            ErrorClass::Transient,
        ] {
            let e = WriteError::new("400 token=abc123 {\"email\":\"x@y\"}", class);
            let shown = e.status_message();
            assert!(
                !shown.contains("abc123") && !shown.contains("x@y"),
                "{shown}"
            );
            assert!(shown.len() < 80);
        }
    }
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The result of one target write: the target id when there is one.
pub(crate) type WriteResult = Result<Option<String>, WriteError>;

/// What happened to one planned record.
#[derive(Debug)]
pub(crate) struct Applied {
    /// The plan.
    pub plan: RecordPlan,
    /// The result of the target write (Ok with the target id when there is one).
    pub result: WriteResult,
    /// A create answered "already exists": the target was linked, not written.
    pub linked_existing: bool,
    /// A delete the API refused.
    pub refused: Option<String>,
    /// A write-back to the source that failed.
    pub writeback_error: Option<String>,
    /// The write-back already happened with the write (`Some(error)` if it failed).
    pub written_back: Option<Option<String>>,
}

impl Applied {
    fn new(plan: RecordPlan) -> Applied {
        let target = plan.target_id.clone();
        Applied {
            plan,
            result: Ok(target),
            linked_existing: false,
            refused: None,
            writeback_error: None,
            written_back: None,
        }
    }
}

/// The connectors and settings a page is applied with.
pub(crate) struct Writer<'a> {
    pub engine: &'a Engine<'a>,
    pub source: &'a Connector,
    pub target: &'a Connector,
    pub vars: Sides<'a>,
    pub concurrency: usize,
    pub now: &'a str,
    /// The page being applied (for crash points in tests).
    pub page: u64,
    /// Target writes made so far on this page (for crash points in tests).
    pub writes: std::sync::atomic::AtomicU64,
    /// The create intents' keys by source id, sent as idempotency keys where the mapping
    /// declares the header.
    pub intent_keys: &'a std::collections::BTreeMap<String, String>,
    /// Asked before every remote write with the source record's id: false when the writer no
    /// longer holds the claim on that record (another holder took it over), and the write is
    /// not made. `None`: unfenced.
    pub fence: Option<&'a dyn Fn(&str) -> bool>,
}

/// The failure of a write refused because its claim was lost.
fn claim_lost() -> WriteError {
    WriteError::new(
        "the claim on this record was lost (another holder took it over); nothing more was written",
        ErrorClass::Transient,
    )
}

/// Variables for requests to each side (`mapped_fields`).
pub(crate) struct Sides<'a> {
    pub source: &'a Vars,
    pub target: &'a Vars,
}

fn failed(e: &ConnectorError) -> WriteError {
    WriteError::from_connector(e)
}

/// A per-item error in a batch answer: a refusal of the record (a 4xx-like validation error,
/// permanent), or the failure of its whole chunk, with that failure's class.
fn item_failed(e: &BatchItemError) -> WriteError {
    WriteError {
        outcome_unknown: e.outcome_unknown,
        status: e.status,
        ..WriteError::new(e.message.clone(), e.class)
    }
}

impl Writer<'_> {
    /// Whether the writer may still write for this source record.
    fn holds(&self, source_id: &str) -> bool {
        self.fence.is_none_or(|f| f(source_id))
    }

    /// The records of `which` whose claim still holds; the others fail with `claim_lost`.
    fn still_held(&self, applied: &mut [Applied], which: &[usize]) -> Vec<usize> {
        let mut held = Vec::with_capacity(which.len());
        for &i in which {
            if self.holds(&applied[i].plan.source_id) {
                held.push(i);
            } else {
                applied[i].result = Err(claim_lost());
            }
        }
        held
    }

    /// Applies every plan of a page and returns what happened, in the plans' order.
    pub async fn apply(&self, plans: Vec<RecordPlan>) -> Vec<Applied> {
        let mut applied: Vec<Applied> = plans.into_iter().map(Applied::new).collect();
        let creates: Vec<usize> = (0..applied.len())
            .filter(|&i| applied[i].plan.kind == PlanKind::Create)
            .collect();
        let updates: Vec<usize> = (0..applied.len())
            .filter(|&i| {
                applied[i].plan.kind != PlanKind::Create && applied[i].plan.write.is_some()
            })
            .collect();
        let deletes: Vec<usize> = (0..applied.len())
            .filter(|&i| applied[i].plan.kind == PlanKind::Delete)
            .collect();
        let target = self.engine.target();
        if target.batch_create.is_some() && creates.len() > 1 {
            self.batch_create(&mut applied, &creates).await;
        } else {
            // Each record's write-back follows its own create at once, so writes to the two
            // systems overlap instead of waiting for each other's rate budget.
            let results = self
                .each(&applied, &creates, |a| async move {
                    let (result, existing) = self.create_one(a).await;
                    let back = if existing || self.rule_refusal(&a.plan, &result).is_some() {
                        None
                    } else {
                        self.write_back_one(&a.plan, &result).await
                    };
                    (result, existing, back)
                })
                .await;
            for (i, (result, existing, back)) in creates.iter().zip(results) {
                applied[*i].result = result;
                applied[*i].linked_existing = existing;
                applied[*i].written_back = back;
            }
        }
        if target.batch_update.is_some() && updates.len() > 1 {
            self.batch_update(&mut applied, &updates).await;
        } else {
            let results = self
                .each(&applied, &updates, |a| async move {
                    let result = self.update_one(a).await;
                    let back = if self.rule_refusal(&a.plan, &result).is_some() {
                        None
                    } else {
                        self.write_back_one(&a.plan, &result).await
                    };
                    (result, back)
                })
                .await;
            for (i, (result, back)) in updates.iter().zip(results) {
                applied[*i].result = result;
                applied[*i].written_back = back;
            }
        }
        let results = self.each(&applied, &deletes, |a| self.delete_one(a)).await;
        for (i, (result, refused)) in deletes.iter().zip(results) {
            applied[*i].result = result;
            applied[*i].refused = refused;
        }
        self.refusals(&mut applied).await;
        self.write_back(&mut applied).await;
        applied
    }

    /// The plan to write instead when the target refused a write the way a rule declares
    /// (the engine decides; see `Engine::on_refusal`).
    fn rule_refusal(&self, plan: &RecordPlan, result: &WriteResult) -> Option<RecordPlan> {
        let Err(e) = result else { return None };
        self.engine.on_refusal(plan, e.status, &e.message, self.now)
    }

    /// Writes again, with the placeholder, every record whose write a rule's refusal refused:
    /// handled like the rule itself, not a failure. The placeholder is never refused by the
    /// same rule, so this ends.
    async fn refusals(&self, applied: &mut [Applied]) {
        let mut which = Vec::new();
        let mut plans = Vec::new();
        for (i, a) in applied.iter().enumerate() {
            if let Some(p) = self.rule_refusal(&a.plan, &a.result) {
                tracing::info!(source_id = %p.source_id, reason = p.invalid.first().map(String::as_str).unwrap_or(""), "The target refused a value as its rule declares; writing the placeholder instead.");
                which.push(i);
                plans.push(p);
            }
        }
        if plans.is_empty() {
            return;
        }
        let redone = Box::pin(self.apply(plans)).await;
        for (i, mut a) in which.into_iter().zip(redone) {
            // Its write-back is done already.
            a.written_back = Some(a.writeback_error.take());
            applied[i] = a;
        }
    }

    /// Runs `f` over the selected records, `concurrency` at a time, keeping their order.
    async fn each<'s, T, F, Fut>(&'s self, applied: &'s [Applied], which: &[usize], f: F) -> Vec<T>
    where
        F: Fn(&'s Applied) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        stream::iter(which.iter().map(|&i| f(&applied[i])))
            .buffered(self.concurrency.max(1))
            .collect()
            .await
    }

    async fn create_one(&self, a: &Applied) -> (WriteResult, bool) {
        if !self.holds(&a.plan.source_id) {
            return (Err(claim_lost()), false);
        }
        let fields = a.plan.write.clone().unwrap_or(Value::Null);
        let key = self.intent_keys.get(&a.plan.source_id).map(String::as_str);
        let result = self
            .target
            .create_keyed(self.engine.target(), fields, self.vars.target, key)
            .await;
        let done = self
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        if self.page == 0 {
            super::failpoint::hit_nth("worker-after-create");
        } else {
            super::failpoint::hit("mid-page", self.page, done);
        }
        match result {
            Ok(CreateOutcome::Created { id, .. }) => (Ok(Some(id)), false),
            Ok(CreateOutcome::Exists { id }) => (Ok(Some(id)), true),
            Err(e) => (Err(failed(&e)), false),
        }
    }

    async fn update_one(&self, a: &Applied) -> WriteResult {
        let (Some(id), Some(fields)) = (&a.plan.target_id, &a.plan.write) else {
            return Ok(a.plan.target_id.clone());
        };
        if !self.holds(&a.plan.source_id) {
            return Err(claim_lost());
        }
        match self
            .target
            .update(self.engine.target(), id, fields.clone(), self.vars.target)
            .await
        {
            Ok(_) => Ok(Some(id.clone())),
            Err(e) => Err(failed(&e)),
        }
    }

    async fn delete_one(&self, a: &Applied) -> (WriteResult, Option<String>) {
        let Some(id) = &a.plan.target_id else {
            return (Ok(None), None);
        };
        if !self.holds(&a.plan.source_id) {
            return (Err(claim_lost()), None);
        }
        match self
            .target
            .delete(self.engine.target(), id, a.plan.force)
            .await
        {
            Ok(DeleteOutcome::Deleted | DeleteOutcome::AlreadyGone) => (Ok(Some(id.clone())), None),
            Ok(DeleteOutcome::Refused { status, message }) => (
                Ok(Some(id.clone())),
                Some(format!("the API refused the delete ({status}): {message}")),
            ),
            Err(e) => (Err(failed(&e)), None),
        }
    }

    async fn batch_create(&self, applied: &mut [Applied], which: &[usize]) {
        let which = &self.still_held(applied, which)[..];
        if which.is_empty() {
            return;
        }
        let items: Vec<BatchItem> = which
            .iter()
            .map(|&i| BatchItem {
                key: applied[i].plan.source_id.clone(),
                id: None,
                fields: applied[i].plan.write.clone().unwrap_or(Value::Null),
            })
            .collect();
        let target = self.engine.target();
        let tgt_side = self.engine.direction().target();
        let answer = self.target.batch_create(target, items).await;
        super::failpoint::hit("after-batch", self.page, 0);
        match answer {
            Ok(outcome) => {
                for &i in which {
                    // Not known to be refused: a later attempt may go through, and it may have
                    // been created.
                    applied[i].result = Err(WriteError {
                        outcome_unknown: true,
                        ..WriteError::new(
                            "the batch answer did not mention this record",
                            ErrorClass::Transient,
                        )
                    });
                }
                for r in &outcome.results {
                    let (LinkValue::One(source_id), Some(id)) =
                        (self.engine.link_value(tgt_side, r), target.id_of(r))
                    else {
                        continue;
                    };
                    if let Some(&i) = which
                        .iter()
                        .find(|&&i| applied[i].plan.source_id == source_id)
                    {
                        applied[i].result = Ok(Some(id));
                    }
                }
                for d in &outcome.done {
                    let mine: Vec<usize> = which
                        .iter()
                        .copied()
                        .filter(|&i| applied[i].plan.source_id == d.key)
                        .collect();
                    for i in mine {
                        applied[i].result = match &d.id {
                            Some(id) => Ok(Some(id.clone())),
                            None => Err(WriteError::new(
                                "the batch answer accepted this record but gave no id for it; \
                                 find the new record before running again or it may be \
                                 created twice",
                                ErrorClass::Permanent,
                            )),
                        };
                    }
                }
                for e in &outcome.errors {
                    let existing = target
                        .create
                        .as_ref()
                        .and_then(|c| c.exists.as_ref())
                        .and_then(|x| {
                            x.pattern
                                .captures(&e.message)
                                .and_then(|c| c.get(1))
                                .map(|m| m.as_str().to_string())
                        });
                    let targets: Vec<usize> = match &e.key {
                        Some(k) => which
                            .iter()
                            .copied()
                            .filter(|&i| &applied[i].plan.source_id == k)
                            .collect(),
                        None => which
                            .iter()
                            .copied()
                            .filter(|&i| applied[i].result.is_err())
                            .collect(),
                    };
                    for i in targets {
                        match &existing {
                            Some(id) if e.key.is_some() => {
                                applied[i].result = Ok(Some(id.clone()));
                                applied[i].linked_existing = true;
                            }
                            _ => applied[i].result = Err(item_failed(e)),
                        }
                    }
                }
            }
            Err(e) => {
                for &i in which {
                    applied[i].result = Err(failed(&e));
                }
            }
        }
    }

    async fn batch_update(&self, applied: &mut [Applied], which: &[usize]) {
        let which = &self.still_held(applied, which)[..];
        if which.is_empty() {
            return;
        }
        let items: Vec<BatchItem> = which
            .iter()
            .map(|&i| BatchItem {
                key: applied[i].plan.source_id.clone(),
                id: applied[i].plan.target_id.clone(),
                fields: applied[i].plan.write.clone().unwrap_or(Value::Null),
            })
            .collect();
        match self.target.batch_update(self.engine.target(), items).await {
            Ok(outcome) => {
                for e in &outcome.errors {
                    let targets: Vec<usize> = match &e.key {
                        Some(k) => which
                            .iter()
                            .copied()
                            .filter(|&i| &applied[i].plan.source_id == k)
                            .collect(),
                        None => which.to_vec(),
                    };
                    for i in targets {
                        applied[i].result = Err(item_failed(e));
                    }
                }
            }
            Err(e) => {
                for &i in which {
                    applied[i].result = Err(failed(&e));
                }
            }
        }
    }

    /// Writes links and statuses back to the source records.
    /// Writes one record's link and status back to its source right after its target write;
    /// `Some(None)` when done, `Some(Some(error))` when it failed, `None` when nothing was due.
    async fn write_back_one(
        &self,
        plan: &RecordPlan,
        result: &WriteResult,
    ) -> Option<Option<String>> {
        let outcome = match result {
            Ok(Some(id)) => WriteOutcome::Done { target_id: id },
            Ok(None) => return None,
            Err(e) => WriteOutcome::Failed {
                message: e.status_message(),
            },
        };
        let fields = self.engine.writeback(plan, outcome, self.now)?;
        if !self.holds(&plan.source_id) {
            return Some(Some(claim_lost().message));
        }
        let r = self
            .source
            .update(
                self.engine.source(),
                &plan.source_id,
                fields,
                self.vars.source,
            )
            .await;
        Some(r.err().map(|e| e.to_string()))
    }

    /// Writes the reason of records that became conflicts after their create answered (the
    /// "already exists" record is linked to another) to their source's status field, so the
    /// conflict shows on the record, not only in the store.
    pub async fn write_back_conflicts(&self, applied: &mut [Applied], which: &[usize]) {
        for &i in which {
            let a = &applied[i];
            let reason = a.plan.reason.clone().unwrap_or_else(|| "conflict".into());
            let outcome = WriteOutcome::Failed { message: &reason };
            let Some(fields) = self.engine.writeback(&a.plan, outcome, self.now) else {
                continue;
            };
            if let Err(e) = self
                .source
                .update(
                    self.engine.source(),
                    &a.plan.source_id,
                    fields,
                    self.vars.source,
                )
                .await
            {
                applied[i].writeback_error = Some(e.to_string());
            }
        }
    }

    async fn write_back(&self, applied: &mut [Applied]) {
        let source = self.engine.source();
        let mut jobs: Vec<(usize, Value)> = Vec::new();
        let mut done = vec![false; applied.len()];
        for (i, a) in applied.iter_mut().enumerate() {
            if let Some(back) = a.written_back.take() {
                a.writeback_error = back;
                done[i] = true;
            }
        }
        for (i, a) in applied.iter().enumerate() {
            if done[i] || a.linked_existing || a.refused.is_some() {
                continue;
            }
            let outcome = match &a.result {
                Ok(Some(id)) => WriteOutcome::Done { target_id: id },
                Ok(None) => continue,
                Err(e) => WriteOutcome::Failed {
                    message: e.status_message(),
                },
            };
            if let Some(fields) = self.engine.writeback(&a.plan, outcome, self.now) {
                jobs.push((i, fields));
            }
        }
        let results: Vec<(usize, Result<(), String>)> =
            stream::iter(jobs.into_iter().map(|(i, fields)| {
                let id = applied[i].plan.source_id.clone();
                async move {
                    if !self.holds(&id) {
                        return (i, Err(claim_lost().message));
                    }
                    let r = self
                        .source
                        .update(source, &id, fields, self.vars.source)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string());
                    (i, r)
                }
            }))
            .buffered(self.concurrency.max(1))
            .collect()
            .await;
        for (i, r) in results {
            if let Err(e) = r {
                applied[i].writeback_error = Some(e);
            }
        }
    }
}
