//! Starting the sandbox: binding both servers, the shared state, and the background tasks
//! (10to8 notifications, HubSpot deliveries).

use crate::config::{SandboxConfig, System};
use crate::faults::FaultState;
use crate::gate::{Gate, gate};
use crate::hubspot::store::HubStore;
use crate::log::Journal;
use crate::pipedrive::store::PdStore;
use crate::ratelimit::{HubspotLimiter, TteLimiter};
use crate::seed::SeedReport;
use crate::tte::store::TteStore;
use axum::Router;
use serde_json::{Map, Value};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Everything the handlers share.
pub struct Shared {
    pub cfg: SandboxConfig,
    pub started: Instant,
    /// `http://127.0.0.1:PORT` of the 10to8 server.
    pub tte_root: String,
    /// `http://127.0.0.1:PORT` of the HubSpot server.
    pub hub_root: String,
    /// `http://127.0.0.1:PORT` of the Pipedrive server.
    pub pd_root: String,
    tte: Mutex<TteStore>,
    hub: Mutex<HubStore>,
    pd: Mutex<PdStore>,
    tte_journal: Journal,
    hub_journal: Journal,
    pd_journal: Journal,
    tte_faults: FaultState,
    hub_faults: FaultState,
    pd_faults: FaultState,
    pub tte_limiter: TteLimiter,
    pub hub_limiter: HubspotLimiter,
    notify_tx: mpsc::UnboundedSender<String>,
    events_tx: mpsc::UnboundedSender<Map<String, Value>>,
    pub http: reqwest::Client,
    stop: watch::Receiver<bool>,
    delivery_ids: AtomicU64,
    /// Webhook requests in flight, bounded by `maxConcurrentRequests` (default 10).
    pub hub_inflight: tokio::sync::Semaphore,
    hub_inflight_cap: Mutex<usize>,
    pub seed_report: Mutex<SeedReport>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub fn tte(&self) -> MutexGuard<'_, TteStore> {
        lock(&self.tte)
    }

    pub fn hub(&self) -> MutexGuard<'_, HubStore> {
        lock(&self.hub)
    }

    pub fn pd(&self) -> MutexGuard<'_, PdStore> {
        lock(&self.pd)
    }

    pub fn journal(&self, s: System) -> &Journal {
        match s {
            System::Tte => &self.tte_journal,
            System::Hubspot => &self.hub_journal,
            System::Pipedrive => &self.pd_journal,
        }
    }

    pub fn faults(&self, s: System) -> &FaultState {
        match s {
            System::Tte => &self.tte_faults,
            System::Hubspot => &self.hub_faults,
            System::Pipedrive => &self.pd_faults,
        }
    }

    /// Queue a 10to8 notification for a customer URI.
    pub fn notify_customer(&self, uri: &str) {
        let _ = self.notify_tx.send(uri.to_string());
    }

    /// Queue HubSpot events for delivery.
    pub fn emit(&self, events: Vec<Map<String, Value>>) {
        for e in events {
            let _ = self.events_tx.send(e);
        }
    }

    /// Apply a new `maxConcurrentRequests` to webhook deliveries.
    pub fn set_max_concurrent(&self, n: usize) {
        let mut cap = lock(&self.hub_inflight_cap);
        if n > *cap {
            self.hub_inflight.add_permits(n - *cap);
            *cap = n;
        } else {
            // permits held by requests in flight cannot be taken back; the rest shrink at once
            *cap -= self.hub_inflight.forget_permits(*cap - n);
        }
    }

    pub fn next_delivery_id(&self) -> u64 {
        self.delivery_ids.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Spawn a task that ends when the sandbox stops.
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(&self, f: F) {
        let mut stop = self.stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = f => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        });
    }
}

