//! Webhooks v3 management with `hapikey`, and deliveries to a receiver: batching, attribution,
//! subscribed properties only, signatures v1 and v3 checked independently, retries.

use crate::common::*;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use sandbox::{SandboxConfig, SandboxHandle, System};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

async fn manage(sb: &SandboxHandle, m: Method, path: &str, body: Value) -> (u16, Value) {
    let url = format!(
        "{}/webhooks/v3/{}{path}?hapikey={}",
        sb.hubspot_base_url(),
        sb.hubspot_app_id(),
        sb.hubspot_developer_api_key()
    );
    let mut r = client().request(m, url);
    if !body.is_null() {
        r = r.json(&body);
    }
    let (st, v, _) = parts(r.send().await.unwrap()).await;
    (st, v)
}

async fn setup(sb: &SandboxHandle, target: &str, props: &[&str]) {
    let (st, v) = manage(
        sb,
        Method::PUT,
        "/settings",
        json!({"targetUrl": target, "throttling": {"maxConcurrentRequests": 10}}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    for et in ["contact.creation", "contact.deletion"] {
        let (st, _) = manage(
            sb,
            Method::POST,
            "/subscriptions",
            json!({"eventType": et, "active": true}),
        )
        .await;
        assert_eq!(st, 201);
    }
    for p in props {
        let (st, v) = manage(
            sb,
            Method::POST,
            "/subscriptions",
            json!({"eventType": "contact.propertyChange", "propertyName": p, "active": true}),
        )
        .await;
        assert_eq!(st, 201, "{v}");
    }
}

#[tokio::test]
async fn management_api() {
    let sb = start_default().await;
    let bad = client()
        .get(format!(
            "{}/webhooks/v3/{}/settings?hapikey=wrong",
            sb.hubspot_base_url(),
            sb.hubspot_app_id()
        ))
        .send()
        .await
        .unwrap();
    let (st, v, _) = parts(bad).await;
    assert_eq!(st, 401);
    assert_hs_error(&v, "INVALID_AUTHENTICATION");
    assert_eq!(
        manage(&sb, Method::GET, "/settings", Value::Null).await.0,
        404
    );
    let (st, v) = manage(
        &sb,
        Method::PUT,
        "/settings",
        json!({"targetUrl": "http://127.0.0.1:9/h", "throttling": {"maxConcurrentRequests": 3}}),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    // a new subscription starts paused; propertyChange needs an existing property
    let (st, v) = manage(
        &sb,
        Method::POST,
        "/subscriptions",
        json!({"eventType": "contact.propertyChange", "propertyName": "email"}),
    )
    .await;
    assert_eq!((st, &v["active"]), (201, &json!(false)));
    let id = v["id"].as_str().expect("id is a string [H-12]").to_string();
    let (st, _) = manage(
        &sb,
        Method::POST,
        "/subscriptions",
        json!({"eventType": "contact.propertyChange", "propertyName": "tte_customer_uri"}),
    )
    .await;
    assert_eq!(st, 400);
    let (st, v) = manage(
        &sb,
        Method::PATCH,
        &format!("/subscriptions/{id}"),
        json!({"active": true}),
    )
    .await;
    assert_eq!((st, &v["active"]), (200, &json!(true)));
    let (st, v) = manage(
        &sb,
        Method::POST,
        "/subscriptions/batch/update",
        json!({"inputs": [{"id": id.parse::<u64>().unwrap(), "active": false}]}),
    )
    .await;
    assert_eq!((st, &v["results"][0]["active"]), (200, &json!(false)));
    let (_, v) = manage(&sb, Method::GET, "/subscriptions", Value::Null).await;
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        manage(
            &sb,
            Method::DELETE,
            &format!("/subscriptions/{id}"),
            Value::Null
        )
        .await
        .0,
        204
    );
    assert_eq!(
        manage(&sb, Method::DELETE, "/settings", Value::Null)
            .await
            .0,
        204
    );
}

fn hex_sha256(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}

#[tokio::test]
async fn deliveries_are_signed_attributed_and_filtered() {
    let sb = start_default().await;
    let rx = Receiver::start("/hubspot/webhook").await;
    setup(&sb, &rx.url, &["firstname", "phone"]).await;
    let h = Hub::new(&sb);
    // private-app write: creation only (no propertyChange on create [H-17])
    let (_, v, _) = h
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "w@x.com", "firstname": "A"}}),
        )
        .await;
    let id: u64 = v["id"].as_str().unwrap().parse().unwrap();
    wait_until(10, "creation event", || rx.count() >= 1).await;
    // UI edit of firstname + phone + lastname (not subscribed) → 2 events
    sb.ui_update_contact(
        &id.to_string(),
        json!({"firstname": "B", "phone": "123", "lastname": "C"}),
    )
    .unwrap();
    wait_until(10, "ui events", || {
        rx.hits()
            .iter()
            .map(|h| h.json().as_array().unwrap().len())
            .sum::<usize>()
            >= 3
    })
    .await;
    let hits = rx.hits();
    let events: Vec<Value> = hits
        .iter()
        .flat_map(|h| h.json().as_array().unwrap().clone())
        .collect();
    assert_eq!(events.len(), 3, "{events:?}");
    let created = &events[0];
    assert_eq!(created["subscriptionType"], "contact.creation");
    assert_eq!(created["changeFlag"], "NEW");
    assert_eq!(created["objectId"], id);
    assert_eq!(created["changeSource"], "INTEGRATION");
    assert_eq!(created["sourceId"], sb.hubspot_private_app_id().to_string());
    assert_eq!(created["appId"], sb.hubspot_app_id());
    assert_eq!(created["portalId"], sb.hubspot_portal_id());
    assert_eq!(created["attemptNumber"], 0);
    assert!(
        created["subscriptionId"].is_u64()
            && created["eventId"].is_u64()
            && created["occurredAt"].is_i64()
    );
    let mut changed: Vec<(String, String)> = events[1..]
        .iter()
        .map(|e| {
            assert_eq!(e["subscriptionType"], "contact.propertyChange");
            assert_eq!(e["changeSource"], "CRM_UI");
            assert!(e["sourceId"].as_str().unwrap().starts_with("userId:"));
            (
                e["propertyName"].as_str().unwrap().into(),
                e["propertyValue"].as_str().unwrap().into(),
            )
        })
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        vec![
            ("firstname".into(), "B".into()),
            ("phone".into(), "123".into())
        ]
    );
    // signatures, computed independently
    let secret = sb.hubspot_client_secret();
    for hit in &hits {
        let hd = &hit.headers;
        assert_eq!(hd["x-hubspot-signature-version"], "v1");
        assert_eq!(
            hd["x-hubspot-signature"].to_str().unwrap(),
            hex_sha256(&[secret.as_bytes(), &hit.body])
        );
        let ts = hd["x-hubspot-request-timestamp"].to_str().unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(b"POST");
        mac.update(rx.url.as_bytes());
        mac.update(&hit.body);
        mac.update(ts.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD
            .decode(hd["x-hubspot-signature-v3"].to_str().unwrap())
            .unwrap();
        mac.verify_slice(&sig).expect("v3 signature verifies");
        assert!(hit.body.len() > 2 && hd["content-type"] == "application/json");
    }
    // deletion by the UI
    assert!(sb.ui_delete_contact(&id.to_string()));
    wait_until(10, "deletion event", || {
        rx.hits()
            .iter()
            .any(|h| h.json()[0]["subscriptionType"] == "contact.deletion")
    })
    .await;
}

