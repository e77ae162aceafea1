//! `mapsync setup` acceptance tests (issue 5): each test starts the in-process sandbox on
//! loopback, writes a copy of the reference mapping into a temporary directory and drives the
//! real binary with the sandbox's environment. Oracles are the sandbox's state (read through its
//! APIs) and its request log, never timings.

mod converge;
mod errors;

use std::path::PathBuf;

use sandbox::{Sandbox, SandboxConfig, SandboxHandle, System};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The public URL most tests converge to.
pub(super) const URL: &str = "https://sync.example.com";

/// The webhook token the 10to8 callback URL carries.
pub(super) const TOKEN: &str = "webhook-token-5f2a9c";

/// The reference mapping with fast retries (3 attempts, 10–20 ms apart), so a test of
/// exhausted retries takes milliseconds, and budgets no test can hit.
fn test_mapping() -> String {
    let src = std::fs::read_to_string(crate::util::root().join("mappings/hubspot.yaml"))
        .expect("read the reference mapping");
    let mut out = src;
    for (from, to) in [
        (
            "rate_limit: { requests: 5, per: 1s }",
            "rate_limit: { requests: 100000, per: 1s }",
        ),
        (
            "max_attempts: 6, base_delay: 500ms, max_delay: 30s",
            "max_attempts: 3, base_delay: 10ms, max_delay: 20ms",
        ),
        (
            "max_attempts: 8, base_delay: 1s, max_delay: 30s",
            "max_attempts: 3, base_delay: 10ms, max_delay: 20ms",
        ),
    ] {
        assert_eq!(out.matches(from).count(), 1, "{from:?} once in the mapping");
        out = out.replace(from, to);
    }
    out
}

/// What one `mapsync setup` run did.
#[derive(Debug)]
pub(super) struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing everything on failure.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "unexpected exit: {self:#?}");
        self
    }

    /// The last stdout line, parsed (`--json` runs).
    pub fn last_json(&self) -> Value {
        let last = self.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("the last stdout line is not JSON ({e}): {self:#?}"))
    }
}

/// A sandbox with empty systems (no custom properties, no webhooks), and a temporary
/// directory with the test mapping and the state store.
pub(super) struct World {
    pub sb: SandboxHandle,
    pub dir: TempDir,
    pub mapping: PathBuf,
    pub state: PathBuf,
    http: reqwest::Client,
}

impl World {
    pub async fn start() -> World {
        mapsync::init_crypto();
        let sb = Sandbox::start(SandboxConfig::for_tests())
            .await
            .expect("start the sandbox");
        let dir = tempfile::tempdir().expect("temporary directory");
        let mapping = dir.path().join("mapping.yaml");
        std::fs::write(&mapping, test_mapping()).expect("write the mapping");
        let state = dir.path().join("state.db");
        World {
            sb,
            dir,
            mapping,
            state,
            http: reqwest::Client::new(),
        }
    }

