//! HubSpot's v3 signature covers the target URL with some escapes decoded (FIDELITY.md §2.11):
//! the real `mapsync serve`, configured by the reference mapping's `uri_decode`, verifies what
//! the sandbox signs for a target URL whose query holds such escapes, and refuses it without
//! that option. Every wait polls under a deadline.

use std::time::{Duration, Instant};

use sandbox::System;
use serde_json::json;

use super::harness::{Live, Opts, start};

/// Points HubSpot's deliveries at the webhook route with escapes in the query, and creates a
/// contact in the UI so one delivery is made.
async fn deliver_to_an_escaped_target(live: &Live) -> String {
    let sb = &live.sb;
    let target = format!(
        "{}/webhooks/hubspot?from=hub%3Aspot%40example.com%2Fapp&keep=%20%2B",
        live.base
    );
    let r = live
        .http
        .put(format!(
            "{}/webhooks/v3/{}/settings?hapikey={}",
            sb.hubspot_base_url(),
            sb.hubspot_app_id(),
            sb.hubspot_developer_api_key()
        ))
        .json(&json!({"targetUrl": target, "throttling": {"maxConcurrentRequests": 10}}))
        .send()
        .await
        .expect("settings");
    assert!(r.status().is_success(), "settings: {}", r.status());
    sb.ui_create_contact(json!({"email": "sig@example.com", "firstname": "Sig"}))
        .expect("create contact");
    target
}

/// The first answered delivery attempt to `target`, waited for under a deadline.
async fn first_answer(live: &Live, target: &str) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Some(status) = live
            .sb
            .deliveries(System::Hubspot)
            .iter()
            .filter(|a| a.url == target)
            .find_map(|a| a.status)
        {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no delivery to {target} was answered; log:\n{}", live.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_to_a_target_with_escapes_in_its_query_verify() {
    let live = start(Opts {
        delivering: vec![System::Hubspot],
        ..Opts::default()
    })
    .await;
    let target = deliver_to_an_escaped_target(&live).await;
    assert_eq!(first_answer(&live, &target).await, 200, "{}", live.log());
    live.until("the contact reaches 10to8", |sb| {
        sb.customers()
            .iter()
            .any(|c| c.emails.first().map(String::as_str) == Some("sig@example.com"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_uri_decode_the_same_deliveries_are_refused() {
    let live = start(Opts {
        delivering: vec![System::Hubspot],
        mapping: |m| {
            let line = m
                .lines()
                .find(|l| l.trim_start().starts_with("uri_decode:"))
                .expect("the reference mapping declares uri_decode")
                .to_string();
            m.replace(&format!("{line}\n"), "")
        },
        ..Opts::default()
    })
    .await;
    let target = deliver_to_an_escaped_target(&live).await;
    assert_eq!(first_answer(&live, &target).await, 401, "{}", live.log());
}
