//! What a sync tells a person: a log line per record acted on (info by default), and every
//! failed and conflicting record named with its reason, in the human output and in `--json`.

use sandbox::{Faults, ScriptedFault, System};
use serde_json::Value;

use super::World;

/// The `{"plan": …}` lines of a `--json` run whose kind is `kind`.
fn plans(stdout: &str, kind: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v.get("plan").cloned())
        .filter(|p| p["kind"] == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_write_is_named_with_its_reason_and_every_write_is_logged() {
    // Three contacts (plain, first name only, two emails) → three customers; the first POST
    // of a customer is refused with 400.
    let w = World::seeded(3, 0, 3).await;
    let refuse_one_create = || {
        w.sb.set_faults(
            System::Tte,
            Faults {
                scripted: vec![ScriptedFault {
                    method: Some("POST".into()),
                    path_contains: Some("/customer/".into()),
                    status: 400,
                    count: 1,
                    retry_after_secs: None,
                    ..ScriptedFault::default()
                }],
                ..Faults::default()
            },
        )
    };
    refuse_one_create();
    let run = w.sync_json("inbound").await;
    run.expect_code(3);
    let counts = run.counts();
    assert_eq!((counts["created"], counts["failed"]), (2, 1), "{run:#?}");
    let failed = plans(&run.stdout, "failed");
    assert_eq!(failed.len(), 1, "{}", run.stdout);
    let reason = failed[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("creating the customer: ") && reason.contains("400"),
        "{reason}"
    );
    let failed_id = failed[0]["source_id"]
        .as_str()
        .expect("source id")
        .to_string();

    // The log (info by default) has one line per record acted on, the failure among them.
    let created: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("inbound contact ") && l.contains(": created ("))
        .collect();
    assert_eq!(created.len(), 2, "{}", run.stderr);
    assert!(
        run.stderr.lines().any(|l| l.contains(&format!(
            "inbound contact {failed_id} → customer (new): failed:"
        ))),
        "{}",
        run.stderr
    );

    // The next run retries only that record; refused again, the human output names it.
    refuse_one_create();
    let human = w.sync(&["--direction", "inbound"], &[]).await;
    human.expect_code(3);
    assert!(
        human.stdout.contains(&format!(
            "! failed contact {failed_id}: creating the customer: "
        )),
        "{human:#?}"
    );
    assert!(human.stdout.contains("1 failed"), "{human:#?}");

    // `status` counts it among what needs a person, with the newest few and a hint.
    let status = w.mapsync(&["status", "--json"]).await;
    let v: Value = serde_json::from_str(&status).expect("status JSON");
    let failed = &v["needs_attention"]["failed"];
    assert_eq!(failed["count"], 1, "{v}");
    assert!(
        failed["newest"][0]["record"]
            .as_str()
            .is_some_and(|r| r == format!("inbound contact {failed_id}")),
        "{v}"
    );
    assert_eq!(v["needs_attention"]["conflicts"]["count"], 0, "{v}");
    let human = w.mapsync(&["status"]).await;
    assert!(
        human.contains("needs a person:\n  1 failed  (the next `mapsync sync` retries them"),
        "{human}"
    );
    assert!(
        human.contains(&format!("inbound contact {failed_id}: tte: POST "))
            && human.contains("answered 400"),
        "{human}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_base_url_fails_at_once_naming_the_url_and_its_variable() {
    let w = World::seeded(3, 2, 0).await;
    // Port 1 on loopback: nothing listens, the connection is refused.
    let wrong = "http://127.0.0.1:1/api/enterprise/v2";
    let run = w
        .sync(&["--direction", "outbound"], &[("TTE_BASE_URL", wrong)])
        .await;
    run.expect_code(69);
    let error = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {run:#?}"));
    assert!(
        error.contains(&format!("GET {wrong}/customer/")) && error.contains("after 1 attempt(s)"),
        "{error}"
    );
    assert!(
        run.stderr
            .contains("hint: `base_url` comes from TTE_BASE_URL (set); check that URL"),
        "{run:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_says_what_is_committed_and_the_next_run_resumes_after_it() {
    // 300 customers, three pages; each 10to8 list request takes a while.
    let w = World::seeded(5, 300, 0).await;
    w.sb.set_faults(
        System::Tte,
        Faults {
            latency: std::time::Duration::from_millis(300),
            path_contains: Some("/customer/".into()),
            ..Faults::default()
        },
    );
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args(["sync", "--direction", "outbound", "--mapping"])
        .arg(&w.mapping)
        .arg("--state")
        .arg(&w.state)
        .current_dir(w.dir.path())
        .env_clear()
        .envs(w.sb.env_vars())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start mapsync sync");
    // The second page is being listed: the first one is committed.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while w.sb.count(System::Tte, "customers.list").total < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sync never reached page 2"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    let out = child.wait_with_output().await.expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let committed = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("Interrupted: ")?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .unwrap_or_else(|| panic!("no count of committed records: {stderr}"));
    assert!(committed >= 100 && committed % 100 == 0, "{stderr}");
    assert!(
        stderr.contains("Run the same command again to resume after them."),
        "{stderr}"
    );

    // The next run resumes after what was committed, and finishes the rest once.
    w.sb.set_faults(System::Tte, Faults::default());
    let run = w.sync_json("outbound").await;
    let report = run.report();
    assert!(report["resumed_at_page"].as_u64().is_some(), "{report}");
    assert_eq!(report["counts"]["seen"], 300, "{report}");
    let contacts = w.live_contacts().len() as u64;
    assert_eq!(contacts, run.counts()["created"], "one contact per create");
}
