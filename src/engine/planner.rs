//! `Engine`: plans one direction of a pair, record by record, from records and remembered
//! state, with no I/O. The runner feeds it what it read and applies what it decides.

use serde_json::{Map, Value};

use super::mapper::{self, GroupValues};
use super::merge::{self, Decision, GroupConflict};
use super::normalize::{canonical, is_empty, same};
use super::plan::{FieldChange, LinkedBy, PlanKind, RecordPlan};
use super::shadow::Shadow;
use super::status::{StatusMeaning, StatusTexts};
use crate::expr::{Expr, ExprError, FieldPath, Vars};
use crate::mapping::model::{Collection, DeletePolicy, Mapping, Rule, Sides};
use crate::mapping::{Direction, Side};

/// The target of a source record, as the runner found it.
#[derive(Debug, Clone)]
pub enum Target<'a> {
    /// Linked or matched, and read.
    Found {
        /// The target's id.
        id: String,
        /// The whole target record.
        record: &'a Value,
        /// How it was found.
        by: LinkedBy,
    },
    /// Linked, but the target record no longer exists.
    Gone {
        /// The id the link names.
        id: String,
    },
    /// No link and no match: a new record.
    None,
    /// The link or match names several records.
    Ambiguous {
        /// The candidates.
        ids: Vec<String>,
        /// Why.
        why: String,
    },
}

/// What a link field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkValue {
    /// Nothing.
    None,
    /// One id.
    One(String),
    /// Several ids (e.g. after a merge).
    Several(Vec<String>),
}

/// Remembered state the plan compares with.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanContext<'a> {
    /// The time for status texts (RFC 3339, UTC).
    pub now: &'a str,
    /// The source record's values at the last sync.
    pub source_shadow: Option<&'a Shadow>,
    /// The target record's values at the last sync.
    pub target_shadow: Option<&'a Shadow>,
    /// The source record is known to be deleted (e.g. it came from a list of archived records).
    pub source_deleted: bool,
}

/// How a planned write ended, for the write-back to the source.
#[derive(Debug, Clone, Copy)]
pub enum WriteOutcome<'a> {
    /// The target write landed (or none was needed); the target's id.
    Done {
        /// The target's id.
        target_id: &'a str,
    },
    /// The target write failed.
    Failed {
        /// The API's error, for the status text.
        message: &'a str,
    },
}

/// Plans one direction of a mapping's pair.
#[derive(Debug)]
pub struct Engine<'m> {
    mapping: &'m Mapping,
    direction: Direction,
    status: Option<StatusTexts>,
    data_fields: Sides<Vec<FieldPath>>,
    attrs: Sides<Vec<String>>,
    /// Per field group, the shadow keys it owns on each side (what tells that side changed it).
    group_keys: Vec<Sides<Vec<String>>>,
    /// Per side, the attributes to hand the expressions evaluated over that side's fields,
    /// when they read nothing else of `record` (see [`crate::expr::Expr::attribute_reads`]);
    /// `None`: they get the whole fields object.
    projection: Sides<Option<Vec<String>>>,
    /// Per side, the same for the collection's `deleted` expression over the whole record.
    deleted_projection: Sides<Option<Vec<String>>>,
}

