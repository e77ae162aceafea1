//! Issue 16: the mapping language says how real APIs fail. Each test drives the real binary (or
//! the library, for the connector's reads and the server's events) against `fake.rs`, a small
//! contacts API in the style of Zoho CRM v2 built in the test; the mapping that describes it
//! is YAML only.

mod empty;
mod fake;
mod writes;

use std::path::PathBuf;

use serde_json::Value;
use tempfile::TempDir;

pub use fake::Fake;

/// The mapping: home people ↔ CRM contacts, written one record per request with per-record
/// results; `batch` adds batch create and update matched by position.
pub fn mapping(batch: bool) -> String {
    let batch = if batch { BATCH } else { "" };
    MAPPING.replace("    # batch\n", batch)
}

const MAPPING: &str = r#"version: 1
systems:
  home:
    base_url: ${HOME_URL}
  crm:
    base_url: ${CRM_URL}
    auth: { header: { name: Authorization, value: "Zoho-oauthtoken ${CRM_TOKEN:-t}" } }
    retry: { max_attempts: 2, base_delay: 1ms, max_delay: 1ms }
    errors:
      - { status: 202, body_matches: '"code":"LIMIT_REACHED"', class: transient }
collections:
  people:
    system: home
    id: $.id
    list: { path: /people, records: $.items }
    update: { path: "/people/{{ id }}" }
  contacts:
    system: crm
    id: $.id
    list:
      path: /crm/v2/Contacts
      records: $.data
      no_records: [204]
      paging: { page: { param: page, more: $.info.more_records } }
    read: { path: "/crm/v2/Contacts/{{ id }}", record: "$.data[0]", missing: [404, 204] }
    create:
      path: /crm/v2/Contacts
      body: { data: ["{{ fields }}"] }
      created_id: { body: "$.data[0].details.id" }
      result: { path: "$.data[0]", success: 'result.status == "success"', message: $.message }
    update:
      method: PUT
      path: "/crm/v2/Contacts/{{ id }}"
      body: { data: ["{{ fields }}"] }
      result: { path: "$.data[0]", success: 'result.status == "success"', message: $.message }
    # batch
pair:
  home: people
  external: contacts
  link: { home: crm_id, external: Home_Id }
  status: { home: sync_status, ok: "synced", error: "failed: {{ message }}" }
  fields:
    - name: name
      outbound: { Last_Name: record.name }
      inbound: { name: record.Last_Name }
      lossless: true
    - name: email
      outbound: { Email: record.email }
      inbound: { email: record.Email }
      lossless: true
"#;

const BATCH: &str = r#"    batch:
      create:
        path: /crm/v2/Contacts
        max: 100
        body: { data: "{{ inputs }}" }
        item: "{{ fields }}"
        results: $.data
        match: position
        success: 'result.status == "success"'
        result_id: $.details.id
        error_message: $.message
        partial: [400]
      update:
        method: PUT
        path: /crm/v2/Contacts
        max: 100
        body: { data: "{{ inputs }}" }
        item: "{{ fields | merge({'id': id}) }}"
        results: $.data
        match: position
        success: 'result.status == "success"'
        error_message: $.message
        partial: [400]
"#;

/// A temporary directory holding the mapping and the state store.
pub struct Dir {
    pub dir: TempDir,
    pub mapping: PathBuf,
}

impl Dir {
    pub fn new(mapping: &str) -> Dir {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("mapping.yaml");
        std::fs::write(&path, mapping).expect("write the mapping");
        Dir { dir, mapping: path }
    }

    /// Runs `mapsync sync --direction <direction> --json` against `fake`: exit code, the
    /// report's counts (`null` when there is no report) and what it printed (stdout, then
    /// stderr).
    pub async fn sync(&self, fake: &Fake, direction: &str) -> (Option<i32>, Value, String) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mapsync"))
            .args(["sync", "--direction", direction, "--json", "--mapping"])
            .arg(&self.mapping)
            .arg("--state")
            .arg(self.dir.path().join("state.db"))
            .current_dir(self.dir.path())
            .env_clear()
            .env("HOME_URL", &fake.url)
            .env("CRM_URL", &fake.url)
            .env("NO_COLOR", "1")
            .kill_on_drop(true)
            .output()
            .await
            .expect("run mapsync");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: Value = stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or(Value::Null);
        (
            out.status.code(),
            report["report"]["counts"].clone(),
            format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
        )
    }
}

/// The counts that are not zero, as `name=n` in name order.
pub fn nonzero(counts: &Value) -> Vec<String> {
    let mut out: Vec<String> = counts
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, n)| n.as_u64() != Some(0))
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    out.sort();
    out
}
