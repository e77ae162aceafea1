//! A validated system: base URL, authentication with secrets resolved, rate limit, retry policy.

use std::time::Duration;

use regex::Regex;
use url::Url;

use super::Secret;
use crate::expr::Template;

/// One HTTP API.
#[derive(Debug, Clone)]
pub struct System {
    /// The key in `systems`.
    pub name: String,
    /// A human name.
    pub title: String,
    /// The base URL relative paths join to (no trailing slash).
    pub base_url: Url,
    /// How requests authenticate.
    pub auth: Option<Auth>,
    /// The request budget.
    pub rate_limit: Option<RateLimit>,
    /// What is retried.
    pub retry: RetryPolicy,
    /// One request's timeout.
    pub timeout: Duration,
    /// Overrides of the default error classes, first match wins.
    pub error_rules: Vec<ErrorClassRule>,
    /// Headers sent with every request.
    pub headers: Vec<(String, Template)>,
}

/// How requests authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A header carrying a credential.
    Header {
        /// The header name.
        name: String,
        /// The value.
        value: Secret,
    },
    /// A query parameter carrying a credential.
    Query {
        /// The parameter name.
        name: String,
        /// The value.
        value: Secret,
    },
    /// A static bearer token.
    Bearer {
        /// The token.
        token: Secret,
    },
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// OAuth 2 authorization code with refresh.
    OAuth2(Box<OAuth2>),
}

/// OAuth 2 settings.
#[derive(Debug, Clone)]
pub struct OAuth2 {
    /// Where the token endpoint's answer names the account the tokens belong to.
    pub account: Option<crate::expr::JsonPath>,
    /// The consent page.
    pub authorize_url: Url,
    /// The token endpoint (absolute).
    pub token_url: Url,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
    /// Scopes requested at install.
    pub scopes: Vec<String>,
    /// A static token used instead of the installed one when set.
    pub static_token: Option<Secret>,
    /// Refresh this long before expiry.
    pub refresh_before: Duration,
}

/// A token-bucket budget.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    /// Requests per window.
    pub requests: u32,
    /// The window.
    pub per: Duration,
    /// The bucket size.
    pub burst: u32,
    /// Budget headers the API returns.
    pub headers: Option<RateLimitHeaders>,
}

/// Budget headers.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitHeaders {
    /// Requests left in the window.
    pub remaining: String,
    /// The window length in milliseconds.
    pub interval_ms: Option<String>,
}

/// What is retried and how.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retried statuses (connection errors and timeouts always are).
    pub statuses: Vec<u16>,
    /// Attempts in all.
    pub max_attempts: u32,
    /// The first backoff delay.
    pub base_delay: Duration,
    /// The longest backoff delay.
    pub max_delay: Duration,
    /// Honour `Retry-After`.
    pub retry_after: bool,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            statuses: vec![429, 500, 502, 503, 504],
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            retry_after: true,
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// The class of an API error; the runner acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Retry after a backoff.
    Transient,
    /// Wait for the budget or `Retry-After`.
    RateLimited,
    /// Credentials are wrong or expired.
    Auth,
    /// Retrying will not help.
    Permanent,
    /// The request conflicts with another record (a duplicate, a unique value taken): a
    /// conflict for a person, never retried.
    Conflict,
}

/// A status (and body pattern) → class override.
#[derive(Debug, Clone)]
pub struct ErrorClassRule {
    /// The status.
    pub status: u16,
    /// A pattern the body must match.
    pub body_matches: Option<Regex>,
    /// The class.
    pub class: ErrorClass,
}

impl System {
    /// The class of an error response: the first matching override, else the defaults
    /// (429 → rate limited; 5xx → transient; 401, 403 → auth; other 4xx → permanent).
    pub fn classify(&self, status: u16, body: &str) -> ErrorClass {
        for r in &self.error_rules {
            if r.status == status && r.body_matches.as_ref().is_none_or(|re| re.is_match(body)) {
                return r.class;
            }
        }
        match status {
            429 => ErrorClass::RateLimited,
            401 | 403 => ErrorClass::Auth,
            409 if !self.retry.statuses.contains(&409) => ErrorClass::Conflict,
            s if s >= 500 || self.retry.statuses.contains(&s) => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        }
    }
}
