//! The OAuth install end to end against the sandbox, with a mapping that has no static token:
//! `/oauth/hubspot/start` → the sandbox's consent page → its redirect to
//! `/oauth/hubspot/callback` → tokens stored; the workers then sync with the stored token, and
//! after the sandbox expires every token the next call refreshes once and succeeds.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use sandbox::System;
use serde_json::{Value, json};

use super::harness::{Opts, start};
use super::live_faults::{creation_event, send_signed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_install_then_sync_then_refresh() {
    let live = start(Opts {
        static_token: false,
        env: vec![(
            "MAPSYNC_STATE_KEY".into(),
            "a-test-key-of-more-than-32-characters-0123".into(),
        )],
        ..Opts::default()
    })
    .await;
    let sb = &live.sb;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let location = |r: &reqwest::Response| -> String {
        r.headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .unwrap_or_else(|| panic!("no Location in a {}", r.status()))
    };

    // Before the install, HubSpot calls have no token.
    assert_eq!(sb.count(System::Hubspot, "oauth.token").total, 0);
    // Nobody starts an install without the operator's link.
    let r = http
        .get(format!("{}/oauth/hubspot/start", live.base))
        .send()
        .await
        .expect("start");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let out = live.mapsync(&[
        "oauth-link",
        "hubspot",
        "--mapping",
        "mapping.yaml",
        "--public-url",
        &live.base,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        link.starts_with(&format!("{}/oauth/hubspot/start?link=", live.base)),
        "{link}"
    );
    let r = http.get(&link).send().await.expect("start");
    assert_eq!(r.status(), StatusCode::FOUND);
    let consent = location(&r);
    assert!(
        consent.starts_with(&format!("{}/oauth/authorize?", sb.hubspot_base_url())),
        "{consent}"
    );
    assert!(consent.contains("state="), "{consent}");
    // The sandbox "user" approves: it redirects back with a code and the state.
    let r = http.get(&consent).send().await.expect("authorize");
    assert_eq!(r.status(), StatusCode::FOUND, "{:?}", r.text().await);
    let callback = location(&r);
    assert!(
        callback.starts_with(&format!("{}/oauth/hubspot/callback?", live.base)),
        "{callback}"
    );
    let r = http.get(&callback).send().await.expect("callback");
    assert!(r.status().is_success(), "callback: {}", r.status());
    assert_eq!(sb.count(System::Hubspot, "oauth.token").total, 1);
    // The tokens are sealed at rest: the state file and its WAL hold only sealed values.
    let file = |name: &str| std::fs::read(live.dir.path().join(name)).unwrap_or_default();
    let bytes = [file("mapping.state.db"), file("mapping.state.db-wal")].concat();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("sealed:v1:"), "the token row is sealed");
    assert!(
        !text.contains("sandbox-ort-"),
        "no refresh token in the clear"
    );
    assert!(
        !text.contains("sandbox-oat-"),
        "no access token in the clear"
    );
    // The install pinned the portal: a signed delivery from another portal is refused, and so
    // is an object id that is not digits (it would otherwise become a path).
    let mut foreign = creation_event(&live, 1, "42", jiff::Timestamp::now().as_millisecond());
    foreign["portalId"] = json!(sb.hubspot_portal_id() + 1);
    let foreign = Value::Array(vec![foreign]).to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        // The pinned account is re-read from the store at most every second.
        let status = send_signed(&live, &foreign).await.expect("send").status();
        if status == StatusCode::FORBIDDEN {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut traversal = creation_event(&live, 2, "42", jiff::Timestamp::now().as_millisecond());
    traversal["objectId"] = json!("../../../../webhooks/v3/1/settings");
    let traversal = Value::Array(vec![traversal]).to_string();
    let status = send_signed(&live, &traversal).await.expect("send").status();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The state is single-use.
    let again = http.get(&callback).send().await.expect("callback again");
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    // The workers read and write HubSpot with the stored token.
    let contact = sb
        .ui_create_contact(json!({"email": "oa@example.com", "firstname": "Oa", "lastname": "Uth"}))
        .expect("create contact");
    let id = match &contact["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    live.until("the customer exists and both links are written", |sb| {
        let linked = sb
            .customers()
            .into_iter()
            .find(|c| c.custom_fields.get("External ID") == Some(&id));
        let contact_link = sb.contact(&id).and_then(|c| c.get("tte_customer_uri"));
        matches!((linked, contact_link), (Some(c), Some(uri)) if c.resource_uri == uri)
    })
    .await;
    live.settle().await;
    let uri = sb
        .contact(&id)
        .and_then(|c| c.get("tte_customer_uri"))
        .expect("link");
    let bearer_calls = sb
        .requests(System::Hubspot)
        .iter()
        .filter(|r| r.path.starts_with("/crm/"))
        .count();
    assert!(bearer_calls >= 2, "the contact was read and written back");
    assert_eq!(
        sb.count(System::Hubspot, "oauth.token").total,
        1,
        "no refresh yet"
    );

    // Every access token expires: the next call gets a 401, refreshes once, and succeeds.
    sb.expire_oauth_tokens();
    live.clear();
    sb.ui_update_contact(&id, json!({"phone": "+49 1"}))
        .expect("edit");
    live.until("the phone reaches 10to8", |sb| {
        sb.customer(&uri)
            .is_some_and(|c| c.numbers.first().map(String::as_str) == Some("+49 1"))
    })
    .await;
    live.settle().await;
    assert_eq!(
        sb.count(System::Hubspot, "oauth.token").total,
        1,
        "exactly one refresh: {}",
        live.log()
    );
    let unauthorized = sb
        .requests(System::Hubspot)
        .iter()
        .filter(|r| r.status == Some(401))
        .count();
    assert_eq!(unauthorized, 1, "one 401, then the refreshed token");
    assert!(live.dead_letters().is_empty());

    // `mapsync sync` with the same mapping copy uses the stored token too (HubSpot is the
    // source inbound), and finds nothing to write.
    live.clear();
    let out = live.mapsync(&[
        "sync",
        "--mapping",
        "mapping.yaml",
        "--direction",
        "inbound",
    ]);
    assert!(
        out.status.success(),
        "sync: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let reads = sb.requests(System::Hubspot);
    assert!(
        reads.iter().any(|r| r.path.starts_with("/crm/")),
        "the sync read HubSpot"
    );
    assert!(reads.iter().all(|r| r.status != Some(401)), "{reads:?}");
    assert_eq!(live.writes(System::Tte, "customers.patch"), 0);
    assert_eq!(live.writes(System::Tte, "customers.create"), 0);
    assert_eq!(sb.count(System::Hubspot, "oauth.token").total, 0);
}
