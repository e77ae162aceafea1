//! The OAuth install flow for systems whose auth is OAuth 2: `/oauth/{system}/start` stores a
//! random single-use `state` and redirects to the consent page; `/oauth/{system}/callback`
//! consumes the `state` (unknown, expired or replayed → 400), exchanges the code, and the
//! connector saves the tokens through the state store. The only routes that call out (the
//! token endpoint); webhook receivers never do.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::mapping::model::Auth;
use crate::store::{OAuthState, Secret};

/// How long an install link stays valid.
const STATE_TTL: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    (
        status,
        Html(format!(
            "<!doctype html><title>{}</title><h1>{}</h1><p>{}</p>\n",
            esc(title),
            esc(title),
            esc(text)
        )),
    )
        .into_response()
}

/// Whether `system` is declared with OAuth 2 auth.
fn is_oauth(state: &AppState, system: &str) -> bool {
    matches!(
        state
            .config()
            .mapping
            .systems
            .get(system)
            .and_then(|s| s.auth.as_ref()),
        Some(Auth::OAuth2(_))
    )
}

fn redirect_uri(state: &AppState, system: &str) -> String {
    state.public(&format!("/oauth/{system}/callback"))
}

/// A random `state`: 256 bits from the OS generator.
fn nonce() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// `GET /oauth/{system}/start`: 302 to the consent page.
pub(super) async fn start(State(state): State<AppState>, Path(system): Path<String>) -> Response {
    let connector = state.config().connectors.get(&system);
    let (true, Some(connector)) = (is_oauth(&state, &system), connector) else {
        return page(
            StatusCode::NOT_FOUND,
            "Unknown system",
            "No system of this mapping installs with OAuth under this name.",
        );
    };
    let value = nonce();
    let record = OAuthState {
        nonce: Secret::new(value.clone()),
        system: system.clone(),
        pkce_verifier: None,
        expires_at: state
            .config()
            .clock
            .now()
            .saturating_add(STATE_TTL)
            .unwrap_or_else(|_| state.config().clock.now()),
    };
    let store = state.config().store.clone();
    let at = state.config().clock.now();
    let saved = tokio::task::spawn_blocking(move || store.create_oauth_state(&record, at)).await;
    if !matches!(saved, Ok(Ok(()))) {
        tracing::error!(system = %system, "Could not store an OAuth state.");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "The state store is not available.",
        );
    }
    let Some(url) = connector.authorize_url(&redirect_uri(&state, &system), &value) else {
        return page(
            StatusCode::NOT_FOUND,
            "Unknown system",
            "This system does not install with OAuth.",
        );
    };
    tracing::info!(system = %system, "Starting an OAuth install.");
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

/// The callback's query.
#[derive(Debug, Deserialize)]
pub(super) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /oauth/{system}/callback?code&state`: checks the state, exchanges the code.
pub(super) async fn callback(
    State(state): State<AppState>,
    Path(system): Path<String>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(connector) = state
        .config()
        .connectors
        .get(&system)
        .filter(|_| is_oauth(&state, &system))
    else {
        return page(
            StatusCode::NOT_FOUND,
            "Unknown system",
            "No system of this mapping installs with OAuth under this name.",
        );
    };
    let Some(nonce) = q.state.filter(|s| !s.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Install refused",
            "The callback carries no state.",
        );
    };
    let store = state.config().store.clone();
    let at = state.config().clock.now();
    let consumed =
        tokio::task::spawn_blocking(move || store.consume_oauth_state(&Secret::new(nonce), at))
            .await;
    let consumed = match consumed {
        Ok(Ok(c)) => c,
        _ => {
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "The state store is not available.",
            );
        }
    };
    match consumed {
        Some(c) if c.system == system => {}
        _ => {
            tracing::warn!(system = %system, "Refused an OAuth callback with an unknown, expired or used state.");
            return page(
                StatusCode::BAD_REQUEST,
                "Install refused",
                "This install link is unknown, expired or already used; start again.",
            );
        }
    }
    if q.error.is_some() {
        return page(
            StatusCode::BAD_REQUEST,
            "Install cancelled",
            "The authorisation was refused.",
        );
    }
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Install refused",
            "The callback carries no code.",
        );
    };
    match connector
        .exchange_code(&code, &redirect_uri(&state, &system))
        .await
    {
        Ok(_) => {
            tracing::info!(system = %system, "Installed: OAuth tokens stored.");
            page(
                StatusCode::OK,
                "Installed",
                &format!("mapsync can now use {system}. You can close this page."),
            )
        }
        Err(error) => {
            tracing::warn!(system = %system, error = %error, "The OAuth code exchange failed.");
            page(
                StatusCode::BAD_GATEWAY,
                "Install failed",
                "The token exchange failed; see mapsync's log, then start again.",
            )
        }
    }
}
