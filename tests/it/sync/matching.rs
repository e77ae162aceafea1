//! Match keys: records that exist on both sides before the first sync are linked, not
//! duplicated; an ambiguous match creates nothing; no match keys into a non-empty target needs
//! an explicit flag.

use std::collections::BTreeSet;

use sandbox::System;
use serde_json::json;

use super::{World, counts, custom, prop, replace_all, test_mapping};

#[tokio::test(flavor = "multi_thread")]
async fn contacts_that_already_hold_the_customers_emails_are_linked_not_duplicated() {
    let w = World::seeded(21, 30, 0).await;
    let seeded = w.sb.seed_report();
    let customers = w.live_customers();
    // Contacts for the plain customers exist already, typed differently (case, spaces are not
    // valid in HubSpot, so case only).
    let mut existing = BTreeSet::new();
    for uri in &seeded.plain_customers {
        let email = customers[uri].emails[0].to_uppercase();
        let c =
            w.sb.ui_create_contact(json!({ "email": email, "firstname": "Existing" }))
                .expect("create a contact");
        existing.insert((uri.clone(), c["id"].as_str().expect("id").to_string()));
    }
    assert_eq!(existing.len(), 6);

    let run = w.sync_json("outbound").await;
    run.expect_code(3); // the merged customers
    let c = run.counts();
    // 30 customers: 3 deleted, 3 merged; 6 of the 24 others already have a contact.
    assert_eq!(
        (
            c["created"],
            c["linked"] + c["updated"],
            c["conflicts"],
            c["failed"]
        ),
        (18, 6, 3, 0),
        "{run:#?}"
    );
    let contacts = w.live_contacts();
    assert_eq!(contacts.len(), 24, "no duplicates");
    let customers = w.live_customers();
    for (uri, id) in &existing {
        assert_eq!(custom(&customers[uri], "External ID"), *id);
        let c = &contacts[id];
        assert_eq!(prop(c, "tte_customer_uri"), *uri);
        // Linked, then brought in step with the customer.
        assert_eq!(prop(c, "email"), customers[uri].emails[0]);
        assert_eq!(
            format!("{} {}", prop(c, "firstname"), prop(c, "lastname")),
            customers[uri].name
        );
    }
    let batch_inputs = 18;
    assert_eq!(contacts.len() - existing.len(), batch_inputs);
    w.assert_next_run_writes_nothing("outbound", 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_contact_matching_two_customers_is_ambiguous_and_nothing_is_created_for_it() {
    let w = World::seeded(22, 0, 0).await;
    let twin = |name: &str| {
        w.sb.ui_create_customer(json!({ "name": name, "emails": ["Twin@Example.com"] }))
            .expect("create a customer")
            .resource_uri
    };
    let twins = [twin("Ann Twin"), twin("Bea Twin")];
    let contact = |email: &str, first: &str| {
        w.sb.ui_create_contact(json!({ "email": email, "firstname": first }))
            .expect("create a contact")["id"]
            .as_str()
            .expect("id")
            .to_string()
    };
    let ambiguous = contact("twin@example.com", "Twin");
    let single = contact("solo@example.com", "Solo");

    let run = w.sync_json("inbound").await;
    run.expect_code(3);
    assert_eq!(
        run.counts(),
        counts(&[("seen", 2), ("created", 1), ("conflicts", 1)])
    );
    assert_eq!(w.sb.count(System::Tte, "customers.create").total, 1);
    let customers = w.live_customers();
    assert_eq!(customers.len(), 3);
    for uri in &twins {
        assert_eq!(
            custom(&customers[uri], "External ID"),
            "",
            "{uri} is not linked"
        );
        assert_eq!(customers[uri].emails, ["Twin@Example.com"]);
    }
    assert_eq!(
        prop(
            &w.sb.contact(&ambiguous).expect("contact"),
            "tte_customer_uri"
        ),
        ""
    );
    let created: Vec<_> = customers.values().filter(|c| c.name == "Solo").collect();
    assert_eq!(created.len(), 1);
    assert_eq!(custom(created[0], "External ID"), single);
    // The report names the conflict on stdout (one line per conflict before the report).
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains("\"conflict\"") && l.contains("2 customer records match")),
        "{}",
        run.stdout
    );

    // Outbound, both twins match the one contact: neither is linked to it (before the fix,
    // both were, and the page's commit then failed on every run with exit 74).
    let run = w.sync_json("outbound").await;
    run.expect_code(3);
    assert_eq!(
        run.counts(),
        counts(&[("seen", 3), ("unchanged", 1), ("conflicts", 2)])
    );
    assert_eq!(w.live_contacts().len(), 2, "nothing created for the twins");
    let twin_links = || {
        let customers = w.live_customers();
        twins
            .iter()
            .map(|u| custom(&customers[u], "External ID"))
            .collect::<Vec<_>>()
    };
    assert_eq!(twin_links(), ["", ""]);
    assert_eq!(
        prop(
            &w.sb.contact(&ambiguous).expect("contact"),
            "tte_customer_uri"
        ),
        ""
    );

    // A person resolves it: Bea gets her own address. Ann is linked, Bea's contact created.
    w.sb.ui_update_customer(&twins[1], json!({ "emails": ["bea@example.com"] }))
        .expect("edit the customer");
    let run = w.sync_json("outbound").await;
    run.expect_code(0);
    assert_eq!(twin_links()[0], ambiguous);
    assert_eq!(w.live_contacts().len(), 3);

    // A third customer with the address Ann's contact holds: its create answers "already
    // exists" with a contact linked to Ann. A conflict, every run; never a second link.
    let cat =
        w.sb.ui_create_customer(json!({ "name": "Cat Twin", "emails": ["twin@example.com"] }))
            .expect("create a customer")
            .resource_uri;
    for _ in 0..2 {
        let run = w.sync_json("outbound").await;
        run.expect_code(3);
        let c = run.counts();
        assert_eq!(
            (c["conflicts"], c["created"], c["failed"]),
            (1, 0, 0),
            "{run:#?}"
        );
        assert_eq!(
            custom(&w.sb.customer(&cat).expect("cat"), "External ID"),
            ""
        );
        assert_eq!(twin_links()[0], ambiguous);
        let contact = w.sb.contact(&ambiguous).expect("contact");
        assert_eq!(prop(&contact, "tte_customer_uri"), twins[0]);
        assert_eq!(w.live_contacts().len(), 3);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_match_keys_a_first_sync_into_a_non_empty_target_needs_allow_unmatched() {
    let mapping = replace_all(
        &test_mapping(),
        &[(
            "  match:\n    home: \"record.emails | first | default('') | lower | trim\"\n    external: \"record.email | default('') | lower | trim\"\n",
            "",
        )],
    );
    let w = World::start(
        sandbox::SandboxConfig {
            seed: 23,
            customers: 10,
            contacts: 5,
            ..sandbox::SandboxConfig::for_tests()
        },
        &mapping,
    )
    .await;
    let contacts_before = w.live_contacts();
    let run = w.sync_json("outbound").await;
    run.expect_code(4);
    assert!(run.stderr.contains("--allow-unmatched"), "{run:#?}");
    assert_eq!(w.writes(System::Hubspot), Vec::<String>::new());
    assert_eq!(w.writes(System::Tte), Vec::<String>::new());
    assert_eq!(w.live_contacts(), contacts_before);

    let run = w
        .sync(
            &["--direction", "outbound", "--json", "--allow-unmatched"],
            &[],
        )
        .await;
    run.expect_code(3); // the merged customer
    let c = run.counts();
    assert_eq!(
        (c["created"], c["conflicts"], c["failed"]),
        (8, 1, 0),
        "{run:#?}"
    );
    assert_eq!(w.live_contacts().len(), contacts_before.len() + 8);
}
