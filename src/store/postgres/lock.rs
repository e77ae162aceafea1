//! Process locks of a PostgreSQL store: a session advisory lock on a connection of its own, held
//! while the guard lives. The server releases it when the connection ends, so a process that
//! dies (kill -9 included) never leaves a lock behind.

use tokio::runtime::Handle;
use tokio_postgres::NoTls;

use super::bridge;
use crate::store::{ProcessLock, StoreError, StoreResult};

/// The connection holding a lock; dropping it closes the connection, which frees the lock.
struct Guard {
    _client: tokio_postgres::Client,
}

/// Takes the lock `name` on `schema` through a new connection made with `config`.
pub(super) fn take(
    handle: &Handle,
    config: &tokio_postgres::Config,
    schema: &str,
    location: &str,
    name: &str,
) -> StoreResult<ProcessLock> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(StoreError::decode("lock name", format!("{name:?}")));
    }
    let _context = handle.enter();
    let (client, taken) = bridge::block_on(async {
        let (client, connection) =
            config
                .connect(NoTls)
                .await
                .map_err(|e| StoreError::Unreachable {
                    location: location.to_owned(),
                    detail: super::db_detail(&e),
                })?;
        handle.spawn(connection);
        let row = client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtextextended('mapsync lock ' || $1 || ' ' || $2, 0))",
                &[&schema, &name],
            )
            .await?;
        let taken: bool = super::col(&row, 0)?;
        Ok::<_, StoreError>((client, taken))
    })?;
    if !taken {
        return Err(StoreError::LockHeld {
            location: location.to_owned(),
            lock: name.to_owned(),
        });
    }
    Ok(ProcessLock::new(name, Box::new(Guard { _client: client })))
}
