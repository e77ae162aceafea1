//! The accept loop: HTTP/1.1 with keep-alive over axum routers, graceful stop, and the ability to
//! close a connection without answering (the `drop` fault).

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

/// Put into every request's extensions; `notify_one` closes the connection unanswered.
#[derive(Clone)]
pub struct ConnKill(pub Arc<Notify>);

/// Serve `app` on `listener` until `stop` turns true.
pub async fn serve(listener: TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, app.clone(), stop.clone()));
            }
            _ = stop.changed() => break,
        }
    }
}

async fn connection(stream: tokio::net::TcpStream, app: Router, mut stop: watch::Receiver<bool>) {
    let kill = Arc::new(Notify::new());
    let k = kill.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnKill(k.clone()));
        app.clone().oneshot(req.map(Body::new))
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = kill.notified() => {} // dropping `conn` closes the socket with no answer
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), conn).await;
        }
    }
}
