//! SQL for claims: a claim row per holder and token, a `claim_key` row per record it covers.
//! Taking keys held by a claim whose lease ran out deletes that claim first (a takeover), so its
//! token fails every later fence.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::codec::{millis, timestamp};
use super::links;
use crate::store::{ClaimKey, RecordClaim, StoreError, StoreResult};

/// The records `records` and, for each one the store links, its counterpart (whatever the link's
/// state), without duplicates.
pub(super) fn expand(
    conn: &Connection,
    pair: &str,
    records: &[ClaimKey],
) -> StoreResult<Vec<ClaimKey>> {
    let mut keys: Vec<ClaimKey> = Vec::new();
    for key in records {
        if !keys.contains(key) {
            keys.push(key.clone());
        }
        if let Some(link) = links::get(conn, pair, key.side, &key.record_id)? {
            let other = key.side.other();
            let counterpart = ClaimKey::new(other, link.id_on(other));
            if !keys.contains(&counterpart) {
                keys.push(counterpart);
            }
        }
    }
    Ok(keys)
}

/// Takes `keys` (already expanded) for a new claim of `holder`, or adds them to the claim
/// `token` when given. None, and nothing changed, if any key is held by another claim whose
/// lease runs past `at`.
pub(super) fn take(
    conn: &Connection,
    pair: &str,
    holder: &str,
    token: Option<i64>,
    keys: &[ClaimKey],
    lease_until: i64,
    at: Timestamp,
) -> StoreResult<Option<i64>> {
    let mut stale = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT c.token, c.lease_until FROM claim_key k JOIN claim c ON c.token = k.token
             WHERE k.pair = ?1 AND k.key = ?2",
        )?;
        for key in keys {
            let found: Option<(i64, i64)> = stmt
                .query_row(params![pair, key.to_string()], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            match found {
                Some((t, _)) if Some(t) == token => {}
                Some((_, until)) if until > millis(at) => return Ok(None),
                Some((t, _)) => stale.push(t),
                None => {}
            }
        }
    }
    for t in stale {
        delete(conn, t)?;
    }
    let token = match token {
        Some(t) => t,
        None => conn
            .prepare_cached(
                "INSERT INTO claim (holder, pair, lease_until) VALUES (?1, ?2, ?3) RETURNING token",
            )?
            .query_row(params![holder, pair, lease_until], |row| row.get(0))?,
    };
    let mut insert = conn.prepare_cached(
        "INSERT INTO claim_key (pair, key, token) VALUES (?1, ?2, ?3)
         ON CONFLICT (pair, key) DO NOTHING",
    )?;
    for key in keys {
        insert.execute(params![pair, key.to_string(), token])?;
    }
    Ok(Some(token))
}

/// Claims each request on its own (all of its keys or none), in one transaction.
pub(super) fn claim_records(
    conn: &Connection,
    pair: &str,
    holder: &str,
    requests: &[ClaimKey],
    lease_until: i64,
    at: Timestamp,
) -> StoreResult<Vec<Option<RecordClaim>>> {
    let mut out = Vec::with_capacity(requests.len());
    for request in requests {
        let keys = expand(conn, pair, std::slice::from_ref(request))?;
        let claim = take(conn, pair, holder, None, &keys, lease_until, at)?
            .map(|token| {
                Ok::<_, StoreError>(RecordClaim {
                    token,
                    holder: holder.to_owned(),
                    pair: pair.to_owned(),
                    keys,
                    lease_until: timestamp(lease_until)?,
                })
            })
            .transpose()?;
        out.push(claim);
    }
    Ok(out)
}

/// Adds records (and their linked counterparts) to a held claim. False, and nothing changed, if
/// the claim is gone or another live claim holds one of them.
pub(super) fn extend(
    conn: &Connection,
    claim: &mut RecordClaim,
    records: &[ClaimKey],
    at: Timestamp,
) -> StoreResult<bool> {
    if !held(conn, claim.token)? {
        return Ok(false);
    }
    let keys = expand(conn, &claim.pair, records)?;
    let until: i64 = conn
        .prepare_cached("SELECT lease_until FROM claim WHERE token = ?1")?
        .query_row(params![claim.token], |row| row.get(0))?;
    if take(
        conn,
        &claim.pair,
        &claim.holder,
        Some(claim.token),
        &keys,
        until,
        at,
    )?
    .is_none()
    {
        return Ok(false);
    }
    for key in keys {
        if !claim.keys.contains(&key) {
            claim.keys.push(key);
        }
    }
    Ok(true)
}

/// Whether the claim `token` still holds (nobody took it over and it was not ended).
pub(super) fn held(conn: &Connection, token: i64) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM claim WHERE token = ?1")?
        .query_row(params![token], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Extends a held claim's lease to `lease_until`; false if the claim is gone.
pub(super) fn renew(conn: &Connection, token: i64, lease_until: i64) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("UPDATE claim SET lease_until = ?2 WHERE token = ?1")?
        .execute(params![token, lease_until])?
        > 0)
}

/// Ends a claim (its keys go with it).
pub(super) fn delete(conn: &Connection, token: i64) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM claim WHERE token = ?1")?
        .execute(params![token])?;
    Ok(())
}

/// Fails with `ClaimLost` unless every token still holds.
pub(super) fn fence(conn: &Connection, tokens: &[i64]) -> StoreResult<()> {
    for &token in tokens {
        if !held(conn, token)? {
            return Err(StoreError::ClaimLost { token });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::store::{SqliteConfig, SqliteStore, StateStore, StoreError};

    #[test]
    fn a_file_lock_is_held_across_handles_and_names_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let config = SqliteConfig::default();
        let first = SqliteStore::open(&path, &config).unwrap();
        let second = SqliteStore::open(&path, &config).unwrap();
        let lock = first.lock("serve").unwrap();
        let err = second.lock("serve").unwrap_err();
        match &err {
            StoreError::LockHeld { location, lock } => assert_eq!(
                (location.as_str(), lock.as_str()),
                (path.to_str().unwrap(), "serve")
            ),
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains(path.to_str().unwrap()));
        let _other = second.lock("sync-p-outbound").unwrap();
        drop(lock);
        let _again = second.lock("serve").unwrap();
    }
}
