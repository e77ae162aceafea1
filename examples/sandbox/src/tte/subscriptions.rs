//! 10to8 subscription endpoints: create, list (paged like customers), read, delete [T-15].

use super::customers::{page_body, page_params};
use super::json_response;
use super::store::TteError;
use crate::app::Shared;
use crate::query;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;

pub async fn list(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Response {
    let pairs = query::pairs(q.as_deref());
    let (limit, offset, _) = match page_params(&pairs) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let store = s.tte();
    let all: Vec<Value> = store.subscriptions().map(|x| x.to_json()).collect();
    let count = all.len();
    let results = all.into_iter().skip(offset).take(limit).collect();
    let base = format!("{}/subscription/", store.api_base());
    json_response(
        200,
        &page_body(&base, &pairs, count, limit, offset, results),
    )
}

pub async fn create(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let v = match query::json(&body) {
        Ok(v) => v,
        Err(e) => return TteError::detail(400, &format!("JSON parse error - {e}")).into_response(),
    };
    let res = s.tte().create_subscription(&v);
    match res {
        Ok(sub) => {
            let mut r = json_response(201, &sub.to_json());
            if let Ok(h) = HeaderValue::from_str(&sub.resource_uri) {
                r.headers_mut().insert(header::LOCATION, h);
            }
            r
        }
        Err(e) => e.into_response(),
    }
}

pub async fn read(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let store = s.tte();
    match id.parse::<u64>().ok().and_then(|id| store.subscription(id)) {
        Some(sub) => json_response(200, &sub.to_json()),
        None => TteError::not_found().into_response(),
    }
}

pub async fn delete(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let ok = id
        .parse::<u64>()
        .is_ok_and(|id| s.tte().delete_subscription(id));
    if ok {
        StatusCode::NO_CONTENT.into_response()
    } else {
        TteError::not_found().into_response()
    }
}
