//! CRM v3 contacts batch endpoints: read, create, update, upsert, archive (≤ 100 inputs; 207
//! with per-input StandardErrors carrying `errors` and `links`).

use super::contacts::{archive_one, archived_param, body_properties};
use super::error::{HsError, bad_json, json_response};
use super::store::{Actor, HubStore};
use crate::app::Shared;
use crate::clock::{now_ms, rfc3339_ms};
use crate::query;
use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// `POST /crm/v3/objects/contacts/batch/{op}`.
pub async fn dispatch(
    State(s): State<Arc<Shared>>,
    Extension(actor): Extension<Actor>,
    Path(op): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let v = match query::json(&body) {
        Ok(v) => v,
        Err(e) => return bad_json(&e),
    };
    let Some(inputs) = v.get("inputs").and_then(Value::as_array) else {
        return HsError::validation("inputs is required and must be an array").into_response();
    };
    let limit = if v
        .get("propertiesWithHistory")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        50
    } else {
        100
    };
    if inputs.len() > limit {
        return HsError::validation(format!(
            "Batch input must contain at most {limit} items, got {}",
            inputs.len()
        ))
        .into_response();
    }
    let started = now_ms();
    let mut events = Vec::new();
    let resp = {
        let mut h = s.hub();
        match op.as_str() {
            "read" => {
                let pairs = query::pairs(q.as_deref());
                let archived = archived_param(&pairs).unwrap_or(false);
                read(&h, &v, inputs, archived, started)
            }
            "create" => create(&mut h, inputs, actor, started, &mut events),
            "update" => update(&mut h, inputs, actor, started, &mut events, false),
            "upsert" => update(&mut h, inputs, actor, started, &mut events, true),
            "archive" => {
                for i in inputs {
                    if let Some(id) = id_of(i) {
                        events.extend(archive_one(&mut h, &id, actor, started));
                    }
                }
                StatusCode::NO_CONTENT.into_response()
            }
            _ => HsError::not_found().into_response(),
        }
    };
    s.emit(events);
    resp
}

fn id_of(input: &Value) -> Option<String> {
    match input.get("id") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn requested(v: &Value) -> Option<Vec<String>> {
    v.get("properties").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    })
}

/// The batch envelope; 207 when there are errors, `ok_status` otherwise.
fn envelope(results: Vec<Value>, errors: Vec<Value>, started: i64, ok_status: u16) -> Response {
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "requestedAt": rfc3339_ms(started),
        "startedAt": rfc3339_ms(started),
        "completedAt": rfc3339_ms(now_ms()),
        "links": {},
    });
    let status = if errors.is_empty() {
        ok_status
    } else {
        body["numErrors"] = json!(errors.len());
        body["errors"] = Value::Array(errors);
        207
    };
    json_response(status, &body)
}

fn read(h: &HubStore, v: &Value, inputs: &[Value], archived: bool, started: i64) -> Response {
    let props = requested(v);
    let id_prop = v.get("idProperty").and_then(Value::as_str);
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for i in inputs {
        let Some(id) = id_of(i) else {
            missing.push(Value::Null);
            continue;
        };
        match h.find(&id, id_prop, archived) {
            Ok(Some(c)) => results.push(h.contact_json(c, props.as_deref())),
            Ok(None) => missing.push(Value::String(id)),
            Err(e) => return e.into_response(),
        }
    }
    let errors = if missing.is_empty() {
        Vec::new()
    } else {
        let mut e = HsError::new(
            404,
            "OBJECT_NOT_FOUND",
            "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
        );
        e.context = Some(json!({ "ids": missing }));
        vec![e.batch_json()]
    };
    envelope(results, errors, started, 200)
}

