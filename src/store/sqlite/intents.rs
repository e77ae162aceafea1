//! SQL for create intents (E1): recorded before a create call, deleted when settled.

use jiff::Timestamp;
use rusqlite::{Connection, params};

use super::codec::{millis, timestamp};
use crate::mapping::Direction;
use crate::store::{CreateIntent, IntentSettlement, PendingIntent, StoreResult};

pub(super) fn record(
    conn: &Connection,
    pair: &str,
    intent: &CreateIntent,
    at: Timestamp,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO create_intent (pair, direction, source_id, attempt_key, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        pair,
        intent.direction.as_str(),
        intent.source_id,
        intent.attempt_key,
        millis(at)
    ])?;
    Ok(())
}

pub(super) fn settle(
    conn: &Connection,
    pair: &str,
    settlements: &[IntentSettlement],
) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "DELETE FROM create_intent WHERE pair = ?1 AND direction = ?2 AND source_id = ?3",
    )?;
    for settlement in settlements {
        stmt.execute(params![
            pair,
            settlement.direction.as_str(),
            settlement.source_id
        ])?;
    }
    Ok(())
}

pub(super) fn unsettled(
    conn: &Connection,
    pair: &str,
    direction: Direction,
) -> StoreResult<Vec<PendingIntent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT source_id, attempt_key, created_at FROM create_intent
         WHERE pair = ?1 AND direction = ?2 ORDER BY created_at, source_id, attempt_key",
    )?;
    let rows = stmt.query_map(params![pair, direction.as_str()], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
        ))
    })?;
    rows.map(|row| {
        let (source_id, attempt_key, created_at) = row?;
        Ok(PendingIntent {
            intent: CreateIntent {
                direction,
                source_id,
                attempt_key,
            },
            created_at: timestamp(created_at)?,
        })
    })
    .collect()
}
