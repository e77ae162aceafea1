//! Webhook receiver benchmark (not a test): signed HubSpot deliveries at a fixed rate to a
//! running `mapsync serve`, open loop (a request is sent on schedule whatever the previous
//! ones do, and its latency is counted from its scheduled time, so a stall is not hidden).
//!
//! It starts the sandbox in-process (the workers' target), a release `mapsync serve` (the
//! reference mapping, a fresh state store in a temporary directory, `--workers 2`) and sends
//! one delivery of one distinct `contact.propertyChange` event per request, each signed
//! (HubSpot v3) with the current timestamp. The contacts do not exist, so a worker's job is one
//! GET answered 404 under the mapping's HubSpot rate limit (100 per 10 s): the workers are
//! nearly idle and the inbox grows. Reports p50/p90/p99/max acknowledgement latency, non-2xx and
//! failed requests, and events stored in the inbox (from `/metrics`) against events sent.
//!
//! ```sh
//! cargo build --release --bin mapsync --example bench_webhooks
//! target/release/examples/bench_webhooks --rate 1000 --seconds 60
//! ```
//! Flags: `--rate N` (requests/s, default 1000), `--seconds N` (default 60), `--mapsync PATH`
//! (default `target/release/mapsync`), `--workers N` (default 2), `--state URL` (a
//! `postgres://…` store instead of the SQLite file; give the URL a fresh `?schema=`) and
//! `--instances N` (default 1: N servers on that shared store, the deliveries sent to them in
//! turn, as a round-robin balancer would). Prints a summary and one
//! JSON line. Figures and the command are recorded in BENCHMARKS.md.
//!
//! Worker throughput instead: `--records N` seeds N HubSpot contacts, lifts the mapping's rate
//! limits (the sandbox's are off), delays every sandbox answer by `--latency-ms` (default 20),
//! sends one delivery per contact at `--rate`, and times from the first delivery until the
//! workers of every instance have processed N records and the inbox is empty: records/s. Each
//! record is a real sync: the contact read, a 10to8 customer created, the link written back.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sandbox::{Faults, Sandbox, SandboxConfig};
use sha2::Sha256;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn sign(secret: &str, uri: &str, body: &str, ts: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("POST{uri}{body}{ts}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

async fn metric(http: &reqwest::Client, base: &str, name: &str) -> Option<u64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

#[tokio::main]
async fn main() {
    mapsync::init_crypto();
    let rate: u64 = arg("--rate", "1000").parse().expect("--rate N");
    let seconds: u64 = arg("--seconds", "60").parse().expect("--seconds N");
    let workers = arg("--workers", "2");
    let state = arg("--state", "");
    let instances: usize = arg("--instances", "1").parse().expect("--instances N");
    let records: u64 = arg("--records", "0").parse().expect("--records N");
    let latency_ms: u64 = arg("--latency-ms", "20").parse().expect("--latency-ms N");
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = arg(
        "--mapsync",
        &root.join("target/release/mapsync").to_string_lossy(),
    );
    // The server runs in a temporary directory: resolve a relative path first.
    let bin = std::fs::canonicalize(&bin).unwrap_or_else(|e| panic!("{bin}: {e}"));

    let defaults = SandboxConfig::for_tests();
    let latency = Faults {
        latency: Duration::from_millis(latency_ms),
        ..Faults::default()
    };
    let sb = Sandbox::start(if records > 0 {
        SandboxConfig {
            customers: 0,
            // Every fifth seeded contact is archived: seed enough for N live ones.
            contacts: records as usize * 5 / 4 + 5,
            precreate_custom_properties: true,
            hubspot_faults: latency.clone(),
            tte_faults: latency,
            ..defaults
        }
    } else {
        SandboxConfig {
            customers: 0,
            contacts: 0,
            precreate_custom_properties: true,
            ..defaults
        }
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut mapping =
        std::fs::read_to_string(root.join("mappings/hubspot.yaml")).expect("read the mapping");
    if records > 0 {
        // Throughput: the declared limits (10to8 5/s, HubSpot 100 per 10 s) would set the pace.
        mapping = mapping
            .replace(
                "rate_limit: { requests: 5, per: 1s }",
                "rate_limit: { requests: 100000, per: 1s }",
            )
            .replace(
                "rate_limit:\n      requests: 100\n      per: 10s",
                "rate_limit:\n      requests: 1000000\n      per: 10s",
            );
        assert!(
            mapping.contains("requests: 100000, per: 1s")
                && mapping.contains("requests: 1000000\n"),
            "the rate limits moved"
        );
    }
    std::fs::write(dir.path().join("mapping.yaml"), mapping).expect("write the mapping");
    // Throughput: the seeded contacts' ids, one delivery each; latency: ids nobody has.
    let ids: Vec<u64> = if records > 0 {
        sb.contacts()
            .iter()
            .filter(|c| !c.archived)
            .map(|c| c.id)
            .take(records as usize)
            .collect()
    } else {
        Vec::new()
    };
    let mut children = Vec::new();
    let mut bases = Vec::new();
    for _ in 0..instances.max(1) {
        let mut command = Command::new(&bin);
        command
            .args([
                "serve",
                "--mapping",
                "mapping.yaml",
                "--listen",
                "127.0.0.1:0",
                "--workers",
                &workers,
            ])
            .current_dir(dir.path())
            .env_clear()
            .envs(sb.env_vars())
            .env("TTE_WEBHOOK_TOKEN", "bench-token-0123456789abcdef0123")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if !state.is_empty() {
            command.env("MAPSYNC_STATE", &state);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let base = loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                panic!("mapsync serve exited before listening");
            }
            if let Some(rest) = line.trim().strip_prefix("Listening on ") {
                break rest.to_string();
            }
        };
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        children.push(child);
        bases.push(base);
    }
    let base = bases[0].clone();

    let secret = sb.hubspot_client_secret().to_string();
    let portal = sb.hubspot_portal_id();
    let app = sb.hubspot_app_id();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let total = if records > 0 {
        ids.len() as u64
    } else {
        rate * seconds
    };
    let latencies: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let non_2xx = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let occurred = jiff::Timestamp::now().as_millisecond();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = started + Duration::from_nanos(i * 1_000_000_000 / rate);
        tokio::time::sleep_until(due.into()).await;
        let body = format!(
            r#"[{{"eventId":{i},"subscriptionId":9001,"portalId":{portal},"occurredAt":{occurred},"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":{},"propertyName":"phone","propertyValue":"{i}","changeSource":"CRM","sourceId":"userId:1","appId":{app}}}]"#,
            ids.get(i as usize).copied().unwrap_or(10_000_000 + i)
        );
        let ts = jiff::Timestamp::now().as_millisecond();
        let uri = format!("{}/webhooks/hubspot", bases[i as usize % bases.len()]);
        let sig = sign(&secret, &uri, &body, ts);
        let http = http.clone();
        let (latencies, non_2xx, failed) = (latencies.clone(), non_2xx.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(&uri)
                .header("Content-Type", "application/json")
                .header("X-HubSpot-Signature-v3", sig)
                .header("X-HubSpot-Request-Timestamp", ts.to_string())
                .body(body)
                .send()
                .await;
            let us = due.elapsed().as_micros() as u64;
            match r {
                Ok(r) => {
                    if !r.status().is_success() {
                        non_2xx.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    let _ = r.bytes().await;
                    latencies.lock().expect("lock").push(us);
                }
                Err(_) => {
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let wall = started.elapsed();
    // Throughput: wait until every instance's workers processed a record per delivery and the
    // shared inbox is empty.
    let mut worked = None;
    if records > 0 {
        let deadline = Instant::now() + Duration::from_secs(1800);
        loop {
            let mut processed = 0;
            for b in &bases {
                processed += metric(&http, b, "mapsync_records_processed_total")
                    .await
                    .unwrap_or(0);
            }
            let depth = metric(&http, &bases[0], "mapsync_inbox_depth").await;
            if processed >= total && depth == Some(0) {
                worked = Some(started.elapsed());
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the workers did not finish: {processed} of {total}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let created = sb.customers().len();
    let stored = metric(&http, &base, "mapsync_webhook_events_stored_total").await;
    let duplicates = metric(&http, &base, "mapsync_webhook_events_duplicate_total").await;
    let depth = metric(&http, &base, "mapsync_inbox_depth").await;
    let mut processed = Some(0);
    for b in &bases {
        let n = metric(&http, b, "mapsync_records_processed_total").await;
        processed = processed.zip(n).map(|(a, b)| a + b);
    }
    let mut stored_all = Some(0);
    let mut duplicates_all = Some(0);
    for b in &bases {
        stored_all = stored_all
            .zip(metric(&http, b, "mapsync_webhook_events_stored_total").await)
            .map(|(a, b)| a + b);
        duplicates_all = duplicates_all
            .zip(metric(&http, b, "mapsync_webhook_events_duplicate_total").await)
            .map(|(a, b)| a + b);
    }
    let (stored, duplicates) = (stored_all.or(stored), duplicates_all.or(duplicates));
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }

    let mut l = latencies.lock().expect("lock").clone();
    l.sort_unstable();
    let (p50, p90, p99, max) = (
        percentile(&l, 0.50),
        percentile(&l, 0.90),
        percentile(&l, 0.99),
        l.last().copied().unwrap_or(0) as f64 / 1000.0,
    );
    let non_2xx = non_2xx.load(std::sync::atomic::Ordering::Relaxed);
    let failed = failed.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "sent {total} deliveries ({rate}/s for {seconds} s) in {:.1} s; ack latency ms: p50 {p50:.2}, p90 {p90:.2}, p99 {p99:.2}, max {max:.2}; non-2xx {non_2xx}, failed {failed}; events stored {stored:?} (duplicates {duplicates:?}) of {total} sent; inbox depth {depth:?}, records processed {processed:?}",
        wall.as_secs_f64()
    );
    let per_second = worked.map(|w| total as f64 / w.as_secs_f64());
    if let (Some(w), Some(r)) = (worked, per_second) {
        println!(
            "workers: {total} records processed in {:.2} s from the first delivery: {r:.1} records/s ({instances} instance(s) x {workers} workers, {latency_ms} ms per sandbox answer); 10to8 customers created {created}",
            w.as_secs_f64()
        );
    }
    println!(
        "{}",
        serde_json::json!({"records": records, "latency_ms": (records > 0).then_some(latency_ms), "worked_s": worked.map(|w| w.as_secs_f64()),
            "records_per_s": per_second, "customers_created": created, "workers": workers, "rate": rate, "seconds": seconds, "sent": total, "wall_s": wall.as_secs_f64(),
            "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "max_ms": max, "non_2xx": non_2xx, "failed": failed,
            "stored": stored, "duplicates": duplicates, "inbox_depth": depth, "processed": processed,
            "instances": instances, "state": if state.is_empty() { "sqlite" } else { "postgres" }})
    );
}
