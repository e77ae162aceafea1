//! Schema migrations: ordered SQL files embedded in the binary, applied at open in one
//! transaction under an advisory lock on the schema's name, so two instances starting together
//! migrate once. The version lives in the schema's `mapsync_schema` table; a schema that holds
//! other tables but not that one is refused, never altered.

use deadpool_postgres::GenericClient;

use super::{col, query, query_opt};
use crate::store::{StoreError, StoreResult};

/// Migration N (1-based) takes the schema from version N-1 to N. Append only; never edit one
/// that has shipped.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_audit.sql"),
    include_str!("migrations/0003_snapshot_several.sql"),
];

/// The schema version this build writes.
pub(super) fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// The version of the schema on `search_path`.
pub(super) async fn version(c: &impl GenericClient) -> StoreResult<i64> {
    let row = query_opt(c, "SELECT version FROM mapsync_schema", &[]).await?;
    row.map_or(Ok(0), |row| col(&row, 0))
}

pub(super) async fn migrate(
    client: &mut deadpool_postgres::Client,
    schema: &str,
) -> StoreResult<()> {
    let tx = client.transaction().await?;
    // One lock per schema name, held to the end of this transaction.
    query(
        &tx,
        "SELECT pg_advisory_xact_lock(hashtextextended('mapsync migrate ' || $1, 0))",
        &[&schema],
    )
    .await?;
    // The name was checked to be a plain identifier (`PostgresConfig::from_url`).
    tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .await?;
    let tables: Vec<String> = query(
        &tx,
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
        &[&schema],
    )
    .await?
    .iter()
    .map(|row| col(row, 0))
    .collect::<StoreResult<_>>()?;
    let location = format!("schema {schema}");
    let found = if tables.iter().any(|t| t == "mapsync_schema") {
        version(&tx).await?
    } else if tables.is_empty() {
        tx.batch_execute("CREATE TABLE mapsync_schema (version BIGINT NOT NULL); INSERT INTO mapsync_schema VALUES (0)")
            .await?;
        0
    } else {
        return Err(StoreError::Corrupt {
            location,
            detail: "it already holds tables that mapsync did not create; name another schema \
                     with ?schema= in the URL"
                .to_owned(),
        });
    };
    if found > latest() {
        return Err(StoreError::SchemaTooNew {
            location,
            found,
            supported: latest(),
        });
    }
    for sql in MIGRATIONS.iter().skip(usize::try_from(found).unwrap_or(0)) {
        tx.batch_execute(sql).await?;
    }
    query(&tx, "UPDATE mapsync_schema SET version = $1", &[&latest()]).await?;
    tx.commit().await?;
    Ok(())
}
