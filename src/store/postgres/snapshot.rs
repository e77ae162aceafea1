//! SQL for the snapshot: a full sync's index of the target collection.

use deadpool_postgres::GenericClient;

use super::{col, execute, query, query_opt};
use crate::mapping::Side;
use crate::store::sqlite::codec::json;
use crate::store::sqlite::snapshot::{named_among, several_text};
use crate::store::{SnapshotEntry, StoreError, StoreResult};

pub(super) async fn clear(c: &impl GenericClient, pair: &str, side: Side) -> StoreResult<()> {
    execute(
        c,
        "DELETE FROM snapshot WHERE pair = $1 AND side = $2",
        &[&pair, &side.as_str()],
    )
    .await?;
    Ok(())
}

pub(super) async fn put(
    c: &impl GenericClient,
    pair: &str,
    side: Side,
    entries: &[SnapshotEntry],
) -> StoreResult<()> {
    for e in entries {
        let record = serde_json::to_string(&e.record)
            .map_err(|err| StoreError::decode("snapshot record", err))?;
        execute(
            c,
            "INSERT INTO snapshot (pair, side, record_id, record, link_value, match_key, several)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (pair, side, record_id) DO UPDATE SET
                 record = excluded.record, link_value = excluded.link_value,
                 match_key = excluded.match_key, several = excluded.several",
            &[
                &pair,
                &side.as_str(),
                &e.record_id,
                &record,
                &e.link_value,
                &e.match_key,
                &several_text(&e.several),
            ],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn get(
    c: &impl GenericClient,
    pair: &str,
    side: Side,
    record_id: &str,
) -> StoreResult<Option<serde_json::Value>> {
    let row = query_opt(
        c,
        "SELECT record FROM snapshot WHERE pair = $1 AND side = $2 AND record_id = $3",
        &[&pair, &side.as_str(), &record_id],
    )
    .await?;
    row.map(|row| json("snapshot record", &col::<String>(&row, 0)?))
        .transpose()
}

async fn by(
    c: &impl GenericClient,
    sql: &str,
    pair: &str,
    side: Side,
    value: &str,
) -> StoreResult<Vec<(String, serde_json::Value)>> {
    let rows = query(c, sql, &[&pair, &side.as_str(), &value]).await?;
    rows.iter()
        .map(|row| {
            let text: String = col(row, 1)?;
            Ok((col(row, 0)?, json("snapshot record", &text)?))
        })
        .collect()
}

pub(super) async fn by_link(
    c: &impl GenericClient,
    pair: &str,
    side: Side,
    link_value: &str,
) -> StoreResult<Vec<(String, serde_json::Value)>> {
    by(
        c,
        "SELECT record_id, record FROM snapshot WHERE pair = $1 AND side = $2 AND link_value = $3 ORDER BY record_id LIMIT 10",
        pair,
        side,
        link_value,
    )
    .await
}

pub(super) async fn by_match(
    c: &impl GenericClient,
    pair: &str,
    side: Side,
    key: &str,
) -> StoreResult<Vec<(String, serde_json::Value)>> {
    by(
        c,
        "SELECT record_id, record FROM snapshot WHERE pair = $1 AND side = $2 AND match_key = $3 ORDER BY record_id LIMIT 10",
        pair,
        side,
        key,
    )
    .await
}

pub(super) async fn named_among_several(
    c: &impl GenericClient,
    pair: &str,
    side: Side,
    id: &str,
) -> StoreResult<Option<(String, String)>> {
    let rows = query(
        c,
        "SELECT record_id, several FROM snapshot
         WHERE pair = $1 AND side = $2 AND several IS NOT NULL ORDER BY record_id",
        &[&pair, &side.as_str()],
    )
    .await?;
    let rows = rows
        .iter()
        .map(|row| Ok((col::<String>(row, 0)?, col::<String>(row, 1)?)))
        .collect::<StoreResult<Vec<_>>>()?;
    named_among(rows, id)
}

pub(super) async fn count(c: &impl GenericClient, pair: &str, side: Side) -> StoreResult<u64> {
    let row = query_opt(
        c,
        "SELECT count(*) FROM snapshot WHERE pair = $1 AND side = $2",
        &[&pair, &side.as_str()],
    )
    .await?;
    let n: i64 = row.map_or(Ok(0), |row| col(&row, 0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}
