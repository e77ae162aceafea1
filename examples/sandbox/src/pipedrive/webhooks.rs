//! Webhooks v1: `/v1/webhooks` management and deliveries of `{current, previous, meta}` with
//! HTTP basic auth, retried on failure [P-12, P-13].

use super::json_response;
use super::store::{PdError, Webhook, pd_time};
use crate::app::Shared;
use crate::config::System;
use crate::outbound::{Outbound, deliver};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use std::sync::Arc;

/// `GET /v1/webhooks`.
pub async fn list(State(s): State<Arc<Shared>>) -> Response {
    let pd = s.pd();
    let data: Vec<Value> = pd
        .webhooks
        .values()
        .map(|w| w.to_json(pd.company_id, pd.user_id))
        .collect();
    json_response(
        200,
        &json!({ "status": "ok", "success": true, "data": data }),
    )
}

fn field_error(field: &str, msg: &str) -> Response {
    json_response(
        400,
        &json!({ "status": "error", "success": false, "errors": { field: [msg] } }),
    )
}

/// `POST /v1/webhooks`: `{subscription_url, event_action, event_object, http_auth_user?,
/// http_auth_password?}` → 201.
pub async fn create(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let b = match crate::query::json(&body) {
        Ok(b) => b,
        Err(e) => return PdError::bad_request(&e).into_response(),
    };
    let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
    let Some(url) = text("subscription_url").filter(|u| url::Url::parse(u).is_ok()) else {
        return field_error("subscription_url", "subscription_url must be a valid URL");
    };
    const ACTIONS: &[&str] = &["added", "updated", "deleted", "merged", "*"];
    const OBJECTS: &[&str] = &[
        "activity",
        "deal",
        "note",
        "organization",
        "person",
        "pipeline",
        "product",
        "stage",
        "user",
        "*",
    ];
    let action = text("event_action").unwrap_or_default();
    if !ACTIONS.contains(&action.as_str()) {
        return field_error("event_action", "event_action is invalid");
    }
    let object = text("event_object").unwrap_or_default();
    if !OBJECTS.contains(&object.as_str()) {
        return field_error("event_object", "event_object is invalid");
    }
    let mut pd = s.pd();
    let (company, user) = (pd.company_id, pd.user_id);
    let w = pd.add_webhook(Webhook {
        id: 0,
        subscription_url: url,
        event_action: action,
        event_object: object,
        http_auth_user: text("http_auth_user").filter(|u| !u.is_empty()),
        http_auth_password: text("http_auth_password").filter(|p| !p.is_empty()),
        add_time: pd_time(crate::clock::now_ms()),
    });
    json_response(
        201,
        &json!({ "status": "ok", "success": true, "data": w.to_json(company, user) }),
    )
}

/// `DELETE /v1/webhooks/{id}`.
pub async fn delete(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let removed = id
        .parse::<u64>()
        .ok()
        .and_then(|id| s.pd().webhooks.remove(&id));
    match removed {
        Some(_) => json_response(200, &json!({ "status": "ok", "success": true })),
        None => PdError::not_found("Webhook").into_response(),
    }
    .into_response()
}

/// Announce a person change to every matching webhook. `source` becomes `meta.change_source`
/// (`api` for API writes, `app` for the UI) [P-13].
pub fn emit(
    s: &Arc<Shared>,
    action: &str,
    id: u64,
    current: Option<Value>,
    previous: Option<Value>,
    source: &str,
) {
    let (hooks, company, user): (Vec<Webhook>, u64, u64) = {
        let pd = s.pd();
        (
            pd.webhooks
                .values()
                .filter(|w| w.matches(action, "person"))
                .cloned()
                .collect(),
            pd.company_id,
            pd.user_id,
        )
    };
    let now = crate::clock::now_ms();
    let cfg = s.cfg.pipedrive.clone();
    for w in hooks {
        let body = json!({
            "v": 1,
            "matches_filters": { "current": [] },
            "meta": {
                "v": 1,
                "action": action,
                "object": "person",
                "id": id,
                "company_id": company,
                "user_id": user,
                "host": "sandbox.pipedrive.com",
                "timestamp": now / 1000,
                "timestamp_micro": now * 1000,
                "permitted_user_ids": [user],
                "trans_pending": false,
                "is_bulk_update": false,
                "pipedrive_service_name": false,
                "change_source": source,
                "matches_filters": { "current": [] },
                "webhook_id": w.id.to_string(),
            },
            "current": current,
            "previous": previous,
            "event": format!("{action}.person"),
            "retry": 0,
        });
        let auth = w.http_auth_user.as_ref().map(|u| {
            let creds = format!("{u}:{}", w.http_auth_password.as_deref().unwrap_or(""));
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(creds)
            )
        });
        let faults = s.faults(System::Pipedrive);
        let plan = faults.plan_delivery();
        let ob = Outbound {
            system: System::Pipedrive,
            url: w.subscription_url.clone(),
            timeout: cfg.webhook_timeout,
            delays: cfg.retry_delays.clone(),
            max_attempts: cfg.retry_delays.len() as u32 + 1,
            retry_client_errors: true,
            basic_from_userinfo: false,
        };
        deliver(
            s,
            ob,
            plan,
            Box::new(move |attempt| {
                let mut b = body.clone();
                b["retry"] = json!(attempt);
                let headers = auth.iter().map(|a| ("authorization", a.clone())).collect();
                (b.to_string(), headers)
            }),
        );
    }
}
