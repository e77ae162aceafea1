//! Failures: API errors while applying (401, 409, 500 after the retries) stop the apply with a
//! clear message, a non-zero exit and a report of what was applied; missing credentials, a
//! missing public URL and a missing confirmation stop before any write.

use sandbox::{Faults, ScriptedFault, System};

use super::{URL, World};

fn scripted(method: &str, path: &str, status: u16, count: u32) -> Faults {
    Faults {
        scripted: vec![ScriptedFault {
            method: Some(method.into()),
            path_contains: Some(path.into()),
            status,
            count,
            retry_after_secs: None,
            apply_first: false,
        }],
        ..Faults::default()
    }
}

#[tokio::test]
async fn a_refused_key_stops_the_apply_and_reports_what_was_applied() {
    let w = World::start().await;
    w.sb.set_faults(System::Hubspot, scripted("PUT", "/settings", 401, 1));
    let run = w.converge_failing(URL).await;
    run.expect_code(69);
    assert!(
        run.stdout
            .contains("Apply stopped by an error: 4 created, 0 updated, 0 replaced, 0 deleted.\n"),
        "{run:#?}"
    );
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(
            "error: create hubspot-webhook-settings of hubspot-webhook-settings failed: create: \
             hubspot: PUT /webhooks/v3/54321/settings answered 401 after 1 attempt(s)"
        ),
        "{run:#?}"
    );
    assert!(
        first.contains("the credentials for `hubspot` were refused"),
        "{first}"
    );
    assert!(
        first.ends_with("comes from HUBSPOT_DEVELOPER_API_KEY)"),
        "{first}"
    );
    assert!(
        run.stderr.contains(
            "4 change(s) were applied before the error, 1 failed, and 9 were not attempted; \
             fix the problem and run `mapsync setup` again"
        ),
        "{run:#?}"
    );
    // Running again picks up from what exists.
    let again = w.converge(URL).await;
    assert!(
        again
            .stdout
            .contains("Plan: 10 to add, 0 to change, 0 to destroy.\n"),
        "{again:#?}"
    );
}

