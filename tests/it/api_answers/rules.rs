//! Finding 5: a rule states the API's own validity test with `matches(regex)`; finding 6: a
//! test case tells "written as null" (`written_null`) from "not written" (`null` in `fields`).

use super::{Dir, mapping};

const RULES: &str = r#"  rules:
    - name: email
      field: external.Email
      valid: "not value or value is matches('[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}')"
      placeholder: null
      message: "Invalid email {{ value }}"
tests:
  - name: an email with a non-ASCII letter is written as null
    direction: outbound
    source: { id: p1, name: Ann, email: "ü@example.com" }
    expect: { kind: create, written_null: [Email], fields: { Last_Name: Ann } }
  - name: a top-level domain with a digit is written as null
    direction: outbound
    source: { id: p2, name: Bo, email: "a@b.co1" }
    expect: { kind: create, written_null: [Email] }
  - name: an address literal is written as null
    direction: outbound
    source: { id: p3, name: Cy, email: "a@[127.0.0.1]" }
    expect: { kind: create, written_null: [Email] }
  - name: a plain address is written as it is, never null
    direction: outbound
    source: { id: p4, name: Di, email: "di@mail.example.com" }
    expect: { kind: create, fields: { Email: di@mail.example.com } }
  - name: wrong on purpose, null in fields means not written
    direction: outbound
    source: { id: p5, name: Ed, email: "ü@example.com" }
    expect: { fields: { Email: null } }
"#;

fn run_test(dir: &Dir, filter: &str) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args(["test", "--filter", filter])
        .arg(&dir.mapping)
        .env_clear()
        .env("HOME_URL", "http://127.0.0.1:1")
        .env("CRM_URL", "http://127.0.0.1:1")
        .env("NO_COLOR", "1")
        .output()
        .expect("run mapsync test");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_matches_rule_refuses_what_the_api_refuses_and_cases_see_the_null_written() {
    let dir = Dir::new(&format!("{}{RULES}", mapping(false)));
    let (code, out) = run_test(&dir, "is written");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.trim_end().ends_with("4 passed, 0 failed"), "{out}");

    let (code, out) = run_test(&dir, "wrong on purpose");
    assert_eq!(code, Some(6), "{out}");
    let diff = out
        .lines()
        .skip_while(|l| !l.contains("field Email"))
        .take(2)
        .map(str::trim)
        .collect::<Vec<_>>();
    assert_eq!(
        diff,
        [
            "field Email  expected: (not written)",
            "found: (written as null)"
        ],
        "{out}"
    );
}
