//! OAuth 2 tokens for one system: where they are kept (`TokenProvider`, implemented by the
//! store), the in-memory copy behind a per-system async lock so concurrent callers never race a
//! refresh, the provider's lock so other processes sharing the store do not either, the
//! refresh-token grant, and the authorization-code exchange of the install flow.
//! It never touches the store directly, and never logs a token.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

use super::error::{ConnectorError, Result, api_text};
use super::transport::{Body, Incoming, Outgoing, Transport};
use crate::mapping::model::{ErrorClass, Method, OAuth2, Secret};

/// An error from wherever tokens are kept.
pub type TokenStoreError = Box<dyn std::error::Error + Send + Sync>;

/// The tokens an install or a refresh produced.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthTokens {
    /// Sent as the bearer token.
    pub access_token: Secret,
    /// Exchanged for a new access token when it expires.
    pub refresh_token: Option<Secret>,
    /// When the access token stops working, if the server said.
    pub expires_at: Option<jiff::Timestamp>,
    /// The account the tokens belong to (the mapping's `auth.oauth2.account` in the token
    /// answer): the pinned account once saved.
    pub account: Option<String>,
}

impl OAuthTokens {
    /// True when the token expires within `margin` (or has expired).
    pub fn expires_within(&self, margin: Duration, now: jiff::Timestamp) -> bool {
        match self.expires_at {
            None => false,
            Some(at) => at.duration_since(now).as_secs_f64() <= margin.as_secs_f64(),
        }
    }
}

/// A held lock on refreshing a system's tokens; dropping it releases the lock.
pub type RefreshLock = Box<dyn Send + Sync>;

/// Where a system's tokens are kept between runs (the state store). Calls may block briefly:
/// the connector makes them off the async workers.
pub trait TokenProvider: Send + Sync + 'static {
    /// The tokens saved for `system`, if any.
    fn load(&self, system: &str) -> std::result::Result<Option<OAuthTokens>, TokenStoreError>;
    /// Saves (replaces) the tokens for `system`.
    fn save(&self, system: &str, tokens: &OAuthTokens) -> std::result::Result<(), TokenStoreError>;
    /// Takes the lock on refreshing `system`'s tokens that every process keeping them in the
    /// same place respects, waiting while another holder refreshes; the refresh then loads
    /// the tokens again and uses the holder's new ones instead of calling the token endpoint.
    /// `None` (the default) when the tokens are this process's alone: the session's own lock
    /// is then enough.
    fn lock_refresh(
        &self,
        system: &str,
    ) -> std::result::Result<Option<RefreshLock>, TokenStoreError> {
        let _ = system;
        Ok(None)
    }
}

/// Tokens kept in memory only (tests, dry runs).
#[derive(Debug, Default)]
pub struct MemoryTokens {
    tokens: std::sync::Mutex<std::collections::BTreeMap<String, OAuthTokens>>,
}

