//! SQL for OAuth tokens and `state` nonces. Nonces are stored as SHA-256 hashes, so the file
//! does not hold a usable `state` value.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::codec::{millis, opt_timestamp};
use crate::store::{ConsumedState, OAuthState, OAuthToken, Secret, StoreError, StoreResult};

pub(super) fn get(conn: &Connection, system: &str) -> StoreResult<Option<OAuthToken>> {
    let raw = conn
        .prepare_cached("SELECT access_token, refresh_token, expires_at, scopes_json, account FROM oauth_token WHERE system = ?1")?
        .query_row(params![system], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, Option<i64>>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Option<String>>(4)?,
            ))
        })
        .optional()?;
    let Some((access, refresh, expires_at, scopes, account)) = raw else {
        return Ok(None);
    };
    Ok(Some(OAuthToken {
        access_token: Secret::from(access),
        refresh_token: refresh.map(Secret::from),
        expires_at: opt_timestamp(expires_at)?,
        scopes: serde_json::from_str(&scopes).map_err(|e| StoreError::decode("token scopes", e))?,
        account,
    }))
}

pub(super) fn save(
    conn: &Connection,
    system: &str,
    token: &OAuthToken,
    at: Timestamp,
) -> StoreResult<()> {
    let scopes =
        serde_json::to_string(&token.scopes).map_err(|e| StoreError::decode("token scopes", e))?;
    conn.prepare_cached(
        "INSERT INTO oauth_token (system, access_token, refresh_token, expires_at, scopes_json, updated_at, account)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (system) DO UPDATE SET
             access_token = excluded.access_token, refresh_token = excluded.refresh_token,
             expires_at = excluded.expires_at, scopes_json = excluded.scopes_json,
             updated_at = excluded.updated_at, account = excluded.account",
    )?
    .execute(params![
        system,
        token.access_token.expose(),
        token.refresh_token.as_ref().map(Secret::expose),
        token.expires_at.map(millis),
        scopes,
        millis(at),
        token.account
    ])?;
    Ok(())
}

pub(super) fn delete(conn: &Connection, system: &str) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM oauth_token WHERE system = ?1")?
        .execute(params![system])?
        > 0)
}

fn nonce_hash(nonce: &Secret) -> String {
    hex::encode(Sha256::digest(nonce.expose().as_bytes()))
}

pub(super) fn create_state(
    conn: &Connection,
    state: &OAuthState,
    at: Timestamp,
) -> StoreResult<()> {
    // Expired nonces are useless; forget them while we are here.
    conn.prepare_cached("DELETE FROM oauth_state WHERE expires_at <= ?1")?
        .execute(params![millis(at)])?;
    conn.prepare_cached(
        "INSERT INTO oauth_state (nonce_hash, system, pkce_verifier, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        nonce_hash(&state.nonce),
        state.system,
        state.pkce_verifier.as_ref().map(Secret::expose),
        millis(at),
        millis(state.expires_at)
    ])?;
    Ok(())
}

pub(super) fn consume_state(
    conn: &Connection,
    nonce: &Secret,
    at: Timestamp,
) -> StoreResult<Option<ConsumedState>> {
    let consumed = conn
        .prepare_cached("DELETE FROM oauth_state WHERE nonce_hash = ?1 RETURNING system, pkce_verifier, expires_at")?
        .query_row(params![nonce_hash(nonce)], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?, row.get::<_, i64>(2)?))
        })
        .optional()?;
    Ok(consumed.and_then(|(system, verifier, expires_at)| {
        (millis(at) < expires_at).then(|| ConsumedState {
            system,
            pkce_verifier: verifier.map(Secret::from),
        })
    }))
}
