//! The command line: help with examples, usage errors, exit codes, and the subcommands that are
//! not implemented yet.

use expect_test::expect;

use crate::util::run;

fn in_temp(args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("temporary directory");
    run(dir.path(), args, &[])
}

#[test]
fn top_level_help_lists_every_command() {
    expect![[r#"
        exit: 0
        --- stdout
        Declarative two-way sync between two HTTP APIs, driven by one YAML mapping file.

        Usage: mapsync [OPTIONS] <COMMAND>

        Commands:
          validate      Check mapping files and report every problem at once
          test          Run the test cases declared in a mapping (`tests:`), offline
          schema        Print the JSON Schema of mapping files, for editors (or, with --markdown, the reference)
          setup         Converge custom fields and webhook subscriptions on both systems
          serve         Receive webhooks and process them durably
          oauth-link    Print a single-use OAuth install link for a system (valid 15 minutes)
          status        Show the inbox depth, dead letters, the last sync per direction and the links
          dead-letters  List, retry or drop dead letters (events that failed for good)
          explain       Explain one record: its link, base and current values, the next sync's plan, its history
          state         Work on state stores as a whole
          sync          Run a full sync in one direction, resumably
          help          Print this message or the help of the given subcommand(s)

        Options:
              --log-format <LOG_FORMAT>
                  The log format on stderr

                  Possible values:
                  - human: Readable lines
                  - json:  One JSON object per line

                  [default: human]

          -v, --verbose...
                  More log output: -v for mapsync's debug lines, -vv for everything (libraries too). `serve` and `sync` log at info by default, other commands only warnings. `RUST_LOG` overrides it

          -h, --help
                  Print help (see a summary with '-h')

          -V, --version
                  Print version

        Examples:
          mapsync validate mapping.yaml
          mapsync schema > schemas/mapping.schema.json
          mapsync test mapping.yaml
          mapsync sync --mapping mapping.yaml --direction outbound --dry-run

        Exit codes: 0 ok, 1 invalid mapping, 2 usage error, 3 some records failed (sync), 4 stopped
        before writing, 5 changes pending (setup --dry-run), 6 mapping tests failed (test), 66 no such
        dead letter, 69 environment or API unavailable, 74 state store unusable, 130 sync interrupted.
    "#]].assert_eq(&in_temp(&["--help"]));
}

#[test]
fn every_subcommand_help_has_an_example() {
    for sub in [
        "validate",
        "test",
        "schema",
        "setup",
        "serve",
        "status",
        "dead-letters",
        "sync",
    ] {
        let out = in_temp(&[sub, "--help"]);
        assert!(out.starts_with("exit: 0\n"), "{sub}: {out}");
        assert!(
            out.contains("Example"),
            "{sub} --help has no example:\n{out}"
        );
    }
}

#[test]
fn usage_error_exits_2() {
    expect![[r#"
        exit: 2
        --- stderr
        error: invalid value 'yaml' for '--format <FORMAT>'
          [possible values: human, json]

        For more information, try '--help'.
    "#]]
    .assert_eq(&in_temp(&["validate", "--format", "yaml"]));
}

#[test]
fn unknown_direction_is_a_usage_error() {
    expect![[r#"
        exit: 2
        --- stderr
        error: invalid value 'sideways' for '--direction <DIRECTION>'
          [possible values: inbound, outbound]

        For more information, try '--help'.
    "#]]
    .assert_eq(&in_temp(&["sync", "--direction", "sideways"]));
}

#[test]
fn sync_and_setup_name_a_missing_mapping_and_unimplemented_commands_exit_69() {
    expect![[r#"
        exit: 1
        --- stderr
        mapsync.yaml:1:1: error[file-unreadable]: cannot read the file: No such file or directory (os error 2)
          hint: check the path, and that the file is readable UTF-8 text
        mapsync.yaml: the mapping is invalid; `mapsync validate mapsync.yaml` explains every problem
    "#]]
    .assert_eq(&in_temp(&["sync", "--direction", "inbound", "--dry-run"]));
    expect![[r#"
        exit: 1
        --- stderr
        mapsync.yaml:1:1: error[file-unreadable]: cannot read the file: No such file or directory (os error 2)
          hint: check the path, and that the file is readable UTF-8 text
        mapsync.yaml: the mapping is invalid; `mapsync validate mapsync.yaml` explains every problem
    "#]]
    .assert_eq(&in_temp(&["setup", "--dry-run"]));
    expect![[r#"
        exit: 1
        --- stderr
        mapsync.yaml:1:1: error[file-unreadable]: cannot read the file: No such file or directory (os error 2)
          hint: check the path, and that the file is readable UTF-8 text
        mapsync.yaml: the mapping is invalid; `mapsync validate mapsync.yaml` explains every problem
    "#]]
    .assert_eq(&in_temp(&["serve", "--workers", "2"]));
}

#[test]
fn json_logs_are_accepted() {
    expect![[r#"
        exit: 1
        --- stderr
        mapsync.yaml:1:1: error[file-unreadable]: cannot read the file: No such file or directory (os error 2)
          hint: check the path, and that the file is readable UTF-8 text
        mapsync.yaml: the mapping is invalid; `mapsync validate mapsync.yaml` explains every problem
    "#]]
    .assert_eq(&in_temp(&["--log-format", "json", "-v", "setup"]));
}

/// `src/` names no particular system: the engine is generic (issue 2's acceptance).
#[test]
fn src_names_no_system() {
    fn walk(dir: &std::path::Path, hits: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, hits);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                let lower = text.to_lowercase();
                for name in ["hubspot", "10to8", "hubapi"] {
                    if lower.contains(name) {
                        hits.push(format!("{}: {name}", path.display()));
                    }
                }
            }
        }
    }
    let mut hits = Vec::new();
    walk(&crate::util::root().join("src"), &mut hits);
    assert!(hits.is_empty(), "src/ names a system: {hits:#?}");
}

/// Errors a user causes on the command line name the fix.
#[test]
fn serve_address_errors_name_the_fix() {
    let dir = crate::util::sandbox_dir(&[(
        &crate::util::root().join("mappings/hubspot.yaml"),
        "mapping.yaml",
    )]);
    let src = std::fs::read_to_string(crate::util::root().join("mappings/hubspot.yaml"))
        .expect("read the mapping");
    let vars = crate::util::required_vars(&src);
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let bad_listen = run(
        dir.path(),
        &["serve", "-m", "mapping.yaml", "--listen", "not-an-address"],
        &env,
    );
    assert!(bad_listen.starts_with("exit: 69\n"), "{bad_listen}");
    assert!(
        bad_listen.contains("choose another address with --listen"),
        "{bad_listen}"
    );
    let bad_url = run(
        dir.path(),
        &[
            "serve",
            "-m",
            "mapping.yaml",
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "sync.example.com",
        ],
        &env,
    );
    assert!(bad_url.starts_with("exit: 2\n"), "{bad_url}");
    assert!(
        bad_url.contains("give the absolute URL senders call"),
        "{bad_url}"
    );
}

/// `--mapping`/`MAPSYNC_MAPPING` and `--json` mean the same on every command, and the global
/// flags may follow the subcommand.
#[test]
fn mapping_json_and_global_flags_work_the_same_everywhere() {
    let file = crate::util::root().join("tests/fixtures/valid/minimal/mapping.yaml");
    let dir = crate::util::sandbox_dir(&[(&file, "m.yaml")]);
    let ok = "exit: 0\n--- stdout\n[]\n";
    // validate: the file from MAPSYNC_MAPPING or --mapping; --json is --format json.
    assert_eq!(
        run(
            dir.path(),
            &["validate", "--json"],
            &[("MAPSYNC_MAPPING", "m.yaml")]
        ),
        ok
    );
    assert_eq!(
        run(
            dir.path(),
            &["validate", "--mapping", "m.yaml", "--json"],
            &[]
        ),
        ok
    );
    assert_eq!(
        run(dir.path(), &["validate", "m.yaml", "--format", "json"], &[]),
        ok
    );
    // A global flag after the subcommand.
    assert_eq!(
        run(
            dir.path(),
            &["validate", "m.yaml", "--json", "--log-format", "json"],
            &[]
        ),
        ok
    );
    // dead-letters list takes --mapping and --state after `list` (no store yet: exit 74).
    let out = run(
        dir.path(),
        &[
            "dead-letters",
            "list",
            "--mapping",
            "m.yaml",
            "--state",
            "s.db",
            "--json",
        ],
        &[],
    );
    assert!(out.starts_with("exit: 74\n"), "{out}");
    assert!(out.contains("no state store at s.db"), "{out}");
    // test: the file from MAPSYNC_MAPPING, --json one document (the minimal mapping has no cases).
    let out = run(
        dir.path(),
        &["test", "--json"],
        &[("MAPSYNC_MAPPING", "m.yaml")],
    );
    assert!(out.starts_with("exit: 0\n--- stdout\n{"), "{out}");
    assert!(out.contains("\"file\": \"m.yaml\""), "{out}");
}
