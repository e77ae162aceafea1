//! The YAML mapping model: raw types, loading, validation and the JSON Schema.

mod side;

pub use side::{Direction, Side};
