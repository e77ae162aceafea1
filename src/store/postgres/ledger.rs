//! SQL for the ledger (last written / last read value per field) and the last status mark per
//! record.

use deadpool_postgres::GenericClient;
use jiff::Timestamp;

use super::{col, execute, query, query_opt};
use crate::mapping::Side;
use crate::store::sqlite::codec::{json, json_text, millis, timestamp};
use crate::store::{
    FieldShadow, LedgerEntry, LedgerKind, RecordShadow, ShadowValue, StatusKind, StatusMark,
    StoreError, StoreResult, ValueHash,
};

pub(super) async fn write(
    c: &impl GenericClient,
    pair: &str,
    entries: &[LedgerEntry],
    at: Timestamp,
) -> StoreResult<()> {
    for entry in entries {
        let sql = match entry.kind {
            LedgerKind::Written => {
                "INSERT INTO ledger (pair, side, record_id, field, written_json, written_hash, written_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (pair, side, record_id, field) DO UPDATE SET
                     written_json = excluded.written_json,
                     written_hash = excluded.written_hash,
                     written_at = excluded.written_at"
            }
            LedgerKind::Read => {
                "INSERT INTO ledger (pair, side, record_id, field, read_json, read_hash, read_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (pair, side, record_id, field) DO UPDATE SET
                     read_json = excluded.read_json,
                     read_hash = excluded.read_hash,
                     read_at = excluded.read_at"
            }
        };
        execute(
            c,
            sql,
            &[
                &pair,
                &entry.side.as_str(),
                &entry.record_id,
                &entry.field,
                &json_text(&entry.value),
                &ValueHash::of(&entry.value).as_str(),
                &millis(at),
            ],
        )
        .await?;
    }
    Ok(())
}

fn shadow(
    value: Option<String>,
    hash: Option<String>,
    at: Option<i64>,
) -> StoreResult<Option<ShadowValue>> {
    let (Some(value), Some(hash), Some(at)) = (value, hash, at) else {
        return Ok(None);
    };
    Ok(Some(ShadowValue {
        value: json("ledger value", &value)?,
        hash: ValueHash::from_stored(hash),
        at: timestamp(at)?,
    }))
}

pub(super) async fn record_shadow(
    c: &impl GenericClient,
    pair: &str,
    side: Side,
    record_id: &str,
) -> StoreResult<RecordShadow> {
    let rows = query(
        c,
        "SELECT field, written_json, written_hash, written_at, read_json, read_hash, read_at
         FROM ledger WHERE pair = $1 AND side = $2 AND record_id = $3",
        &[&pair, &side.as_str(), &record_id],
    )
    .await?;
    let mut fields = RecordShadow::new();
    for row in &rows {
        fields.insert(
            col(row, 0)?,
            FieldShadow {
                written: shadow(col(row, 1)?, col(row, 2)?, col(row, 3)?)?,
                read: shadow(col(row, 4)?, col(row, 5)?, col(row, 6)?)?,
            },
        );
    }
    Ok(fields)
}

pub(super) async fn status_mark(
    c: &impl GenericClient,
    pair: &str,
    side: Side,
    record_id: &str,
) -> StoreResult<Option<StatusMark>> {
    let Some(row) = query_opt(
        c,
        "SELECT kind, message FROM status_mark WHERE pair = $1 AND side = $2 AND record_id = $3",
        &[&pair, &side.as_str(), &record_id],
    )
    .await?
    else {
        return Ok(None);
    };
    let kind: String = col(&row, 0)?;
    let kind = StatusKind::parse(&kind).ok_or_else(|| StoreError::decode("status kind", &kind))?;
    Ok(Some(StatusMark {
        side,
        record_id: record_id.to_owned(),
        kind,
        message: col(&row, 1)?,
    }))
}

pub(super) async fn set_status_marks(
    c: &impl GenericClient,
    pair: &str,
    marks: &[StatusMark],
    at: Timestamp,
) -> StoreResult<()> {
    for mark in marks {
        execute(
            c,
            "INSERT INTO status_mark (pair, side, record_id, kind, message, written_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (pair, side, record_id) DO UPDATE SET
                 kind = excluded.kind, message = excluded.message, written_at = excluded.written_at",
            &[
                &pair,
                &mark.side.as_str(),
                &mark.record_id,
                &mark.kind.as_str(),
                &mark.message,
                &millis(at),
            ],
        )
        .await?;
    }
    Ok(())
}
