//! Seeding: deterministic, with every awkward case where the report says.

use crate::common::*;
use sandbox::{SandboxConfig, System};

#[tokio::test]
async fn seeding_is_deterministic_and_shaped_as_documented() {
    let cfg = SandboxConfig {
        seed: 42,
        customers: 20,
        contacts: 10,
        ..SandboxConfig::for_tests()
    };
    let a = start(cfg.clone()).await;
    let b = start(cfg).await;
    let strip = |sb: &sandbox::SandboxHandle| {
        sb.customers()
            .into_iter()
            .map(|c| {
                (
                    c.name,
                    c.emails,
                    c.numbers,
                    c.custom_fields,
                    c.deleted,
                    c.future_bookings,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a), strip(&b));
    let r = a.seed_report();
    assert_eq!(r.customers.len(), 20);
    assert_eq!(
        (
            r.one_word_names.len(),
            r.three_word_names.len(),
            r.merged.len(),
            r.deleted.len()
        ),
        (2, 2, 2, 2)
    );
    for u in &r.one_word_names {
        assert_eq!(a.customer(u).unwrap().name.split(' ').count(), 1);
    }
    for u in &r.three_word_names {
        assert_eq!(a.customer(u).unwrap().name.split(' ').count(), 3);
    }
    for u in &r.multi_contact {
        let c = a.customer(u).unwrap();
        assert!(c.emails.len() >= 2 && c.numbers.len() >= 2);
    }
    for c in a.customers() {
        let invalid = r.invalid_email.contains(&c.resource_uri);
        if let Some(primary) = c.emails.first() {
            assert_eq!(!sandbox::email::is_valid(primary), invalid, "{primary}");
        }
    }
    for u in &r.future_bookings {
        assert!(a.customer(u).unwrap().future_bookings > 0);
    }
    for u in &r.merged {
        let ext = &a.customer(u).unwrap().custom_fields["External ID"];
        assert_eq!(ext, &format!("{}, {}", r.contacts[0], r.contacts[1]));
    }
    assert_eq!(r.archived.len(), 2);
    // seeding fires nothing and logs no requests
    assert!(a.deliveries(System::Tte).is_empty() && a.requests(System::Tte).is_empty());
}

#[tokio::test]
async fn control_routes_over_http() {
    let sb = start_default().await;
    let c = client();
    let r: serde_json::Value = c
        .post(format!("{}/_sandbox/seed", sb.tte_root_url()))
        .json(&serde_json::json!({"seed": 3, "customers": 10}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["customers"].as_array().unwrap().len(), 10);
    let recs: serde_json::Value = c
        .get(format!("{}/_sandbox/records", sb.tte_root_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(recs.as_array().unwrap().len(), 10);
    let env: serde_json::Value = c
        .get(format!("{}/_sandbox/env", sb.hubspot_base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(env["HUBSPOT_APP_ID"], sb.hubspot_app_id().to_string());
    let a: serde_json::Value = c
        .get(format!("{}/_sandbox/assumptions", sb.hubspot_base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a.as_array().unwrap().len(), 53);
    let st = c
        .put(format!("{}/_sandbox/faults", sb.hubspot_base_url()))
        .json(&serde_json::json!({"error_rate": 1.0, "error_statuses": [502]}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, 200);
    assert_eq!(Hub::new(&sb).get("/crm/v3/objects/contacts").await.0, 502);
    let log: serde_json::Value = c
        .get(format!("{}/_sandbox/requests", sb.hubspot_base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log[0]["status"], 502);
    assert_eq!(log[0]["operation"], "contacts.list");
}
