//! The 10to8 Enterprise API v2 stand-in: routes, token auth, DRF-shaped answers.

pub mod customers;
pub mod notify;
pub mod store;
pub mod subscriptions;

use crate::app::Shared;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;
use store::TteError;

/// The router of the 10to8 server (API routes only; the gate and control routes are added
/// by `app`).
pub fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let p = "/api/enterprise/v2";
    Router::new()
        .route(
            &format!("{p}/customer/"),
            get(customers::list).post(customers::create),
        )
        .route(
            &format!("{p}/customer/{{id}}/"),
            get(customers::read)
                .patch(customers::patch)
                .delete(customers::delete),
        )
        .route(
            &format!("{p}/subscription/"),
            get(subscriptions::list).post(subscriptions::create),
        )
        .route(
            &format!("{p}/subscription/{{id}}/"),
            get(subscriptions::read).delete(subscriptions::delete),
        )
        .route_layer(middleware::from_fn_with_state(shared, auth))
}

/// [T-02] `Authorization: token KEY`, keyword compared case-insensitively; DRF 401 texts.
async fn auth(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    match check(req.headers(), &s.cfg.credentials.tte_api_key) {
        Ok(()) => next.run(req).await,
        Err(msg) => {
            let mut r = json_response(401, &json!({ "detail": msg }));
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
            r
        }
    }
}

fn check(h: &HeaderMap, key: &str) -> Result<(), &'static str> {
    let Some(v) = h.get(header::AUTHORIZATION) else {
        return Err("Authentication credentials were not provided.");
    };
    let v = v
        .to_str()
        .map_err(|_| "Invalid token header. Token string should not contain invalid characters.")?;
    let mut parts = v.split(' ');
    let kw = parts.next().unwrap_or("");
    if !kw.eq_ignore_ascii_case("token") {
        return Err("Authentication credentials were not provided.");
    }
    let rest: Vec<&str> = parts.collect();
    match rest.as_slice() {
        [] | [""] => Err("Invalid token header. No credentials provided."),
        [k] if *k == key => Ok(()),
        [_] => Err("Invalid token."),
        _ => Err("Invalid token header. Token string should not contain spaces."),
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

impl IntoResponse for TteError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

/// DRF's 404 for unknown paths.
pub async fn fallback() -> Response {
    TteError::not_found().into_response()
}

/// [T-14] DRF's throttle answer.
pub fn throttled(secs: u64) -> Response {
    let mut r = json_response(
        429,
        &json!({ "detail": format!("Request was throttled. Expected available in {secs} seconds.") }),
    );
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// An injected server error in DRF's shape.
pub fn server_error(status: u16) -> Response {
    let msg = if status == 503 {
        "Service temporarily unavailable, try again later."
    } else {
        "A server error occurred."
    };
    json_response(status, &json!({ "detail": msg }))
}
