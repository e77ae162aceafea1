//! End to end: the real `mapsync serve` binary (`--listen 127.0.0.1:0`, the bound address
//! read from its `Listening on` line) and the sandbox delivering real signed HubSpot webhooks
//! and 10to8 notifications to it. Every wait polls a condition under a deadline.

use serde_json::{Value, json};

use super::harness::{Opts, start};
use sandbox::System;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_two_way_sync_without_loops() {
    let live = start(Opts::default()).await;
    let sb = &live.sb;

    // A contact created in HubSpot becomes a 10to8 customer, linked both ways.
    let contact = sb
        .ui_create_contact(json!({"email": "ada@example.com", "firstname": "Ada",
                                  "lastname": "Lovelace", "phone": "+44 1"}))
        .expect("create contact");
    let id = match &contact["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    live.until("the customer exists and both links are written", |sb| {
        let linked = sb
            .customers()
            .into_iter()
            .find(|c| c.custom_fields.get("External ID") == Some(&id));
        let contact_link = sb.contact(&id).and_then(|c| c.get("tte_customer_uri"));
        matches!((linked, contact_link), (Some(c), Some(uri)) if c.resource_uri == uri)
    })
    .await;
    live.settle().await;
    let customers = sb.customers();
    assert_eq!(customers.len(), 1, "exactly one customer created");
    let uri = customers[0].resource_uri.clone();
    assert_eq!(customers[0].name, "Ada Lovelace");

    // Edited in the HubSpot UI: exactly one write to 10to8, nothing back to HubSpot but the
    // status.
    live.clear();
    sb.ui_update_contact(&id, json!({"phone": "+44 2"}))
        .expect("edit contact");
    live.until("the phone reaches 10to8", |sb| {
        sb.customer(&uri)
            .is_some_and(|c| c.numbers.first().map(String::as_str) == Some("+44 2"))
    })
    .await;
    live.settle().await;
    assert_eq!(
        live.writes(System::Tte, "customers.patch"),
        1,
        "{}",
        live.log()
    );
    assert_eq!(live.writes(System::Tte, "customers.create"), 0);
    assert!(live.writes(System::Hubspot, "contacts.update") <= 1);
    let c = sb.contact(&id).expect("contact");
    assert_eq!(c.get("phone").as_deref(), Some("+44 2"));
    assert_eq!(c.get("firstname").as_deref(), Some("Ada"));

    // Edited in 10to8: exactly one write to HubSpot, nothing back to 10to8.
    live.clear();
    sb.ui_update_customer(&uri, json!({"name": "Ada King"}))
        .expect("edit customer");
    live.until("the new last name reaches HubSpot", |sb| {
        sb.contact(&id)
            .is_some_and(|c| c.get("lastname").as_deref() == Some("King"))
    })
    .await;
    live.settle().await;
    assert_eq!(
        live.writes(System::Hubspot, "contacts.update"),
        1,
        "{}",
        live.log()
    );
    assert_eq!(live.writes(System::Tte, "customers.patch"), 0);

    // An email HubSpot refuses: a placeholder there, the message in both status fields, and
    // no loop.
    live.clear();
    let bad = sb
        .ui_create_customer(json!({"name": "Bad Mail", "emails": ["not-an-email"], "numbers": []}))
        .expect("create customer");
    live.until("the invalid customer is linked", |sb| {
        sb.customer(&bad.resource_uri).is_some_and(|c| {
            c.custom_fields
                .get("External ID")
                .is_some_and(|v| !v.is_empty())
        })
    })
    .await;
    live.settle().await;
    let c = sb.customer(&bad.resource_uri).expect("customer");
    let status = c
        .custom_fields
        .get("Sync Status")
        .cloned()
        .unwrap_or_default();
    assert!(status.contains("Invalid email"), "10to8 status: {status}");
    assert_eq!(c.emails, vec!["not-an-email".to_string()], "10to8 keeps it");
    let contact_id = c.custom_fields["External ID"].clone();
    let hc = sb.contact(&contact_id).expect("contact");
    assert_eq!(hc.get("email").unwrap_or_default(), "", "placeholder");
    assert!(
        hc.get("tte_customer_sync_status")
            .unwrap_or_default()
            .contains("Invalid email"),
        "HubSpot status"
    );
    assert_eq!(live.writes(System::Hubspot, "contacts.create"), 1);
    assert_eq!(
        live.writes(System::Tte, "customers.patch"),
        1,
        "{}",
        live.log()
    );
    assert_eq!(sb.contacts().len(), 2);
}
