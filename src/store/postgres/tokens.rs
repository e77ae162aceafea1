//! SQL for OAuth tokens and `state` nonces. Nonces are stored as SHA-256 hashes, so the
//! database does not hold a usable `state` value.

use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::{col, execute, query_opt};
use crate::store::sqlite::codec::{millis, opt_timestamp};
use crate::store::{ConsumedState, OAuthState, OAuthToken, Secret, StoreError, StoreResult};

pub(super) async fn get(c: &impl GenericClient, system: &str) -> StoreResult<Option<OAuthToken>> {
    let Some(row) = query_opt(
        c,
        "SELECT access_token, refresh_token, expires_at, scopes_json, account FROM oauth_token WHERE system = $1",
        &[&system],
    )
    .await?
    else {
        return Ok(None);
    };
    let access: String = col(&row, 0)?;
    let refresh: Option<String> = col(&row, 1)?;
    let scopes: String = col(&row, 3)?;
    Ok(Some(OAuthToken {
        access_token: Secret::from(access),
        refresh_token: refresh.map(Secret::from),
        expires_at: opt_timestamp(col(&row, 2)?)?,
        scopes: serde_json::from_str(&scopes).map_err(|e| StoreError::decode("token scopes", e))?,
        account: col(&row, 4)?,
    }))
}

pub(super) async fn save(
    c: &impl GenericClient,
    system: &str,
    token: &OAuthToken,
    at: Timestamp,
) -> StoreResult<()> {
    let scopes =
        serde_json::to_string(&token.scopes).map_err(|e| StoreError::decode("token scopes", e))?;
    execute(
        c,
        "INSERT INTO oauth_token (system, access_token, refresh_token, expires_at, scopes_json, updated_at, account)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (system) DO UPDATE SET
             access_token = excluded.access_token, refresh_token = excluded.refresh_token,
             expires_at = excluded.expires_at, scopes_json = excluded.scopes_json,
             updated_at = excluded.updated_at, account = excluded.account",
        &[
            &system,
            &token.access_token.expose(),
            &token.refresh_token.as_ref().map(Secret::expose),
            &token.expires_at.map(millis),
            &scopes,
            &millis(at),
            &token.account,
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn delete(c: &impl GenericClient, system: &str) -> StoreResult<bool> {
    Ok(execute(c, "DELETE FROM oauth_token WHERE system = $1", &[&system]).await? > 0)
}

fn nonce_hash(nonce: &Secret) -> String {
    hex::encode(Sha256::digest(nonce.expose().as_bytes()))
}

pub(super) async fn purge_states(c: &impl GenericClient, at: Timestamp) -> StoreResult<u64> {
    execute(
        c,
        "DELETE FROM oauth_state WHERE expires_at <= $1",
        &[&millis(at)],
    )
    .await
}

pub(super) async fn create_state(
    c: &impl GenericClient,
    state: &OAuthState,
    at: Timestamp,
) -> StoreResult<()> {
    // Expired nonces are useless; forget them while we are here.
    execute(
        c,
        "DELETE FROM oauth_state WHERE expires_at <= $1",
        &[&millis(at)],
    )
    .await?;
    execute(
        c,
        "INSERT INTO oauth_state (nonce_hash, system, pkce_verifier, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &nonce_hash(&state.nonce),
            &state.system,
            &state.pkce_verifier.as_ref().map(Secret::expose),
            &millis(at),
            &millis(state.expires_at),
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn consume_state(
    c: &impl GenericClient,
    nonce: &Secret,
    at: Timestamp,
) -> StoreResult<Option<ConsumedState>> {
    let Some(row) = query_opt(
        c,
        "DELETE FROM oauth_state WHERE nonce_hash = $1 RETURNING system, pkce_verifier, expires_at",
        &[&nonce_hash(nonce)],
    )
    .await?
    else {
        return Ok(None);
    };
    let expires_at: i64 = col(&row, 2)?;
    if millis(at) >= expires_at {
        return Ok(None);
    }
    let verifier: Option<String> = col(&row, 1)?;
    Ok(Some(ConsumedState {
        system: col(&row, 0)?,
        pkce_verifier: verifier.map(Secret::from),
    }))
}
