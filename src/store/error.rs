//! `StoreError`: every way the state store can fail, each message saying what to do about it.
//! Never carries a token value or a record payload.

use std::path::PathBuf;

use crate::mapping::Side;

/// The result type of every state-store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// A state-store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error(
        "cannot open the state database {path}: {source}; check that its directory exists and is \
         writable, or choose another file with --state"
    )]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    /// Another process holds the write lock for longer than the busy timeout.
    #[error(
        "the state database {location} is locked by another process; wait for the other mapsync \
         process to finish or stop it, then run again"
    )]
    Locked { location: String },

    /// The file is not a SQLite database, or its pages are damaged.
    #[error(
        "the state database {location} is corrupt or is not a mapsync state file ({detail}); \
         restore it from a backup, or move it aside to start afresh (links are then rebuilt from \
         the match keys)"
    )]
    Corrupt { location: String, detail: String },

    /// The file was migrated by a newer mapsync.
    #[error(
        "the state database {location} has schema version {found}, but this mapsync knows versions \
         up to {supported}; upgrade mapsync, or use another file with --state"
    )]
    SchemaTooNew {
        location: String,
        found: i64,
        supported: i64,
    },

    /// A link would give a record two partners.
    #[error(
        "pair {pair}: the {side} record {id} is already linked to {linked_to}; unlink or mark the \
         old link deleted before linking it again"
    )]
    LinkTaken {
        pair: String,
        side: Side,
        id: String,
        linked_to: String,
    },

    /// A checkpoint would move a run backwards.
    #[error(
        "run {run_id}: the checkpoint would move back from page {stored} to page {attempted}; this \
         is a bug in mapsync, please report it"
    )]
    CheckpointBackwards {
        run_id: String,
        stored: i64,
        attempted: i64,
    },

    /// A fenced write whose claim no longer holds: its lease ran out and another holder took the
    /// records over, or the claim was ended. Nothing of the write was recorded.
    #[error(
        "the claim {token} on these records was lost (its lease ran out and another worker took \
         them over, or it was ended), so nothing was recorded; the new holder works the records \
         again"
    )]
    ClaimLost { token: i64 },

    /// A process lock is held by another process on the same state store.
    #[error(
        "another mapsync process holds the `{lock}` lock on the state store {location}; wait for \
         it to finish or stop it, or use another state file with --state"
    )]
    LockHeld { location: String, lock: String },

    /// A lock file next to the state file cannot be created or locked.
    #[error("cannot lock {location}: {detail}; check that the state file's directory is writable")]
    Io { location: String, detail: String },

    /// No run has this id (in this pair).
    #[error("no sync run {run_id} (in this pair); this is a bug in mapsync, please report it")]
    RunNotFound { run_id: String },

    /// The run already finished, so it takes no more checkpoints.
    #[error(
        "sync run {run_id} is {state}, not running; it cannot take another checkpoint (was it \
         marked killed by a newer run?)"
    )]
    RunNotRunning { run_id: String, state: String },

    /// A value read back from the database could not be decoded.
    #[error(
        "the state database holds a value mapsync cannot read ({what}: {detail}); was the file \
         edited by hand? Otherwise this is a bug in mapsync, please report it"
    )]
    Decode { what: &'static str, detail: String },

    /// Any other SQLite failure (disk full, I/O error…).
    #[error("state database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// A `--state postgres://…` URL that cannot be used.
    #[error(
        "the PostgreSQL state URL is not usable: {detail}; write it as \
         postgres://user[:password]@host[:port]/database[?schema=name]"
    )]
    InvalidUrl { detail: String },

    /// The PostgreSQL server cannot be reached (or refused the connection).
    #[error(
        "cannot reach the PostgreSQL state store {location}: {detail}; check that PostgreSQL is \
         running and that the host, port, database, user and password in --state are right"
    )]
    Unreachable { location: String, detail: String },

    /// Any other PostgreSQL failure.
    #[error("state database error: {}", crate::store::postgres::db_detail(.0))]
    Postgres(#[source] tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> StoreError {
        StoreError::Postgres(error)
    }
}

impl StoreError {
    pub(crate) fn decode(what: &'static str, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Decode {
            what,
            detail: detail.to_string(),
        }
    }
}