impl<'m> Engine<'m> {
    /// An engine for one direction.
    pub fn new(mapping: &'m Mapping, direction: Direction) -> Engine<'m> {
        let pair = &mapping.pair;
        let mut data_fields = Sides::<Vec<FieldPath>>::default();
        let mut attrs = Sides::<Vec<String>>::default();
        let mut projection = Sides::<Option<Vec<String>>>::default();
        let mut deleted_projection = Sides::<Option<Vec<String>>>::default();
        for side in [Side::Home, Side::External] {
            let reads = if side == Side::Home {
                Direction::Outbound
            } else {
                Direction::Inbound
            };
            let writes = if side == Side::Home {
                Direction::Inbound
            } else {
                Direction::Outbound
            };
            let mut fields: Vec<FieldPath> = Vec::new();
            let mut read_attrs: Vec<String> = Vec::new();
            // Every expression evaluated with `record` = this side's fields.
            let mut over_side: Vec<&Expr> = Vec::new();
            for g in &pair.groups {
                for (_, e) in g.mappings(reads) {
                    read_attrs.extend(e.attributes_of("record"));
                    over_side.push(e);
                }
                for (f, _) in g.mappings(writes) {
                    fields.push(f.clone());
                }
            }
            for a in &read_attrs {
                fields.push(FieldPath::single(a));
            }
            if let Some(m) = &pair.match_keys {
                read_attrs.extend(m.get(side).attributes_of("record"));
                over_side.push(m.get(side));
            }
            for r in pair.rules.iter().filter(|r| r.side != side) {
                if let Some(p) = &r.protect {
                    read_attrs.extend(p.attributes_of("record"));
                    over_side.push(p);
                }
            }
            let projectable = over_side
                .iter()
                .all(|e| e.attribute_reads("record").is_some());
            let link = pair.link.get(side);
            let status = pair
                .status
                .as_ref()
                .and_then(|s| s.fields.get(side).clone());
            fields.retain(|f| f != link && Some(f) != status.as_ref());
            fields.sort();
            fields.dedup();
            read_attrs.sort();
            read_attrs.dedup();
            *data_fields.get_mut(side) = fields;
            *projection.get_mut(side) = projectable.then(|| read_attrs.clone());
            *attrs.get_mut(side) = read_attrs;
            *deleted_projection.get_mut(side) = mapping
                .collection(side)
                .deleted
                .as_ref()
                .and_then(|e| e.attribute_reads("record"))
                .map(|a| a.into_iter().collect());
        }
        let group_keys = pair
            .groups
            .iter()
            .map(|g| {
                let mut keys = Sides::<Vec<String>>::default();
                for side in [Side::Home, Side::External] {
                    let (reads, writes) = match side {
                        Side::Home => (Direction::Outbound, Direction::Inbound),
                        Side::External => (Direction::Inbound, Direction::Outbound),
                    };
                    let mut k: Vec<String> = g
                        .mappings(writes)
                        .iter()
                        .map(|(f, _)| f.to_string())
                        .collect();
                    for (_, e) in g.mappings(reads) {
                        k.extend(
                            e.attributes_of("record")
                                .iter()
                                .map(|a| FieldPath::single(a).to_string()),
                        );
                    }
                    let fields = data_fields.get(side);
                    k.retain(|key| fields.iter().any(|f| f.to_string() == *key));
                    k.sort();
                    k.dedup();
                    *keys.get_mut(side) = k;
                }
                keys
            })
            .collect();
        Engine {
            mapping,
            direction,
            status: pair.status.as_ref().map(StatusTexts::new),
            data_fields,
            attrs,
            group_keys,
            projection,
            deleted_projection,
        }
    }

    /// The variables for expressions over a side's (filled) fields: `record`, projected to the
    /// attributes they read when that is all they read.
    fn vars_over(&self, side: Side, fields: &Value) -> Vars {
        match self.projection.get(side) {
            Some(keys) => Vars::new().with_keys("record", fields, keys),
            None => Vars::new().with("record", fields),
        }
    }

    /// The direction planned.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The collection records are read from.
    pub fn source(&self) -> &'m Collection {
        self.mapping.collection(self.direction.source())
    }

