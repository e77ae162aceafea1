//! SQL for per-record outcomes and their failure streaks.

use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use tokio_postgres::Row;

use super::{col, execute, query, query_opt};
use crate::mapping::Direction;
use crate::store::sqlite::codec::{direction, millis, opt_timestamp, timestamp};
use crate::store::{Outcome, OutcomeRecord, StoreError, StoreResult};

const COLUMNS: &str =
    "direction, source_id, kind, message, attempts, first_failed_at, last_failed_at, updated_at";

fn decode(row: &Row) -> StoreResult<OutcomeRecord> {
    let dir: String = col(row, 0)?;
    let kind: String = col(row, 2)?;
    let attempts: i64 = col(row, 4)?;
    Ok(OutcomeRecord {
        outcome: Outcome {
            direction: direction(&dir)?,
            source_id: col(row, 1)?,
            kind: kind
                .parse()
                .map_err(|e| StoreError::decode("outcome kind", e))?,
            message: col(row, 3)?,
        },
        attempts: u32::try_from(attempts).map_err(|e| StoreError::decode("attempts", e))?,
        first_failed_at: opt_timestamp(col(row, 5)?)?,
        last_failed_at: opt_timestamp(col(row, 6)?)?,
        updated_at: timestamp(col(row, 7)?)?,
    })
}

pub(super) async fn get(
    c: &impl GenericClient,
    pair: &str,
    dir: Direction,
    source_id: &str,
) -> StoreResult<Option<OutcomeRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM outcome WHERE pair = $1 AND direction = $2 AND source_id = $3"
    );
    query_opt(c, &sql, &[&pair, &dir.as_str(), &source_id])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

pub(super) async fn record(
    c: &impl GenericClient,
    pair: &str,
    outcomes: &[Outcome],
    at: Timestamp,
) -> StoreResult<()> {
    // $6 is true for a failure: it starts or extends the streak; a success ends it.
    for outcome in outcomes {
        execute(
            c,
            "INSERT INTO outcome (pair, direction, source_id, kind, message, attempts,
                                  first_failed_at, last_failed_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN 1 ELSE 0 END,
                     CASE WHEN $6 THEN $7::bigint END, CASE WHEN $6 THEN $7::bigint END, $7)
             ON CONFLICT (pair, direction, source_id) DO UPDATE SET
                 kind = excluded.kind,
                 message = excluded.message,
                 attempts = CASE WHEN $6 THEN outcome.attempts + 1 ELSE 0 END,
                 first_failed_at = CASE WHEN $6 THEN coalesce(outcome.first_failed_at, $7) END,
                 last_failed_at = CASE WHEN $6 THEN $7::bigint END,
                 updated_at = $7",
            &[
                &pair,
                &outcome.direction.as_str(),
                &outcome.source_id,
                &outcome.kind.as_str(),
                &outcome.message,
                &outcome.kind.is_failure(),
                &millis(at),
            ],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn failed(
    c: &impl GenericClient,
    pair: &str,
    dir: Direction,
    limit: u32,
) -> StoreResult<Vec<OutcomeRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM outcome
         WHERE pair = $1 AND direction = $2 AND attempts > 0
         ORDER BY last_failed_at, source_id LIMIT $3"
    );
    let rows = query(c, &sql, &[&pair, &dir.as_str(), &i64::from(limit)]).await?;
    rows.iter().map(decode).collect()
}
