//! The `StateStore` contract suite: every behaviour a store must have, written once against the
//! trait and run against each implementation, so the stores cannot drift apart.
//!
//! This directory is not a module of its own: each store's test module includes it with
//! `#[path = "../contract/mod.rs"] mod contract;` and provides, beside that line,
//! `fn store() -> impl Deref<Target = S>` for a fresh, empty store `S: StateStore + Clone`
//! (dropping it cleans up). A test here takes a store with `store()`, uses it through the
//! trait, and never reaches for a store's own SQL; tests that need one store's internals stay
//! beside that store. Add a new store behaviour's test here, in the file of its area.

mod budget;
mod checkpoint_property;
mod claims;
pub(crate) mod commit;
mod inbox;
mod intents;
mod ledger;
mod links;
mod outcomes;
pub(crate) mod runs;
mod snapshot;
mod tokens;

use jiff::Timestamp;

use super::store;

/// A fixed time, `seconds` after an arbitrary epoch.
pub(super) fn t(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}
