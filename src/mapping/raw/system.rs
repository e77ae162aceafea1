//! A system: one HTTP API with its base URL, authentication, rate limit, retry policy and timeouts.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DurationSpec;

/// One HTTP API that a collection lives on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSystem {
    /// A human name for messages and the plan (`CRM`, `Shop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The base URL every relative path is joined to. Use `${VAR:-default}` so the same mapping
    /// runs against a sandbox and the real service.
    pub base_url: String,
    /// How requests authenticate. Secret values must come from `${ENV}` interpolation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<RawAuth>,
    /// The request budget mapsync keeps to, as a token bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RawRateLimit>,
    /// Which failures are retried and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RawRetry>,
    /// Timeout of one request, connect to last byte. Default `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationSpec>,
    /// Overrides of the default error classes: 429 → rate_limited; 5xx, timeouts and resets →
    /// transient; 401 and 403 → auth; other 4xx → permanent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<RawErrorClassRule>,
    /// Extra headers sent with every request to this system (values are templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// How requests to a system authenticate. Exactly one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawAuth {
    /// A header whose value is a template, e.g. `Authorization: token ${API_KEY}`.
    Header(RawHeaderAuth),
    /// A query parameter carrying a key, e.g. `api_key=${DEVELOPER_KEY}`.
    Query(RawQueryAuth),
    /// `Authorization: Bearer <token>`.
    Bearer(RawBearerAuth),
    /// HTTP basic authentication.
    Basic(RawBasicAuth),
    /// OAuth 2 authorization code with refresh; tokens live in the state store after
    /// `mapsync serve`'s install flow.
    Oauth2(RawOAuth2),
}

/// A header carrying a credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHeaderAuth {
    /// The header name.
    pub name: String,
    /// The header value, e.g. `token ${CRM_API_KEY}`.
    pub value: String,
}

/// A query parameter carrying a credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawQueryAuth {
    /// The parameter name, e.g. `api_key`.
    pub name: String,
    /// The parameter value, e.g. `${DEVELOPER_API_KEY}`.
    pub value: String,
}

/// A static bearer token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBearerAuth {
    /// The token, e.g. `${CRM_ACCESS_TOKEN}`.
    pub token: String,
}

/// HTTP basic authentication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBasicAuth {
    /// The user name.
    pub username: String,
    /// The password, from the environment.
    pub password: String,
}

/// OAuth 2 authorization code grant with refresh tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOAuth2 {
    /// The consent page users are sent to (absolute URL).
    pub authorize_url: String,
    /// The token endpoint: absolute, or a path under the system's base URL.
    pub token_url: String,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret, from the environment.
    pub client_secret: String,
    /// Scopes requested at install, joined with spaces in the consent URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// A static token (for example a private app's) used instead of the installed OAuth token
    /// when it is set and not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_token: Option<String>,
    /// Refresh this long before the access token expires. Default `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_before: Option<DurationSpec>,
    /// The scheme the access token is sent with: `Authorization: <scheme> <token>`. Default
    /// `Bearer`; set it for an API that wants its own word before the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"))]
    pub scheme: Option<String>,
    /// JSONPath into the token endpoint's answer to the account the tokens belong to, e.g.
    /// `$.hub_id`. The first install pins that account: a later install into another account
    /// is refused unless its link was made with `mapsync oauth-link --replace-account`, and a
    /// webhook's `account` must match it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// A request budget, a token bucket: `requests` per `per` on average, up to `burst` at once.
/// One budget for every mapsync process on the state store. Any span of time T sees at most
/// `burst + requests × T / per` requests, so a window of `per` at most `requests + burst`: for
/// an API that counts a rolling window, declare a `burst` that leaves room, or its budget
/// `headers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    /// Requests per `per`, on average.
    #[schemars(range(min = 1))]
    pub requests: u32,
    /// The time `requests` are spread over, e.g. `10s`.
    pub per: DurationSpec,
    /// How many requests may go at once after a quiet spell. Default: `requests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// Response headers the API uses to report its budget; mapsync slows down to them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<RawRateLimitHeaders>,
}

/// Rate-limit headers an API returns on ordinary responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimitHeaders {
    /// The header with the requests left in the current window.
    pub remaining: String,
    /// The header with the window length in milliseconds, if the API sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<String>,
}

/// Which failures are retried, how often and how far apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    /// HTTP statuses that are retried. Default `[429, 500, 502, 503, 504]`. Connection errors
    /// and timeouts are always retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statuses: Option<Vec<u16>>,
    /// Attempts in all, the first included. Default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_attempts: Option<u32>,
    /// The first backoff delay; it doubles on each attempt, with jitter. Default `500ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_delay: Option<DurationSpec>,
    /// The longest backoff delay. Default `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<DurationSpec>,
    /// Wait at least as long as a `Retry-After` header says. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<bool>,
    /// The longest `Retry-After` honoured, so a server cannot stall mapsync. Default `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_after: Option<DurationSpec>,
}

/// The class an error belongs to; the runner chooses retry, pause or dead letter from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawErrorClass {
    /// Worth retrying after a backoff.
    Transient,
    /// Wait for the rate budget or `Retry-After`, then retry.
    RateLimited,
    /// Credentials are wrong or expired; pause the system.
    Auth,
    /// Retrying will not help; record the failure.
    Permanent,
    /// The request conflicts with another record (a duplicate, a unique value already taken):
    /// recorded at once as a conflict for a person, with the reason on the record's status,
    /// never retried. A 409 is in this class unless a rule or `retry.statuses` says otherwise.
    Conflict,
}

/// A rule that puts responses with a given status (and optionally a body match) in a class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawErrorClassRule {
    /// The HTTP status the rule applies to.
    pub status: u16,
    /// A regular expression the response body must match for the rule to apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_matches: Option<String>,
    /// The class.
    pub class: RawErrorClass,
}
