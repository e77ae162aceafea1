//! The sync loop: fetch → plan → apply → checkpoint, over the connector, the engine and the
//! store; and `serve`'s inbox workers, which run the same plan and apply per record.
//!
//! Architecture invariant: state lives in the store, never only in memory; a page's links,
//! ledger, outcomes and checkpoint are committed in one transaction after the target
//! acknowledged its writes, so a sync killed at any moment resumes without losing or
//! duplicating records.

mod apply;
mod budget;
mod claims;
mod credentials;
mod error;
mod failpoint;
mod lookup;
mod report;
mod sync;
mod tokens;
mod worker;

pub use budget::StoreBudget;
pub use claims::SERVE_LOCK;
pub use credentials::{check_credentials, check_setup_variables};
pub use error::RunnerError;
#[cfg(feature = "failpoints")]
pub use failpoint::FAILPOINTS;
pub use report::{Counts, SyncOptions, SyncReport};
pub use sync::{Connectors, Observer, Quiet, sync};
pub use tokens::StoreTokens;
pub use worker::{LEASE, MAX_ATTEMPTS, WorkerContext, WorkerCounters, claim_scopes, run_workers};
