//! The setup planner: from the declared resources and what exists on each system, decides per
//! item whether to create, update, replace, leave or (only with `--prune` or `--teardown`)
//! delete it.
//!
//! Architecture invariant: no I/O. What exists comes in as `Observed`, already read; the same
//! inputs always give the same plan. Objects mapsync does not own are never in an action.

use std::collections::BTreeSet;

use serde_json::Value;

use super::error::{Result, SetupError};
use super::plan::{Action, ActionKind, Change, Manual, Ownership, ResourcePlan, SetupPlan};
use crate::engine::same;
use crate::expr::Vars;
use crate::mapping::model::SetupResource;

/// What exists of one resource, as read before planning.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// Every object the `list` operation returned, all pages.
    Listed(Vec<Value>),
    /// The singleton the `read` operation returned (`None`: it does not exist).
    Read(Option<Value>),
    /// Nothing could be read (a `manual` resource without `list` or `read`).
    Unchecked,
}

/// How to plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// The public base URL items render with (no trailing slash).
    pub public_url: Option<String>,
    /// Also delete owned objects the mapping no longer declares, and duplicates.
    pub prune: bool,
    /// Delete every owned object the mapping declares, instead of converging.
    pub teardown: bool,
    /// The time items render with as `now` and `now_ms` (the caller's clock; `None`: the
    /// templates may not use them).
    pub now: Option<jiff::Timestamp>,
}

/// The names of the resources whose templates read `public_url`.
pub fn needs_public_url(resources: &[SetupResource]) -> Vec<String> {
    resources
        .iter()
        .filter(|r| {
            r.items.iter().any(|i| i.variables().contains("public_url"))
                || r.owned
                    .as_ref()
                    .is_some_and(|e| e.variables().contains("public_url"))
        })
        .map(|r| r.name.clone())
        .collect()
}

/// Checks a `--public-url` value and drops its trailing slashes, so `{{ public_url }}/path`
/// never holds `//`.
pub fn normalize_public_url(url: &str) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    match url::Url::parse(trimmed) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(trimmed.to_string())
        }
        _ => Err(SetupError::PublicUrlInvalid {
            url: url.to_string(),
        }),
    }
}

/// The variables every setup template sees besides `item` and `existing`: `public_url`, and
/// `now` (UTC, RFC 3339, whole seconds) with `now_ms` (milliseconds since 1970) from the
/// caller's clock, e.g. for a watch channel's expiry.
pub fn base_vars(public_url: Option<&str>, now: Option<jiff::Timestamp>) -> Vars {
    let mut vars = match public_url {
        Some(u) => Vars::new().with_str("public_url", u),
        None => Vars::new(),
    };
    if let Some(t) = now {
        let whole = jiff::Timestamp::from_second(t.as_second()).unwrap_or(t);
        vars = vars
            .with_str("now", &whole.to_string())
            .with("now_ms", &serde_json::Value::from(t.as_millisecond()));
    }
    vars
}

/// Plans every resource. `observed` is parallel to `resources`.
pub fn plan(
    resources: &[SetupResource],
    observed: &[Observed],
    opts: &PlanOptions,
) -> Result<SetupPlan> {
    let needing = needs_public_url(resources);
    // A teardown only needs the items' keys; without a URL they render with an empty one.
    let public_url = match (&opts.public_url, opts.teardown) {
        (Some(u), _) => Some(u.clone()),
        (None, true) => Some(String::new()),
        (None, false) if needing.is_empty() => None,
        (None, false) => return Err(SetupError::PublicUrlMissing { names: needing }),
    };
    let vars = base_vars(public_url.as_deref(), opts.now);
    let mut out = Vec::new();
    for (r, seen) in resources.iter().zip(observed) {
        out.push(plan_resource(r, seen, &vars, opts)?);
    }
    Ok(SetupPlan {
        teardown: opts.teardown,
        resources: out,
    })
}

/// A declared item, rendered, with its key.
struct Desired {
    key: String,
    item: Value,
}

/// An existing object as the planner sees it.
struct Existing<'a> {
    object: &'a Value,
    /// `None` when the key template cannot be rendered from it.
    key: Option<String>,
    owned: bool,
}

