//! A validated webhook: route, verification scheme with secrets, event extraction.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

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
    pub event_id: Option<EventPath>,
    /// The parts of the deduplication key.
    pub dedup_key: Vec<EventPath>,
    /// The record id(s), inside an event: one inbox event per id matched.
    pub record_id: EventPath,
    /// Turns the value at `record_id` into an id (over `value`).
    pub record_id_template: Option<Template>,
    /// Record ids must start with this.
    pub record_id_prefix: Option<String>,
    /// Record ids must match this in full (compiled anchored: `^(?:…)$`).
    pub record_id_pattern: Option<regex::Regex>,
    /// The account an event comes from.
    pub account: Option<JsonPath>,
    /// The event's kind.
    pub kind: Option<EventPath>,
    /// When it happened.
    pub occurred_at: Option<EventPath>,
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

/// A JSONPath inside one event, or (written `$delivery…`) inside the whole delivery.
#[derive(Debug, Clone)]
pub struct EventPath {
    /// The path (`$…`; for `$delivery.a`, `$.a`).
    pub path: JsonPath,
    /// True when it reads the delivery, not the event.
    pub delivery: bool,
}

impl EventPath {
    /// The path as written.
    pub fn source(&self) -> String {
        if self.delivery {
            format!("$delivery{}", &self.path.source()[1..])
        } else {
            self.path.source().to_string()
        }
    }
}

impl Webhook {
    /// The action for an event kind.
    pub fn action(&self, kind: Option<&str>) -> EventAction {
        kind.and_then(|k| self.actions.get(k).copied())
            .unwrap_or(self.default_action)
    }

    fn paths(&self) -> impl Iterator<Item = &EventPath> {
        self.event_id
            .iter()
            .chain(&self.dedup_key)
            .chain(std::iter::once(&self.record_id))
            .chain(&self.kind)
            .chain(&self.occurred_at)
    }

    /// What an event is stored as: the event itself, or, when a path reads the delivery,
    /// `{"event": event, "delivery": {"$delivery…": [values], …}}` with just the values those paths
    /// select, so the workers read the same values later.
    pub fn payload(&self, delivery: &Value, event: &Value) -> Value {
        let mut values = serde_json::Map::new();
        for p in self.paths().filter(|p| p.delivery) {
            let found: Vec<Value> = p.path.query(delivery).into_iter().cloned().collect();
            values.insert(p.source(), Value::Array(found));
        }
        if values.is_empty() {
            event.clone()
        } else {
            serde_json::json!({"event": event, "delivery": values})
        }
    }

    /// True when events are stored wrapped with delivery values (see `payload`).
    fn wraps(&self) -> bool {
        self.paths().any(|p| p.delivery)
    }

    /// The event inside a stored payload.
    pub fn event_of<'a>(&self, payload: &'a Value) -> &'a Value {
        if self.wraps() {
            payload.get("event").unwrap_or(&Value::Null)
        } else {
            payload
        }
    }

    /// Every value `p` selects in a stored payload.
    pub fn read<'a>(&self, p: &EventPath, payload: &'a Value) -> Vec<&'a Value> {
        if p.delivery {
            payload
                .get("delivery")
                .and_then(|d| d.get(p.source()))
                .and_then(Value::as_array)
                .map(|a| a.iter().collect())
                .unwrap_or_default()
        } else {
            p.path.query(self.event_of(payload))
        }
    }

    /// The first value `p` selects in a stored payload, as text (a string, number or boolean).
    pub fn read_text(&self, p: &EventPath, payload: &Value) -> Option<String> {
        match self.read(p, payload).first()? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The kind of a stored event.
    pub fn kind_of(&self, payload: &Value) -> Option<String> {
        self.kind.as_ref().and_then(|k| self.read_text(k, payload))
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
