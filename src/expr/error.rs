//! `ExprError`: why an expression, template, JSONPath or field path failed to compile or run.

use thiserror::Error;

/// An expression-layer failure. Messages quote the source so the user can find it.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ExprError {
    /// The expression does not parse.
    #[error("expression `{source_text}` does not compile: {message}")]
    Syntax {
        /// The expression as written.
        source_text: String,
        /// minijinja's explanation.
        message: String,
    },
    /// The expression failed while evaluating (an undefined variable, a wrong type).
    #[error("expression `{source_text}` failed: {message}")]
    Eval {
        /// The expression as written.
        source_text: String,
        /// minijinja's explanation.
        message: String,
    },
    /// A JSONPath does not parse.
    #[error("JSONPath `{source_text}` is not valid: {message}")]
    JsonPath {
        /// The path as written.
        source_text: String,
        /// The parser's explanation.
        message: String,
    },
    /// A field path does not parse.
    #[error("field path `{source_text}` is not valid: {message}")]
    FieldPath {
        /// The path as written.
        source_text: String,
        /// What is wrong.
        message: String,
    },
    /// A template uses a block tag, which templates do not support.
    #[error(
        "template `{source_text}` uses `{{%`: templates take only `{{{{ expression }}}}` parts"
    )]
    Block {
        /// The template as written.
        source_text: String,
    },
}
