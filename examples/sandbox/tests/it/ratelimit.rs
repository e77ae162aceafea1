//! Rate limits: HubSpot's 10-second window with headers and the 429 body; 10to8's token bucket;
//! the request log lets a test check Retry-After was honoured.

use crate::common::*;
use sandbox::{HubspotRateLimit, SandboxConfig, System, TteRateLimit};

#[tokio::test]
async fn hubspot_ten_secondly_limit_and_headers() {
    let sb = start(SandboxConfig {
        hubspot_rate_limit: HubspotRateLimit {
            private_app_per_10s: 3,
            ..HubspotRateLimit::documented()
        },
        ..SandboxConfig::for_tests()
    })
    .await;
    let h = Hub::new(&sb);
    for left in ["2", "1", "0"] {
        let (st, _, hd) = h.get("/crm/v3/objects/contacts").await;
        assert_eq!(st, 200);
        assert_eq!(hd["x-hubspot-ratelimit-interval-milliseconds"], "10000");
        assert_eq!(hd["x-hubspot-ratelimit-max"], "3");
        assert_eq!(hd["x-hubspot-ratelimit-remaining"], left);
    }
    let (st, v, hd) = h.get("/crm/v3/objects/contacts").await;
    assert_eq!(st, 429);
    assert_eq!(hd["x-hubspot-ratelimit-max"], "3");
    assert_eq!(v["errorType"], "RATE_LIMIT");
    assert_eq!(v["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(v["status"], "error");
    assert_uuid(&v["correlationId"]);
    let ra: u64 = hd["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&ra));
    let last = sb.requests(System::Hubspot).pop().unwrap();
    assert_eq!((last.status, last.retry_after), (Some(429), Some(ra)));
    // search has its own 5/s limit and no headers
    sb.set_hubspot_rate_limit(HubspotRateLimit::documented());
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (st, _, hd) = h
            .post("/crm/v3/objects/contacts/search", serde_json::json!({}))
            .await;
        assert!(hd.get("x-hubspot-ratelimit-remaining").is_none());
        statuses.push(st);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        1,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn tte_token_bucket() {
    let sb = start(SandboxConfig {
        tte_rate_limit: TteRateLimit {
            enabled: true,
            per_second: 1.0,
            burst: 2,
        },
        ..SandboxConfig::for_tests()
    })
    .await;
    let t = Tte::new(&sb);
    assert_eq!(t.get("/customer/").await.0, 200);
    assert_eq!(t.get("/customer/").await.0, 200);
    let (st, v, hd) = t.get("/customer/").await;
    assert_eq!(st, 429);
    assert_eq!(hd["retry-after"], "1");
    assert_eq!(
        v["detail"],
        "Request was throttled. Expected available in 1 seconds."
    );
}

#[tokio::test]
async fn retry_after_violations_are_detected() {
    use sandbox::{Faults, ScriptedFault};
    let sb = start_default().await;
    sb.set_faults(
        System::Tte,
        Faults {
            scripted: vec![ScriptedFault {
                status: 429,
                count: 1,
                retry_after_secs: Some(30),
                ..Default::default()
            }],
            ..Faults::default()
        },
    );
    let t = Tte::new(&sb);
    assert_eq!(t.get("/customer/").await.0, 429);
    // a different request is not a retry of the throttled one
    assert_eq!(t.get("/customer/?limit=5").await.0, 200);
    assert!(sb.retry_after_violations(System::Tte).is_empty());
    // the same request again, at once: a violation
    assert_eq!(t.get("/customer/").await.0, 200);
    let v = sb.retry_after_violations(System::Tte);
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].throttled.status, v[0].early.status),
        (Some(429), Some(200))
    );
}

/// `PUT /_sandbox/ratelimit {"enabled":true}` alone turns on the documented limits of each
/// system (HubSpot 100 / 10 s private app, 110 OAuth, search 5/s; 10to8 10/s, burst 10), not a
/// limit of 0 or 1 from empty fields.
#[tokio::test]
async fn enabling_the_rate_limit_alone_gives_the_documented_figures() {
    let sb = start_default().await;
    let c = client();
    for (root, want) in [
        (
            sb.hubspot_base_url(),
            serde_json::json!({"enabled": true, "private_app_per_10s": 100, "oauth_per_10s": 110, "search_per_second": 5, "private_app_daily": 250000}),
        ),
        (
            sb.tte_root_url(),
            serde_json::json!({"enabled": true, "per_second": 10.0, "burst": 10}),
        ),
    ] {
        let put: serde_json::Value = c
            .put(format!("{root}/_sandbox/ratelimit"))
            .json(&serde_json::json!({"enabled": true}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(put, want, "{root}");
        let got: serde_json::Value = c
            .get(format!("{root}/_sandbox/ratelimit"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(got, want, "{root}");
    }
    // Many requests in a row stay under the documented budget: no 429 for the first ten.
    let t = Tte::new(&sb);
    for _ in 0..10 {
        assert_eq!(t.get("/customer/").await.0, 200);
    }
}

/// A 429 from the rate limit carries the documented `X-HubSpot-RateLimit-*` headers as an
/// ordinary answer does (§2.7): interval, `Max` (it was missing) and `Remaining` 0, and for the
/// private app the daily figures; OAuth tokens get no daily headers. The private app's daily
/// budget runs out with a `DAILY` 429. A scripted 429 (a fault) reports no window.
#[tokio::test]
async fn a_429_carries_the_documented_rate_limit_headers() {
    use sandbox::{Faults, ScriptedFault};
    let sb = start(SandboxConfig {
        hubspot_rate_limit: HubspotRateLimit {
            private_app_per_10s: 2,
            private_app_daily: 3,
            ..HubspotRateLimit::documented()
        },
        ..SandboxConfig::for_tests()
    })
    .await;
    let h = Hub::new(&sb);
    let (st, _, hd) = h.get("/crm/v3/objects/contacts").await;
    assert_eq!(st, 200);
    assert_eq!(hd["x-hubspot-ratelimit-daily"], "3");
    assert_eq!(hd["x-hubspot-ratelimit-daily-remaining"], "2");
    assert_eq!(h.get("/crm/v3/objects/contacts").await.0, 200);
    let (st, v, hd) = h.get("/crm/v3/objects/contacts").await;
    assert_eq!(st, 429, "{v}");
    assert_eq!(v["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(hd["x-hubspot-ratelimit-interval-milliseconds"], "10000");
    assert_eq!(hd["x-hubspot-ratelimit-max"], "2");
    assert_eq!(hd["x-hubspot-ratelimit-remaining"], "0");
    assert_eq!(hd["x-hubspot-ratelimit-daily"], "3");
    assert_eq!(hd["x-hubspot-ratelimit-daily-remaining"], "1");
    // the daily budget: a fresh window (a new limiter state) with one request left today
    sb.set_hubspot_rate_limit(HubspotRateLimit {
        private_app_daily: 1,
        ..HubspotRateLimit::documented()
    });
    assert_eq!(h.get("/crm/v3/objects/contacts").await.0, 200);
    let (st, v, hd) = h.get("/crm/v3/objects/contacts").await;
    assert_eq!(st, 429, "{v}");
    assert_eq!(v["policyName"], "DAILY");
    assert_eq!(v["message"], "You have reached your daily limit.");
    assert_uuid(&v["requestId"]);
    assert_eq!(hd["x-hubspot-ratelimit-max"], "100");
    assert_eq!(hd["x-hubspot-ratelimit-daily-remaining"], "0");
    let ra: u64 = hd["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&ra), "until midnight UTC: {ra}");
    // a scripted 429 stands for any throttling: Retry-After, no window
    sb.set_hubspot_rate_limit(HubspotRateLimit::default());
    sb.set_faults(
        System::Hubspot,
        Faults {
            scripted: vec![ScriptedFault {
                status: 429,
                count: 1,
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    let (st, _, hd) = h.get("/crm/v3/objects/contacts").await;
    assert_eq!(st, 429);
    assert_eq!(hd["retry-after"], "1");
    assert!(hd.get("x-hubspot-ratelimit-remaining").is_none());
    // OAuth tokens: no daily headers
    sb.set_hubspot_rate_limit(HubspotRateLimit {
        oauth_per_10s: 1,
        ..HubspotRateLimit::documented()
    });
    let (access, _) = crate::hubspot_oauth::obtain_token(&sb).await;
    let o = Hub::with_token(&sb, &access);
    assert_eq!(o.get("/crm/v3/objects/contacts").await.0, 200);
    let (st, _, hd) = o.get("/crm/v3/objects/contacts").await;
    assert_eq!(st, 429);
    assert_eq!(hd["x-hubspot-ratelimit-max"], "1");
    assert!(hd.get("x-hubspot-ratelimit-daily").is_none());
}
