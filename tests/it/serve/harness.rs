//! The live harness: a sandbox, a temporary directory holding a copy of the reference mapping
//! (optionally edited) and the state store, and the real `mapsync serve` binary started in it
//! (`--listen 127.0.0.1:0` or a given address; the bound address is read from its
//! `Listening on` line). It can be SIGKILLed, SIGTERMed and restarted on the same port and
//! state. Every wait polls a condition under a deadline.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sandbox::{Sandbox, SandboxConfig, SandboxHandle, System};
use serde_json::{Value, json};

use crate::util::root;

pub const TOKEN: &str = "e2e-webhook-token-0123456789abcdef";

/// How a live test is set up.
pub struct Opts {
    /// The sandbox's configuration.
    pub sandbox: SandboxConfig,
    /// Edits the reference mapping's text before it is written to the directory.
    pub mapping: fn(String) -> String,
    /// Pass the sandbox's private-app token (`HUBSPOT_ACCESS_TOKEN`); without it HubSpot calls
    /// need the token stored by the OAuth install.
    pub static_token: bool,
    /// `--workers`.
    pub workers: usize,
    /// Point the sandbox's webhooks and notifications at the server.
    pub subscribe: bool,
    /// A whole mapping to use instead of the reference mapping (before `mapping` edits it).
    pub mapping_text: Option<String>,
    /// The systems whose webhook deliveries `settle` waits for.
    pub delivering: Vec<System>,
    /// `MAPSYNC_STATE` (default: the SQLite file next to the mapping).
    pub state: Option<String>,
    /// `MAPSYNC_PUBLIC_URL` (default: the server's own address).
    pub public_url: Option<String>,
    /// More `mapsync serve` flags.
    pub serve_args: Vec<String>,
    /// The server's open-file limit (`ulimit -n` in a shell that then execs the binary).
    pub nofile: Option<u32>,
    /// More environment variables for every `mapsync` run.
    pub env: Vec<(String, String)>,
    /// Run `serve` without `-v` (its default log level).
    pub quiet: bool,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            sandbox: SandboxConfig {
                customers: 0,
                contacts: 0,
                precreate_custom_properties: true,
                ..SandboxConfig::for_tests()
            },
            mapping: |m| m,
            static_token: true,
            workers: 2,
            subscribe: true,
            mapping_text: None,
            delivering: vec![System::Hubspot, System::Tte],
            state: None,
            public_url: None,
            serve_args: Vec::new(),
            nofile: None,
            env: Vec::new(),
            quiet: false,
        }
    }
}

pub struct Live {
    pub sb: std::sync::Arc<SandboxHandle>,
    pub child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    workers: usize,
    delivering: Vec<System>,
    serve_args: Vec<String>,
    nofile: Option<u32>,
    quiet: bool,
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub async fn start(opts: Opts) -> Live {
    mapsync::init_crypto();
    let sb = Sandbox::start(opts.sandbox).await.expect("sandbox");
    let dir = tempfile::tempdir().expect("temp dir");
    let text = match opts.mapping_text {
        Some(t) => t,
        None => std::fs::read_to_string(root().join("mappings/hubspot.yaml")).expect("mapping"),
    };
    std::fs::write(dir.path().join("mapping.yaml"), (opts.mapping)(text)).expect("write mapping");
    let mut env: Vec<(String, String)> = sb
        .env_vars()
        .into_iter()
        .filter(|(k, _)| opts.static_token || k != "HUBSPOT_ACCESS_TOKEN")
        .collect();
    env.push(("TTE_WEBHOOK_TOKEN".into(), TOKEN.into()));
    // The sandbox's OAuth consent page is on its HubSpot server.
    env.push(("HUBSPOT_APP_URL".into(), sb.hubspot_base_url()));
    let writer = if opts.static_token {
        sb.hubspot_private_app_id()
    } else {
        sb.hubspot_app_id()
    };
    env.push(("HUBSPOT_WRITER_ID".into(), writer.to_string()));
    if let Some(state) = opts.state {
        env.push(("MAPSYNC_STATE".into(), state));
    }
    if let Some(public) = opts.public_url {
        env.push(("MAPSYNC_PUBLIC_URL".into(), public));
    }
    env.extend(opts.env);
    let mut live = Live {
        sb: std::sync::Arc::new(sb),
        child: None,
        base: String::new(),
        http: reqwest::Client::new(),
        dir,
        env,
        workers: opts.workers,
        delivering: opts.delivering,
        serve_args: opts.serve_args,
        nofile: opts.nofile,
        quiet: opts.quiet,
    };
    live.spawn("127.0.0.1:0").await;
    if opts.subscribe {
        live.subscribe().await;
    }
    live
}

impl Live {
    /// Starts `mapsync serve` on `listen` (the same state store every time) and waits for its
    /// `Listening on` line.
    pub async fn spawn(&mut self, listen: &str) {
        let (child, base) = self.spawn_instance(listen, "serve.log").await;
        self.child = Some(child);
        self.base = base;
    }

