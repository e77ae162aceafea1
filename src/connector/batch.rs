//! Batch create and update: inputs rendered from the declared item template, sent in chunks of
//! the declared `max`, answers (200, 201, 207 partial, a declared `partial` 4xx) read into
//! results and per-input errors, correlated by the declared key or by position, each result
//! judged by the declared `success`. It never retries a single input or decides what a failed
//! input becomes; the runner does.

use serde_json::Value;

use super::Connector;
use super::call::Response;
use super::error::{ConnectorError, Result, api_text, template_error};
use super::paging::records;
use super::url::resolve;
use crate::expr::Vars;
use crate::mapping::model::{BatchMatch, BatchOp, Collection, ErrorClass, Verdict, judge};

/// One input of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    /// The caller's key for the input, sent where the item template puts `key` and used to
    /// match errors back to inputs.
    pub key: String,
    /// The record's id (updates).
    pub id: Option<String>,
    /// The fields object.
    pub fields: Value,
}

/// An input the API did not accept, or that was not sent.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItemError {
    /// The input's key, when the API's error names it (or the whole chunk failed).
    pub key: Option<String>,
    /// The API's explanation.
    pub message: String,
    /// The HTTP status, when the whole request failed.
    pub status: Option<u16>,
    /// What the runner should make of it.
    pub class: ErrorClass,
    /// The input may have been applied although this error came back (the whole request timed
    /// out or got a 5xx; see `ConnectorError::outcome_unknown`).
    pub outcome_unknown: bool,
}

/// An input the connector matched to its successful result itself (by position, or by the key
/// the result carries).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItemDone {
    /// The input's key.
    pub key: String,
    /// The record's id, read at `result_id` (else the collection's `id`) in its result.
    pub id: Option<String>,
}

/// What a batch did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchOutcome {
    /// The records the API returned for accepted inputs, to be matched by their link field.
    pub results: Vec<Value>,
    /// Accepted inputs already matched to their result.
    pub done: Vec<BatchItemDone>,
    /// Inputs that failed.
    pub errors: Vec<BatchItemError>,
}

impl Connector {
    /// Creates records in batches.
    pub async fn batch_create(
        &self,
        collection: &Collection,
        items: Vec<BatchItem>,
    ) -> Result<BatchOutcome> {
        match &collection.batch_create {
            Some(op) => self.batch("batch create", collection, op, items).await,
            None => Err(undeclared(self, collection, "batch create")),
        }
    }

    /// Updates records in batches (each item carries its `id`).
    pub async fn batch_update(
        &self,
        collection: &Collection,
        items: Vec<BatchItem>,
    ) -> Result<BatchOutcome> {
        match &collection.batch_update {
            Some(op) => self.batch("batch update", collection, op, items).await,
            None => Err(undeclared(self, collection, "batch update")),
        }
    }

