//! Finding 3: an event can read its delivery (`$delivery…` paths), and an event naming several record
//! ids becomes one inbox event per id. Deliveries in the style of the issue's API:
//! `{"operation": "update", "ids": ["1", "2"]}`.

use mapsync::mapping::EnvMode;
use mapsync::mapping::env::Env;
use mapsync::mapping::load::load_str;
use mapsync::mapping::model::{EventAction, Webhook};
use mapsync::server::extract_events;

use super::mapping;

/// The test mapping with `webhook` (YAML lines under `webhook:`) on the contacts.
fn webhook(lines: &str) -> Webhook {
    let text = mapping(false).replace(
        "    # webhook\n",
        &format!("    webhook:\n      path: /webhooks/crm\n      verify: {{ token: {{ in: header, name: X-Token, secrets: [a-long-random-token-0123456789] }} }}\n{lines}"),
    );
    let env = Env::from_map([
        ("HOME_URL", "http://127.0.0.1:1"),
        ("CRM_URL", "http://127.0.0.1:1"),
    ]);
    let loaded = load_str(&text, "mapping.yaml", &env, EnvMode::Strict);
    let m = loaded
        .mapping
        .unwrap_or_else(|| panic!("{:#?}", loaded.diagnostics));
    m.collections["contacts"]
        .webhook
        .clone()
        .expect("a webhook")
}

/// What each event of a delivery is: `record id: action`.
fn events(w: &Webhook, body: &str) -> Vec<String> {
    let out = extract_events("contacts", w, body.as_bytes(), None).expect("a valid delivery");
    out.events
        .iter()
        .map(|e| {
            let action = w.action(w.kind_of(&e.payload).as_deref());
            format!(
                "{}: {action:?} ({})",
                e.record_key,
                e.dedup_key.clone().unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn each_id_of_a_delivery_is_an_event_that_reads_the_deliverys_operation() {
    let w = webhook(
        "      events: $.ids[*]\n      record_id: $\n      kind: $delivery.operation\n      dedup_key: [$delivery.token, $]\n      actions: { delete: delete }\n",
    );
    assert_eq!(
        events(
            &w,
            r#"{"operation": "delete", "token": "t1", "ids": ["11", "12"]}"#
        ),
        [r#"11: Delete (["t1","11"])"#, r#"12: Delete (["t1","12"])"#]
    );
    assert_eq!(
        events(
            &w,
            r#"{"operation": "update", "token": "t2", "ids": ["11"]}"#
        ),
        [r#"11: Upsert (["t2","11"])"#]
    );
    assert_eq!(w.action(Some("delete")), EventAction::Delete);
}

#[test]
fn an_event_naming_several_record_ids_is_one_event_per_id() {
    let w = webhook(
        "      events: $\n      record_id: $.ids[*]\n      kind: $.operation\n      event_id: $.token\n      actions: { delete: delete }\n",
    );
    assert_eq!(
        events(
            &w,
            r#"{"operation": "update", "token": "t1", "ids": ["11", "12"]}"#
        ),
        ["11: Upsert (t1#11)", "12: Upsert (t1#12)"]
    );
    // One id keeps the sender's event id as it is.
    assert_eq!(
        events(
            &w,
            r#"{"operation": "delete", "token": "t2", "ids": ["13"]}"#
        ),
        ["13: Delete (t2)"]
    );
}
