//! One pair, one worker, under the real `mapsync serve`: two-sided edits to different fields of
//! linked pairs, made at the same moment (issue 11's scenario 4), lose nothing and leave no
//! pair different; and `sync` runs in a loop beside `serve` under live edits without losing an
//! edit or aborting a page.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::harness::{Live, Opts, start};

/// Linked pairs: 10to8 customer URI → HubSpot contact id.
type Pairs = BTreeMap<String, String>;

/// `n` customers "Pat Smith<i>" with an email and a phone, linked to new contacts by a full
/// sync outbound before the server is subscribed to any delivery.
async fn linked_pairs(n: usize, workers: usize) -> (Live, Pairs) {
    let live = start(Opts {
        subscribe: false,
        workers,
        ..Opts::default()
    })
    .await;
    for i in 0..n {
        live.sb
            .ui_create_customer(json!({"name": format!("Pat Smith{i}"),
                                       "emails": [format!("pat{i}@example.com")],
                                       "numbers": [format!("+44 7700 100{i:03}")]}))
            .expect("create customer");
    }
    let out = live.mapsync(&[
        "sync",
        "--mapping",
        "mapping.yaml",
        "--direction",
        "outbound",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let pairs: Pairs = live
        .sb
        .customers()
        .into_iter()
        .map(|c| {
            let contact = c
                .custom_fields
                .get("External ID")
                .cloned()
                .unwrap_or_default();
            assert!(!contact.is_empty(), "{} is linked", c.resource_uri);
            (c.resource_uri, contact)
        })
        .collect();
    assert_eq!(pairs.len(), n);
    live.subscribe().await;
    (live, pairs)
}

/// What each pair must hold: customer URI → (name, phone).
type Expected = BTreeMap<String, (String, String)>;

/// Every pair that does not hold its expected name and phone on both sides, described.
fn differences(live: &Live, pairs: &Pairs, expected: &Expected) -> Vec<String> {
    let mut out = Vec::new();
    for (uri, contact_id) in pairs {
        let (name, phone) = &expected[uri];
        let customer = live.sb.customer(uri).expect("customer");
        let contact = live.sb.contact(contact_id).expect("contact");
        let last = name.rsplit(' ').next().unwrap_or_default();
        let got = (
            customer.name.clone(),
            customer.numbers.first().cloned().unwrap_or_default(),
            contact.get("lastname").unwrap_or_default(),
            contact.get("phone").unwrap_or_default(),
        );
        if (
            got.0.as_str(),
            got.1.as_str(),
            got.2.as_str(),
            got.3.as_str(),
        ) != (name.as_str(), phone.as_str(), last, phone.as_str())
        {
            out.push(format!(
                "{uri} ↔ {contact_id}: want {name:?} {phone:?}, got customer {:?} {:?}, contact {:?} {:?}",
                got.0, got.1, got.2, got.3
            ));
        }
    }
    out
}

/// Waits until every delivery succeeded, the inbox is empty and nothing new arrived for a few
/// polls, within `limit` (the sandbox paces HubSpot's webhook batches, so 100 pairs' echoes
/// take longer than the harness's usual wait).
async fn settle_within(live: &Live, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut last = (usize::MAX, u64::MAX);
    let mut stable = 0;
    while stable < 4 {
        assert!(
            Instant::now() < deadline,
            "mapsync did not settle: {}",
            live.log()
        );
        let (n, ok) = live.delivered();
        let depth = live.metric("mapsync_inbox_depth").await;
        let processed = live
            .metric("mapsync_records_processed_total")
            .await
            .unwrap_or(0);
        if ok && depth == Some(0) && (n, processed) == last {
            stable += 1;
        } else {
            stable = 0;
        }
        last = (n, processed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every pair holds what it must, then until serve settled, and checks again.
async fn converge(live: &Live, pairs: &Pairs, expected: &Expected, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let diff = differences(live, pairs, expected);
        if diff.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} pairs differ:\n{}\nlog:\n{}",
            diff.len(),
            diff.join("\n"),
            live.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    settle_within(live, limit).await;
    let diff = differences(live, pairs, expected);
    assert!(diff.is_empty(), "after settling:\n{}", diff.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_edits_to_both_records_of_100_pairs_all_survive() {
    let (live, pairs) = linked_pairs(100, 4).await;
    settle_within(&live, Duration::from_secs(60)).await;
    // For every pair at the same moment: a rename in 10to8 and a phone change in HubSpot.
    let mut expected = Expected::new();
    for (i, (uri, contact)) in pairs.iter().enumerate() {
        let name = format!("Pat Jones{i}");
        let phone = format!("+44 7700 200{i:03}");
        live.sb
            .ui_update_customer(uri, json!({"name": name}))
            .expect("rename");
        live.sb
            .ui_update_contact(contact, json!({"phone": phone}))
            .expect("phone");
        expected.insert(uri.clone(), (name, phone));
    }
    converge(&live, &pairs, &expected, Duration::from_secs(120)).await;
    assert_eq!(live.sb.customers().len(), 100);
    assert_eq!(live.sb.contacts().len(), 100);
    assert!(live.dead_letters().is_empty(), "{:?}", live.dead_letters());
}

/// Runs `mapsync sync --direction <d> --json` and returns (exit code, report).
fn sync(live: &Live, direction: &str) -> (Option<i32>, Value) {
    let out = live.mapsync(&[
        "sync",
        "--mapping",
        "mapping.yaml",
        "--direction",
        direction,
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|v| v.get("report").cloned())
        .unwrap_or(Value::Null);
    assert!(
        !report.is_null(),
        "sync --direction {direction} exited {:?} without a report: {stdout}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), report)
}

/// `sync` in a loop (each direction in turn) beside `serve` while people edit both sides, with
/// the faults on both systems: lost answers on 10 % of creates and updates, 20 % 503,
/// 2 % dropped connections (and 5 % 429 in the soak size). No run aborts (a run may end with
/// failed records, exit 3: the next one or the workers retry them), every edit survives, and
/// afterwards a full sync each way writes nothing.
///
/// Size: 60 pairs × 3 waves = 180 live edits in CI, without 429s (each one stalls its system for
/// a second); `MAPSYNC_SOAK=1` runs 100 pairs × 5 waves = 500 live edits with the 429s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_in_a_loop_beside_serve_under_live_edits_and_faults_loses_nothing() {
    let n = crate::util::scale(60, 100);
    let waves = crate::util::scale(3, 5);
    let (live, pairs) = linked_pairs(n, 2).await;
    settle_within(&live, Duration::from_secs(60)).await;
    let faults = |after| sandbox::Faults {
        apply_then_fail_rate: 0.10,
        apply_then_fail: after,
        apply_then_fail_methods: vec!["POST".into(), "PATCH".into()],
        error_rate: 0.20,
        error_statuses: vec![503],
        throttle_rate: if crate::util::scale(0, 1) == 1 {
            0.05
        } else {
            0.0
        },
        retry_after_secs: 1,
        drop_rate: 0.02,
        ..sandbox::Faults::default()
    };
    live.sb.set_faults(
        sandbox::System::Tte,
        faults(sandbox::AfterApply::Status(504)),
    );
    live.sb
        .set_faults(sandbox::System::Hubspot, faults(sandbox::AfterApply::Drop));
    let live = std::sync::Arc::new(live);
    let looping = {
        let live = live.clone();
        tokio::task::spawn_blocking(move || {
            let mut runs = Vec::new();
            for round in 0..4 {
                let direction = if round % 2 == 0 {
                    "inbound"
                } else {
                    "outbound"
                };
                runs.push((direction, sync(&live, direction)));
            }
            runs
        })
    };
    // Live edits meanwhile, on both sides, in waves.
    let mut expected: Expected = pairs
        .keys()
        .map(|uri| {
            let c = live.sb.customer(uri).expect("customer");
            (uri.clone(), (c.name.clone(), c.numbers[0].clone()))
        })
        .collect();
    for wave in 0..waves {
        for (i, (uri, contact)) in pairs.iter().enumerate() {
            let entry = expected.get_mut(uri).expect("pair");
            if (i + wave) % 2 == 0 {
                entry.0 = format!("Pat Wave{wave}x{i}");
                live.sb
                    .ui_update_customer(uri, json!({"name": entry.0}))
                    .expect("rename");
            } else {
                entry.1 = format!("+44 7700 3{wave}{i:04}");
                live.sb
                    .ui_update_contact(contact, json!({"phone": entry.1}))
                    .expect("phone");
            }
        }
        // Paces the waves so the loop's runs overlap them; nothing waits on this.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let runs = looping.await.expect("sync loop");
    for (direction, (code, report)) in &runs {
        assert!(
            matches!(code, Some(0) | Some(3)),
            "sync --direction {direction} aborted (exit {code:?}): {report}"
        );
    }
    live.sb
        .set_faults(sandbox::System::Tte, sandbox::Faults::default());
    live.sb
        .set_faults(sandbox::System::Hubspot, sandbox::Faults::default());
    converge(&live, &pairs, &expected, Duration::from_secs(180)).await;
    // Both sides are equal now: a full sync each way writes nothing.
    for direction in ["outbound", "inbound"] {
        let (code, report) = sync(&live, direction);
        assert_eq!(code, Some(0), "{report}");
        let counts = &report["counts"];
        assert_eq!(
            (
                counts["created"].as_u64(),
                counts["updated"].as_u64(),
                counts["deleted"].as_u64()
            ),
            (Some(0), Some(0), Some(0)),
            "{direction}: {report}"
        );
    }
    assert_eq!(live.sb.customers().len(), n);
    assert_eq!(live.sb.contacts().len(), n);
    for system in [sandbox::System::Tte, sandbox::System::Hubspot] {
        let violations = live.sb.retry_after_violations(system);
        assert!(violations.is_empty(), "{violations:#?}");
    }
}
