//! The whole job on the sandbox, in one command (`cargo run -p sandbox --example demo`): starts
//! both stand-ins with seeded data, then drives the real `mapsync` binary with the real
//! reference mapping — `validate`, `test`, `serve`, `setup --public-url` (the served URL), an
//! outbound and an inbound full sync — makes
//! changes "as a user would" in each system, waits (polling under a deadline) for them to cross
//! over, and tells what happened at each step. `run` returns `Ok` only when every step did what
//! it should.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{Sandbox, SandboxConfig, SandboxHandle};

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The `mapsync` binary.
    pub mapsync: PathBuf,
    /// The mapping to run (the reference mapping, `mappings/hubspot.yaml`).
    pub mapping: PathBuf,
    /// Customers seeded in 10to8.
    pub customers: usize,
    /// Contacts seeded in HubSpot.
    pub contacts: usize,
    /// How long to wait for one change to cross over.
    pub deadline: Duration,
}

impl DemoConfig {
    /// Ten customers (every seeded case once) and five contacts.
    pub fn new(mapsync: PathBuf, mapping: PathBuf) -> DemoConfig {
        DemoConfig {
            mapsync,
            mapping,
            customers: 10,
            contacts: 5,
            deadline: Duration::from_secs(20),
        }
    }
}

/// Finds the `mapsync` binary: `$MAPSYNC_BIN`, else next to the running executable (cargo puts
/// examples in `target/<profile>/examples/`, binaries in `target/<profile>/`).
pub fn find_mapsync() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("MAPSYNC_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "MAPSYNC_BIN={} is not a file: point it at the mapsync binary, or unset it",
                p.display()
            ))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let name = format!("mapsync{}", std::env::consts::EXE_SUFFIX);
    let mut dir = exe.parent();
    while let Some(d) = dir {
        let candidate = d.join(&name);
        if candidate.is_file() {
            return Ok(candidate);
        }
        if d.file_name().is_some_and(|n| n == "target") {
            break;
        }
        dir = d.parent();
    }
    Err(format!(
        "the mapsync binary was not found next to {}: run `cargo build` first (or set MAPSYNC_BIN)",
        exe.display()
    ))
}

/// A step's verdict, printed as it happens.
struct Report {
    out: String,
    ok: usize,
    failed: Vec<String>,
    echo: bool,
}

impl Report {
    fn line(&mut self, text: impl AsRef<str>) {
        let text = text.as_ref();
        if self.echo {
            println!("{text}");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn step(&mut self, n: usize, title: &str) {
        self.line("");
        self.line(format!("{n}. {title}"));
    }

    fn check(&mut self, ok: bool, good: impl AsRef<str>, bad: impl AsRef<str>) -> bool {
        if ok {
            self.ok += 1;
            self.line(format!("   ✓ {}", good.as_ref()));
        } else {
            self.failed.push(bad.as_ref().to_string());
            self.line(format!("   ✗ {}", bad.as_ref()));
        }
        ok
    }
}

/// The output of one `mapsync` run.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Demo {
    cfg: DemoConfig,
    sb: SandboxHandle,
    env: Vec<(String, String)>,
    dir: TempDir,
    http: reqwest::Client,
}

const WEBHOOK_TOKEN_PREFIX: &str = "demo-webhook-token";

/// Runs the demo, printing as it goes when `echo`; returns everything it printed, as `Ok` when
/// every step did what it should and `Err` otherwise.
pub async fn run(cfg: DemoConfig, echo: bool) -> Result<String, String> {
    crate::init_crypto();
    let mut r = Report {
        out: String::new(),
        ok: 0,
        failed: Vec::new(),
        echo,
    };
    // Errors before the first step are printed here; later ones are part of the report.
    let early = |message: String| {
        if echo {
            eprintln!("error: {message}");
        }
        Err(message)
    };
    if !cfg.mapsync.is_file() {
        return early(format!(
            "the mapsync binary {} does not exist: run `cargo build` first",
            cfg.mapsync.display()
        ));
    }
    let sb = match Sandbox::start(SandboxConfig {
        seed: 7,
        customers: cfg.customers,
        contacts: cfg.contacts,
        // `mapsync setup` creates the HubSpot properties.
        precreate_custom_properties: false,
        ..SandboxConfig::for_tests()
    })
    .await
    {
        Ok(sb) => sb,
        Err(e) => return early(format!("cannot start the sandbox on loopback: {e}")),
    };
    let dir = std::env::temp_dir().join(format!(
        "mapsync-demo-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return early(format!(
            "cannot create the temporary directory {}: {e}; set TMPDIR to a writable directory",
            dir.display()
        ));
    }
    let dir = TempDir(dir);
    let token = format!("{WEBHOOK_TOKEN_PREFIX}-{}", uuid::Uuid::new_v4().simple());
    let mut env = sb.env_vars();
    env.push(("TTE_WEBHOOK_TOKEN".into(), token));
    env.push((
        "HUBSPOT_WRITER_ID".into(),
        sb.hubspot_private_app_id().to_string(),
    ));
    env.push((
        "MAPSYNC_STATE".into(),
        dir.0.join("state.db").display().to_string(),
    ));
    let demo = Demo {
        cfg,
        sb,
        env,
        dir,
        http: reqwest::Client::new(),
    };
    let result = demo.steps(&mut r).await;
    if let Err(e) = result {
        r.failed.push(e.clone());
        r.line(format!("   ✗ {e}"));
    }
    r.line("");
    if r.failed.is_empty() {
        r.line(format!(
            "All {} checks passed: mapsync kept both systems in step.",
            r.ok
        ));
        Ok(r.out)
    } else {
        r.line(format!(
            "{} checks passed, {} failed:",
            r.ok,
            r.failed.len()
        ));
        for f in r.failed.clone() {
            r.line(format!("  - {f}"));
        }
        Err(r.out)
    }
}

