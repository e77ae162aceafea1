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
