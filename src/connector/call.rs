//! One logical call and its attempts: pace through the rate limiter, add credentials, send,
//! read the budget headers and `Retry-After`, retry the declared statuses and network failures
//! with backoff, refresh an OAuth token once on 401, and classify what is left. It never
//! decides what happens after the last attempt; the caller gets a classified error.
//!
//! A call that is not repeatable (a create: sending it twice may make two records) is retried
//! only when the request certainly had no effect: the connection could not be made, a 429, or a
//! 401 refreshed. A timeout, a connection lost after sending, or a 5xx is returned at once as an
//! error whose outcome is unknown (`ConnectorError::outcome_unknown`); the runner resolves it
//! before creating again. A 429 never uses up one of the `max_attempts`: 429s have their own
//! budget of the same size, after which the call fails as rate-limited.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::error::{ConnectorError, Result, TransportKind, api_text};
use super::stats::Stats;
use super::transport::{Body, Outgoing};
use super::{Connector, parse_retry_after};
use crate::mapping::model::{ErrorClass, Method};

/// An API's answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body: JSON, a string when it is not JSON, `null` when empty.
    pub body: Value,
    /// The URL that answered (for resolving links in the answer).
    pub url: Url,
}

impl Response {
    /// A header's value (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A request ready for its attempts.
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: Vec<(String, String, bool)>,
    pub(crate) body: Option<Value>,
    /// Non-2xx statuses the operation handles itself (missing, refused, exists): given back
    /// as answers, never retried.
    pub(crate) accept: &'a [u16],
    /// Whether sending the request twice has the effect of sending it once (reads, updates by
    /// value, deletes). False for creates: they are never repeated after an unknown outcome.
    pub(crate) repeatable: bool,
    /// The operation reads each record's result from the answer, so the system's error rules
    /// for 2xx statuses classify those results instead of failing the whole answer.
    pub(crate) per_record: bool,
}

