//! `RunnerError`: why a sync stopped as a whole (per-record failures are outcomes, not errors).

use thiserror::Error;

use crate::connector::ConnectorError;
use crate::store::StoreError;

/// A sync that could not go on.
#[derive(Debug, Error)]
pub enum RunnerError {
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Listing records failed after the connector's retries.
    #[error("listing {what} failed: {source}")]
    List {
        /// What was being listed.
        what: String,
        /// The connector's error.
        #[source]
        source: Box<ConnectorError>,
    },
    /// Another process runs the same full sync (same pair and direction) on the state store.
    #[error("{0}")]
    Busy(String),
    /// A safety rail stopped the sync before it wrote anything more.
    #[error("{0}")]
    Refused(String),
    /// A system the mapping names has no connector (a bug in mapsync).
    #[error("no connector for system `{0}`; this is a bug in mapsync, please report it")]
    Internal(String),
}
