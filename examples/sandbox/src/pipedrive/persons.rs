//! `/v1/persons` and `/v1/personFields`: offset paging, wrapped bodies, webhooks on change.

use super::store::PdError;
use super::{json_response, ok, webhooks};
use crate::app::Shared;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

/// [P-04] default page size and the largest accepted.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 500;

fn num(q: &[(String, String)], key: &str, default: usize) -> Result<usize, PdError> {
    match crate::query::first(q, key) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| PdError::bad_request(&format!("Parameter '{key}' must be an integer."))),
    }
}

/// `GET /v1/persons?start=&limit=`: active persons in id order; `data` is null on an empty
/// page; `additional_data.pagination` says whether more follow and where [P-04].
pub async fn list(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Response {
    let q = crate::query::pairs(q.as_deref());
    let (start, limit) = match (num(&q, "start", 0), num(&q, "limit", DEFAULT_LIMIT)) {
        (Ok(s), Ok(l)) => (s, l.clamp(1, MAX_LIMIT)),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let pd = s.pd();
    let all = pd.list();
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|p| pd.to_json(p))
        .collect();
    let more = start + page.len() < all.len();
    let mut pagination = json!({
        "start": start,
        "limit": limit,
        "more_items_in_collection": more,
    });
    if more {
        pagination["next_start"] = json!(start + page.len());
    }
    let data = if page.is_empty() {
        Value::Null
    } else {
        Value::Array(page)
    };
    json_response(
        200,
        &json!({
            "success": true,
            "data": data,
            "additional_data": { "pagination": pagination },
            "related_objects": {},
        }),
    )
}

fn parse_id(id: &str) -> Result<u64, PdError> {
    id.parse().map_err(|_| PdError::not_found("Person"))
}

fn body_json(b: &Bytes) -> Result<Value, PdError> {
    crate::query::json(b).map_err(|e| PdError::bad_request(&e))
}

/// `GET /v1/persons/{id}`.
pub async fn read(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let pd = s.pd();
    match parse_id(&id).and_then(|id| pd.active(id)) {
        Ok(p) => ok(200, pd.to_json(p)),
        Err(e) => e.into_response(),
    }
}

/// `POST /v1/persons`: 201 with the person.
pub async fn create(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    match body_json(&body).and_then(|b| create_person(&s, &b, "api")) {
        Ok(v) => ok(201, v),
        Err(e) => e.into_response(),
    }
}

/// `PUT /v1/persons/{id}`.
pub async fn update(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> Response {
    match parse_id(&id)
        .and_then(|id| body_json(&body).map(|b| (id, b)))
        .and_then(|(id, b)| update_person(&s, id, &b, "api"))
    {
        Ok(v) => ok(200, v),
        Err(e) => e.into_response(),
    }
}

/// `DELETE /v1/persons/{id}`: `{"success": true, "data": {"id": N}}`.
pub async fn delete(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match parse_id(&id).and_then(|id| delete_person(&s, id, "api")) {
        Ok(id) => ok(200, json!({ "id": id })),
        Err(e) => e.into_response(),
    }
}

/// `GET /v1/personFields`.
pub async fn fields(State(s): State<Arc<Shared>>) -> Response {
    let pd = s.pd();
    let data: Vec<Value> = pd.fields.iter().map(|f| f.to_json()).collect();
    json_response(
        200,
        &json!({
            "success": true,
            "data": data,
            "additional_data": { "pagination": { "start": 0, "limit": 500, "more_items_in_collection": false } },
        }),
    )
}

/// Create and announce; `source` is `api` or `app` (the UI).
pub fn create_person(s: &Arc<Shared>, body: &Value, source: &str) -> Result<Value, PdError> {
    let now = crate::clock::now_ms();
    let (id, current) = {
        let mut pd = s.pd();
        let p = pd.create(body, now)?.clone();
        (p.id, pd.to_json(&p))
    };
    webhooks::emit(s, "added", id, Some(current.clone()), None, source);
    Ok(current)
}

/// Update and announce (only when something changed).
pub fn update_person(
    s: &Arc<Shared>,
    id: u64,
    body: &Value,
    source: &str,
) -> Result<Value, PdError> {
    let now = crate::clock::now_ms();
    let (prev, cur) = {
        let mut pd = s.pd();
        let (before, after) = pd.update(id, body, now)?;
        (pd.to_json(&before), pd.to_json(&after))
    };
    if prev != cur {
        webhooks::emit(s, "updated", id, Some(cur.clone()), Some(prev), source);
    }
    Ok(cur)
}

/// Delete and announce.
pub fn delete_person(s: &Arc<Shared>, id: u64, source: &str) -> Result<u64, PdError> {
    let now = crate::clock::now_ms();
    let prev = {
        let mut pd = s.pd();
        let before = pd.delete(id, now)?;
        pd.to_json(&before)
    };
    webhooks::emit(s, "deleted", id, None, Some(prev), source);
    Ok(id)
}
