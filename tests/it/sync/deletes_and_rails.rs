//! Deletes follow the pair's policy (not forced; a refusal is a per-record outcome and a dead
//! letter, not a crash), and the safety rails stop a sync before it writes.

use std::collections::BTreeMap;

use sandbox::System;

use super::{World, custom};

/// A contact archived in HubSpot deletes its linked 10to8 customer — without `force`, so a
/// customer with future bookings is refused (409): that record needs attention, the rest goes
/// on, and the deletion is not repeated by later runs.
#[tokio::test(flavor = "multi_thread")]
async fn inbound_deletes_follow_the_policy_and_a_refusal_is_an_outcome() {
    let w = World::seeded(21, 0, 10).await;
    w.sync_json("inbound").await.expect_code(0);
    let customers = w.live_customers();
    assert_eq!(customers.len(), 8);
    let by_contact: BTreeMap<String, String> = customers
        .values()
        .map(|c| (custom(c, "External ID"), c.resource_uri.clone()))
        .collect();
    let mut linked: Vec<&String> = by_contact.keys().collect();
    linked.sort();
    let (gone, booked) = (linked[0].clone(), linked[1].clone());
    assert!(w.sb.ui_delete_contact(&gone));
    assert!(w.sb.ui_delete_contact(&booked));
    assert!(w.sb.set_future_bookings(&by_contact[&booked], 2));

    w.clear_logs();
    let run = w.sync_json("inbound").await;
    run.expect_code(3);
    let c = run.counts();
    assert_eq!(
        (c["deleted"], c["refused"], c["failed"]),
        (1, 1, 0),
        "{run:#?}"
    );
    let deletes: Vec<String> = w
        .writes(System::Tte)
        .into_iter()
        .filter(|r| r.starts_with("DELETE"))
        .collect();
    assert_eq!(deletes.len(), 2, "{deletes:?}");
    assert!(
        deletes.iter().all(|d| d.contains("force=False")),
        "never forced by default: {deletes:?}"
    );
    let live = w.live_customers();
    assert!(
        !live.contains_key(&by_contact[&gone]),
        "the unbooked customer is deleted"
    );
    assert!(
        live.contains_key(&by_contact[&booked]),
        "the booked customer stays"
    );
    assert_eq!(live.len(), 7);

    // Later runs: the done deletion is not repeated; the refused one is tried again.
    w.clear_logs();
    let again = w.sync_json("inbound").await;
    let c = again.counts();
    assert_eq!((c["deleted"], c["refused"]), (0, 1), "{again:#?}");
    let deletes: Vec<String> = w
        .writes(System::Tte)
        .into_iter()
        .filter(|r| r.starts_with("DELETE"))
        .collect();
    assert_eq!(deletes.len(), 1, "only the refused one again: {deletes:?}");
}

/// `--max-creates` stops before the page that would pass it, having written nothing;
/// `--limit` syncs a sample.
#[tokio::test(flavor = "multi_thread")]
async fn max_creates_stops_before_writing_and_limit_syncs_a_sample() {
    let w = World::seeded(22, 20, 0).await;
    let run = w
        .sync(&["--direction", "outbound", "--max-creates", "5"], &[])
        .await;
    run.expect_code(4);
    assert!(run.stderr.contains("--max-creates"), "{run:#?}");
    assert_eq!(w.writes(System::Hubspot), Vec::<String>::new());
    assert_eq!(w.writes(System::Tte), Vec::<String>::new());

    let run = w
        .sync(&["--direction", "outbound", "--limit", "5", "--json"], &[])
        .await;
    run.expect_code(0);
    let c = run.counts();
    assert_eq!(c["seen"], 5, "{run:#?}");
    assert_eq!(c["created"] + c["skipped"] + c["conflicts"], 5);
    assert_eq!(w.live_contacts().len() as u64, c["created"]);
}

/// A credential whose variable is unset stops the sync before any request, and the message
/// names the variable (with the mapping's own hint), even when the rest of the header value is
/// there (`token ${TTE_API_KEY}`).
#[test]
fn a_missing_credential_names_its_variable() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args(["sync", "--direction", "outbound", "--mapping"])
        .arg(crate::util::root().join("mappings/hubspot.yaml"))
        .arg("--state")
        .arg(dir.path().join("state.db"))
        .env_clear()
        .output()
        .expect("run mapsync");
    assert_eq!(out.status.code(), Some(69), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("TTE_API_KEY is not set (set TTE_API_KEY to your 10to8 Enterprise API key)"),
        "{stderr}"
    );
}
