//! SQL for the webhook inbox and dead letters. Events are stored once per dedup key; all
//! pending events of a record key form one `inbox_work` row, which one worker at a time claims
//! under a lease (`UPDATE … RETURNING`).

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::claims;
use super::codec::{json, json_text, millis, timestamp, unsigned};
use crate::mapping::Side;
use crate::store::{
    ClaimKey, ClaimedEvent, DeadLetter, DeadLetterQuery, InboxClaim, InboxEvent, InsertSummary,
    Lease, NewDeadLetter, RecordClaim, RetryLater, StoreError, StoreResult,
};

pub(super) fn insert(
    conn: &Connection,
    events: &[InboxEvent],
    at: Timestamp,
) -> StoreResult<InsertSummary> {
    let mut event_stmt = conn.prepare_cached(
        "INSERT INTO inbox_event (source, dedup_key, record_key, payload_json, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (source, dedup_key) DO NOTHING
         RETURNING id",
    )?;
    // A new event makes its record dirty; `dirty_since` keeps the oldest pending time, and a
    // record in backoff stays in backoff.
    let mut work_stmt = conn.prepare_cached(
        "INSERT INTO inbox_work (source, record_key, dirty_since, last_event_id, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?3)
         ON CONFLICT (source, record_key) DO UPDATE SET last_event_id = excluded.last_event_id",
    )?;
    let mut summary = InsertSummary::default();
    for event in events {
        let id: Option<i64> = event_stmt
            .query_row(
                params![
                    event.source,
                    event.dedup_key,
                    event.record_key,
                    json_text(&event.payload),
                    millis(at)
                ],
                |row| row.get(0),
            )
            .optional()?;
        match id {
            Some(id) => {
                work_stmt.execute(params![event.source, event.record_key, millis(at), id])?;
                summary.inserted += 1;
            }
            None => summary.duplicates += 1,
        }
    }
    Ok(summary)
}

/// Ends every claim that holds inbox work (the work rows keep its token, so the next claim
/// counts the interrupted attempt).
pub(super) fn end_leases(conn: &Connection) -> StoreResult<u64> {
    let n = conn
        .prepare_cached(
            "DELETE FROM claim WHERE token IN
                 (SELECT claim_token FROM inbox_work WHERE claim_token IS NOT NULL)",
        )?
        .execute([])?;
    Ok(n as u64)
}

/// Ends the claims holding inbox work of the workers of `instance` (holders `<instance>:…`).
pub(super) fn end_leases_of(conn: &Connection, instance: &str) -> StoreResult<u64> {
    let prefix = format!("{instance}:");
    let n = conn
        .prepare_cached(
            "DELETE FROM claim WHERE substr(holder, 1, length(?1)) = ?1 AND token IN
                 (SELECT claim_token FROM inbox_work WHERE claim_token IS NOT NULL)",
        )?
        .execute(params![prefix])?;
    Ok(n as u64)
}

/// Candidates looked at per claim: due work rows, oldest first, whose claim is free.
const CANDIDATES: u32 = 256;