#[tokio::test]
async fn oauth_writes_carry_the_app_id_and_retries_increment_attempt_number() {
    let sb = start_default().await;
    let rx = Receiver::start("/wh").await;
    setup(&sb, &rx.url, &["firstname"]).await;
    let token = crate::hubspot_oauth::obtain_token(&sb).await.0;
    let h = Hub::with_token(&sb, &token);
    rx.script([Answer::Status(500), Answer::Status(404)]);
    let (st, _, _) = h
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"firstname": "O"}}),
        )
        .await;
    assert_eq!(st, 201);
    wait_until(10, "third attempt", || rx.count() >= 3).await;
    let attempts: Vec<u64> = rx
        .hits()
        .iter()
        .map(|h| h.json()[0]["attemptNumber"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, vec![0, 1, 2]);
    let e = rx.hits()[2].json()[0].clone();
    assert_eq!(
        (e["changeSource"].as_str(), e["sourceId"].as_str()),
        (
            Some("INTEGRATION"),
            Some(sb.hubspot_app_id().to_string().as_str())
        )
    );
    wait_until(10, "delivery log", || {
        sb.deliveries(System::Hubspot).len() >= 3
    })
    .await;
    let d = sb.deliveries(System::Hubspot);
    assert_eq!(
        d.iter().map(|x| x.status).collect::<Vec<_>>(),
        vec![Some(500), Some(404), Some(200)]
    );
}

#[tokio::test]
async fn batches_hold_at_most_max_events() {
    let mut cfg = SandboxConfig::for_tests();
    cfg.webhooks.max_events = 3;
    cfg.webhooks.batch_window = std::time::Duration::from_millis(200);
    let sb = start(cfg).await;
    let rx = Receiver::start("/wh").await;
    setup(&sb, &rx.url, &[]).await;
    for i in 0..7 {
        sb.ui_create_contact(json!({"email": format!("b{i}@x.com")}))
            .unwrap();
    }
    wait_until(10, "7 events", || {
        rx.hits()
            .iter()
            .map(|h| h.json().as_array().unwrap().len())
            .sum::<usize>()
            == 7
    })
    .await;
    assert!(
        rx.hits()
            .iter()
            .all(|h| h.json().as_array().unwrap().len() <= 3)
    );
    assert!(rx.count() >= 3);
}