impl Demo {
    async fn steps(&self, r: &mut Report) -> Result<(), String> {
        let sb = &self.sb;
        let seed = sb.seed_report();
        let mapping = self.cfg.mapping.display().to_string();
        r.line("mapsync demo: 10to8 customers ⇄ HubSpot contacts, on a local sandbox");
        r.line("");
        r.line(format!("10to8 sandbox:   {}", sb.tte_base_url()));
        r.line(format!("HubSpot sandbox: {}", sb.hubspot_base_url()));
        r.line(format!(
            "Seeded {} customers (a one-word name, a three-word name, several emails and phones, an invalid email, a deleted one, one merged with two External IDs, …) and {} contacts ({} archived).",
            seed.customers.len(),
            seed.contacts.len(),
            seed.archived.len()
        ));
        r.line(format!(
            "Mapping: {mapping} (the reference mapping, unchanged)"
        ));

        // 1. validate
        r.step(1, &format!("mapsync validate {mapping}"));
        let v = self.mapsync(&["validate", &mapping]).await?;
        let summary = v.stdout.lines().last().unwrap_or("").to_string();
        r.check(
            v.code == Some(0) && summary.starts_with("0 errors"),
            format!("the mapping is valid ({summary})"),
            format!("validate failed:\n{}{}", v.stdout, v.stderr),
        );

        // 2. test
        r.step(2, &format!("mapsync test {mapping}"));
        let t = self.mapsync(&["test", &mapping]).await?;
        let last = t.stdout.lines().last().unwrap_or("").to_string();
        r.check(
            t.code == Some(0),
            format!("the mapping's own test cases, offline: {last}"),
            format!("mapsync test failed:\n{}", t.stdout),
        );

        // 3. serve
        r.step(3, "mapsync serve --listen 127.0.0.1:0");
        let (mut serve, url) = self.serve().await?;
        r.check(
            true,
            format!("listening on {url}: webhook receivers, OAuth install, /metrics"),
            "",
        );

        // 4. setup
        r.step(4, &format!("mapsync setup --public-url {url} --yes"));
        let s = self
            .mapsync(&[
                "setup",
                "--mapping",
                &mapping,
                "--public-url",
                &url,
                "--yes",
            ])
            .await?;
        for l in s.stdout.lines() {
            let t = l.trim_start();
            if [
                "created ",
                "updated ",
                "replaced ",
                "deleted ",
                "Plan:",
                "Apply ",
                "! ",
            ]
            .iter()
            .any(|p| t.starts_with(p))
                || l.contains("by hand")
            {
                r.line(format!("   {t}"));
            }
        }
        let subscriptions = sb.webhook_subscriptions().len();
        let properties = sb
            .property_names()
            .iter()
            .filter(|p| p.starts_with("tte_customer_"))
            .count();
        r.check(
            s.code == Some(0) && subscriptions == 8 && properties == 4,
            format!(
                "{properties} HubSpot properties and {subscriptions} webhook subscriptions exist; HubSpot sends events to {url}/webhooks/hubspot, 10to8 notifies {url}/webhooks/10to8/customers"
            ),
            format!(
                "setup exited {:?} ({properties} properties, {subscriptions} subscriptions):\n{}{}",
                s.code, s.stdout, s.stderr
            ),
        );

        // 5. outbound
        let contacts_before: BTreeSet<u64> = sb.contacts().iter().map(|c| c.id).collect();
        r.step(5, "mapsync sync --direction outbound   (10to8 → HubSpot)");
        let o = self
            .mapsync(&[
                "sync",
                "--mapping",
                &mapping,
                "--direction",
                "outbound",
                "--json",
            ])
            .await?;
        let (report, plans) = parse_sync(&o.stdout);
        let c = &report["counts"];
        r.line(format!("   {}", counts_line(c)));
        for c in sb.customers() {
            if c.deleted {
                continue;
            }
            let ext = c
                .custom_fields
                .get("External ID")
                .cloned()
                .unwrap_or_default();
            let Some(contact) = sb.contact(&ext) else {
                continue;
            };
            let new = !contacts_before.contains(&contact.id);
            let status = contact.get("tte_customer_sync_status").unwrap_or_default();
            let names = format!(
                "{:?} / {:?}",
                contact.get("firstname").unwrap_or_default(),
                contact.get("lastname").unwrap_or_default()
            );
            if let Some(msg) = status.strip_prefix("Error: ") {
                r.line(format!(
                    "   ! {:<22} → contact {} with an empty email: {msg}; 10to8 keeps {:?}",
                    quoted(&c.name),
                    contact.id,
                    c.emails.first().cloned().unwrap_or_default()
                ));
            } else if new {
                r.line(format!(
                    "   + {:<22} → contact {} ({names}, {} email(s), {} phone(s))",
                    quoted(&c.name),
                    contact.id,
                    c.emails.len(),
                    c.numbers.len()
                ));
            }
        }
        for p in &plans {
            if p["kind"] == "conflict" {
                r.line(format!(
                    "   ? conflict, left for a person: customer {}: {}",
                    short_uri(p["source_id"].as_str().unwrap_or("?")),
                    p["reason"].as_str().unwrap_or("")
                ));
            }
        }
        let created = c["created"].as_u64().unwrap_or(0);
        let expected_created = seed.live_customers() as u64 - seed.merged.len() as u64;
        r.check(
            o.code == Some(3)
                && created == expected_created
                && c["failed"] == 0
                && c["conflicts"].as_u64() == Some(seed.merged.len() as u64)
                && c["invalid"].as_u64() == Some(seed.invalid_email.len() as u64),
            format!(
                "{created} contacts created and linked both ways, {} invalid email replaced by the placeholder, {} merged customer reported (exit 3: a conflict needs a person)",
                seed.invalid_email.len(),
                seed.merged.len()
            ),
            format!(
                "outbound sync: exit {:?}, counts {c}; expected {expected_created} created, the invalid and merged customers reported\n{}",
                o.code, o.stderr
            ),
        );

        // 6. inbound
        let customers_before: BTreeSet<String> =
            sb.customers().into_iter().map(|c| c.resource_uri).collect();
        r.step(6, "mapsync sync --direction inbound   (HubSpot → 10to8)");
        let i = self
            .mapsync(&[
                "sync",
                "--mapping",
                &mapping,
                "--direction",
                "inbound",
                "--json",
            ])
            .await?;
        let (report, _) = parse_sync(&i.stdout);
        let c = &report["counts"];
        r.line(format!("   {}", counts_line(c)));
        for cu in sb.customers() {
            if customers_before.contains(&cu.resource_uri) {
                continue;
            }
            r.line(format!(
                "   + contact {:<5} → customer {} {} ({} email(s))",
                cu.custom_fields
                    .get("External ID")
                    .cloned()
                    .unwrap_or_default(),
                cu.id,
                quoted(&cu.name),
                cu.emails.len()
            ));
        }
        let new_customers = sb.customers().len() - customers_before.len();
        // The contacts a merged customer names in its External ID ("101, 102") are part of
        // that customer's conflict: none of them becomes a new customer.
        let named_by_merged: BTreeSet<String> = sb
            .customers()
            .into_iter()
            .filter_map(|cu| cu.custom_fields.get("External ID").cloned())
            .filter(|ids| ids.contains(','))
            .flat_map(|ids| {
                ids.split(',')
                    .map(|id| id.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        let expected_new = seed.live_contacts() - named_by_merged.len();
        r.check(
            i.code == Some(3)
                && new_customers == expected_new
                && c["conflicts"].as_u64() == Some(named_by_merged.len() as u64)
                && c["failed"] == 0,
            format!(
                "{new_customers} customers created from the seeded contacts; the contacts created by the outbound sync were already in step; the {} contacts the merged customer names are part of its conflict (exit 3)",
                named_by_merged.len()
            ),
            format!(
                "inbound sync: exit {:?}, {new_customers} customers created (expected {expected_new}), counts {c}\n{}",
                i.code, i.stderr
            ),
        );

        // Let the echoes of the full syncs arrive and be skipped.
        self.settle(&url).await;
        let log_mark = self.log().lines().count();

        // 7. live changes
        r.step(7, "changes made as a user would, while mapsync serve runs");
        let plain = seed
            .plain_customers
            .first()
            .cloned()
            .ok_or("the seed has no plain customer")?;
        let plain_contact = self.contact_of(&plain)?;
        let started = Instant::now();
        r.line(format!(
            "   → In HubSpot, someone changes contact {plain_contact}'s phone to +44 20 7946 0000"
        ));
        sb.ui_update_contact(&plain_contact, json!({"phone": "+44 20 7946 0000"}))
            .map_err(|e| format!("the sandbox refused the edit: {e:?}"))?;
        let ok = self
            .until(|sb| {
                sb.customer(&plain).is_some_and(|c| {
                    c.numbers.first().map(String::as_str) == Some("+44 20 7946 0000")
                })
            })
            .await;
        r.check(
            ok,
            format!(
                "10to8 customer {} has the new phone ({:.1} s)",
                short_uri(&plain),
                started.elapsed().as_secs_f64()
            ),
            "the phone did not reach 10to8",
        );

        let started = Instant::now();
        r.line("   → In HubSpot, someone creates contact Grace Hopper <grace@example.com>");
        let grace = sb
            .ui_create_contact(
                json!({"firstname": "Grace", "lastname": "Hopper", "email": "grace@example.com"}),
            )
            .map_err(|e| format!("the sandbox refused the contact: {e:?}"))?;
        let grace_id = match &grace["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let ok = self
            .until(|sb| {
                let linked = sb.customers().into_iter().find(|c| {
                    c.custom_fields.get("External ID").map(String::as_str) == Some(grace_id.as_str())
                });
                let back = sb.contact(&grace_id).and_then(|c| c.get("tte_customer_uri"));
                matches!((linked, back), (Some(c), Some(uri)) if c.resource_uri == uri && c.name == "Grace Hopper")
            })
            .await;
        r.check(
            ok,
            format!(
                "a 10to8 customer \"Grace Hopper\" exists, linked both ways ({:.1} s)",
                started.elapsed().as_secs_f64()
            ),
            "Grace Hopper did not become a linked 10to8 customer",
        );

        let three = seed
            .plain_customers
            .get(1)
            .cloned()
            .ok_or("the seed has no second plain customer")?;
        let three_contact = self.contact_of(&three)?;
        let started = Instant::now();
        r.line(format!(
            "   → In 10to8, someone renames customer {} to \"Ada King Lovelace\"",
            short_uri(&three)
        ));
        sb.ui_update_customer(&three, json!({"name": "Ada King Lovelace"}))
            .map_err(|e| format!("the sandbox refused the edit: {e:?}"))?;
        let ok = self
            .until(|sb| {
                sb.contact(&three_contact).is_some_and(|c| {
                    c.get("firstname").as_deref() == Some("Ada")
                        && c.get("lastname").as_deref() == Some("King Lovelace")
                })
            })
            .await;
        r.check(
            ok,
            format!(
                "HubSpot contact {three_contact} is \"Ada\" / \"King Lovelace\" ({:.1} s)",
                started.elapsed().as_secs_f64()
            ),
            "the new name did not reach HubSpot",
        );

        let started = Instant::now();
        r.line("   → In 10to8, someone types \"ada@@example\" as that customer's email");
        let mut emails = sb.customer(&three).map(|c| c.emails).unwrap_or_default();
        emails.insert(0, "ada@@example".to_string());
        sb.ui_update_customer(&three, json!({"emails": emails}))
            .map_err(|e| format!("the sandbox refused the edit: {e:?}"))?;
        let ok = self
            .until(|sb| {
                let contact = sb.contact(&three_contact);
                let customer = sb.customer(&three);
                contact.is_some_and(|c| {
                    c.get("email").unwrap_or_default().is_empty()
                        && c.get("tte_customer_sync_status").as_deref()
                            == Some("Error: Invalid email ada@@example")
                }) && customer.is_some_and(|c| {
                    c.emails.first().map(String::as_str) == Some("ada@@example")
                        && c.custom_fields.get("Sync Status").map(String::as_str)
                            == Some("Error: Invalid email ada@@example")
                })
            })
            .await;
        r.check(
            ok,
            format!(
                "rejected as invalid: HubSpot got the empty placeholder, both statuses say \"Error: Invalid email ada@@example\", and 10to8 keeps the address ({:.1} s)",
                started.elapsed().as_secs_f64()
            ),
            "the invalid email was not handled with the placeholder and the error status",
        );

        // 8. what serve did
        self.settle(&url).await;
        r.step(8, "what mapsync serve did with the webhooks (from its log)");
        let log = self.log();
        let mut tally: Vec<(String, usize)> = Vec::new();
        for line in log.lines().skip(log_mark) {
            let Some(text) = narrate(line) else { continue };
            match tally.iter_mut().find(|(t, _)| *t == text) {
                Some((_, n)) => *n += 1,
                None => tally.push((text, 1)),
            }
        }
        for (text, n) in &tally {
            let times = if *n > 1 {
                format!(" (×{n})")
            } else {
                String::new()
            };
            r.line(format!("   · {text}{times}"));
        }
        let metrics = self.metrics(&url).await;
        let m = |k: &str| metrics.get(k).copied().unwrap_or(0);
        r.line(format!(
            "   {} deliveries received, {} records processed, {} skipped as echoes, {} dead letters",
            m("mapsync_webhook_deliveries_received_total"),
            m("mapsync_records_processed_total"),
            m("mapsync_records_echo_skipped_total"),
            m("mapsync_records_dead_lettered_total"),
        ));
        r.check(
            m("mapsync_records_dead_lettered_total") == 0
                && m("mapsync_webhook_deliveries_rejected_unauthorized_total") == 0,
            "every delivery verified, nothing dead-lettered, no write loops",
            format!("serve reported problems:\n{}", tail(&log, 30)),
        );
        let _ = serve.kill().await;
        Ok(())
    }

    fn contact_of(&self, customer: &str) -> Result<String, String> {
        self.sb
            .customer(customer)
            .and_then(|c| c.custom_fields.get("External ID").cloned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("customer {customer} is not linked after the outbound sync"))
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.cfg.mapsync);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().to_string();
            if k.starts_with("TTE_")
                || k.starts_with("HUBSPOT_")
                || k.starts_with("MAPSYNC_")
                || k == "RUST_LOG"
            {
                cmd.env_remove(&k);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("NO_COLOR", "1")
            .kill_on_drop(true);
        cmd
    }

    async fn mapsync(&self, args: &[&str]) -> Result<Ran, String> {
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot run {}: {e}", self.cfg.mapsync.display()))?;
        Ok(Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    async fn serve(&self) -> Result<(Child, String), String> {
        let log = std::fs::File::create(self.dir.0.join("serve.log"))
            .map_err(|e| format!("cannot create the serve log: {e}"))?;
        let mut child = self
            .command()
            .args([
                "--log-format",
                "json",
                "-v",
                "serve",
                "--mapping",
                &self.cfg.mapping.display().to_string(),
                "--listen",
                "127.0.0.1:0",
                "--workers",
                "2",
            ])
            .env("RUST_LOG", "mapsync=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start mapsync serve: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout from mapsync serve")?;
        let mut lines = BufReader::new(stdout).lines();
        let found = tokio::time::timeout(self.cfg.deadline, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = line.strip_prefix("Listening on ") {
                    return Some(addr.trim().to_string());
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(url)) => {
                // Keep reading stdout so the server never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                Ok((child, url))
            }
            _ => Err(format!(
                "mapsync serve did not print `Listening on …`:\n{}",
                tail(&self.log(), 20)
            )),
        }
    }

    async fn metrics(&self, url: &str) -> BTreeMap<String, u64> {
        let text = match self.http.get(format!("{url}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                Some((k.to_string(), v.trim().parse().ok()?))
            })
            .collect()
    }

    /// Polls until `f` holds or the deadline passes.
    async fn until(&self, f: impl Fn(&SandboxHandle) -> bool) -> bool {
        let deadline = Instant::now() + self.cfg.deadline;
        while Instant::now() < deadline {
            if f(&self.sb) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        f(&self.sb)
    }

    /// Waits (under the deadline) until the inbox is empty and nothing new arrives for a few
    /// polls, so the echoes of earlier writes are processed.
    async fn settle(&self, url: &str) {
        let deadline = Instant::now() + self.cfg.deadline;
        let mut last = None;
        let mut stable = 0;
        while Instant::now() < deadline {
            let m = self.metrics(url).await;
            let now = (
                m.get("mapsync_inbox_depth").copied(),
                m.get("mapsync_webhook_deliveries_received_total").copied(),
                m.get("mapsync_records_processed_total").copied(),
            );
            if now.0 == Some(0) && Some(now) == last {
                stable += 1;
                if stable >= 4 {
                    return;
                }
            } else {
                stable = 0;
            }
            last = Some(now);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("serve.log")).unwrap_or_default()
    }
}

/// One line of serve's JSON log as a sentence, for the records it processed or skipped.
fn narrate(line: &str) -> Option<String> {
    let v: Value = serde_json::from_str(line).ok()?;
    let f = &v["fields"];
    let source = f["source"].as_str().unwrap_or("record");
    let source = source.strip_suffix('s').unwrap_or(source);
    let target = if source == "contact" {
        "customer"
    } else {
        "contact"
    };
    let record = format!(
        "{source} {}",
        f["record_key"].as_str().map(short_uri).unwrap_or_default()
    );
    let reason = f["reason"].as_str().unwrap_or("");
    let target_id = f["target_id"].as_str().map(short_uri).unwrap_or_default();
    Some(match f["message"].as_str()? {
        "Processed a record." => match f["kind"].as_str().unwrap_or("") {
            "Create" => format!("{record} changed → created {target} {target_id}"),
            "Update" => format!("{record} changed → updated {target} {target_id}"),
            "Delete" => format!("{record} deleted → deleted {target} {target_id}"),
            "Unchanged" => {
                format!("{record} re-read: {target} {target_id} already in step, nothing written")
            }
            other => format!("{record}: {}", other.to_lowercase()),
        },
        "Skipped an echo." => format!("{record}: skipped as an echo ({reason})"),
        "Planned no write." => format!("{record}: nothing written ({reason})"),
        _ => return None,
    })
}

/// The `{"report": …}` line and the `{"plan": …}` lines of `sync --json`.
fn parse_sync(stdout: &str) -> (Value, Vec<Value>) {
    let mut report = Value::Null;
    let mut plans = Vec::new();
    for line in stdout.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let Some(r) = v.get("report") {
            report = r.clone();
        } else if let Some(p) = v.get("plan") {
            plans.push(p.clone());
        }
    }
    (report, plans)
}

fn counts_line(c: &Value) -> String {
    let n = |k: &str| c[k].as_u64().unwrap_or(0);
    let mut s = String::new();
    let _ = write!(
        s,
        "{} read: {} created, {} updated, {} linked, {} unchanged, {} invalid, {} conflicts, {} skipped, {} failed",
        n("seen"),
        n("created"),
        n("updated"),
        n("linked"),
        n("unchanged"),
        n("invalid"),
        n("conflicts"),
        n("skipped"),
        n("failed")
    );
    s
}

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

/// `…/customer/1003/` for a 10to8 URI; anything else as it is.
fn short_uri(s: &str) -> String {
    match s.find("/customer/") {
        Some(i) => format!("…{}", &s[i..]),
        None => s.to_string(),
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