pub(super) fn claim(
    conn: &Connection,
    lease: &Lease,
    at: Timestamp,
) -> StoreResult<Option<InboxClaim>> {
    let lease_ms = i64::try_from(lease.duration.as_millis()).unwrap_or(i64::MAX);
    let lease_until = millis(at).saturating_add(lease_ms);
    let candidates: Vec<(i64, String, String, Option<i64>)> = conn
        .prepare_cached(
            "SELECT rowid, source, record_key, claim_token FROM inbox_work w
             WHERE next_attempt_at <= ?1
               AND NOT EXISTS (SELECT 1 FROM claim c
                               WHERE c.token = w.claim_token AND c.lease_until > ?1)
             ORDER BY next_attempt_at, dirty_since LIMIT ?2",
        )?
        .query_map(params![millis(at), CANDIDATES], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    for (rowid, source, record_key, previous) in candidates {
        // The previous claim of this work ran out: take it over first, so its holder's fenced
        // writes fail from now on.
        if let Some(previous) = previous {
            claims::delete(conn, previous)?;
        }
        let (pair, keys) = match lease.scopes.iter().find(|s| s.source == source) {
            Some(scope) => (
                scope.pair.clone(),
                claims::expand(
                    conn,
                    &scope.pair,
                    &[ClaimKey::new(scope.side, record_key.clone())],
                )?,
            ),
            None => (
                String::new(),
                vec![ClaimKey::new(Side::Home, format!("{source}:{record_key}"))],
            ),
        };
        let Some(token) = claims::take(conn, &pair, &lease.worker, None, &keys, lease_until, at)?
        else {
            continue;
        };
        return claim_row(
            conn,
            rowid,
            token,
            pair,
            keys,
            &lease.worker,
            lease_until,
            at,
        )
        .map(Some);
    }
    Ok(None)
}

/// Marks the work row `rowid` held by the claim `token` and loads its events.
#[allow(clippy::too_many_arguments)]
fn claim_row(
    conn: &Connection,
    rowid: i64,
    token: i64,
    pair: String,
    keys: Vec<ClaimKey>,
    worker: &str,
    lease_until: i64,
    at: Timestamp,
) -> StoreResult<InboxClaim> {
    let (source, record_key, dirty_since, attempts, high_water) = conn
        .prepare_cached(
            // Taking over a record whose claim was ended or ran out counts as a failed attempt:
            // the previous worker died or hung on it, and a record that kills every worker must
            // reach the dead letters rather than loop forever.
            "UPDATE inbox_work SET
                 attempts = attempts + (claim_token IS NOT NULL),
                 first_failed_at = CASE WHEN claim_token IS NOT NULL THEN coalesce(first_failed_at, ?3)
                                        ELSE first_failed_at END,
                 last_error = CASE WHEN claim_token IS NOT NULL THEN 'the previous worker''s lease ran out'
                                   ELSE last_error END,
                 claim_token = ?2
             WHERE rowid = ?1
             RETURNING source, record_key, dirty_since, attempts, last_event_id",
        )?
        .query_row(params![rowid, token, millis(at)], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })?;

    let mut stmt = conn.prepare_cached(
        "SELECT id, dedup_key, payload_json, received_at FROM inbox_event
         WHERE source = ?1 AND record_key = ?2 AND processed_at IS NULL AND id <= ?3 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![source, record_key, high_water], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, Option<String>>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, i64>(3)?,
        ))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (id, dedup_key, payload, received_at) = row?;
        events.push(ClaimedEvent {
            id,
            dedup_key,
            payload: json("inbox payload", &payload)?,
            received_at: timestamp(received_at)?,
        });
    }
    Ok(InboxClaim {
        source,
        record_key,
        claim: RecordClaim {
            token,
            holder: worker.to_owned(),
            pair,
            keys,
            lease_until: timestamp(lease_until)?,
        },
        dirty_since: timestamp(dirty_since)?,
        attempts: u32::try_from(attempts).map_err(|e| StoreError::decode("attempts", e))?,
        events,
        high_water,
    })
}

/// The claim's work row if the claim still holds: (last_event_id, attempts, first_failed_at).
fn owned(conn: &Connection, claim: &InboxClaim) -> StoreResult<Option<(i64, i64, Option<i64>)>> {
    if !claims::held(conn, claim.claim.token)? {
        return Ok(None);
    }
    Ok(conn
        .prepare_cached(
            "SELECT last_event_id, attempts, first_failed_at FROM inbox_work
             WHERE source = ?1 AND record_key = ?2 AND claim_token = ?3",
        )?
        .query_row(
            params![claim.source, claim.record_key, claim.claim.token],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?)
}

/// Marks the claimed events processed and removes the work row, or, if events arrived during
/// the claim, leaves the record dirty and ready for the next claim.
fn complete(
    conn: &Connection,
    claim: &InboxClaim,
    last_event_id: i64,
    at: Timestamp,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE inbox_event SET processed_at = ?4
         WHERE source = ?1 AND record_key = ?2 AND processed_at IS NULL AND id <= ?3",
    )?
    .execute(params![
        claim.source,
        claim.record_key,
        claim.high_water,
        millis(at)
    ])?;
    claims::delete(conn, claim.claim.token)?;
    if last_event_id > claim.high_water {
        conn.prepare_cached(
            "UPDATE inbox_work SET
                 claim_token = NULL, attempts = 0, first_failed_at = NULL,
                 last_error = NULL, next_attempt_at = ?3,
                 dirty_since = coalesce((SELECT min(received_at) FROM inbox_event
                     WHERE source = ?1 AND record_key = ?2 AND processed_at IS NULL), ?3)
             WHERE source = ?1 AND record_key = ?2",
        )?
        .execute(params![claim.source, claim.record_key, millis(at)])?;
    } else {
        conn.prepare_cached("DELETE FROM inbox_work WHERE source = ?1 AND record_key = ?2")?
            .execute(params![claim.source, claim.record_key])?;
    }
    Ok(())
}

pub(super) fn ack(conn: &Connection, claim: &InboxClaim, at: Timestamp) -> StoreResult<bool> {
    let Some((last_event_id, _, _)) = owned(conn, claim)? else {
        return Ok(false);
    };
    complete(conn, claim, last_event_id, at)?;
    Ok(true)
}

