//! `mapsync serve`: opens the state store, builds the connectors, binds the listener, prints
//! `Listening on http://ADDR`, then runs the HTTP server and the inbox workers until SIGTERM or
//! ctrl-c, when it stops accepting, answers what is in flight and lets workers finish their
//! record.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::sync::{load, load_with_warnings, open_store};
use super::{Exit, OAuthLinkArgs, ServeArgs, print};
use crate::clock::SystemClock;
use crate::connector::Connector;
use crate::mapping::Side;
use crate::runner::{self, Connectors, StoreTokens, WorkerContext, WorkerCounters};
use crate::server::{self, AppState, DEFAULT_HIGH_WATER, Limits, ServerConfig};
use crate::store::{BudgetPriority, StateStore, StoreError};

/// How often processed inbox events past their retention, and expired OAuth `state`s and
/// install links, are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// How often an instance on a shared store beats its heartbeat (`mapsync status`).
const INSTANCE_BEAT: Duration = Duration::from_secs(5);

/// Seconds from a flag, or a usage error naming it.
fn seconds(flag: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{flag} {value}: give a positive number of seconds"))
}

/// The connection limits from the flags.
fn limits(args: &ServeArgs) -> Result<Limits, String> {
    let mut limits = Limits {
        header_read_timeout: seconds("--header-timeout", args.header_timeout)?,
        drain: seconds("--drain", args.drain)?,
        ..Limits::default()
    };
    if let Some(n) = args.max_connections {
        if n == 0 {
            return Err("--max-connections 0: give at least 1".to_string());
        }
        limits.max_connections = n;
    }
    Ok(limits)
}

/// Prunes processed inbox events older than `retention` and expired OAuth states, now and then
/// every [`PRUNE_EVERY`], until `stop` is set.
async fn prune_inbox(
    store: Arc<dyn StateStore>,
    retention: jiff::SignedDuration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let s = store.clone();
        let pruned = tokio::task::spawn_blocking(move || {
            let now = jiff::Timestamp::now();
            let states = s.purge_oauth_states(now)?;
            if states > 0 {
                tracing::debug!(states, "Deleted expired OAuth states and install links.");
            }
            s.inbox_prune(now.checked_sub(retention).unwrap_or(jiff::Timestamp::MIN))
        })
        .await;
        match pruned {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(
                events = n,
                "Pruned processed inbox events past their retention."
            ),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "Could not prune the inbox; trying again later.")
            }
            Err(e) => tracing::warn!(error = %e, "Could not prune the inbox; trying again later."),
        }
        tokio::select! {
            () = tokio::time::sleep(PRUNE_EVERY) => {}
            _ = stop.wait_for(|v| *v) => return,
        }
    }
}

/// Runs `mapsync oauth-link`: stores a single-use install link and prints it.
pub fn oauth_link(args: &OAuthLinkArgs) -> Exit {
    let Some(mapping) = load(&args.mapping.mapping) else {
        return Exit::Invalid;
    };
    let public_url = match url::Url::parse(&args.public_url) {
        Ok(u) => u,
        Err(e) => {
            eprintln!(
                "error: --public-url {}: {e}; give the absolute URL `mapsync serve` answers on, e.g. https://sync.example.com",
                args.public_url
            );
            return Exit::Usage;
        }
    };
    let store = match open_store(args.state.as_deref(), &args.mapping.mapping) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Store;
        }
    };
    match server::create_install_link(
        store.as_ref(),
        &mapping,
        &args.system,
        &public_url,
        jiff::Timestamp::now(),
        args.replace_account,
    ) {
        Ok(link) => {
            print(&format!("{link}\n"));
            eprintln!(
                "Open this link within {} minutes to install {}; it works once.",
                server::LINK_TTL.as_mins(),
                args.system
            );
            Exit::Ok
        }
        Err(e @ server::InstallLinkError::NotOAuth(_)) => {
            eprintln!("error: {e}");
            Exit::Usage
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Store
        }
    }
}

/// A webhook whose secret or token names an unset variable refuses every delivery with 401:
/// say so at start, once per webhook, with the variable to set.
fn warn_unset_webhook_secrets(warnings: &[crate::mapping::Diagnostic]) {
    for d in warnings.iter().filter(|d| d.code == "env-unset") {
        let mut segs = d.pointer.split('/').skip(1);
        if segs.next() != Some("collections") {
            continue;
        }
        let collection = segs.next().unwrap_or_default();
        if segs.next() != Some("webhook") {
            continue;
        }
        tracing::warn!(
            collection = %collection.replace("~1", "/").replace("~0", "~"),
            at = %d.pointer,
            "The webhook cannot verify deliveries, so it refuses every one with 401: {}",
            d.message
        );
    }
}

