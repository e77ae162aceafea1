//! CRM v3 contacts, single-object endpoints: list (cursor paging), read, create, PATCH, archive.

use super::error::{HsError, bad_json, json_response};
use super::store::Actor;
use crate::app::Shared;
use crate::clock::now_ms;
use crate::query;
use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// `properties` given comma-joined and/or repeated (FIDELITY.md §2.3).
pub fn properties_param(pairs: &[(String, String)]) -> Option<Vec<String>> {
    let v: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "properties")
        .flat_map(|(_, v)| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect();
    if v.is_empty() { None } else { Some(v) }
}

/// `archived=true|True|false`.
pub fn archived_param(pairs: &[(String, String)]) -> Result<bool, HsError> {
    match query::first(pairs, "archived") {
        None | Some("") => Ok(false),
        Some(v) => query::boolean(v).map_err(|_| {
            HsError::validation(format!("Unable to parse archived value '{v}' as a boolean"))
        }),
    }
}

/// The `properties` object of a write body.
pub fn body_properties(v: &Value) -> Result<Map<String, Value>, HsError> {
    match v.get("properties") {
        Some(Value::Object(m)) => Ok(m.clone()),
        None | Some(Value::Null) => Ok(Map::new()),
        Some(_) => Err(HsError::validation("properties must be an object")),
    }
}

/// `GET /crm/v3/objects/contacts?limit&after&properties&archived`.
pub async fn list(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Response {
    let pairs = query::pairs(q.as_deref());
    let limit = match query::first(&pairs, "limit") {
        None | Some("") => 10,
        Some(v) => match v.parse::<usize>() {
            // [H-03] 400 above 100
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return HsError::validation(format!("limit must be between 1 and 100, got {v}"))
                    .into_response();
            }
        },
    };
    let after = match query::first(&pairs, "after") {
        None | Some("") => 0,
        Some(v) => match v.parse::<u64>() {
            Ok(n) => n,
            Err(_) => {
                return HsError::validation(format!("Invalid after cursor: {v}")).into_response();
            }
        },
    };
    let archived = match archived_param(&pairs) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let props = properties_param(&pairs);
    let h = s.hub();
    let mut page: Vec<Value> = Vec::new();
    let mut last = None;
    let mut more = false;
    for c in h
        .contacts
        .range(after..)
        .map(|(_, c)| c)
        .filter(|c| c.archived == archived)
    {
        if page.len() == limit {
            more = true;
            break;
        }
        page.push(h.contact_json(c, props.as_deref()));
        last = Some(c.id);
    }
    let mut body = json!({ "results": page });
    if let (true, Some(l)) = (more, last) {
        let next = (l + 1).to_string();
        // the link repeats the query (properties, archived, …) with the next cursor [doc]
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("limit", &limit.to_string());
        q.append_pair("after", &next);
        for (k, v) in pairs.iter().filter(|(k, _)| k != "limit" && k != "after") {
            q.append_pair(k, v);
        }
        let link = format!("{}/crm/v3/objects/contacts?{}", s.hub_root, q.finish());
        body["paging"] = json!({ "next": { "after": next, "link": link } });
    }
    json_response(200, &body)
}

/// `GET /crm/v3/objects/contacts/{id}?properties&archived&idProperty`.
pub async fn read(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let pairs = query::pairs(q.as_deref());
    let archived = match archived_param(&pairs) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let props = properties_param(&pairs);
    let h = s.hub();
    match h.find(&id, query::first(&pairs, "idProperty"), archived) {
        Ok(Some(c)) => json_response(200, &h.contact_json(c, props.as_deref())),
        Ok(None) => HsError::not_found().into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /crm/v3/objects/contacts`: 201.
pub async fn create(
    State(s): State<Arc<Shared>>,
    Extension(actor): Extension<Actor>,
    body: Bytes,
) -> Response {
    let v = match query::json(&body) {
        Ok(v) => v,
        Err(e) => return bad_json(&e),
    };
    let props = match body_properties(&v) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let now = now_ms();
    let (resp, events) = {
        let mut h = s.hub();
        match h.create(&props, actor, now) {
            Ok(w) => {
                let ev = h.events_for(&w, actor, now);
                let names: Vec<String> = props.keys().cloned().collect();
                (
                    json_response(201, &h.contact_json(&w.contact, Some(&names))),
                    ev,
                )
            }
            Err(e) => (e.into_response(), Vec::new()),
        }
    };
    s.emit(events);
    resp
}

/// `PATCH /crm/v3/objects/contacts/{id}?idProperty`: `""` clears.
pub async fn patch(
    State(s): State<Arc<Shared>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let pairs = query::pairs(q.as_deref());
    let v = match query::json(&body) {
        Ok(v) => v,
        Err(e) => return bad_json(&e),
    };
    let props = match body_properties(&v) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let now = now_ms();
    let (resp, events) = {
        let mut h = s.hub();
        let target = match h.find(&id, query::first(&pairs, "idProperty"), false) {
            Ok(Some(c)) => c.id,
            Ok(None) => return HsError::not_found().into_response(),
            Err(e) => return e.into_response(),
        };
        match h.update(target, &props, now) {
            Ok(w) => {
                let ev = h.events_for(&w, actor, now);
                let names: Vec<String> = props.keys().cloned().collect();
                (
                    json_response(200, &h.contact_json(&w.contact, Some(&names))),
                    ev,
                )
            }
            Err(e) => (e.into_response(), Vec::new()),
        }
    };
    s.emit(events);
    resp
}

/// `DELETE /crm/v3/objects/contacts/{id}`: 204 whatever the prior state [H-05].
pub async fn archive(
    State(s): State<Arc<Shared>>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Response {
    let now = now_ms();
    let events = {
        let mut h = s.hub();
        archive_one(&mut h, &id, actor, now)
    };
    s.emit(events);
    StatusCode::NO_CONTENT.into_response()
}

/// Archive by id and return its events.
pub fn archive_one(
    h: &mut super::store::HubStore,
    id: &str,
    actor: Actor,
    now: i64,
) -> Vec<Map<String, Value>> {
    let Some(c) = id.parse::<u64>().ok().and_then(|id| h.archive(id, now)) else {
        return Vec::new();
    };
    let w = super::store::Written {
        contact: c,
        changed: Vec::new(),
        created: false,
    };
    h.events_for(&w, actor, now)
}
