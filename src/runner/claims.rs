//! Claims and process locks as the runner uses them: the lock names (one `serve` per store, one
//! full sync per pair and direction), claiming a sync page's records (one pair, one worker: the
//! claim covers `sync`'s records too), and the heartbeat that keeps claims alive while a holder
//! works.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

use crate::engine::Engine;
use crate::mapping::Direction;
use crate::store::{ClaimKey, RecordClaim, StateStore, StoreResult};

/// The process lock `mapsync serve` holds on its state store.
pub const SERVE_LOCK: &str = "serve";

/// The process lock a full sync of `pair` in `direction` holds: a second one refuses.
pub(crate) fn sync_lock(pair: &str, direction: Direction) -> String {
    let pair: String = pair
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("sync-{pair}-{direction}")
}

/// A page's records, split by whether this holder got their claim.
pub(crate) struct PageClaims {
    /// Claimed records with their claims.
    pub mine: Vec<(Value, RecordClaim)>,
    /// Records held by someone else: tried again once they are free.
    pub busy: Vec<Value>,
    /// Records without an id: nothing to claim (the engine plans them as failures).
    pub unnamed: Vec<Value>,
}

/// Claims each source record of a page (with its linked counterpart) for `holder`.
pub(crate) fn claim_page(
    store: &dyn StateStore,
    engine: &Engine<'_>,
    pair: &str,
    holder: &str,
    records: Vec<Value>,
    lease: Duration,
    at: Timestamp,
) -> StoreResult<PageClaims> {
    let side = engine.direction().source();
    let mut named = Vec::new();
    let mut keys = Vec::new();
    let mut unnamed = Vec::new();
    for r in records {
        match engine.source().id_of(&r) {
            Some(id) => {
                keys.push(ClaimKey::new(side, id));
                named.push(r);
            }
            None => unnamed.push(r),
        }
    }
    let claims = if keys.is_empty() {
        Vec::new()
    } else {
        store.claim_records(pair, holder, &keys, lease, at)?
    };
    let mut mine = Vec::new();
    let mut busy = Vec::new();
    for (r, c) in named.into_iter().zip(claims) {
        match c {
            Some(c) => mine.push((r, c)),
            None => busy.push(r),
        }
    }
    Ok(PageClaims {
        mine,
        busy,
        unnamed,
    })
}

/// Renews every claim in `tokens` every third of `lease`; returns only when one of them is lost
/// (taken over or ended), so the caller stops its work. A store failure is retried at the next
/// beat.
pub(crate) async fn keep_alive(store: &dyn StateStore, tokens: &[i64], lease: Duration) {
    loop {
        tokio::time::sleep(lease / 3).await;
        for &token in tokens {
            match store.renew_claim(token, lease, Timestamp::now()) {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "Could not renew a claim; trying again at the next heartbeat.")
                }
            }
        }
    }
}

/// The latest time the ledger recorded anything for this record (`None`: never).
pub(crate) fn last_touched(
    store: &dyn StateStore,
    pair: &str,
    side: crate::mapping::Side,
    record_id: &str,
) -> StoreResult<Option<Timestamp>> {
    Ok(store
        .record_shadow(pair, side, record_id)?
        .values()
        .flat_map(|f| [f.written.as_ref(), f.read.as_ref()])
        .flatten()
        .map(|v| v.at)
        .max())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_lock_names_are_valid_lock_names_per_pair_and_direction() {
        let name = sync_lock("customers<->contacts", Direction::Outbound);
        assert_eq!(name, "sync-customers_-_contacts-outbound");
        assert_ne!(name, sync_lock("customers<->contacts", Direction::Inbound));
    }
}
