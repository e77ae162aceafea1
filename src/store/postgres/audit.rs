//! SQL for the per-record audit trail on PostgreSQL (the same contract as `sqlite/audit.rs`).

use deadpool_postgres::GenericClient;

use super::{col, execute, query};
use crate::mapping::Side;
use crate::store::sqlite::codec::{direction, millis, timestamp};
use crate::store::{AuditEntry, StoreError, StoreResult};

pub(super) async fn append(
    c: &impl GenericClient,
    pair: &str,
    entries: &[AuditEntry],
    keep: u32,
) -> StoreResult<()> {
    for e in entries {
        execute(
            c,
            "INSERT INTO audit (pair, side, record_id, at, kind, direction, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &pair,
                &e.side.as_str(),
                &e.record_id,
                &millis(e.at),
                &e.kind.as_str(),
                &e.direction.map(|d| d.as_str()),
                &e.detail,
            ],
        )
        .await?;
    }
    let keep = i64::from(keep);
    let mut done = std::collections::HashSet::new();
    for e in entries {
        if done.insert((e.side, e.record_id.as_str())) {
            execute(
                c,
                "DELETE FROM audit WHERE pair = $1 AND side = $2 AND record_id = $3 AND seq NOT IN
                   (SELECT seq FROM audit WHERE pair = $1 AND side = $2 AND record_id = $3
                    ORDER BY seq DESC LIMIT $4)",
                &[&pair, &e.side.as_str(), &e.record_id, &keep],
            )
            .await?;
        }
    }
    Ok(())
}

pub(super) async fn trail(
    c: &impl GenericClient,
    pair: &str,
    side: Side,
    record_id: &str,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let rows = query(
        c,
        "SELECT at, kind, direction, detail FROM audit
         WHERE pair = $1 AND side = $2 AND record_id = $3 ORDER BY seq DESC LIMIT $4",
        &[&pair, &side.as_str(), &record_id, &i64::from(limit)],
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let at: i64 = col(row, 0)?;
        let kind: String = col(row, 1)?;
        let dir: Option<String> = col(row, 2)?;
        out.push(AuditEntry {
            side,
            record_id: record_id.to_string(),
            at: timestamp(at)?,
            kind: kind
                .parse()
                .map_err(|e| StoreError::decode("audit kind", e))?,
            direction: dir.as_deref().map(direction).transpose()?,
            detail: col(row, 3)?,
        });
    }
    out.reverse();
    Ok(out)
}
