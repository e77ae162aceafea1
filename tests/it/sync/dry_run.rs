//! `--dry-run` plans and writes nothing; `--json` output parses.

use sandbox::System;
use serde_json::Value;

use super::{World, counts};

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_the_plan_and_sends_only_gets() {
    let w = World::seeded(51, 50, 0).await;
    let before = (w.live_customers(), w.live_contacts());

    // JSON: one {"plan": …} line per source record, then {"report": …}.
    let run = w
        .sync(&["--direction", "outbound", "--dry-run", "--json"], &[])
        .await;
    run.expect_code(3); // the merged customers would be conflicts
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let (report, plans) = lines.split_last().expect("output");
    assert_eq!(report["report"]["dry_run"], true);
    assert_eq!(report["report"]["run_id"], Value::Null);
    assert_eq!(plans.len(), 50);
    let kinds = |k: &str| plans.iter().filter(|p| p["plan"]["kind"] == k).count();
    assert_eq!(
        (kinds("create"), kinds("conflict"), kinds("skip")),
        (40, 5, 5)
    );
    let create = plans
        .iter()
        .find(|p| p["plan"]["kind"] == "create")
        .expect("a create");
    assert!(create["plan"]["write"]["firstname"].is_string(), "{create}");
    assert_eq!(
        run.counts(),
        counts(&[
            ("seen", 50),
            ("created", 40),
            ("invalid", 5),
            ("conflicts", 5),
            ("skipped", 5)
        ])
    );

    // Human: the per-record plan with field diffs, then the summary.
    let run = w.sync(&["--direction", "outbound", "--dry-run"], &[]).await;
    run.expect_code(3);
    assert_eq!(
        run.stdout
            .lines()
            .filter(|l| l.starts_with("+ create contact from customer "))
            .count(),
        40,
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("    firstname: "), "{}", run.stdout);
    assert!(
        run.stdout.contains("invalid: Invalid email "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Dry run of outbound"), "{}", run.stdout);

    // Nothing but reads reached either system, and nothing changed.
    for system in [System::Tte, System::Hubspot] {
        let log = w.sb.requests(system);
        assert!(!log.is_empty());
        assert_eq!(w.writes(system), Vec::<String>::new());
    }
    assert_eq!((w.live_customers(), w.live_contacts()), before);

    // A dry run recorded nothing either: the real run then creates all 40.
    let run = w.sync_json("outbound").await;
    run.expect_code(3);
    assert_eq!(run.counts()["created"], 40);
}