pub(super) fn retry(
    conn: &Connection,
    claim: &InboxClaim,
    retry: &RetryLater,
) -> StoreResult<bool> {
    if owned(conn, claim)?.is_none() {
        return Ok(false);
    }
    claims::delete(conn, claim.claim.token)?;
    conn.prepare_cached(
        "UPDATE inbox_work SET
             attempts = attempts + ?6, last_error = ?3, next_attempt_at = ?4,
             first_failed_at = CASE WHEN ?6 THEN coalesce(first_failed_at, ?5)
                                    ELSE first_failed_at END,
             claim_token = NULL
         WHERE source = ?1 AND record_key = ?2",
    )?
    .execute(params![
        claim.source,
        claim.record_key,
        retry.error,
        millis(retry.next_attempt_at),
        millis(retry.at),
        i64::from(retry.failed)
    ])?;
    Ok(true)
}

pub(super) fn dead_letter(
    conn: &Connection,
    claim: &InboxClaim,
    error: &str,
    at: Timestamp,
) -> StoreResult<bool> {
    let Some((last_event_id, attempts, first_failed_at)) = owned(conn, claim)? else {
        return Ok(false);
    };
    let payload = Value::Array(
        claim
            .events
            .iter()
            .map(|event| event.payload.clone())
            .collect(),
    );
    conn.prepare_cached(
        "INSERT INTO dead_letter (source, record_key, payload_json, last_error, attempts, first_failed_at, last_failed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        claim.source,
        claim.record_key,
        json_text(&payload),
        error,
        attempts + 1,
        first_failed_at.unwrap_or(millis(at)),
        millis(at)
    ])?;
    complete(conn, claim, last_event_id, at)?;
    Ok(true)
}

pub(super) fn depth(conn: &Connection) -> StoreResult<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM inbox_work")?
        .query_row([], |row| row.get(0))?;
    unsigned("inbox depth", n)
}

pub(super) fn pending_events(conn: &Connection) -> StoreResult<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM inbox_event WHERE processed_at IS NULL")?
        .query_row([], |row| row.get(0))?;
    unsigned("pending inbox events", n)
}

pub(super) fn prune(conn: &Connection, before: Timestamp) -> StoreResult<u64> {
    let n = conn
        .prepare_cached(
            "DELETE FROM inbox_event WHERE processed_at IS NOT NULL AND received_at < ?1",
        )?
        .execute(params![millis(before)])?;
    Ok(n as u64)
}

pub(super) fn add_dead_letter(conn: &Connection, letter: &NewDeadLetter) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO dead_letter (source, record_key, payload_json, last_error, attempts, first_failed_at, last_failed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        )?
        .query_row(
            params![
                letter.source,
                letter.record_key,
                json_text(&letter.payload),
                letter.error,
                letter.attempts,
                millis(letter.first_failed_at),
                millis(letter.at)
            ],
            |row| row.get(0),
        )?)
}

pub(super) fn dead_letters(
    conn: &Connection,
    query: &DeadLetterQuery,
) -> StoreResult<Vec<DeadLetter>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, source, record_key, payload_json, last_error, attempts, first_failed_at, last_failed_at
         FROM dead_letter WHERE (?1 IS NULL OR source = ?1) AND (?2 IS NULL OR id > ?2)
         ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![query.source, query.after_id, query.limit], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, i64>(5)?,
            row.get::<_, i64>(6)?,
            row.get::<_, i64>(7)?,
        ))
    })?;
    rows.map(|row| {
        let (id, source, record_key, payload, last_error, attempts, first, last) = row?;
        Ok(DeadLetter {
            id,
            source,
            record_key,
            payload: json("dead letter payload", &payload)?,
            last_error,
            attempts: u32::try_from(attempts).map_err(|e| StoreError::decode("attempts", e))?,
            first_failed_at: timestamp(first)?,
            last_failed_at: timestamp(last)?,
        })
    })
    .collect()
}

pub(super) fn retry_dead_letter(conn: &Connection, id: i64, at: Timestamp) -> StoreResult<bool> {
    let letter = conn
        .prepare_cached(
            "DELETE FROM dead_letter WHERE id = ?1 RETURNING source, record_key, payload_json",
        )?
        .query_row(params![id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .optional()?;
    let Some((source, record_key, payload)) = letter else {
        return Ok(false);
    };
    // A worker's dead letter holds its record's events as an array: each goes back as it was
    // (the route reads each event's kind). Any other payload (a sync's) is one event.
    let payloads = match json("dead letter payload", &payload)? {
        Value::Array(items) if !items.is_empty() => items,
        other => vec![other],
    };
    let events: Vec<InboxEvent> = payloads
        .into_iter()
        .map(|payload| InboxEvent {
            source: source.clone(),
            dedup_key: None,
            record_key: record_key.clone(),
            payload,
        })
        .collect();
    insert(conn, &events, at)?;
    Ok(true)
}

pub(super) fn drop_dead_letter(conn: &Connection, id: i64) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM dead_letter WHERE id = ?1")?
        .execute(params![id])?
        > 0)
}