    /// The collection records are written to.
    pub fn target(&self) -> &'m Collection {
        self.mapping.collection(self.direction.target())
    }

    /// The data fields compared on a side (no link or status fields).
    pub fn data_fields(&self, side: Side) -> &[FieldPath] {
        self.data_fields.get(side)
    }

    /// The fields object of a side's record (`{}` when absent).
    pub fn fields_of<'v>(&self, side: Side, record: &'v Value) -> &'v Value {
        static EMPTY: Value = Value::Null;
        self.mapping
            .collection(side)
            .fields_of(record)
            .unwrap_or(&EMPTY)
    }

    /// The data values of a side's record, as its shadow.
    pub fn shadow_of(&self, side: Side, record: &Value) -> Shadow {
        Shadow::of(self.fields_of(side, record), self.data_fields(side))
    }

    /// True when a side's record is marked deleted.
    pub fn is_deleted(&self, side: Side, record: &Value) -> bool {
        let c = self.mapping.collection(side);
        c.deleted.as_ref().is_some_and(|e| {
            let vars = match self.deleted_projection.get(side) {
                Some(keys) => Vars::new().with_keys("record", record, keys),
                None => Vars::new().with("record", record),
            };
            e.eval_bool(&vars).unwrap_or(false)
        })
    }

    /// When a side's record last changed in its system, by the collection's `modified_at`
    /// (RFC 3339 text, a date and time without offset read as UTC, or epoch milliseconds as a
    /// number or digits); `None` when not declared, absent or not a time.
    pub fn modified_at(&self, side: Side, record: &Value) -> Option<jiff::Timestamp> {
        let e = self.mapping.collection(side).modified_at.as_ref()?;
        match e.eval(&Vars::new().with("record", record)).ok()? {
            Value::Number(n) => jiff::Timestamp::from_millisecond(n.as_i64()?).ok(),
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                jiff::Timestamp::from_millisecond(s.parse().ok()?).ok()
            }
            Value::String(s) => s.parse().ok().or_else(|| {
                // A date and time without an offset (`2026-11-29 05:00:00`) is read as UTC.
                let civil: jiff::civil::DateTime = s.parse().ok()?;
                jiff::tz::TimeZone::UTC.to_timestamp(civil).ok()
            }),
            _ => None,
        }
    }

    /// What a side's record holds in its link field.
    pub fn link_value(&self, side: Side, record: &Value) -> LinkValue {
        let path = self.mapping.pair.link.get(side);
        let text = match path.get(self.fields_of(side, record)) {
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return LinkValue::None,
        };
        if text.is_empty() {
            return LinkValue::None;
        }
        match &self.mapping.pair.link_separator {
            Some(sep) if text.contains(sep.as_str()) => {
                let ids: Vec<String> = text
                    .split(sep.as_str())
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if ids.len() == 1 {
                    LinkValue::One(ids[0].clone())
                } else {
                    LinkValue::Several(ids)
                }
            }
            _ => LinkValue::One(text),
        }
    }

    /// A side's record's match key (trimmed; `None` when empty or not declared).
    pub fn match_key(&self, side: Side, record: &Value) -> Option<String> {
        let m = self.mapping.pair.match_keys.as_ref()?;
        let fields = mapper::fill(self.fields_of(side, record), self.attrs.get(side));
        match m.get(side).eval(&self.vars_over(side, &fields)).ok()? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Finds the target of a source record: the store's link first, then the source's link
    /// field, then a target whose link field names the source (a write whose link never made it
    /// back), then the match keys. `get` looks a target up by id; `linked_to` by the value of
    /// its link field; `matches` by match key.
    pub fn resolve<'a>(
        &self,
        source: &Value,
        store_link: Option<&str>,
        get: impl Fn(&str) -> Option<&'a Value>,
        linked_to: impl Fn(&str) -> Vec<(String, &'a Value)>,
        matches: impl Fn(&str) -> Vec<(String, &'a Value)>,
    ) -> Target<'a> {
        let found = |id: &str, by| match get(id) {
            Some(record) => Target::Found {
                id: id.to_string(),
                record,
                by,
            },
            None => Target::Gone { id: id.to_string() },
        };
        if let Some(id) = store_link {
            return found(id, LinkedBy::Store);
        }
        match self.link_value(self.direction.source(), source) {
            LinkValue::One(id) => return found(&id, LinkedBy::LinkField),
            LinkValue::Several(ids) => {
                let why = format!(
                    "the link field holds {} ids ({}); resolve the merge by hand",
                    ids.len(),
                    ids.join(", ")
                );
                return Target::Ambiguous { ids, why };
            }
            LinkValue::None => {}
        }
        if let Some(source_id) = self.source().id_of(source) {
            let mut back = linked_to(&source_id);
            match back.len() {
                0 => {}
                1 => {
                    let (id, record) = back.remove(0);
                    return Target::Found {
                        id,
                        record,
                        by: LinkedBy::TargetLinkField,
                    };
                }
                _ => {
                    let ids: Vec<String> = back.into_iter().map(|(id, _)| id).collect();
                    let why = format!(
                        "{} {} records name this {} in their link field",
                        ids.len(),
                        self.target().title,
                        self.source().title
                    );
                    return Target::Ambiguous { ids, why };
                }
            }
        }
        let Some(key) = self.match_key(self.direction.source(), source) else {
            return Target::None;
        };
        let mut candidates = matches(&key);
        match candidates.len() {
            0 => Target::None,
            1 => {
                let (id, record) = candidates.remove(0);
                Target::Found {
                    id,
                    record,
                    by: LinkedBy::Match,
                }
            }
            _ => {
                let ids: Vec<String> = candidates.into_iter().map(|(id, _)| id).collect();
                let why = format!(
                    "{} {} records match `{key}`",
                    ids.len(),
                    self.target().title
                );
                Target::Ambiguous { ids, why }
            }
        }
    }

    /// Plans one source record.
    pub fn plan(&self, source: &Value, target: Target<'_>, ctx: &PlanContext<'_>) -> RecordPlan {
        let src_side = self.direction.source();
        let Some(source_id) = self.source().id_of(source) else {
            return RecordPlan::new("", PlanKind::Failed).because(format!(
                "a {} has no id at `{}`",
                self.source().title,
                self.source().id.source()
            ));
        };
        let mut plan = RecordPlan::new(&source_id, PlanKind::Skip);
        plan.source_link = match self.link_value(src_side, source) {
            LinkValue::One(id) => Some(id),
            _ => None,
        };
        plan.source_status = self.status_text(src_side, source);
        plan.source_shadow = self.shadow_of(src_side, source);
        if ctx.source_deleted || self.is_deleted(src_side, source) {
            return self.plan_delete(plan, target);
        }
        let result = match target {
            Target::Ambiguous { ids, why } => {
                plan.kind = PlanKind::Conflict;
                plan.reason = Some(why);
                let _ = ids;
                Ok(plan)
            }
            Target::Gone { id } => {
                plan.target_id = Some(id.clone());
                Ok(plan.because(format!(
                    "the linked {} {id} no longer exists; its deletion syncs the other way",
                    self.target().title
                )))
            }
            Target::None => self.plan_create(plan, source, ctx),
            Target::Found { id, record, .. }
                if matches!(
                    self.link_value(self.direction.target(), record),
                    LinkValue::Several(_)
                ) =>
            {
                // A merged record (its link field names several records): writing this one's
                // link over it would erase the merge; a person resolves it.
                let text = self
                    .mapping
                    .pair
                    .link
                    .get(self.direction.target())
                    .get(self.fields_of(self.direction.target(), record))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                plan.kind = PlanKind::Conflict;
                plan.target_id = Some(id.clone());
                plan.reason = Some(format!(
                    "the {} {id} names several {} records in its link field ({text}); resolve the merge by hand",
                    self.target().title,
                    self.source().title
                ));
                Ok(plan)
            }
            Target::Found { id, record, by } => {
                self.plan_update(plan, source, &id, record, by, ctx)
            }
        };
        result.unwrap_or_else(|e| {
            let mut p = RecordPlan::new(&source_id, PlanKind::Failed);
            p.reason = Some(format!("the mapping failed for this record: {e}"));
            p
        })
    }

    fn plan_delete(&self, mut plan: RecordPlan, target: Target<'_>) -> RecordPlan {
        let Target::Found { id, by, .. } = target else {
            return plan.because(format!(
                "deleted, and no linked {} exists",
                self.target().title
            ));
        };
        if by == LinkedBy::Match {
            // A record found only through a match key was never this record's counterpart:
            // deleting it would delete a stranger who shares, say, an email address.
            return plan.because(format!(
                "deleted, and never linked; the {} {id} only shares its match key, so it is left alone",
                self.target().title
            ));
        }
        plan.target_id = Some(id);
        match self.mapping.pair.deletes.get(self.direction) {
            DeletePolicy::Delete if self.target().delete.is_some() => plan.kind = PlanKind::Delete,
            DeletePolicy::ForceDelete if self.target().delete.is_some() => {
                plan.kind = PlanKind::Delete;
                plan.force = true;
            }
            DeletePolicy::Delete | DeletePolicy::ForceDelete => {
                plan.reason = Some(format!(
                    "the {} collection declares no delete operation",
                    self.target().name
                ));
            }
            DeletePolicy::Unlink => plan.kind = PlanKind::Unlink,
            DeletePolicy::Ignore => {
                plan.reason = Some(format!(
                    "deleted; the {} delete policy is `ignore`",
                    self.direction
                ))
            }
        }
        plan
    }

    fn map(
        &self,
        source_fields: &Value,
        statuses: &[Option<String>],
    ) -> Result<(Vec<GroupValues>, Vec<String>), ExprError> {
        let vars = self.vars_over(self.direction.source(), source_fields);
        let mut groups = mapper::map_groups(&self.mapping.pair.groups, self.direction, &vars)?;
        let refused = |r: &Rule, v: &Value| self.known_refused(r, v, statuses);
        let invalid =
            mapper::apply_rules(&self.mapping.pair, self.direction, &mut groups, &refused)?;
        Ok((groups, invalid))
    }

    /// True when a status of the pair says the API refused `value` for `rule` (the status is
    /// where a refusal is remembered: its text is the rule's message for that value).
    fn known_refused(
        &self,
        rule: &Rule,
        value: &Value,
        statuses: &[Option<String>],
    ) -> Result<bool, ExprError> {
        let Some(texts) = &self.status else {
            return Ok(false);
        };
        if rule.refused.is_empty()
            || is_empty(Some(value))
            || same(Some(value), Some(&rule.placeholder))
        {
            return Ok(false);
        }
        if !statuses
            .iter()
            .any(|s| texts.may_say_an_error(s.as_deref()))
        {
            return Ok(false);
        }
        let meaning = StatusMeaning::Error(mapper::message(rule, value)?);
        Ok(texts.any_says(statuses, &meaning))
    }

    /// A write the target's API refused: when the refusal is one a rule declares (`refused`)
    /// and the write holds a value for that rule's field, the same plan with the placeholder in
    /// its place and the rule's message as its status, to be written instead. `None` when the
    /// refusal is not a rule's: it stays a failure.
    pub fn on_refusal(
        &self,
        plan: &RecordPlan,
        status: Option<u16>,
        message: &str,
        now: &str,
    ) -> Option<RecordPlan> {
        let tgt_side = self.direction.target();
        let write = plan.write.as_ref()?;
        if !matches!(
            plan.kind,
            PlanKind::Create | PlanKind::Update | PlanKind::Unchanged
        ) {
            return None;
        }
        let rule = self.mapping.pair.rules.iter().find(|r| {
            r.side == tgt_side
                && r.refuses(status, message)
                && r.field
                    .get(write)
                    .is_some_and(|v| !is_empty(Some(v)) && !same(Some(v), Some(&r.placeholder)))
        })?;
        let value = rule.field.get(write)?.clone();
        let text = mapper::message(rule, &value).ok()?;
        let mut out = plan.clone();
        let mut new_write = write.clone();
        rule.field.set(&mut new_write, rule.placeholder.clone());
        let meaning = StatusMeaning::Error(text.clone());
        self.set_status(&mut new_write, tgt_side, &meaning, now);
        let field = rule.field.to_string();
        for c in out.changes.iter_mut().filter(|c| c.field == field) {
            c.to = canonical(Some(&rule.placeholder));
        }
        out.target_shadow
            .overlay(&Shadow::of_written(&new_write, self.data_fields(tgt_side)));
        out.write = Some(new_write);
        out.invalid.insert(0, text);
        out.status = Some(meaning);
        Some(out)
    }

    fn plan_create(
        &self,
        mut plan: RecordPlan,
        source: &Value,
        ctx: &PlanContext<'_>,
    ) -> Result<RecordPlan, ExprError> {
        if self.target().create.is_none() {
            return Ok(plan.because(format!(
                "not linked, and the {} collection declares no create",
                self.target().name
            )));
        }
        let src_fields = mapper::fill(
            self.fields_of(self.direction.source(), source),
            self.attrs.get(self.direction.source()),
        );
        let (groups, invalid) = self.map(&src_fields, std::slice::from_ref(&plan.source_status))?;
        let mut write = Value::Object(Map::new());
        for (f, v) in groups.iter().flat_map(|g| g.values.iter()) {
            if !same(Some(v), None) {
                plan.changes.push(FieldChange {
                    field: f.to_string(),
                    from: Value::Null,
                    to: canonical(Some(v)),
                });
            }
            f.set(&mut write, v.clone());
        }
        self.mapping
            .pair
            .link
            .get(self.direction.target())
            .set(&mut write, Value::String(plan.source_id.clone()));
        let meaning = meaning_of(&invalid);
        self.set_status(&mut write, self.direction.target(), &meaning, ctx.now);
        plan.target_shadow = Shadow::of(&write, self.data_fields(self.direction.target()));
        plan.kind = PlanKind::Create;
        plan.write = Some(write);
        plan.status = Some(meaning);
        plan.invalid = invalid;
        Ok(plan)
    }

    fn plan_update(
        &self,
        mut plan: RecordPlan,
        source: &Value,
        target_id: &str,
        target: &Value,
        by: LinkedBy,
        ctx: &PlanContext<'_>,
    ) -> Result<RecordPlan, ExprError> {
        let (src_side, tgt_side) = (self.direction.source(), self.direction.target());
        plan.target_id = Some(target_id.to_string());
        plan.linked_by = Some(by);
        let tgt_fields = mapper::fill(self.fields_of(tgt_side, target), self.attrs.get(tgt_side));
        let src_fields = mapper::fill(self.fields_of(src_side, source), self.attrs.get(src_side));
        let statuses = [
            plan.source_status.clone(),
            self.status_text(tgt_side, target),
        ];
        let refused = |r: &Rule, v: &Value| self.known_refused(r, v, &statuses);
        let tgt_vars = self.vars_over(tgt_side, &tgt_fields);
        let (src_fields, protected) = mapper::protect(
            &self.mapping.pair,
            self.direction,
            &src_fields,
            Some(&tgt_vars),
            &refused,
        )?;
        let (groups, mut invalid) = self.map(&src_fields, &statuses)?;
        invalid.extend(protected);
        let current_target = Shadow::of(&tgt_fields, self.data_fields(tgt_side));
        // The `newest` policy's winner: by the systems' modification times when both records
        // give one, else the side being synced from. Worked out only for a group that differs.
        let newest = std::cell::OnceCell::new();
        let newest = || {
            *newest.get_or_init(|| {
                match (
                    self.modified_at(src_side, source),
                    self.modified_at(tgt_side, target),
                ) {
                    (Some(s), Some(t)) if t > s => tgt_side,
                    _ => src_side,
                }
            })
        };
        let mut diffs: Vec<(FieldPath, Value)> = Vec::new();
        // Keys whose base must stay as it is: groups the target won or a person must decide.
        let mut keep_base = Sides::<Vec<String>>::default();
        let (mut target_won, mut reported) = (false, Vec::new());
        for ((group, desired), keys) in self
            .mapping
            .pair
            .groups
            .iter()
            .zip(&groups)
            .zip(&self.group_keys)
        {
            if group.mappings(self.direction).is_empty() {
                continue;
            }
            let in_step = mapper::group_in_step(
                &self.mapping.pair,
                group,
                self.direction,
                desired,
                &tgt_fields,
                &tgt_vars,
                &src_fields,
            )?;
            let policy = group.conflicts.unwrap_or(self.mapping.pair.conflicts);
            let (decision, conflict) = merge::decide(
                in_step,
                group.one_way,
                // The base: each side's values after the last sync (none before the first).
                merge::changed(ctx.source_shadow, &plan.source_shadow, keys.get(src_side)),
                merge::changed(ctx.target_shadow, &current_target, keys.get(tgt_side)),
                policy,
                (src_side, if in_step { src_side } else { newest() }),
            );
            if let Some((cause, winner)) = conflict {
                plan.conflicts.push(GroupConflict {
                    group: group.name.clone(),
                    cause,
                    policy: policy.name(),
                    winner,
                });
            }
            match decision {
                Decision::InStep => continue,
                Decision::SourceWins => {}
                Decision::TargetWins | Decision::Reported => {
                    if decision == Decision::TargetWins {
                        target_won = true;
                    } else {
                        reported.push(group.name.clone());
                    }
                    for side in [Side::Home, Side::External] {
                        keep_base
                            .get_mut(side)
                            .extend(keys.get(side).iter().cloned());
                    }
                    continue;
                }
            }
            for (f, v) in &desired.values {
                if !same(f.get(&tgt_fields), Some(v)) {
                    plan.changes.push(FieldChange {
                        field: f.to_string(),
                        from: canonical(f.get(&tgt_fields)),
                        to: canonical(Some(v)),
                    });
                    diffs.push((f.clone(), v.clone()));
                }
            }
        }
        let data_changed = !diffs.is_empty();
        if !data_changed && target_won && reported.is_empty() && plan.conflicts.is_empty() {
            plan.kind = PlanKind::Echo;
            plan.reason = Some(format!(
                "the {} has not changed since the last sync; the {}'s newer values sync the other way",
                self.source().title,
                self.target().title
            ));
            return Ok(plan);
        }
        if target_won && !data_changed {
            plan.reason = Some(format!(
                "the {}'s values win; they sync the other way",
                self.target().title
            ));
        }
        let mut write = Value::Object(Map::new());
        let mut wrote = false;
        for (f, v) in &diffs {
            f.set(&mut write, v.clone());
            wrote = true;
        }
        let link_path = self.mapping.pair.link.get(tgt_side);
        if self.link_value(tgt_side, target) != LinkValue::One(plan.source_id.clone()) {
            link_path.set(&mut write, Value::String(plan.source_id.clone()));
            wrote = true;
        }
        let meaning = if reported.is_empty() {
            meaning_of(&invalid)
        } else {
            let text = format!(
                "conflict in {}: both sides hold different values; make them equal in either system",
                reported.join(", ")
            );
            plan.reason = Some(text.clone());
            StatusMeaning::Error(text)
        };
        let status_stale = self
            .status
            .as_ref()
            .is_some_and(|t| !t.says(self.status_text(tgt_side, target).as_deref(), &meaning));
        if wrote || status_stale {
            wrote |= self.set_status(&mut write, tgt_side, &meaning, ctx.now);
        }
        let mut after = current_target;
        // Only the fields written change: a partial write must not blank the others in the
        // ledger (a blanked field makes the target's echo look like a change and overwrite
        // newer source values).
        after.overlay(&Shadow::of_written(&write, self.data_fields(tgt_side)));
        // The new base, without the groups the target won or a person must decide: their
        // change must still look like a change to the other direction.
        after.forget(keep_base.get(tgt_side));
        plan.source_shadow.forget(keep_base.get(src_side));
        plan.target_shadow = after;
        plan.kind = if data_changed {
            PlanKind::Update
        } else {
            PlanKind::Unchanged
        };
        if wrote && self.target().update.is_none() {
            plan.kind = PlanKind::Skip;
            plan.reason = Some(format!(
                "the {} collection declares no update",
                self.target().name
            ));
            wrote = false;
        }
        plan.write = wrote.then_some(write);
        plan.status = Some(meaning);
        plan.invalid = invalid;
        Ok(plan)
    }

    /// The fields to write back to the source once the target write is done: the link to the
    /// target and the status, each only when it differs from what the source holds.
    pub fn writeback(
        &self,
        plan: &RecordPlan,
        outcome: WriteOutcome<'_>,
        now: &str,
    ) -> Option<Value> {
        if self.source().update.is_none()
            || matches!(
                plan.kind,
                PlanKind::Delete | PlanKind::Unlink | PlanKind::Skip | PlanKind::Echo
            )
        {
            return None;
        }
        let src_side = self.direction.source();
        let mut write = Value::Object(Map::new());
        let mut wrote = false;
        let meaning = match outcome {
            WriteOutcome::Done { target_id } => {
                if plan.kind != PlanKind::Conflict && plan.source_link.as_deref() != Some(target_id)
                {
                    self.mapping
                        .pair
                        .link
                        .get(src_side)
                        .set(&mut write, Value::String(target_id.to_string()));
                    wrote = true;
                }
                match plan.kind {
                    PlanKind::Conflict => StatusMeaning::Error(
                        plan.reason
                            .clone()
                            .unwrap_or_else(|| "conflict".to_string()),
                    ),
                    _ => plan.status.clone().unwrap_or(StatusMeaning::Ok),
                }
            }
            WriteOutcome::Failed { message } => StatusMeaning::Error(message.to_string()),
        };
        if let Some(t) = &self.status
            && !t.says(plan.source_status.as_deref(), &meaning)
        {
            wrote |= self.set_status(&mut write, src_side, &meaning, now);
        }
        wrote.then_some(write)
    }

    fn status_text(&self, side: Side, record: &Value) -> Option<String> {
        let path = self
            .mapping
            .pair
            .status
            .as_ref()?
            .fields
            .get(side)
            .as_ref()?;
        path.get(self.fields_of(side, record))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn set_status(
        &self,
        write: &mut Value,
        side: Side,
        meaning: &StatusMeaning,
        now: &str,
    ) -> bool {
        let (Some(texts), Some(status)) = (&self.status, &self.mapping.pair.status) else {
            return false;
        };
        let Some(path) = status.fields.get(side) else {
            return false;
        };
        path.set(write, Value::String(texts.render(meaning, now)));
        true
    }
}

fn meaning_of(invalid: &[String]) -> StatusMeaning {
    match invalid.first() {
        Some(m) => StatusMeaning::Error(m.clone()),
        None => StatusMeaning::Ok,
    }
}
