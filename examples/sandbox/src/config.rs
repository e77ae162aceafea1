//! `SandboxConfig` and the knobs it is made of: credentials, faults, rate limits, deliveries.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// Which emulated system a setting, log or counter belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum System {
    /// The 10to8 Enterprise API v2 stand-in.
    Tte,
    /// The HubSpot stand-in (CRM v3, properties, webhooks v3, OAuth).
    Hubspot,
    /// The Pipedrive stand-in (API v1 persons, person fields, webhooks v1).
    Pipedrive,
}

impl System {
    /// `tte` or `hubspot`, as used in `/_sandbox` paths and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            System::Tte => "tte",
            System::Hubspot => "hubspot",
            System::Pipedrive => "pipedrive",
        }
    }
}

/// Keys, secrets and ids the sandbox accepts and signs with.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Credentials {
    /// 10to8 `Authorization: token <key>`.
    pub tte_api_key: String,
    /// HubSpot private-app access token (Bearer).
    pub hubspot_private_app_token: String,
    /// OAuth client id of the public app.
    pub hubspot_client_id: String,
    /// OAuth client secret; also the webhook signing secret.
    pub hubspot_client_secret: String,
    /// The public app's id (webhooks path, `appId` in events, `sourceId` of OAuth writes).
    pub hubspot_app_id: u64,
    /// Developer account API key for `?hapikey=` on webhook management.
    pub hubspot_developer_api_key: String,
    /// The installing account (hub id, `portalId`).
    pub hubspot_portal_id: u64,
    /// [H-15] `sourceId` of writes made with the private-app token.
    pub hubspot_private_app_id: u64,
    /// `sourceId` of UI edits is `userId:<this>`.
    pub hubspot_ui_user_id: u64,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            tte_api_key: "sandbox-tte-api-key-0123456789abcdef".into(),
            hubspot_private_app_token: "pat-na1-sandbox-0000-0000-0000-private0app".into(),
            hubspot_client_id: "sandbox-client-id-5b1f0c2e".into(),
            hubspot_client_secret: "sandbox-client-secret-9d3e7a41".into(),
            hubspot_app_id: 54321,
            hubspot_developer_api_key: "sandbox-developer-api-key-7c2b".into(),
            hubspot_portal_id: 62515,
            hubspot_private_app_id: 98765,
            hubspot_ui_user_id: 1111,
        }
    }
}

/// Faults injected into one system's answers and outbound deliveries.
/// Shares are probabilities in `0.0..=1.0`, drawn from the seeded generator.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Share of requests answered 500 or 503 (alternating by draw) instead of being served.
    pub error_rate: f64,
    /// Statuses used for `error_rate`; empty means `[500, 503]`.
    pub error_statuses: Vec<u16>,
    /// Share of requests answered 429 with `Retry-After: retry_after_secs`.
    pub throttle_rate: f64,
    /// `Retry-After` seconds on injected 429s (at least 1 when throttling is injected).
    pub retry_after_secs: u64,
    /// Added latency before every answer.
    #[serde(with = "ms")]
    pub latency: Duration,
    /// Uniform jitter added to `latency`: the delay is `latency ± jitter` (never below 0).
    #[serde(with = "ms")]
    pub jitter: Duration,
    /// Share of requests whose connection is closed without any answer.
    pub drop_rate: f64,
    /// Faults only apply to request paths containing this text (e.g. `/customer/`); `None` = all.
    pub path_contains: Option<String>,
    /// Scripted one-off answers, consumed in order before any random fault.
    pub scripted: Vec<ScriptedFault>,
    /// Share of outbound deliveries (webhook batches / notifications) silently dropped.
    pub delivery_drop_rate: f64,
    /// Share of outbound deliveries sent twice.
    pub delivery_duplicate_rate: f64,
    /// Share of outbound deliveries held back by a random delay up to `reorder_window`,
    /// so that later batches overtake them (events inside a batch are shuffled too).
    pub delivery_reorder_rate: f64,
    /// Upper bound of the hold-back delay for reordered deliveries.
    #[serde(with = "ms")]
    pub reorder_window: Duration,
    /// "Apply, then fail": share of matching requests that are served (they take effect: a
    /// create creates, an update updates) and then answered with `apply_then_fail` instead of
    /// their real answer, as a proxy or a lost connection does after the API applied them.
    /// Drawn before the other faults, only when non-zero.
    pub apply_then_fail_rate: f64,
    /// What such a request gets after it was applied (default 504).
    pub apply_then_fail: AfterApply,
    /// Methods the apply-then-fail share applies to (upper case, e.g. `POST`, `PATCH`); empty =
    /// every method. `path_contains` restricts it to some paths, as for every random fault.
    pub apply_then_fail_methods: Vec<String>,
}

