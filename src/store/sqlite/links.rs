//! SQL for links (the id map): unique per (pair, home id) and per (pair, external id).

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::codec::{millis, unsigned};
use crate::mapping::Side;
use crate::store::{Link, LinkCounts, LinkQuery, LinkState, StoreError, StoreResult};

const COLUMNS: &str = "home_id, external_id, state, home_version, external_version";

type RawLink = (String, String, String, Option<String>, Option<String>);

fn raw(row: &Row<'_>) -> rusqlite::Result<RawLink> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn decode(
    (home_id, external_id, state, home_version, external_version): RawLink,
) -> StoreResult<Link> {
    let state = state
        .parse()
        .map_err(|e| StoreError::decode("link state", e))?;
    Ok(Link {
        home_id,
        external_id,
        state,
        home_version,
        external_version,
    })
}

fn id_column(side: Side) -> &'static str {
    match side {
        Side::Home => "home_id",
        Side::External => "external_id",
    }
}

pub(super) fn get(
    conn: &Connection,
    pair: &str,
    side: Side,
    record_id: &str,
) -> StoreResult<Option<Link>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM link WHERE pair = ?1 AND {} = ?2",
        id_column(side)
    );
    conn.prepare_cached(&sql)?
        .query_row(params![pair, record_id], raw)
        .optional()?
        .map(decode)
        .transpose()
}

/// The side and partner of a live link that stands in the way of `link`: one of its records is
/// linked, by a link that is not deleted, to another record.
pub(super) fn taken(
    conn: &Connection,
    pair: &str,
    link: &Link,
) -> StoreResult<Option<(Side, String)>> {
    for side in [Side::Home, Side::External] {
        let Some(existing) = get(conn, pair, side, link.id_on(side))? else {
            continue;
        };
        let other = side.other();
        if existing.id_on(other) != link.id_on(other) && !existing.state.is_deleted() {
            return Ok(Some((side, existing.id_on(other).to_owned())));
        }
    }
    Ok(None)
}

pub(super) fn upsert(conn: &Connection, pair: &str, link: &Link, at: Timestamp) -> StoreResult<()> {
    // A record may already be linked on either side. The same partner: update in place. A
    // live link to another partner: refuse. A deleted link in the way: replace it.
    if let Some((side, linked_to)) = taken(conn, pair, link)? {
        return Err(StoreError::LinkTaken {
            pair: pair.to_owned(),
            side,
            id: link.id_on(side).to_owned(),
            linked_to,
        });
    }
    for side in [Side::Home, Side::External] {
        let Some(existing) = get(conn, pair, side, link.id_on(side))? else {
            continue;
        };
        if existing.id_on(side.other()) == link.id_on(side.other()) {
            continue;
        }
        conn.prepare_cached("DELETE FROM link WHERE pair = ?1 AND home_id = ?2")?
            .execute(params![pair, existing.home_id])?;
    }
    conn.prepare_cached(
        "INSERT INTO link (pair, home_id, external_id, state, home_version, external_version,
                           created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (pair, home_id) DO UPDATE SET
             state = excluded.state,
             home_version = excluded.home_version,
             external_version = excluded.external_version,
             updated_at = excluded.updated_at",
    )?
    .execute(params![
        pair,
        link.home_id,
        link.external_id,
        link.state.as_str(),
        link.home_version,
        link.external_version,
        millis(at)
    ])?;
    Ok(())
}

pub(super) fn mark_deleted(
    conn: &Connection,
    pair: &str,
    side: Side,
    record_id: &str,
    at: Timestamp,
) -> StoreResult<bool> {
    let sql = format!(
        "UPDATE link SET state = ?3, updated_at = ?4 WHERE pair = ?1 AND {} = ?2",
        id_column(side)
    );
    let changed = conn.prepare_cached(&sql)?.execute(params![
        pair,
        record_id,
        LinkState::deleted_on(side).as_str(),
        millis(at)
    ])?;
    Ok(changed > 0)
}

pub(super) fn list(conn: &Connection, pair: &str, query: &LinkQuery) -> StoreResult<Vec<Link>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM link
         WHERE pair = ?1 AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR home_id > ?3)
         ORDER BY home_id LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            pair,
            query.state.map(LinkState::as_str),
            query.after_home_id,
            query.limit
        ],
        raw,
    )?;
    rows.map(|row| decode(row?)).collect()
}

pub(super) fn counts(conn: &Connection, pair: &str) -> StoreResult<LinkCounts> {
    let mut stmt =
        conn.prepare_cached("SELECT state, count(*) FROM link WHERE pair = ?1 GROUP BY state")?;
    let rows = stmt.query_map(params![pair], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })?;
    let mut counts = LinkCounts::default();
    for row in rows {
        let (state, n) = row?;
        let state: LinkState = state
            .parse()
            .map_err(|e| StoreError::decode("link state", e))?;
        counts.add(state, unsigned("link count", n)?);
    }
    Ok(counts)
}
