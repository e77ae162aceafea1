//! SQL for OAuth tokens and `state` nonces. Nonces are stored as SHA-256 hashes, so the file
//! does not hold a usable `state` value.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::codec::{millis, opt_timestamp};
use crate::store::{ConsumedState, OAuthState, OAuthToken, Secret, StoreError, StoreResult};

pub(super) fn get(conn: &Connection, system: &str) -> StoreResult<Option<OAuthToken>> {
    let raw = conn
        .prepare_cached("SELECT access_token, refresh_token, expires_at, scopes_json FROM oauth_token WHERE system = ?1")?
        .query_row(params![system], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, Option<i64>>(2)?,
                row.get::<_, String>(3)?,
            ))
        })
        .optional()?;
    let Some((access, refresh, expires_at, scopes)) = raw else {
        return Ok(None);
    };
    Ok(Some(OAuthToken {
        access_token: Secret::from(access),
        refresh_token: refresh.map(Secret::from),
        expires_at: opt_timestamp(expires_at)?,
        scopes: serde_json::from_str(&scopes).map_err(|e| StoreError::decode("token scopes", e))?,
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
        "INSERT INTO oauth_token (system, access_token, refresh_token, expires_at, scopes_json, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (system) DO UPDATE SET
             access_token = excluded.access_token, refresh_token = excluded.refresh_token,
             expires_at = excluded.expires_at, scopes_json = excluded.scopes_json,
             updated_at = excluded.updated_at",
    )?
    .execute(params![
        system,
        token.access_token.expose(),
        token.refresh_token.as_ref().map(Secret::expose),
        token.expires_at.map(millis),
        scopes,
        millis(at)
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

#[cfg(test)]
mod tests {
    use super::super::tests::{store, t};
    use crate::store::{ConsumedState, OAuthState, OAuthToken, Secret, StateStore};

    #[test]
    fn tokens_round_trip_and_never_show_in_debug() {
        let s = store();
        assert_eq!(s.token("crm").unwrap(), None);
        let token = OAuthToken {
            access_token: Secret::new("access-123"),
            refresh_token: Some(Secret::new("refresh-456")),
            expires_at: Some(t(3600)),
            scopes: vec!["contacts.read".into(), "contacts.write".into()],
        };
        s.save_token("crm", &token, t(0)).unwrap();
        assert_eq!(s.token("crm").unwrap(), Some(token.clone()));
        let debug = format!("{token:?}");
        assert!(
            !debug.contains("access-123") && !debug.contains("refresh-456"),
            "{debug}"
        );

        let refreshed = OAuthToken {
            access_token: Secret::new("access-789"),
            refresh_token: None,
            ..token
        };
        s.save_token("crm", &refreshed, t(10)).unwrap();
        assert_eq!(s.token("crm").unwrap(), Some(refreshed));
        assert!(s.delete_token("crm").unwrap());
        assert!(!s.delete_token("crm").unwrap());
        assert_eq!(s.token("crm").unwrap(), None);
    }

    #[test]
    fn a_state_nonce_is_consumed_once_and_only_before_it_expires() {
        let s = store();
        let state = OAuthState {
            nonce: Secret::new("nonce-1"),
            system: "crm".into(),
            pkce_verifier: Some(Secret::new("verifier")),
            expires_at: t(600),
        };
        s.create_oauth_state(&state, t(0)).unwrap();
        s.create_oauth_state(
            &OAuthState {
                nonce: Secret::new("nonce-2"),
                pkce_verifier: None,
                ..state.clone()
            },
            t(0),
        )
        .unwrap();

        assert_eq!(
            s.consume_oauth_state(&Secret::new("forged"), t(1)).unwrap(),
            None
        );
        assert_eq!(
            s.consume_oauth_state(&Secret::new("nonce-1"), t(1))
                .unwrap(),
            Some(ConsumedState {
                system: "crm".into(),
                pkce_verifier: Some(Secret::new("verifier"))
            })
        );
        assert_eq!(
            s.consume_oauth_state(&Secret::new("nonce-1"), t(2))
                .unwrap(),
            None,
            "consumed once"
        );
        assert_eq!(
            s.consume_oauth_state(&Secret::new("nonce-2"), t(600))
                .unwrap(),
            None,
            "expired"
        );
    }
}
