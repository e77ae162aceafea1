//! End to end: the real `mapsync serve` binary (`--listen 127.0.0.1:0`, the bound address
//! read from its `Listening on` line) and the sandbox delivering real signed HubSpot webhooks
//! and 10to8 notifications to it. Every wait polls a condition under a deadline.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sandbox::{Sandbox, SandboxConfig, SandboxHandle, System};
use serde_json::{Value, json};

use crate::util::root;

const TOKEN: &str = "e2e-webhook-token-0123456789abcdef";

struct Live {
    sb: SandboxHandle,
    child: Child,
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start() -> Live {
    mapsync::init_crypto();
    let sb = Sandbox::start(SandboxConfig {
        customers: 0,
        contacts: 0,
        precreate_custom_properties: true,
        ..SandboxConfig::for_tests()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        root().join("mappings/hubspot.yaml"),
        dir.path().join("mapping.yaml"),
    )
    .expect("copy mapping");
    let log = std::fs::File::create(dir.path().join("serve.log")).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args([
            "-v",
            "serve",
            "--mapping",
            "mapping.yaml",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "2",
        ])
        .current_dir(dir.path())
        .env_clear()
        .envs(sb.env_vars())
        .env("TTE_WEBHOOK_TOKEN", TOKEN)
        .env("HUBSPOT_WRITER_ID", sb.hubspot_private_app_id().to_string())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start mapsync serve");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if line.starts_with("Listening on ") {
                return Some(line);
            }
            line.clear();
        }
        None
    });
    let line = tokio::time::timeout(Duration::from_secs(20), line)
        .await
        .expect("mapsync serve printed its address in time")
        .expect("join")
        .expect("a Listening line");
    let base = line.trim().trim_start_matches("Listening on ").to_string();
    let live = Live {
        sb,
        child,
        base,
        http: reqwest::Client::new(),
        _dir: dir,
    };
    live.subscribe().await;
    live
}

impl Live {
    /// Points the sandbox's deliveries at the server, as `mapsync setup` would.
    async fn subscribe(&self) {
        let hub = self.sb.hubspot_base_url();
        let app = self.sb.hubspot_app_id();
        let key = self.sb.hubspot_developer_api_key().to_string();
        let r = self
            .http
            .put(format!("{hub}/webhooks/v3/{app}/settings?hapikey={key}"))
            .json(
                &json!({"targetUrl": format!("{}/webhooks/hubspot", self.base),
                          "throttling": {"maxConcurrentRequests": 10}}),
            )
            .send()
            .await
            .expect("settings");
        assert!(r.status().is_success(), "settings: {}", r.status());
        let mut subs = vec![
            json!({"eventType": "contact.creation", "active": true}),
            json!({"eventType": "contact.deletion", "active": true}),
        ];
        for p in ["firstname", "lastname", "email", "phone"] {
            subs.push(
                json!({"eventType": "contact.propertyChange", "propertyName": p, "active": true}),
            );
        }
        for s in subs {
            let r = self
                .http
                .post(format!(
                    "{hub}/webhooks/v3/{app}/subscriptions?hapikey={key}"
                ))
                .json(&s)
                .send()
                .await
                .expect("subscription");
            assert!(r.status().is_success(), "subscription: {}", r.status());
        }
        let r = self
            .http
            .post(format!("{}/subscription/", self.sb.tte_base_url()))
            .header("Authorization", format!("token {}", self.sb.tte_api_key()))
            .json(&json!({"scope": "customer",
                          "callback_url": format!("{}/webhooks/10to8/customers?key={TOKEN}", self.base)}))
            .send()
            .await
            .expect("10to8 subscription");
        assert!(
            r.status().is_success(),
            "10to8 subscription: {}",
            r.status()
        );
    }

    async fn metric(&self, name: &str) -> Option<u64> {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
    }

    fn delivered(&self) -> (usize, bool) {
        let mut n = 0;
        let mut all_ok = true;
        for sys in [System::Hubspot, System::Tte] {
            let d = self.sb.deliveries(sys);
            n += d.len();
            let mut ids: std::collections::BTreeMap<u64, bool> = Default::default();
            for a in &d {
                *ids.entry(a.delivery_id).or_default() |= a.succeeded();
            }
            all_ok &= ids.values().all(|ok| *ok);
        }
        (n, all_ok)
    }

    /// Waits until every delivery succeeded, the inbox is empty, and nothing new arrived for
    /// a few polls (echo notifications of the last writes included).
    async fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut last = (usize::MAX, u64::MAX);
        let mut stable = 0;
        while Instant::now() < deadline {
            let (n, ok) = self.delivered();
            let depth = self.metric("mapsync_inbox_depth").await;
            let processed = self
                .metric("mapsync_records_processed_total")
                .await
                .unwrap_or(0);
            if ok && depth == Some(0) && (n, processed) == last {
                stable += 1;
                if stable >= 4 {
                    return;
                }
            } else {
                stable = 0;
            }
            last = (n, processed);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("mapsync did not settle: {}", self.log());
    }

