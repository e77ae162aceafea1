//! Mapping test cases (`tests:` in a mapping, run by `mapsync test`): each case plans one source
//! record through the same `Engine` that `sync` and `serve` use, and compares the plan with what
//! the case expects, field by field.
//!
//! Architecture invariant: no I/O, no network, no state store and no clock (`now` is the fixed
//! `NOW`); the same mapping always gives the same results. Rendering is the CLI's job.

use serde_json::Value;

use crate::engine::{Engine, LinkValue, PlanContext, RecordPlan, StatusMeaning, WriteOutcome};
use crate::expr::FieldPath;
use crate::mapping::Mapping;
use crate::mapping::raw::{RawExpectedStatus, RawTestCase};

/// The time status templates see in test cases.
pub const NOW: &str = "2000-01-01T00:00:00Z";

/// The id a created target record gets unless the case names one (`created_id`).
pub const DEFAULT_CREATED_ID: &str = "new-id";

/// One difference between what a case expects and what the engine planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What differs: `kind`, `status`, `writes`, `reason`, `field <path>` or
    /// `write-back <path>`.
    pub what: String,
    /// The expected value, as text.
    pub expected: String,
    /// The planned value, as text.
    pub found: String,
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// Every difference; empty when the case passed.
    pub mismatches: Vec<Mismatch>,
    /// The plan, in one line, to show with a failure.
    pub plan: String,
}

