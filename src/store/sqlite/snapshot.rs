//! SQL for the snapshot: a full sync's index of the target collection.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::mapping::Side;
use crate::store::{SnapshotEntry, StoreError, StoreResult};

pub(super) fn clear(tx: &Transaction<'_>, pair: &str, side: Side) -> StoreResult<()> {
    tx.execute(
        "DELETE FROM snapshot WHERE pair = ?1 AND side = ?2",
        params![pair, side.as_str()],
    )?;
    Ok(())
}

pub(super) fn put(
    tx: &Transaction<'_>,
    pair: &str,
    side: Side,
    entries: &[SnapshotEntry],
) -> StoreResult<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO snapshot (pair, side, record_id, record, link_value, match_key, several)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (pair, side, record_id) DO UPDATE SET
             record = excluded.record, link_value = excluded.link_value,
             match_key = excluded.match_key, several = excluded.several",
    )?;
    for e in entries {
        let record = serde_json::to_string(&e.record)
            .map_err(|err| StoreError::decode("snapshot record", err))?;
        stmt.execute(params![
            pair,
            side.as_str(),
            e.record_id,
            record,
            e.link_value,
            e.match_key,
            several_text(&e.several)
        ])?;
    }
    Ok(())
}

pub(super) fn get(
    c: &Connection,
    pair: &str,
    side: Side,
    record_id: &str,
) -> StoreResult<Option<serde_json::Value>> {
    let text: Option<String> = c
        .prepare_cached(
            "SELECT record FROM snapshot WHERE pair = ?1 AND side = ?2 AND record_id = ?3",
        )?
        .query_row(params![pair, side.as_str(), record_id], |r| r.get(0))
        .optional()?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::decode("snapshot record", e)))
        .transpose()
}

fn by(
    c: &Connection,
    sql: &str,
    pair: &str,
    side: Side,
    value: &str,
) -> StoreResult<Vec<(String, serde_json::Value)>> {
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map(params![pair, side.as_str(), value], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, text) = row?;
        out.push((
            id,
            serde_json::from_str(&text).map_err(|e| StoreError::decode("snapshot record", e))?,
        ));
    }
    Ok(out)
}

pub(super) fn by_link(
    c: &Connection,
    pair: &str,
    side: Side,
    link_value: &str,
) -> StoreResult<Vec<(String, serde_json::Value)>> {
    by(
        c,
        "SELECT record_id, record FROM snapshot WHERE pair = ?1 AND side = ?2 AND link_value = ?3 ORDER BY record_id LIMIT 10",
        pair,
        side,
        link_value,
    )
}

pub(super) fn by_match(
    c: &Connection,
    pair: &str,
    side: Side,
    key: &str,
) -> StoreResult<Vec<(String, serde_json::Value)>> {
    by(
        c,
        "SELECT record_id, record FROM snapshot WHERE pair = ?1 AND side = ?2 AND match_key = ?3 ORDER BY record_id LIMIT 10",
        pair,
        side,
        key,
    )
}

/// The `several` column: the ids as a JSON array, or NULL when there are none.
pub(in crate::store) fn several_text(ids: &[String]) -> Option<String> {
    (!ids.is_empty()).then(|| serde_json::Value::from(ids.to_vec()).to_string())
}

/// The first of `rows` (record id, `several` text) that names `id`: its id and the ids joined.
pub(in crate::store) fn named_among(
    rows: impl IntoIterator<Item = (String, String)>,
    id: &str,
) -> StoreResult<Option<(String, String)>> {
    for (holder, text) in rows {
        let ids: Vec<String> =
            serde_json::from_str(&text).map_err(|e| StoreError::decode("snapshot several", e))?;
        if ids.iter().any(|i| i == id) {
            return Ok(Some((holder, ids.join(", "))));
        }
    }
    Ok(None)
}

pub(super) fn named_among_several(
    c: &Connection,
    pair: &str,
    side: Side,
    id: &str,
) -> StoreResult<Option<(String, String)>> {
    let mut stmt = c.prepare_cached(
        "SELECT record_id, several FROM snapshot
         WHERE pair = ?1 AND side = ?2 AND several IS NOT NULL ORDER BY record_id",
    )?;
    let rows = stmt
        .query_map(params![pair, side.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<(String, String)>, _>>()?;
    named_among(rows, id)
}

pub(super) fn count(c: &Connection, pair: &str, side: Side) -> StoreResult<u64> {
    let n: i64 = c.query_row(
        "SELECT count(*) FROM snapshot WHERE pair = ?1 AND side = ?2",
        params![pair, side.as_str()],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}