/// Per-input errors only when every input has a unique `objectWriteTraceId`; otherwise the first
/// error fails the whole batch and nothing is written (FIDELITY.md §2.4; the all-or-nothing rule is inferred).
fn create(
    h: &mut HubStore,
    inputs: &[Value],
    actor: Actor,
    now: i64,
    events: &mut Vec<Map<String, Value>>,
) -> Response {
    let traces: Vec<Option<&str>> = inputs
        .iter()
        .map(|i| i.get("objectWriteTraceId").and_then(Value::as_str))
        .collect();
    let mut uniq = std::collections::HashSet::new();
    let partial = traces.iter().all(|t| t.is_some_and(|t| uniq.insert(t)));
    let mut parsed = Vec::new();
    for i in inputs {
        match body_properties(i) {
            Ok(p) => parsed.push(p),
            Err(e) => return e.into_response(),
        }
    }
    if !partial {
        // Apply in order and roll back on the first error, so earlier inputs count for duplicates.
        let mut created = Vec::new();
        for p in &parsed {
            match h.create(p, actor, now) {
                Ok(w) => created.push(w),
                Err(e) => {
                    for w in &created {
                        h.remove_contact(w.contact.id);
                    }
                    return e.into_response();
                }
            }
        }
        let mut results = Vec::new();
        for (w, p) in created.iter().zip(&parsed) {
            events.extend(h.events_for(w, actor, now));
            let names: Vec<String> = p.keys().cloned().collect();
            results.push(h.contact_json(&w.contact, Some(&names)));
        }
        return envelope(results, Vec::new(), now, 201);
    }
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for (p, t) in parsed.iter().zip(&traces) {
        match h.create(p, actor, now) {
            Ok(w) => {
                events.extend(h.events_for(&w, actor, now));
                let names: Vec<String> = p.keys().cloned().collect();
                let mut r = h.contact_json(&w.contact, Some(&names));
                r["objectWriteTraceId"] = json!(t);
                results.push(r);
            }
            Err(mut e) => {
                e.context = Some(json!({ "objectWriteTraceId": [t] }));
                errors.push(e.batch_json());
            }
        }
    }
    envelope(results, errors, now, 201)
}

/// update (per input `id`, optional `idProperty`) and upsert (`idProperty` per input; creates
/// with the key property set when nothing matches; results carry `new`).
fn update(
    h: &mut HubStore,
    inputs: &[Value],
    actor: Actor,
    now: i64,
    events: &mut Vec<Map<String, Value>>,
    upsert: bool,
) -> Response {
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for i in inputs {
        let Some(id) = id_of(i) else {
            errors.push(HsError::validation("id is required").batch_json());
            continue;
        };
        let mut props = match body_properties(i) {
            Ok(p) => p,
            Err(e) => {
                errors.push(e.batch_json());
                continue;
            }
        };
        let id_prop = i.get("idProperty").and_then(Value::as_str);
        if upsert && id_prop.is_none() {
            errors.push(HsError::validation("idProperty is required for upsert").batch_json());
            continue;
        }
        let found = match h.find(&id, id_prop, false) {
            Ok(f) => f.map(|c| c.id),
            Err(e) => {
                errors.push(e.batch_json());
                continue;
            }
        };
        let names: Vec<String> = props.keys().cloned().collect();
        let outcome = match (found, upsert) {
            (Some(target), _) => h.update(target, &props, now),
            (None, true) => {
                if let Some(p) = id_prop {
                    props.insert(p.to_string(), Value::String(id.clone()));
                }
                h.create(&props, actor, now)
            }
            (None, false) => {
                let mut e = HsError::not_found();
                e.message = format!("Object with id {id} was not found");
                e.context = Some(json!({ "ids": [id] }));
                Err(e)
            }
        };
        match outcome {
            Ok(w) => {
                events.extend(h.events_for(&w, actor, now));
                let mut r = h.contact_json(&w.contact, Some(&names));
                if upsert {
                    r["new"] = json!(w.created);
                }
                results.push(r);
            }
            Err(e) => errors.push(e.batch_json()),
        }
    }
    envelope(results, errors, now, 200)
}
