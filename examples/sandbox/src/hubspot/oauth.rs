//! OAuth 2 authorization-code flow: `/oauth/authorize` consents at once and redirects with
//! `code` and `state`; `/oauth/v1/token` exchanges codes and refresh tokens; access- and
//! refresh-token metadata (with the installing user) and refresh-token revocation. Access tokens
//! expire after `oauth_access_token_ttl` [H-18, H-19].

use super::error::{HsError, json_response};
use crate::app::Shared;
use crate::query;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;
use std::sync::Arc;
use tokio::time::Instant;

/// Prefix of every access token the sandbox issues.
pub const ACCESS_PREFIX: &str = "sandbox-oat-";

/// `GET /oauth/authorize?client_id&redirect_uri&scope&state` (and `/oauth/{hubId}/authorize`).
pub async fn authorize(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Response {
    let pairs = query::pairs(q.as_deref());
    if query::first(&pairs, "client_id") != Some(s.cfg.credentials.hubspot_client_id.as_str()) {
        return HsError::validation("Unknown client_id").into_response();
    }
    let Some(redirect) = query::first(&pairs, "redirect_uri").and_then(|r| url::Url::parse(r).ok())
    else {
        return HsError::validation("redirect_uri is missing or invalid").into_response();
    };
    let scopes: Vec<String> = query::first(&pairs, "scope")
        .unwrap_or("")
        .split([' ', '+'])
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect();
    if scopes.is_empty() {
        return HsError::validation("scope is required").into_response();
    }
    let code = format!("sandbox-code-{}", uuid::Uuid::new_v4());
    s.hub()
        .oauth
        .codes
        .insert(code.clone(), (redirect.to_string(), scopes));
    let mut target = redirect;
    {
        let mut qp = target.query_pairs_mut();
        qp.append_pair("code", &code);
        if let Some(st) = query::first(&pairs, "state") {
            qp.append_pair("state", st);
        }
    }
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(target.as_str()) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Wrap a path-param variant (`/oauth/{hubId}/authorize`).
pub async fn authorize_hub(s: State<Arc<Shared>>, _hub: Path<String>, q: RawQuery) -> Response {
    authorize(s, q).await
}

fn bad(message: &str) -> Response {
    // [H-19] 400 in the general error shape
    json_response(
        400,
        &json!({"status": "BAD_REQUEST", "message": message, "correlationId": uuid::Uuid::new_v4().to_string(), "category": "VALIDATION_ERROR"}),
    )
}

/// `POST /oauth/v1/token` (form): `authorization_code` and `refresh_token` grants.
pub async fn token(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let f = |k: &str| query::first(&pairs, k).unwrap_or("");
    let creds = &s.cfg.credentials;
    if f("client_id") != creds.hubspot_client_id
        || f("client_secret") != creds.hubspot_client_secret
    {
        return bad("missing or unknown client id or secret");
    }
    let mut h = s.hub();
    let scopes = match f("grant_type") {
        "authorization_code" => {
            let code = f("code");
            let scopes = match h.oauth.codes.get(code) {
                Some((redirect, scopes))
                    if redirect.split('?').next()
                        == Some(f("redirect_uri").split('?').next().unwrap_or("")) =>
                {
                    scopes.clone()
                }
                Some(_) => return bad("redirect_uri does not match the one used to authorize"),
                None => {
                    return json_response(
                        400,
                        &json!({"status": "BAD_AUTH_CODE", "message": "missing or invalid auth code", "correlationId": uuid::Uuid::new_v4().to_string()}),
                    );
                }
            };
            h.oauth.codes.remove(code);
            scopes
        }
        "refresh_token" => match h.oauth.refresh.get(f("refresh_token")) {
            Some(scopes) => scopes.clone(),
            None => {
                return json_response(
                    400,
                    &json!({"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token", "correlationId": uuid::Uuid::new_v4().to_string()}),
                );
            }
        },
        other => return bad(&format!("unsupported grant_type '{other}'")),
    };
    let refresh = if f("grant_type") == "refresh_token" {
        f("refresh_token").to_string()
    } else {
        let r = format!("sandbox-ort-{}", uuid::Uuid::new_v4());
        h.oauth.refresh.insert(r.clone(), scopes.clone()); // [H-18] no expiry until revoked
        r
    };
    let ttl = s.cfg.oauth_access_token_ttl;
    let access = format!("{ACCESS_PREFIX}{}", uuid::Uuid::new_v4());
    h.oauth
        .access
        .insert(access.clone(), (Instant::now() + ttl, scopes.clone()));
    json_response(
        200,
        &json!({
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": ttl.as_secs(),
            "token_use": "access_token",
            "hub_id": creds.hubspot_portal_id,
            "user_id": creds.hubspot_ui_user_id,
            "scopes": scopes,
        }),
    )
}

/// What token metadata says about the installing user and account: the sandbox's UI user
/// (`hubspot_ui_user_id`) installed the app.
fn installer(s: &Shared) -> serde_json::Map<String, serde_json::Value> {
    let c = &s.cfg.credentials;
    let mut m = serde_json::Map::new();
    m.insert(
        "user".into(),
        format!("user{}@sandbox.example", c.hubspot_ui_user_id).into(),
    );
    m.insert("user_id".into(), c.hubspot_ui_user_id.into());
    m.insert("hub_id".into(), c.hubspot_portal_id.into());
    m.insert(
        "hub_domain".into(),
        format!("sandbox-{}.example", c.hubspot_portal_id).into(),
    );
    m
}

/// `GET /oauth/v1/access-tokens/{token}`.
pub async fn access_token_info(State(s): State<Arc<Shared>>, Path(t): Path<String>) -> Response {
    let h = s.hub();
    match h.oauth.access.get(&t) {
        Some((exp, scopes)) if *exp > Instant::now() => {
            let mut body = installer(&s);
            body.insert("token".into(), t.clone().into());
            body.insert("app_id".into(), s.cfg.credentials.hubspot_app_id.into());
            body.insert("scopes".into(), json!(scopes));
            body.insert("token_type".into(), "access".into());
            body.insert(
                "expires_in".into(),
                exp.saturating_duration_since(Instant::now())
                    .as_secs()
                    .into(),
            );
            json_response(200, &body.into())
        }
        _ => HsError::not_found().into_response(),
    }
}

/// `GET /oauth/v1/refresh-tokens/{token}`: `client_id`, `hub_id`, `scopes`, `token`,
/// `token_type`, `user_id`, `hub_domain`, `user` (§2.12).
pub async fn refresh_token_info(State(s): State<Arc<Shared>>, Path(t): Path<String>) -> Response {
    let h = s.hub();
    match h.oauth.refresh.get(&t) {
        Some(scopes) => {
            let mut body = installer(&s);
            body.insert("token".into(), t.clone().into());
            body.insert(
                "client_id".into(),
                s.cfg.credentials.hubspot_client_id.clone().into(),
            );
            body.insert("scopes".into(), json!(scopes));
            body.insert("token_type".into(), "refresh".into());
            json_response(200, &body.into())
        }
        None => HsError::not_found().into_response(),
    }
}

/// `DELETE /oauth/v1/refresh-tokens/{token}`.
pub async fn revoke_refresh(State(s): State<Arc<Shared>>, Path(t): Path<String>) -> Response {
    if s.hub().oauth.refresh.remove(&t).is_some() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        HsError::not_found().into_response()
    }
}
