//! Compiles collections and their operations.

use std::collections::BTreeMap;

use super::super::model::{
    BatchMatch, BatchOp, Collection, CreateOp, CreatedId, DeleteOp, Exists, ListOp, Method, Paging,
    ReadOp, RecordResult, System, UpdateOp,
};
use super::super::raw::{
    RawBatchMatch, RawBatchOp, RawCollection, RawCreatedId, RawList, RawPaging, RawRead, RawResult,
};
use super::ctx::{Ctx, method_of, ptr};
use super::webhook::webhook;

/// Variables a list request may use.
pub(crate) const LIST_VARS: &[&str] = &["mapped_fields"];

pub(crate) fn collection(
    ctx: &mut Ctx,
    name: &str,
    raw: &RawCollection,
    systems: &BTreeMap<String, System>,
) -> Option<Collection> {
    let p = ptr("", &["collections", name]);
    let system = systems.get(&raw.system);
    if system.is_none() {
        let known: Vec<&str> = systems.keys().map(String::as_str).collect();
        ctx.error(
            "unknown-reference",
            ptr(&p, &["system"]),
            format!(
                "collection `{name}` names system `{}`, which is not declared",
                raw.system
            ),
            &format!("declared systems: {}", known.join(", ")),
        );
    }
    let id = ctx.json_path(&ptr(&p, &["id"]), &raw.id);
    let fields_root = match &raw.fields {
        None => Some(Vec::new()),
        Some(src) => {
            let fp = ptr(&p, &["fields"]);
            match ctx.json_path(&fp, src) {
                Some(jp) => match jp.simple_keys() {
                    Some(keys) => Some(keys.into_iter().map(str::to_string).collect()),
                    None => {
                        ctx.error(
                            "bad-jsonpath",
                            fp,
                            format!("`fields` must be a plain path of names, like `$.properties`, not `{src}`"),
                            "",
                        );
                        None
                    }
                },
                None => None,
            }
        }
    };
    let list_op = list(ctx, &ptr(&p, &["list"]), &raw.list, LIST_VARS);
    let list_deleted = match &raw.list_deleted {
        None => Some(None),
        Some(l) => list(ctx, &ptr(&p, &["list_deleted"]), l, LIST_VARS).map(Some),
    };
    let read = match &raw.read {
        None => Some(None),
        Some(r) => read(ctx, &ptr(&p, &["read"]), r, &["id", "mapped_fields"]).map(Some),
    };
    let create = match &raw.create {
        None => Some(None),
        Some(c) => {
            let cp = ptr(&p, &["create"]);
            let request = ctx.request(
                &cp,
                c.method,
                Method::Post,
                &c.path,
                &c.query,
                &c.headers,
                c.body.as_ref(),
                &["mapped_fields"],
                &["fields"],
            );
            let created_id = match &c.created_id {
                None => id.clone().map(CreatedId::Body),
                Some(RawCreatedId::Header(h)) => Some(CreatedId::Header(h.clone())),
                Some(RawCreatedId::Body(src)) => ctx
                    .json_path(&ptr(&cp, &["created_id", "body"]), src)
                    .map(CreatedId::Body),
            };
            let exists = match &c.exists {
                None => Some(None),
                Some(e) => {
                    let path = ctx.json_path(&ptr(&cp, &["exists", "path"]), &e.path);
                    let pattern = ctx.regex(&ptr(&cp, &["exists", "pattern"]), &e.pattern);
                    match (path, pattern) {
                        (Some(path), Some(pattern)) => Some(Some(Exists {
                            status: e.status,
                            path,
                            pattern,
                        })),
                        _ => None,
                    }
                }
            };
            let result = opt_result(ctx, &cp, c.result.as_ref());
            match (request, created_id, exists, result) {
                (Some(request), Some(created_id), Some(exists), Some(result)) => {
                    Some(Some(CreateOp {
                        request,
                        created_id,
                        exists,
                        result,
                        idempotency: c.idempotency.as_ref().map(|i| i.header.clone()),
                    }))
                }
                _ => None,
            }
        }
    };
    let update = match &raw.update {
        None => Some(None),
        Some(u) => {
            let up = ptr(&p, &["update"]);
            let request = ctx.request(
                &up,
                u.method,
                Method::Patch,
                &u.path,
                &u.query,
                &u.headers,
                u.body.as_ref(),
                &["id", "mapped_fields"],
                &["fields"],
            );
            let result = opt_result(ctx, &up, u.result.as_ref());
            Some(Some(UpdateOp {
                request: request?,
                result: result?,
            }))
        }
    };
    let delete = match &raw.delete {
        None => Some(None),
        Some(d) => {
            let result = opt_result(ctx, &ptr(&p, &["delete"]), d.result.as_ref());
            ctx.request(
                &ptr(&p, &["delete"]),
                d.method,
                Method::Delete,
                &d.path,
                &d.query,
                &d.headers,
                None,
                &["id", "force"],
                &[],
            )
            .zip(result)
            .map(|(request, result)| {
                Some(DeleteOp {
                    request,
                    missing: d.missing.clone().unwrap_or_else(|| vec![404]),
                    refused: d.refused.clone(),
                    result,
                })
            })
        }
    };
    let batch_create = match raw.batch.as_ref().and_then(|b| b.create.as_ref()) {
        None => Some(None),
        Some(b) => batch(ctx, &ptr(&p, &["batch", "create"]), b).map(Some),
    };
    let batch_update = match raw.batch.as_ref().and_then(|b| b.update.as_ref()) {
        None => Some(None),
        Some(b) => batch(ctx, &ptr(&p, &["batch", "update"]), b).map(Some),
    };
    let deleted = match &raw.deleted {
        None => Some(None),
        Some(e) => ctx.expr(&ptr(&p, &["deleted"]), e, &["record"]).map(Some),
    };
    let modified_at = match &raw.modified_at {
        None => Some(None),
        Some(e) => ctx
            .expr(&ptr(&p, &["modified_at"]), e, &["record"])
            .map(Some),
    };
    let webhook = match &raw.webhook {
        None => Some(None),
        Some(w) => webhook(ctx, &ptr(&p, &["webhook"]), w).map(Some),
    };
    system?;
    Some(Collection {
        name: name.to_string(),
        title: raw.title.clone().unwrap_or_else(|| name.to_string()),
        system: raw.system.clone(),
        id: id?,
        fields_root: fields_root?,
        list: list_op?,
        list_deleted: list_deleted?,
        read: read?,
        create: create?,
        update: update?,
        delete: delete?,
        batch_create: batch_create?,
        batch_update: batch_update?,
        deleted: deleted?,
        modified_at: modified_at?,
        webhook: webhook?,
    })
}