fn plan_resource(
    r: &SetupResource,
    seen: &Observed,
    vars: &Vars,
    opts: &PlanOptions,
) -> Result<ResourcePlan> {
    let desired = desired(r, vars)?;
    let ownership = ownership(r);
    let mut p = ResourcePlan {
        name: r.name.clone(),
        system: r.system.clone(),
        ownership: ownership.clone(),
        actions: Vec::new(),
        unchanged: Vec::new(),
        notes: Vec::new(),
        manual: None,
    };
    if let Some(instructions) = &r.manual {
        p.manual = Some(manual(instructions, &desired, seen, r, vars));
        return Ok(p);
    }
    match seen {
        Observed::Listed(objects) => plan_list(r, &mut p, &desired, objects, vars, opts)?,
        Observed::Read(object) => plan_singleton(r, &mut p, &desired, object.as_ref(), vars, opts)?,
        Observed::Unchecked => {
            return Err(mapping_error(
                r,
                "it declares neither `list` nor `read`, so what exists cannot be checked",
                "add `list` (for a set of items) or `read` (for a singleton), or `manual` instructions",
            ));
        }
    }
    Ok(p)
}

fn ownership(r: &SetupResource) -> Ownership {
    match (&r.owned, &r.list, &r.manual) {
        (_, _, Some(_)) if r.list.is_none() && r.read.is_none() => Ownership::None,
        (Some(e), _, _) => Ownership::Expression {
            expression: e.source().to_string(),
        },
        (None, Some(_), _) => Ownership::Key,
        (None, None, _) => Ownership::Singleton,
    }
}

/// The declared items rendered, each with its key; two items with one key are an error.
fn desired(r: &SetupResource, vars: &Vars) -> Result<Vec<Desired>> {
    let mut out: Vec<Desired> = Vec::new();
    for (i, t) in r.items.iter().enumerate() {
        let item = t.render(vars).map_err(|e| {
            mapping_error(
                r,
                &format!("item {} cannot be rendered: {e}", i + 1),
                "fix the item's templates",
            )
        })?;
        let key = match &r.key {
            Some(k) => k.render(&vars.clone().with("item", &item)).map_err(|e| {
                mapping_error(
                    r,
                    &format!("the key of item {} cannot be rendered: {e}", i + 1),
                    "make `key` read only attributes every item has (or use `| default('')`)",
                )
            })?,
            None if r.list.is_some() => {
                return Err(mapping_error(
                    r,
                    "it is listed but declares no `key`, so items cannot be matched",
                    "add `key`, e.g. `{{ item.name }}`",
                ));
            }
            None => r.name.clone(),
        };
        if out.iter().any(|d| d.key == key) {
            return Err(mapping_error(
                r,
                &format!("two items have the key `{key}`"),
                "give every item a distinct key, or remove the duplicate",
            ));
        }
        out.push(Desired { key, item });
    }
    Ok(out)
}

