//! Turns a verified delivery into inbox events: the JSON parsed once, split by the webhook's
//! `events` path, each event given its record id (checked against `record_id_prefix`, R4a)
//! and its dedup key (R5). Any bad event refuses the whole delivery, so nothing of it is
//! stored. Never panics on what a sender sends.

use serde_json::Value;

use crate::expr::Vars;
use crate::mapping::model::{EventAction, Webhook};
use crate::store::InboxEvent;

/// Why a delivery is malformed (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The body is not JSON.
    #[error("the body is not JSON")]
    NotJson,
    /// An event has no usable record id.
    #[error("an event has no record id at `{0}`")]
    NoRecordId(String),
    /// A record id is outside the connector's base URL: following it could send our key to a
    /// stranger.
    #[error("a record id is outside the declared prefix")]
    ForeignRecordId,
    /// A record id does not match the webhook's `record_id_pattern`, or holds a control
    /// character (which could forge a log line or a second record key).
    #[error("a record id is not of the declared form")]
    BadRecordId,
    /// An event comes from another account than the one the system is pinned to (answered
    /// 403).
    #[error("an event comes from another account than the pinned one")]
    ForeignAccount,
    /// The delivery carries more events than the webhook's `max_events` (answered 413).
    #[error("the delivery carries {found} events, more than the {max} allowed")]
    TooManyEvents {
        /// Events in the delivery.
        found: usize,
        /// The webhook's `max_events`.
        max: u32,
    },
}

/// The events of one delivery.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Events to store.
    pub events: Vec<InboxEvent>,
    /// Events whose kind the mapping ignores.
    pub ignored: u32,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Splits a delivery into inbox events. With `pinned` (the account the collection's system is
/// pinned to) and the webhook's `account` declared, every event must name that account.
pub fn extract_events(
    source: &str,
    webhook: &Webhook,
    body: &[u8],
    pinned: Option<&str>,
) -> Result<Extracted, ExtractError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Extracted::default());
    }
    let doc: Value = serde_json::from_slice(body).map_err(|_| ExtractError::NotJson)?;
    let mut out = Extracted::default();
    let events = webhook.events.query(&doc);
    if let Some(max) = webhook.max_events
        && events.len() > max as usize
    {
        return Err(ExtractError::TooManyEvents {
            found: events.len(),
            max,
        });
    }
    for event in events {
        if let (Some(path), Some(pinned)) = (&webhook.account, pinned)
            && path.first_text(event).as_deref() != Some(pinned)
        {
            return Err(ExtractError::ForeignAccount);
        }
        let kind = webhook.kind.as_ref().and_then(|k| k.first_text(event));
        if webhook.action(kind.as_deref()) == EventAction::Ignore {
            out.ignored += 1;
            continue;
        }
        let no_id = || ExtractError::NoRecordId(webhook.record_id.source().to_string());
        let raw = webhook.record_id.first(event).ok_or_else(no_id)?;
        let id = match &webhook.record_id_template {
            Some(t) => t
                .render(&Vars::new().with("value", raw))
                .map_err(|_| no_id())?,
            None => text(raw).ok_or_else(no_id)?,
        };
        if id.is_empty() {
            return Err(no_id());
        }
        if !acceptable_id(&id, webhook.record_id_pattern.as_ref()) {
            return Err(ExtractError::BadRecordId);
        }
        if let Some(prefix) = &webhook.record_id_prefix
            && !within(&id, prefix)
        {
            return Err(ExtractError::ForeignRecordId);
        }
        let dedup_key = if !webhook.dedup_key.is_empty() {
            let parts: Vec<Value> = webhook
                .dedup_key
                .iter()
                .map(|p| p.first(event).cloned().unwrap_or(Value::Null))
                .collect();
            Some(Value::Array(parts).to_string())
        } else {
            webhook.event_id.as_ref().and_then(|p| p.first_text(event))
        };
        out.events.push(InboxEvent {
            source: source.to_string(),
            dedup_key,
            record_key: id,
            payload: event.clone(),
        });
    }
    Ok(out)
}

/// True when `id` holds no control character, is at most 2,048 bytes, and matches `pattern`
/// in full where one is declared (the compiled pattern is anchored).
pub fn acceptable_id(id: &str, pattern: Option<&regex::Regex>) -> bool {
    id.len() <= 2048 && !id.chars().any(char::is_control) && pattern.is_none_or(|p| p.is_match(id))
}

/// True when `id` starts with `prefix`; for URLs, after normalising both (so `..` segments or
/// another host, port or scheme cannot sneak past a textual prefix).
fn within(id: &str, prefix: &str) -> bool {
    match url::Url::parse(prefix) {
        Ok(base) => match url::Url::parse(id) {
            Ok(u) => {
                u.scheme() == base.scheme()
                    && u.host_str() == base.host_str()
                    && u.port_or_known_default() == base.port_or_known_default()
                    && u.username().is_empty()
                    && u.password().is_none()
                    && u.path().starts_with(base.path())
                    && id.starts_with(prefix)
            }
            Err(_) => false,
        },
        Err(_) => id.starts_with(prefix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_compare_normalised_urls() {
        let p = "http://127.0.0.1:9/api/v2/";
        assert!(within("http://127.0.0.1:9/api/v2/customer/1/", p));
        assert!(!within("http://127.0.0.1:9/api/v2/../../x", p));
        assert!(!within("http://127.0.0.1:10/api/v2/customer/1/", p));
        assert!(!within("http://evil.example/api/v2/customer/1/", p));
        assert!(!within("http://127.0.0.1:9@evil.example/api/v2/", p));
        assert!(!within("not a url", p));
        assert!(within("abc-1", "abc-"));
    }

    #[test]
    fn ids_with_control_characters_or_off_pattern_are_refused() {
        let digits = regex::Regex::new("^(?:[0-9]{1,20})$").expect("regex");
        assert!(acceptable_id("104", Some(&digits)));
        for bad in ["104#frag", "../../x", "1\n2", "", "123456789012345678901"] {
            assert!(!acceptable_id(bad, Some(&digits)), "{bad}");
        }
        assert!(!acceptable_id("http://h/a\nb", None));
        assert!(!acceptable_id("a\u{7f}b", None));
        assert!(!acceptable_id("a\rb", None));
        assert!(acceptable_id("http://h/api/customer/1/", None));
    }
}
