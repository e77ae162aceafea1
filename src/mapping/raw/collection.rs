//! A collection: one kind of record on a system, and the operations that list, read, create,
//! update and delete it.
//!
//! Each operation repeats the request fields (`method`, `path`, `query`, `headers`, `body`)
//! rather than flattening a shared struct: serde cannot combine `#[serde(flatten)]` with
//! `deny_unknown_fields`, and a typo in a mapping must stay an error with a location.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{RawBatchMatch, RawResult, RawWebhook};

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RawMethod {
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

/// One kind of record on one system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCollection {
    /// The system (a key of `systems`) the collection lives on.
    pub system: String,
    /// A human name for messages (`customer`, `contact`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// JSONPath to the record's id in a record, e.g. `$.id` or `$.resource_uri`.
    pub id: String,
    /// JSONPath to the object that holds the record's fields, e.g. `$.properties`. Field paths
    /// in the pair are relative to it, and create and update bodies put the fields there.
    /// Default `$`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<String>,
    /// How to list every record.
    pub list: RawList,
    /// How to list deleted (archived) records, where the API keeps them apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_deleted: Option<RawList>,
    /// How to read one record by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<RawRead>,
    /// How to create a record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<RawCreate>,
    /// How to update a record (send only the fields that changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<RawUpdate>,
    /// How to delete a record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<RawDelete>,
    /// Batch operations, used by full syncs where declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<RawBatch>,
    /// An expression over `record` (the whole record) that is true when the record is deleted,
    /// for APIs that list deleted records with a flag, e.g. `record.deleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
    /// An expression over `record` (the whole record) giving when the record last changed in
    /// its system: RFC 3339 text, a date and time without offset (read as UTC) or epoch
    /// milliseconds, e.g. `record.updatedAt`. The `newest`
    /// conflict policy compares the two records' times when both collections declare one and
    /// both records have one; otherwise the side being synced from wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
    /// Webhook deliveries announcing changes to this collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<RawWebhook>,
}

/// How to list records, page by page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawList {
    /// The method. Default GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<RawMethod>,
    /// A path under the base URL, or an absolute URL; a template.
    pub path: String,
    /// Query parameters (values are templates; `mapped_fields` is the list of field names).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// Extra headers (values are templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (string leaves are templates), for APIs that list with POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// JSONPath to the array of records in a response, e.g. `$.results`.
    pub records: String,
    /// How to get the next page. Absent: one page only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<RawPaging>,
    /// JSONPath to the total number of records, where the API reports it (e.g. `$.count`);
    /// progress bars use it for an ETA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<String>,
    /// Statuses whose answer means "no (more) records", 2xx included, e.g. `[204]` for an API
    /// that answers an empty list with 204 No Content.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub no_records: Vec<u16>,
    /// True when a 2xx answer with an empty body means "no (more) records". Default false:
    /// an answer without records at `records` is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_records_when_empty: Option<bool>,
}

/// How a list moves to its next page. Exactly one style.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawPaging {
    /// The response holds the next page's URL; GET it as given until it is null.
    NextLink(RawNextLink),
    /// The response holds an opaque cursor; send it back in a query parameter.
    Cursor(RawCursorPaging),
    /// Offset and limit parameters.
    Offset(RawOffsetPaging),
    /// A page number parameter.
    Page(RawPagePaging),
}

/// Next-link paging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNextLink {
    /// JSONPath to the next page's URL, e.g. `$.next`.
    pub path: String,
}

/// Cursor paging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCursorPaging {
    /// JSONPath to the cursor in a response, e.g. `$.paging.next.after`.
    pub path: String,
    /// The query parameter that takes it, e.g. `after`.
    pub param: String,
}

/// Offset paging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOffsetPaging {
    /// The query parameter carrying the offset, e.g. `start`.
    pub param: String,
    /// The query parameter carrying the page size, e.g. `limit`.
    pub limit_param: String,
    /// The page size.
    #[schemars(range(min = 1))]
    pub limit: u32,
    /// JSONPath to a boolean saying more pages follow. Default: a short page ends the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more: Option<String>,
    /// JSONPath to the next offset. Default: the offset plus the records received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Page-number paging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPagePaging {
    /// The query parameter carrying the page number, e.g. `page`.
    pub param: String,
    /// The first page's number. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u32>,
    /// JSONPath to a boolean saying more pages follow. Default: an empty page ends the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more: Option<String>,
}

/// How to read one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRead {
    /// The method. Default GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<RawMethod>,
    /// A template over `id`, e.g. `/crm/v3/objects/contacts/{{ id }}` or `{{ id }}` when the
    /// id is itself a URL.
    pub path: String,
    /// Query parameters (values are templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// Extra headers (values are templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Statuses that mean the record does not exist (deleted), 2xx included, e.g.
    /// `[404, 204]` for an API that answers an unknown id with 204 No Content. Default `[404]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<u16>>,
    /// True when a 2xx answer with an empty body means the record does not exist. Default
    /// false: an answer without a record at `record` is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_when_empty: Option<bool>,
    /// JSONPath to the record in the response. Default `$`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
}

