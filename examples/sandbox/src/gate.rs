//! The gate every API request passes first: request log and counters, injected faults,
//! rate limits and HubSpot's rate-limit headers. Control routes under `/_sandbox` bypass it.

use crate::app::Shared;
use crate::config::{AfterApply, System};
use crate::faults::Action;
use crate::hubspot::{self, TokenKind};
use crate::log::{Entry, ceil_secs};
use crate::ratelimit::{Daily, Verdict};
use crate::server::ConnKill;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use tokio::time::Instant;

/// The state of one system's gate.
#[derive(Clone)]
pub struct Gate {
    pub shared: Arc<Shared>,
    pub system: System,
}

/// The middleware.
pub async fn gate(State(g): State<Gate>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/_sandbox") {
        return next.run(req).await;
    }
    let received = Instant::now();
    let received_epoch_ms = crate::clock::now_ms();
    let method = req.method().as_str().to_string();
    let path_q = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or(path.clone());
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let (req, body_hash) = match hash_body(req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let operation = operation(g.system, &method, matched.as_deref(), &path);
    let s = &g.shared;
    let (latency, action) = s.faults(g.system).decide(&method, &path);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut fault = None;
    let resp = match action {
        Action::Drop => {
            s.journal(g.system).record(Entry {
                method,
                path: path_q,
                operation,
                status: None,
                retry_after: None,
                fault: Some("drop".into()),
                received,
                received_epoch_ms,
                body_hash,
            });
            if let Some(k) = req.extensions().get::<ConnKill>() {
                k.0.notify_one();
            }
            return std::future::pending().await;
        }
        Action::ApplyThenFail(after) => {
            // The request takes effect; its answer is lost or replaced.
            let kill = req.extensions().get::<ConnKill>().map(|k| k.0.clone());
            drop(next.run(req).await);
            match after {
                AfterApply::Status(st) => {
                    fault = Some("apply-then-fail".into());
                    match g.system {
                        System::Tte => crate::tte::server_error(st),
                        System::Pipedrive => crate::pipedrive::server_error(st),
                        System::Hubspot => hubspot::error::server_error(st),
                    }
                }
                AfterApply::Drop | AfterApply::Timeout => {
                    let drop = after == AfterApply::Drop;
                    s.journal(g.system).record(Entry {
                        method,
                        path: path_q,
                        operation,
                        status: None,
                        retry_after: None,
                        fault: Some(
                            if drop {
                                "apply-then-drop"
                            } else {
                                "apply-then-timeout"
                            }
                            .into(),
                        ),
                        received,
                        received_epoch_ms,
                        body_hash,
                    });
                    if drop && let Some(k) = kill {
                        k.notify_one();
                    }
                    return std::future::pending().await;
                }
            }
        }
        Action::Status {
            status,
            retry_after,
            fault: f,
        } => {
            fault = Some(f.to_string());
            match (g.system, status, retry_after) {
                (System::Tte, 429, ra) => crate::tte::throttled(ra.unwrap_or(1)),
                // an injected 429 stands for any throttling, with no window to report: no
                // X-HubSpot-RateLimit-* headers (a `Remaining: 0` would pause clients a window)
                (System::Hubspot, 429, ra) => {
                    hubspot::error::rate_limited("TEN_SECONDLY_ROLLING", ra.unwrap_or(1))
                }
                (System::Pipedrive, 429, ra) => crate::pipedrive::throttled(ra.unwrap_or(1)),
                (System::Tte, st, _) => crate::tte::server_error(st),
                (System::Pipedrive, st, _) => crate::pipedrive::server_error(st),
                (System::Hubspot, st, _) => hubspot::error::server_error(st),
            }
        }
        Action::Serve => match g.system {
            System::Tte => match s.tte_limiter.check() {
                Some(wait) if path.starts_with("/api/") => {
                    fault = Some("ratelimit".into());
                    crate::tte::throttled(ceil_secs(wait).max(1))
                }
                _ => next.run(req).await,
            },
            System::Hubspot => hubspot_limited(s, req, next, &path, &mut fault).await,
            // [P-15] no rate limit is emulated; faults can still script 429s
            System::Pipedrive => next.run(req).await,
        },
    };
    let retry_after = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    s.journal(g.system).record(Entry {
        method,
        path: path_q,
        operation,
        status: Some(resp.status().as_u16()),
        retry_after,
        fault,
        received,
        received_epoch_ms,
        body_hash,
    });
    resp
}

/// Buffer the body (≤ 4 MiB, else 413) and hash it, so the log can tell identical requests apart.
async fn hash_body(req: Request) -> Result<(Request, Option<String>), Response> {
    use sha2::{Digest, Sha256};
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 4 * 1024 * 1024).await else {
        return Err(axum::response::IntoResponse::into_response(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        ));
    };
    let hash = (!bytes.is_empty()).then(|| hex::encode(&Sha256::digest(&bytes)[..8]));
    Ok((
        Request::from_parts(parts, axum::body::Body::from(bytes)),
        hash,
    ))
}

