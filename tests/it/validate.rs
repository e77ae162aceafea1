//! `mapsync validate`: the reference mapping passes, and each broken fixture under
//! `tests/fixtures/invalid/<case>/` gives exactly its pinned diagnostics in one run.

use expect_test::{Expect, expect};

use crate::util::{required_vars, root, run, sandbox_dir};

/// Validates `tests/fixtures/invalid/<case>/mapping.yaml`, copied into a temporary directory.
fn check(case: &str, expected: Expect) {
    check_with(case, &[], expected)
}

fn check_with(case: &str, extra_args: &[&str], expected: Expect) {
    let file = root().join(format!("tests/fixtures/invalid/{case}/mapping.yaml"));
    let dir = sandbox_dir(&[(&file, "mapping.yaml")]);
    let mut args = vec!["validate"];
    args.extend_from_slice(extra_args);
    args.push("mapping.yaml");
    expected.assert_eq(&run(dir.path(), &args, &[]));
}

#[test]
fn reference_mapping_is_valid() {
    let file = root().join("mappings/hubspot.yaml");
    let src = std::fs::read_to_string(&file).expect("read the reference mapping");
    let vars = required_vars(&src);
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let dir = sandbox_dir(&[(&file, "hubspot.yaml")]);
    expect![[r#"
        exit: 0
        --- stdout
        hubspot.yaml: ok
        0 errors, 0 warnings in 1 file
    "#]]
    .assert_eq(&run(dir.path(), &["validate", "hubspot.yaml"], &env));
}

#[test]
fn valid_fixture_is_valid_even_with_deny_warnings() {
    let file = root().join("tests/fixtures/valid/minimal/mapping.yaml");
    let dir = sandbox_dir(&[(&file, "mapping.yaml")]);
    expect![[r#"
        exit: 0
        --- stdout
        mapping.yaml: ok
        0 errors, 0 warnings in 1 file
    "#]]
    .assert_eq(&run(
        dir.path(),
        &["validate", "--deny-warnings", "mapping.yaml"],
        &[],
    ));
}

// Stage-2 cases: their diagnostics come from `compile`; until it reports them, these pin
// what the loader gives today.
#[test]
fn unknown_reference() {
    check(
        "unknown-reference",
        expect![[r#"
            exit: 1
            --- stdout
            mapping.yaml:25:13: error[unknown-reference]: the pair's external collection `clients` is not declared
              at: /pair/external
              hint: declared collections: customers, people
            1 error, 0 warnings in 1 file
        "#]],
    );
}

#[test]
fn bad_jsonpath() {
    check(
        "bad-jsonpath",
        expect![[r#"
            exit: 1
            --- stdout
            mapping.yaml:15:37: error[bad-jsonpath]: JSONPath `$.items[` is not valid: at character 9: expected selector
              at: /collections/people/list/records
              hint: JSONPaths start with `$`, e.g. `$.results` or `$.paging.next.after` (RFC 9535)
            1 error, 0 warnings in 1 file
        "#]],
    );
}

#[test]
fn bad_expression() {
    check(
        "bad-expression",
        expect![[r#"
            exit: 1
            --- stdout
            mapping.yaml:29:30: error[bad-expression]: expression `record.name |` does not compile: syntax error: unexpected end of input, expected identifier
              at: /pair/fields/0/outbound/full_name
              hint: expressions use minijinja syntax, e.g. `record.emails | first | default('')`
            1 error, 0 warnings in 1 file
        "#]],
    );
}

#[test]
fn unknown_filters_tests_functions_and_variables_are_named_with_a_suggestion() {
    check(
        "unknown-names",
        expect![[r#"
        exit: 1
        --- stdout
        mapping.yaml:29:30: error[unknown-filter]: `record.name | frist` uses the filter `frist`, which does not exist
          at: /pair/fields/0/outbound/full_name
          hint: did you mean `first`? Every filter is listed in docs/expression-language.md
        mapping.yaml:30:24: error[unknown-function]: `rnage(2) and record.full_name` uses the function `rnage`, which does not exist
          at: /pair/fields/0/inbound/name
          hint: did you mean `range`? Every function is listed in docs/expression-language.md
        mapping.yaml:34:26: error[unknown-variable]: `recrod.email` uses the variable `recrod`, which is not available here
          at: /pair/fields/1/outbound/email
          hint: did you mean `record`? Variables available here: record (see docs/expression-language.md)
        mapping.yaml:38:14: error[unknown-test]: `not value or value is not emial` uses the test `emial`, which does not exist
          at: /pair/rules/0/valid
          hint: did you mean `email`? Every test is listed in docs/expression-language.md
        mapping.yaml:40:16: error[unknown-variable]: `bad {{ valeu }}` uses the variable `valeu`, which is not available here
          at: /pair/rules/0/message
          hint: did you mean `value`? Variables available here: value (see docs/expression-language.md)
        5 errors, 0 warnings in 1 file
    "#]],
    );
}

#[test]
fn wrong_type() {
    check(
        "wrong-type",
        expect![[r#"
        exit: 1
        --- stdout
        mapping.yaml:11:5: error[schema]: expected a string, not the number `30`
          at: /systems/shop/timeout
          hint: A duration: a whole number and a unit, `ms`, `s`, `m` or `h` (`250ms`, `10s`, `5m`).
        mapping.yaml:32:7: error[schema]: expected a boolean, not the string `yes`
          at: /pair/fields/0/lossless
          hint: write `true` or `false`; YAML 1.1 spellings are not booleans here
        2 errors, 0 warnings in 1 file
    "#]],
    );
}

#[test]
fn missing_required_field() {
    check(
        "missing-required-field",
        expect![[r#"
        exit: 1
        --- stdout
        mapping.yaml:16:3: error[schema]: missing required key `id`
          at: /collections/customers
          hint: add `id`: JSONPath to the record's id in a record, e.g. `$.id` or `$.resource_uri`.
        1 error, 0 warnings in 1 file
    "#]],
    );
}

#[test]
fn unknown_key() {
    check(
        "unknown-key",
        expect![[r#"
        exit: 1
        --- stdout
        mapping.yaml:13:5: error[schema]: unknown key `sytem` (did you mean `system`?)
          at: /collections/people/sytem
        1 error, 0 warnings in 1 file
    "#]],
    );
}

#[test]
fn yaml_syntax() {
    check(
        "yaml-syntax",
        expect![[r#"
        exit: 1
        --- stdout
        mapping.yaml:16:12: error[yaml-syntax]: while parsing a flow mapping, did not find expected ',' or '}'
          hint: fix the YAML at this position; text containing `: `, ` #`, `{` or `[` needs quotes
        1 error, 0 warnings in 1 file
    "#]],
    );
}

#[test]
fn three_errors() {
    check(
        "three-errors",
        expect![[r#"
        exit: 1
        --- stdout
        mapping.yaml:3:1: error[schema]: must be at most 1, not `2`
          at: /version
        mapping.yaml:7:5: error[schema]: expected exactly one of `header`, `query`, `bearer`, `basic`, `oauth2`, not `bearr` (did you mean `bearer`?)
          at: /systems/crm/auth
        mapping.yaml:22:38: error[schema]: expected a whole number, not the string `first`
          at: /collections/customers/list/paging/page/start
          hint: The first page's number.
        3 errors, 0 warnings in 1 file
    "#]],
    );
}

#[test]
fn three_errors_as_json() {
    check_with(
        "three-errors",
        &["--format", "json"],
        expect![[r#"
        exit: 1
        --- stdout
        [
          {
            "severity": "error",
            "code": "schema",
            "pointer": "/version",
            "location": {
              "file": "mapping.yaml",
              "line": 3,
              "column": 1
            },
            "message": "must be at most 1, not `2`"
          },
          {
            "severity": "error",
            "code": "schema",
            "pointer": "/systems/crm/auth",
            "location": {
              "file": "mapping.yaml",
              "line": 7,
              "column": 5
            },
            "message": "expected exactly one of `header`, `query`, `bearer`, `basic`, `oauth2`, not `bearr` (did you mean `bearer`?)"
          },
          {
            "severity": "error",
            "code": "schema",
            "pointer": "/collections/customers/list/paging/page/start",
            "location": {
              "file": "mapping.yaml",
              "line": 22,
              "column": 38
            },
            "message": "expected a whole number, not the string `first`",
            "hint": "The first page's number."
          }
        ]
    "#]],
    );
}

#[test]
fn several_files_in_one_run() {
    let a = root().join("tests/fixtures/valid/minimal/mapping.yaml");
    let b = root().join("tests/fixtures/invalid/unknown-key/mapping.yaml");
    let dir = sandbox_dir(&[(&a, "good.yaml"), (&b, "bad.yaml")]);
    expect![[r#"
        exit: 1
        --- stdout
        good.yaml: ok
        bad.yaml:13:5: error[schema]: unknown key `sytem` (did you mean `system`?)
          at: /collections/people/sytem
        missing.yaml:1:1: error[file-unreadable]: cannot read the file: No such file or directory (os error 2)
          hint: check the path, and that the file is readable UTF-8 text
        2 errors, 0 warnings in 3 files
    "#]].assert_eq(&run(
        dir.path(),
        &["validate", "good.yaml", "bad.yaml", "missing.yaml"],
        &[],
    ));
}

#[test]
fn setup_incomplete() {
    check(
        "setup-incomplete",
        expect![[r#"
        exit: 1
        --- stdout
        mapping.yaml:35:11: error[setup-incomplete]: setup resource `fields` is listed but declares no `key`, so its items cannot be matched to what exists
          at: /setup/0/list
          hint: add `key`, e.g. `key: "{{ item.name }}"`
        mapping.yaml:44:7: error[setup-incomplete]: setup resource `settings` is read as a singleton but declares 2 items
          at: /setup/1/items
          hint: declare one item, or `list` and `key` for a set of items
        2 errors, 0 warnings in 1 file
    "#]],
    );
}

/// Issue 16: a batch without a way to match a refused input to its record, a `partial` status
/// that is not a 4xx, and a 2xx error rule without a body pattern are rejected at their place.
#[test]
fn unmatched_batch() {
    check(
        "unmatched-batch",
        expect![[r#"
        exit: 1
        --- stdout
        mapping.yaml:9:19: error[bad-status]: an error rule for 202 without `body_matches` would make every 202 answer a failure
          at: /systems/crm/errors/0/status
          hint: add `body_matches` with a pattern only a refusal's body matches, e.g. `"status":"error"`
        mapping.yaml:28:18: error[unmatched-batch]: the batch declares `success` but no way to tell which input a failure is about: a refused input could never be told apart from the ones written
          at: /collections/customers/batch/create/success
          hint: add `error_key` (a JSONPath to the input's `key` inside an error or result), or `match: position` when the API answers in input order
        mapping.yaml:29:19: error[bad-status]: `partial` lists error statuses (4xx) that still report each input, not 500
          at: /collections/customers/batch/create/partial/0
          hint: 2xx answers are always read per input; 5xx answers are retried
        3 errors, 0 warnings in 1 file
    "#]],
    );
}
