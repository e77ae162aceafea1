//! SQL for the shared request budget: one row per key, locked for the take (`FOR UPDATE`; a
//! first take of a key locks the key with a transaction advisory lock), so the instances on the
//! store never interleave one (nor a pause). The rules are `budget::Bucket`'s, the same as
//! SQLite's.

use deadpool_postgres::GenericClient;
use jiff::Timestamp;

use super::{col, execute, query, query_opt};
use crate::store::budget::Bucket;
use crate::store::sqlite::codec::millis;
use crate::store::{BudgetGrant, BudgetPriority, BudgetRate, StoreResult};

pub(super) async fn take(
    c: &impl GenericClient,
    key: &str,
    rate: &BudgetRate,
    priority: BudgetPriority,
    at: Timestamp,
) -> StoreResult<BudgetGrant> {
    query(
        c,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 3))",
        &[&key],
    )
    .await?;
    let stored = read(c, key).await?;
    let (bucket, grant) = Bucket::take(stored, rate, priority, millis(at));
    write(c, key, &bucket).await?;
    Ok(grant)
}

pub(super) async fn pause(c: &impl GenericClient, key: &str, until: Timestamp) -> StoreResult<()> {
    let Some(stored) = read(c, key).await? else {
        return Ok(());
    };
    write(c, key, &stored.pause(millis(until))).await
}

/// The bucket of `key`, its row locked until the transaction ends.
async fn read(c: &impl GenericClient, key: &str) -> StoreResult<Option<Bucket>> {
    query_opt(
        c,
        "SELECT tokens, updated_at, paused_until FROM budget WHERE key = $1 FOR UPDATE",
        &[&key],
    )
    .await?
    .map(|row| {
        Ok(Bucket {
            tokens: col(&row, 0)?,
            updated_at: col(&row, 1)?,
            paused_until: col(&row, 2)?,
        })
    })
    .transpose()
}

async fn write(c: &impl GenericClient, key: &str, bucket: &Bucket) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO budget (key, tokens, updated_at, paused_until) VALUES ($1, $2, $3, $4)
         ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens,
             updated_at = excluded.updated_at, paused_until = excluded.paused_until",
        &[
            &key,
            &bucket.tokens,
            &bucket.updated_at,
            &bucket.paused_until,
        ],
    )
    .await?;
    Ok(())
}