pub(crate) fn list(ctx: &mut Ctx, p: &str, raw: &RawList, vars: &[&str]) -> Option<ListOp> {
    let request = ctx.request(
        p,
        raw.method,
        Method::Get,
        &raw.path,
        &raw.query,
        &raw.headers,
        raw.body.as_ref(),
        vars,
        &[],
    );
    let records = ctx.json_path(&ptr(p, &["records"]), &raw.records);
    let pp = ptr(p, &["paging"]);
    let paging = match &raw.paging {
        None => Some(Paging::None),
        Some(RawPaging::NextLink(n)) => ctx
            .json_path(&ptr(&pp, &["next_link", "path"]), &n.path)
            .map(|path| Paging::NextLink { path }),
        Some(RawPaging::Cursor(c)) => {
            ctx.json_path(&ptr(&pp, &["cursor", "path"]), &c.path)
                .map(|path| Paging::Cursor {
                    path,
                    param: c.param.clone(),
                })
        }
        Some(RawPaging::Offset(o)) => {
            let op = ptr(&pp, &["offset"]);
            let more = ctx.opt_json_path(&ptr(&op, &["more"]), o.more.as_ref());
            let next = ctx.opt_json_path(&ptr(&op, &["next"]), o.next.as_ref());
            match (more, next) {
                (Some(more), Some(next)) => Some(Paging::Offset {
                    param: o.param.clone(),
                    limit_param: o.limit_param.clone(),
                    limit: o.limit.max(1),
                    more,
                    next,
                }),
                _ => None,
            }
        }
        Some(RawPaging::Page(pg)) => ctx
            .opt_json_path(&ptr(&pp, &["page", "more"]), pg.more.as_ref())
            .map(|more| Paging::Page {
                param: pg.param.clone(),
                start: pg.start.unwrap_or(1),
                more,
            }),
    };
    let total = ctx.opt_json_path(&ptr(p, &["total"]), raw.total.as_ref());
    Some(ListOp {
        request: request?,
        records: records?,
        paging: paging?,
        total: total?,
        no_records: raw.no_records.clone(),
        no_records_when_empty: raw.no_records_when_empty.unwrap_or(false),
    })
}