    /// Starts another `mapsync serve` on `listen` in the same directory and environment,
    /// logging to `log`; the child and its `http://ADDR` once it is listening.
    pub async fn spawn_instance(&self, listen: &str, log: &str) -> (Child, String) {
        let log_path = self.dir.path().join(log);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("log file");
        let bin = env!("CARGO_BIN_EXE_mapsync");
        let mut command = match self.nofile {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = command
            .args((!self.quiet).then_some("-v"))
            .args([
                "serve",
                "--mapping",
                "mapping.yaml",
                "--listen",
                listen,
                "--workers",
                &self.workers.to_string(),
            ])
            .args(&self.serve_args)
            .current_dir(self.dir.path())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
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
                    // Keep draining stdout so the child never blocks on a full pipe.
                    std::thread::spawn(move || {
                        let mut sink = String::new();
                        while reader.read_line(&mut sink).unwrap_or(0) > 0 {
                            sink.clear();
                        }
                    });
                    return Some(line);
                }
                line.clear();
            }
            None
        });
        let line = tokio::time::timeout(Duration::from_secs(20), line)
            .await
            .expect("mapsync serve printed its address in time")
            .expect("join");
        let Some(line) = line else {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("mapsync serve did not start; log:\n{log}");
        };
        let base = line.trim().trim_start_matches("Listening on ").to_string();
        (child, base)
    }

    /// Sets (or with `None` removes) an environment variable of the next `spawn` and
    /// `mapsync` command.
    pub fn set_env(&mut self, name: &str, value: Option<&str>) {
        self.env.retain(|(k, _)| k != name);
        if let Some(v) = value {
            self.env.push((name.to_string(), v.to_string()));
        }
    }

    /// `127.0.0.1:PORT` of the running server.
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running server").id()
    }

    /// SIGKILL, and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM (the child keeps running until it exits by itself).
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
    }

    /// Waits for the child to exit; its exit code.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut().expect("a running server");
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "mapsync serve did not exit within {limit:?}; log:\n{}",
            self.log()
        );
    }

    /// Runs another `mapsync` command in the directory (same mapping, state and environment).
    pub fn mapsync(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_mapsync"))
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run mapsync")
    }

    /// Starts another `mapsync` command in the directory (same mapping, state and
    /// environment) without waiting for it; its stderr goes to `log` in the directory.
    pub fn spawn_mapsync(&self, args: &[&str], log: &str) -> Child {
        let log = std::fs::File::create(self.dir.path().join(log)).expect("log file");
        Command::new(env!("CARGO_BIN_EXE_mapsync"))
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mapsync")
    }

    /// `mapsync status --json`.
    pub fn status(&self) -> Value {
        let out = self.mapsync(&["status", "--mapping", "mapping.yaml", "--json"]);
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(text.trim()).unwrap_or_else(|e| {
            panic!(
                "status --json: {e}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// `mapsync dead-letters list --json`.
    pub fn dead_letters(&self) -> Vec<Value> {
        let out = self.mapsync(&[
            "dead-letters",
            "--mapping",
            "mapping.yaml",
            "list",
            "--json",
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        match serde_json::from_str::<Value>(text.trim()) {
            Ok(Value::Array(a)) => a,
            Ok(other) => other
                .get("dead_letters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            Err(e) => panic!(
                "dead-letters list --json: {e}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    /// Points the sandbox's deliveries at the server, as `mapsync setup` would.
    pub async fn subscribe(&self) {
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

    pub async fn metric(&self, name: &str) -> Option<u64> {
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

    pub fn delivered(&self) -> (usize, bool) {
        let mut n = 0;
        let mut all_ok = true;
        for sys in &self.delivering {
            let d = self.sb.deliveries(*sys);
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
    pub async fn settle(&self) {
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

    pub async fn until(&self, what: &str, f: impl Fn(&SandboxHandle) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if f(&self.sb) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting until {what}; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    pub fn writes(&self, sys: System, op: &str) -> u64 {
        self.sb.count(sys, op).total
    }

    pub fn clear(&self) {
        for sys in &self.delivering {
            self.sb.clear_log(*sys);
        }
    }
}
