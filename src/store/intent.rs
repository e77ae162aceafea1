//! Create intents (E1): a durable note, written before a create call, that a source record is
//! being created on the target. Plain data; the SQL lives in `sqlite/intents.rs`.

use jiff::Timestamp;

use crate::mapping::Direction;

/// An intent to create the target record of `source_id`. Record it before the create call and
/// settle it after; an unsettled intent after a restart means "look the target up before
/// creating it again".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateIntent {
    pub direction: Direction,
    pub source_id: String,
    /// Unique per attempt (e.g. a UUID), also sent as the idempotency key where the API has one.
    pub attempt_key: String,
}

/// An intent as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingIntent {
    pub intent: CreateIntent,
    pub created_at: Timestamp,
}

/// Settles every intent of one source record: its create is resolved (created, found, or given
/// up), whichever attempt it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentSettlement {
    pub direction: Direction,
    pub source_id: String,
}
