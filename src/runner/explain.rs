//! `explain`: everything known about one record, together — the pair and its link, the base
//! (the ledger's last synced values) and each side's current value per field group (a live
//! read unless offline), what the next sync would do in each direction and why (the same
//! planner as `sync` and the workers), and the record's history from the audit trail.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::lookup::{Candidates, Planner, Prepared};
use super::{Connectors, RunnerError};
use crate::engine::{Engine, FieldChange, PlanKind};
use crate::expr::Vars;
use crate::mapping::model::Mapping;
use crate::mapping::{Direction, Side};
use crate::store::StateStore;

/// How many history entries `explain` shows per record at most.
const HISTORY: u32 = 500;

/// One field of one side: its base and current value.
#[derive(Debug, Clone, Serialize)]
pub struct FieldView {
    pub group: String,
    pub side: Side,
    pub field: String,
    /// The value at the last sync (the newer of what mapsync wrote and read), if any.
    pub base: Option<Value>,
    /// The current value, when the record was read live.
    pub now: Option<Value>,
}

/// What the next sync in one direction would do.
#[derive(Debug, Clone, Serialize)]
pub struct NextStep {
    pub direction: Direction,
    pub kind: PlanKind,
    pub target_id: Option<String>,
    pub reason: Option<String>,
    pub changes: Vec<FieldChange>,
}

/// One step of the record's history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryItem {
    pub at: String,
    pub side: Side,
    pub record_id: String,
    pub direction: Option<Direction>,
    pub kind: String,
    pub detail: String,
}

/// Everything `mapsync explain` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub pair: String,
    pub home_id: Option<String>,
    pub external_id: Option<String>,
    /// The link's state in the store (`active`, `deleted_on_home`, …), when linked.
    pub link: Option<String>,
    /// Whether the records were read live.
    pub live: bool,
    pub fields: Vec<FieldView>,
    pub next: Vec<NextStep>,
    pub history: Vec<HistoryItem>,
    /// What could not be found or read, for a person.
    pub notes: Vec<String>,
}

/// Explains the record `id` (a home or an external id). `connectors` = `None` is offline.
pub async fn explain(
    mapping: &Mapping,
    store: &dyn StateStore,
    connectors: Option<&Connectors>,
    id: &str,
    now: Timestamp,
) -> Result<Explanation, RunnerError> {
    let pair = mapping.pair_key();
    let mut ids: HashMap<Side, String> = HashMap::new();
    let mut link_state = None;
    for side in [Side::Home, Side::External] {
        if let Some(l) = store.link(&pair, side, id)? {
            ids.insert(Side::Home, l.home_id.clone());
            ids.insert(Side::External, l.external_id.clone());
            link_state = Some(l.state.as_str().to_string());
            break;
        }
    }
    let mut notes = Vec::new();
    if ids.is_empty() {
        // Not linked: the id is on whichever side has a history for it.
        for side in [Side::Home, Side::External] {
            if !store.audit_trail(&pair, side, id, 1)?.is_empty() {
                ids.insert(side, id.to_string());
            }
        }
        if ids.is_empty() {
            notes.push(format!(
                "`{id}` is not linked and has no history in this state store; give a {} id or a {} id that mapsync has synced",
                mapping.collection(Side::Home).title,
                mapping.collection(Side::External).title
            ));
        } else {
            notes.push(format!("`{id}` is not linked to any record yet"));
        }
    }

    // Live reads.
    let mut live: HashMap<Side, Value> = HashMap::new();
    if let Some(conns) = connectors {
        for (side, rid) in &ids {
            let coll = mapping.collection(*side);
            let Some(conn) = conns.get(&coll.system) else {
                continue;
            };
            match conn.read(coll, rid, &vars_for(mapping, *side)).await {
                Ok(Some(v)) => {
                    live.insert(*side, v);
                }
                Ok(None) => notes.push(format!(
                    "{} {rid} is gone (the API answered missing)",
                    coll.title
                )),
                Err(e) => notes.push(format!("could not read {} {rid}: {e}", coll.title)),
            }
        }
    }

    // Base and current values per field group.
    let mut fields = Vec::new();
    let mut shadows = HashMap::new();
    for (side, rid) in &ids {
        shadows.insert(*side, store.record_shadow(&pair, *side, rid)?);
    }
    for group in &mapping.pair.groups {
        for (side, entries) in [
            (Side::Home, &group.inbound),
            (Side::External, &group.outbound),
        ] {
            for (path, _) in entries {
                let field = path.to_string();
                let base = shadows
                    .get(&side)
                    .and_then(|s| s.get(&field))
                    .and_then(|f| {
                        match (&f.written, &f.read) {
                            (Some(w), Some(r)) => Some(if w.at >= r.at { w } else { r }),
                            (w, r) => w.as_ref().or(r.as_ref()),
                        }
                        .map(|v| v.value.clone())
                    });
                let now = live.get(&side).map(|rec| {
                    mapping
                        .collection(side)
                        .fields_of(rec)
                        .and_then(|f| path.get(f))
                        .map_or(Value::Null, Value::clone)
                });
                fields.push(FieldView {
                    group: group.name.clone(),
                    side,
                    field,
                    base,
                    now,
                });
            }
        }
    }

    // What the next sync would do, per direction, from the live records.
    let mut next = Vec::new();
    let now_text = now.round(jiff::Unit::Second).unwrap_or(now).to_string();
    for dir in [Direction::Outbound, Direction::Inbound] {
        let Some(source) = live.get(&dir.source()) else {
            continue;
        };
        let engine = Engine::new(mapping, dir);
        let planner = Planner {
            engine: &engine,
            store,
            snapshot: store,
            pair: &pair,
            now: &now_text,
        };
        let plan = match planner.prepare(source, false)? {
            Prepared::Planned(p) => *p,
            Prepared::Lookup(l) => {
                let mut c = Candidates::default();
                if let (Some(tid), Some(rec)) = (ids.get(&dir.target()), live.get(&dir.target())) {
                    c.by_id.insert(tid.clone(), rec.clone());
                }
                planner.decide(source, false, &l, c)?
            }
        };
        next.push(NextStep {
            direction: dir,
            kind: plan.kind,
            target_id: plan.target_id,
            reason: plan.reason,
            changes: plan.changes,
        });
    }

    // The history of both records, in time order.
    let mut history = Vec::new();
    for (side, rid) in &ids {
        for e in store.audit_trail(&pair, *side, rid, HISTORY)? {
            history.push((
                e.at,
                HistoryItem {
                    at: e.at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                    side: e.side,
                    record_id: e.record_id,
                    direction: e.direction,
                    kind: e.kind.to_string(),
                    detail: e.detail,
                },
            ));
        }
    }
    // Stable: entries of one record at the same time keep their order; a step recorded on
    // both records (a write) shows once.
    history.sort_by_key(|(at, _)| *at);
    let mut seen = std::collections::HashSet::new();
    let history = history
        .into_iter()
        .filter(|(at, h)| seen.insert((*at, h.kind.clone(), h.detail.clone())))
        .map(|(_, h)| h)
        .collect();

    Ok(Explanation {
        pair,
        home_id: ids.get(&Side::Home).cloned(),
        external_id: ids.get(&Side::External).cloned(),
        link: link_state,
        live: connectors.is_some(),
        fields,
        next,
        history,
        notes,
    })
}

fn vars_for(mapping: &Mapping, side: Side) -> Vars {
    let fields: Vec<String> = mapping.pair.mapped_fields(side).into_iter().collect();
    Vars::new().with("mapped_fields", &Value::from(fields))
}
