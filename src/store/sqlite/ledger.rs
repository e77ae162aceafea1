//! SQL for the ledger (last written / last read value per field) and the last status mark per
//! record.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::codec::{json, json_text, millis, timestamp};
use crate::mapping::Side;
use crate::store::{
    FieldShadow, LedgerEntry, LedgerKind, RecordShadow, ShadowValue, StatusKind, StatusMark,
    StoreError, StoreResult, ValueHash,
};

pub(super) fn write(
    conn: &Connection,
    pair: &str,
    entries: &[LedgerEntry],
    at: Timestamp,
) -> StoreResult<()> {
    let mut written = conn.prepare_cached(
        "INSERT INTO ledger (pair, side, record_id, field, written_json, written_hash, written_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (pair, side, record_id, field) DO UPDATE SET
             written_json = excluded.written_json,
             written_hash = excluded.written_hash,
             written_at = excluded.written_at",
    )?;
    let mut read = conn.prepare_cached(
        "INSERT INTO ledger (pair, side, record_id, field, read_json, read_hash, read_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (pair, side, record_id, field) DO UPDATE SET
             read_json = excluded.read_json,
             read_hash = excluded.read_hash,
             read_at = excluded.read_at",
    )?;
    for entry in entries {
        let stmt = match entry.kind {
            LedgerKind::Written => &mut written,
            LedgerKind::Read => &mut read,
        };
        stmt.execute(params![
            pair,
            entry.side.as_str(),
            entry.record_id,
            entry.field,
            json_text(&entry.value),
            ValueHash::of(&entry.value).as_str(),
            millis(at)
        ])?;
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

type RawField = (
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

pub(super) fn record_shadow(
    conn: &Connection,
    pair: &str,
    side: Side,
    record_id: &str,
) -> StoreResult<RecordShadow> {
    let mut stmt = conn.prepare_cached(
        "SELECT field, written_json, written_hash, written_at, read_json, read_hash, read_at
         FROM ledger WHERE pair = ?1 AND side = ?2 AND record_id = ?3",
    )?;
    let rows = stmt.query_map(params![pair, side.as_str(), record_id], |row| {
        Ok((
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
        ))
    })?;
    let mut fields = RecordShadow::new();
    for row in rows {
        let (field, wj, wh, wa, rj, rh, ra): RawField = row?;
        fields.insert(
            field,
            FieldShadow {
                written: shadow(wj, wh, wa)?,
                read: shadow(rj, rh, ra)?,
            },
        );
    }
    Ok(fields)
}

pub(super) fn status_mark(
    conn: &Connection,
    pair: &str,
    side: Side,
    record_id: &str,
) -> StoreResult<Option<StatusMark>> {
    let raw = conn
        .prepare_cached("SELECT kind, message FROM status_mark WHERE pair = ?1 AND side = ?2 AND record_id = ?3")?
        .query_row(params![pair, side.as_str(), record_id], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
        })
        .optional()?;
    let Some((kind, message)) = raw else {
        return Ok(None);
    };
    let kind = StatusKind::parse(&kind).ok_or_else(|| StoreError::decode("status kind", &kind))?;
    Ok(Some(StatusMark {
        side,
        record_id: record_id.to_owned(),
        kind,
        message,
    }))
}

pub(super) fn set_status_marks(
    conn: &Connection,
    pair: &str,
    marks: &[StatusMark],
    at: Timestamp,
) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO status_mark (pair, side, record_id, kind, message, written_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (pair, side, record_id) DO UPDATE SET
             kind = excluded.kind, message = excluded.message, written_at = excluded.written_at",
    )?;
    for mark in marks {
        stmt.execute(params![
            pair,
            mark.side.as_str(),
            mark.record_id,
            mark.kind.as_str(),
            mark.message,
            millis(at)
        ])?;
    }
    Ok(())
}
