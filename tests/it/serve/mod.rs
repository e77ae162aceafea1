//! `mapsync serve`: the router driven in-process (signatures, windows, tokens, limits, dedup,
//! health, OAuth state checks), and the real binary end to end with the sandbox delivering real
//! signed webhooks and notifications.

mod ambiguous_live;
mod attack;
mod crash;
mod e2e;
mod explain;
pub(crate) mod harness;
mod instances;
mod lease;
mod live_faults;
mod logs;
mod oauth_live;
mod pairs;
mod queue;
mod router;
mod side_by_side;
mod signed_uri;
mod stale_delete;
