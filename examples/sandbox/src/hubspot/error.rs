//! HubSpot's error bodies (FIDELITY.md §2.6): the general shape, the property-validation form with
//! its array serialised in `message`, the batch StandardError, and the 429 bodies.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// One HubSpot error.
#[derive(Debug, Clone)]
pub struct HsError {
    pub status: u16,
    pub category: String,
    pub message: String,
    pub context: Option<Value>,
}

impl HsError {
    pub fn new(status: u16, category: &str, message: impl Into<String>) -> Self {
        HsError {
            status,
            category: category.into(),
            message: message.into(),
            context: None,
        }
    }

    /// [H-08] 404 `OBJECT_NOT_FOUND`, message `resource not found`.
    pub fn not_found() -> Self {
        Self::new(404, "OBJECT_NOT_FOUND", "resource not found")
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "VALIDATION_ERROR", message)
    }

    /// `Property values were not valid: [ {isValid,message,error,name}, … ]`.
    pub fn property_values(items: &[(String, String, String)]) -> Self {
        let arr: Vec<Value> = items
            .iter()
            .map(|(name, error, message)| json!({"isValid": false, "message": message, "error": error, "name": name}))
            .collect();
        let text = serde_json::to_string(&arr).unwrap_or_default();
        Self::validation(format!("Property values were not valid: {text}"))
    }

    /// The 409 for a duplicate email: `Contact already exists. Existing ID: N`.
    pub fn duplicate(existing: u64) -> Self {
        Self::new(
            409,
            "CONFLICT",
            format!("Contact already exists. Existing ID: {existing}"),
        )
    }

    /// The general shape: status, message, correlationId, category (+ context).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("status".into(), "error".into());
        m.insert("message".into(), self.message.clone().into());
        m.insert(
            "correlationId".into(),
            uuid::Uuid::new_v4().to_string().into(),
        );
        m.insert("category".into(), self.category.clone().into());
        if let Some(c) = &self.context {
            m.insert("context".into(), c.clone());
        }
        Value::Object(m)
    }

    /// StandardError inside a 207 batch answer: always has `errors` and `links`.
    pub fn batch_json(&self) -> Value {
        json!({
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": self.context.clone().unwrap_or_else(|| json!({})),
            "errors": [],
            "links": {},
        })
    }
}

impl IntoResponse for HsError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.to_json())
    }
}

/// A JSON answer.
pub fn json_response(status: u16, body: &Value) -> Response {
    let st = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        st,
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// 429 `RATE_LIMIT` with `Retry-After` [H-09].
pub fn rate_limited(policy: &str, secs: u64) -> Response {
    let message = match policy {
        "SECONDLY" => "You have reached your secondly limit.",
        "DAILY" => "You have reached your daily limit.",
        _ => "You have reached your ten_secondly_rolling limit.",
    };
    let mut body = json!({
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": uuid::Uuid::new_v4().to_string(),
        "policyName": policy,
    });
    // §2.7: the daily form carries `requestId`, the rolling forms `groupName`
    if policy == "DAILY" {
        body["requestId"] = uuid::Uuid::new_v4().to_string().into();
    } else {
        body["groupName"] = "publicapi:sandbox".into();
    }
    let mut r = json_response(429, &body);
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// An injected 5xx in the general shape.
pub fn server_error(status: u16) -> Response {
    let (cat, msg) = if status == 503 {
        ("SERVICE_UNAVAILABLE", "Service Unavailable")
    } else {
        ("INTERNAL_ERROR", "internal error")
    };
    HsError::new(status, cat, msg).into_response()
}

/// Invalid JSON body.
pub fn bad_json(e: &str) -> Response {
    HsError::validation(format!("Invalid input JSON: {e}")).into_response()
}