#[tokio::test]
async fn reordered_batches_still_deliver_every_event() {
    let mut cfg = SandboxConfig::for_tests();
    cfg.webhooks.batch_window = std::time::Duration::from_millis(100);
    cfg.hubspot_faults = sandbox::Faults {
        delivery_reorder_rate: 1.0,
        reorder_window: std::time::Duration::from_millis(50),
        ..Default::default()
    };
    let sb = start(cfg).await;
    let rx = Receiver::start("/wh").await;
    setup(&sb, &rx.url, &[]).await;
    for i in 0..6 {
        sb.ui_create_contact(json!({"email": format!("r{i}@x.com")}))
            .unwrap();
    }
    wait_until(10, "6 events", || {
        rx.hits()
            .iter()
            .map(|h| h.json().as_array().unwrap().len())
            .sum::<usize>()
            == 6
    })
    .await;
    let mut ids: Vec<u64> = rx
        .hits()
        .iter()
        .flat_map(|h| {
            h.json()
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["objectId"].as_u64().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6);
}

#[tokio::test]
async fn older_rule_does_not_retry_client_errors() {
    let mut cfg = SandboxConfig::for_tests();
    cfg.webhooks.retry_client_errors = false;
    let sb = start(cfg).await;
    let rx = Receiver::start("/wh").await;
    setup(&sb, &rx.url, &[]).await;
    rx.script([Answer::Status(404)]);
    sb.ui_create_contact(json!({"email": "n@x.com"})).unwrap();
    wait_until(10, "first attempt", || {
        !sb.deliveries(System::Hubspot).is_empty()
    })
    .await;
    // a later event still arrives, and the 404'd one was not retried
    sb.ui_create_contact(json!({"email": "m@x.com"})).unwrap();
    wait_until(10, "second delivery", || {
        sb.deliveries(System::Hubspot).len() >= 2
    })
    .await;
    let d = sb.deliveries(System::Hubspot);
    assert_eq!(d[0].status, Some(404));
    assert!(d.iter().all(|x| x.attempt == 0), "{d:?}");
}

#[tokio::test]
async fn max_concurrent_requests_bounds_deliveries_in_flight() {
    let mut cfg = SandboxConfig::for_tests();
    cfg.webhooks.max_events = 1;
    let sb = start(cfg).await;
    let rx = Receiver::start("/wh").await;
    rx.script(std::iter::repeat_n(
        Answer::Slow(std::time::Duration::from_millis(150)),
        12,
    ));
    let (st, _) = manage(
        &sb,
        Method::PUT,
        "/settings",
        json!({"targetUrl": rx.url, "throttling": {"maxConcurrentRequests": 6}}),
    )
    .await;
    assert_eq!(st, 200);
    manage(
        &sb,
        Method::POST,
        "/subscriptions",
        json!({"eventType": "contact.creation", "active": true}),
    )
    .await;
    for i in 0..12 {
        sb.ui_create_contact(json!({"email": format!("c{i}@x.com")}))
            .unwrap();
    }
    wait_until(10, "12 deliveries answered", || {
        sb.deliveries(System::Hubspot).len() == 12
    })
    .await;
    let max = rx
        .state
        .max_inflight
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!((2..=6).contains(&max), "max in flight {max}");
}

/// v3 signs the target URL after decoding `%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B`
/// (either case) and only those, as HubSpot documents; a receiver that rebuilds the URI by
/// that rule verifies the delivery, one hashing the raw target URL does not.
#[tokio::test]
async fn v3_signs_the_target_url_with_the_documented_escapes_decoded() {
    let sb = start_default().await;
    let rx = Receiver::start("/hubspot/webhook").await;
    let target = format!("{}?portal=a%3Ab%40c%2fd&keep=%20%2B%26&star=%2A", rx.url);
    setup(&sb, &target, &[]).await;
    let (st, _, _) = Hub::new(&sb)
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "sig@x.com"}}),
        )
        .await;
    assert_eq!(st, 201);
    wait_until(10, "creation event", || rx.count() >= 1).await;
    let hit = rx.hits().remove(0);
    let secret = sb.hubspot_client_secret();
    let ts = hit.headers["x-hubspot-request-timestamp"].to_str().unwrap();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(hit.headers["x-hubspot-signature-v3"].to_str().unwrap())
        .unwrap();
    let verifies = |uri: &str| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(b"POST");
        mac.update(uri.as_bytes());
        mac.update(&hit.body);
        mac.update(ts.as_bytes());
        mac.verify_slice(&sig).is_ok()
    };
    let decoded = format!("{}?portal=a:b@c/d&keep=%20%2B%26&star=*", rx.url);
    assert!(verifies(&decoded), "signed over {decoded}");
    assert!(!verifies(&target), "not over the raw target URL");
}
