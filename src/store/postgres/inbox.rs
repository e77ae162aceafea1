//! SQL for the webhook inbox and dead letters, shared by every instance on the store. Events
//! are stored once per dedup key (the unique key decides across instances); all pending events
//! of a record key form one `inbox_work` row, which one worker of any instance claims under a
//! lease, skipping rows another transaction holds (`FOR UPDATE SKIP LOCKED`). The inserts of
//! one record's events are serialised by a transaction advisory lock, so its event ids grow in
//! commit order and a claim's high-water mark never covers an event committed after it.

use std::sync::Arc;

use deadpool_postgres::GenericClient;
use futures_util::StreamExt;
use jiff::Timestamp;
use serde_json::Value;
use tokio::runtime::Handle;
use tokio_postgres::{AsyncMessage, NoTls};

use super::{INBOX_CHANNEL, claims, col, execute, query, query_opt};
use crate::mapping::Side;
use crate::store::sqlite::codec::{json, json_text, millis, timestamp, unsigned};
use crate::store::{
    ClaimKey, ClaimedEvent, DeadLetter, DeadLetterQuery, InboxClaim, InboxEvent, InsertSummary,
    Lease, NewDeadLetter, RecordClaim, RetryLater, StoreError, StoreResult,
};

pub(super) async fn insert(
    c: &impl GenericClient,
    schema: &str,
    events: &[InboxEvent],
    at: Timestamp,
) -> StoreResult<InsertSummary> {
    if events.is_empty() {
        return Ok(InsertSummary::default());
    }
    let sources: Vec<&str> = events.iter().map(|e| e.source.as_str()).collect();
    let keys: Vec<&str> = events.iter().map(|e| e.record_key.as_str()).collect();
    let dedup: Vec<Option<&str>> = events.iter().map(|e| e.dedup_key.as_deref()).collect();
    let payloads: Vec<String> = events.iter().map(|e| json_text(&e.payload)).collect();
    // Lock every record of the delivery, in one order, so two deliveries never deadlock.
    query(
        c,
        "SELECT pg_advisory_xact_lock(hashtextextended(s || chr(31) || k, 1))
         FROM (SELECT DISTINCT s, k FROM unnest($1::text[], $2::text[]) AS x(s, k)
               ORDER BY s, k) locks",
        &[&sources, &keys],
    )
    .await?;
    // The events in delivery order (ids grow with it), each once per dedup key; a new event
    // makes its record dirty, `dirty_since` keeps the oldest pending time, and a record in
    // backoff stays in backoff. One statement for the whole delivery.
    let row = query_opt(
        c,
        "WITH ev AS (
             INSERT INTO inbox_event (source, dedup_key, record_key, payload_json, received_at)
             SELECT s, d, k, p, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                 WITH ORDINALITY AS x(s, d, k, p, n)
             ORDER BY n
             ON CONFLICT (source, dedup_key) DO NOTHING
             RETURNING id, source, record_key),
         work AS (
             INSERT INTO inbox_work (source, record_key, dirty_since, last_event_id, next_attempt_at)
             SELECT source, record_key, $5, max(id), $5 FROM ev GROUP BY source, record_key
             ON CONFLICT (source, record_key) DO UPDATE
                 SET last_event_id = greatest(inbox_work.last_event_id, excluded.last_event_id)
             RETURNING 1)
         SELECT count(*) FROM ev",
        &[&sources, &dedup, &keys, &payloads, &millis(at)],
    )
    .await?;
    let inserted: i64 = row.map_or(Ok(0), |row| col(&row, 0))?;
    let inserted = u32::try_from(inserted).map_err(|e| StoreError::decode("inserted", e))?;
    let summary = InsertSummary {
        inserted,
        duplicates: u32::try_from(events.len())
            .unwrap_or(u32::MAX)
            .saturating_sub(inserted),
    };
    if summary.inserted > 0 {
        // Delivered at commit to every instance listening (`watch`).
        query(c, "SELECT pg_notify($1, $2)", &[&INBOX_CHANNEL, &schema]).await?;
    }
    Ok(summary)
}

/// Listens for stored inbox events of `schema` on a connection of its own, and calls `wake` for
/// each; reconnects after a lost connection (waking once, in case it missed something).
pub(super) fn watch(
    handle: &Handle,
    config: tokio_postgres::Config,
    schema: String,
    location: String,
    wake: Arc<dyn Fn() + Send + Sync>,
) {
    handle.spawn(async move {
        loop {
            match listen(&config, &schema, &*wake).await {
                Ok(()) => tracing::warn!(store = %location, "The inbox listener's connection closed; reconnecting."),
                Err(error) => tracing::warn!(store = %location, error = %error, "The inbox listener failed; reconnecting in 1 s."),
            }
            wake();
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
}

async fn listen(
    config: &tokio_postgres::Config,
    schema: &str,
    wake: &(dyn Fn() + Send + Sync),
) -> StoreResult<()> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx)).boxed();
    let statement = format!("LISTEN {INBOX_CHANNEL}");
    {
        let listen = client.batch_execute(&statement);
        tokio::pin!(listen);
        // The connection must be polled for the LISTEN to complete.
        loop {
            tokio::select! {
                done = &mut listen => { done?; break; }
                message = messages.next() => match message {
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return Err(error.into()),
                    None => return Ok(()),
                },
            }
        }
    }
    while let Some(message) = messages.next().await {
        if let AsyncMessage::Notification(note) = message?
            && note.payload() == schema
        {
            wake();
        }
    }
    drop(client);
    Ok(())
}