/// Runs `mapsync serve`.
pub fn run(args: &ServeArgs) -> Exit {
    let Some((mapping, warnings)) = load_with_warnings(&args.mapping.mapping) else {
        return Exit::Invalid;
    };
    warn_unset_webhook_secrets(&warnings);
    let limits = match limits(args) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    let retention = jiff::SignedDuration::from_hours(24 * i64::from(args.inbox_retention_days));
    let store = match open_store(args.state.as_deref(), &args.mapping.mapping) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Store;
        }
    };
    // One `serve` per state store: a second one would end the first one's claims below. A
    // shared store (PostgreSQL) takes any number: each ends only its own predecessor's claims.
    let _serve_lock = match (!store.shared())
        .then(|| store.lock(runner::SERVE_LOCK))
        .transpose()
    {
        Ok(lock) => lock,
        Err(StoreError::LockHeld { location, .. }) => {
            eprintln!(
                "error: another `mapsync serve` is running on the state store {location}; stop it \
                 first, or give this one its own state file with --state (`mapsync sync` may run \
                 beside it)"
            );
            return Exit::Busy;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Store;
        }
    };
    // Records held by the workers of a process that died are taken over now, not when their
    // lease runs out (a serve that was killed would otherwise leave them waiting minutes). On a
    // shared store only this instance's own (once its name is known, below): the other
    // instances' claims are alive, and a dead instance's are taken over when their leases lapse.
    if !store.shared() && !end_leases(store.inbox_end_leases(jiff::Timestamp::now())) {
        return Exit::Store;
    }
    let key = match super::sync::state_key() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    // Unlike `sync`, a system without a token yet is not fatal: it can be installed through
    // /oauth/<system>/start, and its records wait in the inbox meanwhile.
    let mut connectors = Connectors::new();
    for side in [Side::Home, Side::External] {
        let name = mapping.collection(side).system.clone();
        if connectors.contains_key(&name) {
            continue;
        }
        if let Err(message) = runner::check_credentials(&mapping, &name, store.as_ref()) {
            tracing::warn!(system = %name, error = %message, "A system cannot authenticate yet.");
            eprintln!("warning: {message}");
        }
        // Live work: served from the shared budget before a running sync's back-fill.
        let budget = runner::StoreBudget::new(store.clone(), &name, BudgetPriority::Live);
        match Connector::builder(&mapping.systems[&name])
            .token_provider(Arc::new(StoreTokens::new(store.clone(), key.clone())))
            .budget(Arc::new(budget))
            .build()
        {
            Ok(c) => {
                connectors.insert(name, c);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Unavailable;
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Unavailable;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(&args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "error: cannot listen on {}: {e}; choose another address with --listen (127.0.0.1:0 picks a free port)",
                    args.listen
                );
                return Exit::Unavailable;
            }
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Unavailable;
            }
        };
        let instance = args.instance.clone().unwrap_or_else(|| format!("{}:{}", hostname(), addr.port()));
        if store.shared()
            && !end_leases(store.inbox_end_leases_of(&instance, jiff::Timestamp::now()))
        {
            return Exit::Store;
        }
        let public = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let public_url = match url::Url::parse(&public) {
            Ok(u) => u,
            Err(e) => {
                eprintln!(
                    "error: --public-url {public}: {e}; give the absolute URL senders call, e.g. https://sync.example.com"
                );
                return Exit::Usage;
            }
        };
        let mapping = Arc::new(mapping);
        let connectors = Arc::new(connectors);
        let counters = Arc::new(WorkerCounters::default());
        let wake = Arc::new(Notify::new());
        // Events stored by other instances (a shared store) wake this one's workers too.
        let woken = wake.clone();
        if let Err(e) = store.watch_inbox(Arc::new(move || woken.notify_waiters())) {
            eprintln!("error: {e}");
            return Exit::Store;
        }
        let clock = Arc::new(SystemClock);
        let app = AppState::new(ServerConfig {
            mapping: mapping.clone(),
            store: store.clone(),
            connectors: connectors.clone(),
            public_url,
            clock: clock.clone(),
            high_water: DEFAULT_HIGH_WATER,
            workers: counters.clone(),
            wake: wake.clone(),
            limits,
        });
        let prune_store = store.clone();
        if store.shared() {
            // The heartbeat `mapsync status` reads; a failed beat is only logged.
            let (beat_store, name) = (store.clone(), instance.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(INSTANCE_BEAT);
                loop {
                    tick.tick().await;
                    let (s, n) = (beat_store.clone(), name.clone());
                    let beat = tokio::task::spawn_blocking(move || {
                        s.beat_instance(&n, jiff::Timestamp::now())
                    })
                    .await;
                    if let Ok(Err(e)) = beat {
                        tracing::warn!(error = %e, "The instance heartbeat failed.");
                    }
                }
            });
        }
        let ctx = WorkerContext {
            instance,
            mapping,
            store,
            connectors,
            clock,
            counters,
            wake,
            lease: runner::LEASE,
        };
        let (tx, rx) = watch::channel(false);
        let pruner = tokio::spawn(prune_inbox(prune_store, retention, rx.clone()));
        let drain = limits.drain;
        tokio::spawn(async move {
            signal().await;
            tracing::info!("Shutting down: no new connections; finishing in-flight work.");
            let _ = tx.send(true);
        });
        print(&format!(
            "Listening on http://{addr}\nPublic URL: {}\n",
            public.trim_end_matches('/')
        ));
        tracing::info!(%addr, workers = args.workers, "Serving.");
        let mut stop = rx.clone();
        let server = server::serve(listener, app, async move {
            let _ = stop.wait_for(|v| *v).await;
        });
        let mut stop = rx.clone();
        let workers = async move {
            let run = runner::run_workers(ctx, args.workers, rx);
            tokio::pin!(run);
            tokio::select! {
                _ = &mut run => {}
                _ = async { let _ = stop.wait_for(|v| *v).await; tokio::time::sleep(drain).await } => {
                    tracing::warn!("Workers did not finish in time; their claims return to the inbox when the lease runs out.");
                }
            }
        };
        let (served, ()) = tokio::join!(server, workers);
        pruner.abort();
        match served {
            Ok(()) => Exit::Ok,
            Err(e) => {
                eprintln!("error: the server failed: {e}");
                Exit::Unavailable
            }
        }
    })
}

/// SIGTERM or ctrl-c.
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Reports leases ended at start; false (after printing the error) if the store failed.
fn end_leases(ended: Result<u64, crate::store::StoreError>) -> bool {
    match ended {
        Ok(0) => true,
        Ok(n) => {
            tracing::warn!(
                claims = n,
                "Took over records held by a previous process; they are processed again."
            );
            true
        }
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}

/// The machine's name, for the default instance name.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "mapsync".to_owned())
}
