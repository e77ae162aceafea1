//! Interpolates `${VAR}` in every string of a raw mapping, reporting unset variables at the
//! JSON pointer of the string that names them.

use serde::Deserialize;
use serde_json::Value;

use super::super::env::{Env, EnvProblem, interpolate};
use super::super::raw::RawMapping;
use super::super::{EnvMode, pointer_segment};
use super::ctx::Ctx;

/// The raw mapping with every string interpolated, or `None` if it no longer deserializes
/// (which a diagnostic then explains).
pub(crate) fn interpolate_mapping(
    raw: &RawMapping,
    env: &Env,
    ctx: &mut Ctx,
) -> Option<RawMapping> {
    let mut doc = match serde_json::to_value(raw) {
        Ok(v) => v,
        Err(e) => {
            ctx.error("internal", String::new(), format!("the mapping could not be re-read: {e}; this is a bug in mapsync, please report it"), "");
            return None;
        }
    };
    let mut reported = Vec::new();
    walk(&mut doc, &mut String::new(), env, ctx, &mut reported);
    match RawMapping::deserialize(&doc) {
        Ok(m) => Some(m),
        Err(e) => {
            ctx.error(
                "env-value",
                String::new(),
                format!(
                    "after filling in environment variables the mapping is no longer valid: {e}"
                ),
                "check the values of the variables used in durations, sizes and other typed fields",
            );
            None
        }
    }
}

/// Walks every string; `reported` holds the variables already reported, so each unset
/// variable is reported once, where it is first used.
fn walk(v: &mut Value, pointer: &mut String, env: &Env, ctx: &mut Ctx, reported: &mut Vec<String>) {
    match v {
        Value::String(s) if s.contains('$') => {
            let out = interpolate(s, env);
            if out
                .problems
                .iter()
                .any(|p| matches!(p, EnvProblem::Unset { .. }))
            {
                ctx.unset.insert(pointer.clone());
            }
            for p in out.problems {
                if let EnvProblem::Unset { name, .. } = &p {
                    if reported.contains(name) {
                        continue;
                    }
                    reported.push(name.clone());
                }
                report(pointer, p, ctx);
            }
            *s = out.text;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                walk(item, pointer, env, ctx, reported);
                pointer.truncate(len);
            }
        }
        Value::Object(m) => {
            for (k, item) in m.iter_mut() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&pointer_segment(k));
                walk(item, pointer, env, ctx, reported);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

fn report(pointer: &str, p: EnvProblem, ctx: &mut Ctx) {
    match &p {
        EnvProblem::Unset { name, .. } => {
            let hint = format!(
                "export {name}=… before running mapsync, or give a default with ${{{name}:-value}}"
            );
            match ctx.mode {
                EnvMode::Lenient => {
                    ctx.warning("env-unset", pointer.to_string(), p.to_string(), &hint)
                }
                EnvMode::Strict => {
                    ctx.error("env-unset", pointer.to_string(), p.to_string(), &hint)
                }
            }
        }
        EnvProblem::Syntax(_) => ctx.error(
            "env-syntax",
            pointer.to_string(),
            p.to_string(),
            "write ${VAR}, ${VAR:-default} or ${VAR:?message}; $$ is a literal $",
        ),
    }
}
