//! `StoreTokens`: the connector's `TokenProvider` over the state store, so OAuth tokens live in
//! the database and survive restarts.

use std::sync::Arc;

use crate::connector::{OAuthTokens, TokenProvider, TokenStoreError};
use crate::mapping::model::Secret;
use crate::store::{self, StateStore};

/// OAuth tokens kept in the state store.
pub struct StoreTokens(pub Arc<dyn StateStore>);

impl TokenProvider for StoreTokens {
    fn load(&self, system: &str) -> Result<Option<OAuthTokens>, TokenStoreError> {
        Ok(self.0.token(system)?.map(|t| OAuthTokens {
            access_token: Secret::new(t.access_token.expose()),
            refresh_token: t.refresh_token.map(|r| Secret::new(r.expose())),
            expires_at: t.expires_at,
            account: t.account,
        }))
    }

    fn save(&self, system: &str, tokens: &OAuthTokens) -> Result<(), TokenStoreError> {
        let token = store::OAuthToken {
            access_token: store::Secret::new(tokens.access_token.expose()),
            refresh_token: tokens
                .refresh_token
                .as_ref()
                .map(|r| store::Secret::new(r.expose())),
            expires_at: tokens.expires_at,
            scopes: Vec::new(),
            account: tokens.account.clone(),
        };
        self.0.save_token(system, &token, jiff::Timestamp::now())?;
        Ok(())
    }
}
