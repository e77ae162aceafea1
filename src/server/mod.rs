//! `mapsync serve`'s HTTP side: one webhook receiver per webhook the mapping declares, the OAuth
//! install routes, `/healthz`, `/readyz` and `/metrics`.
//!
//! Architecture invariants (ARCHITECTURE.md): the only module that imports axum; a webhook
//! gets its 2xx only after every event of the delivery is stored in the inbox (one
//! transaction); a webhook handler never calls a remote API (workers do that, from the inbox);
//! verification runs over the raw bytes before anything is parsed; request bodies, tokens and
//! secrets are never logged.

mod budget;
mod conn;
mod extract;
mod metrics;
mod oauth;
mod verify;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use url::Url;

pub use conn::{Limits, default_max_connections};
pub use extract::{ExtractError, acceptable_id, extract_events};
pub use metrics::Metrics;
pub use oauth::{InstallLinkError, LINK_TTL, create_install_link};
pub use verify::{RawRequest, Rejected, decode_uri, verify};

use crate::clock::Clock;
use crate::mapping::model::{Mapping, Webhook};
use crate::runner::{Connectors, WorkerCounters};
use crate::store::StateStore;

/// How long a sender may take to send its body. Slow clients must not hold a handler (R1).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Above this many unprocessed events, deliveries get 503 + `Retry-After` instead of being
/// stored, so a stalled worker pool cannot grow the inbox without bound (R7). Counted in
/// events, not record keys, and a delivery is refused when its own events would pass it.
pub const DEFAULT_HIGH_WATER: u64 = 100_000;

/// Seconds a sender is asked to wait after a 503.
const RETRY_AFTER_SECS: u64 = 30;

/// How long a counted inbox depth is reused for the high-water check. Counting the inbox on
/// every delivery costs a scan of its work table, which grows with the backlog; the mark is a
/// soft limit, so a depth up to this old (plus what was stored since) is close enough.
const DEPTH_TTL: Duration = Duration::from_millis(100);

/// How long a pinned account read from the store is reused for the webhook account check.
const PINNED_TTL: Duration = Duration::from_secs(1);

/// What the server's routes share.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// Everything a server needs; [`AppState::new`] takes it.
pub struct ServerConfig {
    /// The validated mapping: which routes exist and how each verifies.
    pub mapping: Arc<Mapping>,
    /// The state store: the inbox, OAuth states and tokens.
    pub store: Arc<dyn StateStore>,
    /// Connectors, for OAuth installs and per-system metrics only; webhook handlers never
    /// call them.
    pub connectors: Arc<Connectors>,
    /// The public base URL senders call (signatures cover it; OAuth redirects point to it).
    pub public_url: Url,
    /// The clock signature windows are checked against.
    pub clock: Arc<dyn Clock>,
    /// The unprocessed events above which deliveries get 503.
    pub high_water: u64,
    /// The workers' counters, for `/metrics`.
    pub workers: Arc<WorkerCounters>,
    /// Signalled after events are stored, so idle workers wake at once.
    pub wake: Arc<Notify>,
    /// Connection and memory limits.
    pub limits: Limits,
}

struct Inner {
    config: ServerConfig,
    metrics: Metrics,
    depth: std::sync::Mutex<Option<(Instant, u64)>>,
    /// Bytes of unverified bodies that may still be taken into memory.
    unverified: budget::Budget,
    /// OAuth `state` rows written in the current minute: (minute, count).
    states: std::sync::Mutex<(i64, u32)>,
    /// The pinned account per system, as read from the store, and when.
    pinned: std::sync::Mutex<std::collections::HashMap<String, (Instant, Option<String>)>>,
}

impl AppState {
    /// The shared state of a server.
    pub fn new(config: ServerConfig) -> AppState {
        let unverified = budget::Budget::new(config.limits.unverified_bytes);
        AppState(Arc::new(Inner {
            config,
            metrics: Metrics::default(),
            depth: std::sync::Mutex::new(None),
            unverified,
            states: std::sync::Mutex::new((0, 0)),
            pinned: std::sync::Mutex::default(),
        }))
    }

