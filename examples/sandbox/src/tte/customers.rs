//! 10to8 customer endpoints: list (paged), read, create, PATCH, DELETE.

use super::json_response;
use super::store::TteError;
use crate::app::Shared;
use crate::query;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;

fn bad_json(e: String) -> Response {
    TteError::detail(400, &format!("JSON parse error - {e}")).into_response()
}

/// `GET /customer/?limit&offset&include_deleted` [T-04, T-05, T-06, T-11].
pub async fn list(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Response {
    let pairs = query::pairs(q.as_deref());
    let (limit, offset, include_deleted) = match page_params(&pairs) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let store = s.tte();
    let all: Vec<&super::store::Customer> = store
        .all()
        .filter(|c| include_deleted || !c.deleted)
        .collect();
    let results: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|c| c.to_json(include_deleted, store.unset_custom_fields))
        .collect();
    let base = format!("{}/customer/", store.api_base());
    let body = page_body(&base, &pairs, all.len(), limit, offset, results);
    json_response(200, &body)
}

/// Read `limit`, `offset` and `include_deleted`.
pub fn page_params(pairs: &[(String, String)]) -> Result<(usize, usize, bool), TteError> {
    let limit = match query::first(pairs, "limit") {
        None | Some("") => 10,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n > 100 => {
                return Err(field_err(
                    "limit",
                    "Ensure this value is less than or equal to 100.",
                ));
            }
            Ok(n) if n < 1 => {
                return Err(field_err(
                    "limit",
                    "Ensure this value is greater than or equal to 1.",
                ));
            }
            Ok(n) => n as usize,
            Err(_) => return Err(field_err("limit", "A valid integer is required.")),
        },
    };
    let offset = match query::first(pairs, "offset") {
        None | Some("") => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| field_err("offset", "A valid integer is required."))?,
    };
    let include_deleted = match query::first(pairs, "include_deleted") {
        None | Some("") => false,
        Some(v) => query::boolean(v)
            .map_err(|_| field_err("include_deleted", "Must be a valid boolean."))?,
    };
    Ok((limit, offset, include_deleted))
}

fn field_err(field: &str, msg: &str) -> TteError {
    TteError {
        status: 400,
        body: json!({ field: [msg] }),
    }
}

/// DRF limit/offset envelope with absolute `next`/`previous` links [T-04].
pub fn page_body(
    base: &str,
    pairs: &[(String, String)],
    count: usize,
    limit: usize,
    offset: usize,
    results: Vec<Value>,
) -> Value {
    let link = |off: usize| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            if k != "limit" && k != "offset" {
                ser.append_pair(k, v);
            }
        }
        ser.append_pair("limit", &limit.to_string());
        if off > 0 {
            ser.append_pair("offset", &off.to_string());
        }
        format!("{base}?{}", ser.finish())
    };
    let next = if offset + limit < count {
        Value::String(link(offset + limit))
    } else {
        Value::Null
    };
    let previous = if offset > 0 {
        Value::String(link(offset.saturating_sub(limit)))
    } else {
        Value::Null
    };
    json!({ "count": count, "next": next, "previous": previous, "results": results })
}

/// `GET <resource_uri>`: 404 when deleted.
pub async fn read(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let store = s.tte();
    match id.parse::<u64>().ok().and_then(|id| store.get(id)) {
        Some(c) if !c.deleted => json_response(200, &c.to_json(false, store.unset_custom_fields)),
        _ => TteError::not_found().into_response(),
    }
}

/// `POST /customer/`: 201 + `Location` + full body [T-07].
pub async fn create(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let v = match query::json(&body) {
        Ok(v) => v,
        Err(e) => return bad_json(e),
    };
    let (res, unset) = {
        let mut store = s.tte();
        (store.create(&v), store.unset_custom_fields)
    };
    match res {
        Ok(c) => {
            s.notify_customer(&c.resource_uri);
            let mut r = json_response(201, &c.to_json(false, unset));
            if let Ok(h) = HeaderValue::from_str(&c.resource_uri) {
                r.headers_mut().insert(header::LOCATION, h);
            }
            r
        }
        Err(e) => e.into_response(),
    }
}

/// `PATCH <resource_uri>` [T-08].
pub async fn patch(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return TteError::not_found().into_response();
    };
    let v = match query::json(&body) {
        Ok(v) => v,
        Err(e) => return bad_json(e),
    };
    let (res, unset) = {
        let mut store = s.tte();
        (store.patch(id, &v), store.unset_custom_fields)
    };
    match res {
        Ok(c) => {
            s.notify_customer(&c.resource_uri);
            json_response(200, &c.to_json(false, unset))
        }
        Err(e) => e.into_response(),
    }
}

/// `DELETE <resource_uri>?force=True` [T-10].
pub async fn delete(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return TteError::not_found().into_response();
    };
    let pairs = query::pairs(q.as_deref());
    let force = query::first(&pairs, "force").is_some_and(|v| query::boolean(v) == Ok(true));
    let res = s.tte().delete(id, force);
    match res {
        Ok(c) => {
            s.notify_customer(&c.resource_uri);
            axum::http::StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => e.into_response(),
    }
}
