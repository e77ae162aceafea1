//! Issue 11 with the real binary: a two-way merge that never loses an edit. Each test makes
//! the edits a person would make in the sandbox's two systems, runs `mapsync sync` each way,
//! and checks both systems: every edit kept, nothing deleted that was not linked, both sides
//! equal, and a further run writes nothing.

use sandbox::{SandboxConfig, System};
use serde_json::json;

use super::{World, custom, prop, replace_all, test_mapping};

/// One customer and its contact, linked by a first sync each way. Returns (customer URI,
/// contact id).
async fn linked_pair(w: &World, name: &str, email: &str, phone: &str) -> (String, String) {
    let c =
        w.sb.ui_create_customer(json!({"name": name, "emails": [email], "numbers": [phone]}))
            .expect("create customer");
    w.sync_json("outbound").await.expect_code(0);
    w.sync_json("inbound").await.expect_code(0);
    let cu = w.sb.customer(&c.resource_uri).expect("customer");
    let id = custom(&cu, "External ID");
    assert!(!id.is_empty(), "linked: {cu:?}");
    (c.resource_uri, id)
}

async fn empty(mapping: &str) -> World {
    World::start(
        SandboxConfig {
            customers: 0,
            contacts: 0,
            ..SandboxConfig::for_tests()
        },
        mapping,
    )
    .await
}

/// Scenario 1: no webhook for a while; the contact's phone changes in HubSpot, then the
/// customer is renamed in 10to8. The nightly outbound sync writes the new name only, the
/// inbound sync the new phone only: both edits survive, on both sides.
#[tokio::test(flavor = "multi_thread")]
async fn edits_to_different_fields_on_both_sides_both_survive() {
    let w = empty(&test_mapping()).await;
    let (uri, id) = linked_pair(&w, "Ann Lee", "ann@example.com", "+44 1").await;
    w.sb.ui_update_contact(&id, json!({"phone": "+44 2"}))
        .expect("edit contact");
    w.sb.ui_update_customer(&uri, json!({"name": "Ann Smith"}))
        .expect("edit customer");

    w.clear_logs();
    let out = w.sync_json("outbound").await;
    out.expect_code(0);
    let contact = w.sb.contact(&id).expect("contact");
    assert_eq!(prop(&contact, "lastname"), "Smith", "{out:#?}");
    assert_eq!(
        prop(&contact, "phone"),
        "+44 2",
        "the HubSpot edit survives: {out:#?}"
    );
    w.sync_json("inbound").await.expect_code(0);
    let cu = w.sb.customer(&uri).expect("customer");
    assert_eq!(cu.name, "Ann Smith");
    assert_eq!(cu.numbers, vec!["+44 2".to_string()], "the phone crossed");

    w.assert_next_run_writes_nothing("outbound", 0).await;
    w.assert_next_run_writes_nothing("inbound", 0).await;
}

/// Scenario 1 with `conflicts: home`: both sides renamed; 10to8's name wins on both sides
/// after one sync each way, and the sides are never left different (no echo forever).
#[tokio::test(flavor = "multi_thread")]
async fn a_same_field_conflict_ends_equal_under_home_and_external() {
    for (policy, winner) in [("home", "Ann Home"), ("external", "Ann External")] {
        let mapping = replace_all(
            &test_mapping(),
            &[("conflicts: newest", &format!("conflicts: {policy}"))],
        );
        let w = empty(&mapping).await;
        let (uri, id) = linked_pair(&w, "Ann Lee", "ann@example.com", "+44 1").await;
        w.sb.ui_update_contact(&id, json!({"firstname": "Ann", "lastname": "External"}))
            .expect("edit contact");
        w.sb.ui_update_customer(&uri, json!({"name": "Ann Home"}))
            .expect("edit customer");
        // Either order: the winner is the policy's, never the order of the runs.
        let (first, second) = if policy == "home" {
            ("inbound", "outbound")
        } else {
            ("outbound", "inbound")
        };
        w.sync_json(first).await.expect_code(0);
        w.sync_json(second).await.expect_code(0);
        let cu = w.sb.customer(&uri).expect("customer");
        let contact = w.sb.contact(&id).expect("contact");
        assert_eq!(cu.name, winner, "{policy}");
        assert_eq!(
            format!(
                "{} {}",
                prop(&contact, "firstname"),
                prop(&contact, "lastname")
            ),
            winner,
            "{policy}"
        );
        w.assert_next_run_writes_nothing("outbound", 0).await;
        w.assert_next_run_writes_nothing("inbound", 0).await;
    }
}

