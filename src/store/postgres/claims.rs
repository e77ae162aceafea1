//! SQL for claims, shared by every instance: a claim row per holder and token, a `claim_key`
//! row per record it covers. The keys a transaction looks at are locked first (transaction
//! advisory locks, in one order), so two instances deciding about the same record take turns; a
//! claim whose lease ran out is taken over only if it still has not been renewed; a fence locks
//! its claims' rows, so no takeover can slip in before the fenced commit ends.

use deadpool_postgres::GenericClient;
use jiff::Timestamp;

use super::{col, execute, links, query, query_opt};
use crate::store::sqlite::codec::{millis, timestamp};
use crate::store::{ClaimKey, InstanceBeat, RecordClaim, StoreError, StoreResult};

/// The records `records` and, for each one the store links, its counterpart (whatever the link's
/// state), without duplicates.
pub(super) async fn expand(
    c: &impl GenericClient,
    pair: &str,
    records: &[ClaimKey],
) -> StoreResult<Vec<ClaimKey>> {
    let mut keys: Vec<ClaimKey> = Vec::new();
    for key in records {
        if !keys.contains(key) {
            keys.push(key.clone());
        }
        if let Some(link) = links::get(c, pair, key.side, &key.record_id).await? {
            let other = key.side.other();
            let counterpart = ClaimKey::new(other, link.id_on(other));
            if !keys.contains(&counterpart) {
                keys.push(counterpart);
            }
        }
    }
    Ok(keys)
}

/// Locks `keys` of `pair` until the transaction ends, in one order.
async fn lock_keys(c: &impl GenericClient, pair: &str, keys: &[ClaimKey]) -> StoreResult<()> {
    let mut names: Vec<String> = keys.iter().map(ClaimKey::to_string).collect();
    names.sort_unstable();
    names.dedup();
    query(
        c,
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || k, 2))
         FROM unnest($2::text[]) AS x(k) ORDER BY k",
        &[&pair, &names],
    )
    .await?;
    Ok(())
}

/// Takes `keys` (already expanded) for a new claim of `holder`, or adds them to the claim
/// `token` when given. None, and nothing changed, if any key is held by another claim whose
/// lease runs past `at` (or that was renewed meanwhile).
pub(super) async fn take(
    c: &impl GenericClient,
    pair: &str,
    holder: &str,
    token: Option<i64>,
    keys: &[ClaimKey],
    lease_until: i64,
    at: Timestamp,
) -> StoreResult<Option<i64>> {
    lock_keys(c, pair, keys).await?;
    let mut stale = Vec::new();
    for key in keys {
        let found = query_opt(
            c,
            "SELECT c.token, c.lease_until FROM claim_key k JOIN claim c ON c.token = k.token
             WHERE k.pair = $1 AND k.key = $2",
            &[&pair, &key.to_string()],
        )
        .await?;
        let Some(row) = found else { continue };
        let (t, until): (i64, i64) = (col(&row, 0)?, col(&row, 1)?);
        if Some(t) == token {
            continue;
        }
        if until > millis(at) {
            return Ok(None);
        }
        stale.push(t);
    }
    for t in stale {
        // Taken over only if its lease still has run out: a heartbeat may have renewed it.
        if !delete_lapsed(c, t, at).await? {
            return Ok(None);
        }
    }
    let token = match token {
        Some(t) => t,
        None => {
            let row = query_opt(
                c,
                "INSERT INTO claim (holder, pair, lease_until) VALUES ($1, $2, $3) RETURNING token",
                &[&holder, &pair, &lease_until],
            )
            .await?
            .ok_or_else(|| StoreError::decode("claim token", "no row returned"))?;
            col(&row, 0)?
        }
    };
    let names: Vec<String> = keys.iter().map(ClaimKey::to_string).collect();
    execute(
        c,
        "INSERT INTO claim_key (pair, key, token) SELECT $1, k, $3 FROM unnest($2::text[]) AS x(k)
         ON CONFLICT (pair, key) DO NOTHING",
        &[&pair, &names, &token],
    )
    .await?;
    Ok(Some(token))
}

/// Claims each request on its own (all of its keys or none), in one transaction.
pub(super) async fn claim_records(
    c: &impl GenericClient,
    pair: &str,
    holder: &str,
    requests: &[ClaimKey],
    lease_until: i64,
    at: Timestamp,
) -> StoreResult<Vec<Option<RecordClaim>>> {
    let mut out = Vec::with_capacity(requests.len());
    for request in requests {
        let keys = expand(c, pair, std::slice::from_ref(request)).await?;
        let claim = match take(c, pair, holder, None, &keys, lease_until, at).await? {
            Some(token) => Some(RecordClaim {
                token,
                holder: holder.to_owned(),
                pair: pair.to_owned(),
                keys,
                lease_until: timestamp(lease_until)?,
            }),
            None => None,
        };
        out.push(claim);
    }
    Ok(out)
}

