//! The generic HTTP runtime that executes the operations a mapping declares: one `Connector`
//! per system, cheap to clone and shared across tasks, with its credentials, rate limit,
//! retries and counters. It knows no particular system (everything specific is in the
//! mapping), never decides retry-later or dead-letter policy (the runner does, from
//! `ConnectorError::class`), and never touches the store directly (OAuth tokens go through
//! `TokenProvider`). Only this module talks HTTP out.

mod auth;
mod batch;
mod call;
mod error;
mod oauth;
mod ops;
mod paging;
mod rate_limit;
mod render;
mod retry;
mod stats;
mod transport;
mod url;

use std::sync::Arc;

pub use batch::{BatchItem, BatchItemDone, BatchItemError, BatchOutcome};
pub use call::Response;
pub use error::{ConnectorError, Result, TransportKind};
pub use oauth::{MemoryTokens, OAuthTokens, RefreshLock, TokenProvider, TokenStoreError};
pub use ops::{CreateOutcome, DeleteOutcome};
pub use paging::{Page, PageCursor, PageGuard};
pub use rate_limit::{RateLimiter, SharedBudget};
pub use retry::{Backoff, FastRandom, FixedRandom, Jitter, Random, parse_retry_after};
pub use stats::ConnectorStats;
pub use transport::{
    Body, BoxFuture, HttpTransport, Incoming, Outgoing, Transport, TransportError,
};

use auth::Credentials;
use stats::Stats;

use crate::mapping::model::{Auth, System};

/// The runtime for one system. Clones share the rate limit, the OAuth tokens and the counters.
#[derive(Clone)]
pub struct Connector {
    shared: Arc<Shared>,
    /// Separate from `shared` so `with_auth` can swap credentials and keep the budget.
    creds: Arc<Credentials>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("system", &self.shared.system.name)
            .finish_non_exhaustive()
    }
}

/// What every clone shares.
struct Shared {
    system: System,
    transport: Arc<dyn Transport>,
    /// One budget per system, however many tasks send.
    limiter: RateLimiter,
    backoff: Backoff,
    stats: Stats,
}

/// Builds a `Connector`.
pub struct ConnectorBuilder {
    system: System,
    tokens: Option<Arc<dyn TokenProvider>>,
    budget: Option<Arc<dyn SharedBudget>>,
    jitter: Jitter,
    random: Arc<dyn Random>,
    transport: Option<Arc<dyn Transport>>,
}

impl ConnectorBuilder {
    /// Where OAuth tokens are loaded from and saved to (the state store).
    pub fn token_provider(mut self, p: Arc<dyn TokenProvider>) -> Self {
        self.tokens = Some(p);
        self
    }

    /// Takes the declared rate limit's tokens from a budget shared with other processes.
    pub fn budget(mut self, b: Arc<dyn SharedBudget>) -> Self {
        self.budget = Some(b);
        self
    }

    /// How backoff delays are spread (default ±25 %).
    pub fn jitter(mut self, j: Jitter) -> Self {
        self.jitter = j;
        self
    }

    /// The random source of the jitter (tests fix it).
    pub fn random(mut self, r: Arc<dyn Random>) -> Self {
        self.random = r;
        self
    }

    /// Sends through another transport (tests script one).
    pub fn transport(mut self, t: Arc<dyn Transport>) -> Self {
        self.transport = Some(t);
        self
    }

    /// The connector. Building the HTTP client needs `crate::init_crypto()` to have run.
    pub fn build(self) -> Result<Connector> {
        let transport: Arc<dyn Transport> = match self.transport {
            Some(t) => t,
            None => Arc::new(HttpTransport::new(self.system.timeout).map_err(|e| {
                ConnectorError::Internal(format!("building the HTTP client: {}", e.message))
            })?),
        };
        let creds = Credentials::new(&self.system.name, self.system.auth.as_ref(), self.tokens);
        Ok(Connector {
            shared: Arc::new(Shared {
                limiter: match self.budget {
                    Some(b) => RateLimiter::new(self.system.rate_limit.as_ref()).shared_with(b),
                    None => RateLimiter::new(self.system.rate_limit.as_ref()),
                },
                backoff: Backoff::new(&self.system.retry, self.jitter, self.random),
                stats: Stats::default(),
                transport,
                system: self.system,
            }),
            creds: Arc::new(creds),
        })
    }
}

impl Connector {
    /// A builder for `system`'s connector.
    pub fn builder(system: &System) -> ConnectorBuilder {
        ConnectorBuilder {
            system: system.clone(),
            tokens: None,
            budget: None,
            jitter: Jitter::default(),
            random: Arc::new(FastRandom),
            transport: None,
        }
    }

    /// A connector with the defaults (no token store: OAuth needs a static token).
    pub fn new(system: &System) -> Result<Connector> {
        Connector::builder(system).build()
    }

    /// The same system with other credentials (a setup resource's `auth`), sharing the rate
    /// limit and counters. `None` keeps the system's own.
    pub fn with_auth(&self, auth: Option<&Auth>) -> Connector {
        match auth {
            None => self.clone(),
            Some(a) => Connector {
                shared: self.shared.clone(),
                creds: Arc::new(Credentials::new(&self.shared.system.name, Some(a), None)),
            },
        }
    }

    /// The system this connector talks to.
    pub fn system(&self) -> &System {
        &self.shared.system
    }

    /// The system's request budget (shared by all clones).
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.shared.limiter
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ConnectorStats {
        let refreshes = self.creds.oauth().map_or(0, |s| {
            s.refreshes.load(std::sync::atomic::Ordering::Relaxed)
        });
        self.shared.stats.snapshot(refreshes)
    }

    /// The consent page of the OAuth install flow, or `None` when the system does not use
    /// OAuth.
    pub fn authorize_url(&self, redirect_uri: &str, state: &str) -> Option<::url::Url> {
        self.creds
            .oauth()
            .map(|s| s.authorize_url(redirect_uri, state))
    }

    /// Exchanges the install flow's authorization code for tokens, which are saved through the
    /// token provider and used from then on. An install into another account than the pinned
    /// one is refused (nothing saved) unless `replace_account`.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        replace_account: bool,
    ) -> Result<OAuthTokens> {
        match self.creds.oauth() {
            Some(s) => {
                s.exchange_code(
                    self.shared.transport.as_ref(),
                    code,
                    redirect_uri,
                    replace_account,
                )
                .await
            }
            None => Err(ConnectorError::Auth {
                system: self.shared.system.name.clone(),
                message: "this system does not use OAuth; its mapping declares another auth"
                    .to_string(),
            }),
        }
    }
}
