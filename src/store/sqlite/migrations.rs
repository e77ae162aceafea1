//! Schema migrations: ordered SQL files embedded in the binary, applied in one transaction on
//! open. The schema version is `PRAGMA user_version`; `PRAGMA application_id` marks the file as
//! mapsync's so a foreign SQLite file is refused instead of altered.

use rusqlite::{Connection, TransactionBehavior};

use crate::store::{StoreError, StoreResult};

/// Migration N (1-based) takes the schema from version N-1 to N. Append only; never edit one
/// that has shipped.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_snapshot.sql"),
    include_str!("migrations/0003_claims.sql"),
    include_str!("migrations/0004_token_account.sql"),
    include_str!("migrations/0005_audit.sql"),
    include_str!("migrations/0006_snapshot_several.sql"),
];

/// The schema version this build writes.
pub(super) fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

pub(super) fn migrate(
    conn: &mut Connection,
    location: &str,
    application_id: i32,
) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found_id: i32 = tx.pragma_query_value(None, "application_id", |row| row.get(0))?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let foreign = |detail: String| StoreError::Corrupt {
        location: location.to_owned(),
        detail,
    };
    if found_id != 0 && found_id != application_id {
        return Err(foreign(format!("its application id is {found_id:#x}")));
    }
    if found_id == 0 {
        let tables: i64 =
            tx.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
        if tables > 0 {
            return Err(foreign(
                "it already holds tables that mapsync did not create".to_owned(),
            ));
        }
    }
    if found > latest() {
        return Err(StoreError::SchemaTooNew {
            location: location.to_owned(),
            found,
            supported: latest(),
        });
    }
    if found == latest() {
        return Ok(());
    }
    for sql in MIGRATIONS.iter().skip(usize::try_from(found).unwrap_or(0)) {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "application_id", application_id)?;
    tx.pragma_update(None, "user_version", latest())?;
    tx.commit()?;
    Ok(())
}
