//! Webhooks: the route a collection's deliveries arrive on, how they are verified, and how a
//! delivery is split into events.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ByteSize, DurationSpec};

/// Webhook deliveries announcing changes to a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// The route path on mapsync's server, e.g. `/webhooks/crm`.
    pub path: String,
    /// The largest body accepted; larger ones get 413. Default `1MiB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body: Option<ByteSize>,
    /// The most events one delivery may carry; a delivery with more gets 413 and nothing of it
    /// is stored. Default: no cap beyond `max_body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_events: Option<u32>,
    /// How a delivery proves it comes from the system.
    pub verify: RawVerify,
    /// JSONPath selecting the events in a delivery, e.g. `$[*]` or `$.items[*]`.
    pub events: String,
    /// JSONPath, inside one event, to the sender's event id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// JSONPaths, inside one event, whose values together make the deduplication key.
    /// Default: `event_id` where declared; otherwise events coalesce per record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dedup_key: Vec<String>,
    /// JSONPath, inside one event, to the id of the record it is about (`$` when the event is
    /// the id itself).
    pub record_id: String,
    /// A template turning the value at `record_id` into the record's id, e.g. `{{ value }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id_template: Option<String>,
    /// Record ids must start with this (a template; e.g. the system's base URL), so a forged
    /// delivery cannot make mapsync fetch from another host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id_prefix: Option<String>,
    /// A regular expression every record id must match in full (it is anchored), e.g.
    /// `[0-9]{1,20}`. A delivery with an id that does not match is refused (400) and nothing of
    /// it is stored. Whatever the pattern, ids with control characters are refused, and ids are
    /// percent-encoded wherever they enter a path or a query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id_pattern: Option<String>,
    /// JSONPath, inside one event, to the account it comes from, e.g. `$.portalId`. Once an
    /// OAuth install has pinned the collection's system to an account (its `auth.oauth2.account`),
    /// a delivery with an event from another account is refused (403) and nothing of it is
    /// stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// JSONPath, inside one event, to its kind, e.g. `$.subscriptionType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// JSONPath, inside one event, to when it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<String>,
    /// What to do for each kind. Kinds not listed take `default_action`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub actions: BTreeMap<String, RawEventAction>,
    /// The action for kinds not listed in `actions`. Default `upsert` (re-read the record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<RawEventAction>,
    /// An expression over `event` that is true when the event reports mapsync's own write,
    /// e.g. `event.changeSource == 'INTEGRATION' and event.sourceId == '${APP_ID}'`. A hint:
    /// the ledger of what mapsync wrote decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ours: Option<String>,
}

/// What an event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawEventAction {
    /// Re-read the record and sync it (a read that says missing means deleted).
    Upsert,
    /// The record was deleted.
    Delete,
    /// Do nothing.
    Ignore,
}

/// How a delivery is verified. Exactly one scheme.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawVerify {
    /// A signature over parts of the request.
    Signature(RawSignature),
    /// A shared secret token in a header or query parameter.
    Token(RawTokenVerify),
    /// HTTP basic authentication.
    Basic(RawBasicVerify),
    /// No verification. Only for local experiments; `validate` warns.
    None(RawNoVerify),
}

/// Signature algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawSignatureAlgorithm {
    /// HMAC-SHA256 keyed with the secret over the signed message.
    HmacSha256,
    /// Plain SHA-256 over the signed message, which includes `{secret}` itself.
    Sha256,
}

/// How signature bytes are written in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawEncoding {
    /// Hexadecimal, either case.
    Hex,
    /// Standard base64.
    Base64,
}

/// The unit of a timestamp header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawTimeUnit {
    /// Seconds since the Unix epoch.
    Seconds,
    /// Milliseconds since the Unix epoch.
    Milliseconds,
}

/// A signature scheme declared in YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSignature {
    /// The algorithm.
    pub algorithm: RawSignatureAlgorithm,
    /// The header carrying the signature.
    pub header: String,
    /// What is signed: literal text with the placeholders `{method}`, `{uri}`, `{body}`,
    /// `{timestamp}`, `{id}` and `{secret}`, e.g. `{method}{uri}{body}{timestamp}`.
    pub signed: String,
    /// How the signature is encoded.
    pub encoding: RawEncoding,
    /// Text before each signature in the header, e.g. `sha256=` or `v1,`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Separator between several signatures in one header, e.g. a space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    /// The header carrying the timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
    /// The timestamp's unit. Default seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_unit: Option<RawTimeUnit>,
    /// The header carrying the delivery id, for `{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_header: Option<String>,
    /// How far the timestamp may be from now, either way. Default `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<DurationSpec>,
    /// Percent-escapes in the URI to decode before signing, e.g. `["%3A", "%2F"]`; every
    /// other escape stays as received.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uri_decode: Vec<String>,
    /// The active secrets; any one verifying is enough, so keys can rotate.
    pub secrets: Vec<String>,
    /// Set when the scheme has no timestamp, to say replays are stopped by the inbox alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_protection: Option<RawReplayProtection>,
}

/// How replays are stopped for a scheme without timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawReplayProtection {
    /// Only the inbox's deduplication stops a replayed delivery.
    InboxOnly,
}

/// Where a shared secret token is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawTokenIn {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
}

/// A shared secret token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTokenVerify {
    /// Where the token is.
    #[serde(rename = "in")]
    pub location: RawTokenIn,
    /// The header or parameter name.
    pub name: String,
    /// The accepted tokens, from the environment.
    pub secrets: Vec<String>,
}

/// HTTP basic authentication on deliveries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBasicVerify {
    /// The expected user name.
    pub username: String,
    /// The accepted passwords, from the environment.
    pub passwords: Vec<String>,
}

/// An explicit choice not to verify.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNoVerify {
    /// Why this is acceptable.
    pub reason: String,
}
