//! Compiles systems: base URLs, authentication, rate limits, retry policies, error classes.

use std::time::Duration;

use url::Url;

use super::super::EnvMode;
use super::super::model::{
    Auth, ErrorClass, ErrorClassRule, OAuth2, RateLimit, RateLimitHeaders, RetryPolicy, Secret,
    System,
};
use super::super::raw::{RawAuth, RawErrorClass, RawSystem};
use super::ctx::{Ctx, ptr};

pub(crate) fn system(ctx: &mut Ctx, name: &str, raw: &RawSystem) -> Option<System> {
    let p = ptr("", &["systems", name]);
    let base_url = url(ctx, &ptr(&p, &["base_url"]), &raw.base_url, None);
    let auth = match &raw.auth {
        None => Some(None),
        Some(a) => auth(ctx, &ptr(&p, &["auth"]), a, base_url.as_ref()).map(Some),
    };
    let rate_limit = raw.rate_limit.as_ref().map(|r| RateLimit {
        requests: r.requests.max(1),
        per: r.per.get().max(Duration::from_millis(1)),
        burst: r.burst.unwrap_or(r.requests).max(1),
        headers: r.headers.as_ref().map(|h| RateLimitHeaders {
            remaining: h.remaining.clone(),
            interval_ms: h.interval_ms.clone(),
        }),
    });
    let mut retry = RetryPolicy::default();
    if let Some(r) = &raw.retry {
        if let Some(s) = &r.statuses {
            retry.statuses = s.clone();
        }
        retry.max_attempts = r.max_attempts.unwrap_or(retry.max_attempts).max(1);
        retry.base_delay = r.base_delay.map(|d| d.get()).unwrap_or(retry.base_delay);
        retry.max_delay = r.max_delay.map(|d| d.get()).unwrap_or(retry.max_delay);
        retry.retry_after = r.retry_after.unwrap_or(true);
        retry.max_retry_after = r
            .max_retry_after
            .map(|d| d.get())
            .unwrap_or(retry.max_retry_after);
    }
    let mut error_rules = Vec::new();
    for (i, r) in raw.errors.iter().enumerate() {
        if (200..300).contains(&r.status) && r.body_matches.is_none() {
            ctx.error(
                "bad-status",
                ptr(&p, &["errors", &i.to_string(), "status"]),
                format!(
                    "an error rule for {} without `body_matches` would make every {} answer a \
                     failure",
                    r.status, r.status
                ),
                "add `body_matches` with a pattern only a refusal's body matches, e.g. \
                 `\"status\":\"error\"`",
            );
        }
        let body_matches = match &r.body_matches {
            None => None,
            Some(src) => {
                Some(ctx.regex(&ptr(&p, &["errors", &i.to_string(), "body_matches"]), src)?)
            }
        };
        error_rules.push(ErrorClassRule {
            status: r.status,
            body_matches,
            class: class_of(r.class),
        });
    }
    let headers = ctx.pairs(&ptr(&p, &["headers"]), &raw.headers, &[]);
    Some(System {
        name: name.to_string(),
        title: raw.title.clone().unwrap_or_else(|| name.to_string()),
        base_url: base_url?,
        auth: auth?,
        rate_limit,
        retry,
        timeout: raw
            .timeout
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(30)),
        error_rules,
        headers: headers?,
    })
}

pub(crate) fn class_of(c: RawErrorClass) -> ErrorClass {
    match c {
        RawErrorClass::Transient => ErrorClass::Transient,
        RawErrorClass::RateLimited => ErrorClass::RateLimited,
        RawErrorClass::Auth => ErrorClass::Auth,
        RawErrorClass::Permanent => ErrorClass::Permanent,
        RawErrorClass::Conflict => ErrorClass::Conflict,
    }
}

/// Parses an absolute http(s) URL, or a path joined to `base`.
pub(crate) fn url(ctx: &mut Ctx, pointer: &str, src: &str, base: Option<&Url>) -> Option<Url> {
    let parsed = match base {
        Some(b) if src.starts_with('/') => {
            Url::parse(&format!("{}{}", b.as_str().trim_end_matches('/'), src))
        }
        _ => Url::parse(src),
    };
    match parsed {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Some(u),
        Ok(u) => {
            ctx.error(
                "bad-url",
                pointer.to_string(),
                format!(
                    "`{src}` is a {} URL; mapsync speaks http and https",
                    u.scheme()
                ),
                "",
            );
            None
        }
        Err(e) => {
            ctx.error(
                "bad-url",
                pointer.to_string(),
                format!("`{src}` is not a URL: {e}"),
                "write an absolute URL such as https://api.example.com/v2 (after ${VAR} substitution)",
            );
            None
        }
    }
}

fn secret(ctx: &mut Ctx, pointer: &str, value: &str, what: &str) -> Secret {
    if value.is_empty() && ctx.mode == EnvMode::Strict {
        ctx.error(
            "empty-secret",
            pointer.to_string(),
            format!("the {what} is empty"),
            "set the environment variable the mapping names here",
        );
    }
    Secret::new(value)
}

/// Compiles an `auth` block (also used by setup resources).
pub(crate) fn auth(ctx: &mut Ctx, p: &str, raw: &RawAuth, base: Option<&Url>) -> Option<Auth> {
    Some(match raw {
        RawAuth::Header(h) => Auth::Header {
            name: h.name.clone(),
            value: secret(
                ctx,
                &ptr(p, &["header", "value"]),
                &h.value,
                "header credential",
            ),
        },
        RawAuth::Query(q) => Auth::Query {
            name: q.name.clone(),
            value: secret(
                ctx,
                &ptr(p, &["query", "value"]),
                &q.value,
                "query credential",
            ),
        },
        RawAuth::Bearer(b) => Auth::Bearer {
            token: secret(ctx, &ptr(p, &["bearer", "token"]), &b.token, "bearer token"),
        },
        RawAuth::Basic(b) => Auth::Basic {
            username: b.username.clone(),
            password: secret(
                ctx,
                &ptr(p, &["basic", "password"]),
                &b.password,
                "password",
            ),
        },
        RawAuth::Oauth2(o) => {
            let op = ptr(p, &["oauth2"]);
            let authorize_url = url(ctx, &ptr(&op, &["authorize_url"]), &o.authorize_url, None);
            let token_url = url(ctx, &ptr(&op, &["token_url"]), &o.token_url, base);
            let static_token = o
                .static_token
                .as_ref()
                .filter(|t| !t.is_empty())
                .map(Secret::new);
            if static_token.is_none()
                && ctx.mode == EnvMode::Strict
                && (o.client_id.is_empty() || o.client_secret.is_empty())
            {
                ctx.error(
                    "empty-secret",
                    op.clone(),
                    "OAuth needs a client id and secret, or a static token".to_string(),
                    "set the variables named in client_id and client_secret, or the one in static_token",
                );
            }
            let account = ctx.opt_json_path(&ptr(&op, &["account"]), o.account.as_ref());
            Auth::OAuth2(Box::new(OAuth2 {
                account: account?,
                authorize_url: authorize_url?,
                token_url: token_url?,
                client_id: o.client_id.clone(),
                client_secret: Secret::new(o.client_secret.clone()),
                scopes: o.scopes.clone(),
                static_token,
                refresh_before: o
                    .refresh_before
                    .map(|d| d.get())
                    .unwrap_or(Duration::from_secs(60)),
            }))
        }
    })
}
