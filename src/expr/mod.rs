//! The expression layer: JSONPath reads (jsonpath-rust), minijinja expressions that compute
//! JSON values, templates that build strings, and field paths into records.
//!
//! Architecture invariant: no I/O, and no clock: a caller that wants `now` passes it in.
//! Everything is compiled once (at mapping load) and evaluated many times.

mod email;
mod environment;
mod error;
mod expression;
mod field_path;
mod filters;
mod json_path;
mod json_template;
mod matches;
mod template;
mod vars;

pub use email::is_email;
pub use error::ExprError;
pub use expression::Expr;
pub use field_path::FieldPath;
pub use filters::split_list;
pub use json_path::JsonPath;
pub use json_template::JsonTemplate;
pub use template::Template;
pub use vars::Vars;
