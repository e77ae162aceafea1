//! The HubSpot stand-in: CRM v3 contacts (single, batch, search), properties, webhooks v3
//! management and deliveries, OAuth. Bearer auth for CRM routes, `hapikey` for webhooks.

pub mod batch;
pub mod contacts;
pub mod delivery;
pub mod error;
pub mod oauth;
pub mod properties;
pub mod schema;
pub mod search;
pub mod store;
pub mod webhooks;

use crate::app::Shared;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use error::HsError;
use std::sync::Arc;
use store::Actor;
use tokio::time::Instant;

/// The router of the HubSpot server (API routes only).
pub fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let c = "/crm/v3/objects/contacts";
    let p = "/crm/v3/properties/contacts";
    let crm = Router::new()
        .route(c, get(contacts::list).post(contacts::create))
        .route(&format!("{c}/search"), post(search::search))
        .route(&format!("{c}/batch/{{op}}"), post(batch::dispatch))
        .route(
            &format!("{c}/{{id}}"),
            get(contacts::read)
                .patch(contacts::patch)
                .delete(contacts::archive),
        )
        .route(p, get(properties::list).post(properties::create))
        .route(
            &format!("{p}/groups"),
            get(properties::list_groups).post(properties::create_group),
        )
        .route(
            &format!("{p}/groups/{{name}}"),
            get(properties::read_group)
                .patch(properties::patch_group)
                .delete(properties::archive_group),
        )
        .route(&format!("{p}/batch/{{op}}"), post(properties::batch))
        .route(
            &format!("{p}/{{name}}"),
            get(properties::read)
                .patch(properties::patch)
                .delete(properties::archive),
        )
        .route_layer(middleware::from_fn_with_state(shared.clone(), crm_auth));
    let w = "/webhooks/v3/{app}";
    let hooks = Router::new()
        .route(
            &format!("{w}/settings"),
            get(webhooks::get_settings)
                .put(webhooks::put_settings)
                .delete(webhooks::delete_settings),
        )
        .route(
            &format!("{w}/subscriptions"),
            get(webhooks::list_subs).post(webhooks::create_sub),
        )
        .route(
            &format!("{w}/subscriptions/batch/update"),
            post(webhooks::batch_update),
        )
        .route(
            &format!("{w}/subscriptions/{{id}}"),
            get(webhooks::read_sub)
                .patch(webhooks::update_sub)
                .put(webhooks::update_sub)
                .delete(webhooks::delete_sub),
        )
        .route_layer(middleware::from_fn_with_state(shared, webhooks::auth));
    let oauth = Router::new()
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/oauth/{hub}/authorize", get(oauth::authorize_hub))
        .route("/oauth/v1/token", post(oauth::token))
        .route(
            "/oauth/v1/access-tokens/{token}",
            get(oauth::access_token_info),
        )
        .route(
            "/oauth/v1/refresh-tokens/{token}",
            get(oauth::refresh_token_info).delete(oauth::revoke_refresh),
        );
    crm.merge(hooks).merge(oauth)
}

/// Object types name contacts in any case (`Contacts`, as the 2021 demo's setup wrote it) or by
/// the id `0-1`; the routes spell it `contacts`. Rewrites the path of a request to
/// `/crm/v3/objects/{type}…` or `/crm/v3/properties/{type}…` before routing.
pub fn canonical_object_type(mut req: Request) -> Request {
    let uri = req.uri();
    let path = uri.path();
    let Some((prefix, rest)) = ["/crm/v3/objects/", "/crm/v3/properties/"]
        .iter()
        .find_map(|p| path.strip_prefix(p).map(|rest| (*p, rest)))
    else {
        return req;
    };
    let (object, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if object == "contacts" || !(object.eq_ignore_ascii_case("contacts") || object == "0-1") {
        return req;
    }
    let mut fixed = format!("{prefix}contacts{tail}");
    if let Some(q) = uri.query() {
        fixed.push('?');
        fixed.push_str(q);
    }
    let mut parts = uri.clone().into_parts();
    if let Ok(pq) = fixed.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(u) = axum::http::Uri::from_parts(parts) {
            *req.uri_mut() = u;
        }
    }
    req
}

/// How a bearer token resolves.
pub enum TokenKind {
    PrivateApp,
    /// A live OAuth token with its granted scopes.
    OAuth(Vec<String>),
    Expired(u64),
    Unknown,
}

/// Classify `Authorization: Bearer …`.
pub fn classify(s: &Shared, headers: &axum::http::HeaderMap) -> (TokenKind, String) {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or("")
        .trim()
        .to_string();
    if token.is_empty() {
        return (TokenKind::Unknown, token);
    }
    if token == s.cfg.credentials.hubspot_private_app_token {
        return (TokenKind::PrivateApp, token);
    }
    let h = s.hub();
    let kind = match h.oauth.access.get(&token) {
        Some((exp, scopes)) if *exp > Instant::now() => TokenKind::OAuth(scopes.clone()),
        Some((exp, _)) => {
            TokenKind::Expired(Instant::now().saturating_duration_since(*exp).as_secs())
        }
        None => TokenKind::Unknown,
    };
    (kind, token)
}

/// [H-01] 401 in the general shape; the resolved `Actor` goes into the request's extensions.
async fn crm_auth(State(s): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let actor = match classify(&s, req.headers()).0 {
        TokenKind::PrivateApp => Actor::PrivateApp,
        TokenKind::OAuth(scopes) => {
            let need = required_scopes(req.method().as_str(), req.uri().path());
            if !need.iter().any(|n| scopes.iter().any(|s| s == n)) {
                // [H-01] 403 MISSING_SCOPES in the general shape
                let mut e = HsError::new(
                    403,
                    "MISSING_SCOPES",
                    "This app hasn't been granted all required scopes to make this call.",
                );
                e.context = Some(serde_json::json!({ "requiredScopes": need }));
                return e.into_response();
            }
            Actor::OAuth
        }
        TokenKind::Expired(ago) => {
            // seen in the wild as EXPIRED_AUTHENTICATION; not in the register
            return HsError::new(
                401,
                "EXPIRED_AUTHENTICATION",
                format!("The OAuth token used to make this call expired {ago} second(s) ago."),
            )
            .into_response();
        }
        TokenKind::Unknown => {
            return HsError::new(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
            .into_response();
        }
    };
    req.extensions_mut().insert(actor);
    next.run(req).await
}

/// Any one of these scopes allows the call (the private-app token is granted everything).
fn required_scopes(method: &str, path: &str) -> &'static [&'static str] {
    let read = method == "GET" || path.ends_with("/search") || path.ends_with("/batch/read");
    match (path.starts_with("/crm/v3/properties"), read) {
        (true, true) => &[
            "crm.schemas.contacts.read",
            "crm.schemas.contacts.write",
            "crm.objects.contacts.read",
            "crm.objects.contacts.write",
            "contacts",
        ],
        (true, false) => &["crm.schemas.contacts.write", "contacts"],
        (false, true) => &[
            "crm.objects.contacts.read",
            "crm.objects.contacts.write",
            "contacts",
        ],
        (false, false) => &["crm.objects.contacts.write", "contacts"],
    }
}

/// HubSpot's 404 for unknown paths.
pub async fn fallback() -> Response {
    HsError::not_found().into_response()
}