    /// Sends `items` in chunks of `op.max`. A chunk that fails as a whole gives an error for
    /// each of its inputs; after an error that is not permanent, the remaining chunks are not
    /// sent and their inputs get that error too, so results already obtained are kept.
    async fn batch(
        &self,
        what: &str,
        collection: &Collection,
        op: &BatchOp,
        items: Vec<BatchItem>,
    ) -> Result<BatchOutcome> {
        let sys = &self.shared.system;
        let path = op
            .path
            .render(&Vars::new())
            .map_err(|e| template_error(&sys.name, what, &e))?;
        let url = resolve(&sys.name, &sys.base_url, &path)?;
        let mut out = BatchOutcome::default();
        let mut stopped: Option<(String, Option<u16>, ErrorClass)> = None;
        for chunk in items.chunks(op.max.max(1)) {
            if let Some((message, status, class)) = &stopped {
                out.errors.extend(chunk.iter().map(|i| BatchItemError {
                    key: Some(i.key.clone()),
                    message: format!("not sent: {message}"),
                    status: *status,
                    class: *class,
                    outcome_unknown: false,
                }));
                continue;
            }
            let mut inputs = Vec::with_capacity(chunk.len());
            for item in chunk {
                let vars = Vars::new()
                    .with("id", &item.id.clone().map_or(Value::Null, Value::String))
                    .with("fields", &item.fields)
                    .with_str("key", &item.key);
                inputs.push(
                    op.item
                        .render(&vars)
                        .map_err(|e| template_error(&sys.name, what, &e))?,
                );
            }
            let body = op
                .body
                .render(&Vars::new().with("inputs", &Value::Array(inputs)))
                .map_err(|e| template_error(&sys.name, what, &e))?;
            let mut call =
                self.render_url(what, op.method, url.clone(), &[], &Vars::new(), &op.partial)?;
            call.body = Some(body);
            // A batch update is repeatable (by value); a batch create is not.
            call.repeatable = what != "batch create";
            call.per_record = op.success.is_some() || op.errors.is_some();
            let method = call.method.as_str();
            match self.call(call).await {
                Ok(resp) => self.read_answer(method, collection, op, chunk, &resp, &mut out),
                Err(e) => {
                    let message = e
                        .api_message()
                        .map_or_else(|| e.to_string(), str::to_string);
                    let (status, class) = (e.status(), e.class());
                    let unknown = e.outcome_unknown();
                    out.errors.extend(chunk.iter().map(|i| BatchItemError {
                        key: Some(i.key.clone()),
                        message: message.clone(),
                        status,
                        class,
                        outcome_unknown: unknown,
                    }));
                    if class != ErrorClass::Permanent {
                        stopped = Some((e.to_string(), status, class));
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Connector {
    /// Reads one chunk's answer (a 2xx, or a `partial` status) into results and errors.
    fn read_answer(
        &self,
        method: &'static str,
        collection: &Collection,
        op: &BatchOp,
        chunk: &[BatchItem],
        resp: &Response,
        out: &mut BatchOutcome,
    ) {
        let status = resp.status;
        let entries = records(&op.results, &resp.body);
        let listed = op.errors.as_ref().and_then(|p| records(p, &resp.body));
        if !resp.is_success() && entries.is_none() && listed.is_none() {
            // A `partial` status that reports no input: the whole chunk was refused.
            let e = self.refusal(method, resp);
            out.errors.extend(chunk.iter().map(|i| BatchItemError {
                key: Some(i.key.clone()),
                message: e.api_message().unwrap_or_default().to_string(),
                status: Some(status),
                class: e.class(),
                outcome_unknown: e.outcome_unknown(),
            }));
            return;
        }
        let id_path = op.result_id.as_ref().unwrap_or(&collection.id);
        let id_of = |e: &Value| id_path.first_text(e).filter(|s| !s.is_empty());
        let refused = |key: Option<String>, entry: &Value, message: &str| {
            let e = self.item_refusal(method, resp, entry, message);
            BatchItemError {
                key,
                message: e.api_message().unwrap_or_default().to_string(),
                status: Some(status),
                class: e.class(),
                // The API looked at the record and refused it.
                outcome_unknown: false,
            }
        };
        let entries = entries.unwrap_or_default();
        match op.match_by {
            BatchMatch::Position => {
                for (i, item) in chunk.iter().enumerate() {
                    let Some(entry) = entries.get(i) else {
                        out.errors.push(BatchItemError {
                            key: Some(item.key.clone()),
                            message: format!(
                                "the batch answer ({status}) has no result for this input"
                            ),
                            status: Some(status),
                            class: ErrorClass::Transient,
                            // Answered for the chunk, silent about this input: it may exist.
                            outcome_unknown: true,
                        });
                        continue;
                    };
                    match judge(
                        op.success.as_ref(),
                        op.error_message.as_ref(),
                        status,
                        entry,
                    ) {
                        Verdict::Written => out.done.push(BatchItemDone {
                            key: item.key.clone(),
                            id: id_of(entry),
                        }),
                        Verdict::Refused(m) => {
                            out.errors.push(refused(Some(item.key.clone()), entry, &m));
                        }
                    }
                }
            }
            BatchMatch::Key => {
                let key_of = |e: &Value| op.error_key.as_ref().and_then(|p| p.first_text(e));
                for entry in entries {
                    match judge(
                        op.success.as_ref(),
                        op.error_message.as_ref(),
                        status,
                        &entry,
                    ) {
                        Verdict::Written => match (key_of(&entry), op.result_id.is_some()) {
                            (Some(key), true) => out.done.push(BatchItemDone {
                                key,
                                id: id_of(&entry),
                            }),
                            _ => out.results.push(entry),
                        },
                        Verdict::Refused(m) => out.errors.push(refused(key_of(&entry), &entry, &m)),
                    }
                }
            }
        }
        for e in listed.unwrap_or_default() {
            let key = op.error_key.as_ref().and_then(|p| p.first_text(&e));
            let message = op
                .error_message
                .as_ref()
                .and_then(|p| p.first_text(&e))
                .unwrap_or_else(|| api_text(&e));
            out.errors.push(refused(key, &e, &message));
        }
    }
}

fn undeclared(c: &Connector, collection: &Collection, op: &str) -> ConnectorError {
    ConnectorError::Template {
        system: c.shared.system.name.clone(),
        what: op.to_string(),
        message: format!(
            "collection `{}` declares no `{op}` operation",
            collection.name
        ),
    }
}
