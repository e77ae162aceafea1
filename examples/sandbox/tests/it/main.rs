//! Contract tests of the sandbox against the documented shapes (FIDELITY.md), one binary.

mod common;
mod faults;
mod hubspot_batch;
mod hubspot_contacts;
mod hubspot_oauth;
mod hubspot_properties;
mod hubspot_search;
mod hubspot_webhooks;
mod pipedrive;
mod ratelimit;
mod seed;
mod tte;
