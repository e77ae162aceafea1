//! `ConnectorError`: why a call to an API failed, with the class the runner acts on. It only
//! describes failures; it never decides whether to retry later or dead-letter (the runner does).

use std::time::Duration;

use thiserror::Error;

use crate::expr::ExprError;
use crate::mapping::model::ErrorClass;

/// The longest piece of an API's error text kept in a message.
const MAX_API_TEXT: usize = 300;

/// The connector's result.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// What kind of network failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// No answer within the system's timeout (the request may have been received).
    Timeout,
    /// The connection could not be made: nothing was sent.
    Connect,
    /// The connection failed while sending or after the request was sent, before an answer
    /// (reset, closed): the request may have been received.
    Interrupted,
    /// Anything else below HTTP (a malformed answer, a body cut short).
    Other,
}

/// A failed call. Messages never carry credentials and say what to do.
#[derive(Debug, Error)]
pub enum ConnectorError {
    /// The API answered with an error status (after the retries the policy allows).
    #[error(
        "{system}: {method} {path} answered {status} after {attempts} attempt(s): {message}; {}",
        hint(*class, system)
    )]
    Http {
        /// The system's name.
        system: String,
        /// The method.
        method: &'static str,
        /// The URL path, without the query (which may carry credentials).
        path: String,
        /// The HTTP status.
        status: u16,
        /// The class, from the system's error rules.
        class: ErrorClass,
        /// The API's error text, truncated.
        message: String,
        /// How long the API asked to wait (`Retry-After`), capped by the retry policy.
        retry_after: Option<Duration>,
        /// Attempts made.
        attempts: u32,
    },
    /// No usable HTTP answer: timeout, connection refused or reset.
    #[error(
        "{system}: {method} {path} failed after {attempts} attempt(s): {message}; check that the \
         API is reachable at the mapping's base_url (mapsync retries this later)"
    )]
    Transport {
        /// The system's name.
        system: String,
        /// The method.
        method: &'static str,
        /// The URL path, without the query.
        path: String,
        /// What failed.
        kind: TransportKind,
        /// The client's explanation.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A rendered URL points outside the system's base URL (R11): nothing was sent.
    #[error(
        "{system}: refusing to send a request to {url}: it is not on the system's base URL \
         {base}, and credentials are never sent elsewhere; fix the path in the mapping or the \
         ids it is rendered from"
    )]
    ForeignUrl {
        /// The system's name.
        system: String,
        /// The refused URL, without its query.
        url: String,
        /// The base URL.
        base: String,
    },
    /// OAuth tokens are missing, or could not be refreshed.
    #[error("{system}: {message}")]
    Auth {
        /// The system's name.
        system: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A template of the mapping failed to render, or rendered something unusable.
    #[error("{system}: cannot build the {what} request: {message}; fix the mapping")]
    Template {
        /// The system's name.
        system: String,
        /// Which operation.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// The API answered 2xx with something the mapping's paths cannot read.
    #[error(
        "{system}: {method} {path} answered {status} but {message}; check the mapping's paths \
         against the API's answer"
    )]
    Response {
        /// The system's name.
        system: String,
        /// The method.
        method: &'static str,
        /// The URL path, without the query.
        path: String,
        /// The HTTP status.
        status: u16,
        /// What is missing.
        message: String,
    },
    /// A bug in mapsync.
    #[error("internal error: {0}; this is a bug in mapsync, please report it")]
    Internal(String),
}

impl ConnectorError {
    /// The class the runner acts on.
    pub fn class(&self) -> ErrorClass {
        match self {
            ConnectorError::Http { class, .. } => *class,
            ConnectorError::Transport { .. } => ErrorClass::Transient,
            ConnectorError::Auth { .. } => ErrorClass::Auth,
            ConnectorError::ForeignUrl { .. }
            | ConnectorError::Template { .. }
            | ConnectorError::Response { .. }
            | ConnectorError::Internal(_) => ErrorClass::Permanent,
        }
    }

