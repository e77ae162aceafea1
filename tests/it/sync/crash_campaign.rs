//! The crash campaign for `sync` (issue 12): not a kill at a moment chosen by chance, but every
//! failpoint of a full sync (`mapsync::runner::FAILPOINTS`, test builds only), in each
//! direction where the point exists, crashed at on purpose (`MAPSYNC_FAILPOINT` aborts the
//! process like `kill -9`). After each crash: rerun until a run gets every record through, and
//! check that nothing is lost, nothing was created twice, each pair is linked both ways, and a
//! further run writes nothing (both sides equal in every mapped field). The workers' points are
//! crashed at in `serve::crash`.

use sandbox::System;

use super::ambiguous::{assert_linked_once, sync_until_clean};
use super::{World, test_mapping};

/// The reference mapping without HubSpot's batch writes, so outbound creates are made one at
/// a time and pass the `mid-page` point.
fn without_batches() -> String {
    let m = test_mapping();
    let start = m
        .find("    batch:\n      create:")
        .expect("the batch section");
    let end = start
        + m[start..]
            .find("    webhook:")
            .expect("the webhook after it");
    format!("{}{}", &m[..start], &m[end..])
}

/// Where each failpoint is crashed at: page 2 of 3 (250 records, pages of 100), after its 30th
/// create for `mid-page`; `None` where the point does not exist in that direction (10to8 has
/// no batch create, so inbound never passes `after-batch`).
fn instance(point: &str, direction: &str) -> Option<String> {
    match (point, direction) {
        ("after-batch", "inbound") => None,
        ("mid-page", _) => Some("mid-page:2:30".into()),
        (p, _) => Some(format!("{p}:2")),
    }
}

async fn crash_and_recover(direction: &str, failpoint: &str, seed: u64) {
    let mapping = if failpoint.starts_with("mid-page") && direction == "outbound" {
        without_batches()
    } else {
        test_mapping()
    };
    let (customers, contacts) = match direction {
        "inbound" => (0, 250),
        _ => (250, 0),
    };
    let w = World::start(
        sandbox::SandboxConfig {
            seed,
            customers,
            contacts,
            ..sandbox::SandboxConfig::for_tests()
        },
        &mapping,
    )
    .await;
    let crashed = w
        .sync(
            &["--direction", direction, "--json"],
            &[("MAPSYNC_FAILPOINT", failpoint)],
        )
        .await;
    assert_eq!(
        crashed.code, None,
        "{direction} {failpoint}: the failpoint should abort the process: {crashed:#?}"
    );
    assert!(
        crashed.stderr.contains(&format!(
            "failpoint {}",
            failpoint.split(':').next().unwrap()
        )),
        "{crashed:#?}"
    );
    let (op, system) = match direction {
        "inbound" => ("customers.create", System::Tte),
        _ if mapping.contains("batch/create") => ("contacts.batch.create", System::Hubspot),
        _ => ("contacts.create", System::Hubspot),
    };
    assert!(
        w.sb.counters(system).get(op).is_some_and(|c| c.ok > 0),
        "{direction} {failpoint}: nothing was written before the crash"
    );
    let runs = sync_until_clean(&w, direction, 3).await;
    assert!(
        runs[0].report()["resumed_at_page"].as_u64().is_some(),
        "{direction} {failpoint}: the rerun resumes from the checkpoint: {runs:#?}"
    );
    assert_linked_once(&w, direction);
    // No create repeated: every create the target answered made one of the live records.
    let made = match direction {
        "inbound" => w.live_customers().len(),
        _ => w.live_contacts().len(),
    };
    // The resumed run's report counts what it and its crashed predecessor did: its `created`
    // is every record the target received, those of the crashed page found again included.
    assert_eq!(runs.len(), 1, "{direction} {failpoint}: {runs:#?}");
    assert_eq!(
        runs[0].counts()["created"],
        made as u64,
        "{direction} {failpoint}: {runs:#?}"
    );
    if !op.contains("batch") {
        assert_eq!(
            w.sb.counters(system)[op].ok,
            made as u64,
            "{direction} {failpoint}"
        );
    }
    let code = if direction == "inbound" { 0 } else { 3 }; // outbound: the merged customers
    w.assert_next_run_writes_nothing(direction, code).await;
}

/// Every sync failpoint, each direction: crash, recover, check.
#[tokio::test(flavor = "multi_thread")]
async fn every_sync_failpoint_in_each_direction_recovers_without_loss_or_duplicates() {
    let mut crashed = Vec::new();
    for (i, (point, in_sync, _)) in mapsync::runner::FAILPOINTS.iter().enumerate() {
        if !in_sync {
            continue;
        }
        for (j, direction) in ["inbound", "outbound"].into_iter().enumerate() {
            let Some(failpoint) = instance(point, direction) else {
                continue;
            };
            crash_and_recover(direction, &failpoint, 70 + (i * 2 + j) as u64).await;
            crashed.push(format!("{direction} {failpoint}"));
        }
    }
    // Each sync point was crashed at, in each direction where it exists.
    assert_eq!(crashed.len(), 7, "{crashed:?}");
}
