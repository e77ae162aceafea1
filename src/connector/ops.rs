//! The operations a collection declares (list a page, read, create, update, delete) and the
//! generic `send` used by `mapsync setup`: each renders its request, calls, and reads the
//! answer with the mapping's paths. It never decides what to do with a failure (the runner
//! does) and never touches the store.

use serde_json::Value;

use super::Connector;
use super::call::{Response, body_text, header};
use super::error::{ConnectorError, Result, api_text, template_error, truncate};
use super::paging::{self, NextInput, Page, PageCursor};
use super::url::resolve_link;
use crate::expr::{JsonTemplate, Vars};
use crate::mapping::model::{
    Collection, CreatedId, ListOp, Paging, ReadOp, RecordResult, Request, Verdict,
};

/// What a create did.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    /// A new record.
    Created {
        /// Its id.
        id: String,
        /// The record as the API returned it, when it did.
        record: Option<Value>,
    },
    /// The API answered that the record already exists, and named it.
    Exists {
        /// The existing record's id.
        id: String,
    },
}

/// What a delete did.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteOutcome {
    /// The record is deleted.
    Deleted,
    /// It was already gone (a `missing` status).
    AlreadyGone,
    /// The API refused (a `refused` status), e.g. while the record is still in use.
    Refused {
        /// The status.
        status: u16,
        /// The API's explanation.
        message: String,
    },
}

impl Connector {
    /// One page of a collection's listing (`op` is its `list` or `list_deleted`). `vars` holds
    /// what the templates read besides paging (e.g. `mapped_fields`).
    pub async fn list_page(
        &self,
        collection: &Collection,
        op: &ListOp,
        cursor: &PageCursor,
        vars: &Vars,
    ) -> Result<Page> {
        tracing::trace!(system = %self.shared.system.name, collection = %collection.name, "Listing a page.");
        self.list_op_page(op, cursor, vars).await
    }

    /// One page of any declared listing (also a setup resource's).
    pub async fn list_op_page(
        &self,
        op: &ListOp,
        cursor: &PageCursor,
        vars: &Vars,
    ) -> Result<Page> {
        let sys = &self.shared.system;
        let call = match cursor {
            PageCursor::Next { url } => {
                let answered = sys.base_url.clone();
                let url = resolve_link(&sys.name, &sys.base_url, &answered, url)?;
                self.render_url(
                    "list",
                    op.request.method,
                    url,
                    &op.request.headers,
                    vars,
                    &op.no_records,
                )?
            }
            c => {
                let body = self.body("list", op.request.body.as_ref(), vars)?;
                let extra = paging::params(&op.paging, c);
                self.render("list", &op.request, vars, &extra, body, &op.no_records)?
            }
        };
        let method = call.method.as_str();
        let resp = self.call(call).await?;
        if op.no_records.contains(&resp.status)
            || op.no_records_when_empty && resp.is_success() && resp.body.is_null()
        {
            tracing::debug!(system = %sys.name, status = resp.status, "The list answered no records.");
            return Ok(Page {
                records: Vec::new(),
                next: None,
                total: None,
            });
        }
        let Some(records) = paging::records(&op.records, &resp.body) else {
            return Err(self.shape_error(
                method,
                &resp,
                format!("its answer has no records at `{}`", op.records.source()),
            ));
        };
        let next = paging::next(
            &op.paging,
            NextInput {
                system: &sys.name,
                base: &sys.base_url,
                answered: &resp.url,
                body: &resp.body,
                current: cursor,
                count: records.len(),
            },
        )?;
        if matches!(op.paging, Paging::None) || next.is_none() {
            tracing::debug!(system = %sys.name, count = records.len(), "Listed the last page.");
        }
        let total = op
            .total
            .as_ref()
            .and_then(|t| t.first(&resp.body))
            .and_then(serde_json::Value::as_u64);
        Ok(Page {
            records,
            next,
            total,
        })
    }

    /// Reads one record by id; `None` when the API answers a `missing` status.
    pub async fn read(
        &self,
        collection: &Collection,
        id: &str,
        vars: &Vars,
    ) -> Result<Option<Value>> {
        let Some(op) = &collection.read else {
            return Err(self.undeclared(collection, "read"));
        };
        self.read_op(op, &vars.clone().with_str("id", id)).await
    }

