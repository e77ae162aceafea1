//! `mapsync test`: the reference mapping's own test cases pass, and a copy with broken rules
//! fails with a readable per-field diff and exit code 6.

use expect_test::expect;

use crate::util::{root, run, sandbox_dir};

#[test]
fn the_reference_mapping_passes_its_own_tests() {
    let dir = sandbox_dir(&[(&root().join("mappings/hubspot.yaml"), "mapping.yaml")]);
    let out = run(dir.path(), &["test", "mapping.yaml"], &[]);
    assert!(out.starts_with("exit: 0\n"), "{out}");
    assert!(!out.contains("FAILED"), "{out}");
    let last = out.lines().last().unwrap_or_default();
    let passed: usize = last
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("last line {last:?}"));
    // Every rule of the 2021 demo has cases: names, lists, the placeholder both ways,
    // statuses, links and deletes.
    assert!(passed >= 25, "{out}");
    for topic in [
        "three-word name",
        "one-word name",
        "two spaces",
        "secondary",
        "placeholder",
        "never erases",
        "status",
        "linked by email",
        "merge",
        "deleted customer",
    ] {
        assert!(out.contains(topic), "no case about {topic:?}:\n{out}");
    }
}

#[test]
fn the_mapping_flag_and_env_name_the_default_file() {
    let dir = sandbox_dir(&[(&root().join("mappings/hubspot.yaml"), "mapping.yaml")]);
    let out = run(
        dir.path(),
        &["test", "--filter", "one-word"],
        &[("MAPSYNC_MAPPING", "mapping.yaml")],
    );
    expect![[r#"
        exit: 0
        --- stdout
        running 2 tests from mapping.yaml
        test outbound: a one-word name becomes the first name, with an empty last name ... ok
        test outbound: a contact with only a last name already joins to the one-word name; nothing is rewritten ... ok
        2 passed, 0 failed
    "#]]
    .assert_eq(&out);
}

#[test]
fn a_broken_rule_fails_with_a_per_field_diff() {
    let src = std::fs::read_to_string(root().join("mappings/hubspot.yaml")).expect("read");
    let broken = crate::sync::replace_all(
        &src,
        &[
            // The name now splits at the last space, and the placeholder is an address.
            (
                "lastname: \"(record.name or '') | split_once(' ') | last\"",
                "lastname: \"(record.name or '') | split(' ') | last\"",
            ),
            ("placeholder: \"\"", "placeholder: invalid@example.com"),
        ],
    );
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("broken.yaml"), broken).expect("write");
    let out = run(dir.path(), &["test", "broken.yaml"], &[]);
    assert!(out.starts_with("exit: 6\n"), "{out}");
    // The pin starts at the failures, so new passing cases do not change it.
    let failures = &out[out.find("failures:").expect("a failures section")..];
    expect![[r#"
        failures:

        ---- outbound: a three-word name splits at the first space; a new contact is created and linked (broken.yaml:329) ----
          field lastname  expected: "Ann Smith"
                             found: "Smith"
          the plan: create, writes {"firstname":"Mary","lastname":"Smith","email":"mary@example.com","tte_customer_secondary_emails":"","phone":"+441234567","tte_customer_secondary_phone":"","tte_customer_uri":"https://app.10to8.com/api/enterprise/v2/customer/1/","tte_customer_sync_status":"Last synced: 2000-01-01T00:00:00Z"}

        ---- outbound: a one-word name becomes the first name, with an empty last name (broken.yaml:346) ----
          field lastname  expected: ""
                             found: "Cher"
          the plan: create, writes {"firstname":"Cher","lastname":"Cher","email":"","tte_customer_secondary_emails":"","phone":"","tte_customer_secondary_phone":"","tte_customer_uri":"https://app.10to8.com/api/enterprise/v2/customer/2/","tte_customer_sync_status":"Last synced: 2000-01-01T00:00:00Z"}

        ---- outbound: two spaces leave a leading space in the last name (the demo's split) (broken.yaml:350) ----
          field lastname  expected: " Smith"
                             found: "Smith"
          the plan: create, writes {"firstname":"Mary","lastname":"Smith","email":"","tte_customer_secondary_emails":"","phone":"","tte_customer_secondary_phone":"","tte_customer_uri":"https://app.10to8.com/api/enterprise/v2/customer/3/","tte_customer_sync_status":"Last synced: 2000-01-01T00:00:00Z"}

        ---- outbound: an email HubSpot would refuse is sent as the empty placeholder, with the error in both statuses (broken.yaml:417) ----
          field email  expected: ""
                          found: "invalid@example.com"
          the plan: create, writes {"firstname":"Bob","lastname":"Bob","email":"invalid@example.com","tte_customer_secondary_emails":"b@y.com","phone":"","tte_customer_secondary_phone":"","tte_customer_uri":"https://app.10to8.com/api/enterprise/v2/customer/10/","tte_customer_sync_status":"Error: Invalid email not-an-email"}

        ---- outbound: the placeholder also replaces an invalid email on update (broken.yaml:431) ----
          field email  expected: ""
                          found: "invalid@example.com"
          the plan: update 111 [conflict in emails: the records were never synced, and they differ; `newest` gives it to home], writes {"email":"invalid@example.com","tte_customer_sync_status":"Error: Invalid email a@b"}

        ---- outbound: once the invalid first email is removed, the valid one replaces the placeholder (broken.yaml:595) ----
          kind                                 expected: update
                                                  found: unchanged
          field email                          expected: "b@y.com"
                                                  found: (not written)
          field tte_customer_secondary_emails  expected: ""
                                                  found: (not written)
          the plan: unchanged 138, writes {"tte_customer_sync_status":"Last synced: 2000-01-01T00:00:00Z"}

        ---- outbound: an address HubSpot refused (the status remembers it) is sent as the placeholder at once (broken.yaml:608) ----
          kind    expected: unchanged
                     found: update
          writes  expected: no write
                     found: a write
          the plan: update 141 [conflict in emails: the records were never synced, and they differ; `newest` gives it to home], writes {"email":"invalid@example.com","tte_customer_sync_status":"Error: Invalid email josé@example.com"}

        35 passed, 7 failed
    "#]]
    .assert_eq(failures);
}

#[test]
fn a_mapping_without_tests_says_how_to_add_them_and_an_invalid_one_exits_1() {
    let dir = sandbox_dir(&[(
        &root().join("tests/fixtures/valid/minimal/mapping.yaml"),
        "mapping.yaml",
    )]);
    expect![[r#"
        exit: 0
        --- stdout
        mapping.yaml declares no test cases: add a `tests:` section (see docs/mapping-reference.md)
        0 passed, 0 failed
    "#]]
    .assert_eq(&run(dir.path(), &["test", "mapping.yaml"], &[]));
    let dir = sandbox_dir(&[(
        &root().join("tests/fixtures/invalid/unknown-key/mapping.yaml"),
        "mapping.yaml",
    )]);
    expect![[r#"
        exit: 1
        --- stderr
        mapping.yaml:13:5: error[schema]: unknown key `sytem` (did you mean `system`?)
          at: /collections/people/sytem
        mapping.yaml: the mapping is invalid, so its tests cannot run; `mapsync validate mapping.yaml` explains every problem
    "#]].assert_eq(&run(dir.path(), &["test", "mapping.yaml"], &[]));
}

/// Runs the real binary; returns the exit code, stdout parsed as one JSON document, and stderr.
fn run_json(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .output()
        .expect("run mapsync");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let doc = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"));
    (
        out.status.code(),
        doc,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn json_prints_one_document_with_every_case_its_line_and_each_failures_diff() {
    let dir = sandbox_dir(&[(&root().join("mappings/hubspot.yaml"), "mapping.yaml")]);
    let (code, doc, stderr) = run_json(dir.path(), &["test", "mapping.yaml", "--json"]);
    assert_eq!(code, Some(0), "{doc:#}\n{stderr}");
    assert_eq!(doc["file"], "mapping.yaml");
    assert_eq!(doc["failed"], 0);
    assert_eq!(doc["diagnostics"], serde_json::json!([]));
    let cases = doc["cases"].as_array().expect("cases");
    assert_eq!(doc["passed"].as_u64(), Some(cases.len() as u64));
    assert!(cases.len() >= 25, "{doc:#}");
    for c in cases {
        assert_eq!(c["passed"], true, "{c}");
        assert!(c["line"].as_u64().is_some_and(|l| l > 300), "{c}");
        assert!(["outbound", "inbound"].contains(&c["direction"].as_str().unwrap()));
        assert!(c.get("mismatches").is_none(), "{c}");
    }

    // A broken copy: exit 6, the failure with its differences and plan, the same line the
    // human report names.
    let src = std::fs::read_to_string(root().join("mappings/hubspot.yaml")).expect("read");
    let broken = crate::sync::replace_all(
        &src,
        &[(
            "lastname: \"(record.name or '') | split_once(' ') | last\"",
            "lastname: \"(record.name or '') | split(' ') | last\"",
        )],
    );
    std::fs::write(dir.path().join("broken.yaml"), broken).expect("write");
    let args = ["test", "broken.yaml", "--filter", "one-word"];
    let (code, doc, _) = run_json(dir.path(), &[&args[..], &["--json"]].concat());
    assert_eq!(code, Some(6), "{doc:#}");
    assert_eq!(
        (doc["passed"].as_u64(), doc["failed"].as_u64()),
        (Some(1), Some(1))
    );
    let failed: Vec<&serde_json::Value> = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{doc:#}");
    let f = failed[0];
    assert_eq!(f["direction"], "outbound");
    assert_eq!(
        f["mismatches"],
        serde_json::json!([{"what": "field lastname", "expected": "\"\"", "found": "\"Cher\""}])
    );
    assert!(
        f["plan"].as_str().unwrap().starts_with("create, writes"),
        "{f}"
    );
    let human = run(dir.path(), &args, &[]);
    let place = format!("(broken.yaml:{}) ----", f["line"]);
    assert!(human.contains(&place), "{place} in\n{human}");

    // An invalid mapping: exit 1, its errors in the document, no case run, nothing on stderr.
    let dir = sandbox_dir(&[(
        &root().join("tests/fixtures/invalid/unknown-key/mapping.yaml"),
        "mapping.yaml",
    )]);
    let (code, doc, stderr) = run_json(dir.path(), &["test", "mapping.yaml", "--json"]);
    assert_eq!(code, Some(1), "{doc:#}");
    assert_eq!(stderr, "");
    assert_eq!(doc["cases"], serde_json::json!([]));
    assert_eq!(doc["diagnostics"][0]["code"], "schema", "{doc:#}");
    assert_eq!(doc["diagnostics"][0]["location"]["line"], 13, "{doc:#}");
}
