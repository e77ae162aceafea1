//! Fault injection: error and 429 answers, dropped connections, scripted faults, latency,
//! delivery drops and duplicates; all logged.

use crate::common::*;
use sandbox::{Faults, SandboxConfig, ScriptedFault, System};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn error_throttle_and_drop_shares_are_applied_and_logged() {
    let sb = start(SandboxConfig {
        seed: 7,
        tte_faults: Faults {
            error_rate: 0.3,
            throttle_rate: 0.2,
            retry_after_secs: 2,
            drop_rate: 0.1,
            ..Faults::default()
        },
        ..SandboxConfig::for_tests()
    })
    .await;
    let t = Tte::new(&sb);
    let (mut ok, mut err, mut thr, mut dropped) = (0, 0, 0, 0);
    for _ in 0..100 {
        let r =
            t.c.get(t.url("/customer/"))
                .header("authorization", format!("token {}", t.key))
                .send()
                .await;
        match r {
            Err(_) => dropped += 1,
            Ok(r) => match r.status().as_u16() {
                200 => ok += 1,
                429 => {
                    assert_eq!(r.headers()["retry-after"], "2");
                    let v: serde_json::Value = r.json().await.unwrap();
                    assert_eq!(
                        v["detail"],
                        "Request was throttled. Expected available in 2 seconds."
                    );
                    thr += 1
                }
                500 | 503 => err += 1,
                s => panic!("unexpected {s}"),
            },
        }
    }
    assert!(
        ok > 20 && err > 10 && thr > 3 && dropped > 2,
        "ok {ok} err {err} thr {thr} dropped {dropped}"
    );
    let log = sb.requests(System::Tte);
    assert_eq!(log.len(), 100);
    assert_eq!(log.iter().filter(|l| l.status.is_none()).count(), dropped);
    assert!(
        log.iter()
            .filter(|l| l.status == Some(429))
            .all(|l| l.retry_after == Some(2))
    );
    // faults can be switched off at run time
    sb.set_faults(System::Tte, Faults::default());
    assert_eq!(t.get("/customer/").await.0, 200);
}

#[tokio::test]
async fn scripted_faults_and_latency() {
    let sb = start_default().await;
    sb.set_faults(
        System::Hubspot,
        Faults {
            scripted: vec![
                ScriptedFault {
                    method: Some("POST".into()),
                    path_contains: Some("/contacts".into()),
                    status: 503,
                    count: 1,
                    ..Default::default()
                },
                ScriptedFault {
                    status: 429,
                    count: 1,
                    retry_after_secs: Some(3),
                    ..Default::default()
                },
            ],
            latency: Duration::from_millis(30),
            ..Faults::default()
        },
    );
    let h = Hub::new(&sb);
    let (st, v, _) = h
        .post("/crm/v3/objects/contacts", json!({"properties": {}}))
        .await;
    assert_eq!(st, 503);
    assert_hs_error(&v, "SERVICE_UNAVAILABLE");
    let (st, v, hd) = h.get("/crm/v3/objects/contacts").await;
    assert_eq!((st, hd["retry-after"].to_str().unwrap()), (429, "3"));
    assert_eq!(
        (v["errorType"].as_str(), v["policyName"].as_str()),
        (Some("RATE_LIMIT"), Some("TEN_SECONDLY_ROLLING"))
    );
    let (st, _, _) = h.get("/crm/v3/objects/contacts").await;
    assert_eq!(st, 200);
    let log = sb.requests(System::Hubspot);
    assert_eq!(log[0].fault.as_deref(), Some("scripted"));
    assert!(log[2].answered.duration_since(log[2].received) >= Duration::from_millis(30));
}

#[tokio::test]
async fn delivery_drop_and_duplicate() {
    let sb = start_default().await;
    let rx = Receiver::start("/hook").await;
    let t = Tte::new(&sb);
    t.send(
        reqwest::Method::POST,
        "/subscription/",
        Some(json!({"callback_url": rx.url, "scope": "customer"})),
    )
    .await;
    sb.set_faults(
        System::Tte,
        Faults {
            delivery_drop_rate: 1.0,
            ..Faults::default()
        },
    );
    sb.ui_create_customer(json!({"name": "Lost"})).unwrap();
    wait_until(10, "dropped delivery logged", || {
        !sb.deliveries(System::Tte).is_empty()
    })
    .await;
    assert_eq!(
        sb.deliveries(System::Tte)[0].error.as_deref(),
        Some("dropped by fault")
    );
    sb.set_faults(
        System::Tte,
        Faults {
            delivery_duplicate_rate: 1.0,
            ..Faults::default()
        },
    );
    sb.ui_create_customer(json!({"name": "Twice"})).unwrap();
    wait_until(10, "duplicate delivered", || rx.count() == 2).await;
    assert_eq!(rx.hits()[0].body, rx.hits()[1].body);
}

/// "Apply, then fail": the request takes effect, then the client gets a 504, a dropped
/// connection or no answer at all; only the configured methods are hit, and the log says so.
#[tokio::test]
async fn apply_then_fail_applies_the_request_then_answers_a_failure() {
    let sb = start(SandboxConfig {
        seed: 3,
        tte_faults: Faults {
            apply_then_fail_rate: 1.0,
            apply_then_fail_methods: vec!["POST".into()],
            ..Faults::default()
        },
        ..SandboxConfig::for_tests()
    })
    .await;
    let t = Tte::new(&sb);
    // A create answered 504 did create the customer.
    let (st, _, _) = t
        .send(
            reqwest::Method::POST,
            "/customer/",
            Some(json!({"name": "Lost Answer", "email": "lost@example.com"})),
        )
        .await;
    assert_eq!(st, 504);
    let made: Vec<_> = sb
        .customers()
        .into_iter()
        .filter(|c| c.name == "Lost Answer")
        .collect();
    assert_eq!(made.len(), 1, "the create took effect");
    // Other methods are served as usual.
    assert_eq!(t.get("/customer/").await.0, 200);
    let log = sb.requests(System::Tte);
    assert_eq!(log[0].fault.as_deref(), Some("apply-then-fail"));
    assert_eq!(log[0].status, Some(504));
    assert_eq!(log[1].fault, None);

    // A dropped connection after the update landed.
    let uri = made[0].resource_uri.clone();
    sb.set_faults(
        System::Tte,
        Faults {
            scripted: vec![ScriptedFault {
                method: Some("PATCH".into()),
                status: 0,
                count: 1,
                apply_first: true,
                ..Default::default()
            }],
            ..Faults::default()
        },
    );
    let r =
        t.c.patch(&uri)
            .header("authorization", format!("token {}", t.key))
            .json(&json!({"name": "Renamed"}))
            .send()
            .await;
    assert!(r.is_err(), "the connection is dropped: {r:?}");
    assert_eq!(sb.customer(&uri).unwrap().name, "Renamed");
    let last = sb.requests(System::Tte).pop().unwrap();
    assert_eq!(
        (last.status, last.fault.as_deref()),
        (None, Some("apply-then-drop"))
    );

    // No answer at all: the client times out, and the delete took effect.
    sb.set_faults(
        System::Tte,
        Faults {
            apply_then_fail_rate: 1.0,
            apply_then_fail: sandbox::AfterApply::Timeout,
            apply_then_fail_methods: vec!["DELETE".into()],
            ..Faults::default()
        },
    );
    let r =
        t.c.delete(&uri)
            .header("authorization", format!("token {}", t.key))
            .timeout(Duration::from_millis(300))
            .send()
            .await;
    assert!(r.is_err_and(|e| e.is_timeout()));
    assert!(sb.customer(&uri).unwrap().deleted);
}
