//! Outbound: 10to8 customers → HubSpot contacts.

use std::collections::{BTreeMap, BTreeSet};

use sandbox::System;

use super::{World, counts, custom, prop};

#[tokio::test(flavor = "multi_thread")]
async fn outbound_creates_one_contact_per_live_unmerged_customer_and_a_second_run_writes_nothing() {
    let w = World::seeded(7, 1_000, 0).await;
    let seeded = w.sb.seed_report();
    let merged: BTreeSet<String> = seeded.merged.iter().cloned().collect();
    let expected: BTreeSet<String> = w
        .live_customers()
        .into_keys()
        .filter(|uri| !merged.contains(uri))
        .collect();
    assert_eq!(expected.len(), 800);
    let before: BTreeMap<String, _> = w.live_customers();

    let run = w.sync_json("outbound").await;
    // The merged customers are conflicts, so the run is "partial".
    run.expect_code(3);
    assert_eq!(
        run.counts(),
        counts(&[
            ("seen", 1_000),
            ("created", 800),
            ("invalid", 100),
            ("conflicts", 100),
            // Deleted customers that were never linked: nothing to delete.
            ("skipped", 100),
        ])
    );

    // Exactly one contact per live, unmerged customer, linked both ways.
    let contacts = w.live_contacts();
    assert_eq!(contacts.len(), 800);
    let mut by_uri = BTreeMap::new();
    for (id, c) in &contacts {
        let uri = prop(c, "tte_customer_uri");
        assert!(
            by_uri.insert(uri.clone(), id.clone()).is_none(),
            "two contacts for {uri}"
        );
    }
    assert_eq!(by_uri.keys().cloned().collect::<BTreeSet<_>>(), expected);
    let customers = w.live_customers();
    for uri in &expected {
        assert_eq!(custom(&customers[uri], "External ID"), by_uri[uri], "{uri}");
    }
    // Batched: one batch create per page of 100 customers, no single creates.
    assert_eq!(w.sb.count(System::Hubspot, "contacts.create").total, 0);
    let batches = w.sb.count(System::Hubspot, "contacts.batch.create");
    assert_eq!((batches.total, batches.ok), (10, 10));

    // Merged customers: a conflict, nothing created, their "External ID" left alone.
    for uri in &merged {
        assert_eq!(
            custom(&customers[uri], "External ID"),
            custom(&before[uri], "External ID")
        );
        assert!(!by_uri.contains_key(uri));
    }

    // The awkward cases, property by property.
    let contact = |uri: &String| &contacts[&by_uri[uri]];
    for uri in &seeded.one_word_names {
        let (cust, c) = (&customers[uri], contact(uri));
        assert!(!cust.name.contains(' '));
        assert_eq!(
            (prop(c, "firstname"), prop(c, "lastname")),
            (cust.name.clone(), String::new()),
            "{uri}"
        );
    }
    for uri in &seeded.three_word_names {
        let (cust, c) = (&customers[uri], contact(uri));
        let (first, rest) = cust.name.split_once(' ').expect("three words");
        assert_eq!(rest.split(' ').count(), 2);
        assert_eq!(
            (prop(c, "firstname"), prop(c, "lastname")),
            (first.to_string(), rest.to_string()),
            "{uri}"
        );
    }
    for uri in &seeded.multi_contact {
        let (cust, c) = (&customers[uri], contact(uri));
        assert_eq!((cust.emails.len(), cust.numbers.len()), (3, 2));
        assert_eq!(prop(c, "email"), cust.emails[0]);
        assert_eq!(
            prop(c, "tte_customer_secondary_emails"),
            cust.emails[1..].join(",\n")
        );
        assert_eq!(prop(c, "phone"), cust.numbers[0]);
        assert_eq!(prop(c, "tte_customer_secondary_phone"), cust.numbers[1]);
    }
    for uri in &seeded.invalid_email {
        let (cust, c) = (&customers[uri], contact(uri));
        let status = format!("Error: Invalid email {}", cust.emails[0]);
        // The placeholder (no email) went to HubSpot, the error to both status fields, and
        // 10to8 keeps the address it had.
        assert_eq!(prop(c, "email"), "", "{uri}");
        assert_eq!(prop(c, "tte_customer_sync_status"), status);
        assert_eq!(custom(cust, "Sync Status"), status);
        assert_eq!(cust.emails, before[uri].emails);
        assert_eq!(prop(c, "tte_customer_secondary_emails"), cust.emails[1]);
    }
    for uri in &seeded.no_contact_details {
        let c = contact(uri);
        assert_eq!(
            (prop(c, "email"), prop(c, "phone")),
            (String::new(), String::new())
        );
    }
    for uri in seeded.plain_customers.iter().chain(&seeded.future_bookings) {
        let (cust, c) = (&customers[uri], contact(uri));
        assert_eq!(
            format!("{} {}", prop(c, "firstname"), prop(c, "lastname")),
            cust.name
        );
        assert_eq!(prop(c, "email"), cust.emails[0]);
        assert_eq!(prop(c, "phone"), cust.numbers[0]);
        assert!(prop(c, "tte_customer_sync_status").starts_with("Last synced: "));
        assert!(custom(cust, "Sync Status").starts_with("Last synced: "));
    }

    // A second run reads both sides and writes nothing; the merges are still conflicts.
    let again = w.assert_next_run_writes_nothing("outbound", 3).await;
    assert_eq!(
        again.counts(),
        counts(&[
            ("seen", 1_000),
            ("unchanged", 800),
            ("invalid", 100),
            ("conflicts", 100),
            ("skipped", 100),
        ])
    );
}
