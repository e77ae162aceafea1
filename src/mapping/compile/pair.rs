//! Compiles the pair: links, status, match keys, field groups, rules and policies.

use std::collections::BTreeMap;

use super::super::model::{
    Collection, ConflictPolicy, DeletePolicy, Deletes, FieldGroup, Pair, Refusal, Rule, Sides,
    Status,
};
use super::super::raw::{RawConflictPolicy, RawDeletePolicy, RawPair};
use super::super::{Direction, Side};
use super::ctx::{Ctx, ptr};
use crate::expr::FieldPath;

/// Filters whose results cannot, in general, be mapped back to their input.
const LOSSY_FILTERS: &[&str] = &[
    "split_once",
    "split_list",
    "compact",
    "default",
    "lower",
    "upper",
    "trim",
    "first",
    "last",
];

/// `declared` are the collection names the file declares (compiled or not), so a collection
/// with its own errors does not also make the pair's reference to it an error.
pub(crate) fn pair(
    ctx: &mut Ctx,
    raw: &RawPair,
    collections: &BTreeMap<String, Collection>,
    declared: &[&str],
) -> Option<Pair> {
    let p = "/pair";
    let mut refs_ok = true;
    for (key, name) in [("home", &raw.home), ("external", &raw.external)] {
        if !collections.contains_key(name) {
            refs_ok = false;
            if declared.contains(&name.as_str()) {
                continue;
            }
            let known = declared;
            ctx.error(
                "unknown-reference",
                ptr(p, &[key]),
                format!("the pair's {key} collection `{name}` is not declared"),
                &format!("declared collections: {}", known.join(", ")),
            );
        }
    }
    if raw.home == raw.external {
        ctx.error(
            "same-collection",
            ptr(p, &["external"]),
            "home and external are the same collection".to_string(),
            "",
        );
        refs_ok = false;
    }
    let link_home = ctx.field_path(&ptr(p, &["link", "home"]), &raw.link.home);
    let link_external = ctx.field_path(&ptr(p, &["link", "external"]), &raw.link.external);
    let status = match &raw.status {
        None => Some(None),
        Some(s) => {
            let sp = ptr(p, &["status"]);
            let home = match &s.home {
                None => Some(None),
                Some(f) => ctx.field_path(&ptr(&sp, &["home"]), f).map(Some),
            };
            let external = match &s.external {
                None => Some(None),
                Some(f) => ctx.field_path(&ptr(&sp, &["external"]), f).map(Some),
            };
            let ok = ctx.template(&ptr(&sp, &["ok"]), &s.ok, &["now"]);
            let error = ctx.template(&ptr(&sp, &["error"]), &s.error, &["now", "message"]);
            match (home, external, ok, error) {
                (Some(home), Some(external), Some(ok), Some(error)) => Some(Some(Status {
                    fields: Sides { home, external },
                    ok,
                    error,
                })),
                _ => None,
            }
        }
    };
    let match_keys = match &raw.match_keys {
        None => Some(None),
        Some(m) => {
            let home = ctx.expr(&ptr(p, &["match", "home"]), &m.home, &["record"]);
            let external = ctx.expr(&ptr(p, &["match", "external"]), &m.external, &["record"]);
            match (home, external) {
                (Some(home), Some(external)) => Some(Some(Sides { home, external })),
                _ => None,
            }
        }
    };
    let mut groups = Some(Vec::new());
    for (i, g) in raw.fields.iter().enumerate() {
        let gp = ptr(p, &["fields", &i.to_string()]);
        let maps = |ctx: &mut Ctx, dir: &str, m: &BTreeMap<String, String>| {
            let mut out = Some(Vec::new());
            for (field, expr) in m {
                let fp = ptr(&gp, &[dir, field]);
                let f = ctx.field_path(&fp, field);
                let e = ctx.expr(&fp, expr, &["record"]);
                match (f, e, out.as_mut()) {
                    (Some(f), Some(e), Some(v)) => v.push((f, e)),
                    _ => out = None,
                }
            }
            out
        };
        let outbound = maps(ctx, "outbound", &g.outbound);
        let inbound = maps(ctx, "inbound", &g.inbound);
        let one_way = g.one_way.unwrap_or(false);
        if !one_way && (g.outbound.is_empty() != g.inbound.is_empty()) {
            let missing = if g.outbound.is_empty() {
                "outbound"
            } else {
                "inbound"
            };
            ctx.error(
                "missing-reverse",
                gp.clone(),
                format!(
                    "field group `{}` maps one way only: its `{missing}` side is missing",
                    g.name
                ),
                &format!("add `{missing}` mappings, or say `one_way: true` if that is intended"),
            );
        }
        let lossless = g.lossless.unwrap_or(false);
        if lossless {
            for (dir, m) in [("outbound", &g.outbound), ("inbound", &g.inbound)] {
                for (field, expr) in m {
                    if let Some(f) = LOSSY_FILTERS.iter().find(|f| expr.contains(**f)) {
                        ctx.warning(
                            "lossy-round-trip",
                            ptr(&gp, &[dir, field]),
                            format!("group `{}` is declared lossless, but `{expr}` uses `{f}`, which may not map back", g.name),
                            "declare `lossless: false` so mapsync compares in the source's form",
                        );
                    }
                }
            }
        }
        match (outbound, inbound, groups.as_mut()) {
            (Some(outbound), Some(inbound), Some(v)) => v.push(FieldGroup {
                name: g.name.clone(),
                outbound,
                inbound,
                lossless,
                one_way,
                conflicts: g.conflicts.map(conflict_policy),
            }),
            _ => groups = None,
        }
    }
    let mut rules = Some(Vec::new());
    for (i, r) in raw.rules.iter().enumerate() {
        let rp = ptr(p, &["rules", &i.to_string()]);
        let (side, field) = match r.field.split_once('.') {
            Some(("home", f)) => (Some(Side::Home), ctx.field_path(&ptr(&rp, &["field"]), f)),
            Some(("external", f)) => (
                Some(Side::External),
                ctx.field_path(&ptr(&rp, &["field"]), f),
            ),
            _ => {
                ctx.error(
                    "bad-field-path",
                    ptr(&rp, &["field"]),
                    format!(
                        "rule field `{}` must start with `home.` or `external.`",
                        r.field
                    ),
                    "e.g. external.email",
                );
                (None, None)
            }
        };
        if let (Some(side), Some(field)) = (side, &field) {
            let dir = if side == Side::External {
                Direction::Outbound
            } else {
                Direction::Inbound
            };
            let written = raw.fields.iter().any(|g| {
                let m = if dir == Direction::Outbound {
                    &g.outbound
                } else {
                    &g.inbound
                };
                m.keys()
                    .any(|k| FieldPath::parse(k).is_ok_and(|f| &f == field))
            });
            if !written {
                ctx.error(
                    "unmapped-rule-field",
                    ptr(&rp, &["field"]),
                    format!(
                        "rule `{}` checks `{}`, which no field group writes ({dir})",
                        r.name, r.field
                    ),
                    "a rule checks a mapped target field; name one from `fields`",
                );
            }
        }
        let valid = ctx.expr(&ptr(&rp, &["valid"]), &r.valid, &["value"]);
        let message = ctx.template(&ptr(&rp, &["message"]), &r.message, &["value"]);
        let protect = match &r.protect {
            None => Some(None),
            Some(e) => ctx.expr(&ptr(&rp, &["protect"]), e, &["record"]).map(Some),
        };
        match (side, field, valid, message, protect, rules.as_mut()) {
            (Some(side), Some(field), Some(valid), Some(message), Some(protect), Some(v)) => v
                .push(Rule {
                    name: r.name.clone(),
                    side,
                    field,
                    valid,
                    placeholder: r.placeholder.clone(),
                    message,
                    protect,
                    refused: r
                        .refused
                        .iter()
                        .map(|x| Refusal {
                            status: x.status,
                            contains: x.contains.clone(),
                        })
                        .collect(),
                }),
            _ => rules = None,
        }
    }
    if let (Some(lh), Some(le), Some(gs)) = (&link_home, &link_external, groups.as_ref()) {
        check_bookkeeping(ctx, gs, Side::Home, lh, "/pair/link/home", "link");
        check_bookkeeping(ctx, gs, Side::External, le, "/pair/link/external", "link");
        if let Some(Some(s)) = &status {
            for side in [Side::Home, Side::External] {
                if let Some(f) = s.fields.get(side) {
                    check_bookkeeping(ctx, gs, side, f, &format!("/pair/status/{side}"), "status");
                }
            }
        }
    }
    let deletes = raw.deletes.as_ref();
    let policy = |d: Option<RawDeletePolicy>| match d {
        Some(RawDeletePolicy::Delete) => DeletePolicy::Delete,
        Some(RawDeletePolicy::ForceDelete) => DeletePolicy::ForceDelete,
        Some(RawDeletePolicy::Unlink) => DeletePolicy::Unlink,
        Some(RawDeletePolicy::Ignore) | None => DeletePolicy::Ignore,
    };
    let conflicts = raw
        .conflicts
        .map_or(ConflictPolicy::Newest, conflict_policy);
    if !refs_ok {
        return None;
    }
    Some(Pair {
        collections: Sides {
            home: raw.home.clone(),
            external: raw.external.clone(),
        },
        link: Sides {
            home: link_home?,
            external: link_external?,
        },
        link_separator: raw.link.separator.clone().filter(|s| !s.is_empty()),
        status: status?,
        match_keys: match_keys?,
        groups: groups?,
        rules: rules?,
        deletes: Deletes {
            outbound: policy(deletes.and_then(|d| d.outbound)),
            inbound: policy(deletes.and_then(|d| d.inbound)),
        },
        conflicts,
    })
}

