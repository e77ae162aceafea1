//! Live sync with `mapsync serve` and the example mapping: Pipedrive webhooks (basic auth) and
//! 10to8 notifications delivered by the sandbox, changes flowing both ways without loops.
//! Every wait polls a condition under a deadline.

use sandbox::{SandboxConfig, System};
use serde_json::{Value, json};

use crate::serve::harness::{self, Live, Opts, TOKEN};

/// `mapsync serve` with the example mapping, both webhooks registered as `mapsync setup` would.
async fn start() -> Live {
    let live = harness::start(Opts {
        sandbox: SandboxConfig::for_tests(),
        mapping_text: Some(super::test_mapping()),
        subscribe: false,
        delivering: vec![System::Pipedrive, System::Tte],
        ..Opts::default()
    })
    .await;
    let env: std::collections::BTreeMap<String, String> = live.sb.env_vars().into_iter().collect();
    let r = live
        .http
        .post(format!(
            "{}/webhooks?api_token={}",
            live.sb.pipedrive_base_url(),
            live.sb.pipedrive_api_token()
        ))
        .json(&json!({
            "subscription_url": format!("{}/webhooks/pipedrive/persons", live.base),
            "event_action": "*",
            "event_object": "person",
            "http_auth_user": env["PIPEDRIVE_WEBHOOK_USER"],
            "http_auth_password": env["PIPEDRIVE_WEBHOOK_PASSWORD"],
        }))
        .send()
        .await
        .expect("pipedrive webhook");
    assert_eq!(r.status().as_u16(), 201);
    let r = live
        .http
        .post(format!("{}/subscription/", live.sb.tte_base_url()))
        .header("Authorization", format!("token {}", live.sb.tte_api_key()))
        .json(&json!({"scope": "customer",
                      "callback_url": format!("{}/webhooks/10to8/customers?key={TOKEN}", live.base)}))
        .send()
        .await
        .expect("10to8 subscription");
    assert!(r.status().is_success(), "{}", r.status());
    live
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_two_way_sync_with_pipedrive_webhooks() {
    let live = start().await;
    let sb = &live.sb;
    let link = sb.pipedrive_field_key("10to8 Customer URI").unwrap();

    // A person created in Pipedrive becomes a 10to8 customer, linked both ways.
    let person = sb
        .ui_create_person(json!({"name": "Ada Lovelace",
            "email": [{"value": "ada.home@example.com", "primary": false, "label": "home"},
                      {"value": "ada@example.com", "primary": true, "label": "work"}],
            "phone": "+44 1"}))
        .expect("create person");
    let id = person["id"].to_string();
    live.until("the customer exists and both links are written", |sb| {
        let linked = sb
            .customers()
            .into_iter()
            .find(|c| c.custom_fields.get("External ID") == Some(&id));
        let person_link = sb.person(&id).map(|p| p[&link].clone());
        matches!((linked, person_link), (Some(c), Some(Value::String(uri))) if c.resource_uri == uri)
    })
    .await;
    live.settle().await;
    let customers = sb.customers();
    assert_eq!(customers.len(), 1, "exactly one customer");
    let uri = customers[0].resource_uri.clone();
    assert_eq!(customers[0].name, "Ada Lovelace");
    assert_eq!(
        customers[0].emails,
        ["ada@example.com", "ada.home@example.com"]
    );
    assert_eq!(customers[0].numbers, ["+44 1"]);
    assert_eq!(sb.persons().len(), 1, "no echo created a second person");

    // A change in 10to8 reaches Pipedrive.
    sb.ui_update_customer(
        &uri,
        json!({"name": "Ada King", "numbers": ["+44 1", "+44 2"]}),
    )
    .expect("update customer");
    live.until("the person has the new name and phones", |sb| {
        let p = sb.person(&id).unwrap();
        p["name"] == "Ada King" && p["phone"].as_array().map(Vec::len) == Some(2)
    })
    .await;
    live.settle().await;
    let p = sb.person(&id).unwrap();
    assert_eq!(p["phone"][0]["value"], "+44 1");
    assert_eq!(p["phone"][0]["primary"], true);
    // the emails were not rewritten: the primary stays where Pipedrive keeps it
    assert_eq!(p["email"][1]["value"], "ada@example.com");
    assert_eq!(p["email"][1]["primary"], true);

    // Quiet after settling: no loop of updates between the two.
    live.clear();
    live.settle().await;
    assert_eq!(sb.count(System::Pipedrive, "persons.update").total, 0);
    assert_eq!(sb.count(System::Tte, "customers.patch").total, 0);

    // A person deleted in Pipedrive deletes the customer.
    sb.ui_delete_person(&id).expect("delete person");
    live.until("the customer is deleted", |sb| {
        sb.customer(&uri).is_some_and(|c| c.deleted)
    })
    .await;
    live.settle().await;
    assert_eq!(sb.customers().len(), 1);
}
