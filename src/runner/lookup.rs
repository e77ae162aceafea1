//! The one planning path of `sync` and the `serve` workers: finds a source record's target
//! through the state store and the target's records (a full sync's snapshot, or live reads),
//! leaves out candidates linked to another record, loads both sides' shadows, asks the engine to
//! plan it, and turns a target linked elsewhere into a conflict.

use std::collections::HashMap;

use serde_json::Value;

use super::RunnerError;
use crate::engine::{
    Engine, LinkValue, LinkedBy, PlanContext, PlanKind, RecordPlan, Shadow, Target,
};
use crate::mapping::Side;
use crate::store::{LinkState, RecordShadow, StateStore, StoreError};

/// Everything a plan needs from the store, for one source record.
pub(crate) struct Planner<'a> {
    pub engine: &'a Engine<'a>,
    pub store: &'a dyn StateStore,
    /// Where the target's snapshot is: the store, or a dry run's private copy.
    pub snapshot: &'a dyn StateStore,
    pub pair: &'a str,
    pub now: &'a str,
}

/// The first step of planning a record: a plan already (no id, or a link whose deletion was
/// synced), or what to read from the target before the record can be resolved.
pub(crate) enum Prepared {
    /// Nothing to look up.
    Planned(Box<RecordPlan>),
    /// Read these target records, then `decide`.
    Lookup(Lookup),
}

/// What the planner must read from the target for one source record.
pub(crate) struct Lookup {
    /// The source record's id.
    pub source_id: String,
    /// The target the store links the source to.
    pub store_link: Option<String>,
    /// Target ids to read by id: the store's link and what the source's link field names.
    pub ids: Vec<String>,
}

/// The target records found for one source record, however they were read: a full sync's
/// snapshot, or live reads in `serve`. Records marked deleted are left out by the caller.
#[derive(Default)]
pub(crate) struct Candidates {
    /// Records read by id.
    pub by_id: HashMap<String, Value>,
    /// Records whose link field names the source.
    pub linked_to: Vec<(String, Value)>,
    /// Records with the source's match key.
    pub matched: Vec<(String, Value)>,
    /// A record whose link field names the source among several ids (a merged record): the
    /// source is part of that record's conflict.
    pub named_by_several: Option<(String, String)>,
}

impl Planner<'_> {
    /// Plans one source record from the store and the snapshot.
    pub fn plan(&self, source: &Value, source_deleted: bool) -> Result<RecordPlan, RunnerError> {
        let tgt_side = self.engine.direction().target();
        let lookup = match self.prepare(source, source_deleted)? {
            Prepared::Planned(plan) => return Ok(*plan),
            Prepared::Lookup(l) => l,
        };
        let mut c = Candidates::default();
        for id in &lookup.ids {
            if let Some(v) = self.snapshot.snapshot_get(self.pair, tgt_side, id)? {
                c.by_id.insert(id.clone(), v);
            }
        }
        c.linked_to = self
            .snapshot
            .snapshot_by_link(self.pair, tgt_side, &lookup.source_id)?;
        if let Some(key) = self.engine.match_key(tgt_side.other(), source) {
            c.matched = self.snapshot.snapshot_by_match(self.pair, tgt_side, &key)?;
        }
        c.named_by_several =
            self.snapshot
                .snapshot_named_among_several(self.pair, tgt_side, &lookup.source_id)?;
        Ok(self.decide(source, source_deleted, &lookup, c)?)
    }

    /// The store's part before any target is read: the link, and what to read by id.
    pub fn prepare(&self, source: &Value, source_deleted: bool) -> Result<Prepared, StoreError> {
        let dir = self.engine.direction();
        let (src_side, tgt_side) = (dir.source(), dir.target());
        let Some(source_id) = self.engine.source().id_of(source) else {
            return Ok(Prepared::Planned(Box::new(self.engine.plan(
                source,
                Target::None,
                &PlanContext {
                    now: self.now,
                    ..Default::default()
                },
            ))));
        };
        let mut store_link = None;
        match self.store.link(self.pair, src_side, &source_id)? {
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
                return Ok(Prepared::Planned(Box::new(plan)));
            }
            _ => {}
        }
        let mut ids: Vec<String> = store_link.iter().cloned().collect();
        if let LinkValue::One(id) = self.engine.link_value(src_side, source)
            && !ids.contains(&id)
        {
            ids.push(id);
        }
        Ok(Prepared::Lookup(Lookup {
            source_id,
            store_link,
            ids,
        }))
    }

    /// Resolves the target among the candidates (the engine's order: store link, link fields,
    /// match keys; candidates linked in the store to another record are left out), loads both
    /// sides' shadows and plans; a target linked to another record is a conflict.
    pub fn decide(
        &self,
        source: &Value,
        source_deleted: bool,
        lookup: &Lookup,
        c: Candidates,
    ) -> Result<RecordPlan, StoreError> {
        let dir = self.engine.direction();
        let (src_side, tgt_side) = (dir.source(), dir.target());
        let source_id = lookup.source_id.as_str();
        let linked_to = self.free(c.linked_to, source_id)?;
        let matched = self.free(c.matched, source_id)?;
        let by_id = c.by_id;
        let mut target = self.engine.resolve(
            source,
            lookup.store_link.as_deref(),
            |id| by_id.get(id),
            |_| linked_to.iter().map(|(i, v)| (i.clone(), v)).collect(),
            |_| matched.iter().map(|(i, v)| (i.clone(), v)).collect(),
        );
        if let (
            Some((holder, text)),
            Target::None
            | Target::Found {
                by: LinkedBy::Match,
                ..
            },
        ) = (&c.named_by_several, &target)
        {
            target = Target::Ambiguous {
                ids: vec![holder.clone()],
                why: format!(
                    "the {} {holder} names this {} among several in its link field ({text}); resolve the merge by hand",
                    self.engine.target().title,
                    self.engine.source().title
                ),
            };
        }
        let source_shadow = shadow(self.store.record_shadow(self.pair, src_side, source_id)?);
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
    fn taken(&self, plan: RecordPlan) -> Result<RecordPlan, StoreError> {
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
    ) -> Result<Vec<(String, Value)>, StoreError> {
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
