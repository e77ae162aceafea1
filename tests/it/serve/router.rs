//! The router in-process (`tower::ServiceExt::oneshot`, no socket), over the reference
//! mapping, an in-memory store and a frozen clock: verification happens before anything is
//! stored, every refusal stores nothing, a redelivery is stored once.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use mapsync::clock::FixedClock;
use mapsync::mapping::env::Env;
use mapsync::mapping::model::Mapping;
use mapsync::mapping::{EnvMode, load_file};
use mapsync::runner::{Connectors, WorkerCounters};
use mapsync::server::{AppState, Limits, ServerConfig, create_install_link, router};
use mapsync::store::{Lease, SqliteStore, StateStore};
use sha2::Sha256;
use tokio::sync::Notify;
use tower::ServiceExt;

use crate::util::root;

/// The secret and body of the vectors in examples/sandbox/FIDELITY.md §2.11.
const SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
const BODY: &str = r#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;
const VECTOR: &str = "DxmVAjFNa2xfF3YgQjdZP6TNcok9k1oaH7UXombPtvw=";
const NOW_MS: i64 = 1_564_113_600_000;
const TTE: &str = "http://tte.test/api/enterprise/v2";

struct Harness {
    app: Router,
    store: Arc<SqliteStore>,
    mapping: Arc<Mapping>,
}

fn mapping() -> Mapping {
    let env = Env::from_map([
        ("TTE_BASE_URL", TTE),
        ("TTE_API_KEY", "k"),
        ("TTE_WEBHOOK_TOKEN", "a-long-random-token"),
        ("HUBSPOT_CLIENT_SECRET", SECRET),
        ("HUBSPOT_CLIENT_ID", "client"),
        ("HUBSPOT_DEVELOPER_API_KEY", "dev"),
        ("HUBSPOT_APP_ID", "1"),
        // Loopback only: nothing here may reach a real API.
        ("HUBSPOT_BASE_URL", "http://127.0.0.1:9"),
        ("HUBSPOT_APP_URL", "http://127.0.0.1:9"),
    ]);
    let loaded = load_file(&root().join("mappings/hubspot.yaml"), &env, EnvMode::Strict);
    let mut m = loaded.mapping.expect("the reference mapping loads");
    // The vector signs https://www.example.com/webhook_uri: serve the signed route there.
    if let Some(w) = m
        .collections
        .get_mut("contacts")
        .and_then(|c| c.webhook.as_mut())
    {
        w.path = "/webhook_uri".to_string();
    }
    m
}

fn harness() -> Harness {
    harness_with(1000)
}

fn harness_with(high_water: u64) -> Harness {
    harness_limits(high_water, Limits::default())
}

fn harness_limits(high_water: u64, limits: Limits) -> Harness {
    let mapping = Arc::new(mapping());
    let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
    let mut connectors = Connectors::new();
    for (name, system) in &mapping.systems {
        mapsync::init_crypto();
        connectors.insert(
            name.clone(),
            mapsync::connector::Connector::new(system).expect("connector"),
        );
    }
    let state = AppState::new(ServerConfig {
        mapping: mapping.clone(),
        store: store.clone(),
        connectors: Arc::new(connectors),
        public_url: "https://www.example.com".parse().expect("url"),
        clock: Arc::new(FixedClock::new(
            Timestamp::from_millisecond(NOW_MS).expect("time"),
        )),
        high_water,
        workers: Arc::new(WorkerCounters::default()),
        wake: Arc::new(Notify::new()),
        limits,
    });
    Harness {
        app: router(state),
        store,
        mapping,
    }
}

