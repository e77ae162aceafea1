//! Durable state in SQLite: links, ledger, outcomes, checkpoints, inbox, dead letters, tokens.
