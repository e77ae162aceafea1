//! `Sandbox::start` and `SandboxHandle`: base URLs, credentials, inspection and control in-process.

use crate::app::{self, Shared};
use crate::config::{
    Faults, HubspotRateLimit, SandboxConfig, System, TteRateLimit, UnsetCustomFields,
};
use crate::control;
use crate::hubspot::error::HsError;
use crate::hubspot::store::Contact;
use crate::log::{DeliveryAttempt, LoggedRequest, OpCount};
use crate::pipedrive::store::{CUSTOM_FIELDS, PdError, field_key};
use crate::seed::SeedReport;
use crate::tte::store::{Customer, TteError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Entry point.
pub struct Sandbox;

impl Sandbox {
    /// Bind both servers on their configured addresses (port 0 by default) and start serving.
    pub async fn start(cfg: SandboxConfig) -> std::io::Result<SandboxHandle> {
        let r = app::start(cfg).await?;
        Ok(SandboxHandle {
            shared: r.shared,
            stop: r.stop_tx,
            tasks: r.tasks,
        })
    }
}

/// A running sandbox. Dropping it (or `shutdown`) stops both servers and every delivery.
pub struct SandboxHandle {
    shared: Arc<Shared>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The environment variables a user exports to point mapsync at the sandbox.
pub fn env_vars(s: &Shared) -> Vec<(String, String)> {
    let c = &s.cfg.credentials;
    vec![
        (
            "TTE_BASE_URL".into(),
            format!("{}/api/enterprise/v2", s.tte_root),
        ),
        ("TTE_API_KEY".into(), c.tte_api_key.clone()),
        ("HUBSPOT_BASE_URL".into(), s.hub_root.clone()),
        (
            "HUBSPOT_ACCESS_TOKEN".into(),
            c.hubspot_private_app_token.clone(),
        ),
        ("HUBSPOT_CLIENT_ID".into(), c.hubspot_client_id.clone()),
        (
            "HUBSPOT_CLIENT_SECRET".into(),
            c.hubspot_client_secret.clone(),
        ),
        ("HUBSPOT_APP_ID".into(), c.hubspot_app_id.to_string()),
        (
            "HUBSPOT_DEVELOPER_API_KEY".into(),
            c.hubspot_developer_api_key.clone(),
        ),
        ("PIPEDRIVE_BASE_URL".into(), format!("{}/v1", s.pd_root)),
        (
            "PIPEDRIVE_API_TOKEN".into(),
            s.cfg.pipedrive.api_token.clone(),
        ),
        (
            "PIPEDRIVE_WEBHOOK_USER".into(),
            s.cfg.pipedrive.webhook_user.clone(),
        ),
        (
            "PIPEDRIVE_WEBHOOK_PASSWORD".into(),
            s.cfg.pipedrive.webhook_password.clone(),
        ),
        (
            "PIPEDRIVE_FIELD_TTE_URI".into(),
            field_key(CUSTOM_FIELDS[0]),
        ),
        (
            "PIPEDRIVE_FIELD_SYNC_STATUS".into(),
            field_key(CUSTOM_FIELDS[1]),
        ),
    ]
}

impl SandboxHandle {
    /// Stop serving and wait for the servers to close.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), t).await;
        }
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &SandboxConfig {
        &self.shared.cfg
    }

    /// `http://127.0.0.1:PORT/api/enterprise/v2`.
    pub fn tte_base_url(&self) -> String {
        format!("{}/api/enterprise/v2", self.shared.tte_root)
    }

    /// `http://127.0.0.1:PORT` of the 10to8 server (control routes live under `/_sandbox`).
    pub fn tte_root_url(&self) -> String {
        self.shared.tte_root.clone()
    }

    /// `http://127.0.0.1:PORT` of the HubSpot server.
    pub fn hubspot_base_url(&self) -> String {
        self.shared.hub_root.clone()
    }

    /// `http://127.0.0.1:PORT/v1` of the Pipedrive server.
    pub fn pipedrive_base_url(&self) -> String {
        format!("{}/v1", self.shared.pd_root)
    }

    /// `http://127.0.0.1:PORT` of the Pipedrive server (control routes under `/_sandbox`).
    pub fn pipedrive_root_url(&self) -> String {
        self.shared.pd_root.clone()
    }

    /// The Pipedrive `api_token`.
    pub fn pipedrive_api_token(&self) -> &str {
        &self.shared.cfg.pipedrive.api_token
    }

    /// [P-08] The 40-hex key of a custom person field by its name (e.g. `10to8 Sync Status`).
    pub fn pipedrive_field_key(&self, name: &str) -> Option<String> {
        self.shared
            .pd()
            .fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.key.clone())
    }

    /// The URI of customer `id`.
    pub fn customer_uri(&self, id: u64) -> String {
        self.shared.tte().customer_uri(id)
    }

    pub fn tte_api_key(&self) -> &str {
        &self.shared.cfg.credentials.tte_api_key
    }
    pub fn hubspot_access_token(&self) -> &str {
        &self.shared.cfg.credentials.hubspot_private_app_token
    }
    pub fn hubspot_client_id(&self) -> &str {
        &self.shared.cfg.credentials.hubspot_client_id
    }
    pub fn hubspot_client_secret(&self) -> &str {
        &self.shared.cfg.credentials.hubspot_client_secret
    }
    pub fn hubspot_app_id(&self) -> u64 {
        self.shared.cfg.credentials.hubspot_app_id
    }
    pub fn hubspot_developer_api_key(&self) -> &str {
        &self.shared.cfg.credentials.hubspot_developer_api_key
    }
    pub fn hubspot_portal_id(&self) -> u64 {
        self.shared.cfg.credentials.hubspot_portal_id
    }
    /// [H-15] `sourceId` of writes made with the private-app token.
    pub fn hubspot_private_app_id(&self) -> u64 {
        self.shared.cfg.credentials.hubspot_private_app_id
    }

    /// `TTE_BASE_URL`, `TTE_API_KEY`, `HUBSPOT_*` … as `(name, value)`.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        env_vars(&self.shared)
    }

    /// Everything a person trying mapsync against this sandbox exports: `env_vars()`, plus a
    /// fresh `TTE_WEBHOOK_TOKEN` (the notification URL's secret, any long random text),
    /// `HUBSPOT_WRITER_ID` (the private app's id: writes with `HUBSPOT_ACCESS_TOKEN` come back
    /// as its events) and `HUBSPOT_APP_URL` (where the OAuth install sends the browser: this
    /// sandbox's consent page, not the real HubSpot's). `cargo run -p sandbox` prints these.
    pub fn operator_env(&self) -> Vec<(String, String)> {
        let mut env = env_vars(&self.shared);
        env.push((
            "TTE_WEBHOOK_TOKEN".into(),
            format!("sandbox-{}", uuid::Uuid::new_v4().simple()),
        ));
        env.push((
            "HUBSPOT_WRITER_ID".into(),
            self.hubspot_private_app_id().to_string(),
        ));
        env.push(("HUBSPOT_APP_URL".into(), self.hubspot_base_url()));
        env
    }

    // ---- inspection ----

    /// Every request the system received, oldest first (bounded by `request_log_capacity`).
    pub fn requests(&self, system: System) -> Vec<LoggedRequest> {
        self.shared.journal(system).requests()
    }

    /// Counters per operation (`contacts.create`, `customers.patch`, …).
    pub fn counters(&self, system: System) -> BTreeMap<String, OpCount> {
        self.shared.journal(system).counters()
    }

    /// The counter of one operation (zero if never called).
    pub fn count(&self, system: System, operation: &str) -> OpCount {
        self.counters(system)
            .get(operation)
            .copied()
            .unwrap_or_default()
    }

    /// Every outbound delivery attempt: notifications (Tte) or webhook batches (Hubspot).
    pub fn deliveries(&self, system: System) -> Vec<DeliveryAttempt> {
        self.shared.journal(system).deliveries()
    }

    /// Requests that came before the `Retry-After` of an earlier 429 to the identical request
    /// (same method, path with query, and body) had passed. Empty when every client waited.
    pub fn retry_after_violations(&self, system: System) -> Vec<crate::log::RetryAfterViolation> {
        crate::log::retry_after_violations(&self.requests(system))
    }

    /// Forget the request log, counters and delivery log of a system.
    pub fn clear_log(&self, system: System) {
        self.shared.journal(system).clear()
    }

    /// Every customer, deleted ones included, in creation order.
    pub fn customers(&self) -> Vec<Customer> {
        self.shared.tte().all().cloned().collect()
    }

    /// One customer by URI or numeric id (deleted ones included).
    pub fn customer(&self, uri_or_id: &str) -> Option<Customer> {
        let t = self.shared.tte();
        t.id_of(uri_or_id).and_then(|id| t.get(id)).cloned()
    }

    /// Every contact, archived ones included, in id order.
    pub fn contacts(&self) -> Vec<Contact> {
        self.shared.hub().contacts.values().cloned().collect()
    }

    /// One contact by id (archived ones included).
    pub fn contact(&self, id: &str) -> Option<Contact> {
        let id: u64 = id.parse().ok()?;
        self.shared.hub().contacts.get(&id).cloned()
    }

    /// Names of the defined (unarchived) contact properties.
    pub fn property_names(&self) -> Vec<String> {
        self.shared
            .hub()
            .props
            .values()
            .filter(|p| !p.archived)
            .map(|p| p.name.clone())
            .collect()
    }

    /// Webhook subscriptions as the management API shows them.
    pub fn webhook_subscriptions(&self) -> Vec<Value> {
        self.shared
            .hub()
            .subs
            .values()
            .map(|s| s.to_json())
            .collect()
    }

    /// The cumulative seeding report (start-up seeding plus later `seed` calls).
    pub fn seed_report(&self) -> SeedReport {
        self.shared
            .seed_report
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Every person in the API representation (deleted ones too, `active_flag: false`).
    pub fn persons(&self) -> Vec<Value> {
        let pd = self.shared.pd();
        pd.persons.values().map(|p| pd.to_json(p)).collect()
    }

    /// One person by id (deleted ones too).
    pub fn person(&self, id: &str) -> Option<Value> {
        let id: u64 = id.parse().ok()?;
        let pd = self.shared.pd();
        pd.persons.get(&id).map(|p| pd.to_json(p))
    }

    /// Pipedrive webhook subscriptions as `GET /v1/webhooks` shows them.
    pub fn pipedrive_webhooks(&self) -> Vec<Value> {
        let pd = self.shared.pd();
        pd.webhooks
            .values()
            .map(|w| w.to_json(pd.company_id, pd.user_id))
            .collect()
    }

    // ---- control ----

    /// Create a person as in the Pipedrive UI (webhooks say `change_source: app`).
    pub fn ui_create_person(&self, body: Value) -> Result<Value, PdError> {
        crate::pipedrive::persons::create_person(&self.shared, &body, "app")
    }

    /// Edit a person as in the Pipedrive UI (only the keys given change).
    pub fn ui_update_person(&self, id: &str, body: Value) -> Result<Value, PdError> {
        let id = id.parse().map_err(|_| PdError::not_found("Person"))?;
        crate::pipedrive::persons::update_person(&self.shared, id, &body, "app")
    }

    /// Delete a person as in the Pipedrive UI.
    pub fn ui_delete_person(&self, id: &str) -> Result<(), PdError> {
        let id = id.parse().map_err(|_| PdError::not_found("Person"))?;
        crate::pipedrive::persons::delete_person(&self.shared, id, "app").map(|_| ())
    }

    /// Add seeded records; see the `seed` module for the shape.
    pub fn seed(&self, seed: u64, customers: usize, contacts: usize) -> SeedReport {
        crate::seed::seed(&self.shared, seed, customers, contacts)
    }

    pub fn faults(&self, system: System) -> Faults {
        self.shared.faults(system).get()
    }

    /// Replace a system's faults at run time.
    pub fn set_faults(&self, system: System, faults: Faults) {
        self.shared.faults(system).set(faults)
    }

    pub fn set_tte_rate_limit(&self, limit: TteRateLimit) {
        self.shared.tte_limiter.set(limit)
    }

    pub fn set_hubspot_rate_limit(&self, limit: HubspotRateLimit) {
        self.shared.hub_limiter.set(limit)
    }

    /// How 10to8 customers show custom fields without a value from now on [T-09].
    pub fn set_tte_unset_custom_fields(&self, unset: UnsetCustomFields) {
        self.shared.tte().unset_custom_fields = unset;
    }

    /// Create a contact as a person in the UI (`CRM_UI` events). `props` is an object of
    /// property values, or `{"properties": {...}}`. Returns the API representation.
    pub fn ui_create_contact(&self, props: Value) -> Result<Value, HsError> {
        control::ui_create_contact(&self.shared, &props)
    }

    /// Change a contact as a person in the UI; `""` clears.
    pub fn ui_update_contact(&self, id: &str, props: Value) -> Result<Value, HsError> {
        control::ui_update_contact(&self.shared, id, &props)
    }

    /// Archive a contact as a person in the UI; false when unknown or already archived.
    pub fn ui_delete_contact(&self, id: &str) -> bool {
        control::ui_delete_contact(&self.shared, id)
    }

    /// Restore an archived contact without any webhook event (a restore whose notification is
    /// lost, so the deletion's events are the last ones sent); false when not archived.
    pub fn restore_contact_quietly(&self, id: &str) -> bool {
        let now = crate::clock::now_ms();
        id.parse::<u64>()
            .ok()
            .and_then(|i| self.shared.hub().restore(i, now))
            .is_some()
    }

    /// Create a customer as in the 10to8 UI (body as for POST).
    pub fn ui_create_customer(&self, body: Value) -> Result<Customer, TteError> {
        control::ui_create_customer(&self.shared, &body)
    }

    /// Edit a customer as in the 10to8 UI (PATCH rules).
    pub fn ui_update_customer(&self, uri_or_id: &str, body: Value) -> Result<Customer, TteError> {
        control::ui_update_customer(&self.shared, uri_or_id, &body)
    }

    /// Delete a customer as in the 10to8 UI (forced).
    pub fn ui_delete_customer(&self, uri_or_id: &str) -> Result<Customer, TteError> {
        control::ui_delete_customer(&self.shared, uri_or_id)
    }

    /// Give a customer future bookings (DELETE without `force` then answers 409).
    pub fn set_future_bookings(&self, uri_or_id: &str, count: u32) -> bool {
        control::set_future_bookings(&self.shared, uri_or_id, count)
    }

    /// Expire every OAuth access token issued so far.
    pub fn expire_oauth_tokens(&self) {
        control::expire_oauth_tokens(&self.shared)
    }
}
