//! A validated collection and its operations, with templates compiled and paths parsed.

use regex::Regex;

use super::Webhook;
use crate::expr::{Expr, JsonPath, JsonTemplate, Template};

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// A request shape: method, path or URL template, query, headers, body.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// A path under the base URL or an absolute URL (template).
    pub path: Template,
    /// Query parameters.
    pub query: Vec<(String, Template)>,
    /// Headers.
    pub headers: Vec<(String, Template)>,
    /// The body; `None` means the operation's default body.
    pub body: Option<JsonTemplate>,
}

/// One kind of record on one system.
#[derive(Debug, Clone)]
pub struct Collection {
    /// The key in `collections`.
    pub name: String,
    /// A human name for one record (`customer`).
    pub title: String,
    /// The system's name.
    pub system: String,
    /// Where a record's id is.
    pub id: JsonPath,
    /// The object keys leading to the fields object (`["properties"]`; empty for the record).
    pub fields_root: Vec<String>,
    /// How to list.
    pub list: ListOp,
    /// How to list deleted records, where kept apart.
    pub list_deleted: Option<ListOp>,
    /// How to read one.
    pub read: Option<ReadOp>,
    /// How to create.
    pub create: Option<CreateOp>,
    /// How to update.
    pub update: Option<UpdateOp>,
    /// How to delete.
    pub delete: Option<DeleteOp>,
    /// Batch create.
    pub batch_create: Option<BatchOp>,
    /// Batch update.
    pub batch_update: Option<BatchOp>,
    /// True for a deleted record (over the whole `record`).
    pub deleted: Option<Expr>,
    /// When the record last changed in its system (over the whole `record`).
    pub modified_at: Option<Expr>,
    /// Webhook deliveries.
    pub webhook: Option<Webhook>,
}

impl Collection {
    /// The fields object of a record (`null` when absent).
    pub fn fields_of<'a>(&self, record: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        let mut v = record;
        for k in &self.fields_root {
            v = v.get(k)?;
        }
        Some(v)
    }

    /// Wraps a fields object at the fields path: `{"properties": fields}` for `$.properties`.
    pub fn wrap_fields(&self, fields: serde_json::Value) -> serde_json::Value {
        self.fields_root.iter().rev().fold(fields, |inner, k| {
            let mut m = serde_json::Map::new();
            m.insert(k.clone(), inner);
            serde_json::Value::Object(m)
        })
    }

    /// A record's id as text.
    pub fn id_of(&self, record: &serde_json::Value) -> Option<String> {
        self.id.first_text(record).filter(|s| !s.is_empty())
    }
}

/// How to list.
#[derive(Debug, Clone)]
pub struct ListOp {
    /// The first page's request.
    pub request: Request,
    /// Where the records are in a page.
    pub records: JsonPath,
    /// How to get the next page.
    pub paging: Paging,
    /// Where the total number of records is, if reported.
    pub total: Option<JsonPath>,
    /// Statuses meaning "no (more) records".
    pub no_records: Vec<u16>,
    /// A 2xx answer with an empty body means "no (more) records".
    pub no_records_when_empty: bool,
}

/// Paging styles.
#[derive(Debug, Clone)]
pub enum Paging {
    /// One page only.
    None,
    /// GET the URL found at `path`.
    NextLink {
        /// Where the next URL is.
        path: JsonPath,
    },
    /// Send the cursor found at `path` as `param`.
    Cursor {
        /// Where the cursor is.
        path: JsonPath,
        /// The query parameter.
        param: String,
    },
    /// Offset and limit.
    Offset {
        /// The offset parameter.
        param: String,
        /// The limit parameter.
        limit_param: String,
        /// The page size.
        limit: u32,
        /// Where "more pages follow" is.
        more: Option<JsonPath>,
        /// Where the next offset is.
        next: Option<JsonPath>,
    },
    /// Page numbers.
    Page {
        /// The page parameter.
        param: String,
        /// The first page's number.
        start: u32,
        /// Where "more pages follow" is.
        more: Option<JsonPath>,
    },
}

/// How to read one record.
#[derive(Debug, Clone)]
pub struct ReadOp {
    /// The request (templates over `id`).
    pub request: Request,
    /// Statuses that mean "does not exist".
    pub missing: Vec<u16>,
    /// A 2xx answer with an empty body means "does not exist".
    pub missing_when_empty: bool,
    /// Where the record is in the response.
    pub record: JsonPath,
}

/// How to create a record.
#[derive(Debug, Clone)]
pub struct CreateOp {
    /// The request (body templates over `fields`).
    pub request: Request,
    /// Where the new id comes back.
    pub created_id: CreatedId,
    /// An answer that names an existing duplicate.
    pub exists: Option<Exists>,
    /// The header that carries the create intent's idempotency key, when the API honours one.
    pub idempotency: Option<String>,
    /// Where the record's own result is in a 2xx answer.
    pub result: Option<RecordResult>,
}

