//! The two sides of a pair and the two directions of a sync: the vocabulary every layer shares.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One side of a pair: the home system's collection or the external system's collection.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The home collection (the system of record the user thinks of as "ours").
    Home,
    /// The external collection.
    External,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Home => Side::External,
            Side::External => Side::Home,
        }
    }

    /// The side's name as written in mappings, logs and the state store.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Home => "home",
            Side::External => "external",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The direction of a sync: `outbound` is home → external, `inbound` is external → home.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Home → external.
    Outbound,
    /// External → home.
    Inbound,
}

impl Direction {
    /// The side records are read from.
    pub fn source(self) -> Side {
        match self {
            Direction::Outbound => Side::Home,
            Direction::Inbound => Side::External,
        }
    }

    /// The side records are written to.
    pub fn target(self) -> Side {
        self.source().other()
    }

    /// The direction's name as written in mappings, logs and the state store.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
