//! The YAML mapping model: raw types, loading, validation and the JSON Schema.

pub mod raw;
mod side;

pub use side::{Direction, Side};
mod diagnostic;

pub use diagnostic::{Diagnostic, Location, Severity, pointer, pointer_segment};
