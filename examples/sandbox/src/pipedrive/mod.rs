//! The Pipedrive API v1 stand-in: persons, person fields and webhooks, `api_token` auth, and
//! Pipedrive's `{success, data, additional_data}` envelopes.

pub mod persons;
pub mod seed;
pub mod store;
pub mod webhooks;

use crate::app::Shared;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::{Value, json};
use std::sync::Arc;
use store::PdError;

/// The router of the Pipedrive server (API routes only).
pub fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/persons", get(persons::list).post(persons::create))
        .route(
            "/v1/persons/{id}",
            get(persons::read)
                .put(persons::update)
                .delete(persons::delete),
        )
        .route("/v1/personFields", get(persons::fields))
        .route("/v1/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/v1/webhooks/{id}", delete(webhooks::delete))
        .route_layer(middleware::from_fn_with_state(shared, auth))
}

/// [P-01] `?api_token=` must equal the account's token; otherwise 401.
async fn auth(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let q = crate::query::pairs(req.uri().query());
    match crate::query::first(&q, "api_token") {
        Some(t) if t == s.cfg.pipedrive.api_token => next.run(req).await,
        _ => PdError::new(401, "unauthorized access").into_response(),
    }
}

/// A JSON answer with a status.
pub fn json_response(status: u16, body: &Value) -> Response {
    let st = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        st,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

impl IntoResponse for PdError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

/// Unknown paths: 404 in the error shape.
pub async fn fallback() -> Response {
    PdError::new(404, "Unknown method .").into_response()
}

/// [P-15] The rate-limit answer: 429 with `Retry-After`.
pub fn throttled(secs: u64) -> Response {
    let mut r = PdError::new(429, "Request over limit").into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// An injected server error in the error shape.
pub fn server_error(status: u16) -> Response {
    PdError::new(status, "Internal server error").into_response()
}

/// `{"success": true, "data": data}` with a status.
pub fn ok(status: u16, data: Value) -> Response {
    json_response(status, &json!({ "success": true, "data": data }))
}
