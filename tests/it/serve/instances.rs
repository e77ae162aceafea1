//! Scale-out: three `mapsync serve` instances of the real binary on one PostgreSQL store, behind
//! a round-robin balancer that splits the sandbox's deliveries between them (and, as a real
//! balancer does, sends a request to the next instance when one refuses connections). Live edits
//! on both sides; one instance is SIGKILLed halfway and restarted on its address: nothing is
//! lost, nothing is created twice, and both sides end equal. A full sync runs beside them from
//! the halfway point. The sandbox's rate limits are on and the mapping declares them: the
//! sandbox's request log shows the three instances and the sync together within the declared
//! budget (one budget in the store, not one per process).
//!
//! Scale: 100 records created on each side, then 20 rounds of edits of each: 4,000 live edits
//! (2,000 on each side) and 200 creates, at 15 requests/s to each system. It takes 48 s on 2
//! cores at a load average of 2 (the rate limits set the pace: about 600 requests to each
//! system, the edits of a record coalesced while it waits for the budget).
//!
//! Needs PostgreSQL (`MAPSYNC_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`);
//! the test makes a schema of its own and drops it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use sandbox::{
    HubspotRateLimit, NotificationConfig, SandboxConfig, System, TteRateLimit, WebhookConfig,
};
use serde_json::{Value, json};

use super::harness::{Opts, start};
use crate::pg::Schema;

/// Records created on each side; each then gets `ROUNDS` edits on its own side.
const RECORDS: usize = 100;
const ROUNDS: usize = 20;

/// A declared limit, the mapping's token bucket: `requests` per `per` on average, `burst` at
/// once. Any span of time T may see `burst + requests × T / per` requests, no more.
struct Declared {
    requests: u32,
    per: Duration,
    burst: u32,
}

impl Declared {
    fn per_second(&self) -> f64 {
        f64::from(self.requests) / self.per.as_secs_f64()
    }
}

/// What the mapping declares for 10to8 and for HubSpot. The sandbox enforces as much (its
/// limiters are on): 10to8 a bucket of the same rate and size, HubSpot a rolling window of the
/// most the declared bucket can send in 10 s. Bursts smaller than the rate keep the check on the
/// sustained rate sharp.
const TTE: Declared = Declared {
    requests: 15,
    per: Duration::from_secs(1),
    burst: 5,
};
const HUBSPOT: Declared = Declared {
    requests: 150,
    per: Duration::from_secs(10),
    burst: 15,
};

/// The reference mapping with the declared limits above (HubSpot's budget headers kept).
fn limited(m: String) -> String {
    let out = m
        .replace(
            "rate_limit: { requests: 5, per: 1s }",
            &format!(
                "rate_limit: {{ requests: {}, per: {}s, burst: {} }}",
                TTE.requests,
                TTE.per.as_secs(),
                TTE.burst
            ),
        )
        .replace(
            "      requests: 100\n      per: 10s\n",
            &format!(
                "      requests: {}\n      per: {}s\n      burst: {}\n",
                HUBSPOT.requests,
                HUBSPOT.per.as_secs(),
                HUBSPOT.burst
            ),
        );
    assert_eq!(out.matches("burst: ").count(), 2, "the rate limits moved");
    out
}

/// How far arrivals at the sandbox may bunch beyond what was sent within the bucket: each
/// request arrives after its own latency (loopback, on 2 busy cores), so the log may overdraw
/// the bucket by this much of the rate (3 requests at 15/s). Budgets kept per process overdraw
/// it by 10 or more.
const LATENCY_SPREAD: Duration = Duration::from_millis(200);