    /// Any declared read (also a setup resource's); `vars` holds what its templates read.
    pub async fn read_op(&self, op: &ReadOp, vars: &Vars) -> Result<Option<Value>> {
        let call = self.render("read", &op.request, vars, &[], None, &op.missing)?;
        let method = call.method.as_str();
        let resp = self.call(call).await?;
        if !resp.is_success()
            || op.missing.contains(&resp.status)
            || op.missing_when_empty && resp.body.is_null()
        {
            return Ok(None);
        }
        match op.record.first(&resp.body) {
            Some(r) => Ok(Some(r.clone())),
            None => Err(self.shape_error(
                method,
                &resp,
                format!("its answer has no record at `{}`", op.record.source()),
            )),
        }
    }

    /// Creates a record from its fields object. The body is the declared template over
    /// `fields`, else the fields wrapped at the collection's fields path.
    pub async fn create(
        &self,
        collection: &Collection,
        fields: Value,
        vars: &Vars,
    ) -> Result<CreateOutcome> {
        self.create_keyed(collection, fields, vars, None).await
    }

    /// `create` with the create intent's key, sent in the header the mapping's
    /// `create.idempotency` names (nothing is sent without one). A create is never repeated
    /// after an answer that leaves its outcome unknown (see `ConnectorError::outcome_unknown`).
    pub async fn create_keyed(
        &self,
        collection: &Collection,
        fields: Value,
        vars: &Vars,
        key: Option<&str>,
    ) -> Result<CreateOutcome> {
        let Some(op) = &collection.create else {
            return Err(self.undeclared(collection, "create"));
        };
        let vars = vars.clone().with("fields", &fields);
        let body = match self.body("create", op.request.body.as_ref(), &vars)? {
            Some(b) => b,
            None => collection.wrap_fields(fields),
        };
        let accept: Vec<u16> = op.exists.iter().map(|e| e.status).collect();
        let mut call = self.render("create", &op.request, &vars, &[], Some(body), &accept)?;
        call.repeatable = false;
        if let (Some(header), Some(key)) = (&op.idempotency, key) {
            call.headers
                .retain(|(n, _, _)| !n.eq_ignore_ascii_case(header));
            call.headers.push((header.clone(), key.to_string(), false));
        }
        call.per_record = op.result.is_some();
        let method = call.method.as_str();
        let resp = self.call(call).await?;
        if resp.is_success()
            && let Some(result) = &op.result
        {
            self.record_result(method, &resp, result)?;
        }
        if !resp.is_success() {
            if let Some(id) = op
                .exists
                .as_ref()
                .and_then(|e| e.existing_id(resp.status, &resp.body))
            {
                return Ok(CreateOutcome::Exists { id });
            }
            return Err(self.refusal(method, &resp));
        }
        let id = match &op.created_id {
            CreatedId::Header(name) => header(&resp.headers, name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| {
                    match resolve_link(
                        &self.shared.system.name,
                        &self.shared.system.base_url,
                        &resp.url,
                        v,
                    ) {
                        Ok(u) if v.starts_with('/') => u.to_string(),
                        _ => v.trim().to_string(),
                    }
                }),
            CreatedId::Body(path) => path.first_text(&resp.body).filter(|s| !s.is_empty()),
        };
        let Some(id) = id else {
            let place = match &op.created_id {
                CreatedId::Header(h) => format!("header `{h}`"),
                CreatedId::Body(p) => format!("`{}`", p.source()),
            };
            return Err(self.shape_error(
                method,
                &resp,
                format!(
                    "the record was created and its answer has no id at {place}; find the new \
                     record before running again or it may be created twice"
                ),
            ));
        };
        let record = resp.body.is_object().then_some(resp.body);
        Ok(CreateOutcome::Created { id, record })
    }

    /// Updates a record's fields; gives the record when the API returns it.
    pub async fn update(
        &self,
        collection: &Collection,
        id: &str,
        fields: Value,
        vars: &Vars,
    ) -> Result<Option<Value>> {
        let Some(op) = &collection.update else {
            return Err(self.undeclared(collection, "update"));
        };
        let req = &op.request;
        let vars = vars.clone().with_str("id", id).with("fields", &fields);
        let body = match self.body("update", req.body.as_ref(), &vars)? {
            Some(b) => b,
            None => collection.wrap_fields(fields),
        };
        let mut call = self.render("update", req, &vars, &[], Some(body), &[])?;
        call.per_record = op.result.is_some();
        let method = call.method.as_str();
        let resp = self.call(call).await?;
        if let Some(result) = &op.result {
            self.record_result(method, &resp, result)?;
        }
        Ok(resp.body.is_object().then_some(resp.body))
    }

