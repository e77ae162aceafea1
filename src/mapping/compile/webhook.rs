//! Compiles webhooks: routes, verification schemes and event extraction.

use std::time::Duration;

use super::super::EnvMode;
use super::super::model::{
    EventAction, Secret, SignatureAlgorithm, SignatureEncoding, SignatureScheme, SignedPart,
    TimeUnit, TokenLocation, Verify, Webhook,
};
use super::super::raw::{
    RawEncoding, RawEventAction, RawSignatureAlgorithm, RawTimeUnit, RawTokenIn, RawVerify,
    RawWebhook,
};
use super::ctx::{Ctx, ptr};

pub(crate) fn webhook(ctx: &mut Ctx, p: &str, raw: &RawWebhook) -> Option<Webhook> {
    if !raw.path.starts_with('/') || raw.path.contains(['{', '}', '*', '?', '#']) {
        ctx.error(
            "bad-route",
            ptr(p, &["path"]),
            format!(
                "webhook path `{}` must start with `/` and hold no `{{`, `}}`, `*`, `?` or `#`",
                raw.path
            ),
            "e.g. /webhooks/crm",
        );
    }
    let verify = verify(ctx, &ptr(p, &["verify"]), &raw.verify);
    let events = ctx.json_path(&ptr(p, &["events"]), &raw.events);
    let event_id = ctx.opt_json_path(&ptr(p, &["event_id"]), raw.event_id.as_ref());
    let mut dedup_key = Some(Vec::new());
    for (i, k) in raw.dedup_key.iter().enumerate() {
        match ctx.json_path(&ptr(p, &["dedup_key", &i.to_string()]), k) {
            Some(jp) => {
                if let Some(v) = dedup_key.as_mut() {
                    v.push(jp)
                }
            }
            None => dedup_key = None,
        }
    }
    let record_id = ctx.json_path(&ptr(p, &["record_id"]), &raw.record_id);
    let record_id_template = match &raw.record_id_template {
        None => Some(None),
        Some(t) => ctx
            .template(&ptr(p, &["record_id_template"]), t, &["value"])
            .map(Some),
    };
    let record_id_pattern = match &raw.record_id_pattern {
        None => Some(None),
        Some(r) => ctx
            .regex(&ptr(p, &["record_id_pattern"]), &format!("^(?:{r})$"))
            .map(Some),
    };
    let kind = ctx.opt_json_path(&ptr(p, &["kind"]), raw.kind.as_ref());
    let account = ctx.opt_json_path(&ptr(p, &["account"]), raw.account.as_ref());
    let occurred_at = ctx.opt_json_path(&ptr(p, &["occurred_at"]), raw.occurred_at.as_ref());
    let ours = match &raw.ours {
        None => Some(None),
        Some(e) => ctx.expr(&ptr(p, &["ours"]), e, &["event"]).map(Some),
    };
    Some(Webhook {
        path: raw.path.clone(),
        max_body: raw.max_body.map(|b| b.0).unwrap_or(1024 * 1024),
        max_events: raw.max_events,
        verify: verify?,
        events: events?,
        event_id: event_id?,
        dedup_key: dedup_key?,
        record_id: record_id?,
        record_id_template: record_id_template?,
        record_id_prefix: raw.record_id_prefix.clone(),
        record_id_pattern: record_id_pattern?,
        account: account?,
        kind: kind?,
        occurred_at: occurred_at?,
        actions: raw
            .actions
            .iter()
            .map(|(k, a)| (k.clone(), action(*a)))
            .collect(),
        default_action: raw
            .default_action
            .map(action)
            .unwrap_or(EventAction::Upsert),
        ours: ours?,
    })
}

fn action(a: RawEventAction) -> EventAction {
    match a {
        RawEventAction::Upsert => EventAction::Upsert,
        RawEventAction::Delete => EventAction::Delete,
        RawEventAction::Ignore => EventAction::Ignore,
    }
}

fn secrets(ctx: &mut Ctx, p: &str, raw: &[String]) -> Vec<Secret> {
    let out: Vec<Secret> = raw
        .iter()
        .filter(|s| !s.is_empty())
        .map(Secret::new)
        .collect();
    if out.is_empty() {
        let msg = "no secret is set, so every delivery would be rejected".to_string();
        let hint = "set the environment variable named here";
        match ctx.mode {
            EnvMode::Strict => ctx.error("empty-secret", p.to_string(), msg, hint),
            EnvMode::Lenient => {}
        }
    }
    out
}

