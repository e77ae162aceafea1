//! `mapsync serve`: the router driven in-process (signatures, windows, tokens, limits, dedup,
//! health, OAuth state checks), and the real binary end to end with the sandbox delivering real
//! signed webhooks and notifications.

mod attack;
mod crash;
mod e2e;
pub(crate) mod harness;
mod instances;
mod lease;
mod live_faults;
mod oauth_live;
mod queue;
mod router;