    /// The HTTP status, when the API answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ConnectorError::Http { status, .. } | ConnectorError::Response { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// How long the API asked to wait before the next request (rate-limited answers).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Attempts made (0 when nothing was sent).
    pub fn attempts(&self) -> u32 {
        match self {
            ConnectorError::Http { attempts, .. } | ConnectorError::Transport { attempts, .. } => {
                *attempts
            }
            _ => 0,
        }
    }

    /// True when the request may have taken effect although the call failed: a timeout, a
    /// connection lost after sending, or a 5xx (a proxy's 502/503/504 may follow a request
    /// the API applied). False when the API certainly did not apply it (a 4xx, nothing sent,
    /// the request never built). A create failing this way must be looked up before it is
    /// made again.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            ConnectorError::Transport { kind, .. } => *kind != TransportKind::Connect,
            ConnectorError::Http { status, .. } => *status >= 500 || *status == 408,
            _ => false,
        }
    }

    /// The API's own error text, when it answered with one.
    pub fn api_message(&self) -> Option<&str> {
        match self {
            ConnectorError::Http { message, .. } => Some(message),
            _ => None,
        }
    }
}

fn hint(class: ErrorClass, system: &str) -> String {
    match class {
        ErrorClass::Transient => "the API is failing for now; mapsync retries later".to_string(),
        ErrorClass::RateLimited => format!(
            "the API's rate limit was hit; mapsync waits, and lowering `rate_limit` for \
             `{system}` in the mapping avoids it"
        ),
        ErrorClass::Auth => format!(
            "the credentials for `{system}` were refused; check the key or token the mapping \
             names (or reinstall the app) and its permissions"
        ),
        ErrorClass::Conflict => {
            "the API says this conflicts with another record (a duplicate, a value already \
             taken); resolve it by hand, retrying will not help"
                .to_string()
        }
        ErrorClass::Permanent => {
            "the API refused this request; retrying will not help, fix the record or the mapping"
                .to_string()
        }
    }
}

/// The error text of an API answer: a `message`-like field of a JSON body, else the body text,
/// on one line and truncated.
pub(crate) fn api_text(body: &serde_json::Value) -> String {
    let text = match body {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(m) => ["message", "error_description", "detail", "error"]
            .iter()
            .find_map(|k| match m.get(*k) {
                Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| body.to_string()),
        other => other.to_string(),
    };
    truncate(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Cuts a text to at most `MAX_API_TEXT` characters, on a character boundary.
pub(crate) fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_API_TEXT) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// The message of an error found while rendering a template.
pub(crate) fn template_error(system: &str, what: &str, e: &ExprError) -> ConnectorError {
    ConnectorError::Template {
        system: system.to_string(),
        what: what.to_string(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn api_text_prefers_a_message_field_and_truncates() {
        assert_eq!(api_text(&json!({"message": "Bad\n email"})), "Bad email");
        assert_eq!(api_text(&json!({"x": 1})), r#"{"x":1}"#);
        assert_eq!(api_text(&json!(null)), "");
        let long = "é".repeat(400);
        assert_eq!(api_text(&json!(long)).chars().count(), MAX_API_TEXT + 1);
    }

    #[test]
    fn classes_and_messages() {
        let e = ConnectorError::Http {
            system: "crm".into(),
            method: "POST",
            path: "/things".into(),
            status: 401,
            class: ErrorClass::Auth,
            message: "expired".into(),
            retry_after: None,
            attempts: 1,
        };
        assert_eq!(e.class(), ErrorClass::Auth);
        assert_eq!(e.status(), Some(401));
        let text = e.to_string();
        assert!(
            text.contains("answered 401 after 1 attempt(s): expired"),
            "{text}"
        );
        assert!(text.contains("check the key"), "{text}");
        let t = ConnectorError::Transport {
            system: "crm".into(),
            method: "GET",
            path: "/".into(),
            kind: TransportKind::Timeout,
            message: "timed out".into(),
            attempts: 3,
        };
        assert_eq!(t.class(), ErrorClass::Transient);
        assert_eq!(t.attempts(), 3);
    }
}
