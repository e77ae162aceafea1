//! Load generator: starts the sandbox in-process (limits and faults off) and drives simple GETs
//! over N keep-alive connections for a fixed time, then prints requests/s.
//!
//! `cargo run -p sandbox --release --example loadgen -- [seconds] [concurrency] [tte|hubspot]`

use sandbox::{Sandbox, SandboxConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let conc: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    let target = args.get(3).cloned().unwrap_or_else(|| "tte".into());
    let sb = Sandbox::start(SandboxConfig {
        customers: 100,
        contacts: 100,
        request_log_capacity: 10_000,
        ..SandboxConfig::default()
    })
    .await?;
    let (url, auth) = if target == "hubspot" {
        let id = sb.seed_report().plain_contacts[0].clone();
        (
            format!("{}/crm/v3/objects/contacts/{id}", sb.hubspot_base_url()),
            format!("Bearer {}", sb.hubspot_access_token()),
        )
    } else {
        (
            sb.seed_report().plain_customers[0].clone(),
            format!("token {}", sb.tte_api_key()),
        )
    };
    let ok = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        // one client per worker: one keep-alive connection each
        let c = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(1)
            .build()
            .map_err(std::io::Error::other)?;
        let (url, auth, ok, bad) = (url.clone(), auth.clone(), ok.clone(), bad.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                match c.get(&url).header("authorization", &auth).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = ok.load(Ordering::Relaxed);
    println!(
        "target={target} concurrency={conc} seconds={elapsed:.1} ok={n} errors={} rate={:.0} req/s",
        bad.load(Ordering::Relaxed),
        n as f64 / elapsed
    );
    // cross-check with the server's own counters
    let system = if target == "hubspot" {
        sandbox::System::Hubspot
    } else {
        sandbox::System::Tte
    };
    let op = if target == "hubspot" {
        "contacts.get"
    } else {
        "customers.get"
    };
    println!("server counted {op}: {:?}", sb.count(system, op));
    sb.shutdown().await;
    Ok(())
}