/// How to update a record.
#[derive(Debug, Clone)]
pub struct UpdateOp {
    /// The request (templates over `id` and `fields`).
    pub request: Request,
    /// Where the record's own result is in a 2xx answer.
    pub result: Option<RecordResult>,
}

/// Where a created record's id is.
#[derive(Debug, Clone)]
pub enum CreatedId {
    /// A response header.
    Header(String),
    /// A JSONPath in the response body.
    Body(JsonPath),
}

/// A duplicate answer.
#[derive(Debug, Clone)]
pub struct Exists {
    /// Its status.
    pub status: u16,
    /// Where the text with the id is.
    pub path: JsonPath,
    /// The id's pattern (first group).
    pub pattern: Regex,
}

impl Exists {
    /// The existing record's id named in an error body, if this answer is such a duplicate.
    pub fn existing_id(&self, status: u16, body: &serde_json::Value) -> Option<String> {
        if status != self.status {
            return None;
        }
        let text = self.path.first_text(body)?;
        Some(self.pattern.captures(&text)?.get(1)?.as_str().to_string())
    }
}

/// How to delete a record.
#[derive(Debug, Clone)]
pub struct DeleteOp {
    /// The request (templates over `id` and `force`).
    pub request: Request,
    /// Statuses meaning it was already gone.
    pub missing: Vec<u16>,
    /// Statuses by which the API refuses.
    pub refused: Vec<u16>,
    /// Where the record's own result is in a 2xx answer.
    pub result: Option<RecordResult>,
}

/// A batch operation.
#[derive(Debug, Clone)]
pub struct BatchOp {
    /// The method.
    pub method: Method,
    /// The path or URL.
    pub path: Template,
    /// The most inputs per request.
    pub max: usize,
    /// The body (over `inputs`).
    pub body: JsonTemplate,
    /// One input (over `id`, `fields`, `key`).
    pub item: JsonTemplate,
    /// Where the result records are.
    pub results: JsonPath,
    /// How results are matched to inputs.
    pub match_by: BatchMatch,
    /// When one result is a success (over `result` and `status`); `None`: always.
    pub success: Option<Expr>,
    /// Inside a successful result, the record's id; `None`: the collection's `id` path.
    pub result_id: Option<JsonPath>,
    /// Error statuses whose answer still reports each input.
    pub partial: Vec<u16>,
    /// Where per-input errors are.
    pub errors: Option<JsonPath>,
    /// Inside an error, the input's key.
    pub error_key: Option<JsonPath>,
    /// Inside an error, its message.
    pub error_message: Option<JsonPath>,
}

/// How a batch's results are matched to its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchMatch {
    /// Created records by their link field, errors by `error_key`.
    Key,
    /// The n-th result answers the n-th input.
    Position,
}

/// Where one record's result is in a write's answer, and when it is a success.
#[derive(Debug, Clone)]
pub struct RecordResult {
    /// Where the result is in the answer.
    pub path: JsonPath,
    /// True when the write succeeded (over `result` and `status`); `None`: always.
    pub success: Option<Expr>,
    /// Inside a failed result, its message.
    pub message: Option<JsonPath>,
}

/// What one per-record result says.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The record was written.
    Written,
    /// The API refused the record; the message explains.
    Refused(String),
}

/// Judges one per-record result: `success` evaluated over `result` and `status` (an expression
/// that fails to evaluate counts as a refusal, with its error as the message), the message
/// read at `message` or a `message`-like field.
pub fn judge(
    success: Option<&Expr>,
    message: Option<&JsonPath>,
    status: u16,
    result: &serde_json::Value,
) -> Verdict {
    let Some(test) = success else {
        return Verdict::Written;
    };
    let vars = crate::expr::Vars::new()
        .with("result", result)
        .with("status", &serde_json::Value::from(status));
    match test.eval_bool(&vars) {
        Ok(true) => Verdict::Written,
        Ok(false) => Verdict::Refused(
            message
                .and_then(|m| m.first_text(result))
                .unwrap_or_else(|| result_text(result)),
        ),
        Err(e) => Verdict::Refused(format!(
            "the result's `success` expression failed ({e}) on {}",
            result_text(result)
        )),
    }
}

/// A result's `message`-like field, else its JSON text.
fn result_text(result: &serde_json::Value) -> String {
    ["message", "error", "detail", "code"]
        .iter()
        .find_map(|k| result.get(*k).and_then(|v| v.as_str()).map(str::to_string))
        .unwrap_or_else(|| result.to_string())
}

impl RecordResult {
    /// Judges the result found in `body`; `None` when the answer has none.
    pub fn judge(
        &self,
        status: u16,
        body: &serde_json::Value,
    ) -> Option<(Verdict, serde_json::Value)> {
        let result = self.path.first(body)?.clone();
        Some((
            judge(
                self.success.as_ref(),
                self.message.as_ref(),
                status,
                &result,
            ),
            result,
        ))
    }
}