/// HubSpot's per-token limits on CRM calls, with `X-HubSpot-RateLimit-*` headers [H-09].
async fn hubspot_limited(
    s: &Arc<Shared>,
    req: Request,
    next: Next,
    path: &str,
    fault: &mut Option<String>,
) -> Response {
    if !path.starts_with("/crm/") || !s.hub_limiter.enabled() {
        return next.run(req).await;
    }
    let (kind, token) = hubspot::classify(s, req.headers());
    let oauth = match kind {
        TokenKind::PrivateApp => false,
        TokenKind::OAuth(_) => true,
        _ => return next.run(req).await,
    };
    let search = path.ends_with("/search");
    match s.hub_limiter.check(&token, oauth, search) {
        None => next.run(req).await,
        Some(Verdict::Limited {
            max,
            retry_after,
            daily,
            policy,
        }) => {
            *fault = Some("ratelimit".into());
            let mut r = hubspot::error::rate_limited(policy, ceil_secs(retry_after).max(1));
            if !search {
                add_headers(&mut r, max, 0, daily);
            }
            r
        }
        Some(Verdict::Allowed {
            max,
            remaining,
            daily,
        }) => {
            let mut r = next.run(req).await;
            if !search {
                // search reports none of these headers
                add_headers(&mut r, max, remaining, daily);
            }
            r
        }
    }
}

/// `X-HubSpot-RateLimit-*` (FIDELITY.md §2.7): the 10-second window's interval, max and
/// remaining; the daily figures for the private app only.
fn add_headers(r: &mut Response, max: u32, remaining: u32, daily: Option<Daily>) {
    let h = r.headers_mut();
    h.insert(
        "x-hubspot-ratelimit-interval-milliseconds",
        HeaderValue::from_static("10000"),
    );
    h.insert("x-hubspot-ratelimit-max", HeaderValue::from(max));
    h.insert(
        "x-hubspot-ratelimit-remaining",
        HeaderValue::from(remaining),
    );
    if let Some(d) = daily {
        h.insert("x-hubspot-ratelimit-daily", HeaderValue::from(d.max));
        h.insert(
            "x-hubspot-ratelimit-daily-remaining",
            HeaderValue::from(d.remaining),
        );
    }
}

/// Operation names for counters, e.g. `contacts.create`, `customers.patch`.
pub fn operation(system: System, method: &str, matched: Option<&str>, path: &str) -> String {
    let Some(m) = matched else {
        return "other".into();
    };
    let m = m.trim_end_matches('/');
    match system {
        System::Tte => {
            let (res, one) = if m.ends_with("/customer/{id}") {
                ("customers", true)
            } else if m.ends_with("/customer") {
                ("customers", false)
            } else if m.ends_with("/subscription/{id}") {
                ("subscriptions", true)
            } else if m.ends_with("/subscription") {
                ("subscriptions", false)
            } else {
                return format!("{method} {m}");
            };
            let verb = match (method, one) {
                ("GET", false) => "list",
                ("POST", false) => "create",
                ("GET", true) => "get",
                ("PATCH", true) => "patch",
                ("PUT", true) => "put",
                ("DELETE", true) => "delete",
                _ => method,
            };
            format!("{res}.{verb}")
        }
        System::Pipedrive => match (method, m) {
            ("GET", "/v1/persons") => "persons.list".into(),
            ("POST", "/v1/persons") => "persons.create".into(),
            ("GET", "/v1/persons/{id}") => "persons.get".into(),
            ("PUT", "/v1/persons/{id}") => "persons.update".into(),
            ("DELETE", "/v1/persons/{id}") => "persons.delete".into(),
            ("GET", "/v1/personFields") => "personFields.list".into(),
            ("GET", "/v1/webhooks") => "webhooks.list".into(),
            ("POST", "/v1/webhooks") => "webhooks.create".into(),
            ("DELETE", "/v1/webhooks/{id}") => "webhooks.delete".into(),
            _ => format!("{method} {m}"),
        },
        System::Hubspot => match (method, m) {
            ("GET", "/crm/v3/objects/contacts") => "contacts.list".into(),
            ("POST", "/crm/v3/objects/contacts") => "contacts.create".into(),
            ("POST", "/crm/v3/objects/contacts/search") => "contacts.search".into(),
            ("POST", "/crm/v3/objects/contacts/batch/{op}") => match path.rsplit('/').next() {
                Some(op @ ("read" | "create" | "update" | "upsert" | "archive")) => {
                    format!("contacts.batch.{op}")
                }
                _ => "contacts.batch.other".into(),
            },
            ("GET", "/crm/v3/objects/contacts/{id}") => "contacts.get".into(),
            ("PATCH", "/crm/v3/objects/contacts/{id}") => "contacts.update".into(),
            ("DELETE", "/crm/v3/objects/contacts/{id}") => "contacts.archive".into(),
            ("POST", "/oauth/v1/token") => "oauth.token".into(),
            (_, p) if p.starts_with("/oauth/") && p.ends_with("/authorize") => {
                "oauth.authorize".into()
            }
            (_, p) if p.starts_with("/crm/v3/properties/contacts/groups") => {
                format!("groups.{}", method.to_lowercase())
            }
            (_, p) if p.starts_with("/crm/v3/properties/contacts") => {
                format!("properties.{}", method.to_lowercase())
            }
            (_, p) if p.contains("/settings") => {
                format!("webhooks.settings.{}", method.to_lowercase())
            }
            (_, p) if p.contains("/subscriptions") => {
                format!("webhooks.subscriptions.{}", method.to_lowercase())
            }
            _ => format!("{method} {m}"),
        },
    }
}