/// Ends every claim that holds inbox work (the work rows keep its token, so the next claim
/// counts the interrupted attempt).
pub(super) async fn end_leases(c: &impl GenericClient) -> StoreResult<u64> {
    execute(
        c,
        "DELETE FROM claim WHERE token IN
             (SELECT claim_token FROM inbox_work WHERE claim_token IS NOT NULL)",
        &[],
    )
    .await
}

/// Ends the claims holding inbox work of the workers of `instance` (holders `<instance>:…`).
pub(super) async fn end_leases_of(c: &impl GenericClient, instance: &str) -> StoreResult<u64> {
    let prefix = format!("{instance}:");
    execute(
        c,
        "DELETE FROM claim WHERE starts_with(holder, $1) AND token IN
             (SELECT claim_token FROM inbox_work WHERE claim_token IS NOT NULL)",
        &[&prefix],
    )
    .await
}

/// Candidates looked at per claim: due work rows, oldest first, whose claim is free.
const CANDIDATES: usize = 256;

pub(super) async fn claim(
    c: &impl GenericClient,
    lease: &Lease,
    at: Timestamp,
) -> StoreResult<Option<InboxClaim>> {
    let lease_ms = i64::try_from(lease.duration.as_millis()).unwrap_or(i64::MAX);
    let lease_until = millis(at).saturating_add(lease_ms);
    // The oldest due row nobody else is looking at (rows another transaction holds are skipped,
    // not waited for); one whose record turns out busy is passed over for the next.
    let mut busy: Vec<String> = Vec::new();
    while busy.len() < CANDIDATES {
        let Some(row) = query_opt(
            c,
            "SELECT source, record_key, claim_token FROM inbox_work w
             WHERE next_attempt_at <= $1
               AND NOT EXISTS (SELECT 1 FROM claim c
                               WHERE c.token = w.claim_token AND c.lease_until > $1)
               AND NOT (source || chr(31) || record_key = ANY($2::text[]))
             ORDER BY next_attempt_at, dirty_since LIMIT 1
             FOR UPDATE SKIP LOCKED",
            &[&millis(at), &busy],
        )
        .await?
        else {
            return Ok(None);
        };
        let source: String = col(&row, 0)?;
        let record_key: String = col(&row, 1)?;
        let previous: Option<i64> = col(&row, 2)?;
        busy.push(format!("{source}\u{1f}{record_key}"));
        // The previous claim of this work ran out: take it over first, so its holder's fenced
        // writes fail from now on (unless a heartbeat renewed it meanwhile: then it holds).
        if let Some(previous) = previous
            && !claims::delete_lapsed(c, previous, at).await?
        {
            continue;
        }
        let (pair, keys) = match lease.scopes.iter().find(|s| s.source == source) {
            Some(scope) => (
                scope.pair.clone(),
                claims::expand(
                    c,
                    &scope.pair,
                    &[ClaimKey::new(scope.side, record_key.clone())],
                )
                .await?,
            ),
            None => (
                String::new(),
                vec![ClaimKey::new(Side::Home, format!("{source}:{record_key}"))],
            ),
        };
        let Some(token) =
            claims::take(c, &pair, &lease.worker, None, &keys, lease_until, at).await?
        else {
            continue;
        };
        return claim_row(
            c,
            &source,
            &record_key,
            token,
            pair,
            keys,
            &lease.worker,
            lease_until,
            at,
        )
        .await
        .map(Some);
    }
    Ok(None)
}

