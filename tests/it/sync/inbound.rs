//! Inbound: HubSpot contacts → 10to8 customers, and the placeholder protection.

use std::collections::{BTreeMap, BTreeSet};

use sandbox::System;
use serde_json::json;

use super::{World, counts, custom, prop};

#[tokio::test(flavor = "multi_thread")]
async fn inbound_creates_one_customer_per_live_contact_linked_both_ways() {
    let w = World::seeded(11, 0, 500).await;
    let seeded = w.sb.seed_report();
    let contacts = w.live_contacts();
    assert_eq!(contacts.len(), 400);

    let run = w.sync_json("inbound").await;
    run.expect_code(0);
    assert_eq!(
        run.counts(),
        // The archived contacts are listed too (as deleted) and skipped: never linked.
        counts(&[("seen", 500), ("created", 400), ("skipped", 100)])
    );
    // 10to8 has no batch writes: one POST per contact.
    let creates = w.sb.count(System::Tte, "customers.create");
    assert_eq!((creates.total, creates.ok), (400, 400));

    let customers = w.live_customers();
    assert_eq!(customers.len(), 400);
    let mut by_contact = BTreeMap::new();
    for (uri, c) in &customers {
        let id = custom(c, "External ID");
        assert!(
            by_contact.insert(id.clone(), uri.clone()).is_none(),
            "two customers for {id}"
        );
        assert!(
            custom(c, "Sync Status").starts_with("Last synced: "),
            "{c:?}"
        );
    }
    assert_eq!(
        by_contact.keys().cloned().collect::<BTreeSet<_>>(),
        contacts.keys().cloned().collect::<BTreeSet<_>>()
    );
    let contacts = w.live_contacts();
    for (id, c) in &contacts {
        let cust = &customers[&by_contact[id]];
        assert_eq!(prop(c, "tte_customer_uri"), cust.resource_uri, "{id}");
        assert!(prop(c, "tte_customer_sync_status").starts_with("Last synced: "));
        let name: Vec<String> = [prop(c, "firstname"), prop(c, "lastname")]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(cust.name, name.join(" "), "{id}");
        let email = prop(c, "email");
        let emails: Vec<String> = [email].into_iter().filter(|s| !s.is_empty()).collect();
        assert_eq!(cust.emails, emails, "{id}");
        assert_eq!(cust.numbers, vec![prop(c, "phone")], "{id}");
    }
    for id in &seeded.first_name_only {
        assert!(!customers[&by_contact[id]].name.contains(' '));
    }
    for id in &seeded.no_email {
        assert!(customers[&by_contact[id]].emails.is_empty());
    }
    for id in &seeded.archived {
        assert!(!by_contact.contains_key(id));
    }

    w.assert_next_run_writes_nothing("inbound", 0).await;
}

/// The placeholder HubSpot got for an invalid email never erases the address 10to8 keeps:
/// neither with the shadow of what mapsync wrote, nor from a fresh state store.
#[tokio::test(flavor = "multi_thread")]
async fn inbound_after_outbound_keeps_the_invalid_emails_behind_placeholders() {
    let mut w = World::seeded(13, 100, 0).await;
    let seeded = w.sb.seed_report();
    let before = w.live_customers();
    w.sync_json("outbound").await.expect_code(3);

    // Someone edits the placeholder contacts' phone in HubSpot: inbound has something to write
    // to exactly those customers.
    let contacts = w.live_contacts();
    let by_uri: BTreeMap<String, String> = contacts
        .iter()
        .map(|(id, c)| (prop(c, "tte_customer_uri"), id.clone()))
        .collect();
    assert_eq!(seeded.invalid_email.len(), 10);
    for (n, uri) in seeded.invalid_email.iter().enumerate() {
        let c = &contacts[&by_uri[uri]];
        assert_eq!(prop(c, "email"), "", "{uri} got the placeholder");
        w.sb.ui_update_contact(
            &by_uri[uri],
            json!({ "phone": format!("+44 20 0000 {n:04}") }),
        )
        .expect("edit the contact");
    }

    w.clear_logs();
    let run = w.sync_json("inbound").await;
    run.expect_code(0);
    let c = run.counts();
    assert_eq!(
        (c["created"], c["updated"], c["failed"]),
        (0, 10, 0),
        "{run:#?}"
    );
    assert_eq!(w.sb.count(System::Tte, "customers.patch").total, 10);
    let customers = w.live_customers();
    for (n, uri) in seeded.invalid_email.iter().enumerate() {
        let cust = &customers[uri];
        assert_eq!(
            cust.emails, before[uri].emails,
            "{uri}: the invalid email survives"
        );
        assert_eq!(cust.numbers, vec![format!("+44 20 0000 {n:04}")]);
        assert_eq!(
            custom(cust, "Sync Status"),
            format!("Error: Invalid email {}", cust.emails[0])
        );
    }
    // Every other customer is as it was (bar the status of the outbound run).
    for (uri, cust) in &before {
        if !seeded.invalid_email.contains(uri) {
            assert_eq!(
                (
                    &customers[uri].name,
                    &customers[uri].emails,
                    &customers[uri].numbers
                ),
                (&cust.name, &cust.emails, &cust.numbers)
            );
        }
    }

    // From a fresh state store (no shadow of what mapsync wrote), the rule alone protects them.
    w.state = w.dir.path().join("fresh.db");
    let run = w.assert_next_run_writes_nothing("inbound", 0).await;
    assert_eq!(run.counts()["invalid"], 10);
    assert_eq!(w.live_customers(), customers);
}
