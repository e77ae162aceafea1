//! HubSpot batch endpoints: read/create/update/upsert/archive, 207 partial results, the 100 cap.

use crate::common::*;
use sandbox::SandboxConfig;
use serde_json::{Value, json};

#[tokio::test]
async fn batch_create_partial_with_trace_ids_and_all_or_nothing_without() {
    let sb = start_default().await;
    let h = Hub::new(&sb);
    let (st, v, _) = h
        .post(
            "/crm/v3/objects/contacts/batch/create",
            json!({"inputs": [
                {"properties": {"email": "ok1@x.com"}, "objectWriteTraceId": "t1"},
                {"properties": {"email": "bad"}, "objectWriteTraceId": "t2"},
                {"properties": {"email": "ok1@x.com"}, "objectWriteTraceId": "t3"}
            ]}),
        )
        .await;
    assert_eq!(st, 207, "{v}");
    assert_eq!(v["status"], "COMPLETE");
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    assert_eq!(v["numErrors"], 2);
    for e in v["errors"].as_array().unwrap() {
        assert_eq!(e["status"], "error");
        assert!(e["errors"].is_array() && e["links"].is_object(), "{e}");
    }
    assert_eq!(v["errors"][0]["category"], "VALIDATION_ERROR");
    assert_eq!(v["errors"][1]["category"], "CONFLICT");
    // without trace ids one bad input fails the whole batch
    let (st, _, _) = h
        .post("/crm/v3/objects/contacts/batch/create", json!({"inputs": [{"properties": {"email": "ok2@x.com"}}, {"properties": {"email": "bad"}}]}))
        .await;
    assert_eq!(st, 400);
    assert_eq!(sb.contacts().len(), 1);
    let (st, v, _) = h
        .post(
            "/crm/v3/objects/contacts/batch/create",
            json!({"inputs": [{"properties": {"email": "ok2@x.com"}}]}),
        )
        .await;
    assert_eq!((st, v["results"].as_array().unwrap().len()), (201, 1));
}

#[tokio::test]
async fn batch_read_update_upsert_archive() {
    let sb = start(SandboxConfig {
        contacts: 5,
        precreate_custom_properties: true,
        ..SandboxConfig::for_tests()
    })
    .await;
    let h = Hub::new(&sb);
    let ids = sb.seed_report().plain_contacts;
    let (st, v, _) = h
        .post(
            "/crm/v3/objects/contacts/batch/read",
            json!({"inputs": [{"id": ids[0]}, {"id": "424242"}], "properties": ["email"]}),
        )
        .await;
    assert_eq!(st, 207);
    assert_eq!(v["results"][0]["id"], ids[0].as_str());
    assert_eq!(v["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(v["errors"][0]["context"]["ids"], json!(["424242"]));
    let (st, v, _) = h
        .post(
            "/crm/v3/objects/contacts/batch/update",
            json!({"inputs": [{"id": ids[0], "properties": {"firstname": "Z"}}, {"id": "424242", "properties": {}}]}),
        )
        .await;
    assert_eq!(st, 207);
    assert_eq!(v["results"][0]["properties"]["firstname"], "Z");
    let uri = "http://tte/customer/1/";
    let body = json!({"inputs": [{"id": uri, "idProperty": "tte_customer_uri", "properties": {"firstname": "U"}}]});
    let (st, v, _) = h
        .post("/crm/v3/objects/contacts/batch/upsert", body.clone())
        .await;
    assert_eq!((st, &v["results"][0]["new"]), (200, &json!(true)), "{v}");
    let (st, v2, _) = h.post("/crm/v3/objects/contacts/batch/upsert", body).await;
    assert_eq!((st, &v2["results"][0]["new"]), (200, &json!(false)));
    assert_eq!(
        v["results"][0]["id"], v2["results"][0]["id"],
        "idempotent create"
    );
    let (st, _, _) = h
        .post(
            "/crm/v3/objects/contacts/batch/archive",
            json!({"inputs": [{"id": ids[0]}, {"id": "424242"}]}),
        )
        .await;
    assert_eq!(st, 204);
    assert!(sb.contact(&ids[0]).unwrap().archived);
    // over 100 inputs
    let inputs: Vec<Value> = (0..101).map(|i| json!({"id": i.to_string()})).collect();
    let (st, v, _) = h
        .post(
            "/crm/v3/objects/contacts/batch/read",
            json!({"inputs": inputs}),
        )
        .await;
    assert_eq!(st, 400);
    assert_hs_error(&v, "VALIDATION_ERROR");
}
