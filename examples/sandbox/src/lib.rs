//! Local stand-ins for the 10to8 Enterprise API v2, HubSpot (CRM v3 contacts, properties,
//! webhooks v3, OAuth) and Pipedrive (API v1 persons, person fields, webhooks v1): mapsync's
//! test bed and try-it-out environment.
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! let sb = sandbox::Sandbox::start(sandbox::SandboxConfig::for_tests()).await?;
//! println!("{} {}", sb.tte_base_url(), sb.hubspot_base_url());
//! # Ok(()) }
//! ```
//!
//! Behaviour that rests on an assumption carries its id from `FIDELITY.md` §4 (`T-nn`, `H-nn`), or
//! for Pipedrive, inferred from its public documentation, a `P-nn` id, in a comment; `assumptions::ASSUMPTIONS` lists them and `GET /_sandbox/assumptions` serves them.

// Handlers return `Result<_, Response>` / `Result<_, HsError>`; error paths are not hot.
#![allow(clippy::result_large_err)]

mod app;
pub mod assumptions;
pub mod clock;
pub mod config;
pub mod control;
pub mod demo;
pub mod email;
pub mod faults;
mod gate;
mod handle;
pub mod hubspot;
pub mod log;
mod outbound;
pub mod pipedrive;
mod query;
pub mod ratelimit;
pub mod seed;
mod server;
pub mod signature;
pub mod tte;

pub use app::init_crypto;
pub use config::{
    AfterApply, Credentials, Faults, HubspotRateLimit, NotificationConfig, PipedriveConfig,
    SandboxConfig, ScriptedFault, System, TteRateLimit, UnsetCustomFields, WebhookConfig,
};
pub use handle::{Sandbox, SandboxHandle};
pub use hubspot::error::HsError;
pub use hubspot::store::Contact;
pub use log::{DeliveryAttempt, LoggedRequest, OpCount, RetryAfterViolation};
pub use pipedrive::store::PdError;
pub use seed::SeedReport;
pub use tte::store::{Customer, TteError};
