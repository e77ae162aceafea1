//! 10to8 leaves a custom field without a value out of `custom_fields`; the sandbox can also show
//! it as `""` (its former shape). The reference mapping treats both alike: the same seeded
//! accounts sync to the same counts, every customer ends up linked, and the next runs write
//! nothing, whichever shape the customers come in.

use std::collections::BTreeMap;

use sandbox::{SandboxConfig, UnsetCustomFields};

use super::{World, custom, test_mapping};

/// Outbound then inbound over a seeded pair of accounts; the counts of each run.
async fn sync_both_ways(unset: UnsetCustomFields) -> Vec<BTreeMap<String, u64>> {
    let w = World::start(
        SandboxConfig {
            seed: 11,
            customers: 30,
            contacts: 10,
            tte_unset_custom_fields: unset,
            ..SandboxConfig::for_tests()
        },
        &test_mapping(),
    )
    .await;
    // the customers really come in the shape asked for
    let plain = w.sb.seed_report().plain_customers[0].clone();
    let listed = reqwest::Client::new()
        .get(&plain)
        .header("authorization", format!("token {}", w.sb.tte_api_key()))
        .send()
        .await
        .expect("read a customer")
        .json::<serde_json::Value>()
        .await
        .expect("json");
    let shown = listed["custom_fields"].get("Sync Status").cloned();
    match unset {
        UnsetCustomFields::Absent => assert_eq!(shown, None, "{listed}"),
        UnsetCustomFields::Empty => assert_eq!(shown, Some("".into()), "{listed}"),
    }
    let outbound = w.sync_json("outbound").await;
    let inbound = w.sync_json("inbound").await;
    let merged = w.sb.seed_report().merged;
    for (uri, c) in w.live_customers() {
        if !merged.contains(&uri) {
            assert!(!custom(&c, "External ID").is_empty(), "{uri} is linked");
        }
    }
    w.assert_next_run_writes_nothing("outbound", outbound.code.unwrap_or(-1))
        .await;
    w.assert_next_run_writes_nothing("inbound", inbound.code.unwrap_or(-1))
        .await;
    vec![outbound.counts(), inbound.counts()]
}

#[tokio::test(flavor = "multi_thread")]
async fn customers_without_custom_fields_or_with_empty_ones_sync_alike() {
    let absent = sync_both_ways(UnsetCustomFields::Absent).await;
    let empty = sync_both_ways(UnsetCustomFields::Empty).await;
    assert_eq!(absent, empty);
    assert!(absent[0]["created"] > 0, "{absent:?}");
}