    /// The account `system` is pinned to (its saved tokens' account), read from the store at
    /// most every [`PINNED_TTL`].
    async fn pinned_account(&self, system: &str) -> Result<Option<String>, String> {
        {
            let cached = self.0.pinned.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, account)) = cached.get(system)
                && at.elapsed() < PINNED_TTL
            {
                return Ok(account.clone());
            }
        }
        let store = self.config().store.clone();
        let name = system.to_string();
        let account = match tokio::task::spawn_blocking(move || store.token(&name)).await {
            Ok(Ok(token)) => token.and_then(|t| t.account),
            Ok(Err(e)) => return Err(e.to_string()),
            Err(e) => return Err(e.to_string()),
        };
        self.0
            .pinned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(system.to_string(), (Instant::now(), account.clone()));
        Ok(account)
    }

    /// Takes one of this minute's [`oauth::STATES_PER_MINUTE`] OAuth `state` writes; false
    /// when they are spent.
    fn take_state_budget(&self) -> bool {
        let minute = self.config().clock.now().as_second().div_euclid(60);
        let mut states = self.0.states.lock().unwrap_or_else(|p| p.into_inner());
        if states.0 != minute {
            *states = (minute, 0);
        }
        if states.1 >= oauth::STATES_PER_MINUTE {
            return false;
        }
        states.1 += 1;
        true
    }

    /// The unprocessed events for the high-water check: counted at most every [`DEPTH_TTL`],
    /// plus the events stored since (an overestimate: some may have been processed). Runs on a
    /// blocking thread.
    fn depth_for_admission(&self) -> Result<u64, crate::store::StoreError> {
        let mut cached = self.0.depth.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, depth)) = *cached
            && at.elapsed() < DEPTH_TTL
        {
            return Ok(depth);
        }
        let depth = self.config().store.inbox_pending_events()?;
        *cached = Some((Instant::now(), depth));
        Ok(depth)
    }

    fn stored(&self, inserted: u64) {
        let mut cached = self.0.depth.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, depth)) = cached.as_mut() {
            *depth = depth.saturating_add(inserted);
        }
    }

    /// The receiver's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    /// `<public-url><path>`, without a doubled slash.
    pub fn public(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.config().public_url.as_str().trim_end_matches('/')
        )
    }
}

/// One webhook route: the collection it feeds, its declaration, and the bodies it may read
/// at once.
struct Route {
    source: String,
    system: String,
    webhook: Webhook,
    bodies: Arc<tokio::sync::Semaphore>,
}

/// The router: a receiver per declared webhook, the OAuth routes, health and metrics.
pub fn router(state: AppState) -> Router {
    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/oauth/{system}/start", get(oauth::start))
        .route("/oauth/{system}/callback", get(oauth::callback));
    for (name, collection) in &state.config().mapping.collections {
        let Some(webhook) = &collection.webhook else {
            continue;
        };
        let route = Arc::new(Route {
            source: name.clone(),
            system: collection.system.clone(),
            webhook: webhook.clone(),
            bodies: Arc::new(tokio::sync::Semaphore::new(
                state.config().limits.max_bodies_per_route,
            )),
        });
        app = app.route(
            &webhook.path,
            post(move |State(s): State<AppState>, req: Request| {
                let route = route.clone();
                async move { receive(s, route, req).await }
            }),
        );
    }
    app.with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests finish
/// within `limits.drain` (R12); see [`conn`] for the connection limits. The workers are
/// stopped by the caller.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    conn::serve(listener, router(state.clone()), state, shutdown).await
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

fn unavailable() -> Response {
    retry_later("the inbox cannot take this delivery now; retry later\n")
}

fn retry_later(text: &'static str) -> Response {
    let mut r = plain(StatusCode::SERVICE_UNAVAILABLE, text);
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&RETRY_AFTER_SECS.to_string())
            .unwrap_or(HeaderValue::from_static("30")),
    );
    r
}

