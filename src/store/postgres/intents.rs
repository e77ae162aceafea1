//! SQL for create intents (E1): recorded before a create call, deleted when settled.

use deadpool_postgres::GenericClient;
use jiff::Timestamp;

use super::{col, execute, query};
use crate::mapping::Direction;
use crate::store::sqlite::codec::{millis, timestamp};
use crate::store::{CreateIntent, IntentSettlement, PendingIntent, StoreResult};

pub(super) async fn record(
    c: &impl GenericClient,
    pair: &str,
    intent: &CreateIntent,
    at: Timestamp,
) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO create_intent (pair, direction, source_id, attempt_key, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        &[
            &pair,
            &intent.direction.as_str(),
            &intent.source_id,
            &intent.attempt_key,
            &millis(at),
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn settle(
    c: &impl GenericClient,
    pair: &str,
    settlements: &[IntentSettlement],
) -> StoreResult<()> {
    for settlement in settlements {
        execute(
            c,
            "DELETE FROM create_intent WHERE pair = $1 AND direction = $2 AND source_id = $3",
            &[&pair, &settlement.direction.as_str(), &settlement.source_id],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn unsettled(
    c: &impl GenericClient,
    pair: &str,
    direction: Direction,
) -> StoreResult<Vec<PendingIntent>> {
    let rows = query(
        c,
        "SELECT source_id, attempt_key, created_at FROM create_intent
         WHERE pair = $1 AND direction = $2 ORDER BY created_at, source_id, attempt_key",
        &[&pair, &direction.as_str()],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(PendingIntent {
                intent: CreateIntent {
                    direction,
                    source_id: col(row, 0)?,
                    attempt_key: col(row, 1)?,
                },
                created_at: timestamp(col(row, 2)?)?,
            })
        })
        .collect()
}
