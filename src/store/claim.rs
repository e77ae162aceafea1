//! Claims (one pair, one worker): a holder claims records under a lease before it plans or
//! writes them; a claim covers a record and, when the store links it, its counterpart, so the
//! two records of a linked pair are never worked by two holders (processes or tasks) at once.
//! Every claim carries a fencing token: the commit that records a holder's work checks that its
//! token still holds. Plain data; the SQL lives in `sqlite/claims.rs`.

use jiff::Timestamp;
use std::fmt;

use crate::mapping::Side;

/// One record named for a claim: a side of the pair and the record's id there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClaimKey {
    pub side: Side,
    pub record_id: String,
}

impl ClaimKey {
    pub fn new(side: Side, record_id: impl Into<String>) -> ClaimKey {
        ClaimKey {
            side,
            record_id: record_id.into(),
        }
    }
}

impl fmt::Display for ClaimKey {
    /// `home:<id>` or `external:<id>`: the form the store keeps.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.side.as_str(), self.record_id)
    }
}

/// A claim held by one holder on some records of one pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordClaim {
    /// The fencing token: unique for the life of the store, never reused. A claim that was
    /// taken over (its lease ran out and another holder claimed one of its keys) or ended is
    /// gone, and every fenced write with its token is refused.
    pub token: i64,
    /// Who holds it (a worker name or a sync run).
    pub holder: String,
    /// The pair the keys belong to.
    pub pair: String,
    /// The records it covers: the claimed records and their linked counterparts.
    pub keys: Vec<ClaimKey>,
    /// Until when nobody else may take it; [`crate::store::StateStore::renew_claim`] extends it.
    pub lease_until: Timestamp,
}

impl RecordClaim {
    /// Whether the claim covers this record.
    pub fn covers(&self, side: Side, record_id: &str) -> bool {
        self.keys
            .iter()
            .any(|k| k.side == side && k.record_id == record_id)
    }
}

/// Which pair and side the records of an inbox source belong to, so an inbox claim can cover the
/// record's linked counterpart too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimScope {
    /// The inbox source (the `source` of the events).
    pub source: String,
    /// The pair its records belong to.
    pub pair: String,
    /// The side of the pair its record keys are ids on.
    pub side: Side,
}
