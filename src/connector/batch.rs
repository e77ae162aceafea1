//! Batch create and update: inputs rendered from the declared item template, sent in chunks of
//! the declared `max`, answers (200, 201, 207 partial) read into results and per-input errors
//! correlated by the declared key. It never retries a single input or decides what a failed
//! input becomes; the runner does.

use serde_json::Value;

use super::Connector;
use super::error::{ConnectorError, Result, api_text, template_error};
use super::paging::records;
use super::url::resolve;
use crate::expr::Vars;
use crate::mapping::model::{BatchOp, Collection, ErrorClass};

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

/// What a batch did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchOutcome {
    /// The records the API returned for accepted inputs.
    pub results: Vec<Value>,
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
            Some(op) => self.batch("batch create", op, items).await,
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
            Some(op) => self.batch("batch update", op, items).await,
            None => Err(undeclared(self, collection, "batch update")),
        }
    }

    /// Sends `items` in chunks of `op.max`. A chunk that fails as a whole gives an error for
    /// each of its inputs; after an error that is not permanent, the remaining chunks are not
    /// sent and their inputs get that error too, so results already obtained are kept.
    async fn batch(&self, what: &str, op: &BatchOp, items: Vec<BatchItem>) -> Result<BatchOutcome> {
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
            let mut call = self.render_url(what, op.method, url.clone(), &[], &Vars::new(), &[])?;
            call.body = Some(body);
            // A batch update is repeatable (by value); a batch create is not.
            call.repeatable = what != "batch create";
            match self.call(call).await {
                Ok(resp) => {
                    out.results
                        .extend(records(&op.results, &resp.body).unwrap_or_default());
                    let errors = op
                        .errors
                        .as_ref()
                        .and_then(|p| records(p, &resp.body))
                        .unwrap_or_default();
                    for e in errors {
                        let key = op.error_key.as_ref().and_then(|p| p.first_text(&e));
                        let message = op
                            .error_message
                            .as_ref()
                            .and_then(|p| p.first_text(&e))
                            .unwrap_or_else(|| api_text(&e));
                        out.errors.push(BatchItemError {
                            key,
                            message: self.scrub(&message),
                            status: None,
                            class: ErrorClass::Permanent,
                            outcome_unknown: false,
                        });
                    }
                }
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
