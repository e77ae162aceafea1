//! `serve` under the faults of issue 12's "done when": lost answers (the request applied, then
//! a 504 or a dropped connection) on 10 % of creates and updates, 20 % 503, 5 % 429 with
//! `Retry-After`, 2 % dropped connections, on both systems, while contacts are created and
//! edited in HubSpot (100 creations and 400 edits). Every contact crosses once: 0 duplicate
//! customers, 0 lost, linked both ways, no dead letter, no request repeated before its
//! `Retry-After`, and a full sync afterwards writes nothing (both sides equal).

use std::time::{Duration, Instant};

use sandbox::{AfterApply, Faults, SandboxConfig, System, WebhookConfig};
use serde_json::json;

use super::crash::unthrottled;
use super::harness::{Opts, start};

/// Contacts created, then each edited `EDITS` times: 500 live changes (100 creations and 400
/// edits; the sandbox coalesces nothing, each change is its own webhook event).
const CONTACTS: usize = 100;

/// Edits per contact.
const EDITS: usize = 4;

fn faults(after: AfterApply) -> Faults {
    Faults {
        apply_then_fail_rate: 0.10,
        apply_then_fail: after,
        apply_then_fail_methods: vec!["POST".into(), "PATCH".into()],
        error_rate: 0.20,
        error_statuses: vec![503],
        throttle_rate: 0.05,
        retry_after_secs: 1,
        drop_rate: 0.02,
        ..Faults::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_creates_and_edits_under_lost_answers_503s_429s_and_resets_cross_once() {
    let defaults = SandboxConfig::for_tests();
    let mut live = start(Opts {
        sandbox: SandboxConfig {
            seed: 121,
            customers: 0,
            contacts: 0,
            precreate_custom_properties: true,
            webhooks: WebhookConfig {
                retry_delays: vec![Duration::from_millis(500); 9],
                max_attempts: 10,
                ..defaults.webhooks.clone()
            },
            ..defaults
        },
        mapping: |m| {
            let m = unthrottled(m);
            // Fast retries inside a call, and more of them, as in the sync tests.
            m.replace(
                "max_attempts: 6, base_delay: 500ms, max_delay: 30s",
                "max_attempts: 15, base_delay: 10ms, max_delay: 100ms",
            )
            .replace(
                "max_attempts: 8, base_delay: 1s, max_delay: 30s",
                "max_attempts: 15, base_delay: 10ms, max_delay: 100ms",
            )
        },
        ..Opts::default()
    })
    .await;
    let sb = live.sb.clone();
    sb.set_faults(System::Tte, faults(AfterApply::Status(504)));
    sb.set_faults(System::Hubspot, faults(AfterApply::Drop));
    let mut ids = Vec::new();
    for i in 0..CONTACTS {
        let c = sb
            .ui_create_contact(json!({"email": format!("l{i}@example.com"),
                "firstname": format!("L{i}"), "lastname": "Lost", "phone": "+1 0"}))
            .expect("create a contact");
        ids.push(
            c["id"]
                .as_str()
                .map(String::from)
                .unwrap_or(c["id"].to_string()),
        );
    }
    for round in 1..=EDITS {
        for (i, id) in ids.iter().enumerate() {
            sb.ui_update_contact(id, json!({"phone": format!("+{round} {i}")}))
                .expect("edit");
        }
    }
    let crossed = |sb: &sandbox::SandboxHandle| {
        ids.iter().enumerate().all(|(i, id)| {
            sb.contact(id)
                .and_then(|c| c.get("tte_customer_uri"))
                .and_then(|u| sb.customer(&u))
                .is_some_and(|cu| {
                    cu.custom_fields.get("External ID") == Some(id)
                        && cu.numbers.first().map(String::as_str) == Some(&format!("+{EDITS} {i}"))
                })
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !crossed(&sb) {
        assert!(
            Instant::now() < deadline,
            "not every contact crossed; dead letters {:?}",
            live.dead_letters()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for system in [System::Tte, System::Hubspot] {
        let violations = sb.retry_after_violations(system);
        assert!(violations.is_empty(), "{violations:#?}");
    }
    let lost_answers = sb
        .requests(System::Tte)
        .iter()
        .filter(|r| r.fault.as_deref() == Some("apply-then-fail"))
        .count();
    assert!(lost_answers > 0, "no lost answer was injected");
    sb.set_faults(System::Tte, Faults::default());
    sb.set_faults(System::Hubspot, Faults::default());
    live.settle().await;
    let customers = sb.customers();
    assert_eq!(customers.len(), CONTACTS, "0 duplicates, 0 lost");
    assert!(live.dead_letters().is_empty(), "{:?}", live.dead_letters());
    // Both sides equal: with serve stopped, a full inbound sync finds nothing to write.
    live.kill9();
    sb.clear_log(System::Tte);
    sb.clear_log(System::Hubspot);
    let out = live.mapsync(&[
        "sync",
        "--mapping",
        "mapping.yaml",
        "--direction",
        "inbound",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for system in [System::Tte, System::Hubspot] {
        let writes: Vec<String> = sb
            .requests(system)
            .into_iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert!(writes.is_empty(), "{writes:?}");
    }
}
