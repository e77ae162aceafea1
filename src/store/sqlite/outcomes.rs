//! SQL for per-record outcomes and their failure streaks.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::codec::{direction, millis, opt_timestamp, timestamp};
use crate::mapping::Direction;
use crate::store::{Outcome, OutcomeRecord, StoreError, StoreResult};

const COLUMNS: &str =
    "direction, source_id, kind, message, attempts, first_failed_at, last_failed_at, updated_at";

type RawOutcome = (
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    i64,
);

fn raw(row: &Row<'_>) -> rusqlite::Result<RawOutcome> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

fn decode(raw: RawOutcome) -> StoreResult<OutcomeRecord> {
    let (dir, source_id, kind, message, attempts, first, last, updated) = raw;
    Ok(OutcomeRecord {
        outcome: Outcome {
            direction: direction(&dir)?,
            source_id,
            kind: kind
                .parse()
                .map_err(|e| StoreError::decode("outcome kind", e))?,
            message,
        },
        attempts: u32::try_from(attempts).map_err(|e| StoreError::decode("attempts", e))?,
        first_failed_at: opt_timestamp(first)?,
        last_failed_at: opt_timestamp(last)?,
        updated_at: timestamp(updated)?,
    })
}

pub(super) fn get(
    conn: &Connection,
    pair: &str,
    dir: Direction,
    source_id: &str,
) -> StoreResult<Option<OutcomeRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM outcome WHERE pair = ?1 AND direction = ?2 AND source_id = ?3"
    );
    conn.prepare_cached(&sql)?
        .query_row(params![pair, dir.as_str(), source_id], raw)
        .optional()?
        .map(decode)
        .transpose()
}

pub(super) fn record(
    conn: &Connection,
    pair: &str,
    outcomes: &[Outcome],
    at: Timestamp,
) -> StoreResult<()> {
    // ?6 is 1 for a failure: it starts or extends the streak; a success (0) ends it.
    let mut stmt = conn.prepare_cached(
        "INSERT INTO outcome (pair, direction, source_id, kind, message, attempts,
                              first_failed_at, last_failed_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6,
                 CASE WHEN ?6 THEN ?7 END, CASE WHEN ?6 THEN ?7 END, ?7)
         ON CONFLICT (pair, direction, source_id) DO UPDATE SET
             kind = excluded.kind,
             message = excluded.message,
             attempts = CASE WHEN ?6 THEN outcome.attempts + 1 ELSE 0 END,
             first_failed_at = CASE WHEN ?6 THEN coalesce(outcome.first_failed_at, ?7) END,
             last_failed_at = CASE WHEN ?6 THEN ?7 END,
             updated_at = ?7",
    )?;
    for outcome in outcomes {
        stmt.execute(params![
            pair,
            outcome.direction.as_str(),
            outcome.source_id,
            outcome.kind.as_str(),
            outcome.message,
            i64::from(outcome.kind.is_failure()),
            millis(at)
        ])?;
    }
    Ok(())
}

pub(super) fn failed(
    conn: &Connection,
    pair: &str,
    dir: Direction,
    limit: u32,
) -> StoreResult<Vec<OutcomeRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM outcome
         WHERE pair = ?1 AND direction = ?2 AND attempts > 0
         ORDER BY last_failed_at, source_id LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![pair, dir.as_str(), limit], raw)?;
    rows.map(|row| decode(row?)).collect()
}