/// Adds records (and their linked counterparts) to a held claim. False, and nothing changed, if
/// the claim is gone or another live claim holds one of them.
pub(super) async fn extend(
    c: &impl GenericClient,
    claim: &mut RecordClaim,
    records: &[ClaimKey],
    at: Timestamp,
) -> StoreResult<bool> {
    let Some(row) = query_opt(
        c,
        "SELECT lease_until FROM claim WHERE token = $1 FOR UPDATE",
        &[&claim.token],
    )
    .await?
    else {
        return Ok(false);
    };
    let until: i64 = col(&row, 0)?;
    let keys = expand(c, &claim.pair, records).await?;
    if take(
        c,
        &claim.pair,
        &claim.holder,
        Some(claim.token),
        &keys,
        until,
        at,
    )
    .await?
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
pub(super) async fn held(c: &impl GenericClient, token: i64) -> StoreResult<bool> {
    Ok(
        query_opt(c, "SELECT 1 FROM claim WHERE token = $1", &[&token])
            .await?
            .is_some(),
    )
}

/// Extends a held claim's lease to `lease_until`; false if the claim is gone.
pub(super) async fn renew(
    c: &impl GenericClient,
    token: i64,
    lease_until: i64,
) -> StoreResult<bool> {
    Ok(execute(
        c,
        "UPDATE claim SET lease_until = $2 WHERE token = $1",
        &[&token, &lease_until],
    )
    .await?
        > 0)
}

/// Ends a claim (its keys go with it).
pub(super) async fn delete(c: &impl GenericClient, token: i64) -> StoreResult<()> {
    execute(c, "DELETE FROM claim WHERE token = $1", &[&token]).await?;
    Ok(())
}

/// Takes over a claim whose lease has run out at `at`; false if it was renewed meanwhile (it
/// holds). A claim already gone counts as taken over.
pub(super) async fn delete_lapsed(
    c: &impl GenericClient,
    token: i64,
    at: Timestamp,
) -> StoreResult<bool> {
    let deleted = execute(
        c,
        "DELETE FROM claim WHERE token = $1 AND lease_until <= $2",
        &[&token, &millis(at)],
    )
    .await?;
    Ok(deleted > 0 || !held(c, token).await?)
}

/// Fails with `ClaimLost` unless every token still holds; locks them until the transaction
/// ends, so none is taken over before the fenced writes commit.
pub(super) async fn fence(c: &impl GenericClient, tokens: &[i64]) -> StoreResult<()> {
    for &token in tokens {
        if query_opt(
            c,
            "SELECT 1 FROM claim WHERE token = $1 FOR SHARE",
            &[&token],
        )
        .await?
        .is_none()
        {
            return Err(StoreError::ClaimLost { token });
        }
    }
    Ok(())
}

/// Records a heartbeat of `instance`; the first one after a silence longer than a minute starts
/// a new life (`started_at`).
pub(super) async fn beat(c: &impl GenericClient, instance: &str, at: Timestamp) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO instance (name, started_at, beat_at) VALUES ($1, $2, $2)
         ON CONFLICT (name) DO UPDATE SET beat_at = $2,
             started_at = CASE WHEN instance.beat_at < $2 - 60000 THEN $2
                               ELSE instance.started_at END",
        &[&instance, &millis(at)],
    )
    .await?;
    Ok(())
}

/// Every instance that beat, the latest first, with the live claims of its workers at `at`.
pub(super) async fn instances(
    c: &impl GenericClient,
    at: Timestamp,
) -> StoreResult<Vec<InstanceBeat>> {
    let rows = query(
        c,
        "SELECT i.name, i.started_at, i.beat_at,
                (SELECT count(*) FROM claim c
                 WHERE starts_with(c.holder, i.name || ':') AND c.lease_until > $1)
         FROM instance i ORDER BY i.beat_at DESC, i.name",
        &[&millis(at)],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let claims: i64 = col(row, 3)?;
            Ok(InstanceBeat {
                name: col(row, 0)?,
                started_at: timestamp(col(row, 1)?)?,
                beat_at: timestamp(col(row, 2)?)?,
                claims: u64::try_from(claims).unwrap_or(0),
            })
        })
        .collect()
}
