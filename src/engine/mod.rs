//! Pure planning: decides creates, updates, skips and deletes from records and state, with no I/O.
