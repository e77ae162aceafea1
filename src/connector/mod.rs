//! The generic HTTP runtime that executes the operations a mapping declares.