/// Replays the requests the sandbox received, in arrival order, through the declared bucket
/// (full at the start): the lowest level it reaches, `-k` when some span of time T saw
/// `burst + requests × T / per + k` requests. Also the busiest window of `per` (half-open),
/// for the record.
fn replay(log: &[sandbox::LoggedRequest], d: &Declared) -> (f64, usize) {
    let mut at: Vec<_> = log.iter().map(|r| r.received).collect();
    at.sort();
    let burst = f64::from(d.burst);
    let (mut tokens, mut lowest) = (burst, burst);
    for (i, t) in at.iter().enumerate() {
        if i > 0 {
            let dt = t.duration_since(at[i - 1]).as_secs_f64();
            tokens = (tokens + dt * d.per_second()).min(burst);
        }
        tokens -= 1.0;
        lowest = lowest.min(tokens);
    }
    let (mut busiest, mut first) = (0, 0);
    for last in 0..at.len() {
        while at[last].duration_since(at[first]) >= d.per {
            first += 1;
        }
        busiest = busiest.max(last + 1 - first);
    }
    (lowest, busiest)
}

/// Server processes started beside the harness's own; killed when the test ends, however.
struct Children(Vec<std::process::Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The round-robin balancer's shared state.
#[derive(Clone)]
struct Balancer {
    backends: Arc<Mutex<Vec<String>>>,
    next: Arc<AtomicUsize>,
    http: reqwest::Client,
}

async fn forward(State(lb): State<Balancer>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 << 20).await else {
        return status(StatusCode::BAD_REQUEST);
    };
    let backends = lb.backends.lock().unwrap().clone();
    let start = lb.next.fetch_add(1, Ordering::Relaxed);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    for k in 0..backends.len() {
        let backend = &backends[(start + k) % backends.len()];
        let mut request = lb
            .http
            .request(parts.method.clone(), format!("{backend}{path}"))
            .body(bytes.clone());
        for (name, value) in &parts.headers {
            if name != axum::http::header::HOST && name != axum::http::header::CONTENT_LENGTH {
                request = request.header(name, value);
            }
        }
        match request.send().await {
            Ok(answer) => {
                let code = answer.status();
                let body = answer.bytes().await.unwrap_or_default();
                let mut response = Response::new(Body::from(body));
                *response.status_mut() = code;
                return response;
            }
            // Nothing listens there, or the instance died mid-request: try the next one (a
            // delivery stored twice is deduplicated by the store).
            Err(_) => continue,
        }
    }
    status(StatusCode::BAD_GATEWAY)
}

fn status(code: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    response
}