/// The answer a request gets after it was applied ("apply, then fail").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterApply {
    /// This status, with the system's error body (e.g. 502, 503, 504).
    Status(u16),
    /// No answer at all: the connection stays open until the client times out.
    Timeout,
    /// The connection is closed without an answer.
    Drop,
}

impl Default for AfterApply {
    fn default() -> Self {
        AfterApply::Status(504)
    }
}

/// "Answer the next `count` requests matching this with `status`" (`0` = drop the connection).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ScriptedFault {
    /// Match only this method (upper case); `None` = any.
    pub method: Option<String>,
    /// Match only paths containing this text; `None` = any.
    pub path_contains: Option<String>,
    /// Status to answer with; 429 gets `Retry-After`; 0 closes the connection unanswered.
    pub status: u16,
    /// How many matching requests get this answer.
    pub count: u32,
    /// `Retry-After` seconds for a scripted 429.
    pub retry_after_secs: Option<u64>,
    /// Serve the request first (it takes effect), then answer `status` (0 = drop the
    /// connection): "apply, then fail" for exactly these requests.
    pub apply_first: bool,
}

/// Rate limiting of the 10to8 stand-in: a token bucket per key [T-14]. `Default` is off with
/// the documented figures, so `PUT /_sandbox/ratelimit {"enabled":true}` alone turns on the
/// documented budget (not a limit of 0 or 1).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct TteRateLimit {
    /// Off when false (the default in tests).
    pub enabled: bool,
    /// Tokens added per second (default 10).
    pub per_second: f64,
    /// Bucket size (default 10).
    pub burst: u32,
}

impl Default for TteRateLimit {
    fn default() -> Self {
        let documented = TteRateLimit::documented();
        TteRateLimit {
            enabled: false,
            per_second: documented.per_second,
            burst: documented.burst,
        }
    }
}

impl TteRateLimit {
    /// The register's default budget: 10 requests/s with a burst of 10.
    pub fn documented() -> Self {
        TteRateLimit {
            enabled: true,
            per_second: 10.0,
            burst: 10,
        }
    }
}

/// Rate limiting of the HubSpot stand-in (FIDELITY.md §2.7). `Default` is off with the
/// documented figures, so `{"enabled":true}` alone turns on HubSpot's documented limits.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct HubspotRateLimit {
    /// Off when false (the default in tests).
    pub enabled: bool,
    /// Requests per rolling 10 s for the private-app token (100 on Free/Starter).
    pub private_app_per_10s: u32,
    /// Requests per rolling 10 s for OAuth tokens (110 for public apps).
    pub oauth_per_10s: u32,
    /// Search requests per second per token (5).
    pub search_per_second: u32,
    /// Requests per day (UTC) for the private-app token (250,000 on Free/Starter); OAuth
    /// tokens have no daily figure.
    pub private_app_daily: u32,
}

impl Default for HubspotRateLimit {
    fn default() -> Self {
        let documented = HubspotRateLimit::documented();
        HubspotRateLimit {
            enabled: false,
            private_app_per_10s: documented.private_app_per_10s,
            oauth_per_10s: documented.oauth_per_10s,
            search_per_second: documented.search_per_second,
            private_app_daily: documented.private_app_daily,
        }
    }
}

impl HubspotRateLimit {
    /// HubSpot's documented figures: 100/10 s private app, 110/10 s OAuth, search 5/s, and
    /// 250,000 a day for the private app (Free/Starter).
    pub fn documented() -> Self {
        HubspotRateLimit {
            enabled: true,
            private_app_per_10s: 100,
            oauth_per_10s: 110,
            search_per_second: 5,
            private_app_daily: 250_000,
        }
    }
}

/// 10to8 subscription notifications [T-16, T-17, T-18].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct NotificationConfig {
    /// Changes within this window after the first one are coalesced into one POST.
    #[serde(with = "ms")]
    pub coalesce_window: Duration,
    /// At most this many URIs per POST.
    pub max_items: usize,
    /// A callback that has not answered 2xx within this is a failure.
    #[serde(with = "ms")]
    pub timeout: Duration,
    /// Delays before each retry; the number of retries is their count.
    #[serde(with = "ms_vec")]
    pub retry_delays: Vec<Duration>,
}

