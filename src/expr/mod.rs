//! The expression layer: JSONPath reads and minijinja expressions and templates.