impl MemoryTokens {
    /// Starts with the given tokens for a system.
    pub fn with(system: &str, tokens: OAuthTokens) -> MemoryTokens {
        let m = MemoryTokens::default();
        m.lock().insert(system.to_string(), tokens);
        m
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, OAuthTokens>> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl TokenProvider for MemoryTokens {
    fn load(&self, system: &str) -> std::result::Result<Option<OAuthTokens>, TokenStoreError> {
        Ok(self.lock().get(system).cloned())
    }

    fn save(&self, system: &str, tokens: &OAuthTokens) -> std::result::Result<(), TokenStoreError> {
        self.lock().insert(system.to_string(), tokens.clone());
        Ok(())
    }
}

/// One system's OAuth state, shared by every clone of its connector.
pub(crate) struct OAuthSession {
    system: String,
    config: OAuth2,
    provider: Option<Arc<dyn TokenProvider>>,
    /// The tokens in use. Held across a refresh, so one caller refreshes and the others wait
    /// for its result instead of refreshing again (refresh tokens may be single-use).
    current: Mutex<Option<OAuthTokens>>,
    /// Refreshes made, for the stats.
    pub(crate) refreshes: std::sync::atomic::AtomicU64,
    /// Every access and refresh token this session has held, so messages can be scrubbed of
    /// them without waiting for the async lock.
    seen: std::sync::Mutex<Vec<Secret>>,
}

impl OAuthSession {
    pub(crate) fn new(
        system: &str,
        config: OAuth2,
        provider: Option<Arc<dyn TokenProvider>>,
    ) -> OAuthSession {
        OAuthSession {
            system: system.to_string(),
            config,
            provider,
            current: Mutex::new(None),
            refreshes: Default::default(),
            seen: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Remembers `tokens` for scrubbing; gives them back.
    fn remember(&self, tokens: Option<OAuthTokens>) -> Option<OAuthTokens> {
        if let Some(t) = &tokens {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            for s in std::iter::once(&t.access_token).chain(t.refresh_token.as_ref()) {
                if !seen.contains(s) {
                    seen.push(s.clone());
                }
            }
        }
        tokens
    }

    /// Every secret this session may send or has received: the client secret, the static
    /// token, and every access and refresh token held so far.
    pub(crate) fn secrets(&self) -> Vec<Secret> {
        let mut out = vec![self.config.client_secret.clone()];
        out.extend(self.config.static_token.clone());
        out.extend(
            self.seen
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .cloned(),
        );
        out
    }

    /// The scheme the token is sent with (`Bearer`).
    pub(crate) fn scheme(&self) -> &str {
        &self.config.scheme
    }

    /// True when a static token is configured (nothing to refresh).
    pub(crate) fn is_static(&self) -> bool {
        self.config.static_token.is_some()
    }

    /// The access token to send now: the static one, else the kept one, refreshed first when
    /// it expires within `refresh_before`.
    pub(crate) async fn access_token(&self, transport: &dyn Transport) -> Result<Secret> {
        if let Some(t) = &self.config.static_token {
            return Ok(t.clone());
        }
        let mut current = self.current.lock().await;
        if current.is_none() {
            *current = self.remember(self.load().await?);
        }
        let Some(tokens) = current.as_ref() else {
            return Err(self.auth_error(
                "no OAuth token is installed; run `mapsync serve` and open its OAuth install \
                 link for this system, or set the static token the mapping names"
                    .to_string(),
            ));
        };
        if tokens.expires_within(self.config.refresh_before, jiff::Timestamp::now()) {
            let fresh = self.refresh(transport, tokens).await?;
            *current = self.remember(Some(fresh));
        }
        match current.as_ref() {
            Some(t) => Ok(t.access_token.clone()),
            None => Err(ConnectorError::Internal(
                "the OAuth token vanished during a refresh".to_string(),
            )),
        }
    }

    /// After a 401 to a request sent with `used`: refresh, unless another caller already
    /// replaced that token, then give the token to retry with.
    pub(crate) async fn after_unauthorized(
        &self,
        transport: &dyn Transport,
        used: &Secret,
    ) -> Result<Secret> {
        let mut current = self.current.lock().await;
        match current.as_ref() {
            Some(t) if t.access_token != *used => Ok(t.access_token.clone()),
            Some(t) => {
                let fresh = self.refresh(transport, t).await?;
                let token = fresh.access_token.clone();
                *current = self.remember(Some(fresh));
                Ok(token)
            }
            None => Err(self.auth_error(
                "the API refused the OAuth token and none is installed; reinstall the app"
                    .to_string(),
            )),
        }
    }

    /// Exchanges an authorization code from the install flow for tokens, saves and uses them.
    /// Where the mapping declares `account`, the answer must name one, and it must be the
    /// account already pinned (the saved tokens') unless `replace_account`; otherwise nothing
    /// is saved and the tokens in use stay.
    pub(crate) async fn exchange_code(
        &self,
        transport: &dyn Transport,
        code: &str,
        redirect_uri: &str,
        replace_account: bool,
    ) -> Result<OAuthTokens> {
        let form = vec![
            ("grant_type".to_string(), "authorization_code".to_string()),
            ("code".to_string(), code.to_string()),
            ("redirect_uri".to_string(), redirect_uri.to_string()),
            ("client_id".to_string(), self.config.client_id.clone()),
            (
                "client_secret".to_string(),
                self.config.client_secret.expose().to_string(),
            ),
        ];
        let mut current = self.current.lock().await;
        let answer = self.token_call(transport, form).await?;
        let tokens = self.tokens_from(answer, None, "exchanging the install code")?;
        if self.config.account.is_some() {
            let Some(new) = tokens.account.as_deref() else {
                return Err(self.auth_error(
                    "the token answer names no account at the mapping's auth.oauth2.account \
                     path; check that path"
                        .to_string(),
                ));
            };
            let pinned = self.load().await?.and_then(|t| t.account);
            if let Some(pinned) = pinned.filter(|p| p != new && !replace_account) {
                return Err(self.auth_error(format!(
                    "this install is for account {new}, but mapsync is pinned to account \
                     {pinned}; nothing was changed. To switch accounts, make a link with \
                     `mapsync oauth-link {} --replace-account`",
                    self.system
                )));
            }
        }
        self.save(&tokens).await?;
        *current = self.remember(Some(tokens.clone()));
        Ok(tokens)
    }

    /// The consent page URL for the install flow.
    pub(crate) fn authorize_url(&self, redirect_uri: &str, state: &str) -> Url {
        let mut u = self.config.authorize_url.clone();
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("client_id", &self.config.client_id);
            q.append_pair("redirect_uri", redirect_uri);
            if !self.config.scopes.is_empty() {
                q.append_pair("scope", &self.config.scopes.join(" "));
            }
            q.append_pair("state", state);
            q.append_pair("response_type", "code");
        }
        u
    }

    /// Refreshes `old`, the tokens this session holds, under the lock shared with every process
    /// keeping the tokens in the same place: once it is held, the tokens are loaded again, and
    /// if another holder replaced `old` meanwhile with tokens that are not about to expire,
    /// those are used and the token endpoint is not called.
    async fn refresh(&self, transport: &dyn Transport, old: &OAuthTokens) -> Result<OAuthTokens> {
        let _lock = self.lock_refresh().await?;
        let old = match self.load().await? {
            Some(stored) if stored.access_token != old.access_token => {
                if !stored.expires_within(self.config.refresh_before, jiff::Timestamp::now()) {
                    tracing::debug!(system = %self.system, "Another process refreshed the OAuth token; using it.");
                    return Ok(stored);
                }
                // Replaced, but expiring too: its refresh token is the newest one.
                stored
            }
            _ => old.clone(),
        };
        let old = &old;
        let Some(refresh_token) = &old.refresh_token else {
            return Err(self.auth_error(
                "the OAuth token expired and there is no refresh token; reinstall the app \
                 (`mapsync serve`, OAuth install link)"
                    .to_string(),
            ));
        };
        let form = vec![
            ("grant_type".to_string(), "refresh_token".to_string()),
            (
                "refresh_token".to_string(),
                refresh_token.expose().to_string(),
            ),
            ("client_id".to_string(), self.config.client_id.clone()),
            (
                "client_secret".to_string(),
                self.config.client_secret.expose().to_string(),
            ),
        ];
        let answer = self.token_call(transport, form).await?;
        let mut tokens =
            self.tokens_from(answer, Some(refresh_token), "refreshing the OAuth token")?;
        match (&old.account, &tokens.account) {
            (Some(pinned), Some(new)) if pinned != new => {
                return Err(self.auth_error(format!(
                    "a token refresh answered for account {new}, not the pinned account \
                     {pinned}; the new tokens were not used. Reinstall with `mapsync oauth-link`"
                )));
            }
            _ => tokens.account = tokens.account.or_else(|| old.account.clone()),
        }
        self.save(&tokens).await?;
        self.refreshes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(system = %self.system, "Refreshed the OAuth token.");
        Ok(tokens)
    }

    async fn token_call(
        &self,
        transport: &dyn Transport,
        form: Vec<(String, String)>,
    ) -> Result<Incoming> {
        let req = Outgoing {
            method: Method::Post,
            url: self.config.token_url.clone(),
            headers: vec![("accept".into(), "application/json".into(), false)],
            body: Some(Body::Form(form)),
        };
        transport
            .send(req)
            .await
            .map_err(|e| ConnectorError::Transport {
                system: self.system.clone(),
                method: "POST",
                path: self.config.token_url.path().to_string(),
                kind: e.kind,
                message: e.message,
                attempts: 1,
            })
    }

    fn tokens_from(
        &self,
        answer: Incoming,
        previous_refresh: Option<&Secret>,
        doing: &str,
    ) -> Result<OAuthTokens> {
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if !(200..300).contains(&answer.status) {
            let text = self.scrub(api_text(&body));
            if answer.status >= 500 || answer.status == 429 {
                return Err(ConnectorError::Http {
                    system: self.system.clone(),
                    method: "POST",
                    path: self.config.token_url.path().to_string(),
                    status: answer.status,
                    class: if answer.status == 429 {
                        ErrorClass::RateLimited
                    } else {
                        ErrorClass::Transient
                    },
                    message: format!("{doing} failed: {text}"),
                    retry_after: None,
                    attempts: 1,
                });
            }
            return Err(self.auth_error(format!(
                "{doing} failed ({} {text}); check client_id and client_secret, or reinstall \
                 the app (`mapsync serve`, OAuth install link)",
                answer.status
            )));
        }
        let access = body.get("access_token").and_then(Value::as_str);
        let Some(access) = access.filter(|a| !a.is_empty()) else {
            return Err(self.auth_error(format!(
                "{doing}: the token endpoint answered without an access_token; check token_url"
            )));
        };
        let refresh = body
            .get("refresh_token")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .map(Secret::new)
            .or_else(|| previous_refresh.cloned());
        let expires_in = match body.get("expires_in") {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        let expires_at = expires_in
            .and_then(|s| jiff::SignedDuration::try_from_secs_f64(s.max(0.0)).ok())
            .and_then(|d| jiff::Timestamp::now().checked_add(d).ok());
        let account = self
            .config
            .account
            .as_ref()
            .and_then(|p| p.first_text(&body));
        Ok(OAuthTokens {
            access_token: Secret::new(access),
            refresh_token: refresh,
            expires_at,
            account,
        })
    }

    async fn load(&self) -> Result<Option<OAuthTokens>> {
        let Some(p) = self.provider.clone() else {
            return Ok(None);
        };
        let system = self.system.clone();
        let loaded = tokio::task::spawn_blocking(move || p.load(&system))
            .await
            .map_err(|e| ConnectorError::Internal(format!("loading OAuth tokens: {e}")))?;
        loaded.map_err(|e| {
            self.auth_error(format!(
                "the saved OAuth tokens could not be read ({e}); check the state store"
            ))
        })
    }

    async fn lock_refresh(&self) -> Result<Option<RefreshLock>> {
        let Some(p) = self.provider.clone() else {
            return Ok(None);
        };
        let system = self.system.clone();
        let locked = tokio::task::spawn_blocking(move || p.lock_refresh(&system))
            .await
            .map_err(|e| ConnectorError::Internal(format!("locking the OAuth refresh: {e}")))?;
        locked.map_err(|e| {
            self.auth_error(format!(
                "the OAuth token could not be refreshed: {e}; it is tried again later"
            ))
        })
    }

    async fn save(&self, tokens: &OAuthTokens) -> Result<()> {
        let Some(p) = self.provider.clone() else {
            return Ok(());
        };
        let system = self.system.clone();
        let tokens = tokens.clone();
        let saved = tokio::task::spawn_blocking(move || p.save(&system, &tokens))
            .await
            .map_err(|e| ConnectorError::Internal(format!("saving OAuth tokens: {e}")))?;
        saved.map_err(|e| {
            self.auth_error(format!(
                "new OAuth tokens could not be saved ({e}); check the state store"
            ))
        })
    }

    fn scrub(&self, text: String) -> String {
        let mut out = text;
        for s in self.secrets() {
            if s.expose().len() >= 4 {
                out = out.replace(s.expose(), "[redacted]");
            }
        }
        out
    }

    fn auth_error(&self, message: String) -> ConnectorError {
        ConnectorError::Auth {
            system: self.system.clone(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_the_session_held_is_scrubbed() {
        let config = OAuth2 {
            authorize_url: Url::parse("https://auth.example.com/authorize").expect("url"),
            token_url: Url::parse("https://auth.example.com/token").expect("url"),
            client_id: "client".into(),
            client_secret: Secret::new("client-secret-value"),
            scopes: vec![],
            static_token: None,
            refresh_before: Duration::from_secs(60),
            scheme: "Bearer".into(),
            account: None,
        };
        let session = OAuthSession::new("sys", config, None);
        session.remember(Some(OAuthTokens {
            access_token: Secret::new("access-token-value"),
            refresh_token: Some(Secret::new("refresh-token-value")),
            expires_at: None,
            account: None,
        }));
        let text = "echo: client-secret-value access-token-value refresh-token-value".to_string();
        assert_eq!(
            session.scrub(text),
            "echo: [redacted] [redacted] [redacted]"
        );
    }
}
