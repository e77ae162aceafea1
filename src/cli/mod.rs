//! Command-line types, exit codes and rendering of human and JSON output.