fn sign(body: &str, ts: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(b"POSThttps://www.example.com/webhook_uri");
    mac.update(body.as_bytes());
    mac.update(ts.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl Harness {
    async fn send(&self, req: Request<Body>) -> StatusCode {
        self.app
            .clone()
            .oneshot(req)
            .await
            .expect("infallible")
            .status()
    }

    async fn signed(&self, sig: Option<&str>, ts: Option<&str>, body: &str) -> StatusCode {
        let mut b = Request::post("/webhook_uri").header("content-type", "application/json");
        if let Some(s) = sig {
            b = b.header("X-HubSpot-Signature-v3", s);
        }
        if let Some(t) = ts {
            b = b.header("X-HubSpot-Request-Timestamp", t);
        }
        self.send(b.body(Body::from(body.to_string())).expect("request"))
            .await
    }

    async fn tte(&self, query: &str, body: &str) -> StatusCode {
        let req = Request::post(format!("/webhooks/10to8/customers{query}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        self.send(req).await
    }

    fn depth(&self) -> u64 {
        self.store.inbox_depth().expect("depth")
    }

    /// The events stored for the next record key (claims it).
    fn claim_events(&self) -> usize {
        let lease = Lease::new("t", std::time::Duration::from_secs(60));
        let at = Timestamp::from_millisecond(NOW_MS).expect("time");
        self.store
            .inbox_claim(&lease, at)
            .expect("claim")
            .map_or(0, |c| c.events.len())
    }
}

#[tokio::test]
async fn the_v3_vector_is_accepted_and_stored() {
    let h = harness();
    assert_eq!(
        h.signed(Some(VECTOR), Some("1564113600000"), BODY).await,
        StatusCode::OK
    );
    assert_eq!(h.depth(), 1);
    assert_eq!(h.claim_events(), 1);
}

#[tokio::test]
async fn bad_signatures_get_401_and_store_nothing() {
    let h = harness();
    let ts = "1564113600000";
    let forged = VECTOR.replace('D', "E");
    let truncated = &VECTOR[..VECTOR.len() - 1];
    let too_long = format!("{VECTOR}A");
    let wrong_secret = {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"wrong").expect("key");
        mac.update(b"POSThttps://www.example.com/webhook_uri");
        mac.update(BODY.as_bytes());
        mac.update(ts.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    };
    let flipped_body = BODY.replace("\"objectId\":123", "\"objectId\":124");
    let cases: Vec<(&str, Option<&str>, Option<&str>, &str)> = vec![
        ("forged", Some(&forged), Some(ts), BODY),
        ("empty", Some(""), Some(ts), BODY),
        ("truncated", Some(truncated), Some(ts), BODY),
        ("one character too long", Some(&too_long), Some(ts), BODY),
        ("wrong secret", Some(&wrong_secret), Some(ts), BODY),
        ("body changed", Some(VECTOR), Some(ts), &flipped_body),
        ("no signature header", None, Some(ts), BODY),
        ("no timestamp header", Some(VECTOR), None, BODY),
        ("timestamp not a number", Some(VECTOR), Some("soon"), BODY),
    ];
    for (name, sig, ts, body) in cases {
        assert_eq!(
            h.signed(sig, ts, body).await,
            StatusCode::UNAUTHORIZED,
            "{name}"
        );
    }
    assert_eq!(h.depth(), 0);
}

#[tokio::test]
async fn the_timestamp_window_is_five_minutes_both_ways() {
    let h = harness();
    for offset in [-301i64, 301] {
        let ts = (NOW_MS + offset * 1000).to_string();
        let sig = sign(BODY, &ts);
        assert_eq!(
            h.signed(Some(&sig), Some(&ts), BODY).await,
            StatusCode::UNAUTHORIZED,
            "{offset} s"
        );
    }
    assert_eq!(h.depth(), 0);
    for offset in [-299i64, 299] {
        let ts = (NOW_MS + offset * 1000).to_string();
        let sig = sign(BODY, &ts);
        assert_eq!(
            h.signed(Some(&sig), Some(&ts), BODY).await,
            StatusCode::OK,
            "{offset} s"
        );
    }
}

#[tokio::test]
async fn the_same_delivery_five_times_is_stored_once() {
    let h = harness();
    for _ in 0..5 {
        assert_eq!(
            h.signed(Some(VECTOR), Some("1564113600000"), BODY).await,
            StatusCode::OK
        );
    }
    assert_eq!(h.depth(), 1);
    assert_eq!(h.claim_events(), 1, "one inbox row");
}

#[tokio::test]
async fn above_the_high_water_mark_deliveries_get_503_with_retry_after() {
    let h = harness_with(1);
    let ts = NOW_MS.to_string();
    let body = |n: u64| BODY.replace("\"objectId\":123", &format!("\"objectId\":{n}"));
    let first = body(1);
    assert_eq!(
        h.signed(Some(&sign(&first, &ts)), Some(&ts), &first).await,
        StatusCode::OK
    );
    // The depth counted a moment ago, plus what was stored since, is at the mark.
    let second = body(2);
    let b = Request::post("/webhook_uri")
        .header("content-type", "application/json")
        .header("X-HubSpot-Signature-v3", sign(&second, &ts))
        .header("X-HubSpot-Request-Timestamp", &ts);
    let r = h
        .app
        .clone()
        .oneshot(b.body(Body::from(second)).expect("request"))
        .await
        .expect("infallible");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(h.depth(), 1, "nothing stored above the mark");
}

#[tokio::test]
async fn unsigned_notifications_need_the_token_and_a_known_host() {
    let h = harness();
    let body = format!(r#"{{"scope":"customer","items":["{TTE}/customer/1001/"]}}"#);
    assert_eq!(h.tte("", &body).await, StatusCode::UNAUTHORIZED);
    assert_eq!(h.tte("?key=wrong", &body).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.tte("?key=a-long-random-tokenX", &body).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.depth(), 0);
    let foreign = format!(
        r#"{{"scope":"customer","items":["{TTE}/customer/1/","http://evil.test/api/enterprise/v2/customer/1/"]}}"#
    );
    assert_eq!(
        h.tte("?key=a-long-random-token", &foreign).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.depth(),
        0,
        "nothing of a delivery with a foreign id is stored"
    );
    assert_eq!(
        h.tte("?key=a-long-random-token", r#"{"scope":"customer"}"#)
            .await,
        StatusCode::OK,
        "a ping without items"
    );
    assert_eq!(
        h.tte("?key=a-long-random-token", &body).await,
        StatusCode::OK
    );
    assert_eq!(
        h.tte("?key=a-long-random-token", &body).await,
        StatusCode::OK
    );
    assert_eq!(h.depth(), 1, "id-less notifications coalesce per record");
    assert_eq!(
        h.tte("?key=a-long-random-token", "not json").await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let h = harness();
    let big = "x".repeat(1024 * 1024 + 1);
    assert_eq!(
        h.tte("?key=a-long-random-token", &big).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Without a Content-Length (a stream), the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..17).map(|_| Ok(vec![b' '; 64 * 1024])).collect();
    let req = Request::post("/webhooks/10to8/customers?key=a-long-random-token")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .expect("request");
    assert_eq!(h.send(req).await, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(h.depth(), 0);
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let h = harness();
    let get = |p: &str| Request::get(p).body(Body::empty()).expect("request");
    assert_eq!(h.send(get("/healthz")).await, StatusCode::OK);
    assert_eq!(h.send(get("/readyz")).await, StatusCode::OK);
    h.signed(Some(VECTOR), Some("1564113600000"), BODY).await;
    h.signed(Some("x"), Some("1564113600000"), BODY).await;
    let resp = h.app.clone().oneshot(get("/metrics")).await.expect("ok");
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&bytes);
    for line in [
        "mapsync_webhook_deliveries_received_total 2",
        "mapsync_webhook_deliveries_verified_total 1",
        "mapsync_webhook_deliveries_rejected_unauthorized_total 1",
        "mapsync_webhook_events_stored_total 1",
        "mapsync_inbox_depth 1",
        "mapsync_webhook_ack_seconds_count 1",
        "mapsync_api_requests_total{system=\"tte\"} 0",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}

#[tokio::test]
async fn oauth_start_needs_a_single_use_install_link() {
    let h = harness();
    let get = |p: &str| Request::get(p).body(Body::empty()).expect("request");
    // No link, a made-up link: 403, and nothing is stored.
    assert_eq!(
        h.send(get("/oauth/hubspot/start")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.send(get(&format!(
            "/oauth/hubspot/start?link={}",
            "a".repeat(64)
        )))
        .await,
        StatusCode::FORBIDDEN
    );
    let now = Timestamp::from_millisecond(NOW_MS).expect("time");
    let base: url::Url = "https://www.example.com".parse().expect("url");
    let link = create_install_link(h.store.as_ref(), &h.mapping, "hubspot", &base, now, false)
        .expect("link");
    assert!(create_install_link(h.store.as_ref(), &h.mapping, "tte", &base, now, false).is_err());
    let path = link
        .strip_prefix("https://www.example.com")
        .expect("public url");
    assert!(path.starts_with("/oauth/hubspot/start?link="), "{path}");
    let value = path.rsplit('=').next().expect("value").to_string();
    // A link is not a callback state.
    assert_eq!(
        h.send(get(&format!(
            "/oauth/hubspot/callback?code=c&state={value}"
        )))
        .await,
        StatusCode::BAD_REQUEST
    );
    let link = create_install_link(h.store.as_ref(), &h.mapping, "hubspot", &base, now, false)
        .expect("link");
    let path = link
        .strip_prefix("https://www.example.com")
        .expect("public url");
    let resp = h.app.clone().oneshot(get(path)).await.expect("ok");
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp.headers()["location"]
        .to_str()
        .expect("text")
        .to_string();
    let url = url::Url::parse(&location).expect("url");
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(
        q.get("redirect_uri").map(String::as_str),
        Some("https://www.example.com/oauth/hubspot/callback")
    );
    let state = q.get("state").expect("a state").clone();
    assert!(state.len() >= 32);
    // The link works once; a state is not a link.
    assert_eq!(h.send(get(path)).await, StatusCode::FORBIDDEN);
    assert_eq!(
        h.send(get(&format!("/oauth/hubspot/start?link={state}")))
            .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.send(get("/oauth/hubspot/callback?code=c&state=unknown"))
            .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.send(get("/oauth/tte/start")).await,
        StatusCode::NOT_FOUND,
        "a system without OAuth"
    );
    let text = metrics_text(&h).await;
    assert!(text.contains("mapsync_oauth_rejected_total 6"), "{text}");
}

async fn metrics_text(h: &Harness) -> String {
    let resp = h
        .app
        .clone()
        .oneshot(
            Request::get("/metrics")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("ok");
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A signed HubSpot delivery of `events`.
async fn signed_events(h: &Harness, events: &[serde_json::Value]) -> StatusCode {
    let body = serde_json::to_string(events).expect("json");
    let ts = "1564113600000";
    h.signed(Some(&sign(&body, ts)), Some(ts), &body).await
}

fn event(i: u64, object_id: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"eventId": i, "subscriptionId": 1, "portalId": 62515,
        "occurredAt": NOW_MS, "subscriptionType": "contact.propertyChange",
        "objectId": object_id, "propertyName": "email", "changeSource": "CRM"})
}

#[tokio::test]
async fn a_delivery_over_max_events_gets_413_and_stores_nothing() {
    let h = harness();
    let hundred: Vec<_> = (0..100)
        .map(|i| event(i, serde_json::json!(i + 1)))
        .collect();
    assert_eq!(signed_events(&h, &hundred).await, StatusCode::OK);
    assert_eq!(h.depth(), 100);
    let more: Vec<_> = (0..101)
        .map(|i| event(1000 + i, serde_json::json!(1000 + i)))
        .collect();
    assert_eq!(
        signed_events(&h, &more).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(h.depth(), 100, "nothing of the refused delivery is stored");
    let text = metrics_text(&h).await;
    assert!(
        text.contains("mapsync_webhook_deliveries_rejected_too_many_events_total 1"),
        "{text}"
    );
}

#[tokio::test]
async fn ids_off_the_declared_pattern_or_with_control_characters_are_refused() {
    let h = harness();
    for bad in [
        serde_json::json!("../../../../webhooks/v3/1/settings"),
        serde_json::json!("104#frag"),
        serde_json::json!("104\nFAKE log line"),
        serde_json::json!("-1"),
    ] {
        let events = [event(1, serde_json::json!(7)), event(2, bad.clone())];
        assert_eq!(
            signed_events(&h, &events).await,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    // 10to8 items have no pattern but may not hold a control character (URL parsing would
    // drop it and pass the prefix check).
    let body = format!(r#"{{"scope":"customer","items":["{TTE}/customer/1\n/"]}}"#);
    assert_eq!(
        h.tte("?key=a-long-random-token", &body).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(h.depth(), 0);
}

#[tokio::test]
async fn bodies_past_the_route_or_memory_budget_get_503_before_being_read() {
    // A budget smaller than one body: every delivery is refused unread, and counted.
    let h = harness_limits(
        1000,
        Limits {
            unverified_bytes: 10,
            ..Limits::default()
        },
    );
    assert_eq!(
        h.signed(Some(VECTOR), Some("1564113600000"), BODY).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // No slot for a body on the route at all.
    let h2 = harness_limits(
        1000,
        Limits {
            max_bodies_per_route: 0,
            ..Limits::default()
        },
    );
    assert_eq!(
        h2.signed(Some(VECTOR), Some("1564113600000"), BODY).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    for h in [&h, &h2] {
        assert_eq!(h.depth(), 0);
        let text = metrics_text(h).await;
        assert!(
            text.contains("mapsync_webhook_deliveries_rejected_busy_total 1"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn events_from_another_account_than_the_pinned_one_are_refused() {
    let pin = |h: &Harness, account: &str| {
        h.store
            .save_token(
                "hubspot",
                &mapsync::store::OAuthToken {
                    access_token: mapsync::store::Secret::new("a"),
                    refresh_token: None,
                    expires_at: None,
                    scopes: vec![],
                    account: Some(account.to_string()),
                },
                Timestamp::from_millisecond(NOW_MS).expect("time"),
            )
            .expect("save");
    };
    // The vector's portalId is 62515.
    let other = harness();
    pin(&other, "999");
    assert_eq!(
        other
            .signed(Some(VECTOR), Some("1564113600000"), BODY)
            .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(other.depth(), 0, "nothing of it is stored");
    let text = metrics_text(&other).await;
    assert!(
        text.contains("mapsync_webhook_deliveries_rejected_account_total 1"),
        "{text}"
    );
    let same = harness();
    pin(&same, "62515");
    assert_eq!(
        same.signed(Some(VECTOR), Some("1564113600000"), BODY).await,
        StatusCode::OK
    );
    assert_eq!(same.depth(), 1);
}

#[tokio::test]
async fn the_high_water_mark_counts_the_events_a_delivery_would_add() {
    // 60 events for 60 records pass a mark of 100; another 60 would pass it: 503, not stored.
    let h = harness_with(100);
    let first: Vec<_> = (0..60)
        .map(|i| event(i, serde_json::json!(i + 1)))
        .collect();
    assert_eq!(signed_events(&h, &first).await, StatusCode::OK);
    let second: Vec<_> = (0..60)
        .map(|i| event(100 + i, serde_json::json!(100 + i)))
        .collect();
    assert_eq!(
        signed_events(&h, &second).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(h.store.inbox_pending_events().expect("count"), 60);
}
