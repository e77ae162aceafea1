//! Field mapping for one direction: evaluates the field groups over a source record, applies
//! the validation rules and placeholders, and protects values a placeholder stands in for.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::normalize::{canonical, is_empty, same};
use crate::expr::{ExprError, FieldPath, Vars};
use crate::mapping::Direction;
use crate::mapping::model::{FieldGroup, Pair, Rule};

/// The mapped values of one group.
#[derive(Debug, Clone)]
pub struct GroupValues {
    /// Target field → value.
    pub values: Vec<(FieldPath, Value)>,
}

/// Adds `null` for each attribute an expression reads that the record lacks, so strict
/// undefined checks catch typos in the mapping, not fields an API left out. Borrows the record
/// when it already has them all (the common case: no copy).
pub fn fill<'v>(fields: &'v Value, attrs: &[String]) -> Cow<'v, Value> {
    if let Value::Object(m) = fields
        && attrs.iter().all(|a| m.contains_key(a))
    {
        return Cow::Borrowed(fields);
    }
    let mut out = match fields {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    for a in attrs {
        out.entry(a.clone()).or_insert(Value::Null);
    }
    Cow::Owned(Value::Object(out))
}

/// Evaluates `groups` for `direction` with `vars` (`record`: the filled source fields).
pub fn map_groups(
    groups: &[FieldGroup],
    direction: Direction,
    vars: &Vars,
) -> Result<Vec<GroupValues>, ExprError> {
    groups
        .iter()
        .map(|g| {
            let values = g
                .mappings(direction)
                .iter()
                .map(|(f, e)| Ok((f.clone(), e.eval(vars)?)))
                .collect::<Result<Vec<_>, ExprError>>()?;
            Ok(GroupValues { values })
        })
        .collect()
}

/// A value the API is known to refuse for a rule (its refusal is remembered in a status).
pub type Refused<'a> = &'a dyn Fn(&Rule, &Value) -> Result<bool, ExprError>;

/// Replaces invalid target values by placeholders; returns the messages. A value is invalid
/// when the rule's `valid` says so, or when `refused` knows the API refuses it.
pub fn apply_rules(
    pair: &Pair,
    direction: Direction,
    groups: &mut [GroupValues],
    refused: Refused<'_>,
) -> Result<Vec<String>, ExprError> {
    let mut messages = Vec::new();
    for rule in pair.rules.iter().filter(|r| r.side == direction.target()) {
        for g in groups.iter_mut() {
            for (f, v) in g.values.iter_mut() {
                if *f == rule.field && (!valid(rule, v)? || refused(rule, v)?) {
                    messages.push(message(rule, v)?);
                    *v = rule.placeholder.clone();
                }
            }
        }
    }
    Ok(messages)
}

/// For rules on the source side with `protect`: when the source field holds the placeholder
/// and the target's protected value is itself invalid, map that value instead, so a placeholder
/// never erases it. Returns the adjusted source and the messages.
pub fn protect<'v>(
    pair: &Pair,
    direction: Direction,
    source: &'v Value,
    target: Option<&Vars>,
    refused: Refused<'_>,
) -> Result<(Cow<'v, Value>, Vec<String>), ExprError> {
    let mut out = Cow::Borrowed(source);
    let mut messages = Vec::new();
    let Some(target) = target else {
        return Ok((out, messages));
    };
    for rule in pair.rules.iter().filter(|r| r.side == direction.source()) {
        let Some(p) = &rule.protect else { continue };
        if !same(rule.field.get(source), Some(&rule.placeholder))
            && !is_empty(rule.field.get(source))
        {
            continue;
        }
        let kept = p.eval(target)?;
        if !is_empty(Some(&kept)) && (!valid(rule, &kept)? || refused(rule, &kept)?) {
            messages.push(message(rule, &kept)?);
            rule.field.set(out.to_mut(), kept);
        }
    }
    Ok((out, messages))
}

fn valid(rule: &Rule, v: &Value) -> Result<bool, ExprError> {
    rule.valid.eval_bool(&Vars::new().with("value", v))
}

/// The rule's status message for a value.
pub fn message(rule: &Rule, v: &Value) -> Result<String, ExprError> {
    rule.message.render(&Vars::new().with("value", v))
}

/// True when the group's current target values already represent the source: either equal
/// field by field, or, for a lossy group, the reverse mapping of the target gives the source
/// back (E4: compare in the source's form). A target field holding a rule's placeholder where
/// the source now maps a valid, non-empty value is never in step: the placeholder stood in for
/// a value the rule no longer replaces, so the valid value must be written.
pub fn group_in_step(
    pair: &Pair,
    group: &FieldGroup,
    direction: Direction,
    desired: &GroupValues,
    target: &Value,
    target_vars: &Vars,
    source: &Value,
) -> Result<bool, ExprError> {
    if desired
        .values
        .iter()
        .all(|(f, v)| same(f.get(target), Some(v)))
    {
        return Ok(true);
    }
    if group.lossless {
        return Ok(false);
    }
    let stale_placeholder = desired.values.iter().any(|(f, v)| {
        pair.rules.iter().any(|r| {
            r.side == direction.target()
                && r.field == *f
                && same(f.get(target), Some(&r.placeholder))
                && !is_empty(Some(v))
                && !same(Some(v), Some(&r.placeholder))
        })
    });
    if stale_placeholder {
        return Ok(false);
    }
    let reverse = match direction {
        Direction::Outbound => Direction::Inbound,
        Direction::Inbound => Direction::Outbound,
    };
    for (f, e) in group.mappings(reverse) {
        let back = e.eval(target_vars)?;
        if !same(Some(&canonical(Some(&back))), f.get(source)) {
            return Ok(false);
        }
    }
    Ok(!group.mappings(reverse).is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fill_adds_missing_attributes_only() {
        let record = json!({"a": 1});
        let v = fill(&record, &["a".into(), "b".into()]);
        assert_eq!(*v, json!({"a": 1, "b": null}));
        let whole = json!({"a": 1, "b": 2});
        assert!(matches!(fill(&whole, &["a".into()]), Cow::Borrowed(_)));
    }
}
