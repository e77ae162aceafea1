//! `Mapping`: the validated, compiled model the engine, connector and server work from.
//!
//! Every reference is resolved, every JSONPath parsed, every expression compiled and every
//! `${VAR}` interpolated. Holding a `Mapping` means validation passed: the engine accepts
//! nothing else.

mod collection;
mod pair;
mod secret;
mod setup;
mod system;
mod webhook;

use std::collections::BTreeMap;

pub use collection::*;
pub use pair::*;
pub use secret::Secret;
pub use setup::*;
pub use system::*;
pub use webhook::*;

use super::Side;
use super::raw::RawMapping;

/// A validated mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// A human name.
    pub title: Option<String>,
    /// The systems by name.
    pub systems: BTreeMap<String, System>,
    /// The collections by name.
    pub collections: BTreeMap<String, Collection>,
    /// The pair.
    pub pair: Pair,
    /// Setup resources, in dependency order.
    pub setup: Vec<SetupResource>,
    /// The raw form it was built from (environment not interpolated).
    pub raw: RawMapping,
}

impl Mapping {
    /// The collection on one side of the pair.
    pub fn collection(&self, side: Side) -> &Collection {
        let name = self.pair.collections.get(side);
        // Invariant: compile() only builds a Mapping whose pair names existing collections.
        &self.collections[name]
    }

    /// The system a side's collection lives on.
    pub fn system(&self, side: Side) -> &System {
        &self.systems[&self.collection(side).system]
    }

    /// A stable name for the pair, used as the key in the state store.
    pub fn pair_key(&self) -> String {
        format!(
            "{}<->{}",
            self.pair.collections.home, self.pair.collections.external
        )
    }
}

/// A value for each side.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sides<T> {
    /// The home side's.
    pub home: T,
    /// The external side's.
    pub external: T,
}

impl<T> Sides<T> {
    /// The value for one side.
    pub fn get(&self, side: Side) -> &T {
        match side {
            Side::Home => &self.home,
            Side::External => &self.external,
        }
    }

    /// The value for one side, mutably.
    pub fn get_mut(&mut self, side: Side) -> &mut T {
        match side {
            Side::Home => &mut self.home,
            Side::External => &mut self.external,
        }
    }
}