pub(crate) fn read(ctx: &mut Ctx, p: &str, raw: &RawRead, vars: &[&str]) -> Option<ReadOp> {
    let request = ctx.request(
        p,
        raw.method,
        Method::Get,
        &raw.path,
        &raw.query,
        &raw.headers,
        None,
        vars,
        &[],
    );
    let record = match &raw.record {
        None => Some(crate::expr::JsonPath::root()),
        Some(src) => ctx.json_path(&ptr(p, &["record"]), src),
    };
    Some(ReadOp {
        request: request?,
        missing: raw.missing.clone().unwrap_or_else(|| vec![404]),
        missing_when_empty: raw.missing_when_empty.unwrap_or(false),
        record: record?,
    })
}

fn batch(ctx: &mut Ctx, p: &str, raw: &RawBatchOp) -> Option<BatchOp> {
    let path = ctx.template(&ptr(p, &["path"]), &raw.path, &[]);
    let body = ctx.json_template(&ptr(p, &["body"]), &raw.body, &["inputs"]);
    let item = ctx.json_template(&ptr(p, &["item"]), &raw.item, &["id", "fields", "key"]);
    let results = ctx.json_path(&ptr(p, &["results"]), &raw.results);
    let errors = ctx.opt_json_path(&ptr(p, &["errors"]), raw.errors.as_ref());
    let error_key = ctx.opt_json_path(&ptr(p, &["error_key"]), raw.error_key.as_ref());
    let error_message = ctx.opt_json_path(&ptr(p, &["error_message"]), raw.error_message.as_ref());
    let success = match &raw.success {
        None => Some(None),
        Some(e) => ctx
            .expr(&ptr(p, &["success"]), e, &["result", "status"])
            .map(Some),
    };
    let result_id = ctx.opt_json_path(&ptr(p, &["result_id"]), raw.result_id.as_ref());
    let match_by = match raw.match_by {
        Some(RawBatchMatch::Position) => BatchMatch::Position,
        Some(RawBatchMatch::Key) | None => BatchMatch::Key,
    };
    batch_checks(ctx, p, raw, match_by);
    Some(BatchOp {
        method: raw.method.map(method_of).unwrap_or(Method::Post),
        path: path?,
        max: raw.max.max(1) as usize,
        body: body?,
        item: item?,
        results: results?,
        match_by,
        success: success?,
        result_id: result_id?,
        partial: raw.partial.clone(),
        errors: errors?,
        error_key: error_key?,
        error_message: error_message?,
    })
}

/// A write's `result`, when declared (`Some(None)` when not; `None` after an error).
fn opt_result(ctx: &mut Ctx, op: &str, raw: Option<&RawResult>) -> Option<Option<RecordResult>> {
    let Some(raw) = raw else {
        return Some(None);
    };
    let p = ptr(op, &["result"]);
    let path = ctx.json_path(&ptr(&p, &["path"]), &raw.path);
    let success = match &raw.success {
        None => Some(None),
        Some(e) => ctx
            .expr(&ptr(&p, &["success"]), e, &["result", "status"])
            .map(Some),
    };
    let message = ctx.opt_json_path(&ptr(&p, &["message"]), raw.message.as_ref());
    Some(Some(RecordResult {
        path: path?,
        success: success?,
        message: message?,
    }))
}

/// Rejects batch declarations whose answers cannot be matched to their inputs.
fn batch_checks(ctx: &mut Ctx, p: &str, raw: &RawBatchOp, match_by: BatchMatch) {
    if match_by == BatchMatch::Key && raw.error_key.is_none() {
        let declared = [
            ("errors", raw.errors.is_some()),
            ("success", raw.success.is_some()),
        ];
        for (what, _) in declared.into_iter().filter(|(_, set)| *set) {
            ctx.error(
                "unmatched-batch",
                ptr(p, &[what]),
                format!(
                    "the batch declares `{what}` but no way to tell which input a failure is \
                     about: a refused input could never be told apart from the ones written"
                ),
                "add `error_key` (a JSONPath to the input's `key` inside an error or result), or \
                 `match: position` when the API answers in input order",
            );
        }
    }
    for (i, s) in raw.partial.iter().enumerate() {
        if !(400..500).contains(s) {
            ctx.error(
                "bad-status",
                ptr(p, &["partial", &i.to_string()]),
                format!(
                    "`partial` lists error statuses (4xx) that still report each input, not {s}"
                ),
                "2xx answers are always read per input; 5xx answers are retried",
            );
        }
    }
}