impl Default for NotificationConfig {
    fn default() -> Self {
        NotificationConfig {
            coalesce_window: Duration::from_secs(1),
            max_items: 100,
            timeout: Duration::from_secs(5),
            retry_delays: [10, 60, 300, 1800, 7200].map(Duration::from_secs).to_vec(),
        }
    }
}

/// HubSpot webhook deliveries [H-13, H-14, H-17].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookConfig {
    /// Events produced within this window are sent together (inferred batching).
    #[serde(with = "ms")]
    pub batch_window: Duration,
    /// At most this many events per POST [H-13].
    pub max_events: usize,
    /// A target that has not answered 2xx within this is a failure.
    #[serde(with = "ms")]
    pub timeout: Duration,
    /// Delays before each retry; attempts = delays + 1, capped at `max_attempts` [H-14].
    #[serde(with = "ms_vec")]
    pub retry_delays: Vec<Duration>,
    /// Attempts in all (documented: 10).
    pub max_attempts: u32,
    /// true (documented rule): every non-2xx is retried. false (older staff answer):
    /// 400, 401, 403, 404 and 405 are not retried.
    pub retry_client_errors: bool,
    /// [H-17] also emit `contact.propertyChange` for properties set on creation.
    pub property_changes_on_create: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            batch_window: Duration::from_millis(100),
            max_events: 100,
            timeout: Duration::from_secs(5),
            retry_delays: [60, 120, 300, 600, 1800, 3600, 7200, 14_400, 28_800]
                .map(Duration::from_secs)
                .to_vec(),
            max_attempts: 10,
            retry_client_errors: true,
            property_changes_on_create: false,
        }
    }
}

/// How the 10to8 stand-in shows a custom field that holds no value (never set, or set to `""` or
/// `null`) [T-09].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsetCustomFields {
    /// Left out of `custom_fields`, as real 10to8 does (the 2021 demo's code tests
    /// `"External ID" in custom_fields`).
    #[default]
    Absent,
    /// Every organisation label present, `""` when unset (the sandbox's former behaviour).
    Empty,
}

/// Everything `Sandbox::start` needs. `Default` gives realistic settings with empty stores;
/// `SandboxConfig::for_tests()` gives compressed timings suited to integration tests.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxConfig {
    /// Seed of every random choice (seeding, fault draws).
    pub seed: u64,
    /// Customers seeded at start (see `seed` module for the shape).
    pub customers: usize,
    /// Contacts seeded at start.
    pub contacts: usize,
    /// Pipedrive persons seeded at start (see `pipedrive::seed` for the shape).
    pub persons: usize,
    /// Rounds of colliding emails seeded at start, for first-sync tests (see
    /// `seed::seed_collisions`): per round, a live customer whose email an archived, never
    /// linked contact shares, and a deleted customer listed before a live one of the same email,
    /// which a live contact shares too.
    pub collisions: usize,
    /// Where the 10to8 stand-in listens; port 0 picks a free one.
    pub tte_addr: SocketAddr,
    /// Where the HubSpot stand-in listens; port 0 picks a free one.
    pub hubspot_addr: SocketAddr,
    /// The Pipedrive stand-in: address, token, webhook timings.
    pub pipedrive: PipedriveConfig,
    /// Keys and secrets.
    pub credentials: Credentials,
    /// [T-09] the organisation's custom-field labels.
    pub tte_custom_fields: Vec<String>,
    /// [T-09] how a customer shows a custom field that holds no value: left out (real 10to8,
    /// the default) or as `""`.
    pub tte_unset_custom_fields: UnsetCustomFields,
    /// Create the four `tte_customer_*` properties at start (lets sync tests skip setup).
    pub precreate_custom_properties: bool,
    /// 10to8 rate limit.
    pub tte_rate_limit: TteRateLimit,
    /// HubSpot rate limit.
    pub hubspot_rate_limit: HubspotRateLimit,
    /// Faults of the 10to8 stand-in at start.
    pub tte_faults: Faults,
    /// Faults of the HubSpot stand-in at start.
    pub hubspot_faults: Faults,
    /// Faults of the Pipedrive stand-in at start.
    pub pipedrive_faults: Faults,
    /// 10to8 notifications.
    pub notifications: NotificationConfig,
    /// HubSpot webhook deliveries.
    pub webhooks: WebhookConfig,
    /// Lifetime of OAuth access tokens (`expires_in`).
    #[serde(with = "ms")]
    pub oauth_access_token_ttl: Duration,
    /// [H-06] a contact changed less than this long ago is not yet visible to search.
    #[serde(with = "ms")]
    pub search_lag: Duration,
    /// The request log keeps at most this many entries per system (oldest dropped).
    pub request_log_capacity: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: 0,
            customers: 0,
            contacts: 0,
            persons: 0,
            collisions: 0,
            pipedrive: PipedriveConfig::default(),
            tte_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            hubspot_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            credentials: Credentials::default(),
            tte_custom_fields: vec!["External ID".into(), "Sync Status".into()],
            tte_unset_custom_fields: UnsetCustomFields::Absent,
            precreate_custom_properties: false,
            tte_rate_limit: TteRateLimit::default(),
            hubspot_rate_limit: HubspotRateLimit::default(),
            tte_faults: Faults::default(),
            hubspot_faults: Faults::default(),
            pipedrive_faults: Faults::default(),
            notifications: NotificationConfig::default(),
            webhooks: WebhookConfig::default(),
            oauth_access_token_ttl: Duration::from_secs(1800),
            search_lag: Duration::ZERO,
            request_log_capacity: 100_000,
        }
    }
}