/// Why a body could not be read.
enum BodyError {
    TooLarge,
    Timeout,
    Broken,
}

/// Reads at most `limit` bytes; stops as soon as the limit is passed, never buffering more.
async fn read_body(body: Body, limit: u64, expected: u64) -> Result<Bytes, BodyError> {
    let read = async {
        let mut stream = body.into_data_stream();
        let mut buf: Vec<u8> = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| BodyError::Broken)?;
            if buf.len() as u64 + chunk.len() as u64 > limit {
                return Err(BodyError::TooLarge);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    };
    tokio::time::timeout(BODY_READ_TIMEOUT, read)
        .await
        .unwrap_or(Err(BodyError::Timeout))
}

/// A webhook delivery: limit, verify the raw bytes, split into events, store them in one
/// transaction, and only then answer 2xx. No remote call happens here.
async fn receive(state: AppState, route: Arc<Route>, req: Request) -> Response {
    let started = Instant::now();
    let m = state.metrics();
    Metrics::bump(&m.received);
    let (parts, body) = req.into_parts();
    let limit = route.webhook.max_body;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        Metrics::bump(&m.rejected_too_large);
        tracing::warn!(source = %route.source, limit, "Refused a delivery over the body limit.");
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "payload too large\n");
    }
    // Admission before a byte of the body is read: a slot among the route's bodies in flight,
    // and the whole body's size (declared, else the limit) from the unverified-bytes budget.
    // Both are held until the body is verified or refused.
    let Ok(_slot) = route.bodies.clone().try_acquire_owned() else {
        Metrics::bump(&m.rejected_busy);
        tracing::warn!(source = %route.source, "Too many deliveries are being read on this route; answered 503.");
        return retry_later("too many deliveries are being received now; retry later\n");
    };
    let Some(reserved) = state
        .0
        .unverified
        .take(declared.unwrap_or(limit).min(limit))
    else {
        Metrics::bump(&m.rejected_busy);
        tracing::warn!(source = %route.source, "The memory budget for unverified bodies is spent; answered 503.");
        return retry_later("too many deliveries are being received now; retry later\n");
    };
    let bytes = match read_body(body, limit, declared.unwrap_or(0).min(limit)).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            Metrics::bump(&m.rejected_too_large);
            tracing::warn!(source = %route.source, limit, "Refused a delivery over the body limit.");
            return plain(StatusCode::PAYLOAD_TOO_LARGE, "payload too large\n");
        }
        Err(BodyError::Timeout) => {
            Metrics::bump(&m.rejected_timeout);
            return plain(StatusCode::REQUEST_TIMEOUT, "request body too slow\n");
        }
        Err(BodyError::Broken) => {
            Metrics::bump(&m.rejected_unreadable);
            return plain(StatusCode::BAD_REQUEST, "unreadable body\n");
        }
    };
    let query = parts.uri.query();
    let public_uri = match query {
        Some(q) => format!("{}?{q}", state.public(&route.webhook.path)),
        None => state.public(&route.webhook.path),
    };
    let raw = RawRequest {
        method: parts.method.as_str(),
        public_uri: &public_uri,
        query,
        headers: &parts.headers,
        body: &bytes,
    };
    if let Err(why) = verify(&route.webhook.verify, &raw, state.config().clock.now()) {
        Metrics::bump(&m.rejected_auth);
        tracing::warn!(source = %route.source, reason = why.label(), "Refused an unverified delivery.");
        return plain(StatusCode::UNAUTHORIZED, "unauthorized\n");
    }
    Metrics::bump(&m.verified);
    drop(reserved);
    let pinned = match &route.webhook.account {
        None => None,
        Some(_) => match state.pinned_account(&route.system).await {
            Ok(p) => p,
            Err(error) => {
                Metrics::bump(&m.unavailable);
                tracing::error!(source = %route.source, error = %error, "Could not read the pinned account; answered 503.");
                return unavailable();
            }
        },
    };
    let extracted = match extract_events(&route.source, &route.webhook, &bytes, pinned.as_deref()) {
        Ok(e) => e,
        Err(ExtractError::ForeignAccount) => {
            Metrics::bump(&m.rejected_account);
            tracing::warn!(source = %route.source, "Refused a delivery with events from another account than the pinned one.");
            return plain(StatusCode::FORBIDDEN, "events from another account\n");
        }
        Err(e @ ExtractError::TooManyEvents { .. }) => {
            Metrics::bump(&m.rejected_too_many_events);
            tracing::warn!(source = %route.source, error = %e, "Refused a delivery with too many events.");
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too many events in one delivery\n",
            );
        }
        Err(e) => {
            Metrics::bump(&m.rejected_invalid);
            tracing::warn!(source = %route.source, error = %e, "Refused a malformed delivery.");
            return plain(StatusCode::BAD_REQUEST, "malformed delivery\n");
        }
    };
    m.ignored.fetch_add(
        u64::from(extracted.ignored),
        std::sync::atomic::Ordering::Relaxed,
    );
    if extracted.events.is_empty() {
        m.observe_ack(started.elapsed());
        return (StatusCode::OK, "{\"stored\":0,\"duplicates\":0}").into_response();
    }
    let store = state.config().store.clone();
    let high_water = state.config().high_water;
    let at = state.config().clock.now();
    let events = extracted.events;
    let admission = state.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<_, crate::store::StoreError> {
        let depth = admission.depth_for_admission()?;
        if depth.saturating_add(events.len() as u64) > high_water {
            return Ok(None);
        }
        let summary = store.inbox_insert(&events, at)?;
        admission.stored(u64::from(summary.inserted));
        Ok(Some(summary))
    })
    .await;
    match result {
        Ok(Ok(Some(summary))) => {
            m.stored.fetch_add(
                u64::from(summary.inserted),
                std::sync::atomic::Ordering::Relaxed,
            );
            m.duplicates.fetch_add(
                u64::from(summary.duplicates),
                std::sync::atomic::Ordering::Relaxed,
            );
            if summary.inserted > 0 {
                state.config().wake.notify_waiters();
            }
            tracing::debug!(
                source = %route.source,
                stored = summary.inserted,
                duplicates = summary.duplicates,
                "Stored a delivery."
            );
            m.observe_ack(started.elapsed());
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                format!(
                    "{{\"stored\":{},\"duplicates\":{}}}",
                    summary.inserted, summary.duplicates
                ),
            )
                .into_response()
        }
        Ok(Ok(None)) => {
            Metrics::bump(&m.unavailable);
            tracing::warn!(source = %route.source, high_water, "The inbox is above its high-water mark; answered 503.");
            unavailable()
        }
        Ok(Err(error)) => {
            Metrics::bump(&m.unavailable);
            tracing::error!(source = %route.source, error = %error, "The inbox could not store a delivery; answered 503.");
            unavailable()
        }
        Err(error) => {
            Metrics::bump(&m.unavailable);
            tracing::error!(source = %route.source, error = %error, "Storing a delivery failed; answered 503.");
            unavailable()
        }
    }
}

async fn inbox_depth(state: &AppState) -> Option<u64> {
    let store = state.config().store.clone();
    tokio::task::spawn_blocking(move || store.inbox_depth().ok())
        .await
        .ok()
        .flatten()
}

/// Ready when the state store answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match inbox_depth(&state).await {
        Some(_) => plain(StatusCode::OK, "ready\n"),
        None => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the state store is not reachable\n",
        ),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let depth = inbox_depth(&state).await;
    let text = state
        .metrics()
        .render(&state.config().workers, depth, &state.config().connectors);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
        .into_response()
}