    async fn until(&self, what: &str, f: impl Fn(&SandboxHandle) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if f(&self.sb) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting until {what}; log:\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("serve.log")).unwrap_or_default()
    }

    fn writes(&self, sys: System, op: &str) -> u64 {
        self.sb.count(sys, op).total
    }

    fn clear(&self) {
        self.sb.clear_log(System::Hubspot);
        self.sb.clear_log(System::Tte);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_two_way_sync_without_loops() {
    let live = start().await;
    let sb = &live.sb;

    // A contact created in HubSpot becomes a 10to8 customer, linked both ways.
    let contact = sb
        .ui_create_contact(json!({"email": "ada@example.com", "firstname": "Ada",
                                  "lastname": "Lovelace", "phone": "+44 1"}))
        .expect("create contact");
    let id = match &contact["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    live.until("the customer exists and both links are written", |sb| {
        let linked = sb
            .customers()
            .into_iter()
            .find(|c| c.custom_fields.get("External ID") == Some(&id));
        let contact_link = sb.contact(&id).and_then(|c| c.get("tte_customer_uri"));
        matches!((linked, contact_link), (Some(c), Some(uri)) if c.resource_uri == uri)
    })
    .await;
    live.settle().await;
    let customers = sb.customers();
    assert_eq!(customers.len(), 1, "exactly one customer created");
    let uri = customers[0].resource_uri.clone();
    assert_eq!(customers[0].name, "Ada Lovelace");

    // Edited in the HubSpot UI: exactly one write to 10to8, nothing back to HubSpot but the
    // status.
    live.clear();
    sb.ui_update_contact(&id, json!({"phone": "+44 2"}))
        .expect("edit contact");
    live.until("the phone reaches 10to8", |sb| {
        sb.customer(&uri)
            .is_some_and(|c| c.numbers.first().map(String::as_str) == Some("+44 2"))
    })
    .await;
    live.settle().await;
    assert_eq!(
        live.writes(System::Tte, "customers.patch"),
        1,
        "{}",
        live.log()
    );
    assert_eq!(live.writes(System::Tte, "customers.create"), 0);
    assert!(live.writes(System::Hubspot, "contacts.update") <= 1);
    let c = sb.contact(&id).expect("contact");
    assert_eq!(c.get("phone").as_deref(), Some("+44 2"));
    assert_eq!(c.get("firstname").as_deref(), Some("Ada"));

    // Edited in 10to8: exactly one write to HubSpot, nothing back to 10to8.
    live.clear();
    sb.ui_update_customer(&uri, json!({"name": "Ada King"}))
        .expect("edit customer");
    live.until("the new last name reaches HubSpot", |sb| {
        sb.contact(&id)
            .is_some_and(|c| c.get("lastname").as_deref() == Some("King"))
    })
    .await;
    live.settle().await;
    assert_eq!(
        live.writes(System::Hubspot, "contacts.update"),
        1,
        "{}",
        live.log()
    );
    assert_eq!(live.writes(System::Tte, "customers.patch"), 0);

    // An email HubSpot refuses: a placeholder there, the message in both status fields, and
    // no loop.
    live.clear();
    let bad = sb
        .ui_create_customer(json!({"name": "Bad Mail", "emails": ["not-an-email"], "numbers": []}))
        .expect("create customer");
    live.until("the invalid customer is linked", |sb| {
        sb.customer(&bad.resource_uri).is_some_and(|c| {
            c.custom_fields
                .get("External ID")
                .is_some_and(|v| !v.is_empty())
        })
    })
    .await;
    live.settle().await;
    let c = sb.customer(&bad.resource_uri).expect("customer");
    let status = c
        .custom_fields
        .get("Sync Status")
        .cloned()
        .unwrap_or_default();
    assert!(status.contains("Invalid email"), "10to8 status: {status}");
    assert_eq!(c.emails, vec!["not-an-email".to_string()], "10to8 keeps it");
    let contact_id = c.custom_fields["External ID"].clone();
    let hc = sb.contact(&contact_id).expect("contact");
    assert_eq!(hc.get("email").unwrap_or_default(), "", "placeholder");
    assert!(
        hc.get("tte_customer_sync_status")
            .unwrap_or_default()
            .contains("Invalid email"),
        "HubSpot status"
    );
    assert_eq!(live.writes(System::Hubspot, "contacts.create"), 1);
    assert_eq!(
        live.writes(System::Tte, "customers.patch"),
        1,
        "{}",
        live.log()
    );
    assert_eq!(sb.contacts().len(), 2);
}