fn id_of(v: &Value) -> String {
    v.as_str()
        .map(String::from)
        .unwrap_or_else(|| v.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_postgres_lose_nothing_when_one_is_killed_and_keep_the_declared_limits()
{
    let t0 = Instant::now();
    mapsync::init_crypto();
    let schema = Schema::new();
    let lb = Balancer {
        backends: Arc::new(Mutex::new(Vec::new())),
        next: Arc::new(AtomicUsize::new(0)),
        // No kept-alive connections, so a restarted instance is never reached over a dead one.
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lb_base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(forward).with_state(lb.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let defaults = SandboxConfig::for_tests();
    let retries = vec![Duration::from_millis(500); 9];
    let mut live = start(Opts {
        sandbox: SandboxConfig {
            customers: 0,
            contacts: 0,
            precreate_custom_properties: true,
            tte_rate_limit: TteRateLimit {
                enabled: true,
                per_second: TTE.per_second(),
                burst: TTE.burst,
            },
            hubspot_rate_limit: HubspotRateLimit {
                enabled: true,
                private_app_per_10s: HUBSPOT.requests + HUBSPOT.burst,
                oauth_per_10s: HUBSPOT.requests + HUBSPOT.burst,
                search_per_second: HUBSPOT.requests,
                ..HubspotRateLimit::default()
            },
            webhooks: WebhookConfig {
                retry_delays: retries.clone(),
                max_attempts: 10,
                ..defaults.webhooks.clone()
            },
            notifications: NotificationConfig {
                retry_delays: retries,
                ..defaults.notifications.clone()
            },
            ..defaults
        },
        mapping: limited,
        subscribe: false,
        state: Some(schema.url()),
        public_url: Some(lb_base.clone()),
        ..Opts::default()
    })
    .await;
    let (second, second_base) = live.spawn_instance("127.0.0.1:0", "serve-2.log").await;
    let (third, third_base) = live.spawn_instance("127.0.0.1:0", "serve-3.log").await;
    let mut others = Children(vec![second, third]);
    *lb.backends.lock().unwrap() = vec![live.base.clone(), second_base.clone(), third_base];
    // Every request from now on (deliveries, /metrics) goes through the balancer.
    live.base = lb_base;
    live.subscribe().await;
    // From here on, the request logs hold mapsync's requests only.
    live.sb.clear_log(System::Hubspot);
    live.sb.clear_log(System::Tte);

    let sb = live.sb.clone();
    let done = Arc::new(AtomicUsize::new(0));
    let total = 2 * RECORDS * (1 + ROUNDS);
    let changer = {
        let sb = sb.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut contacts = Vec::new();
            let mut customers = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(2));
            for i in 0..RECORDS {
                tick.tick().await;
                let c = sb
                    .ui_create_contact(json!({"email": format!("h{i}@example.com"),
                        "firstname": format!("H{i}"), "lastname": "Home", "phone": "+0"}))
                    .expect("create contact");
                contacts.push(id_of(&c["id"]));
                let cu = sb
                    .ui_create_customer(json!({"name": format!("E{i} R0"),
                        "emails": [format!("e{i}@example.com")], "numbers": []}))
                    .expect("create customer");
                customers.push(cu.resource_uri);
                done.fetch_add(2, Ordering::SeqCst);
            }
            for round in 1..=ROUNDS {
                for i in 0..RECORDS {
                    tick.tick().await;
                    sb.ui_update_contact(&contacts[i], json!({"phone": format!("+{round}")}))
                        .expect("edit contact");
                    sb.ui_update_customer(&customers[i], json!({"name": format!("E{i} R{round}")}))
                        .expect("edit customer");
                    done.fetch_add(2, Ordering::SeqCst);
                }
            }
            (contacts, customers)
        })
    };

    // SIGKILL the second instance halfway through the changes, then restart it on its address.
    let deadline = Instant::now() + Duration::from_secs(30);
    while done.load(Ordering::SeqCst) < total / 2 {
        assert!(Instant::now() < deadline, "the changes stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut killed = others.0.remove(0);
    killed.kill().expect("SIGKILL");
    let _ = killed.wait();
    let at_kill = done.load(Ordering::SeqCst);
    let addr = second_base.trim_start_matches("http://").to_owned();
    let (restarted, _) = live.spawn_instance(&addr, "serve-2.log").await;
    others.0.push(restarted);
    // A full sync on the same store while the edits go on: it takes from the same budget.
    others.0.push(live.spawn_mapsync(
        &[
            "-v",
            "sync",
            "--mapping",
            "mapping.yaml",
            "--direction",
            "outbound",
        ],
        "sync.log",
    ));
    let (contacts, customers) = changer.await.expect("changes");
    let deadline = Instant::now() + Duration::from_secs(120);
    let synced = loop {
        if let Some(status) = others.0[2].try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let log = std::fs::read_to_string(live.dir.path().join("sync.log")).unwrap_or_default();
            panic!(
                "the sync did not finish:\n{}",
                &log[log.len().saturating_sub(6000)..]
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let sync_log = std::fs::read_to_string(live.dir.path().join("sync.log")).unwrap_or_default();
    assert!(synced.success(), "sync: {synced}\n{sync_log}");
    assert!(at_kill < total, "the kill came after every change was made");

    // Converged: every delivery acknowledged, the shared inbox empty, the last edit of every
    // record on the other side.
    let converged = |sb: &sandbox::SandboxHandle| -> Vec<String> {
        let mut off = Vec::new();
        for (i, id) in contacts.iter().enumerate() {
            let ok = sb.contact(id).is_some_and(|c| {
                c.get("tte_customer_uri")
                    .and_then(|u| sb.customer(&u))
                    .is_some_and(|cu| cu.numbers == vec![format!("+{ROUNDS}")])
            });
            if !ok {
                off.push(format!("contact {i}"));
            }
        }
        for (i, uri) in customers.iter().enumerate() {
            let ok = sb.customer(uri).is_some_and(|cu| {
                cu.custom_fields
                    .get("External ID")
                    .and_then(|id| sb.contact(id))
                    .is_some_and(|c| {
                        c.get("firstname").as_deref() == Some(&format!("E{i}"))
                            && c.get("lastname").as_deref() == Some(&format!("R{ROUNDS}"))
                    })
            });
            if !ok {
                off.push(format!("customer {i}"));
            }
        }
        off
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (_, all_acked) = live.delivered();
        let depth = live.metric("mapsync_inbox_depth").await;
        let off = converged(&sb);
        if all_acked && depth == Some(0) && off.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            let logs: String = ["serve.log", "serve-2.log", "serve-3.log"]
                .iter()
                .map(|f| std::fs::read_to_string(live.dir.path().join(f)).unwrap_or_default())
                .collect();
            let tail = &logs[logs.len().saturating_sub(4000)..];
            let mut failed: std::collections::BTreeMap<(String, u64), Vec<String>> =
                Default::default();
            for sys in [System::Hubspot, System::Tte] {
                for a in sb.deliveries(sys) {
                    failed
                        .entry((format!("{sys:?}"), a.delivery_id))
                        .or_default()
                        .push(format!("{:?}/{:?}", a.status, a.error));
                }
            }
            failed.retain(|_, v| !v.iter().any(|a| a.starts_with("Some(2")));
            eprintln!("unacknowledged deliveries: {failed:?}");
            std::fs::write("/tmp/instances.log", &logs).ok();
            panic!(
                "did not converge: acked {all_acked}, depth {depth:?}, {} off: {:?}\n{tail}",
                off.len(),
                &off[..off.len().min(5)]
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 0 duplicate creates: one record on the other side per record created (the serve
    // workers create one at a time, the sync in batches), and every one linked to its source
    // below.
    assert_eq!(sb.customers().len(), 2 * RECORDS);
    assert_eq!(sb.contacts().len(), 2 * RECORDS);
    // Both sides equal on every mapped field, linked both ways.
    for c in sb.contacts() {
        let uri = c.get("tte_customer_uri").expect("every contact linked");
        let cu = sb.customer(&uri).expect("its customer");
        assert_eq!(cu.custom_fields.get("External ID"), Some(&c.id.to_string()));
        assert_eq!(
            cu.name,
            format!(
                "{} {}",
                c.get("firstname").unwrap_or_default(),
                c.get("lastname").unwrap_or_default()
            )
        );
        assert_eq!(cu.emails, vec![c.get("email").unwrap_or_default()]);
    }
    assert!(live.dead_letters().is_empty(), "no dead letters");
    // `mapsync status` on the shared store: three instances alive (the restarted one under its
    // old name, its address), the inbox empty.
    let status = live.status();
    let instances = status["instances"].as_array().expect("instances");
    assert_eq!(instances.len(), 3, "{status}");
    assert!(instances.iter().all(|i| i["alive"] == true), "{status}");
    assert_eq!(status["inbox_depth"], 0, "{status}");
    drop(others);
    // The declared limits held for the three instances and the sync together: replayed
    // through the mapping's bucket, the sandbox's log never overdraws it by more than the
    // spread of the requests' latencies can account for.
    let mut seen = Vec::new();
    for (sys, declared) in [(System::Tte, TTE), (System::Hubspot, HUBSPOT)] {
        let log = sb.requests(sys);
        let (lowest, busiest) = replay(&log, &declared);
        let refused = log
            .iter()
            .filter(|r| r.fault.as_deref() == Some("ratelimit"))
            .count();
        seen.push(format!(
            "{sys:?}: {} requests, at most {busiest} in {:?}, bucket low {lowest:.1}, {refused} refused",
            log.len(),
            declared.per
        ));
        let slack = declared.per_second() * LATENCY_SPREAD.as_secs_f64();
        assert!(
            lowest >= -slack,
            "{sys:?} overdrew the declared bucket: {seen:?}"
        );
    }
    eprintln!("3 instances, {total} changes: {:?}; {seen:?}", t0.elapsed());
}
