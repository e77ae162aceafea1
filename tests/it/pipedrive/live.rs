//! Live sync with `mapsync serve` and the example mapping: Pipedrive webhooks (basic auth) and
//! 10to8 notifications delivered by the sandbox, changes flowing both ways without loops.
//! Every wait polls a condition under a deadline.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sandbox::{Sandbox, SandboxConfig, SandboxHandle, System};
use serde_json::{Value, json};

const TOKEN: &str = "pd-e2e-webhook-token-0123456789abcdef";

struct Live {
    sb: SandboxHandle,
    child: Child,
    base: String,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start() -> Live {
    mapsync::init_crypto();
    let sb = Sandbox::start(SandboxConfig::for_tests())
        .await
        .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("mapping.yaml"), super::test_mapping()).expect("mapping");
    let log = std::fs::File::create(dir.path().join("serve.log")).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args(["-v", "serve", "--mapping", "mapping.yaml"])
        .args(["--listen", "127.0.0.1:0", "--workers", "2"])
        .current_dir(dir.path())
        .env_clear()
        .envs(sb.env_vars())
        .env("TTE_WEBHOOK_TOKEN", TOKEN)
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
        dir,
    };
    live.subscribe().await;
    live
}

impl Live {
    /// Registers both webhooks, as `mapsync setup` would.
    async fn subscribe(&self) {
        let env: std::collections::BTreeMap<String, String> =
            self.sb.env_vars().into_iter().collect();
        let r = self
            .http
            .post(format!(
                "{}/webhooks?api_token={}",
                self.sb.pipedrive_base_url(),
                self.sb.pipedrive_api_token()
            ))
            .json(&json!({
                "subscription_url": format!("{}/webhooks/pipedrive/persons", self.base),
                "event_action": "*",
                "event_object": "person",
                "http_auth_user": env["PIPEDRIVE_WEBHOOK_USER"],
                "http_auth_password": env["PIPEDRIVE_WEBHOOK_PASSWORD"],
            }))
            .send()
            .await
            .expect("pipedrive webhook");
        assert_eq!(r.status().as_u16(), 201);
        let r = self
            .http
            .post(format!("{}/subscription/", self.sb.tte_base_url()))
            .header("Authorization", format!("token {}", self.sb.tte_api_key()))
            .json(&json!({"scope": "customer",
                          "callback_url": format!("{}/webhooks/10to8/customers?key={TOKEN}", self.base)}))
            .send()
            .await
            .expect("10to8 subscription");
        assert!(r.status().is_success(), "{}", r.status());
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
        for sys in [System::Pipedrive, System::Tte] {
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

    /// Waits until every delivery succeeded, the inbox is empty and nothing new arrives.
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
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_two_way_sync_with_pipedrive_webhooks() {
    let live = start().await;
    let sb = &live.sb;
    let link = sb.pipedrive_field_key("10to8 Customer URI").unwrap();

    // A person created in Pipedrive becomes a 10to8 customer, linked both ways.
    let person = sb
        .ui_create_person(json!({"name": "Ada Lovelace",
            "email": [{"value": "ada.home@example.com", "primary": false, "label": "home"},
                      {"value": "ada@example.com", "primary": true, "label": "work"}],
            "phone": "+44 1"}))
        .expect("create person");
    let id = person["id"].to_string();
    live.until("the customer exists and both links are written", |sb| {
        let linked = sb
            .customers()
            .into_iter()
            .find(|c| c.custom_fields.get("External ID") == Some(&id));
        let person_link = sb.person(&id).map(|p| p[&link].clone());
        matches!((linked, person_link), (Some(c), Some(Value::String(uri))) if c.resource_uri == uri)
    })
    .await;
    live.settle().await;
    let customers = sb.customers();
    assert_eq!(customers.len(), 1, "exactly one customer");
    let uri = customers[0].resource_uri.clone();
    assert_eq!(customers[0].name, "Ada Lovelace");
    assert_eq!(
        customers[0].emails,
        ["ada@example.com", "ada.home@example.com"]
    );
    assert_eq!(customers[0].numbers, ["+44 1"]);
    assert_eq!(sb.persons().len(), 1, "no echo created a second person");

    // A change in 10to8 reaches Pipedrive.
    sb.ui_update_customer(
        &uri,
        json!({"name": "Ada King", "numbers": ["+44 1", "+44 2"]}),
    )
    .expect("update customer");
    live.until("the person has the new name and phones", |sb| {
        let p = sb.person(&id).unwrap();
        p["name"] == "Ada King" && p["phone"].as_array().map(Vec::len) == Some(2)
    })
    .await;
    live.settle().await;
    let p = sb.person(&id).unwrap();
    assert_eq!(p["phone"][0]["value"], "+44 1");
    assert_eq!(p["phone"][0]["primary"], true);
    // the emails were not rewritten: the primary stays where Pipedrive keeps it
    assert_eq!(p["email"][1]["value"], "ada@example.com");
    assert_eq!(p["email"][1]["primary"], true);

    // Quiet after settling: no loop of updates between the two.
    sb.clear_log(System::Pipedrive);
    sb.clear_log(System::Tte);
    live.settle().await;
    assert_eq!(sb.count(System::Pipedrive, "persons.update").total, 0);
    assert_eq!(sb.count(System::Tte, "customers.patch").total, 0);

    // A person deleted in Pipedrive deletes the customer.
    sb.ui_delete_person(&id).expect("delete person");
    live.until("the customer is deleted", |sb| {
        sb.customer(&uri).is_some_and(|c| c.deleted)
    })
    .await;
    live.settle().await;
    assert_eq!(sb.customers().len(), 1);
}
