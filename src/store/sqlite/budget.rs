//! SQL for the shared request budget: one row per key, read and written in the caller's
//! transaction (`BEGIN IMMEDIATE`, so two processes never interleave a take or a pause). The
//! rules are `budget::Bucket`'s.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::codec::millis;
use crate::store::budget::Bucket;
use crate::store::{BudgetGrant, BudgetPriority, BudgetRate, StoreResult};

pub(super) fn take(
    conn: &Connection,
    key: &str,
    rate: &BudgetRate,
    priority: BudgetPriority,
    at: Timestamp,
) -> StoreResult<BudgetGrant> {
    let stored = read(conn, key)?;
    let (bucket, grant) = Bucket::take(stored, rate, priority, millis(at));
    write(conn, key, &bucket)?;
    Ok(grant)
}

pub(super) fn pause(conn: &Connection, key: &str, until: Timestamp) -> StoreResult<()> {
    let Some(stored) = read(conn, key)? else {
        return Ok(());
    };
    write(conn, key, &stored.pause(millis(until)))
}

fn read(conn: &Connection, key: &str) -> StoreResult<Option<Bucket>> {
    Ok(conn
        .prepare_cached("SELECT tokens, updated_at, paused_until FROM budget WHERE key = ?1")?
        .query_row(params![key], |row| {
            Ok(Bucket {
                tokens: row.get(0)?,
                updated_at: row.get(1)?,
                paused_until: row.get(2)?,
            })
        })
        .optional()?)
}

fn write(conn: &Connection, key: &str, bucket: &Bucket) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO budget (key, tokens, updated_at, paused_until) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens,
             updated_at = excluded.updated_at, paused_until = excluded.paused_until",
    )?
    .execute(params![
        key,
        bucket.tokens,
        bucket.updated_at,
        bucket.paused_until
    ])?;
    Ok(())
}
