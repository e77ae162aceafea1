//! OAuth refresh across instances: several connectors, each on a PostgreSQL store of its own
//! (its own pool, as separate `serve` processes have) over one schema, meet an expired token
//! at the same moment. The sandbox's request log shows one call to the token endpoint, and
//! every connector goes on with the new token: the others waited for the store's refresh lock,
//! read the token again and found it refreshed. Needs PostgreSQL (see `crate::pg`).

use std::sync::Arc;

use mapsync::connector::Connector;
use mapsync::expr::Vars;
use mapsync::mapping::env::Env;
use mapsync::mapping::model::Mapping;
use mapsync::mapping::{EnvMode, compile};
use mapsync::runner::StoreTokens;
use mapsync::store::{PostgresConfig, PostgresStore, StateStore};
use sandbox::{Sandbox, SandboxConfig, SandboxHandle, System};
use serde_json::json;
use tokio::sync::Barrier;

use crate::pg::Schema;
use crate::util::root;

/// Connectors, each standing for one instance.
const INSTANCES: usize = 4;

/// The reference mapping on the sandbox, with no static token: HubSpot calls need OAuth.
fn mapping(sb: &SandboxHandle) -> Mapping {
    let text = std::fs::read_to_string(root().join("mappings/hubspot.yaml")).expect("mapping");
    let raw = serde_saphyr::from_str(&text).expect("yaml");
    let mut env: Vec<(String, String)> = sb
        .env_vars()
        .into_iter()
        .filter(|(k, _)| k != "HUBSPOT_ACCESS_TOKEN")
        .collect();
    env.push(("TTE_WEBHOOK_TOKEN".into(), "t".into()));
    env.push(("HUBSPOT_APP_URL".into(), sb.hubspot_base_url()));
    env.push(("HUBSPOT_WRITER_ID".into(), sb.hubspot_app_id().to_string()));
    let compiled = compile(&raw, &Env::from_map(env), EnvMode::Strict);
    compiled.mapping.expect("the reference mapping compiles")
}

/// One instance: a store of its own on the shared schema, and a connector keeping its tokens
/// there.
fn instance(m: &Mapping, url: &str) -> (Arc<dyn StateStore>, Connector) {
    let store: Arc<dyn StateStore> =
        Arc::new(PostgresStore::open(&PostgresConfig::from_url(url).unwrap()).unwrap());
    let connector = Connector::builder(&m.systems["hubspot"])
        .token_provider(Arc::new(StoreTokens::new(store.clone(), None)))
        .build()
        .unwrap();
    (store, connector)
}

/// Every connector reads `id` at once (a barrier lets them go together); gives each answer.
async fn read_together(m: &Mapping, connectors: &[Connector], id: &str) -> Vec<bool> {
    let barrier = Arc::new(Barrier::new(connectors.len()));
    let tasks: Vec<_> = connectors
        .iter()
        .map(|c| {
            let (c, barrier, contacts) = (
                c.clone(),
                barrier.clone(),
                m.collections["contacts"].clone(),
            );
            let id = id.to_owned();
            tokio::spawn(async move {
                barrier.wait().await;
                let vars = Vars::new().with("mapped_fields", &json!(["email"]));
                c.read(&contacts, &id, &vars).await
            })
        })
        .collect();
    let mut found = Vec::new();
    for t in tasks {
        let answer = t.await.expect("task").expect("read with a valid token");
        found.push(answer.is_some());
    }
    found
}

/// Calls to the token endpoint, and the statuses of the contact reads, since the log was
/// last cleared.
fn calls(sb: &SandboxHandle) -> (usize, Vec<Option<u16>>) {
    let log = sb.requests(System::Hubspot);
    let token = log.iter().filter(|r| r.operation == "oauth.token").count();
    let reads = log
        .iter()
        .filter(|r| r.operation == "contacts.get")
        .map(|r| r.status)
        .collect();
    (token, reads)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_on_one_postgres_store_refresh_an_expired_token_once() {
    mapsync::init_crypto();
    let sb = Sandbox::start(SandboxConfig {
        customers: 0,
        contacts: 0,
        precreate_custom_properties: true,
        ..SandboxConfig::for_tests()
    })
    .await
    .expect("sandbox");
    let m = mapping(&sb);
    let schema = Schema::new();
    let (stores, connectors): (Vec<_>, Vec<_>) =
        (0..INSTANCES).map(|_| instance(&m, &schema.url())).unzip();

    // The install: the sandbox consents at once and redirects with a code, which the first
    // instance exchanges; the tokens go to the shared store.
    let redirect = "https://mapsync.example/oauth/hubspot/callback";
    let consent = connectors[0]
        .authorize_url(redirect, "st4te")
        .expect("oauth");
    let answer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(consent)
        .send()
        .await
        .expect("consent");
    let back = url::Url::parse(
        answer
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("a redirect"),
    )
    .unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    connectors[0]
        .exchange_code(&code, redirect, false)
        .await
        .expect("install");
    let contact = sb
        .ui_create_contact(json!({"email": "a@example.com", "firstname": "A"}))
        .expect("contact");
    let id = contact["id"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| contact["id"].to_string());

    // Every instance reads once with the installed token, so each holds it in memory.
    assert!(read_together(&m, &connectors, &id).await.iter().all(|f| *f));
    let installed = stores[0].token("hubspot").unwrap().expect("installed");

    // 1. The API refuses the token everywhere at once (it expired early): every instance gets a
    // 401 for the same token, together, and each would refresh it.
    sb.expire_oauth_tokens();
    sb.clear_log(System::Hubspot);
    assert!(read_together(&m, &connectors, &id).await.iter().all(|f| *f));
    let (token_calls, reads) = calls(&sb);
    assert_eq!(token_calls, 1, "one refresh across {INSTANCES} instances");
    assert_eq!(
        reads.iter().filter(|s| **s == Some(401)).count(),
        INSTANCES,
        "{reads:?}"
    );
    assert_eq!(
        reads.iter().filter(|s| **s == Some(200)).count(),
        INSTANCES,
        "every instance went on with the new token: {reads:?}"
    );
    let refreshed = stores[0].token("hubspot").unwrap().expect("refreshed");
    assert_ne!(refreshed.access_token, installed.access_token);
    let total: u64 = connectors.iter().map(|c| c.stats().token_refreshes).sum();
    assert_eq!(total, 1);

    // 2. The stored token is past its expiry when fresh instances start together: each loads
    // it, finds it expiring and refreshes, unless another refreshed first.
    let expired = mapsync::store::OAuthToken {
        expires_at: Some(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1)),
        ..refreshed.clone()
    };
    stores[0]
        .save_token("hubspot", &expired, jiff::Timestamp::now())
        .unwrap();
    sb.expire_oauth_tokens();
    let (stores, connectors): (Vec<_>, Vec<_>) =
        (0..INSTANCES).map(|_| instance(&m, &schema.url())).unzip();
    sb.clear_log(System::Hubspot);
    assert!(read_together(&m, &connectors, &id).await.iter().all(|f| *f));
    let (token_calls, reads) = calls(&sb);
    assert_eq!(
        token_calls, 1,
        "one refresh across {INSTANCES} fresh instances"
    );
    assert_eq!(
        reads,
        vec![Some(200); INSTANCES],
        "no read with the old token"
    );
    let latest = stores[1].token("hubspot").unwrap().expect("token");
    assert_ne!(latest.access_token, refreshed.access_token);
    assert!(latest.expires_at > Some(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60)));
    drop(stores);
}
