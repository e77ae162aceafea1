//! `StoreTokens`: the connector's `TokenProvider` over the state store, so OAuth tokens live in
//! the database and survive restarts. With a key (`MAPSYNC_STATE_KEY`) the access and refresh
//! tokens are sealed before they are saved (`store::seal`); without one they are saved as
//! they are, with a one-line warning. A refresh holds the store's lock on the system's tokens
//! (`StateStore::lock_token_refresh`), so processes sharing the store refresh once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::connector::{OAuthTokens, RefreshLock, TokenProvider, TokenStoreError};
use crate::mapping::model::Secret;
use crate::store::seal::{self, SealKey};
use crate::store::{self, StateStore};

/// OAuth tokens kept in the state store, sealed when a key is given.
pub struct StoreTokens {
    store: Arc<dyn StateStore>,
    key: Option<Arc<SealKey>>,
}

impl StoreTokens {
    /// Tokens in `store`, sealed with `key` when there is one.
    pub fn new(store: Arc<dyn StateStore>, key: Option<Arc<SealKey>>) -> StoreTokens {
        StoreTokens { store, key }
    }

    fn seal(&self, value: &str, system: &str) -> Result<String, TokenStoreError> {
        match &self.key {
            Some(k) => Ok(k.seal(value, system)?),
            None => Ok(value.to_string()),
        }
    }

    fn open(&self, value: &str, system: &str) -> Result<String, TokenStoreError> {
        Ok(seal::open(self.key.as_deref(), value, system)?)
    }
}

/// How long a refresh waits for another process's refresh of the same system's tokens (one
/// call to the token endpoint) before it gives up and is tried again later.
const REFRESH_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether the plain-storage warning was given in this process.
static WARNED_PLAIN: AtomicBool = AtomicBool::new(false);

impl TokenProvider for StoreTokens {
    fn load(&self, system: &str) -> Result<Option<OAuthTokens>, TokenStoreError> {
        let Some(t) = self.store.token(system)? else {
            return Ok(None);
        };
        Ok(Some(OAuthTokens {
            access_token: Secret::new(self.open(t.access_token.expose(), system)?),
            refresh_token: match t.refresh_token {
                Some(r) => Some(Secret::new(self.open(r.expose(), system)?)),
                None => None,
            },
            expires_at: t.expires_at,
            account: t.account,
        }))
    }

    fn save(&self, system: &str, tokens: &OAuthTokens) -> Result<(), TokenStoreError> {
        if self.key.is_none() && !WARNED_PLAIN.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "OAuth tokens are stored unencrypted in the state file; set MAPSYNC_STATE_KEY (a random string of 32+ characters) to encrypt them."
            );
        }
        let token = store::OAuthToken {
            access_token: store::Secret::new(self.seal(tokens.access_token.expose(), system)?),
            refresh_token: match &tokens.refresh_token {
                Some(r) => Some(store::Secret::new(self.seal(r.expose(), system)?)),
                None => None,
            },
            expires_at: tokens.expires_at,
            scopes: Vec::new(),
            account: tokens.account.clone(),
        };
        self.store
            .save_token(system, &token, jiff::Timestamp::now())?;
        Ok(())
    }

    fn lock_refresh(&self, system: &str) -> Result<Option<RefreshLock>, TokenStoreError> {
        let lock = self.store.lock_token_refresh(system, REFRESH_LOCK_WAIT)?;
        Ok(Some(Box::new(lock)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    fn tokens() -> OAuthTokens {
        OAuthTokens {
            access_token: Secret::new("access-token-value"),
            refresh_token: Some(Secret::new("refresh-token-value")),
            expires_at: None,
            account: Some("62515".into()),
        }
    }

    #[test]
    fn with_a_key_the_store_holds_no_usable_token() {
        let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let key = Arc::new(SealKey::from_text("0123456789abcdefghijklmnopqrstuvwxyz").unwrap());
        let sealed = StoreTokens::new(store.clone(), Some(key));
        sealed.save("crm", &tokens()).unwrap();
        let raw = store.token("crm").unwrap().unwrap();
        assert!(seal::is_sealed(raw.access_token.expose()));
        assert!(!raw.access_token.expose().contains("access-token-value"));
        assert!(seal::is_sealed(raw.refresh_token.unwrap().expose()));
        assert_eq!(sealed.load("crm").unwrap(), Some(tokens()));
        // Without the key the tokens are not usable, and the error says what to set.
        let keyless = StoreTokens::new(store, None);
        let e = keyless.load("crm").unwrap_err().to_string();
        assert!(e.contains("MAPSYNC_STATE_KEY"), "{e}");
    }

    #[test]
    fn without_a_key_tokens_are_stored_as_they_are() {
        let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let plain = StoreTokens::new(store.clone(), None);
        plain.save("crm", &tokens()).unwrap();
        let raw = store.token("crm").unwrap().unwrap();
        assert_eq!(raw.access_token.expose(), "access-token-value");
        assert_eq!(plain.load("crm").unwrap(), Some(tokens()));
    }
}