fn plan_list(
    r: &SetupResource,
    p: &mut ResourcePlan,
    desired: &[Desired],
    objects: &[Value],
    vars: &Vars,
    opts: &PlanOptions,
) -> Result<()> {
    let declared: BTreeSet<&str> = desired.iter().map(|d| d.key.as_str()).collect();
    let mut undecided: Vec<String> = Vec::new();
    let existing: Vec<Existing> = objects
        .iter()
        .map(|o| {
            let key = r
                .key
                .as_ref()
                .and_then(|k| k.render(&vars.clone().with("item", o)).ok());
            let owned = match &r.owned {
                // An object whose ownership cannot be decided is not owned: left alone.
                Some(e) => e
                    .eval_bool(&vars.clone().with("item", o))
                    .unwrap_or_else(|err| {
                        undecided.push(err.to_string());
                        false
                    }),
                None => key.as_deref().is_some_and(|k| declared.contains(k)),
            };
            Existing {
                object: o,
                key,
                owned,
            }
        })
        .collect();
    let rule = rule_text(&p.ownership);
    if let Some(first) = undecided.first() {
        p.notes.push(format!(
            "ownership of {} object(s) could not be decided, so they are left alone: {first}; \
             fix the `owned` expression",
            undecided.len()
        ));
    }

    // Owned objects the mapping no longer declares: deleted only with --prune.
    for e in existing
        .iter()
        .filter(|e| e.owned && !e.key.as_deref().is_some_and(|k| declared.contains(k)))
    {
        let label = e.key.clone().unwrap_or_else(|| short(e.object));
        if opts.prune {
            push_delete(
                r,
                p,
                label,
                e.object,
                Some("owned, and no longer declared".into()),
            );
        } else {
            p.notes.push(format!(
                "`{label}` is owned ({rule}) but no longer declared; --prune deletes it"
            ));
        }
    }

    for d in desired {
        let mut matches = existing
            .iter()
            .filter(|e| e.owned && e.key.as_deref() == Some(d.key.as_str()));
        let first = matches.next();
        let extra: Vec<&Existing> = matches.collect();
        if opts.teardown {
            for e in first.into_iter().chain(extra.iter().copied()) {
                push_delete(r, p, d.key.clone(), e.object, None);
            }
            continue;
        }
        match first {
            None => {
                if existing
                    .iter()
                    .any(|e| !e.owned && e.key.as_deref() == Some(d.key.as_str()))
                {
                    p.notes.push(format!(
                        "an object with the key `{}` exists but mapsync does not own it ({rule}); \
                         it is left alone, and the API may refuse the create",
                        d.key
                    ));
                }
                push_create(r, p, d)?;
            }
            Some(e) => converge(r, p, d, e.object)?,
        }
        for e in extra {
            if opts.prune {
                push_delete(
                    r,
                    p,
                    d.key.clone(),
                    e.object,
                    Some("a duplicate of the first object with this key".into()),
                );
            } else {
                p.notes.push(format!(
                    "another object also has the key `{}`; --prune deletes the duplicate",
                    d.key
                ));
            }
        }
    }
    let left_alone = existing.iter().filter(|e| !e.owned).count();
    if left_alone > 0 {
        p.notes.push(format!(
            "{left_alone} existing object(s) not owned by mapsync ({rule}) left alone"
        ));
    }
    Ok(())
}

fn plan_singleton(
    r: &SetupResource,
    p: &mut ResourcePlan,
    desired: &[Desired],
    object: Option<&Value>,
    vars: &Vars,
    opts: &PlanOptions,
) -> Result<()> {
    if desired.len() > 1 {
        return Err(mapping_error(
            r,
            "it is read as a singleton but declares several items",
            "declare one item, or `list` and `key` for a set",
        ));
    }
    let owned = match (object, &r.owned) {
        (Some(o), Some(e)) => e.eval_bool(&vars.clone().with("item", o)).unwrap_or(false),
        (Some(_), None) => true,
        (None, _) => false,
    };
    if let (Some(_), false) = (object, owned) {
        p.notes.push(format!(
            "it exists but mapsync does not own it ({}); it is left alone",
            rule_text(&p.ownership)
        ));
        return Ok(());
    }
    match (desired.first(), object) {
        (_, Some(o)) if opts.teardown => push_delete(r, p, r.name.clone(), o, None),
        (_, None) if opts.teardown => {}
        (Some(d), None) => push_create(r, p, d)?,
        (Some(d), Some(o)) => converge(r, p, d, o)?,
        (None, Some(o)) if opts.prune => {
            push_delete(r, p, r.name.clone(), o, Some("no longer declared".into()))
        }
        (None, Some(_)) => p
            .notes
            .push("it exists but is no longer declared; --prune deletes it".into()),
        (None, None) => {}
    }
    Ok(())
}