/// Marks the work row held by the claim `token` and loads its events.
#[allow(clippy::too_many_arguments)]
async fn claim_row(
    c: &impl GenericClient,
    source: &str,
    record_key: &str,
    token: i64,
    pair: String,
    keys: Vec<ClaimKey>,
    worker: &str,
    lease_until: i64,
    at: Timestamp,
) -> StoreResult<InboxClaim> {
    // Taking over a record whose claim was ended or ran out counts as a failed attempt: the
    // previous worker died or hung on it, and a record that kills every worker must reach the
    // dead letters rather than loop forever.
    let row = query_opt(
        c,
        "UPDATE inbox_work SET
             attempts = attempts + CASE WHEN claim_token IS NOT NULL THEN 1 ELSE 0 END,
             first_failed_at = CASE WHEN claim_token IS NOT NULL THEN coalesce(first_failed_at, $4)
                                    ELSE first_failed_at END,
             last_error = CASE WHEN claim_token IS NOT NULL THEN 'the previous worker''s lease ran out'
                               ELSE last_error END,
             claim_token = $3
         WHERE source = $1 AND record_key = $2
         RETURNING dirty_since, attempts, last_event_id",
        &[&source, &record_key, &token, &millis(at)],
    )
    .await?
    .ok_or_else(|| StoreError::decode("inbox work", "the claimed row is gone"))?;
    let dirty_since: i64 = col(&row, 0)?;
    let attempts: i64 = col(&row, 1)?;
    let high_water: i64 = col(&row, 2)?;
    let rows = query(
        c,
        "SELECT id, dedup_key, payload_json, received_at FROM inbox_event
         WHERE source = $1 AND record_key = $2 AND processed_at IS NULL AND id <= $3 ORDER BY id",
        &[&source, &record_key, &high_water],
    )
    .await?;
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        let payload: String = col(row, 2)?;
        events.push(ClaimedEvent {
            id: col(row, 0)?,
            dedup_key: col(row, 1)?,
            payload: json("inbox payload", &payload)?,
            received_at: timestamp(col(row, 3)?)?,
        });
    }
    Ok(InboxClaim {
        source: source.to_owned(),
        record_key: record_key.to_owned(),
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

/// The claim's work row, locked, if the claim still holds (its row locked too, so no takeover
/// slips in): (last_event_id, attempts, first_failed_at).
async fn owned(
    c: &impl GenericClient,
    claim: &InboxClaim,
) -> StoreResult<Option<(i64, i64, Option<i64>)>> {
    if query_opt(
        c,
        "SELECT 1 FROM claim WHERE token = $1 FOR UPDATE",
        &[&claim.claim.token],
    )
    .await?
    .is_none()
    {
        return Ok(None);
    }
    let row = query_opt(
        c,
        "SELECT last_event_id, attempts, first_failed_at FROM inbox_work
         WHERE source = $1 AND record_key = $2 AND claim_token = $3
         FOR UPDATE",
        &[&claim.source, &claim.record_key, &claim.claim.token],
    )
    .await?;
    row.map(|row| Ok((col(&row, 0)?, col(&row, 1)?, col(&row, 2)?)))
        .transpose()
}

/// Marks the claimed events processed and removes the work row, or, if events arrived during
/// the claim, leaves the record dirty and ready for the next claim.
async fn complete(
    c: &impl GenericClient,
    claim: &InboxClaim,
    last_event_id: i64,
    at: Timestamp,
) -> StoreResult<()> {
    execute(
        c,
        "UPDATE inbox_event SET processed_at = $4
         WHERE source = $1 AND record_key = $2 AND processed_at IS NULL AND id <= $3",
        &[
            &claim.source,
            &claim.record_key,
            &claim.high_water,
            &millis(at),
        ],
    )
    .await?;
    claims::delete(c, claim.claim.token).await?;
    if last_event_id > claim.high_water {
        execute(
            c,
            "UPDATE inbox_work SET
                 claim_token = NULL, attempts = 0, first_failed_at = NULL,
                 last_error = NULL, next_attempt_at = $3,
                 dirty_since = coalesce((SELECT min(received_at) FROM inbox_event
                     WHERE source = $1 AND record_key = $2 AND processed_at IS NULL), $3)
             WHERE source = $1 AND record_key = $2",
            &[&claim.source, &claim.record_key, &millis(at)],
        )
        .await?;
    } else {
        execute(
            c,
            "DELETE FROM inbox_work WHERE source = $1 AND record_key = $2",
            &[&claim.source, &claim.record_key],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn ack(
    c: &impl GenericClient,
    claim: &InboxClaim,
    at: Timestamp,
) -> StoreResult<bool> {
    let Some((last_event_id, _, _)) = owned(c, claim).await? else {
        return Ok(false);
    };
    complete(c, claim, last_event_id, at).await?;
    Ok(true)
}

pub(super) async fn retry(
    c: &impl GenericClient,
    claim: &InboxClaim,
    retry: &RetryLater,
) -> StoreResult<bool> {
    if owned(c, claim).await?.is_none() {
        return Ok(false);
    }
    claims::delete(c, claim.claim.token).await?;
    execute(
        c,
        "UPDATE inbox_work SET
             attempts = attempts + CASE WHEN $6 THEN 1 ELSE 0 END, last_error = $3,
             next_attempt_at = $4,
             first_failed_at = CASE WHEN $6 THEN coalesce(first_failed_at, $5)
                                    ELSE first_failed_at END,
             claim_token = NULL
         WHERE source = $1 AND record_key = $2",
        &[
            &claim.source,
            &claim.record_key,
            &retry.error,
            &millis(retry.next_attempt_at),
            &millis(retry.at),
            &retry.failed,
        ],
    )
    .await?;
    Ok(true)
}

pub(super) async fn dead_letter(
    c: &impl GenericClient,
    claim: &InboxClaim,
    error: &str,
    at: Timestamp,
) -> StoreResult<bool> {
    let Some((last_event_id, attempts, first_failed_at)) = owned(c, claim).await? else {
        return Ok(false);
    };
    let payload = Value::Array(
        claim
            .events
            .iter()
            .map(|event| event.payload.clone())
            .collect(),
    );
    execute(
        c,
        "INSERT INTO dead_letter (source, record_key, payload_json, last_error, attempts, first_failed_at, last_failed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &claim.source,
            &claim.record_key,
            &json_text(&payload),
            &error,
            &(attempts + 1),
            &first_failed_at.unwrap_or(millis(at)),
            &millis(at),
        ],
    )
    .await?;
    complete(c, claim, last_event_id, at).await?;
    Ok(true)
}

pub(super) async fn depth(c: &impl GenericClient) -> StoreResult<u64> {
    let row = query_opt(c, "SELECT count(*) FROM inbox_work", &[]).await?;
    let n: i64 = row.map_or(Ok(0), |row| col(&row, 0))?;
    unsigned("inbox depth", n)
}

pub(super) async fn pending_events(c: &impl GenericClient) -> StoreResult<u64> {
    let row = query_opt(
        c,
        "SELECT count(*) FROM inbox_event WHERE processed_at IS NULL",
        &[],
    )
    .await?;
    let n: i64 = row.map_or(Ok(0), |row| col(&row, 0))?;
    unsigned("pending inbox events", n)
}

pub(super) async fn prune(c: &impl GenericClient, before: Timestamp) -> StoreResult<u64> {
    execute(
        c,
        "DELETE FROM inbox_event WHERE processed_at IS NOT NULL AND received_at < $1",
        &[&millis(before)],
    )
    .await
}

pub(super) async fn add_dead_letter(
    c: &impl GenericClient,
    letter: &NewDeadLetter,
) -> StoreResult<i64> {
    let row = query_opt(
        c,
        "INSERT INTO dead_letter (source, record_key, payload_json, last_error, attempts, first_failed_at, last_failed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            &letter.source,
            &letter.record_key,
            &json_text(&letter.payload),
            &letter.error,
            &i64::from(letter.attempts),
            &millis(letter.first_failed_at),
            &millis(letter.at),
        ],
    )
    .await?;
    let row = row.ok_or_else(|| StoreError::decode("dead letter id", "no row returned"))?;
    col(&row, 0)
}

pub(super) async fn dead_letters(
    c: &impl GenericClient,
    query_: &DeadLetterQuery,
) -> StoreResult<Vec<DeadLetter>> {
    let rows = query(
        c,
        "SELECT id, source, record_key, payload_json, last_error, attempts, first_failed_at, last_failed_at
         FROM dead_letter WHERE ($1::text IS NULL OR source = $1) AND ($2::bigint IS NULL OR id > $2)
         ORDER BY id LIMIT $3",
        &[&query_.source, &query_.after_id, &i64::from(query_.limit)],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let payload: String = col(row, 3)?;
            let attempts: i64 = col(row, 5)?;
            Ok(DeadLetter {
                id: col(row, 0)?,
                source: col(row, 1)?,
                record_key: col(row, 2)?,
                payload: json("dead letter payload", &payload)?,
                last_error: col(row, 4)?,
                attempts: u32::try_from(attempts).map_err(|e| StoreError::decode("attempts", e))?,
                first_failed_at: timestamp(col(row, 6)?)?,
                last_failed_at: timestamp(col(row, 7)?)?,
            })
        })
        .collect()
}

pub(super) async fn retry_dead_letter(
    c: &impl GenericClient,
    schema: &str,
    id: i64,
    at: Timestamp,
) -> StoreResult<bool> {
    let Some(row) = query_opt(
        c,
        "DELETE FROM dead_letter WHERE id = $1 RETURNING source, record_key, payload_json",
        &[&id],
    )
    .await?
    else {
        return Ok(false);
    };
    let payload: String = col(&row, 2)?;
    let source: String = col(&row, 0)?;
    let record_key: String = col(&row, 1)?;
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
    insert(c, schema, &events, at).await?;
    Ok(true)
}

pub(super) async fn drop_dead_letter(c: &impl GenericClient, id: i64) -> StoreResult<bool> {
    Ok(execute(c, "DELETE FROM dead_letter WHERE id = $1", &[&id]).await? > 0)
}