impl SandboxConfig {
    /// Realistic shapes, compressed timings: 20 ms coalescing and batching, 1 s delivery
    /// timeouts, retries after 20, 40, 80 … ms. Limits and faults off.
    pub fn for_tests() -> Self {
        let compressed = |n: usize| {
            (0..n)
                .map(|i| Duration::from_millis(20 << i.min(4)))
                .collect()
        };
        SandboxConfig {
            notifications: NotificationConfig {
                coalesce_window: Duration::from_millis(20),
                timeout: Duration::from_secs(1),
                retry_delays: compressed(5),
                ..NotificationConfig::default()
            },
            webhooks: WebhookConfig {
                batch_window: Duration::from_millis(20),
                timeout: Duration::from_secs(1),
                retry_delays: compressed(9),
                ..WebhookConfig::default()
            },
            pipedrive: PipedriveConfig {
                webhook_timeout: Duration::from_secs(1),
                retry_delays: compressed(3),
                ..PipedriveConfig::default()
            },
            ..SandboxConfig::default()
        }
    }
}

/// The Pipedrive stand-in's settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct PipedriveConfig {
    /// Where it listens; port 0 picks a free one.
    pub addr: SocketAddr,
    /// The `api_token` query parameter it accepts.
    pub api_token: String,
    /// The id of the user the token belongs to (`owner_id`, webhooks' `meta.user_id`).
    pub user_id: u64,
    /// The company (account) id (`meta.company_id`).
    pub company_id: u64,
    /// The basic-auth user the sandbox suggests for webhooks (`PIPEDRIVE_WEBHOOK_USER`).
    pub webhook_user: String,
    /// The basic-auth password it suggests (`PIPEDRIVE_WEBHOOK_PASSWORD`).
    pub webhook_password: String,
    /// [P-12] how long a delivery may take before it counts as failed.
    #[serde(with = "ms")]
    pub webhook_timeout: Duration,
    /// [P-12] delays before each retry of a failed delivery (documented: 3 retries).
    #[serde(with = "ms_vec")]
    pub retry_delays: Vec<Duration>,
}

impl Default for PipedriveConfig {
    fn default() -> Self {
        PipedriveConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_token: "pd-sandbox-0123456789abcdef0123456789abcdef".into(),
            user_id: 9_001,
            company_id: 7_001,
            webhook_user: "mapsync".into(),
            webhook_password: "pd-webhook-secret-for-the-sandbox".into(),
            webhook_timeout: Duration::from_secs(10),
            retry_delays: vec![
                Duration::from_secs(3),
                Duration::from_secs(30),
                Duration::from_secs(150),
            ],
        }
    }
}

/// Durations as integer milliseconds in JSON (control API).
pub(crate) mod ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Lists of durations as integer milliseconds in JSON.
pub(crate) mod ms_vec {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(d.iter().map(|x| x.as_millis() as u64))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Ok(Vec::<u64>::deserialize(d)?
            .into_iter()
            .map(Duration::from_millis)
            .collect())
    }
}
