//! SQL for links (the id map): unique per (pair, home id) and per (pair, external id).

use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use tokio_postgres::Row;

use super::{col, execute, query, query_opt};
use crate::mapping::Side;
use crate::store::sqlite::codec::{millis, unsigned};
use crate::store::{Link, LinkCounts, LinkQuery, LinkState, StoreError, StoreResult};

const COLUMNS: &str = "home_id, external_id, state, home_version, external_version";

fn decode(row: &Row) -> StoreResult<Link> {
    let state: String = col(row, 2)?;
    Ok(Link {
        home_id: col(row, 0)?,
        external_id: col(row, 1)?,
        state: state
            .parse()
            .map_err(|e| StoreError::decode("link state", e))?,
        home_version: col(row, 3)?,
        external_version: col(row, 4)?,
    })
}

fn id_column(side: Side) -> &'static str {
    match side {
        Side::Home => "home_id",
        Side::External => "external_id",
    }
}

pub(super) async fn get_link(
    c: &impl GenericClient,
    pair: &str,
    side: Side,
    record_id: &str,
    lock: bool,
) -> StoreResult<Option<Link>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM link WHERE pair = $1 AND {} = $2{}",
        id_column(side),
        if lock { " FOR UPDATE" } else { "" }
    );
    query_opt(c, &sql, &[&pair, &record_id])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

pub(super) async fn get(
    c: &impl GenericClient,
    pair: &str,
    side: Side,
    record_id: &str,
) -> StoreResult<Option<Link>> {
    get_link(c, pair, side, record_id, false).await
}

/// The side and partner of a live link that stands in the way of `link`: one of its records is
/// linked, by a link that is not deleted, to another record. The rows read are locked.
pub(super) async fn taken(
    c: &impl GenericClient,
    pair: &str,
    link: &Link,
) -> StoreResult<Option<(Side, String)>> {
    for side in [Side::Home, Side::External] {
        let Some(existing) = get_link(c, pair, side, link.id_on(side), true).await? else {
            continue;
        };
        let other = side.other();
        if existing.id_on(other) != link.id_on(other) && !existing.state.is_deleted() {
            return Ok(Some((side, existing.id_on(other).to_owned())));
        }
    }
    Ok(None)
}

pub(super) async fn upsert(
    c: &impl GenericClient,
    pair: &str,
    link: &Link,
    at: Timestamp,
) -> StoreResult<()> {
    // A record may already be linked on either side. The same partner: update in place. A
    // live link to another partner: refuse. A deleted link in the way: replace it. The rows
    // read are locked; a link inserted meanwhile by another transaction makes the insert fail
    // on its unique key, and the whole transaction runs again (`write`).
    for side in [Side::Home, Side::External] {
        let Some(existing) = get_link(c, pair, side, link.id_on(side), true).await? else {
            continue;
        };
        let other = side.other();
        if existing.id_on(other) == link.id_on(other) {
            continue;
        }
        if !existing.state.is_deleted() {
            return Err(StoreError::LinkTaken {
                pair: pair.to_owned(),
                side,
                id: link.id_on(side).to_owned(),
                linked_to: existing.id_on(other).to_owned(),
            });
        }
        execute(
            c,
            "DELETE FROM link WHERE pair = $1 AND home_id = $2",
            &[&pair, &existing.home_id],
        )
        .await?;
    }
    execute(
        c,
        "INSERT INTO link (pair, home_id, external_id, state, home_version, external_version,
                           created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         ON CONFLICT (pair, home_id) DO UPDATE SET
             state = excluded.state,
             home_version = excluded.home_version,
             external_version = excluded.external_version,
             updated_at = excluded.updated_at",
        &[
            &pair,
            &link.home_id,
            &link.external_id,
            &link.state.as_str(),
            &link.home_version,
            &link.external_version,
            &millis(at),
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn mark_deleted(
    c: &impl GenericClient,
    pair: &str,
    side: Side,
    record_id: &str,
    at: Timestamp,
) -> StoreResult<bool> {
    let sql = format!(
        "UPDATE link SET state = $3, updated_at = $4 WHERE pair = $1 AND {} = $2",
        id_column(side)
    );
    let changed = execute(
        c,
        &sql,
        &[
            &pair,
            &record_id,
            &LinkState::deleted_on(side).as_str(),
            &millis(at),
        ],
    )
    .await?;
    Ok(changed > 0)
}

pub(super) async fn list(
    c: &impl GenericClient,
    pair: &str,
    query_: &LinkQuery,
) -> StoreResult<Vec<Link>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM link
         WHERE pair = $1 AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR home_id > $3)
         ORDER BY home_id LIMIT $4"
    );
    let rows = query(
        c,
        &sql,
        &[
            &pair,
            &query_.state.map(LinkState::as_str),
            &query_.after_home_id,
            &i64::from(query_.limit),
        ],
    )
    .await?;
    rows.iter().map(decode).collect()
}

pub(super) async fn counts(c: &impl GenericClient, pair: &str) -> StoreResult<LinkCounts> {
    let rows = query(
        c,
        "SELECT state, count(*) FROM link WHERE pair = $1 GROUP BY state",
        &[&pair],
    )
    .await?;
    let mut counts = LinkCounts::default();
    for row in &rows {
        let state: String = col(row, 0)?;
        let n: i64 = col(row, 1)?;
        let state: LinkState = state
            .parse()
            .map_err(|e| StoreError::decode("link state", e))?;
        counts.add(state, unsigned("link count", n)?);
    }
    Ok(counts)
}