    /// Deletes a record (`force` is given to the templates); a `missing` answer means it was
    /// already gone, a `refused` answer is an outcome, not an error.
    pub async fn delete(
        &self,
        collection: &Collection,
        id: &str,
        force: bool,
    ) -> Result<DeleteOutcome> {
        let Some(op) = &collection.delete else {
            return Err(self.undeclared(collection, "delete"));
        };
        let vars = Vars::new().with_str("id", id).with_bool("force", force);
        let accept: Vec<u16> = op.missing.iter().chain(&op.refused).copied().collect();
        let mut call = self.render("delete", &op.request, &vars, &[], None, &accept)?;
        call.per_record = op.result.is_some();
        let method = call.method.as_str();
        let resp = self.call(call).await?;
        if resp.is_success() {
            if let Some(result) = &op.result {
                self.record_result(method, &resp, result)?;
            }
            Ok(DeleteOutcome::Deleted)
        } else if op.missing.contains(&resp.status) {
            Ok(DeleteOutcome::AlreadyGone)
        } else {
            Ok(DeleteOutcome::Refused {
                status: resp.status,
                message: self.scrub(&api_text(&resp.body)),
            })
        }
    }

    /// Sends any declared request (setup resources): the body is `body`, else the request's
    /// rendered template. Retries as usual; a final non-2xx answer is an error.
    pub async fn send(&self, req: &Request, vars: &Vars, body: Option<Value>) -> Result<Response> {
        let body = match body {
            Some(b) => Some(b),
            None => self.body("request", req.body.as_ref(), vars)?,
        };
        let call = self.render("request", req, vars, &[], body, &[])?;
        self.call(call).await
    }

    /// A declared body template rendered.
    pub(crate) fn body(
        &self,
        what: &str,
        t: Option<&JsonTemplate>,
        vars: &Vars,
    ) -> Result<Option<Value>> {
        t.map(|t| t.render(vars))
            .transpose()
            .map_err(|e| template_error(&self.shared.system.name, what, &e))
    }

    fn undeclared(&self, collection: &Collection, op: &str) -> ConnectorError {
        ConnectorError::Template {
            system: self.shared.system.name.clone(),
            what: op.to_string(),
            message: format!(
                "collection `{}` declares no `{op}` operation",
                collection.name
            ),
        }
    }

    pub(crate) fn shape_error(
        &self,
        method: &'static str,
        resp: &Response,
        message: String,
    ) -> ConnectorError {
        ConnectorError::Response {
            system: self.shared.system.name.clone(),
            method,
            path: resp.url.path().to_string(),
            status: resp.status,
            message,
        }
    }

    /// Reads the record's own result from a 2xx answer: an answer without one is a shape
    /// error, a result that is not a success a failure classed by the system's error rules
    /// (the answer's status and the result's JSON text), `permanent` by default.
    fn record_result(
        &self,
        method: &'static str,
        resp: &Response,
        result: &RecordResult,
    ) -> Result<()> {
        match result.judge(resp.status, &resp.body) {
            None => Err(self.shape_error(
                method,
                resp,
                format!(
                    "its answer has no result for the record at `{}`; the write may or may \
                     not have happened",
                    result.path.source()
                ),
            )),
            Some((Verdict::Written, _)) => Ok(()),
            Some((Verdict::Refused(message), entry)) => {
                Err(self.item_refusal(method, resp, &entry, &message))
            }
        }
    }

    /// A per-record refusal inside an answer, classed by the system's error rules over the
    /// answer's status and the record's result.
    pub(crate) fn item_refusal(
        &self,
        method: &'static str,
        resp: &Response,
        entry: &Value,
        message: &str,
    ) -> ConnectorError {
        ConnectorError::Http {
            system: self.shared.system.name.clone(),
            method,
            path: resp.url.path().to_string(),
            status: resp.status,
            class: self.shared.system.classify(resp.status, &body_text(entry)),
            message: self.scrub(&truncate(message)),
            retry_after: None,
            attempts: 1,
        }
    }

    /// An accepted non-2xx answer that turned out not to be the expected one.
    pub(crate) fn refusal(&self, method: &'static str, resp: &Response) -> ConnectorError {
        let body_text = body_text(&resp.body);
        ConnectorError::Http {
            system: self.shared.system.name.clone(),
            method,
            path: resp.url.path().to_string(),
            status: resp.status,
            class: self.shared.system.classify(resp.status, &body_text),
            message: self.scrub(&api_text(&resp.body)),
            retry_after: None,
            attempts: 1,
        }
    }
}
