//! Issue 11, scenario 3: a stale delete never beats the record. The contact is archived while
//! `serve` is down (HubSpot keeps retrying the deletion webhook), then restored without any event;
//! when the deletion arrives, the worker's live read returns the contact, so the record is synced
//! as it reads now (nothing deleted) and the stale delete is logged.

use std::time::Duration;

use sandbox::{SandboxConfig, System, WebhookConfig};
use serde_json::json;

use super::crash::unthrottled;
use super::harness::{Opts, start};

#[tokio::test(flavor = "multi_thread")]
async fn a_delete_event_for_a_record_that_reads_back_deletes_nothing() {
    let defaults = SandboxConfig::for_tests();
    let mut live = start(Opts {
        sandbox: SandboxConfig {
            customers: 0,
            contacts: 0,
            precreate_custom_properties: true,
            webhooks: WebhookConfig {
                retry_delays: vec![Duration::from_millis(300); 20],
                max_attempts: 21,
                ..defaults.webhooks.clone()
            },
            ..defaults
        },
        mapping: unthrottled,
        ..Opts::default()
    })
    .await;
    let sb = live.sb.clone();
    let c = sb
        .ui_create_contact(
            json!({"email": "stale@example.com", "firstname": "Sta", "lastname": "Le"}),
        )
        .expect("create");
    let id = c["id"]
        .as_str()
        .map(String::from)
        .unwrap_or(c["id"].to_string());
    live.until("the customer exists, linked", |sb| {
        sb.contact(&id)
            .and_then(|c| c.get("tte_customer_uri"))
            .is_some_and(|u| sb.customer(&u).is_some())
    })
    .await;
    live.settle().await;
    let uri = sb
        .contact(&id)
        .and_then(|c| c.get("tte_customer_uri"))
        .expect("linked");

    let addr = live.addr();
    live.kill9();
    assert!(sb.ui_delete_contact(&id), "archived");
    assert!(sb.restore_contact_quietly(&id), "restored without an event");
    sb.clear_log(System::Tte);
    live.spawn(&addr).await;
    live.settle().await;

    let log = live.log();
    assert!(
        log.contains("Ignored a stale delete event"),
        "the deletion reached the worker: {log}"
    );
    let customer = sb.customer(&uri).expect("customer");
    assert!(!customer.deleted, "the stale delete deleted the customer");
    assert_eq!(sb.count(System::Tte, "customers.delete").total, 0);
}
