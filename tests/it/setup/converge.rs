//! Converging: empty systems get everything, a second run writes nothing, a new public URL
//! updates in place, existing properties are updated rather than duplicated, objects mapsync
//! does not own are left alone (also with --prune), and teardown then setup round-trips.

use serde_json::json;

use super::{TOKEN, URL, World, declared_properties, declared_subscriptions, tte_callback};

#[tokio::test]
async fn empty_systems_converge_and_a_second_run_writes_nothing() {
    let w = World::start().await;
    let run = w.converge(URL).await;
    assert!(
        run.stdout
            .contains("Plan: 14 to add, 0 to change, 0 to destroy.\n"),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .ends_with("Apply complete: 14 created, 0 updated, 0 replaced, 0 deleted.\n"),
        "{run:#?}"
    );
    // The webhook token is shown by name, never by value.
    assert!(!run.stdout.contains(TOKEN), "{}", run.stdout);
    assert!(run.stdout.contains("key=${TTE_WEBHOOK_TOKEN}"));

    assert_eq!(w.custom_properties().await, declared_properties());
    assert_eq!(
        w.target_url().await.as_deref(),
        Some("https://sync.example.com/webhooks/hubspot")
    );
    let subs = w.subscriptions();
    let keys: Vec<String> = subs.iter().map(|s| s.1.clone()).collect();
    assert_eq!(keys, declared_subscriptions());
    assert!(
        subs.iter().all(|s| s.2),
        "every subscription is active: {subs:?}"
    );
    assert_eq!(
        w.tte_subscriptions().await,
        [("customer".to_string(), tte_callback(URL))]
    );

    // Converged: the plan is empty, and nothing but reads reaches either API.
    w.clear_logs();
    let again = w.converge(URL).await;
    assert!(
        again
            .stdout
            .ends_with("No changes. The systems match the mapping.\n"),
        "{again:#?}"
    );
    assert_eq!(w.writes(), Vec::<String>::new());
    let dry = w.setup(&["--public-url", URL, "--dry-run"], &[]).await;
    dry.expect_code(0);
    assert_eq!(w.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_new_public_url_updates_settings_and_subscriptions_without_duplicates() {
    let w = World::start().await;
    w.converge(URL).await;
    let before = w.subscriptions();
    w.clear_logs();

    let new = "https://new.example.com/";
    let dry = w.setup(&["--public-url", new, "--dry-run"], &[]).await;
    dry.expect_code(5);
    assert!(
        dry.stdout.contains(
            "  ~ update hubspot-webhook-settings\n      targetUrl: \
             \"https://sync.example.com/webhooks/hubspot\" → \"https://new.example.com/webhooks/hubspot\"\n"
        ),
        "{dry:#?}"
    );
    assert!(dry.stdout.contains("  -/+ replace customer"), "{dry:#?}");
    assert!(
        dry.stdout
            .contains("Plan: 1 to add, 1 to change, 1 to destroy.\n"),
        "{dry:#?}"
    );
    assert_eq!(w.writes(), Vec::<String>::new(), "a dry run writes nothing");

    w.converge(new).await;
    let writes = w.writes();
    assert_eq!(writes.len(), 3, "{writes:#?}");
    assert!(writes[0].starts_with("PUT /webhooks/v3/"), "{writes:#?}");
    assert!(writes[1].starts_with("DELETE /api/enterprise/v2/subscription/"));
    assert!(writes[2].starts_with("POST /api/enterprise/v2/subscription/"));
    assert_eq!(
        w.target_url().await.as_deref(),
        Some("https://new.example.com/webhooks/hubspot")
    );
    // The same eight HubSpot subscriptions (same ids), none lost, none added.
    assert_eq!(w.subscriptions(), before);
    assert_eq!(
        w.tte_subscriptions().await,
        [(
            "customer".to_string(),
            tte_callback("https://new.example.com")
        )]
    );
}

#[tokio::test]
async fn existing_properties_are_updated_and_what_others_made_is_left_alone() {
    let w = World::start().await;
    w.create_property("tte_customer_sync_status", "Status (old)")
        .await;
    w.create_property("other_prop", "Someone else's").await;
    w.create_tte_subscription("https://elsewhere.example.com/hook")
        .await;
    w.clear_logs();

    let run = w
        .setup(&["--public-url", URL, "--yes", "--prune"], &[])
        .await;
    run.expect_code(0);
    assert!(
        run.stdout.contains(
            "  ~ update tte_customer_sync_status\n      label: \"Status (old)\" → \"10to8 Customer Sync Status\"\n"
        ),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("Plan: 13 to add, 1 to change, 0 to destroy.\n"),
        "{run:#?}"
    );
    let writes = w.writes();
    assert!(
        writes.contains(
            &"PATCH /crm/v3/properties/contacts/tte_customer_sync_status → Some(200)".to_string()
        ),
        "{writes:#?}"
    );
    assert!(
        !writes
            .iter()
            .any(|w| w.contains("other_prop") || w.contains("DELETE")),
        "{writes:#?}"
    );

    let mut expected = declared_properties();
    expected.push((
        "other_prop".into(),
        "Someone else's".into(),
        "string".into(),
        "text".into(),
    ));
    expected.sort();
    assert_eq!(w.custom_properties().await, expected);
    assert_eq!(
        w.tte_subscriptions().await,
        [
            (
                "customer".to_string(),
                "https://elsewhere.example.com/hook".to_string()
            ),
            ("customer".to_string(), tte_callback(URL)),
        ]
    );

    // A later --prune run still leaves them alone.
    w.clear_logs();
    let again = w
        .setup(&["--public-url", URL, "--yes", "--prune"], &[])
        .await;
    again.expect_code(0);
    assert_eq!(w.writes(), Vec::<String>::new(), "{again:#?}");
}

#[tokio::test]
async fn teardown_then_setup_returns_the_systems_to_the_same_state() {
    let w = World::start().await;
    w.create_property("other_prop", "Someone else's").await;
    w.converge(URL).await;
    let converged = w.state().await;

    // No public URL is needed to tear down.
    let dry = w.setup(&["--teardown", "--dry-run"], &[]).await;
    dry.expect_code(5);
    assert!(
        dry.stdout
            .contains("Plan: 0 to add, 0 to change, 14 to destroy.\n"),
        "{dry:#?}"
    );
    let torn = w.setup(&["--teardown", "--yes"], &[]).await;
    torn.expect_code(0);
    assert_eq!(
        w.state().await,
        json!({
            "properties": [["other_prop", "Someone else's", "string", "text"]],
            "target_url": null,
            "subscriptions": [],
            "tte_subscriptions": [],
        })
    );
    // Subscriptions go before the properties they name.
    let writes = w.writes();
    let first_property = writes
        .iter()
        .position(|w| w.starts_with("DELETE /crm/v3/properties/"))
        .expect("properties deleted");
    let last_subscription = writes
        .iter()
        .rposition(|w| w.starts_with("DELETE /webhooks/v3/"))
        .expect("subscriptions deleted");
    assert!(last_subscription < first_property, "{writes:#?}");

    w.converge(URL).await;
    assert_eq!(w.state().await, converged);
}

#[tokio::test]
async fn a_long_webhook_token_is_never_shown_even_in_part() {
    // 36–48 characters: long enough that the callback URL is cut for the plan.
    let w = World::start().await;
    for token in [
        "0123456789abcdefghijklmnopqrstuvwxyz",
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL",
    ] {
        let run = w
            .setup(
                &["--public-url", URL, "--dry-run"],
                &[("TTE_WEBHOOK_TOKEN", token)],
            )
            .await;
        let shown = format!("{}{}", run.stdout, run.stderr);
        for start in 0..token.len() - 8 {
            let part = &token[start..start + 8];
            assert!(
                !shown.contains(part),
                "`{part}` of the token shown:\n{shown}"
            );
        }
        assert!(shown.contains("${TTE_WEBHOOK_TOKEN}"), "{shown}");
    }
}
