//! Webhooks v3 management for the legacy public app, authenticated with `?hapikey=`: settings
//! (GET/PUT/DELETE) and subscriptions (GET/POST/PATCH/PUT/DELETE, batch/update).

use super::error::{HsError, bad_json, json_response};
use super::store::{HubStore, WebhookSettings};
use crate::app::Shared;
use crate::clock::{now_ms, rfc3339_ms};
use crate::query;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;

const EVENT_TYPES: &[&str] = &[
    "contact.creation",
    "contact.deletion",
    "contact.propertyChange",
    "contact.merge",
    "contact.restore",
    "contact.associationChange",
    "contact.privacyDeletion",
];

/// `?hapikey=<developer key>` and the app id in the path must match [H-01 shape].
pub async fn auth(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let pairs = query::pairs(req.uri().query());
    let key_ok = query::first(&pairs, "hapikey")
        == Some(s.cfg.credentials.hubspot_developer_api_key.as_str());
    if !key_ok {
        return HsError::new(401, "INVALID_AUTHENTICATION", "The API key provided is invalid. View or manage your API key here: https://app.hubspot.com/l/api-key/")
            .into_response();
    }
    let app = req.uri().path().split('/').nth(3).unwrap_or("");
    if app != s.cfg.credentials.hubspot_app_id.to_string() {
        return HsError::not_found().into_response();
    }
    next.run(req).await
}

fn settings_json(st: &WebhookSettings) -> Value {
    let mut throttling = json!({ "maxConcurrentRequests": st.max_concurrent_requests });
    if let Some(p) = &st.period {
        throttling["period"] = json!(p);
    }
    json!({
        "targetUrl": st.target_url,
        "throttling": throttling,
        "createdAt": rfc3339_ms(st.created_ms),
        "updatedAt": rfc3339_ms(st.updated_ms),
    })
}

pub async fn get_settings(State(s): State<Arc<Shared>>) -> Response {
    match &s.hub().settings {
        Some(st) => json_response(200, &settings_json(st)),
        None => HsError::not_found().into_response(),
    }
}

pub async fn put_settings(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let v = match query::json(&body) {
        Ok(v) => v,
        Err(e) => return bad_json(&e),
    };
    let Some(target) = v
        .get("targetUrl")
        .and_then(Value::as_str)
        .filter(|u| url::Url::parse(u).is_ok())
    else {
        return HsError::validation("targetUrl must be a valid URL").into_response();
    };
    let max = match v.pointer("/throttling/maxConcurrentRequests") {
        None => 10,
        Some(m) => match m.as_u64() {
            Some(n) if n > 5 => n,
            _ => {
                return HsError::validation(
                    "maxConcurrentRequests must be a number greater than five",
                )
                .into_response();
            }
        },
    };
    let period = v
        .pointer("/throttling/period")
        .and_then(Value::as_str)
        .map(String::from);
    let now = now_ms();
    let mut h = s.hub();
    let created = h.settings.as_ref().map(|x| x.created_ms).unwrap_or(now);
    let st = WebhookSettings {
        target_url: target.into(),
        max_concurrent_requests: max,
        period,
        created_ms: created,
        updated_ms: now,
    };
    let body = settings_json(&st);
    h.settings = Some(st);
    drop(h);
    s.set_max_concurrent(max.min(10_000) as usize);
    json_response(200, &body)
}

pub async fn delete_settings(State(s): State<Arc<Shared>>) -> Response {
    s.hub().settings = None;
    StatusCode::NO_CONTENT.into_response()
}

pub async fn list_subs(State(s): State<Arc<Shared>>) -> Response {
    let h = s.hub();
    let results: Vec<Value> = h.subs.values().map(|x| x.to_json()).collect();
    json_response(200, &json!({ "results": results }))
}

