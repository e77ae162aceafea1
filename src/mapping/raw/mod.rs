//! `RawMapping`: plain serde types that mirror the YAML mapping file one to one.
//!
//! Filling these types never touches the environment: `${VAR}` stays as written until the
//! validated model is built. Every struct denies unknown fields, and doc comments become the
//! JSON Schema's descriptions (`schemas/mapping.schema.json`), so they are user documentation.

mod cases;
mod collection;
mod duration;
mod pair;
mod result;
mod setup;
mod system;
mod webhook;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use cases::*;
pub use collection::*;
pub use duration::{ByteSize, DurationSpec};
pub use pair::*;
pub use result::*;
pub use setup::*;
pub use system::*;
pub use webhook::*;

/// A mapsync mapping: two systems, a collection on each, and how their records sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mapsync mapping")]
pub struct RawMapping {
    /// The mapping format version; always 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// A human name for the mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The HTTP APIs, by a short name used in the rest of the file.
    pub systems: BTreeMap<String, RawSystem>,
    /// The kinds of record on those systems, by a short name.
    pub collections: BTreeMap<String, RawCollection>,
    /// The sync between a home and an external collection.
    pub pair: RawPair,
    /// What `mapsync setup` makes exist, in dependency order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup: Vec<RawSetupResource>,
    /// Test cases for `mapsync test`: source records planned offline through the engine, and
    /// what each plan must say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<RawTestCase>,
}
