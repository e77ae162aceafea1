//! Process locks of a PostgreSQL store: a session advisory lock on a connection of its own, held
//! while the guard lives. The server releases it when the connection ends, so a process that
//! dies (kill -9 included) never leaves a lock behind. A process lock is tried once (`take`);
//! the token-refresh lock of a system is waited for, up to a `lock_timeout` (`take_token`).

use std::time::Duration;

use tokio::runtime::Handle;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

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
        let client = connect(handle, config, location).await?;
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

/// Takes the lock on refreshing `system`'s tokens on `schema`, waiting up to `wait` (the
/// connection's `lock_timeout`) while another session holds it; then fails with `LockHeld`.
pub(super) fn take_token(
    handle: &Handle,
    config: &tokio_postgres::Config,
    schema: &str,
    location: &str,
    system: &str,
    wait: Duration,
) -> StoreResult<ProcessLock> {
    let name = format!("token-{system}");
    let _context = handle.enter();
    let client = bridge::block_on(async {
        let client = connect(handle, config, location).await?;
        // 0 would mean "no timeout": wait at least a millisecond.
        let ms = wait.as_millis().clamp(1, i64::MAX as u128);
        client
            .batch_execute(&format!("SET lock_timeout = {ms}"))
            .await?;
        let taken = client
            .execute(
                "SELECT pg_advisory_lock(hashtextextended('mapsync token ' || $1 || ' ' || $2, 0))",
                &[&schema, &system],
            )
            .await;
        match taken {
            Ok(_) => Ok(client),
            Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                Err(StoreError::LockHeld {
                    location: location.to_owned(),
                    lock: name.clone(),
                })
            }
            Err(e) => Err(e.into()),
        }
    })?;
    Ok(ProcessLock::new(name, Box::new(Guard { _client: client })))
}

/// A connection of its own (not from the pool), whose I/O runs on the store's runtime.
async fn connect(
    handle: &Handle,
    config: &tokio_postgres::Config,
    location: &str,
) -> StoreResult<tokio_postgres::Client> {
    let (client, connection) =
        config
            .connect(NoTls)
            .await
            .map_err(|e| StoreError::Unreachable {
                location: location.to_owned(),
                detail: super::db_detail(&e),
            })?;
    handle.spawn(connection);
    Ok(client)
}