fn validate_new(h: &HubStore, v: &Value) -> Result<(String, Option<String>), HsError> {
    let et = v.get("eventType").and_then(Value::as_str).unwrap_or("");
    if !EVENT_TYPES.contains(&et) {
        return Err(HsError::validation(format!("Unknown eventType '{et}'")));
    }
    let prop = v
        .get("propertyName")
        .and_then(Value::as_str)
        .map(String::from);
    if et == "contact.propertyChange" {
        let Some(p) = &prop else {
            return Err(HsError::validation(
                "propertyName is required for contact.propertyChange",
            ));
        };
        if matches!(
            p.as_str(),
            "hs_lastmodifieddate" | "lastmodifieddate" | "num_unique_conversion_events"
        ) {
            return Err(HsError::validation(format!(
                "Property {p} cannot be subscribed to"
            )));
        }
        if h.prop(p).is_none() {
            return Err(HsError::validation(format!("Property {p} does not exist")));
        }
    }
    if h.subs.len() >= 1000 {
        return Err(HsError::validation(
            "An app may have at most 1,000 subscriptions",
        ));
    }
    if h.subs
        .values()
        .any(|s| s.event_type == et && s.property_name == prop)
    {
        // inferred: a duplicate subscription is refused
        return Err(HsError::new(
            409,
            "CONFLICT",
            "A subscription for this event type and property already exists",
        ));
    }
    Ok((et.into(), prop))
}

pub async fn create_sub(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let v = match query::json(&body) {
        Ok(v) => v,
        Err(e) => return bad_json(&e),
    };
    let mut h = s.hub();
    match validate_new(&h, &v) {
        Ok((et, prop)) => {
            // new subscriptions start paused unless sent with active: true
            let active = v.get("active").and_then(Value::as_bool).unwrap_or(false);
            let sub = h.add_sub(et, prop, active, now_ms());
            json_response(201, &sub.to_json())
        }
        Err(e) => e.into_response(),
    }
}

fn sub_id(p: &[String]) -> Option<u64> {
    p.last().and_then(|x| x.parse().ok())
}

pub async fn read_sub(State(s): State<Arc<Shared>>, Path(p): Path<Vec<String>>) -> Response {
    let h = s.hub();
    match sub_id(&p).and_then(|id| h.subs.get(&id)) {
        Some(sub) => json_response(200, &sub.to_json()),
        None => HsError::not_found().into_response(),
    }
}

pub async fn update_sub(
    State(s): State<Arc<Shared>>,
    Path(p): Path<Vec<String>>,
    body: Bytes,
) -> Response {
    let v = match query::json(&body) {
        Ok(v) => v,
        Err(e) => return bad_json(&e),
    };
    let Some(active) = v.get("active").and_then(Value::as_bool) else {
        return HsError::validation("active must be a boolean").into_response();
    };
    let mut h = s.hub();
    match sub_id(&p).and_then(|id| h.subs.get_mut(&id)) {
        Some(sub) => {
            sub.active = active;
            sub.updated_ms = now_ms();
            json_response(200, &sub.to_json())
        }
        None => HsError::not_found().into_response(),
    }
}

pub async fn delete_sub(State(s): State<Arc<Shared>>, Path(p): Path<Vec<String>>) -> Response {
    let removed = sub_id(&p).is_some_and(|id| s.hub().subs.remove(&id).is_some());
    if removed {
        StatusCode::NO_CONTENT.into_response()
    } else {
        HsError::not_found().into_response()
    }
}

pub async fn batch_update(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let v = match query::json(&body) {
        Ok(v) => v,
        Err(e) => return bad_json(&e),
    };
    let inputs = v
        .get("inputs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let now = now_ms();
    let mut h = s.hub();
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for i in &inputs {
        let id = match i.get("id") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(x)) => x.parse().ok(),
            _ => None,
        };
        let active = i.get("active").and_then(Value::as_bool);
        match (id.and_then(|id| h.subs.get_mut(&id)), active) {
            (Some(sub), Some(a)) => {
                sub.active = a;
                sub.updated_ms = now;
                results.push(sub.to_json());
            }
            _ => errors.push(HsError::not_found().batch_json()),
        }
    }
    let mut body = json!({ "status": "COMPLETE", "results": results });
    let status = if errors.is_empty() {
        200
    } else {
        body["numErrors"] = json!(errors.len());
        body["errors"] = Value::Array(errors);
        207
    };
    json_response(status, &body)
}
