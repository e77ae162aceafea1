//! The audit trail the runner keeps for `mapsync explain`: what a sync or a worker did to each
//! record, written to the store beside the record's commit (best effort: a failure to record
//! history is logged, never fails the sync), with bounded retention per record.

use std::sync::atomic::{AtomicU32, Ordering};

use jiff::Timestamp;

use super::apply::Applied;
use crate::engine::{Engine, PlanKind};
use crate::mapping::{Direction, Side};
use crate::store::{AuditEntry, AuditKind, StateStore};

/// Entries kept per record when nothing else is configured.
pub const DEFAULT_RETENTION: u32 = 200;

static RETENTION: AtomicU32 = AtomicU32::new(DEFAULT_RETENTION);

/// Sets how many audit entries are kept per record (the CLI's `MAPSYNC_AUDIT_RETENTION`);
/// 0 keeps no history.
pub fn set_audit_retention(entries: u32) {
    RETENTION.store(entries, Ordering::Relaxed);
}

/// The entries for one applied record: on the source record, and on the target record when
/// there is one. An unchanged record leaves no entry (a full sync would otherwise fill every
/// trail with "nothing differs").
pub(crate) fn applied(
    dir: Direction,
    engine: &Engine,
    a: &Applied,
    at: Timestamp,
) -> Vec<AuditEntry> {
    let p = &a.plan;
    let reason = || p.reason.clone().unwrap_or_default();
    let (kind, detail) = if let Err(e) = &a.result {
        (
            AuditKind::Failed,
            format!("{:?} failed: {}", p.kind, e.message).to_lowercase_first(),
        )
    } else if let Some(r) = &a.refused {
        (AuditKind::Failed, format!("the target refused: {r}"))
    } else if let Some(line) = super::narrate::line(dir, engine, a) {
        let mut line = line;
        if !p.invalid.is_empty() {
            line.push_str(&format!(" (invalid: {})", p.invalid.join("; ")));
        }
        if let Some(w) = &a.writeback_error {
            line.push_str(&format!(" (write-back failed: {w})"));
        }
        (AuditKind::Write, line)
    } else {
        match p.kind {
            _ if p.conflicts.iter().any(|c| c.winner.is_none()) => {
                (AuditKind::Conflict, p.reason.clone().unwrap_or_default())
            }
            PlanKind::Echo => (AuditKind::Echo, format!("echo skipped: {}", reason())),
            PlanKind::Conflict => (AuditKind::Conflict, reason()),
            PlanKind::Failed => (AuditKind::Failed, reason()),
            PlanKind::Skip | PlanKind::Unlink => (AuditKind::Skip, reason()),
            _ => return Vec::new(),
        }
    };
    let target_id = match &a.result {
        Ok(Some(id)) => Some(id.clone()),
        _ => p.target_id.clone(),
    };
    // Group conflicts: reported ones are steps of their own (before the status write that
    // reports them); ones a policy decided are told with the write.
    let mut steps = Vec::new();
    let mut detail = detail;
    for c in &p.conflicts {
        match c.winner {
            None => steps.push((
                AuditKind::Conflict,
                p.reason
                    .clone()
                    .filter(|r| r.contains(&c.group))
                    .unwrap_or_else(|| {
                        format!(
                            "conflict in {}: both sides changed it; left for a person",
                            c.group
                        )
                    }),
            )),
            Some(w) => detail.push_str(&format!(
                " (conflict in {} decided by `{}`: the {w} side wins)",
                c.group, c.policy
            )),
        }
    }
    if kind != AuditKind::Conflict || steps.is_empty() {
        steps.push((kind, detail));
    }
    let mut out = Vec::new();
    for (kind, detail) in steps {
        out.push(AuditEntry {
            side: dir.source(),
            record_id: p.source_id.clone(),
            at,
            kind,
            direction: Some(dir),
            detail: detail.clone(),
        });
        if let Some(id) = &target_id {
            out.push(AuditEntry {
                side: dir.target(),
                record_id: id.clone(),
                at,
                kind,
                direction: Some(dir),
                detail,
            });
        }
    }
    out
}

/// One entry on one record.
pub(crate) fn entry(
    side: Side,
    record_id: &str,
    dir: Option<Direction>,
    kind: AuditKind,
    detail: String,
    at: Timestamp,
) -> AuditEntry {
    AuditEntry {
        side,
        record_id: record_id.to_string(),
        at,
        kind,
        direction: dir,
        detail,
    }
}

/// Appends entries to the trail, logging (never failing) when the store refuses.
pub(crate) fn record(store: &dyn StateStore, pair: &str, entries: &[AuditEntry]) {
    if entries.is_empty() {
        return;
    }
    if let Err(e) = store.audit_append(pair, entries, RETENTION.load(Ordering::Relaxed)) {
        tracing::warn!(error = %e, "Could not record the audit trail; `mapsync explain` will miss these steps.");
    }
}

trait LowerFirst {
    fn to_lowercase_first(self) -> String;
}

impl LowerFirst for String {
    fn to_lowercase_first(self) -> String {
        let mut c = self.chars();
        match c.next() {
            Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
            None => self,
        }
    }
}