fn verify(ctx: &mut Ctx, p: &str, raw: &RawVerify) -> Option<Verify> {
    Some(match raw {
        RawVerify::Signature(s) => {
            let sp = ptr(p, &["signature"]);
            let signed = signed_parts(ctx, &ptr(&sp, &["signed"]), &s.signed)?;
            if signed.contains(&SignedPart::Timestamp) && s.timestamp_header.is_none() {
                ctx.error(
                    "bad-signed-template",
                    ptr(&sp, &["signed"]),
                    "`{timestamp}` is signed but no `timestamp_header` says where it is"
                        .to_string(),
                    "",
                );
                return None;
            }
            if signed.contains(&SignedPart::Id) && s.id_header.is_none() {
                ctx.error(
                    "bad-signed-template",
                    ptr(&sp, &["signed"]),
                    "`{id}` is signed but no `id_header` says where it is".to_string(),
                    "",
                );
                return None;
            }
            if s.timestamp_header.is_none() && s.replay_protection.is_none() {
                ctx.error(
                    "no-replay-protection",
                    sp.clone(),
                    "this signature has no timestamp, so a captured delivery could be replayed".to_string(),
                    "add `timestamp_header`, or say `replay_protection: inbox_only` to rely on the inbox's deduplication",
                );
                return None;
            }
            Verify::Signature(SignatureScheme {
                algorithm: match s.algorithm {
                    RawSignatureAlgorithm::HmacSha256 => SignatureAlgorithm::HmacSha256,
                    RawSignatureAlgorithm::Sha256 => SignatureAlgorithm::Sha256,
                },
                header: s.header.clone(),
                signed,
                encoding: match s.encoding {
                    RawEncoding::Hex => SignatureEncoding::Hex,
                    RawEncoding::Base64 => SignatureEncoding::Base64,
                },
                prefix: s.prefix.clone(),
                separator: s.separator.clone(),
                timestamp_header: s.timestamp_header.clone(),
                timestamp_unit: match s.timestamp_unit {
                    Some(RawTimeUnit::Milliseconds) => TimeUnit::Milliseconds,
                    _ => TimeUnit::Seconds,
                },
                id_header: s.id_header.clone(),
                tolerance: s
                    .tolerance
                    .map(|d| d.get())
                    .unwrap_or(Duration::from_secs(300)),
                uri_decode: s.uri_decode.clone(),
                secrets: secrets(ctx, &ptr(&sp, &["secrets"]), &s.secrets),
            })
        }
        RawVerify::Token(t) => Verify::Token {
            location: match t.location {
                RawTokenIn::Header => TokenLocation::Header,
                RawTokenIn::Query => TokenLocation::Query,
            },
            name: t.name.clone(),
            secrets: secrets(ctx, &ptr(p, &["token", "secrets"]), &t.secrets),
        },
        RawVerify::Basic(b) => Verify::Basic {
            username: b.username.clone(),
            passwords: secrets(ctx, &ptr(p, &["basic", "passwords"]), &b.passwords),
        },
        RawVerify::None(n) => {
            ctx.warning(
                "unverified-webhook",
                ptr(p, &["none"]),
                format!("deliveries to this webhook are not verified ({})", n.reason),
                "anyone who can reach the server can inject events; declare a signature, token or basic auth",
            );
            Verify::None
        }
    })
}

/// Parses `{method}{uri}{body}{timestamp}`-style signed-message templates.
pub(crate) fn signed_parts(ctx: &mut Ctx, p: &str, src: &str) -> Option<Vec<SignedPart>> {
    let mut parts = Vec::new();
    let mut rest = src;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(SignedPart::Lit(rest[..open].to_string()));
        }
        let Some(close) = rest[open..].find('}') else {
            ctx.error(
                "bad-signed-template",
                p.to_string(),
                format!("`{src}` has a `{{` that is never closed"),
                "",
            );
            return None;
        };
        let name = &rest[open + 1..open + close];
        parts.push(match name {
            "method" => SignedPart::Method,
            "uri" => SignedPart::Uri,
            "body" => SignedPart::Body,
            "timestamp" => SignedPart::Timestamp,
            "id" => SignedPart::Id,
            "secret" => SignedPart::Secret,
            other => {
                ctx.error(
                    "bad-signed-template",
                    p.to_string(),
                    format!("`{{{other}}}` is not a part of a request that can be signed"),
                    "use {method}, {uri}, {body}, {timestamp}, {id} and {secret}",
                );
                return None;
            }
        });
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(SignedPart::Lit(rest.to_string()));
    }
    if !parts.contains(&SignedPart::Body) {
        ctx.error(
            "bad-signed-template",
            p.to_string(),
            format!("`{src}` does not sign `{{body}}`, so a body could be swapped"),
            "",
        );
        return None;
    }
    Some(parts)
}