    /// Runs `mapsync setup --mapping … --state … args…` with a cleared environment plus the
    /// sandbox's variables and the webhook token, then `env` (an empty value removes one).
    pub async fn setup(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_mapsync"));
        cmd.arg("setup")
            .arg("--mapping")
            .arg(&self.mapping)
            .arg("--state")
            .arg(&self.state)
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .envs(self.sb.env_vars())
            .env("TTE_WEBHOOK_TOKEN", TOKEN)
            .env("NO_COLOR", "1")
            .kill_on_drop(true);
        for (k, v) in env {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        let out = cmd.output().await.expect("run mapsync");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `setup --public-url <url> --yes`, expected to succeed.
    pub async fn converge(&self, url: &str) -> Run {
        let run = self.setup(&["--public-url", url, "--yes"], &[]).await;
        run.expect_code(0);
        run
    }

    /// Requests other than GET either system received since the logs were last cleared.
    pub fn writes(&self) -> Vec<String> {
        [System::Hubspot, System::Tte]
            .into_iter()
            .flat_map(|s| self.sb.requests(s))
            .filter(|r| r.method != "GET")
            .map(|r| {
                let path = r.path.split('?').next().unwrap_or_default().to_string();
                format!("{} {path} → {:?}", r.method, r.status)
            })
            .collect()
    }

    /// Every request either system received since the logs were last cleared.
    pub fn requests(&self) -> usize {
        self.sb.requests(System::Hubspot).len() + self.sb.requests(System::Tte).len()
    }

    /// Forgets both systems' request logs.
    pub fn clear_logs(&self) {
        self.sb.clear_log(System::Tte);
        self.sb.clear_log(System::Hubspot);
    }

    async fn get(&self, url: String, auth: Option<(&str, String)>) -> (u16, Value) {
        let mut req = self.http.get(url);
        if let Some((name, value)) = auth {
            req = req.header(name, value);
        }
        let resp = req.send().await.expect("GET the sandbox");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, url: String, auth: (&str, String), body: Value) -> u16 {
        let resp = self
            .http
            .post(url)
            .header(auth.0, auth.1)
            .json(&body)
            .send()
            .await
            .expect("POST to the sandbox");
        resp.status().as_u16()
    }

    fn bearer(&self) -> (&'static str, String) {
        (
            "Authorization",
            format!("Bearer {}", self.sb.hubspot_access_token()),
        )
    }

    fn tte_token(&self) -> (&'static str, String) {
        ("Authorization", format!("token {}", self.sb.tte_api_key()))
    }

    /// Creates a HubSpot contact property as someone other than mapsync would.
    pub async fn create_property(&self, name: &str, label: &str) {
        let status = self
            .post(
                format!("{}/crm/v3/properties/contacts", self.sb.hubspot_base_url()),
                self.bearer(),
                json!({"name": name, "label": label, "type": "string", "fieldType": "text",
                       "groupName": "contactinformation"}),
            )
            .await;
        assert_eq!(status, 201, "create property {name}");
    }

    /// Creates a 10to8 subscription as someone other than mapsync would.
    pub async fn create_tte_subscription(&self, callback_url: &str) {
        let status = self
            .post(
                format!("{}/subscription/", self.sb.tte_base_url()),
                self.tte_token(),
                json!({"scope": "customer", "callback_url": callback_url}),
            )
            .await;
        assert_eq!(status, 201, "create subscription");
    }

    /// The contact properties that are not HubSpot's own: name → (label, type, fieldType).
    pub async fn custom_properties(&self) -> Vec<(String, String, String, String)> {
        let (status, body) = self
            .get(
                format!("{}/crm/v3/properties/contacts", self.sb.hubspot_base_url()),
                Some(self.bearer()),
            )
            .await;
        assert_eq!(status, 200);
        let mut out: Vec<_> = body["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter(|p| p["hubspotDefined"] != json!(true))
            .map(|p| {
                let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
                (s("name"), s("label"), s("type"), s("fieldType"))
            })
            .collect();
        out.sort();
        out
    }

    /// The webhook settings' target URL (`None` when there are no settings).
    pub async fn target_url(&self) -> Option<String> {
        let (status, body) = self
            .get(
                format!(
                    "{}/webhooks/v3/{}/settings?hapikey={}",
                    self.sb.hubspot_base_url(),
                    self.sb.hubspot_app_id(),
                    self.sb.hubspot_developer_api_key()
                ),
                None,
            )
            .await;
        (status == 200).then(|| body["targetUrl"].as_str().unwrap_or_default().to_string())
    }

    /// HubSpot webhook subscriptions as `(id, "eventType:propertyName", active)`, by key.
    pub fn subscriptions(&self) -> Vec<(String, String, bool)> {
        let mut out: Vec<_> = self
            .sb
            .webhook_subscriptions()
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap_or_default().to_string(),
                    format!(
                        "{}:{}",
                        s["eventType"].as_str().unwrap_or_default(),
                        s["propertyName"].as_str().unwrap_or_default()
                    ),
                    s["active"] == json!(true),
                )
            })
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1));
        out
    }

    /// 10to8 subscriptions as `(scope, callback_url)`, sorted.
    pub async fn tte_subscriptions(&self) -> Vec<(String, String)> {
        let (status, body) = self
            .get(
                format!("{}/subscription/?limit=100", self.sb.tte_base_url()),
                Some(self.tte_token()),
            )
            .await;
        assert_eq!(status, 200);
        let mut out: Vec<_> = body["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|s| {
                (
                    s["scope"].as_str().unwrap_or_default().to_string(),
                    s["callback_url"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// Everything setup manages or must leave alone, without ids and timestamps.
    pub async fn state(&self) -> Value {
        let subs: Vec<(String, bool)> = self
            .subscriptions()
            .into_iter()
            .map(|(_, k, a)| (k, a))
            .collect();
        json!({
            "properties": self.custom_properties().await,
            "target_url": self.target_url().await,
            "subscriptions": subs,
            "tte_subscriptions": self.tte_subscriptions().await,
        })
    }
}

/// The four properties the reference mapping declares: (name, label, type, fieldType).
pub(super) fn declared_properties() -> Vec<(String, String, String, String)> {
    let mut out: Vec<_> = [
        (
            "tte_customer_secondary_emails",
            "10to8 Customer Secondary Emails",
            "textarea",
        ),
        (
            "tte_customer_secondary_phone",
            "10to8 Customer Secondary Phone Numbers",
            "textarea",
        ),
        (
            "tte_customer_sync_status",
            "10to8 Customer Sync Status",
            "text",
        ),
        ("tte_customer_uri", "10to8 Customer URI", "text"),
    ]
    .into_iter()
    .map(|(n, l, f)| (n.into(), l.into(), "string".into(), f.into()))
    .collect();
    out.sort();
    out
}

/// The eight subscription keys the reference mapping declares, sorted.
pub(super) fn declared_subscriptions() -> Vec<String> {
    let mut out: Vec<String> = [
        "contact.creation:",
        "contact.deletion:",
        "contact.propertyChange:email",
        "contact.propertyChange:firstname",
        "contact.propertyChange:lastname",
        "contact.propertyChange:phone",
        "contact.propertyChange:tte_customer_secondary_emails",
        "contact.propertyChange:tte_customer_secondary_phone",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    out.sort();
    out
}

/// The 10to8 callback URL for a public URL.
pub(super) fn tte_callback(url: &str) -> String {
    format!("{url}/webhooks/10to8/customers?key={TOKEN}")
}