/// Install ring as rustls's provider once (reqwest is built with `rustls-no-provider`).
pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// What `start` hands to the handle.
pub struct Running {
    pub shared: Arc<Shared>,
    pub stop_tx: watch::Sender<bool>,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Bind both servers and start every task.
pub async fn start(cfg: SandboxConfig) -> std::io::Result<Running> {
    init_crypto();
    let tte_listener = tokio::net::TcpListener::bind(cfg.tte_addr).await?;
    let hub_listener = tokio::net::TcpListener::bind(cfg.hubspot_addr).await?;
    let pd_listener = tokio::net::TcpListener::bind(cfg.pipedrive.addr).await?;
    let pd_root = format!("http://{}", pd_listener.local_addr()?);
    let tte_root = format!("http://{}", tte_listener.local_addr()?);
    let hub_root = format!("http://{}", hub_listener.local_addr()?);
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(std::io::Error::other)?;
    let (notify_tx, notify_rx) = mpsc::unbounded_channel();
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let now = crate::clock::now_ms();
    let shared = Arc::new(Shared {
        tte: Mutex::new(TteStore::new(
            tte_root.clone(),
            cfg.tte_custom_fields.clone(),
            cfg.tte_unset_custom_fields,
        )),
        hub: Mutex::new(HubStore::new(
            cfg.credentials.clone(),
            cfg.precreate_custom_properties,
            cfg.webhooks.property_changes_on_create,
            now,
        )),
        pd: Mutex::new(PdStore::new(
            cfg.pipedrive.user_id,
            cfg.pipedrive.company_id,
        )),
        pd_journal: Journal::new(started, cfg.request_log_capacity),
        pd_faults: FaultState::new(cfg.pipedrive_faults.clone(), cfg.seed ^ 0x5044_5244),
        tte_journal: Journal::new(started, cfg.request_log_capacity),
        hub_journal: Journal::new(started, cfg.request_log_capacity),
        tte_faults: FaultState::new(cfg.tte_faults.clone(), cfg.seed ^ 0x7437_3874),
        hub_faults: FaultState::new(cfg.hubspot_faults.clone(), cfg.seed ^ 0x4855_4253),
        tte_limiter: TteLimiter::new(cfg.tte_rate_limit.clone()),
        hub_limiter: HubspotLimiter::new(cfg.hubspot_rate_limit.clone()),
        notify_tx,
        events_tx,
        http,
        stop: stop_rx.clone(),
        delivery_ids: AtomicU64::new(0),
        hub_inflight: tokio::sync::Semaphore::new(10),
        hub_inflight_cap: Mutex::new(10),
        seed_report: Mutex::new(SeedReport::default()),
        tte_root,
        hub_root,
        pd_root,
        started,
        cfg,
    });
    if shared.cfg.customers > 0 || shared.cfg.contacts > 0 {
        let report = crate::seed::seed(
            &shared,
            shared.cfg.seed,
            shared.cfg.customers,
            shared.cfg.contacts,
        );
        *lock(&shared.seed_report) = report;
    }
    if shared.cfg.collisions > 0 {
        let mut report = lock(&shared.seed_report).clone();
        crate::seed::seed_collisions(&shared, shared.cfg.seed, shared.cfg.collisions, &mut report);
        *lock(&shared.seed_report) = report;
    }
    if shared.cfg.persons > 0 {
        let mut report = lock(&shared.seed_report).clone();
        report.seed = shared.cfg.seed;
        crate::pipedrive::seed::seed(&shared, shared.cfg.seed, shared.cfg.persons, &mut report);
        *lock(&shared.seed_report) = report;
    }
    let tte_app = app(&shared, System::Tte, crate::tte::router(shared.clone()));
    let hub_app = app(
        &shared,
        System::Hubspot,
        crate::hubspot::router(shared.clone()),
    );
    let pd_app = app(
        &shared,
        System::Pipedrive,
        crate::pipedrive::router(shared.clone()),
    );
    let mut tasks = vec![
        tokio::spawn(crate::server::serve(pd_listener, pd_app, stop_rx.clone())),
        tokio::spawn(crate::server::serve(tte_listener, tte_app, stop_rx.clone())),
        tokio::spawn(crate::server::serve(hub_listener, hub_app, stop_rx.clone())),
    ];
    let (s1, s2) = (shared.clone(), shared.clone());
    let (mut st1, mut st2) = (stop_rx.clone(), stop_rx);
    tasks.push(tokio::spawn(async move {
        tokio::select! { _ = crate::tte::notify::run(s1, notify_rx) => {}, _ = st1.wait_for(|s| *s) => {} }
    }));
    tasks.push(tokio::spawn(async move {
        tokio::select! { _ = crate::hubspot::delivery::run(s2, events_rx) => {}, _ = st2.wait_for(|s| *s) => {} }
    }));
    Ok(Running {
        shared,
        stop_tx,
        tasks,
    })
}

fn app(shared: &Arc<Shared>, system: System, api: Router<Arc<Shared>>) -> Router {
    let r = api.merge(crate::control::router(system));
    let r = match system {
        System::Tte => r.fallback(crate::tte::fallback),
        System::Hubspot => r.fallback(crate::hubspot::fallback),
        System::Pipedrive => r.fallback(crate::pipedrive::fallback),
    };
    let r = r
        .layer(axum::middleware::from_fn_with_state(
            Gate {
                shared: shared.clone(),
                system,
            },
            gate,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(4 * 1024 * 1024))
        .with_state(shared.clone());
    match system {
        // a rewrite of the path must happen before routing, so it wraps the whole router
        System::Hubspot => Router::new().fallback_service(
            tower::ServiceBuilder::new()
                .map_request(crate::hubspot::canonical_object_type)
                .service(r),
        ),
        System::Tte | System::Pipedrive => r,
    }
}