impl Connector {
    /// Makes the attempts of one call.
    pub(crate) async fn call(&self, call: Call<'_>) -> Result<Response> {
        let sys = &self.shared.system;
        let policy = &sys.retry;
        let transport = self.shared.transport.as_ref();
        let limiter = &self.shared.limiter;
        let stats = &self.shared.stats;
        let method = call.method.as_str();
        let path = call.url.path().to_string();
        let body = call.body.map(Body::Json);
        let mut attempts = 0u32;
        let mut budget = policy.max_attempts.max(1);
        // 429s get their own budget, so they never use up an attempt.
        let mut throttled_left = policy.max_attempts.max(1);
        let mut refreshed = false;
        loop {
            attempts += 1;
            let mut out = Outgoing {
                method: call.method,
                url: call.url.clone(),
                headers: call.headers.clone(),
                body: body.clone(),
            };
            let used_token = self.creds.apply(&mut out, transport).await?;
            limiter.acquire().await;
            Stats::bump(&stats.requests);
            if attempts > 1 {
                Stats::bump(&stats.retries);
            }
            let answer = match transport.send(out).await {
                Ok(a) => a,
                Err(e) => {
                    Stats::bump(&stats.transport_errors);
                    // Not repeatable: only a connection never made is safe to try again.
                    let unsafe_again = !call.repeatable && e.kind != TransportKind::Connect;
                    if attempts >= budget || unsafe_again {
                        tracing::warn!(system = %sys.name, method, path = %path, attempt = attempts, error = %e.message, "Request failed; no attempts left.");
                        return Err(ConnectorError::Transport {
                            system: sys.name.clone(),
                            method,
                            path,
                            kind: e.kind,
                            message: self.scrub(&e.message),
                            attempts,
                        });
                    }
                    let delay = self.shared.backoff.delay(attempts - 1);
                    tracing::debug!(system = %sys.name, method, path = %path, attempt = attempts, error = %e.message, delay_ms = delay.as_millis() as u64, "Request failed; retrying.");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };
            let received = Instant::now();
            let status = answer.status;
            self.observe_budget(&answer.headers);
            let retry_after = if policy.retry_after {
                header(&answer.headers, "retry-after")
                    .and_then(|v| parse_retry_after(v, jiff::Timestamp::now()))
                    .map(|d| d.min(policy.max_retry_after))
            } else {
                None
            };
            let ok = (200..300).contains(&status) || call.accept.contains(&status);
            if status == 429 {
                Stats::bump(&stats.rate_limited);
            }
            if !ok && let Some(ra) = retry_after {
                // The whole system waits: no request to it leaves before this has passed.
                limiter.pause_until(received + ra);
            }
            tracing::debug!(system = %sys.name, method, path = %path, status, attempt = attempts, "Request answered.");
            let body = parse_body(&answer.body);
            // A 2xx that an error rule matches by its body is a failure of the rule's class.
            let ruled = (200..300).contains(&status) && !call.per_record && {
                let text = body_text(&body);
                sys.error_rules.iter().any(|r| {
                    r.status == status
                        && r.body_matches.as_ref().is_some_and(|re| re.is_match(&text))
                })
            };
            if ok && !ruled {
                return Ok(Response {
                    status,
                    headers: answer.headers,
                    body,
                    url: call.url,
                });
            }
            if status == 401
                && !refreshed
                && let (Some(session), Some(used)) = (self.creds.refreshable(), &used_token)
            {
                refreshed = true;
                budget += 1;
                session.after_unauthorized(transport, used).await?;
                continue;
            }
            let body_text = body_text(&body);
            let class = sys.classify(status, &body_text);
            let throttled = status == 429 || ruled && class == ErrorClass::RateLimited;
            // A throttled request was not processed: safe to send again, even a create. Any
            // other failure of a create may have landed: it is not sent again.
            let retried = (policy.statuses.contains(&status)
                || ruled && matches!(class, ErrorClass::Transient | ErrorClass::RateLimited))
                && (call.repeatable || throttled);
            if retried && throttled && throttled_left > 0 {
                throttled_left -= 1;
                budget += 1;
            }
            if retried && attempts < budget {
                let delay = self.shared.backoff.delay(attempts - 1);
                if status == 429 && retry_after.is_none() {
                    limiter.pause_until(received + delay);
                }
                tracing::debug!(system = %sys.name, method, path = %path, status, attempt = attempts, delay_ms = delay.as_millis() as u64, "Retrying after an error answer.");
                tokio::time::sleep(delay).await;
                continue;
            }
            tracing::debug!(system = %sys.name, method, path = %path, status, attempt = attempts, class = ?class, "Request failed.");
            return Err(ConnectorError::Http {
                system: sys.name.clone(),
                method,
                path,
                status,
                class,
                message: self.scrub(&api_text(&body)),
                retry_after,
                attempts,
            });
        }
    }

    /// Feeds the declared budget headers to the rate limiter.
    fn observe_budget(&self, headers: &[(String, String)]) {
        let Some(h) = self
            .shared
            .system
            .rate_limit
            .as_ref()
            .and_then(|l| l.headers.as_ref())
        else {
            return;
        };
        let Some(remaining) =
            header(headers, &h.remaining).and_then(|v| v.trim().parse::<u64>().ok())
        else {
            return;
        };
        let interval = h
            .interval_ms
            .as_deref()
            .and_then(|n| header(headers, n))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis);
        self.shared.limiter.observe_budget(remaining, interval);
    }

    /// Removes any credential the API might have echoed.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.creds.secrets() {
            out = out.replace(&s, "[redacted]");
        }
        out
    }
}

/// A header's value, name in any case.
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A body as the text error rules match: the string itself, else its JSON.
pub(crate) fn body_text(body: &Value) -> String {
    match body {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// JSON when it parses, the text otherwise, `null` when empty.
fn parse_body(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}