impl CaseResult {
    /// True when the plan is what the case expects.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Runs one case against a compiled mapping.
pub fn run_case(mapping: &Mapping, case: &RawTestCase) -> CaseResult {
    let overridden;
    let mapping = match case.conflicts {
        Some(policy) => {
            let mut m = mapping.clone();
            m.pair.conflicts = crate::mapping::model::ConflictPolicy::from(policy);
            for g in &mut m.pair.groups {
                g.conflicts = None;
            }
            overridden = m;
            &overridden
        }
        None => mapping,
    };
    let engine = Engine::new(mapping, case.direction);
    let plan = plan(&engine, case);
    let plan = match plan {
        Ok(p) => p,
        Err(message) => {
            return CaseResult {
                name: case.name.clone(),
                mismatches: vec![Mismatch {
                    what: "target".to_string(),
                    expected: "a target record with an id".to_string(),
                    found: message,
                }],
                plan: String::new(),
            };
        }
    };
    let mut mismatches = Vec::new();
    let e = &case.expect;
    if let Some(kind) = e.kind {
        let want = name_of(&kind);
        let got = name_of(&plan.kind);
        if want != got {
            mismatches.push(Mismatch {
                what: "kind".to_string(),
                expected: want,
                found: got,
            });
        }
    }
    if let Some(writes) = e.writes
        && writes != plan.writes_target()
    {
        let says = |w: bool| if w { "a write" } else { "no write" }.to_string();
        mismatches.push(Mismatch {
            what: "writes".to_string(),
            expected: says(writes),
            found: says(plan.writes_target()),
        });
    }
    if let Some(want) = &e.status {
        let want = match want {
            RawExpectedStatus::Ok => StatusMeaning::Ok,
            RawExpectedStatus::Error(m) => StatusMeaning::Error(m.clone()),
        };
        if plan.status.as_ref() != Some(&want) {
            mismatches.push(Mismatch {
                what: "status".to_string(),
                expected: status_text(Some(&want)),
                found: status_text(plan.status.as_ref()),
            });
        }
    }
    compare_fields("field", &e.fields, plan.write.as_ref(), &mut mismatches);
    if !e.writeback.is_empty() {
        let target_id = plan
            .target_id
            .clone()
            .or_else(|| case.created_id.clone())
            .unwrap_or_else(|| DEFAULT_CREATED_ID.to_string());
        let back = engine.writeback(
            &plan,
            WriteOutcome::Done {
                target_id: &target_id,
            },
            NOW,
        );
        compare_fields("write-back", &e.writeback, back.as_ref(), &mut mismatches);
    }
    if let Some(want) = &e.conflicts {
        let got: Vec<String> = plan.conflicts.iter().map(|c| c.group.clone()).collect();
        if *want != got {
            mismatches.push(Mismatch {
                what: "conflicts".to_string(),
                expected: format!("{want:?}"),
                found: format!("{got:?}"),
            });
        }
    }
    if let Some(want) = &e.reason {
        let got = plan.reason.clone().unwrap_or_default();
        if !got.contains(want.as_str()) {
            mismatches.push(Mismatch {
                what: "reason".to_string(),
                expected: format!("text containing {}", Value::String(want.clone())),
                found: if got.is_empty() {
                    "(no reason)".to_string()
                } else {
                    Value::String(got).to_string()
                },
            });
        }
    }
    CaseResult {
        name: case.name.clone(),
        mismatches,
        plan: describe(&plan),
    }
}

/// Finds the case's target as a sync would (link fields, then match keys) and plans.
fn plan(engine: &Engine<'_>, case: &RawTestCase) -> Result<RecordPlan, String> {
    let dir = engine.direction();
    let base = case.base.as_ref();
    let source_shadow = base
        .and_then(|b| b.source.as_ref())
        .map(|r| engine.shadow_of(dir.source(), r));
    let target_shadow = base
        .and_then(|b| b.target.as_ref())
        .map(|r| engine.shadow_of(dir.target(), r));
    let ctx = PlanContext {
        now: NOW,
        source_shadow: source_shadow.as_ref(),
        target_shadow: target_shadow.as_ref(),
        ..PlanContext::default()
    };
    let side = engine.direction().target();
    let Some(record) = case.target.as_ref() else {
        let none = |_: &str| Vec::new();
        let target = engine.resolve(&case.source, None, |_| None, none, none);
        return Ok(engine.plan(&case.source, target, &ctx));
    };
    let collection = engine.target();
    let Some(id) = collection.id_of(record) else {
        return Err(format!(
            "the target record has no id at `{}`; write it as the {} API returns it",
            collection.id.source(),
            collection.title
        ));
    };
    let get = |i: &str| (i == id).then_some(record);
    let linked_to = |source_id: &str| {
        if engine.link_value(side, record) == LinkValue::One(source_id.to_string()) {
            vec![(id.clone(), record)]
        } else {
            Vec::new()
        }
    };
    let matches = |key: &str| {
        if engine.match_key(side, record).as_deref() == Some(key) {
            vec![(id.clone(), record)]
        } else {
            Vec::new()
        }
    };
    let target = engine.resolve(&case.source, None, get, linked_to, matches);
    Ok(engine.plan(&case.source, target, &ctx))
}

fn compare_fields(
    what: &str,
    expected: &std::collections::BTreeMap<String, Value>,
    written: Option<&Value>,
    out: &mut Vec<Mismatch>,
) {
    for (path, want) in expected {
        let field = match FieldPath::parse(path) {
            Ok(f) => f,
            Err(e) => {
                out.push(Mismatch {
                    what: format!("{what} {path}"),
                    expected: "a field path such as `name` or `custom_fields.\"External ID\"`"
                        .to_string(),
                    found: e.to_string(),
                });
                continue;
            }
        };
        let got = written.and_then(|w| field.get(w));
        let equal = match (want, got) {
            (Value::Null, None | Some(Value::Null)) => true,
            (w, Some(g)) => w == g,
            (_, None) => false,
        };
        if !equal {
            out.push(Mismatch {
                what: format!("{what} {path}"),
                expected: value_text(Some(want)),
                found: value_text(got),
            });
        }
    }
}

fn value_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(not written)".to_string(),
        Some(v) => v.to_string(),
    }
}

fn status_text(s: Option<&StatusMeaning>) -> String {
    match s {
        None => "(none)".to_string(),
        Some(StatusMeaning::Ok) => "ok".to_string(),
        Some(StatusMeaning::Error(m)) => format!("error {}", Value::String(m.clone())),
    }
}

fn name_of<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => "?".to_string(),
    }
}

/// The plan in one line: its kind, target, conflicts, reason and write.
fn describe(p: &RecordPlan) -> String {
    let mut out = name_of(&p.kind);
    if let Some(t) = &p.target_id {
        out.push_str(&format!(" {t}"));
    }
    for c in &p.conflicts {
        let winner = c
            .winner
            .map_or("nobody (report)".to_string(), |w| format!("{w}"));
        out.push_str(&format!(
            " [conflict in {}: {}; `{}` gives it to {winner}]",
            c.group,
            c.cause.text(),
            c.policy
        ));
    }
    if let Some(r) = &p.reason {
        out.push_str(&format!(" ({r})"));
    }
    match &p.write {
        Some(w) => out.push_str(&format!(", writes {w}")),
        None => out.push_str(", writes nothing"),
    }
    out
}
