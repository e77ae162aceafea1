//! HubSpot search: operators, paging by offset, and the documented limits.

use crate::common::*;
use sandbox::SandboxConfig;
use serde_json::{Value, json};

#[tokio::test]
async fn search_filters_and_pages() {
    let sb = start(SandboxConfig {
        contacts: 30,
        ..SandboxConfig::for_tests()
    })
    .await;
    let h = Hub::new(&sb);
    let r = sb.seed_report();
    let any = sb.contact(&r.plain_contacts[0]).unwrap();
    let email = any.properties["email"].clone();
    let (st, v, _) = h
        .post("/crm/v3/objects/contacts/search", json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email.to_uppercase()}]}], "properties": ["email"]}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["total"], 1);
    assert_eq!(v["results"][0]["properties"]["email"], email.as_str());
    // NOT_HAS_PROPERTY email = the no-email case (archived never appear)
    let (_, v, _) = h
        .post("/crm/v3/objects/contacts/search", json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "NOT_HAS_PROPERTY"}]}]}))
        .await;
    assert_eq!(v["total"].as_u64().unwrap() as usize, r.no_email.len());
    // IN + OR groups + paging by after
    let (_, v, _) = h
        .post(
            "/crm/v3/objects/contacts/search",
            json!({"filterGroups": [
                {"filters": [{"propertyName": "hs_object_id", "operator": "IN", "values": [r.plain_contacts[0], r.plain_contacts[1]]}]},
                {"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}
            ], "limit": 5, "after": 0}),
        )
        .await;
    let total = v["total"].as_u64().unwrap();
    assert_eq!(total as usize, r.live_contacts() - r.no_email.len());
    assert_eq!(v["paging"]["next"]["after"], "5");
    let (_, v, _) = h
        .post(
            "/crm/v3/objects/contacts/search",
            json!({"query": "example.com", "limit": 200}),
        )
        .await;
    assert!(v.get("paging").is_none());
    // CONTAINS_TOKEN with a wildcard
    let (_, v, _) = h
        .post("/crm/v3/objects/contacts/search", json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@example.com"}]}]}))
        .await;
    assert_eq!(v["total"], total);
}

#[tokio::test]
async fn search_limits_answer_400() {
    let sb = start_default().await;
    let h = Hub::new(&sb);
    let f = json!({"propertyName": "email", "operator": "HAS_PROPERTY"});
    let group = |n: usize| json!({"filters": vec![f.clone(); n]});
    let cases: Vec<Value> = vec![
        json!({"filterGroups": vec![group(1); 6]}),
        json!({"filterGroups": [group(7)]}),
        json!({"filterGroups": vec![group(6); 4]}),
        json!({"limit": 201}),
        json!({"after": "10000"}),
        json!({"query": "x".repeat(3001)}),
    ];
    for c in cases {
        let (st, v, _) = h.post("/crm/v3/objects/contacts/search", c).await;
        assert_eq!(st, 400, "{v}");
        assert_hs_error(&v, "VALIDATION_ERROR");
    }
    let (st, _, _) = h
        .post(
            "/crm/v3/objects/contacts/search",
            json!({"filterGroups": vec![group(6); 3]}),
        )
        .await;
    assert_eq!(st, 200, "18 filters are allowed");
}

/// HubSpot compares a date property by its instant: a filter value in epoch milliseconds (or
/// ISO 8601) against `lastmodifieddate`, which reads as RFC 3339 text. Compared as strings,
/// `"2026-…" > "17…"` held for every contact and `GT <now in ms>` returned everything.
#[tokio::test]
async fn date_properties_compare_as_instants_given_in_milliseconds_or_iso_8601() {
    let sb = start(SandboxConfig {
        contacts: 6,
        ..SandboxConfig::for_tests()
    })
    .await;
    let h = Hub::new(&sb);
    let live: Vec<_> = sb.contacts().into_iter().filter(|c| !c.archived).collect();
    let newest = live.iter().map(|c| c.updated_ms).max().unwrap();
    let oldest = live.iter().map(|c| c.updated_ms).min().unwrap();
    let total = |prop: &str, op: &str, value: Value, high: Option<Value>| {
        let mut f = json!({"propertyName": prop, "operator": op, "value": value});
        if let Some(hv) = high {
            f["highValue"] = hv;
        }
        let body = json!({"filterGroups": [{"filters": [f]}], "limit": 200});
        let h = &h;
        async move {
            let (st, v, _) = h.post("/crm/v3/objects/contacts/search", body).await;
            assert_eq!(st, 200, "{v}");
            v["total"].as_u64().unwrap() as usize
        }
    };
    let n = live.len();
    let ms = |x: i64| Value::String(x.to_string());
    assert_eq!(total("lastmodifieddate", "GT", ms(newest), None).await, 0);
    assert_eq!(
        total("lastmodifieddate", "GT", json!(newest + 3_600_000), None).await,
        0
    );
    assert_eq!(
        total("lastmodifieddate", "GT", ms(oldest - 1), None).await,
        n
    );
    assert_eq!(total("lastmodifieddate", "GTE", ms(oldest), None).await, n);
    assert_eq!(total("lastmodifieddate", "LT", ms(oldest), None).await, 0);
    assert_eq!(total("lastmodifieddate", "LTE", ms(newest), None).await, n);
    let at_newest = live.iter().filter(|c| c.updated_ms == newest).count();
    assert_eq!(
        total("lastmodifieddate", "EQ", ms(newest), None).await,
        at_newest
    );
    assert_eq!(
        total("lastmodifieddate", "NEQ", ms(newest), None).await,
        n - at_newest
    );
    assert_eq!(
        total(
            "lastmodifieddate",
            "BETWEEN",
            ms(oldest - 1),
            Some(ms(newest + 1))
        )
        .await,
        n
    );
    // ISO 8601 values compare the same way, on createdate too
    let iso = |x: i64| Value::String(sandbox::clock::rfc3339_ms(x));
    assert_eq!(total("createdate", "GT", iso(newest), None).await, 0);
    assert_eq!(total("createdate", "LTE", iso(newest), None).await, n);
    assert_eq!(
        total("createdate", "GTE", json!("2000-01-01"), None).await,
        n,
        "a date without a time is midnight UTC"
    );
}
