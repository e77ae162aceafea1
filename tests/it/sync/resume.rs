//! Kill and resume: `MAPSYNC_FAILPOINT` aborts the process (no destructors, no flush, like
//! `kill -9`) in the middle of a page, between a page's writes and its checkpoint, and right
//! after a batch create answered. A rerun without the failpoint loses nothing and creates
//! nothing twice, and a further run writes nothing.

use std::collections::BTreeMap;

use sandbox::System;

use super::{World, custom, prop};

/// Kills a `direction` sync at `failpoint`, reruns it, and checks the result record for record.
async fn kill_and_resume(direction: &str, failpoint: &str) {
    // 500 records: several pages of 100 on both sides (and so several batches outbound).
    let w = match direction {
        "inbound" => World::seeded(31, 0, 500).await,
        _ => World::seeded(32, 500, 0).await,
    };
    let killed = w
        .sync(
            &["--direction", direction, "--json"],
            &[("MAPSYNC_FAILPOINT", failpoint)],
        )
        .await;
    assert_eq!(
        killed.code, None,
        "the failpoint should abort the process: {killed:#?}"
    );
    assert!(
        killed.stderr.contains("failpoint") && killed.stderr.contains("aborting"),
        "{killed:#?}"
    );
    // The kill happened after some writes and before the last page.
    let (create_op, system) = match direction {
        "inbound" => ("customers.create", System::Tte),
        _ => ("contacts.batch.create", System::Hubspot),
    };
    let before = w.sb.count(system, create_op).ok;
    assert!(before > 0, "nothing was written before the kill");

    let resumed = w.sync_json(direction).await;
    let exit = if direction == "inbound" { 0 } else { 3 }; // outbound: the merged customers
    resumed.expect_code(exit);
    assert!(
        resumed.report()["resumed_at_page"].as_u64().is_some(),
        "the rerun resumes from the checkpoint: {resumed:#?}"
    );
    assert_eq!(resumed.counts()["failed"], 0, "{resumed:#?}");

    let seeded = w.sb.seed_report();
    let customers = w.live_customers();
    let contacts = w.live_contacts();
    match direction {
        "inbound" => {
            // Every live contact has exactly one customer, and each created customer names it.
            let mut by_contact: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (uri, c) in &customers {
                by_contact
                    .entry(custom(c, "External ID"))
                    .or_default()
                    .push(uri.clone());
            }
            assert_eq!(customers.len(), contacts.len(), "0 lost, 0 duplicates");
            for (id, c) in &contacts {
                let uris = by_contact.get(id).cloned().unwrap_or_default();
                assert_eq!(uris.len(), 1, "contact {id} → customers {uris:?}");
                assert_eq!(prop(c, "tte_customer_uri"), uris[0], "contact {id}");
            }
            // Each create the sandbox answered made one of these customers: none was repeated.
            assert_eq!(
                w.sb.count(System::Tte, "customers.create").ok as usize,
                customers.len()
            );
        }
        _ => {
            let mut by_uri: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (id, c) in &contacts {
                by_uri
                    .entry(prop(c, "tte_customer_uri"))
                    .or_default()
                    .push(id.clone());
            }
            let expected: Vec<&String> = customers
                .keys()
                .filter(|u| !seeded.merged.contains(u))
                .collect();
            assert_eq!(contacts.len(), expected.len(), "0 lost, 0 duplicates");
            for uri in expected {
                let ids = by_uri.get(uri).cloned().unwrap_or_default();
                assert_eq!(ids.len(), 1, "customer {uri} → contacts {ids:?}");
                assert_eq!(custom(&customers[uri], "External ID"), ids[0], "{uri}");
            }
            assert_eq!(w.sb.count(System::Hubspot, "contacts.create").total, 0);
        }
    }
    w.assert_next_run_writes_nothing(direction, exit).await;
}

/// 10to8 has no batch writes, so inbound writes one customer at a time: killed after the 30th
/// create of page 2, with more in flight.
#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_page_inbound_resumes_without_loss_or_duplicates() {
    kill_and_resume("inbound", "mid-page:2:30").await;
}

/// Every write and write-back of page 2 done, its checkpoint not committed.
#[tokio::test(flavor = "multi_thread")]
async fn killed_between_writes_and_checkpoint_inbound_resumes_without_loss_or_duplicates() {
    kill_and_resume("inbound", "before-commit:2").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_between_writes_and_checkpoint_outbound_resumes_without_loss_or_duplicates() {
    kill_and_resume("outbound", "before-commit:3").await;
}

/// Page 3's batch create answered, and nothing recorded of it: no link written back to 10to8,
/// nothing in the store.
#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_batch_outbound_resumes_without_loss_or_duplicates() {
    kill_and_resume("outbound", "after-batch:3").await;
}