/// `conflicts: report`: both sides renamed; nothing is written for the name, the conflict is
/// counted (exit 3) and both status fields say why; once a person makes them equal, it clears.
#[tokio::test(flavor = "multi_thread")]
async fn a_reported_conflict_writes_neither_side_and_says_why() {
    let mapping = replace_all(
        &test_mapping(),
        &[("conflicts: newest", "conflicts: report")],
    );
    let w = empty(&mapping).await;
    let (uri, id) = linked_pair(&w, "Ann Lee", "ann@example.com", "+44 1").await;
    w.sb.ui_update_contact(&id, json!({"lastname": "External"}))
        .expect("edit contact");
    w.sb.ui_update_customer(&uri, json!({"name": "Ann Home"}))
        .expect("edit customer");
    let run = w.sync_json("outbound").await;
    run.expect_code(3);
    assert_eq!(run.counts()["conflicts"], 1, "{run:#?}");
    let cu = w.sb.customer(&uri).expect("customer");
    let contact = w.sb.contact(&id).expect("contact");
    assert_eq!(cu.name, "Ann Home");
    assert_eq!(prop(&contact, "lastname"), "External");
    assert!(
        custom(&cu, "Sync Status").contains("conflict in name"),
        "{cu:?}"
    );
    assert!(
        prop(&contact, "tte_customer_sync_status").contains("conflict in name"),
        "{contact:?}"
    );
    w.sync_json("inbound").await.expect_code(3);
    assert_eq!(w.sb.customer(&uri).expect("customer").name, "Ann Home");
    // A person settles it in HubSpot; the next syncs clear the conflict.
    w.sb.ui_update_contact(&id, json!({"lastname": "Home"}))
        .expect("settle");
    w.sync_json("outbound").await.expect_code(0);
    w.sync_json("inbound").await.expect_code(0);
    let cu = w.sb.customer(&uri).expect("customer");
    assert!(
        custom(&cu, "Sync Status").starts_with("Last synced"),
        "{cu:?}"
    );
}

/// Scenario 2: a first inbound sync into an existing 10to8 account. A contact archived in
/// HubSpot, never linked, shares a live customer's email: the customer is not deleted. And
/// outbound: a deleted customer sharing a live contact's email deletes nothing; the live
/// customer with that email links to the contact instead.
#[tokio::test(flavor = "multi_thread")]
async fn a_delete_never_reaches_a_record_found_only_by_email() {
    let w = empty(&test_mapping()).await;
    let live =
        w.sb.ui_create_customer(
            json!({"name": "Kim Live", "emails": ["kim@example.com"], "numbers": []}),
        )
        .expect("customer");
    let archived =
        w.sb.ui_create_contact(
            json!({"email": "kim@example.com", "firstname": "Kim", "lastname": "Old"}),
        )
        .expect("contact");
    let archived_id = archived["id"].as_str().expect("id").to_string();
    assert!(w.sb.ui_delete_contact(&archived_id));
    let run = w.sync_json("inbound").await;
    run.expect_code(0);
    assert_eq!(run.counts()["deleted"], 0, "{run:#?}");
    assert!(
        !w.sb.customer(&live.resource_uri).expect("customer").deleted,
        "the stranger is not deleted: {run:#?}"
    );

    // Outbound: a deleted customer listed before a live one with the same email.
    let gone =
        w.sb.ui_create_customer(
            json!({"name": "Lee Gone", "emails": ["lee@example.com"], "numbers": []}),
        )
        .expect("customer");
    w.sb.ui_delete_customer(&gone.resource_uri).expect("delete");
    let twin =
        w.sb.ui_create_customer(
            json!({"name": "Lee Live", "emails": ["lee@example.com"], "numbers": []}),
        )
        .expect("customer");
    let contact =
        w.sb.ui_create_contact(
            json!({"email": "lee@example.com", "firstname": "Lee", "lastname": "Live"}),
        )
        .expect("contact");
    let contact_id = contact["id"].as_str().expect("id").to_string();
    w.clear_logs();
    let run = w.sync_json("outbound").await;
    run.expect_code(0);
    let deletes: Vec<String> = w
        .writes(System::Hubspot)
        .into_iter()
        .filter(|r| r.starts_with("DELETE"))
        .collect();
    assert_eq!(deletes, Vec::<String>::new(), "{run:#?}");
    let c = w.sb.contact(&contact_id).expect("contact");
    assert!(!c.archived, "the live contact stays");
    assert_eq!(
        prop(&c, "tte_customer_uri"),
        twin.resource_uri,
        "linked to the live twin"
    );
}

