//! Connections: the accept loop in front of the router. Each connection is served by hyper's
//! HTTP/1 with a header-read timeout (which also closes a kept-alive connection that sends
//! nothing), a cap on open connections (at the cap the oldest connection with no request in
//! flight is closed to make room; when every connection is busy the newcomer gets a plain 503),
//! and a bounded drain on shutdown: stop accepting, let requests in flight finish, close idle
//! connections, and after [`Limits::drain`] drop whatever is left. Dropping a request loses
//! nothing acknowledged: a webhook's 2xx is sent only after its events are committed.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use super::{AppState, Metrics};

/// The connection limits of `mapsync serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request's head must arrive within this; a kept-alive connection that sends no new
    /// request within it is closed too (slowloris, idle sockets).
    pub header_read_timeout: Duration,
    /// Open connections at most; see the module doc for what happens at the cap.
    pub max_connections: usize,
    /// Webhook bodies being read at once on one route; beyond it, 503 before reading.
    pub max_bodies_per_route: usize,
    /// Bytes of not-yet-verified bodies held in memory at once, over every route; a delivery
    /// that would pass it gets 503 before its body is read.
    pub unverified_bytes: u64,
    /// After the shutdown signal, how long requests in flight may take before they are dropped.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: default_max_connections(),
            max_bodies_per_route: 256,
            unverified_bytes: 64 * 1024 * 1024,
            drain: Duration::from_secs(10),
        }
    }
}

/// File descriptors kept for everything but accepted connections: the state store and its
/// WAL, outgoing API connections, logs.
const FD_RESERVE: u64 = 128;

/// The connection cap that fits the process's open-file limit: the soft `RLIMIT_NOFILE` less
/// [`FD_RESERVE`], at most 10,000 and at least 16.
pub fn default_max_connections() -> usize {
    let soft = nofile_limit().unwrap_or(1024);
    usize::try_from(soft.saturating_sub(FD_RESERVE).clamp(16, 10_000)).unwrap_or(1024)
}

#[cfg(unix)]
fn nofile_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own and reads nothing else.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0).then_some(lim.rlim_cur)
}

#[cfg(not(unix))]
fn nofile_limit() -> Option<u64> {
    None
}

/// One open connection, as the cap sees it.
struct Entry {
    /// Requests being answered on it now.
    in_flight: Arc<AtomicUsize>,
    /// Notified to close it.
    close: Arc<Notify>,
}

/// The open connections, oldest first.
#[derive(Default)]
struct Registry {
    next: AtomicU64,
    open: Mutex<BTreeMap<u64, Entry>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Entry>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a connection if there is room, closing the oldest idle one when at `cap`.
    /// `None` when every open connection has a request in flight.
    fn admit(&self, cap: usize) -> Option<(u64, Arc<AtomicUsize>, Arc<Notify>)> {
        let mut open = self.lock();
        if open.len() >= cap {
            let idle = open
                .iter()
                .find(|(_, e)| e.in_flight.load(Ordering::Acquire) == 0)
                .map(|(id, _)| *id)?;
            if let Some(e) = open.remove(&idle) {
                e.close.notify_one();
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            in_flight: Arc::default(),
            close: Arc::default(),
        };
        let handles = (id, entry.in_flight.clone(), entry.close.clone());
        open.insert(id, entry);
        Some(handles)
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Counts a request in flight until dropped.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(counter: &Arc<AtomicUsize>) -> InFlight {
        counter.fetch_add(1, Ordering::AcqRel);
        InFlight(counter.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: 5\r\nconnection: close\r\ncontent-length: 46\r\n\r\ntoo many connections are open; retry shortly\r\n";

/// Serves `app` on `listener` until `shutdown` resolves, then drains within `limits.drain`.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config().limits;
    let registry = Arc::new(Registry::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of file descriptors (EMFILE) or a connection reset before accept: back
                // off briefly instead of spinning, and keep serving.
                tracing::warn!(error = %e, "Could not accept a connection.");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        while tasks.try_join_next().is_some() {}
        let Some((id, in_flight, close)) = registry.admit(limits.max_connections) else {
            Metrics::bump(&state.metrics().rejected_connections);
            tasks.spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let registry = registry.clone();
        let state = state.clone();
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let guard = InFlight::new(&in_flight);
                    let app = app.clone();
                    async move {
                        let response = app.oneshot(req.map(axum::body::Body::new)).await;
                        drop(guard);
                        response.map_err(|e: Infallible| match e {})
                    }
                });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if r.is_err_and(|e| e.is_timeout()) {
                        Metrics::bump(&state.metrics().timed_out_connections);
                    }
                }
                () = close.notified() => {}
                () = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
            registry.remove(id);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let open = registry.len();
    if open > 0 {
        tracing::info!(connections = open, drain = ?limits.drain, "Draining connections.");
    }
    let drained = tokio::time::timeout(limits.drain, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = registry.len(),
            "Requests still in flight after the drain bound were dropped; nothing they carried was acknowledged."
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    Ok(())
}

/// Resolves once the shutdown flag is set (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|v| *v).await;
}

/// Answers 503 on a connection over the cap, within a second, and closes it.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(BUSY).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_oldest_idle_connection_makes_room() {
        let r = Registry::default();
        let (a, a_flight, a_close) = r.admit(2).expect("room");
        let (_b, _, _) = r.admit(2).expect("room");
        let _busy = InFlight::new(&a_flight);
        // a is busy, so b (the oldest idle) is closed for c.
        let (_c, c_flight, _) = r.admit(2).expect("b evicted");
        assert_eq!(r.len(), 2);
        let _busy_c = InFlight::new(&c_flight);
        assert!(r.admit(2).is_none(), "every connection is busy");
        r.remove(a);
        drop(a_close);
        assert!(r.admit(2).is_some());
    }

    #[test]
    fn the_default_cap_leaves_room_under_the_file_limit() {
        let cap = default_max_connections() as u64;
        if let Some(soft) = nofile_limit() {
            assert!(cap + FD_RESERVE <= soft.max(16 + FD_RESERVE));
        }
        assert!(cap >= 16);
    }

    #[test]
    fn the_busy_answer_declares_its_length() {
        let text = std::str::from_utf8(BUSY).expect("ascii");
        let (_, body) = text.split_once("\r\n\r\n").expect("head");
        assert!(text.contains(&format!("content-length: {}\r\n", body.len())));
    }
}