/// An existing, owned object matched to a declared item: unchanged, updated or replaced.
fn converge(r: &SetupResource, p: &mut ResourcePlan, d: &Desired, existing: &Value) -> Result<()> {
    let changes = compare(r, &d.item, existing);
    if changes.is_empty() {
        p.unchanged.push(d.key.clone());
        return Ok(());
    }
    let (kind, reason) = if r.update.is_some() {
        (ActionKind::Update, None)
    } else if r.delete.is_some() && r.create.is_some() {
        (
            ActionKind::Replace,
            Some("the API cannot update it in place (no `update` declared)".to_string()),
        )
    } else {
        return Err(mapping_error(
            r,
            &format!("`{}` differs, and there is no way to change it", d.key),
            "declare `update`, or `create` and `delete` so it can be replaced",
        ));
    };
    p.actions.push(Action {
        kind,
        key: d.key.clone(),
        changes,
        reason,
        item: Some(d.item.clone()),
        existing: Some(existing.clone()),
    });
    Ok(())
}

/// The compared attributes that differ. Only attributes the declared item sets are compared:
/// what it leaves out is the API's business.
fn compare(r: &SetupResource, item: &Value, existing: &Value) -> Vec<Change> {
    let attrs: Vec<String> = if r.compare.is_empty() {
        item.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    } else {
        r.compare.clone()
    };
    attrs
        .into_iter()
        .filter_map(|attr| {
            let want = lookup(item, &attr)?;
            let have = lookup(existing, &attr);
            (!same(Some(want), have)).then(|| Change {
                to: want.clone(),
                from: have.cloned().unwrap_or(Value::Null),
                attr,
            })
        })
        .collect()
}

/// A dotted attribute path (`throttling.period`) in an object.
fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn push_create(r: &SetupResource, p: &mut ResourcePlan, d: &Desired) -> Result<()> {
    if r.create.is_none() {
        return Err(mapping_error(
            r,
            &format!(
                "`{}` does not exist, and the mapping says no way to create it",
                d.key
            ),
            "declare `create`, or `manual` instructions if the API cannot create it",
        ));
    }
    p.actions.push(Action {
        kind: ActionKind::Create,
        key: d.key.clone(),
        changes: Vec::new(),
        reason: None,
        item: Some(d.item.clone()),
        existing: None,
    });
    Ok(())
}

fn push_delete(
    r: &SetupResource,
    p: &mut ResourcePlan,
    key: String,
    existing: &Value,
    reason: Option<String>,
) {
    if r.delete.is_none() {
        p.notes.push(format!(
            "`{key}` would be deleted, but the mapping declares no `delete` for it; remove it by hand"
        ));
        return;
    }
    p.actions.push(Action {
        kind: ActionKind::Delete,
        key,
        changes: Vec::new(),
        reason,
        item: None,
        existing: Some(existing.clone()),
    });
}

fn manual(
    instructions: &str,
    desired: &[Desired],
    seen: &Observed,
    r: &SetupResource,
    vars: &Vars,
) -> Manual {
    let keys: Option<BTreeSet<String>> = match seen {
        Observed::Listed(objects) => Some(
            objects
                .iter()
                .filter_map(|o| {
                    r.key
                        .as_ref()
                        .and_then(|k| k.render(&vars.clone().with("item", o)).ok())
                })
                .collect(),
        ),
        Observed::Read(Some(_)) => Some([r.name.clone()].into()),
        Observed::Read(None) => Some(BTreeSet::new()),
        Observed::Unchecked => None,
    };
    Manual {
        instructions: instructions.to_string(),
        missing: match &keys {
            Some(k) => desired
                .iter()
                .filter(|d| !k.contains(&d.key))
                .map(|d| d.key.clone())
                .collect(),
            None => Vec::new(),
        },
        checked: keys.is_some(),
    }
}

/// The ownership rule in words, for notes and the plan's headers.
pub fn rule_text(o: &Ownership) -> String {
    match o {
        Ownership::Expression { expression } => format!("owned when `{expression}`"),
        Ownership::Key => "owned when its key matches a declared item".into(),
        Ownership::Singleton => "the one object the mapping declares".into(),
        Ownership::None => "nothing is read or written".into(),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(59).collect::<String>())
    } else {
        s
    }
}

fn mapping_error(r: &SetupResource, message: &str, hint: &str) -> SetupError {
    SetupError::Mapping {
        resource: r.name.clone(),
        message: message.to_string(),
        hint: hint.to_string(),
    }
}

#[cfg(test)]
mod tests;
