//! Attacks on the real `mapsync serve` over loopback (docs/security.md): idle sockets past the
//! open-file limit, slowloris, a shutdown held by slow clients, and stalled unsigned bodies.
//! Each is bounded in count and time, and every wait polls under a deadline.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::harness::{Live, Opts, start};

fn opts(serve_args: &[&str]) -> Opts {
    Opts {
        subscribe: false,
        workers: 1,
        serve_args: serve_args.iter().map(|s| s.to_string()).collect(),
        ..Opts::default()
    }
}

/// `GET /healthz` on a fresh connection, timed.
async fn healthz(live: &Live) -> (u16, Duration) {
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let status = http
        .get(format!("{}/healthz", live.base))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16());
    (status, started.elapsed())
}

/// True once the server has closed `s` (EOF or a reset), polling until `deadline`.
async fn closed_by_server(s: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // a 408 or similar before the close
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_past_the_file_limit_leave_healthz_answering() {
    let live = start(Opts {
        nofile: Some(1024),
        ..opts(&[])
    })
    .await;
    let mut idle = Vec::with_capacity(1100);
    for _ in 0..1100 {
        idle.push(TcpStream::connect(live.addr()).await.expect("connect"));
    }
    let (status, took) = healthz(&live).await;
    assert_eq!(status, 200, "log:\n{}", live.log());
    assert!(took < Duration::from_secs(1), "/healthz took {took:?}");
    // A webhook delivery still gets through (401 here: the point is that it is answered).
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let r = http
        .post(format!("{}/webhooks/hubspot", live.base))
        .body("[]")
        .send()
        .await
        .expect("a delivery is answered");
    assert_eq!(r.status().as_u16(), 401);
    let evicted = live
        .metric("mapsync_connections_rejected_total")
        .await
        .expect("metric");
    assert_eq!(evicted, 0, "idle connections make room; nothing is refused");
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_and_idle_keep_alive_are_closed_by_the_header_timeout() {
    let live = start(opts(&["--header-timeout", "1"])).await;
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(live.addr()).await.expect("connect");
        s.write_all(b"POST /webhooks/hubspot HTTP/1.1\r\nHost: x\r\nX-a: ")
            .await
            .expect("partial head");
        slow.push(s);
    }
    // A kept-alive connection that sends nothing after its first request.
    let mut kept = TcpStream::connect(live.addr()).await.expect("connect");
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("request");
    let mut buf = [0u8; 256];
    let n = kept.read(&mut buf).await.expect("response");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let deadline = Instant::now() + Duration::from_secs(4);
    for (i, s) in slow.iter_mut().enumerate() {
        assert!(
            closed_by_server(s, deadline).await,
            "slowloris connection {i} still open"
        );
    }
    assert!(
        closed_by_server(&mut kept, deadline).await,
        "idle keep-alive connection still open"
    );
    let (status, _) = healthz(&live).await;
    assert_eq!(status, 200);
    let timed_out = live
        .metric("mapsync_connections_timed_out_total")
        .await
        .expect("metric");
    assert!(
        timed_out >= 50,
        "every closed connection is counted: {timed_out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_within_the_drain_bound_despite_slow_clients() {
    let mut live = start(opts(&["--drain", "2"])).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(live.addr()).await.expect("connect");
        s.write_all(b"POST /webhooks/hubspot HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("partial head");
        held.push(s);
    }
    // A body in flight that never completes (the body timeout is 10 s, past the drain).
    let mut body = TcpStream::connect(live.addr()).await.expect("connect");
    body.write_all(
        b"POST /webhooks/10to8/customers?key=x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"items\":",
    )
    .await
    .expect("partial body");
    held.push(body);
    // Both reached the server before the signal.
    let (status, _) = healthz(&live).await;
    assert_eq!(status, 200);
    let started = Instant::now();
    live.sigterm();
    let code = live.wait_exit(Duration::from_secs(6)).await;
    let took = started.elapsed();
    assert_eq!(code, Some(0), "log:\n{}", live.log());
    assert!(
        took < Duration::from_millis(3500),
        "exit took {took:?}, past the 2 s drain bound"
    );
}

/// Peak resident memory of a process, from /proc (Linux).
fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_unsigned_bodies_stay_within_the_memory_budget() {
    // The finding's shape: a 1 MiB limit, 1,000 senders of 1 MiB − 1 bytes that stall.
    let live = start(Opts {
        mapping: |m| m.replace("max_body: 64KiB", "max_body: 1MiB"),
        ..opts(&[])
    })
    .await;
    let addr = live.addr();
    const BODY: usize = 1024 * 1024;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let addr = addr.clone();
        tasks.spawn(async move {
            let mut s = TcpStream::connect(&addr).await.ok()?;
            let head = format!(
                "POST /webhooks/hubspot HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {BODY}\r\n\r\n"
            );
            s.write_all(head.as_bytes()).await.ok()?;
            let chunk = vec![b' '; 64 * 1024];
            let mut sent = 0;
            while sent < BODY - 1 {
                let n = chunk.len().min(BODY - 1 - sent);
                // A refused sender is closed by the server; a stalled write means the server
                // is not reading (it has what it budgeted): stop either way, keep the socket.
                match tokio::time::timeout(Duration::from_millis(500), s.write_all(&chunk[..n]))
                    .await
                {
                    Ok(Ok(())) => sent += n,
                    _ => break,
                }
            }
            Some(s)
        });
    }
    let mut held = Vec::new();
    while let Some(r) = tasks.join_next().await {
        if let Some(s) = r.expect("join") {
            held.push(s);
        }
    }
    let peak = peak_rss_bytes(live.pid());
    assert!(
        peak < 200 * 1024 * 1024,
        "peak RSS {} MiB under 1,000 stalled bodies",
        peak / (1024 * 1024)
    );
    let busy = live
        .metric("mapsync_webhook_deliveries_rejected_busy_total")
        .await
        .expect("metric");
    assert!(
        busy > 0,
        "the budget refused some bodies before reading them"
    );
    let (status, took) = healthz(&live).await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(1), "/healthz took {took:?}");
    drop(held);
}