/// Scenario 6: a customer's first email is invalid, the second valid; the contact gets the
/// placeholder. Once the invalid address is removed in 10to8, the valid one becomes the
/// contact's email.
#[tokio::test(flavor = "multi_thread")]
async fn a_fixed_email_replaces_the_placeholder() {
    let w = empty(&test_mapping()).await;
    let c =
        w.sb.ui_create_customer(
            json!({"name": "Bo Ng", "emails": ["not-an-email", "bo@example.com"], "numbers": []}),
        )
        .expect("customer");
    w.sync_json("outbound").await.expect_code(0);
    let id = custom(
        &w.sb.customer(&c.resource_uri).expect("customer"),
        "External ID",
    );
    let contact = w.sb.contact(&id).expect("contact");
    assert_eq!(prop(&contact, "email"), "", "the placeholder");
    w.sync_json("inbound").await.expect_code(0);
    w.sb.ui_update_customer(&c.resource_uri, json!({"emails": ["bo@example.com"]}))
        .expect("fix");
    let run = w.sync_json("outbound").await;
    run.expect_code(0);
    let contact = w.sb.contact(&id).expect("contact");
    assert_eq!(prop(&contact, "email"), "bo@example.com", "{run:#?}");
    assert_eq!(prop(&contact, "tte_customer_secondary_emails"), "");
    assert!(prop(&contact, "tte_customer_sync_status").starts_with("Last synced"));
    w.sync_json("inbound").await.expect_code(0);
    assert_eq!(
        w.sb.customer(&c.resource_uri).expect("customer").emails,
        vec!["bo@example.com".to_string()]
    );
    w.assert_next_run_writes_nothing("outbound", 0).await;
    w.assert_next_run_writes_nothing("inbound", 0).await;
}

/// Scenario 5: the mapping's email rule accepts `josé@example.com`, HubSpot refuses it (400
/// `INVALID_EMAIL`). The refusal is handled like the rule: the contact is created with the
/// placeholder, both statuses say why, the sync does not fail, the next runs write nothing, and
/// the address is kept in 10to8. Alone (a single create) and in a batch.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_email_is_handled_like_the_rule() {
    for others in [0usize, 2] {
        let w = empty(&test_mapping()).await;
        let c =
            w.sb.ui_create_customer(
                json!({"name": "José Ruiz", "emails": ["josé@example.com"], "numbers": []}),
            )
            .expect("customer");
        for n in 0..others {
            w.sb.ui_create_customer(json!({"name": format!("Other {n}"), "emails": [format!(" other{n}@example.com ")], "numbers": []}))
                .expect("customer");
        }
        let run = w.sync_json("outbound").await;
        run.expect_code(0);
        let counts = run.counts();
        assert_eq!(
            (counts["created"], counts["invalid"], counts["failed"]),
            (1 + others as u64, 1, 0),
            "{run:#?}"
        );
        let cu = w.sb.customer(&c.resource_uri).expect("customer");
        let id = custom(&cu, "External ID");
        let contact = w.sb.contact(&id).expect("the contact is created");
        assert_eq!(prop(&contact, "email"), "");
        assert_eq!(
            prop(&contact, "tte_customer_sync_status"),
            "Error: Invalid email josé@example.com"
        );
        assert_eq!(
            custom(&cu, "Sync Status"),
            "Error: Invalid email josé@example.com"
        );
        for other in w
            .live_customers()
            .values()
            .filter(|o| o.name.starts_with("Other"))
        {
            let contact =
                w.sb.contact(&custom(other, "External ID"))
                    .expect("contact");
            assert!(
                prop(&contact, "email").starts_with("other"),
                "trimmed: {contact:?}"
            );
            assert!(custom(other, "Sync Status").starts_with("Last synced"));
        }
        w.assert_next_run_writes_nothing("outbound", 0).await;
        w.sync_json("inbound").await.expect_code(0);
        assert_eq!(
            w.sb.customer(&c.resource_uri).expect("customer").emails,
            vec!["josé@example.com".to_string()],
            "the address is kept in 10to8"
        );
        w.assert_next_run_writes_nothing("inbound", 0).await;
        w.assert_next_run_writes_nothing("outbound", 0).await;
    }
}