fn conflict_policy(raw: RawConflictPolicy) -> ConflictPolicy {
    ConflictPolicy::from(raw)
}

impl From<RawConflictPolicy> for ConflictPolicy {
    fn from(raw: RawConflictPolicy) -> ConflictPolicy {
        match raw {
            RawConflictPolicy::Newest => ConflictPolicy::Newest,
            RawConflictPolicy::Home => ConflictPolicy::Home,
            RawConflictPolicy::External => ConflictPolicy::External,
            RawConflictPolicy::Report => ConflictPolicy::Report,
        }
    }
}

/// A link or status field must not also be a mapped field on the same side.
fn check_bookkeeping(
    ctx: &mut Ctx,
    groups: &[FieldGroup],
    side: Side,
    field: &FieldPath,
    pointer: &str,
    what: &str,
) {
    let dir = if side == Side::External {
        Direction::Outbound
    } else {
        Direction::Inbound
    };
    if let Some(g) = groups
        .iter()
        .find(|g| g.mappings(dir).iter().any(|(f, _)| f == field))
    {
        ctx.error(
            "bookkeeping-field-mapped",
            pointer.to_string(),
            format!(
                "the {what} field `{field}` is also written by field group `{}`",
                g.name
            ),
            "link and status fields belong to mapsync; map your data to other fields",
        );
    }
}
