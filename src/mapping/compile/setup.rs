//! Compiles setup resources and orders them by their dependencies.

use std::collections::BTreeMap;

use url::Url;

use super::super::model::{Method, SetupResource};
use super::super::raw::RawSetupResource;
use super::collection::{list, read};
use super::ctx::{Ctx, ptr};
use super::system::auth;

const VARS: &[&str] = &["public_url", "now", "now_ms"];

pub(crate) fn setup(
    ctx: &mut Ctx,
    raw: &[RawSetupResource],
    bases: &BTreeMap<String, Url>,
) -> Option<Vec<SetupResource>> {
    let mut out = Some(Vec::new());
    let names: Vec<&str> = raw.iter().map(|r| r.name.as_str()).collect();
    for (i, r) in raw.iter().enumerate() {
        let p = ptr("", &["setup", &i.to_string()]);
        if names[..i].contains(&r.name.as_str()) {
            ctx.error(
                "duplicate-name",
                ptr(&p, &["name"]),
                format!("setup resource `{}` is declared twice", r.name),
                "",
            );
        }
        for (j, d) in r.depends_on.iter().enumerate() {
            if !names.contains(&d.as_str()) {
                ctx.error(
                    "unknown-reference",
                    ptr(&p, &["depends_on", &j.to_string()]),
                    format!(
                        "setup resource `{}` depends on `{d}`, which is not declared",
                        r.name
                    ),
                    &format!("declared resources: {}", names.join(", ")),
                );
            }
        }
        let base = bases.get(&r.system);
        if base.is_none() {
            ctx.error(
                "unknown-reference",
                ptr(&p, &["system"]),
                format!(
                    "setup resource `{}` names system `{}`, which is not declared",
                    r.name, r.system
                ),
                "",
            );
        }
        if r.list.is_none() && r.read.is_none() && r.manual.is_none() {
            ctx.error(
                "setup-incomplete",
                p.clone(),
                format!("setup resource `{}` says neither how to `list` nor how to `read` what exists", r.name),
                "add `list` (for a set of items) or `read` (for a singleton), or `manual` instructions",
            );
        }
        if r.list.is_some() && r.key.is_none() {
            ctx.error(
                "setup-incomplete",
                ptr(&p, &["list"]),
                format!(
                    "setup resource `{}` is listed but declares no `key`, so its items cannot be matched to what exists",
                    r.name
                ),
                "add `key`, e.g. `key: \"{{ item.name }}\"`",
            );
        }
        if r.list.is_none() && r.read.is_some() && r.items.len() > 1 {
            ctx.error(
                "setup-incomplete",
                ptr(&p, &["items"]),
                format!(
                    "setup resource `{}` is read as a singleton but declares {} items",
                    r.name,
                    r.items.len()
                ),
                "declare one item, or `list` and `key` for a set of items",
            );
        }
        let resource = compile_one(ctx, &p, r, base);
        match (resource, out.as_mut()) {
            (Some(res), Some(v)) => v.push(res),
            _ => out = None,
        }
    }
    let resources = out?;
    order(ctx, resources)
}

fn compile_one(
    ctx: &mut Ctx,
    p: &str,
    r: &RawSetupResource,
    base: Option<&Url>,
) -> Option<SetupResource> {
    let auth = match &r.auth {
        None => Some(None),
        Some(a) => auth(ctx, &ptr(p, &["auth"]), a, base).map(Some),
    };
    let list = match &r.list {
        None => Some(None),
        Some(l) => list(ctx, &ptr(p, &["list"]), l, VARS).map(Some),
    };
    let read = match &r.read {
        None => Some(None),
        Some(rd) => read(ctx, &ptr(p, &["read"]), rd, VARS).map(Some),
    };
    let key = match &r.key {
        None => Some(None),
        Some(k) => ctx.template(&ptr(p, &["key"]), k, &["item"]).map(Some),
    };
    let owned = match &r.owned {
        None => Some(None),
        Some(e) => ctx
            .expr(
                &ptr(p, &["owned"]),
                e,
                &["item", "public_url", "now", "now_ms"],
            )
            .map(Some),
    };
    let create = match &r.create {
        None => Some(None),
        Some(c) => ctx
            .request(
                &ptr(p, &["create"]),
                c.method,
                Method::Post,
                &c.path,
                &c.query,
                &c.headers,
                c.body.as_ref(),
                &["item", "public_url", "now", "now_ms"],
                &[],
            )
            .map(Some),
    };
    let update = match &r.update {
        None => Some(None),
        Some(u) => ctx
            .request(
                &ptr(p, &["update"]),
                u.method,
                Method::Patch,
                &u.path,
                &u.query,
                &u.headers,
                u.body.as_ref(),
                &["item", "existing", "public_url", "now", "now_ms"],
                &[],
            )
            .map(Some),
    };
    let delete = match &r.delete {
        None => Some(None),
        Some(d) => ctx
            .request(
                &ptr(p, &["delete"]),
                d.method,
                Method::Delete,
                &d.path,
                &d.query,
                &d.headers,
                None,
                &["existing", "public_url", "now", "now_ms"],
                &[],
            )
            .map(Some),
    };
    let mut items = Some(Vec::new());
    for (i, item) in r.items.iter().enumerate() {
        let v = serde_json::Value::Object(item.clone().into_iter().collect());
        match (
            ctx.json_template(&ptr(p, &["items", &i.to_string()]), &v, VARS),
            items.as_mut(),
        ) {
            (Some(t), Some(out)) => out.push(t),
            _ => items = None,
        }
    }
    Some(SetupResource {
        name: r.name.clone(),
        system: r.system.clone(),
        auth: auth?,
        depends_on: r.depends_on.clone(),
        list: list?,
        read: read?,
        key: key?,
        owned: owned?,
        compare: r.compare.clone(),
        create: create?,
        update: update?,
        delete: delete?,
        items: items?,
        manual: r.manual.clone(),
    })
}

/// Orders resources so each comes after what it depends on, keeping the written order
/// otherwise; a cycle is an error.
fn order(ctx: &mut Ctx, mut pending: Vec<SetupResource>) -> Option<Vec<SetupResource>> {
    let mut done: Vec<SetupResource> = Vec::new();
    while !pending.is_empty() {
        let ready = pending.iter().position(|r| {
            r.depends_on
                .iter()
                .all(|d| done.iter().any(|x| &x.name == d) || !pending.iter().any(|x| &x.name == d))
        });
        match ready {
            Some(i) => done.push(pending.remove(i)),
            None => {
                let names: Vec<&str> = pending.iter().map(|r| r.name.as_str()).collect();
                ctx.error(
                    "dependency-cycle",
                    "/setup".to_string(),
                    format!(
                        "setup resources depend on each other in a cycle: {}",
                        names.join(", ")
                    ),
                    "remove one of the `depends_on` entries",
                );
                return None;
            }
        }
    }
    Some(done)
}
