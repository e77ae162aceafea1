//! Batch create and update with the reference mapping: chunking by `max`, per-input keys in the
//! item template, 207 partial answers correlated by key, and whole-chunk failures.

use serde_json::json;

use super::*;
use mapsync::mapping::model::ErrorClass;

fn items(n: usize) -> Vec<BatchItem> {
    (0..n)
        .map(|i| BatchItem {
            key: format!("k{i}"),
            id: Some(format!("{}", 100 + i)),
            fields: json!({"email": format!("p{i}@example.com")}),
        })
        .collect()
}

/// Accepts every input except those whose email starts with `bad`; a chunk holding `fail` fails
/// as a whole.
fn hubspot_batch(r: &Recorded) -> Reply {
    let inputs = r.json()["inputs"].as_array().cloned().unwrap_or_default();
    let email = |i: &Value| i["properties"]["email"].as_str().unwrap_or("").to_string();
    if inputs.iter().any(|i| email(i).starts_with("fail")) {
        return Reply::json(400, json!({"message": "Batch rejected"}));
    }
    let (bad, good): (Vec<_>, Vec<_>) = inputs.iter().partition(|i| email(i).starts_with("bad"));
    let results: Vec<Value> = good
        .iter()
        .map(|i| json!({"id": "1", "properties": i["properties"]}))
        .collect();
    let errors: Vec<Value> = bad
        .iter()
        .map(|i| json!({"status": "error", "message": "Invalid email", "context": {"objectWriteTraceId": [i["objectWriteTraceId"]]}}))
        .collect();
    let status = if errors.is_empty() { 201 } else { 207 };
    Reply::json(
        status,
        json!({"status": "COMPLETE", "results": results, "errors": errors}),
    )
}

#[tokio::test]
async fn chunks_partial_answers_and_whole_chunk_failures() {
    let server = TestServer::start(hubspot_batch).await;
    let mut m = reference(&server.base, &[("HUBSPOT_ACCESS_TOKEN", "tok")]);
    let contacts = m.collections.get_mut("contacts").unwrap();
    for op in [&mut contacts.batch_create, &mut contacts.batch_update] {
        op.as_mut().unwrap().max = 2;
    }
    let contacts = &m.collections["contacts"];
    let c = connector(&m.systems["hubspot"]);

    let mut input = items(5);
    input[1].fields = json!({"email": "bad1"});
    input[4].fields = json!({"email": "bad4"});
    let out = c.batch_create(contacts, input).await.unwrap();
    assert_eq!(out.results.len(), 3);
    let keys: Vec<_> = out.errors.iter().map(|e| e.key.clone().unwrap()).collect();
    assert_eq!(keys, ["k1", "k4"]);
    assert!(
        out.errors
            .iter()
            .all(|e| e.message == "Invalid email" && e.class == ErrorClass::Permanent)
    );
    let log = server.log();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].path, "/crm/v3/objects/contacts/batch/create");
    assert_eq!(
        log[0].json(),
        json!({"inputs": [
            {"properties": {"email": "p0@example.com"}, "objectWriteTraceId": "k0"},
            {"properties": {"email": "bad1"}, "objectWriteTraceId": "k1"},
        ]})
    );

    let mut input = items(4);
    input[2].fields = json!({"email": "fail"});
    let out = c.batch_update(contacts, input).await.unwrap();
    assert_eq!(out.results.len(), 2);
    let failed: Vec<_> = out
        .errors
        .iter()
        .map(|e| (e.key.clone().unwrap(), e.status))
        .collect();
    assert_eq!(
        failed,
        [("k2".to_string(), Some(400)), ("k3".to_string(), Some(400))]
    );
    assert!(out.errors[0].message.contains("Batch rejected"));
    let update = server
        .log()
        .into_iter()
        .find(|r| r.path.ends_with("/batch/update"))
        .unwrap();
    assert_eq!(update.json()["inputs"][0]["id"], "100");
}

#[tokio::test]
async fn after_a_failure_that_is_not_permanent_later_chunks_are_not_sent() {
    let server = TestServer::start(|r| {
        if r.json()["inputs"][0]["objectWriteTraceId"] == "k2" {
            Reply::json(401, json!({"message": "expired"}))
        } else {
            hubspot_batch(r)
        }
    })
    .await;
    let mut m = reference(&server.base, &[("HUBSPOT_ACCESS_TOKEN", "tok")]);
    m.collections
        .get_mut("contacts")
        .unwrap()
        .batch_create
        .as_mut()
        .unwrap()
        .max = 2;
    let contacts = &m.collections["contacts"];
    let c = connector(&m.systems["hubspot"]);
    let out = c.batch_create(contacts, items(6)).await.unwrap();
    assert_eq!(out.results.len(), 2);
    let classes: Vec<_> = out
        .errors
        .iter()
        .map(|e| (e.key.clone().unwrap(), e.class))
        .collect();
    assert_eq!(
        classes,
        [
            ("k2".to_string(), ErrorClass::Auth),
            ("k3".to_string(), ErrorClass::Auth),
            ("k4".to_string(), ErrorClass::Auth),
            ("k5".to_string(), ErrorClass::Auth)
        ]
    );
    assert!(out.errors[3].message.starts_with("not sent"));
    assert_eq!(server.log().len(), 2);
}
