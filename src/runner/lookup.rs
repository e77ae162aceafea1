//! Finds a source record's target through the state store and the target's snapshot, and
//! loads both sides' shadows, then asks the engine to plan it.

use std::collections::HashMap;

use serde_json::Value;

use super::RunnerError;
use crate::engine::{
    Engine, LinkValue, LinkedBy, PlanContext, PlanKind, RecordPlan, Shadow, Target,
};
use crate::mapping::Side;
use crate::store::{LinkState, RecordShadow, StateStore};

/// Everything a plan needs from the store, for one source record.
pub(crate) struct Planner<'a> {
    pub engine: &'a Engine<'a>,
    pub store: &'a dyn StateStore,
    pub pair: &'a str,
    pub now: &'a str,
}

impl Planner<'_> {
    /// Plans one source record.
    pub fn plan(&self, source: &Value, source_deleted: bool) -> Result<RecordPlan, RunnerError> {
        let dir = self.engine.direction();
        let (src_side, tgt_side) = (dir.source(), dir.target());
        let Some(source_id) = self.engine.source().id_of(source) else {
            return Ok(self.engine.plan(
                source,
                Target::None,
                &PlanContext {
                    now: self.now,
                    ..Default::default()
                },
            ));
        };
        let link = self.store.link(self.pair, src_side, &source_id)?;
        let source_shadow = shadow(self.store.record_shadow(self.pair, src_side, &source_id)?);
        let mut store_link = None;
        match &link {
            Some(l) if l.state == LinkState::Active => {
                store_link = Some(l.id_on(tgt_side).to_string())
            }
            Some(l)
                if matches!(
                    l.state,
                    LinkState::DeletedOnHome | LinkState::DeletedOnExternal
                ) =>
            {
                let mut plan = RecordPlan::skipped(
                    &source_id,
                    "the linked records' deletion was already synced",
                );
                plan.target_id = Some(l.id_on(tgt_side).to_string());
                if !source_deleted && !self.engine.is_deleted(src_side, source) {
                    plan.reason = Some(format!(
                        "the linked {} {} was deleted; mapsync does not re-create it",
                        self.engine.target().title,
                        l.id_on(tgt_side)
                    ));
                }
                return Ok(plan);
            }
            _ => {}
        }
        // Fetch every candidate the engine may ask for, then resolve over them.
        let mut by_id: HashMap<String, Value> = HashMap::new();
        let mut wanted: Vec<String> = store_link.iter().cloned().collect();
        if let LinkValue::One(id) = self.engine.link_value(src_side, source) {
            wanted.push(id);
        }
        for id in wanted {
            if let Some(v) = self.store.snapshot_get(self.pair, tgt_side, &id)? {
                by_id.insert(id, v);
            }
        }
        let linked_to = self.free(
            self.store
                .snapshot_by_link(self.pair, tgt_side, &source_id)?,
            &source_id,
        )?;
        let matched = match self.engine.match_key(src_side, source) {
            Some(key) => self.free(
                self.store.snapshot_by_match(self.pair, tgt_side, &key)?,
                &source_id,
            )?,
            None => Vec::new(),
        };
        let target = self.engine.resolve(
            source,
            store_link.as_deref(),
            |id| by_id.get(id),
            |_| linked_to.iter().map(|(i, v)| (i.clone(), v)).collect(),
            |_| matched.iter().map(|(i, v)| (i.clone(), v)).collect(),
        );
        let target_shadow = match &target {
            Target::Found { id, .. } => shadow(self.store.record_shadow(self.pair, tgt_side, id)?),
            _ => None,
        };
        let ctx = PlanContext {
            now: self.now,
            source_shadow: source_shadow.as_ref(),
            target_shadow: target_shadow.as_ref(),
            source_deleted,
        };
        let plan = self.engine.plan(source, target, &ctx);
        self.taken(plan)
    }

    /// A target found through a link field or the match keys, but linked in the store to
    /// another source record, cannot be linked to this one too: that is a conflict for a
    /// person, not a write (committing the link would fail on every run).
    fn taken(&self, plan: RecordPlan) -> Result<RecordPlan, RunnerError> {
        let tgt_side = self.engine.direction().target();
        let (Some(target_id), Some(by)) = (&plan.target_id, plan.linked_by) else {
            return Ok(plan);
        };
        if by == LinkedBy::Store || !links(plan.kind) {
            return Ok(plan);
        }
        match self.store.link(self.pair, tgt_side, target_id)? {
            Some(l)
                if l.state == LinkState::Active && l.id_on(tgt_side.other()) != plan.source_id =>
            {
                let other = l.id_on(tgt_side.other()).to_string();
                Ok(taken_conflict(plan, &other, self.engine))
            }
            _ => Ok(plan),
        }
    }

    /// Drops candidates already linked to another source record.
    fn free(
        &self,
        candidates: Vec<(String, Value)>,
        source_id: &str,
    ) -> Result<Vec<(String, Value)>, RunnerError> {
        let tgt_side = self.engine.direction().target();
        let src_side = tgt_side.other();
        let mut out = Vec::new();
        for (id, v) in candidates {
            match self.store.link(self.pair, tgt_side, &id)? {
                Some(l) if l.state == LinkState::Active && l.id_on(src_side) != source_id => {}
                _ => out.push((id, v)),
            }
        }
        Ok(out)
    }
}

/// True when applying a plan of this kind commits a link.
pub(crate) fn links(kind: PlanKind) -> bool {
    matches!(
        kind,
        PlanKind::Create | PlanKind::Update | PlanKind::Unchanged
    )
}

/// Turns a plan into a conflict because its target is (or would be) linked to `other`.
pub(crate) fn taken_conflict(plan: RecordPlan, other: &str, engine: &Engine<'_>) -> RecordPlan {
    let target_id = plan.target_id.clone().unwrap_or_default();
    let mut conflict = RecordPlan::skipped(
        &plan.source_id,
        &format!(
            "the {} {target_id} is linked to {} {other}; resolve the duplicate by hand",
            engine.target().title,
            engine.source().title
        ),
    );
    conflict.kind = PlanKind::Conflict;
    // The source's status as read, so the conflict's reason is written back only when the
    // source does not say it already (else each write-back's echo would write it again).
    conflict.source_status = plan.source_status;
    conflict.source_link = plan.source_link;
    conflict
}

/// The values at the last sync: per field, the newer of what was written and what was read.
pub(crate) fn shadow(record: RecordShadow) -> Option<Shadow> {
    if record.is_empty() {
        return None;
    }
    let mut out = Shadow::default();
    for (field, f) in record {
        let newest = match (f.written, f.read) {
            (Some(w), Some(r)) => Some(if w.at >= r.at { w } else { r }),
            (w, r) => w.or(r),
        };
        if let Some(v) = newest {
            out.0.insert(field, v.value);
        }
    }
    Some(out)
}

/// The side a link id belongs to.
pub(crate) fn link_for(
    side_of_source: Side,
    source_id: &str,
    target_id: &str,
) -> crate::store::Link {
    match side_of_source {
        Side::Home => crate::store::Link::active(source_id, target_id),
        Side::External => crate::store::Link::active(target_id, source_id),
    }
}