#[tokio::test]
async fn a_wrong_developer_key_is_reported_before_anything_is_written() {
    let w = World::start().await;
    let run = w
        .setup(
            &["--public-url", URL, "--yes"],
            &[("HUBSPOT_DEVELOPER_API_KEY", "wrong-key")],
        )
        .await;
    run.expect_code(69);
    assert!(
        run.stderr.starts_with(
            "error: cannot read what exists for setup resource `hubspot-webhook-settings`: \
             hubspot: GET /webhooks/v3/54321/settings answered 401"
        ),
        "{run:#?}"
    );
    assert!(
        run.stderr.ends_with(
            " (the credential `hubspot-webhook-settings` uses comes from HUBSPOT_DEVELOPER_API_KEY)\n"
        ),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("wrong-key"), "no secret in messages");
    assert_eq!(w.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_conflict_is_reported() {
    let w = World::start().await;
    w.sb.set_faults(
        System::Hubspot,
        scripted("POST", "/crm/v3/properties/contacts", 409, 1),
    );
    let run = w.converge_failing(URL).await;
    run.expect_code(69);
    assert!(
        run.stderr.starts_with(
            "error: create tte_customer_uri of hubspot-properties failed: create: hubspot: POST \
             /crm/v3/properties/contacts answered 409 after 1 attempt(s)"
        ),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains(
            "0 change(s) were applied before the error, 1 failed, and 13 were not attempted"
        ),
        "{run:#?}"
    );
}

#[tokio::test]
async fn a_server_error_that_outlasts_the_retries_stops_the_apply() {
    let w = World::start().await;
    w.sb.set_faults(
        System::Hubspot,
        scripted("POST", "/subscriptions", 500, 100),
    );
    let run = w.converge_failing(URL).await;
    run.expect_code(69);
    assert!(
        run.stderr.starts_with(
            "error: create contact.creation: of hubspot-webhook-subscriptions failed: create: \
             hubspot: POST /webhooks/v3/54321/subscriptions answered 500 after 3 attempt(s)"
        ),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains(
            "5 change(s) were applied before the error, 1 failed, and 8 were not attempted"
        ),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("Apply stopped by an error: 5 created, 0 updated, 0 replaced, 0 deleted.\n"),
        "{run:#?}"
    );
    let posts =
        w.sb.requests(System::Hubspot)
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.contains("/subscriptions"))
            .count();
    assert_eq!(posts, 3, "three attempts, then it stops");
    // Nothing was sent to 10to8 after the failure.
    assert!(!w.writes().iter().any(|x| x.contains("/subscription/")));
}

#[tokio::test]
async fn missing_settings_are_named_and_nothing_is_sent() {
    let w = World::start().await;
    let no_key = w
        .setup(
            &["--public-url", URL, "--yes"],
            &[("HUBSPOT_DEVELOPER_API_KEY", "")],
        )
        .await;
    no_key.expect_code(69);
    assert_eq!(
        no_key.stderr,
        "error: setup resource `hubspot-webhook-settings` needs the environment variable \
         HUBSPOT_DEVELOPER_API_KEY, which is not set: set HUBSPOT_DEVELOPER_API_KEY to your \
         developer account's API key\n"
    );

    let no_token = w
        .setup(
            &["--public-url", URL, "--yes"],
            &[("HUBSPOT_ACCESS_TOKEN", "")],
        )
        .await;
    no_token.expect_code(69);
    assert!(
        no_token
            .stderr
            .starts_with("error: HubSpot has no access token: set HUBSPOT_ACCESS_TOKEN"),
        "{no_token:#?}"
    );

    let no_url = w.setup(&["--yes"], &[]).await;
    no_url.expect_code(2);
    assert_eq!(
        no_url.stderr,
        "error: the setup resources hubspot-webhook-settings, tte-subscription use `public_url` \
         (webhook callbacks): pass --public-url https://your-host (or set MAPSYNC_PUBLIC_URL) \
         with the address the systems can reach mapsync at\n"
    );
    let bad_url = w.setup(&["--public-url", "sync.example.com"], &[]).await;
    bad_url.expect_code(2);
    assert!(bad_url.stderr.contains("is not an absolute http(s) URL"));

    assert_eq!(w.requests(), 0, "no request before the checks pass");
}

#[tokio::test]
async fn without_a_terminal_or_yes_nothing_is_applied() {
    let w = World::start().await;
    let run = w.setup(&["--public-url", URL], &[]).await;
    run.expect_code(4);
    assert!(
        run.stdout
            .contains("Plan: 14 to add, 0 to change, 0 to destroy.\n")
    );
    assert_eq!(
        run.stderr,
        "error: not applying without confirmation: stdin is not a terminal; pass --yes to \
         apply this plan, or --dry-run to only show it\n"
    );
    assert_eq!(w.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn json_plans_and_outcomes() {
    let w = World::start().await;
    let dry = w
        .setup(&["--public-url", URL, "--dry-run", "--json"], &[])
        .await;
    dry.expect_code(5);
    let plan = &dry.last_json()["plan"];
    assert_eq!(
        plan["counts"],
        serde_json::json!({"add": 14, "change": 0, "destroy": 0, "unchanged": 0, "manual": 0})
    );
    assert_eq!(plan["resources"][0]["name"], "hubspot-properties");
    assert_eq!(plan["resources"][0]["ownership"]["rule"], "expression");
    assert_eq!(plan["resources"][2]["ownership"]["rule"], "key");

    let run = w
        .setup(&["--public-url", URL, "--yes", "--json"], &[])
        .await;
    run.expect_code(0);
    let outcome = &run.last_json()["outcome"];
    assert_eq!(outcome["applied"].as_array().map(Vec::len), Some(14));
    assert_eq!(outcome["failed"], serde_json::Value::Null);
}

impl World {
    /// `setup --public-url <url> --yes`, expected to fail.
    async fn converge_failing(&self, url: &str) -> super::Run {
        self.setup(&["--public-url", url, "--yes"], &[]).await
    }
}
