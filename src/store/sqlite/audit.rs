//! SQL for the per-record audit trail.

use rusqlite::{Connection, Transaction, params};

use super::codec::{direction, millis, timestamp};
use crate::mapping::Side;
use crate::store::{AuditEntry, StoreError, StoreResult};

pub(super) fn append(
    tx: &Transaction<'_>,
    pair: &str,
    entries: &[AuditEntry],
    keep: u32,
) -> StoreResult<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO audit (pair, side, record_id, at, kind, direction, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for e in entries {
        insert.execute(params![
            pair,
            e.side.as_str(),
            e.record_id,
            millis(e.at),
            e.kind.as_str(),
            e.direction.map(|d| d.as_str()),
            e.detail,
        ])?;
    }
    let mut prune = tx.prepare_cached(
        "DELETE FROM audit WHERE pair = ?1 AND side = ?2 AND record_id = ?3 AND seq NOT IN
           (SELECT seq FROM audit WHERE pair = ?1 AND side = ?2 AND record_id = ?3
            ORDER BY seq DESC LIMIT ?4)",
    )?;
    let mut done = std::collections::HashSet::new();
    for e in entries {
        if done.insert((e.side, e.record_id.as_str())) {
            prune.execute(params![pair, e.side.as_str(), e.record_id, keep])?;
        }
    }
    Ok(())
}

pub(super) fn trail(
    conn: &Connection,
    pair: &str,
    side: Side,
    record_id: &str,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, kind, direction, detail FROM audit
         WHERE pair = ?1 AND side = ?2 AND record_id = ?3 ORDER BY seq DESC LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![pair, side.as_str(), record_id, limit], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, Option<String>>(2)?,
            row.get::<_, String>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (at, kind, dir, detail) = row?;
        out.push(AuditEntry {
            side,
            record_id: record_id.to_string(),
            at: timestamp(at)?,
            kind: kind
                .parse()
                .map_err(|e| StoreError::decode("audit kind", e))?,
            direction: dir.as_deref().map(direction).transpose()?,
            detail,
        });
    }
    out.reverse();
    Ok(out)
}
