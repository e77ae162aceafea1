//! The real binary against the sandbox, with faults: a write the target refuses (422) becomes
//! a dead letter at once, without retries; deletes follow `pair.deletes` (a 409 for a customer
//! with future bookings becomes a dead letter, `force_delete` deletes with force); the same
//! signed delivery sent five times is stored once and written once.

use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sandbox::{Faults, ScriptedFault, System};
use serde_json::{Value, json};
use sha2::Sha256;

use super::harness::{Live, Opts, start};

fn id_of(v: &Value) -> String {
    match &v["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Creates a contact in the HubSpot UI and waits until its customer exists, linked both ways.
async fn linked_contact(live: &Live, email: &str, first: &str, last: &str) -> (String, String) {
    let contact = live
        .sb
        .ui_create_contact(json!({"email": email, "firstname": first, "lastname": last}))
        .expect("create contact");
    let id = id_of(&contact);
    live.until("the customer exists and both links are written", |sb| {
        let linked = sb
            .customers()
            .into_iter()
            .find(|c| c.custom_fields.get("External ID") == Some(&id));
        let contact_link = sb.contact(&id).and_then(|c| c.get("tte_customer_uri"));
        matches!((linked, contact_link), (Some(c), Some(uri)) if c.resource_uri == uri)
    })
    .await;
    let uri = live
        .sb
        .contact(&id)
        .and_then(|c| c.get("tte_customer_uri"))
        .expect("link");
    (id, uri)
}

async fn until_dead_letter(live: &Live, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Some(d) = live.dead_letters().into_iter().find(|d| f(d)) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no dead letter {what}; log:\n{}", live.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_is_dead_lettered_at_once() {
    let live = start(Opts::default()).await;
    let sb = &live.sb;
    let (id, uri) = linked_contact(&live, "grace@example.com", "Grace", "Hopper").await;
    live.settle().await;
    live.clear();
    // 10to8 refuses the next update with a 422: retrying cannot help.
    sb.set_faults(
        System::Tte,
        Faults {
            scripted: vec![ScriptedFault {
                method: Some("PATCH".into()),
                path_contains: Some("/customer/".into()),
                status: 422,
                count: 1,
                retry_after_secs: None,
                apply_first: false,
            }],
            ..Faults::default()
        },
    );
    sb.ui_update_contact(&id, json!({"phone": "+1 555"}))
        .expect("edit");
    let dl = until_dead_letter(&live, "for the refused update", |d| {
        d.to_string().contains("422")
    })
    .await;
    assert_eq!(dl["attempts"], 1, "{dl}");
    live.settle().await;
    assert_eq!(
        live.writes(System::Tte, "customers.patch"),
        1,
        "one attempt, no retries: {}",
        live.log()
    );
    assert_eq!(live.metric("mapsync_records_retried_total").await, Some(0));
    assert_eq!(
        live.metric("mapsync_records_dead_lettered_total").await,
        Some(1)
    );
    // Nothing else breaks: the next edit goes through.
    sb.ui_update_contact(&id, json!({"phone": "+1 556"}))
        .expect("edit");
    live.until("the next edit reaches 10to8", |sb| {
        sb.customer(&uri)
            .is_some_and(|c| c.numbers.first().map(String::as_str) == Some("+1 556"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_delete_is_a_dead_letter_and_others_still_delete() {
    // The reference mapping says `delete` (not forced).
    let live = start(Opts::default()).await;
    let sb = &live.sb;
    let (booked, booked_uri) = linked_contact(&live, "a@example.com", "Ann", "Booked").await;
    let (free, free_uri) = linked_contact(&live, "b@example.com", "Bob", "Free").await;
    live.settle().await;
    assert!(sb.set_future_bookings(&booked_uri, 2));
    assert!(sb.ui_delete_contact(&booked));
    assert!(sb.ui_delete_contact(&free));
    live.until("the customer without bookings is deleted", |sb| {
        sb.customer(&free_uri).is_none_or(|c| c.deleted)
    })
    .await;
    let dl = until_dead_letter(&live, "for the refused delete", |d| {
        d.to_string().contains("409")
    })
    .await;
    assert!(dl.to_string().contains(&booked_uri), "{dl}");
    live.settle().await;
    let c = sb.customer(&booked_uri).expect("still there");
    assert!(!c.deleted, "a customer with bookings is not deleted");
    assert_eq!(live.dead_letters().len(), 1);
    assert_eq!(live.status()["inbox_depth"], 0);
    // Nothing else breaks: a new contact still syncs.
    linked_contact(&live, "c@example.com", "Cy", "Later").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_delete_deletes_a_customer_with_bookings() {
    let live = start(Opts {
        mapping: |m| {
            assert!(m.contains("    inbound: delete\n"));
            m.replace("    inbound: delete\n", "    inbound: force_delete\n")
        },
        ..Opts::default()
    })
    .await;
    let sb = &live.sb;
    let (id, uri) = linked_contact(&live, "f@example.com", "Fay", "Forced").await;
    live.settle().await;
    assert!(sb.set_future_bookings(&uri, 3));
    assert!(sb.ui_delete_contact(&id));
    live.until("the booked customer is deleted", |sb| {
        sb.customer(&uri).is_none_or(|c| c.deleted)
    })
    .await;
    live.settle().await;
    let deletes: Vec<_> = sb
        .requests(System::Tte)
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    // The sandbox answers 409 to an unforced delete of a customer with future bookings: one
    // delete that succeeded means it was forced.
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert!(
        deletes[0].status.is_some_and(|s| (200..300).contains(&s)),
        "{deletes:?}"
    );
    assert!(live.dead_letters().is_empty());
}

/// A HubSpot v3 signature over `POST <uri><body><timestamp>`.
pub fn sign_v3(secret: &str, uri: &str, body: &str, ts_ms: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("POST{uri}{body}{ts_ms}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Posts a signed HubSpot delivery (signed now) to the server.
pub async fn send_signed(live: &Live, body: &str) -> reqwest::Result<reqwest::Response> {
    let uri = format!("{}/webhooks/hubspot", live.base);
    let ts = jiff::Timestamp::now().as_millisecond();
    let sig = sign_v3(live.sb.hubspot_client_secret(), &uri, body, ts);
    live.http
        .post(&uri)
        .header("Content-Type", "application/json")
        .header("X-HubSpot-Signature-v3", sig)
        .header("X-HubSpot-Request-Timestamp", ts.to_string())
        .body(body.to_string())
        .send()
        .await
}

/// One `contact.creation` event for `object_id`, as HubSpot sends it.
pub fn creation_event(live: &Live, event_id: u64, object_id: &str, at_ms: i64) -> Value {
    json!({"eventId": event_id, "subscriptionId": 7001, "portalId": live.sb.hubspot_portal_id(),
           "appId": live.sb.hubspot_app_id(), "occurredAt": at_ms,
           "subscriptionType": "contact.creation", "attemptNumber": 0,
           "objectId": object_id.parse::<u64>().unwrap_or(0), "changeSource": "CRM", "changeFlag": "NEW"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_signed_delivery_five_times_is_one_row_and_one_write() {
    // No subscriptions: the only deliveries are ours.
    let live = start(Opts {
        subscribe: false,
        ..Opts::default()
    })
    .await;
    let contact = live
        .sb
        .ui_create_contact(
            json!({"email": "dup@example.com", "firstname": "Dee", "lastname": "Dupe"}),
        )
        .expect("create contact");
    let id = id_of(&contact);
    let at = jiff::Timestamp::now().as_millisecond();
    let body = Value::Array(vec![creation_event(&live, 1, &id, at)]).to_string();
    for n in 0..5 {
        let r = send_signed(&live, &body).await.expect("send");
        assert!(r.status().is_success(), "delivery {n}: {}", r.status());
    }
    assert_eq!(
        live.metric("mapsync_webhook_events_stored_total").await,
        Some(1)
    );
    assert_eq!(
        live.metric("mapsync_webhook_events_duplicate_total").await,
        Some(4)
    );
    live.until("the customer is created", |sb| sb.customers().len() == 1)
        .await;
    live.settle().await;
    assert_eq!(
        live.writes(System::Tte, "customers.create"),
        1,
        "{}",
        live.log()
    );
    assert_eq!(live.sb.customers().len(), 1);
    assert_eq!(
        live.metric("mapsync_records_processed_total").await,
        Some(1)
    );
    assert_eq!(live.status()["inbox_depth"], 0);
}

/// A new customer with the email of a contact already linked to another customer: HubSpot
/// answers the create 409 "Contact already exists. Existing ID: N", and N is taken. The worker
/// records a conflict at once, with the reason on the customer's status field, acks, and never
/// retries it as transient (no second create, no dead letter).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_contact_linked_elsewhere_is_a_conflict_at_once_with_its_reason() {
    let live = start(Opts::default()).await;
    let sb = &live.sb;
    let first = sb
        .ui_create_customer(json!({"name": "Ann First", "emails": ["same@example.com"]}))
        .expect("create")
        .resource_uri;
    live.until("the first customer has its contact", |sb| {
        sb.customer(&first).is_some_and(|c| {
            c.custom_fields
                .get("External ID")
                .is_some_and(|v| !v.is_empty())
        })
    })
    .await;
    live.settle().await;
    let second = sb
        .ui_create_customer(json!({"name": "Ann Second", "emails": ["same@example.com"]}))
        .expect("create")
        .resource_uri;
    live.until("the second customer's status names the conflict", |sb| {
        sb.customer(&second).is_some_and(|c| {
            c.custom_fields
                .get("Sync Status")
                .is_some_and(|s| s.contains(&first) || s.contains("linked to"))
        })
    })
    .await;
    live.settle().await;
    let creates = sb
        .requests(System::Hubspot)
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/objects/contacts"))
        .count();
    // The first customer's create, the second's, and at most one more when the echo of the
    // status write-back is planned again (answered 409 again, nothing written): never the 8
    // attempts of a transient failure.
    assert!(
        (2..=3).contains(&creates),
        "{creates} creates: the conflict is not retried"
    );
    assert!(live.dead_letters().is_empty(), "{:?}", live.dead_letters());
    assert_eq!(
        sb.customer(&second)
            .unwrap()
            .custom_fields
            .get("External ID")
            .map(String::as_str),
        Some(""),
        "the second customer is not linked"
    );
}

/// A merged 10to8 customer names two contacts in its External ID ("a, b"). After a full inbound
/// sync (which indexes the customers), a live edit of contact b reaches a worker: b is part of
/// the merge's conflict there too, exactly as in `sync` — no new customer for b, the merged
/// customer's link field kept, the worker's plan saying a person must resolve the merge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_edit_of_a_contact_named_by_a_merged_customer_is_a_conflict_as_in_sync() {
    let live = start(Opts {
        sandbox: sandbox::SandboxConfig {
            customers: 8,
            contacts: 2,
            ..sandbox::SandboxConfig::for_tests()
        },
        ..Opts::default()
    })
    .await;
    let sb = &live.sb;
    let seeded = sb.seed_report();
    let merged = seeded.merged[0].clone();
    let named = sb.customer(&merged).unwrap().custom_fields["External ID"].clone();
    let b = seeded.contacts[1].clone();
    assert!(named.contains(&b), "{named}");
    let out = live.mapsync(&[
        "sync",
        "--mapping",
        "mapping.yaml",
        "--direction",
        "inbound",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    live.settle().await;
    let customers = sb.customers().len();
    sb.ui_update_contact(&b, json!({"phone": "+44 7700 900999"}))
        .expect("edit b");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let planned = |log: &str| {
        log.lines().any(|l| {
            l.contains("Planned no write")
                && l.contains(&format!("record_key=\"{b}\""))
                && l.contains("resolve the merge by hand")
        })
    };
    while !planned(&live.log()) {
        assert!(
            std::time::Instant::now() < deadline,
            "no worker planned b as the merge's conflict: {}",
            live.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    live.settle().await;
    assert_eq!(sb.customers().len(), customers, "no customer made for b");
    assert_eq!(
        sb.customer(&merged).unwrap().custom_fields["External ID"],
        named,
        "the merge is kept"
    );
    assert!(live.dead_letters().is_empty(), "{:?}", live.dead_letters());
}
