//! The YAML mapping model: raw types, loading, validation and the JSON Schema.

pub mod raw;
mod side;

pub use side::{Direction, Side};
mod diagnostic;

pub use diagnostic::{Diagnostic, Location, Severity, pointer, pointer_segment};
pub mod compile;
pub mod env;
pub mod expr_reference;
pub mod model;

pub use compile::{Compiled, EnvMode, compile};
pub use model::Mapping;
pub mod load;
mod pointer_index;
pub mod reference;
pub mod schema;
mod schema_check;

pub use load::{Loaded, lines_of, load_file, load_str};
