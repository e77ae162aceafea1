//! A validated webhook: route, verification scheme with secrets, event extraction.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Secret;
use crate::expr::{Expr, JsonPath, Template};

/// Webhook deliveries for a collection.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The route path.
    pub path: String,
    /// The largest body accepted.
    pub max_body: u64,
    /// The most events one delivery may carry.
    pub max_events: Option<u32>,
    /// Verification.
    pub verify: Verify,
    /// Selects the events in a delivery.
    pub events: JsonPath,
    /// The sender's event id, inside an event.
    pub event_id: Option<JsonPath>,
    /// The parts of the deduplication key.
    pub dedup_key: Vec<JsonPath>,
    /// The record id, inside an event.
    pub record_id: JsonPath,
    /// Turns the value at `record_id` into an id (over `value`).
    pub record_id_template: Option<Template>,
    /// Record ids must start with this.
    pub record_id_prefix: Option<String>,
    /// Record ids must match this in full (compiled anchored: `^(?:…)$`).
    pub record_id_pattern: Option<regex::Regex>,
    /// The account an event comes from.
    pub account: Option<JsonPath>,
    /// The event's kind.
    pub kind: Option<JsonPath>,
    /// When it happened.
    pub occurred_at: Option<JsonPath>,
    /// Action per kind.
    pub actions: BTreeMap<String, EventAction>,
    /// Action for other kinds.
    pub default_action: EventAction,
    /// True when an event reports mapsync's own write (over `event`).
    pub ours: Option<Expr>,
}

/// What an event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventAction {
    /// Re-read and sync.
    Upsert,
    /// The record was deleted.
    Delete,
    /// Nothing.
    Ignore,
}

impl Webhook {
    /// The action for an event kind.
    pub fn action(&self, kind: Option<&str>) -> EventAction {
        kind.and_then(|k| self.actions.get(k).copied())
            .unwrap_or(self.default_action)
    }
}

/// How deliveries are verified.
#[derive(Debug, Clone)]
pub enum Verify {
    /// A signature.
    Signature(SignatureScheme),
    /// A shared token.
    Token {
        /// Header or query.
        location: TokenLocation,
        /// Its name.
        name: String,
        /// Accepted tokens.
        secrets: Vec<Secret>,
    },
    /// Basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// Accepted passwords.
        passwords: Vec<Secret>,
    },
    /// None (declared explicitly).
    None,
}

/// Where a shared token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenLocation {
    /// A header.
    Header,
    /// A query parameter.
    Query,
}

/// A signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// HMAC-SHA256.
    HmacSha256,
    /// SHA-256 over a message that includes the secret.
    Sha256,
}

/// A signature encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// Hex.
    Hex,
    /// Base64.
    Base64,
}

/// A timestamp unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Seconds.
    Seconds,
    /// Milliseconds.
    Milliseconds,
}

/// One part of the signed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedPart {
    /// Literal text.
    Lit(String),
    /// The request method.
    Method,
    /// The public URI called.
    Uri,
    /// The raw body bytes.
    Body,
    /// The timestamp header's text.
    Timestamp,
    /// The delivery id header's text.
    Id,
    /// The secret.
    Secret,
}

/// A signature scheme.
#[derive(Debug, Clone)]
pub struct SignatureScheme {
    /// The algorithm.
    pub algorithm: SignatureAlgorithm,
    /// The signature header.
    pub header: String,
    /// The signed message.
    pub signed: Vec<SignedPart>,
    /// The encoding.
    pub encoding: SignatureEncoding,
    /// Text before each signature.
    pub prefix: Option<String>,
    /// Separator between several signatures.
    pub separator: Option<String>,
    /// The timestamp header.
    pub timestamp_header: Option<String>,
    /// The timestamp unit.
    pub timestamp_unit: TimeUnit,
    /// The delivery id header.
    pub id_header: Option<String>,
    /// The allowed clock difference.
    pub tolerance: Duration,
    /// Escapes decoded in the URI before signing.
    pub uri_decode: Vec<String>,
    /// Active secrets.
    pub secrets: Vec<Secret>,
}
