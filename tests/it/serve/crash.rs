//! Crash and shutdown with the real binary: the workers' crash campaign — `serve` aborted at
//! each worker failpoint (`mapsync::runner::FAILPOINTS`) in each direction while the sandbox
//! delivers creations (retrying refused deliveries as the real senders do), restarted on the
//! same port and state: every record crossed once, 0 duplicate creates, target equals source.
//! SIGTERM with requests in flight: every accepted request answered, exit within 10 s, every
//! acknowledged event still in the store.

use std::time::{Duration, Instant};

use sandbox::{SandboxConfig, System, WebhookConfig};
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

/// Records created in the source system per case.
const RECORDS: usize = 12;

/// The crash comes the 4th time the point is passed (some records already done, more in the
/// inbox).
const AT: usize = 4;

/// Crashes `serve` at the worker failpoint `point` while `direction`'s source system delivers
/// the creation of `RECORDS` records, restarts it on the same port and state, and checks: every
/// record crossed once (0 lost, 0 duplicate creates), each pair is linked both ways, and a full
/// sync afterwards finds both sides equal (it writes nothing).
async fn crash_worker_and_recover(point: &str, direction: &str) {
    let defaults = SandboxConfig::for_tests();
    // Senders retry a refused delivery every 0.5 s for ~5 s, longer than a restart takes.
    let retry = vec![Duration::from_millis(500); 9];
    let mut live = start(Opts {
        sandbox: SandboxConfig {
            customers: 0,
            contacts: 0,
            precreate_custom_properties: true,
            webhooks: WebhookConfig {
                retry_delays: retry.clone(),
                max_attempts: 10,
                ..defaults.webhooks.clone()
            },
            notifications: sandbox::NotificationConfig {
                retry_delays: retry,
                ..defaults.notifications.clone()
            },
            ..defaults
        },
        mapping: unthrottled,
        ..Opts::default()
    })
    .await;
    let addr = live.addr();
    live.kill9();
    let failpoint = format!("{point}:{AT}");
    live.set_env("MAPSYNC_FAILPOINT", Some(&failpoint));
    live.spawn(&addr).await;
    let sb = live.sb.clone();
    let mut sources = Vec::new();
    for i in 0..RECORDS {
        let id = match direction {
            "inbound" => {
                let c = sb
                    .ui_create_contact(json!({"email": format!("w{i}@example.com"),
                        "firstname": format!("W{i}"), "lastname": "Crash", "phone": format!("+44 {i}")}))
                    .expect("create a contact");
                c["id"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or(c["id"].to_string())
            }
            _ => {
                sb.ui_create_customer(json!({"name": format!("W{i} Crash"),
                    "emails": [format!("w{i}@example.com")], "numbers": [format!("+44 {i}")]}))
                    .expect("create a customer")
                    .resource_uri
            }
        };
        sources.push(id);
    }
    let code = live.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(
        code, None,
        "{direction} {failpoint}: aborted by the failpoint"
    );
    assert!(
        live.log().contains(&format!("failpoint {point}")),
        "{}",
        live.log()
    );
    live.set_env("MAPSYNC_FAILPOINT", None);
    live.spawn(&addr).await;

    // Every source record linked to exactly one target record that names it back.
    let linked = |sb: &sandbox::SandboxHandle| {
        sources.iter().all(|id| match direction {
            "inbound" => sb
                .contact(id)
                .and_then(|c| c.get("tte_customer_uri"))
                .and_then(|u| sb.customer(&u))
                .is_some_and(|cu| cu.custom_fields.get("External ID") == Some(id)),
            _ => sb
                .customer(id)
                .and_then(|cu| cu.custom_fields.get("External ID").cloned())
                .and_then(|h| sb.contact(&h))
                .is_some_and(|c| c.get("tte_customer_uri").as_deref() == Some(id.as_str())),
        })
    };
    live.until(
        &format!("{direction} {failpoint}: every record crossed"),
        linked,
    )
    .await;
    live.settle().await;
    // 0 duplicates: one target record per source record, each created once.
    let (targets, creates) = match direction {
        "inbound" => (
            sb.customers().len(),
            sb.count(System::Tte, "customers.create").total,
        ),
        _ => (
            sb.contacts().len(),
            sb.count(System::Hubspot, "contacts.create").total,
        ),
    };
    assert_eq!(targets, RECORDS, "{direction} {failpoint}: {}", live.log());
    assert_eq!(creates, RECORDS as u64, "{direction} {failpoint}");
    assert!(live.dead_letters().is_empty(), "{direction} {failpoint}");
    // Both sides equal: with serve stopped, a full sync finds nothing to write.
    live.kill9();
    sb.clear_log(System::Tte);
    sb.clear_log(System::Hubspot);
    let out = live.mapsync(&[
        "sync",
        "--mapping",
        "mapping.yaml",
        "--direction",
        direction,
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for system in [System::Tte, System::Hubspot] {
        let writes: Vec<String> = sb
            .requests(system)
            .into_iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert!(writes.is_empty(), "{direction} {failpoint}: {writes:?}");
    }
}

/// Every worker failpoint, each direction: crash, restart, check. This replaces a kill at a
/// moment left to chance: each place a worker can die is crashed at on purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_worker_failpoint_in_each_direction_recovers_without_loss_or_duplicates() {
    let mut crashed = 0;
    for (point, in_sync, _) in mapsync::runner::FAILPOINTS {
        if *in_sync {
            continue;
        }
        for direction in ["inbound", "outbound"] {
            crash_worker_and_recover(point, direction).await;
            crashed += 1;
        }
    }
    assert_eq!(crashed, 6);
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
