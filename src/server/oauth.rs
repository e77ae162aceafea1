//! The OAuth install flow for systems whose auth is OAuth 2, with the operator's authority:
//! `mapsync oauth-link <system>` stores a single-use, short-lived install link
//! ([`create_install_link`]); `/oauth/{system}/start?link=…` consumes it (missing, unknown,
//! used or expired → 403, and nothing is written), stores a random single-use `state` and
//! redirects to the consent page; `/oauth/{system}/callback` consumes the `state` (unknown,
//! expired or replayed → 400), exchanges the code, and the connector saves the tokens through
//! the state store. The only routes that call out (the token endpoint); webhook receivers never
//! do.
//!
//! Links and `state`s are both rows of the store's OAuth-state table (stored as hashes, single
//! use, with an expiry); the row's `system` field says which it is ([`Purpose`]), so a `state`
//! seen in a consent URL is never accepted as an install link, nor a link as a `state`.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;
use url::Url;

use super::AppState;
use crate::mapping::model::{Auth, Mapping};
use crate::store::{OAuthState, Secret, StateStore, StoreError};

/// How long a `state` (from `/start` to the callback) stays valid.
const STATE_TTL: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

/// How long an install link from `mapsync oauth-link` stays valid.
pub const LINK_TTL: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// At most this many `state` rows are written per minute, whoever asks (each needs a link, so
/// this only bounds a leaked-link storm).
pub(super) const STATES_PER_MINUTE: u32 = 30;

/// What an OAuth-state row is for, encoded in its `system` field as `<kind>[+replace]:<system>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// An install link minted by the operator: may start one install.
    Link { replace: bool },
    /// A `state` sent to the consent page: may finish one install.
    Callback { replace: bool },
}

impl Purpose {
    fn tag(self, system: &str) -> String {
        let (kind, replace) = match self {
            Purpose::Link { replace } => ("install-link", replace),
            Purpose::Callback { replace } => ("install", replace),
        };
        let plus = if replace { "+replace" } else { "" };
        format!("{kind}{plus}:{system}")
    }

    /// The purpose a row's `system` field encodes for `system`, if any.
    fn of(tag: &str, system: &str) -> Option<Purpose> {
        [
            Purpose::Link { replace: false },
            Purpose::Link { replace: true },
            Purpose::Callback { replace: false },
            Purpose::Callback { replace: true },
        ]
        .into_iter()
        .find(|p| p.tag(system) == tag)
    }
}

/// Why an install link could not be made.
#[derive(Debug, thiserror::Error)]
pub enum InstallLinkError {
    /// The mapping declares no system of that name with OAuth 2 auth.
    #[error(
        "no system named `{0}` installs with OAuth in this mapping; name a system whose auth is oauth2"
    )]
    NotOAuth(String),
    /// The store could not keep the link.
    #[error("the state store could not keep the install link: {0}")]
    Store(#[from] StoreError),
}

/// Mints a single-use install link for `system`, valid for [`LINK_TTL`] from `now`:
/// `<public_url>/oauth/<system>/start?link=<256 random bits>`. Only its hash is stored. With
/// `replace_account`, the install it starts may move the system to another account than the
/// pinned one.
pub fn create_install_link(
    store: &dyn StateStore,
    mapping: &Mapping,
    system: &str,
    public_url: &Url,
    now: Timestamp,
    replace_account: bool,
) -> Result<String, InstallLinkError> {
    if !matches!(
        mapping.systems.get(system).and_then(|s| s.auth.as_ref()),
        Some(Auth::OAuth2(_))
    ) {
        return Err(InstallLinkError::NotOAuth(system.to_string()));
    };
    let value = nonce();
    store.create_oauth_state(
        &OAuthState {
            nonce: Secret::new(value.clone()),
            system: Purpose::Link {
                replace: replace_account,
            }
            .tag(system),
            pkce_verifier: None,
            expires_at: now.saturating_add(LINK_TTL).unwrap_or(now),
        },
        now,
    )?;
    Ok(format!(
        "{}/oauth/{system}/start?link={value}",
        public_url.as_str().trim_end_matches('/')
    ))
}

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

/// The start route's query.
#[derive(Debug, Deserialize)]
pub(super) struct StartQuery {
    link: Option<String>,
}

fn forbidden(state: &AppState) -> Response {
    super::Metrics::bump(&state.metrics().rejected_oauth);
    page(
        StatusCode::FORBIDDEN,
        "Install link needed",
        "Starting an install needs a fresh link from the operator: run `mapsync oauth-link <system>` and open the link it prints within 15 minutes.",
    )
}

/// `GET /oauth/{system}/start?link=…`: consumes the operator's install link, then 302 to the
/// consent page. Without a valid link: 403, and nothing is stored.
pub(super) async fn start(
    State(state): State<AppState>,
    Path(system): Path<String>,
    Query(q): Query<StartQuery>,
) -> Response {
    let connector = state.config().connectors.get(&system);
    let (true, Some(connector)) = (is_oauth(&state, &system), connector) else {
        return page(
            StatusCode::NOT_FOUND,
            "Unknown system",
            "No system of this mapping installs with OAuth under this name.",
        );
    };
    let Some(link) = q.link.filter(|l| !l.is_empty() && l.len() <= 128) else {
        return forbidden(&state);
    };
    if !state.take_state_budget() {
        super::Metrics::bump(&state.metrics().rejected_oauth);
        return page(
            StatusCode::TOO_MANY_REQUESTS,
            "Try again",
            "Too many installs were started this minute; try again in a minute.",
        );
    }
    let store = state.config().store.clone();
    let at = state.config().clock.now();
    let consumed =
        tokio::task::spawn_blocking(move || store.consume_oauth_state(&Secret::new(link), at))
            .await;
    let replace = match consumed {
        Ok(Ok(Some(c))) => match Purpose::of(&c.system, &system) {
            Some(Purpose::Link { replace }) => replace,
            _ => {
                tracing::warn!(system = %system, "Refused an OAuth start without a valid install link.");
                return forbidden(&state);
            }
        },
        Ok(Ok(None)) => {
            tracing::warn!(system = %system, "Refused an OAuth start without a valid install link.");
            return forbidden(&state);
        }
        _ => {
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "The state store is not available.",
            );
        }
    };
    let value = nonce();
    let record = OAuthState {
        nonce: Secret::new(value.clone()),
        system: Purpose::Callback { replace }.tag(&system),
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
    let replace = match consumed.and_then(|c| Purpose::of(&c.system, &system)) {
        Some(Purpose::Callback { replace }) => replace,
        _ => {
            super::Metrics::bump(&state.metrics().rejected_oauth);
            tracing::warn!(system = %system, "Refused an OAuth callback with an unknown, expired or used state.");
            return page(
                StatusCode::BAD_REQUEST,
                "Install refused",
                "This install link is unknown, expired or already used; start again.",
            );
        }
    };
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
        .exchange_code(&code, &redirect_uri(&state, &system), replace)
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