/// How to create a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCreate {
    /// The method. Default POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<RawMethod>,
    /// A path or URL template.
    pub path: String,
    /// Query parameters (values are templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// Extra headers (values are templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The JSON body; string leaves are templates, and a leaf that is exactly `{{ fields }}`
    /// becomes the fields object. Default: the fields placed at the collection's `fields` path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Where the new record's id comes back. Default: read the collection's `id` path from the
    /// response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_id: Option<RawCreatedId>,
    /// An answer that means the record already exists, and where its id is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<RawExists>,
    /// Where the record's own result is in a 2xx answer and when it is a success, for APIs
    /// that report a refused record inside a 2xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<RawResult>,
    /// The API deduplicates creates by an idempotency key in this header: each create sends its
    /// create intent's key, the same key again when a create whose answer was lost is tried
    /// again, so the API answers with the record it already made. Declare it only for an API
    /// that documents such a header (e.g. `Idempotency-Key`); without one, mapsync looks a
    /// create whose answer was lost up through the link field before creating it again (the
    /// reference mappings' APIs honour no such header: see docs/guarantees.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<RawIdempotency>,
}

/// Where a create sends its idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawIdempotency {
    /// The request header that carries the key, e.g. `Idempotency-Key`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9-]+$"))]
    pub header: String,
}

/// Where a created record's id comes back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawCreatedId {
    /// In a response header, e.g. `Location`.
    Header(String),
    /// At a JSONPath in the response body.
    Body(String),
}

/// A create answer that names an existing record (a duplicate), e.g. a 409 whose message says
/// `Existing ID: 123`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExists {
    /// The status of such an answer.
    pub status: u16,
    /// JSONPath to the text holding the id, e.g. `$.message`.
    pub path: String,
    /// A regular expression whose first group is the existing record's id.
    pub pattern: String,
}

/// How to update a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUpdate {
    /// The method. Default PATCH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<RawMethod>,
    /// A template over `id`.
    pub path: String,
    /// Query parameters (values are templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// Extra headers (values are templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The JSON body, as for create. Default: the changed fields at the `fields` path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Where the record's own result is in a 2xx answer and when it is a success, as for
    /// create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<RawResult>,
}

/// How to delete a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDelete {
    /// The method. Default DELETE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<RawMethod>,
    /// A template over `id`.
    pub path: String,
    /// Query parameters (templates over `id` and `force`, true when the delete policy forces).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// Extra headers (values are templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Statuses that mean the record was already gone; treated as success. Default `[404]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<u16>>,
    /// Statuses by which the API refuses the delete (e.g. 409 for a record still in use); they
    /// become a per-record "needs attention" outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<u16>,
    /// Where the record's own result is in a 2xx answer and when it is a success, as for
    /// create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<RawResult>,
}

/// Batch operations of a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBatch {
    /// Create many records in one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<RawBatchOp>,
    /// Update many records in one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<RawBatchOp>,
}

/// One batch operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBatchOp {
    /// The method. Default POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<RawMethod>,
    /// A path or URL template.
    pub path: String,
    /// The most inputs one request may carry.
    #[schemars(range(min = 1))]
    pub max: u32,
    /// The body; a leaf that is exactly `{{ inputs }}` becomes the array of items.
    pub body: serde_json::Value,
    /// One input; templates over `id`, `fields` and `key` (a unique key for correlating errors).
    /// An API that wants the id beside the fields takes `"{{ fields | merge({'id': id}) }}"`.
    pub item: serde_json::Value,
    /// JSONPath to the array of result records in the response, e.g. `$.results`.
    pub results: String,
    /// How results are matched to inputs: `key` (default) or `position`.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_by: Option<RawBatchMatch>,
    /// An expression over `result` (one entry of `results`) and `status` (the HTTP status)
    /// that is true when that input was written, e.g. `result.status == "success"`. Default:
    /// every entry of `results` is a success. A failed entry's message is read with
    /// `error_message`, its class from the system's `errors` rules (status and the entry's
    /// JSON text), else `permanent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<String>,
    /// JSONPath, inside one successful entry of `results`, to the record's id, e.g.
    /// `$.details.id`. Default: the collection's `id` path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_id: Option<String>,
    /// Error statuses (4xx) whose answer still reports each input, so the inputs it accepted
    /// are kept, e.g. `[400]` for an API that answers 400 when any input was refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partial: Vec<u16>,
    /// JSONPath to the array of per-input errors in a partial (207) response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<String>,
    /// JSONPath, inside one error, to the `key` of the input it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_key: Option<String>,
    /// JSONPath, inside one error, to its message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}
