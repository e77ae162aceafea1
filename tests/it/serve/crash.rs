//! Crash and shutdown with the real binary: `kill -9` while the sandbox is delivering about
//! 1,000 events (it retries refused deliveries as HubSpot does), restart on the same port and
//! state: every acknowledged event processed, 0 duplicate creates, target equals source.
//! SIGTERM with requests in flight: every accepted request answered, exit within 10 s, every
//! acknowledged event still in the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sandbox::{NotificationConfig, SandboxConfig, System, WebhookConfig};
use serde_json::{Value, json};

use super::harness::{Live, Opts, start};
use super::live_faults::{creation_event, send_signed, sign_v3};

/// The reference mapping without its client-side rate limits.
pub fn unthrottled(m: String) -> String {
    let out = m
        .replace(
            "rate_limit: { requests: 5, per: 1s }",
            "rate_limit: { requests: 10000, per: 1s }",
        )
        .replace(
            "rate_limit:\n      requests: 100\n      per: 10s",
            "rate_limit:\n      requests: 100000\n      per: 10s",
        );
    assert_eq!(
        out.matches("requests: 10000").count(),
        2,
        "the rate limits moved"
    );
    out
}

const CONTACTS: usize = 200;
const EDITS: usize = 3;

fn events_delivered(live: &Live) -> (usize, usize) {
    let mut acked = std::collections::BTreeSet::new();
    let mut all = std::collections::BTreeSet::new();
    for d in live.sb.deliveries(System::Hubspot) {
        let n = serde_json::from_str::<Value>(&d.body)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len))
            .unwrap_or(0);
        all.insert((d.delivery_id, n));
        if d.succeeded() {
            acked.insert((d.delivery_id, n));
        }
    }
    (
        acked.iter().map(|(_, n)| n).sum(),
        all.iter().map(|(_, n)| n).sum(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_events_are_delivered_loses_nothing_and_creates_once() {
    let t0 = Instant::now();
    let defaults = SandboxConfig::for_tests();
    let mut live = start(Opts {
        sandbox: SandboxConfig {
            customers: 0,
            contacts: 0,
            precreate_custom_properties: true,
            webhooks: WebhookConfig {
                // HubSpot retries a refused delivery 10 times over hours; compressed here to
                // ~5 s, longer than a restart takes.
                retry_delays: vec![Duration::from_millis(500); 9],
                max_attempts: 10,
                ..defaults.webhooks.clone()
            },
            // 10to8 retries a notification 5 times over hours; the test default (~0.6 s in
            // all) is shorter than a restart on a loaded machine, so give it the same ~5 s.
            notifications: NotificationConfig {
                retry_delays: vec![Duration::from_millis(500); 9],
                ..defaults.notifications.clone()
            },
            ..defaults
        },
        // The sandbox's rate limits are off; so are mapsync's here, to keep the run short.
        mapping: unthrottled,
        ..Opts::default()
    })
    .await;
    let sb = live.sb.clone();
    let done = Arc::new(AtomicUsize::new(0));
    // The changes, paced over about 2 s so deliveries are still flowing at the kill.
    let changer = {
        let sb = sb.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(2));
            for i in 0..CONTACTS {
                tick.tick().await;
                let c = sb
                    .ui_create_contact(json!({"email": format!("p{i}@example.com"),
                        "firstname": format!("P{i}"), "lastname": "Crash", "phone": "0"}))
                    .expect("create");
                ids.push(
                    c["id"]
                        .as_str()
                        .map(String::from)
                        .unwrap_or(c["id"].to_string()),
                );
                done.fetch_add(1, Ordering::SeqCst);
            }
            for round in 1..=EDITS {
                for id in &ids {
                    tick.tick().await;
                    sb.ui_update_contact(id, json!({"phone": format!("+{round}")}))
                        .expect("edit");
                    done.fetch_add(1, Ordering::SeqCst);
                }
            }
            ids
        })
    };
    // SIGKILL mid-way: once some events are stored and some records processed.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let stored = live
            .metric("mapsync_webhook_events_stored_total")
            .await
            .unwrap_or(0);
        if stored >= 150 && done.load(Ordering::SeqCst) >= CONTACTS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no events arrived: {}",
            live.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let addr = live.addr();
    live.kill9();
    let at_kill = done.load(Ordering::SeqCst);
    live.spawn(&addr).await;
    let ids = changer.await.expect("changes");
    assert!(
        at_kill < CONTACTS * (1 + EDITS),
        "the kill came after every change was made"
    );

    // Wait until every delivery is acknowledged and the inbox is empty.
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let (acked, all) = events_delivered(&live);
        let depth = live.metric("mapsync_inbox_depth").await;
        if acked == all && depth == Some(0) {
            let settled = ids.iter().all(|id| {
                sb.contact(id).is_some_and(|c| {
                    c.get("tte_customer_uri")
                        .and_then(|u| sb.customer(&u))
                        .is_some_and(|cu| {
                            cu.numbers.first().map(String::as_str) == Some(&format!("+{EDITS}"))
                        })
                })
            });
            if settled {
                break;
            }
        }
        if Instant::now() >= deadline {
            let off: Vec<String> = ids
                .iter()
                .filter_map(|id| {
                    let c = sb.contact(id)?;
                    let uri = c.get("tte_customer_uri");
                    let cu = uri.as_deref().and_then(|u| sb.customer(u));
                    let ok = cu.as_ref().is_some_and(|cu| {
                        cu.numbers.first().map(String::as_str) == Some(&format!("+{EDITS}"))
                    });
                    (!ok).then(|| format!("{id}: link {uri:?}, customer {cu:?}"))
                })
                .collect();
            std::fs::write("/tmp/crash_serve.log", live.log()).ok();
            panic!(
                "did not converge: acked {acked} of {all} events, depth {depth:?}, {} customers, {} off: {:?}",
                sb.customers().len(),
                off.len(),
                &off[..off.len().min(5)]
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    live.settle().await;
    let (acked, all) = events_delivered(&live);
    assert_eq!(acked, all, "every event was eventually acknowledged");
    assert!(all >= CONTACTS * (1 + EDITS), "{all} events");

    // 0 duplicate creates: one customer per contact, each created once.
    let customers = sb.customers();
    assert_eq!(customers.len(), CONTACTS, "{}", live.log());
    assert_eq!(
        sb.count(System::Tte, "customers.create").total,
        CONTACTS as u64
    );
    // Target equals source, linked both ways.
    for id in &ids {
        let c = sb.contact(id).expect("contact");
        let uri = c.get("tte_customer_uri").expect("linked");
        let cu = sb.customer(&uri).expect("customer");
        assert_eq!(cu.custom_fields.get("External ID"), Some(id));
        assert_eq!(cu.numbers, vec![format!("+{EDITS}")]);
        assert_eq!(cu.emails, vec![c.get("email").unwrap_or_default()]);
        assert_eq!(
            cu.name,
            format!(
                "{} {}",
                c.get("firstname").unwrap_or_default(),
                c.get("lastname").unwrap_or_default()
            )
        );
    }
    assert!(live.dead_letters().is_empty());
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
}

/// An HTTP/1.1 POST of a signed HubSpot delivery over a raw connection, sent in two parts so
/// that it is in flight (headers and half the body read by the server) for as long as the test
/// wants.
struct SlowDelivery {
    stream: tokio::net::TcpStream,
    rest: Vec<u8>,
}

impl SlowDelivery {
    async fn begin(live: &Live, body: &str) -> SlowDelivery {
        use tokio::io::AsyncWriteExt;
        let uri = format!("{}/webhooks/hubspot", live.base);
        let ts = jiff::Timestamp::now().as_millisecond();
        let sig = sign_v3(live.sb.hubspot_client_secret(), &uri, body, ts);
        let head = format!(
            "POST /webhooks/hubspot HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nX-HubSpot-Signature-v3: {sig}\r\n\
             X-HubSpot-Request-Timestamp: {ts}\r\nConnection: close\r\n\r\n",
            live.addr(),
            body.len()
        );
        let (first, rest) = body.as_bytes().split_at(body.len() / 2);
        let mut stream = tokio::net::TcpStream::connect(live.addr())
            .await
            .expect("connect");
        stream.write_all(head.as_bytes()).await.expect("head");
        stream.write_all(first).await.expect("first half");
        SlowDelivery {
            stream,
            rest: rest.to_vec(),
        }
    }

    /// Sends the rest of the body; the status line and body of the answer.
    async fn finish(mut self) -> Result<(u16, String), std::io::Error> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.stream.write_all(&self.rest).await?;
        let mut answer = Vec::new();
        self.stream.read_to_end(&mut answer).await?;
        let text = String::from_utf8_lossy(&answer).to_string();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        Ok((status, body))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_every_request_in_flight_and_loses_no_row() {
    const IN_FLIGHT: usize = 40;
    const BURST: usize = 120;
    let mut live = start(Opts {
        subscribe: false,
        ..Opts::default()
    })
    .await;
    let at = jiff::Timestamp::now().as_millisecond();
    // Events for contacts that do not exist: the workers read them as gone and skip them.
    let body = |i: usize| {
        Value::Array(vec![creation_event(
            &live,
            i as u64,
            &(900_000 + i).to_string(),
            at,
        )])
        .to_string()
    };
    let mut slow = Vec::new();
    for i in 0..IN_FLIGHT {
        slow.push(SlowDelivery::begin(&live, &body(i)).await);
    }
    // Every slow request has reached its handler (it counts a delivery before reading the body).
    let deadline = Instant::now() + Duration::from_secs(10);
    while live
        .metric("mapsync_webhook_deliveries_received_total")
        .await
        .unwrap_or(0)
        < IN_FLIGHT as u64
    {
        assert!(
            Instant::now() < deadline,
            "the slow requests did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A burst of ordinary deliveries around the signal.
    let mut burst = Vec::new();
    for i in IN_FLIGHT..IN_FLIGHT + BURST {
        let b = body(i);
        let uri = format!("{}/webhooks/hubspot", live.base);
        let ts = jiff::Timestamp::now().as_millisecond();
        let sig = sign_v3(live.sb.hubspot_client_secret(), &uri, &b, ts);
        let http = live.http.clone();
        burst.push((
            b.clone(),
            tokio::spawn(async move {
                let r = http
                    .post(&uri)
                    .header("Content-Type", "application/json")
                    .header("X-HubSpot-Signature-v3", sig)
                    .header("X-HubSpot-Request-Timestamp", ts.to_string())
                    .body(b)
                    .send()
                    .await?;
                let status = r.status().as_u16();
                Ok::<_, reqwest::Error>((status, r.text().await?))
            }),
        ));
    }
    let t_signal = Instant::now();
    live.sigterm();
    // Shutdown has begun once the listener is closed: nothing new is accepted.
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(live.addr()).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The in-flight requests finish after that: each is answered, and stored.
    let mut acked: Vec<String> = Vec::new();
    for (i, s) in slow.into_iter().enumerate() {
        let (status, text) = s.finish().await.expect("an in-flight request is answered");
        assert_eq!(status, 200, "in-flight request {i}: {text}");
        assert!(text.contains("\"stored\":1"), "{text}");
        acked.push(body(i));
    }
    let mut refused = 0;
    for (b, h) in burst {
        match h.await.expect("join") {
            Ok((status, text)) => {
                assert_eq!(status, 200, "{text}");
                acked.push(b);
            }
            // Not accepted: the listener had closed (a sender retries these).
            Err(e) => {
                assert!(e.is_connect() || e.is_request(), "{e:?}");
                refused += 1;
            }
        }
    }
    let code = live.wait_exit(Duration::from_secs(10)).await;
    assert!(t_signal.elapsed() < Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", live.log());

    // Restarted on the same state: every acknowledged delivery is already stored.
    live.spawn("127.0.0.1:0").await;
    for b in &acked {
        let r = send_signed(&live, b).await.expect("resend");
        let text = r.text().await.unwrap_or_default();
        assert!(
            text.contains("\"stored\":0,\"duplicates\":1"),
            "an acknowledged event was lost: {text}"
        );
    }
    assert!(
        acked.len() >= IN_FLIGHT,
        "{} acked, {refused} refused",
        acked.len()
    );
    eprintln!(
        "{} deliveries acknowledged, {refused} refused at shutdown",
        acked.len()
    );
}
