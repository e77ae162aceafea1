//! `mapsync status` and `mapsync dead-letters` on a state store with one dead letter: list,
//! retry (back into the inbox), drop, and exit 66 for an unknown id.

use mapsync::store::{NewDeadLetter, SqliteConfig, SqliteStore, StateStore};

use crate::util::{root, run};

#[test]
fn status_and_dead_letters() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        root().join("mappings/hubspot.yaml"),
        dir.path().join("mapping.yaml"),
    )
    .expect("copy");
    let src = std::fs::read_to_string(root().join("mappings/hubspot.yaml")).expect("read");
    let vars = crate::util::required_vars(&src);
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let args = |extra: &[&str]| {
        let mut a = vec!["--mapping", "mapping.yaml"];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let go = |sub: &str, extra: &[&str]| {
        let mut a = vec![sub.to_string()];
        a.extend(args(extra));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run(dir.path(), &a, &env)
    };
    let out = go("status", &[]);
    assert!(out.starts_with("exit: 74\n"), "{out}");

    let store = SqliteStore::open(
        &dir.path().join("mapping.state.db"),
        &SqliteConfig::default(),
    )
    .expect("store");
    let at = jiff::Timestamp::now();
    let id = store
        .add_dead_letter(&NewDeadLetter {
            source: "customers".into(),
            record_key: "http://x/customer/1/".into(),
            payload: serde_json::json!("http://x/customer/1/"),
            error: "the API refused the delete (409)".into(),
            attempts: 1,
            first_failed_at: at,
            at,
        })
        .expect("dead letter");
    drop(store);

    let out = go("status", &["--json"]);
    assert!(out.starts_with("exit: 0\n"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(out.lines().nth(2).expect("json line")).expect("json");
    assert_eq!(json["dead_letters"], 1);
    assert_eq!(json["inbox_depth"], 0);
    assert_eq!(json["links"]["active"], 0);
    let dead = &json["needs_attention"]["dead_letters"];
    assert_eq!(dead["count"], 1, "{json}");
    assert_eq!(
        dead["newest"][0]["reason"],
        "the API refused the delete (409)"
    );
    assert!(
        dead["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("dead-letters retry")
    );
    let human = go("status", &[]);
    assert!(
        human.contains(
            "needs a person:\n  1 dead letters  (`mapsync dead-letters retry <id>` once the cause is fixed)\n"
        ) && human.contains(&format!("#{id} customers http://x/customer/1/: the API refused")),
        "{human}"
    );

    let list = {
        let mut a = vec!["dead-letters".to_string()];
        a.extend(args(&["list", "--json"]));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run(dir.path(), &a, &env)
    };
    assert!(list.contains("the API refused the delete (409)"), "{list}");

    let dl = |action: &str, id: &str| {
        let mut a = vec!["dead-letters".to_string()];
        a.extend(args(&[action, id]));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run(dir.path(), &a, &env)
    };
    let unknown = dl("retry", "999");
    assert!(unknown.starts_with("exit: 66\n"), "{unknown}");
    assert!(
        unknown.contains("`mapsync dead-letters list` shows the ids there are"),
        "the error names the fix: {unknown}"
    );
    assert!(dl("retry", &id.to_string()).starts_with("exit: 0\n"));
    let out = go("status", &["--json"]);
    let json: serde_json::Value =
        serde_json::from_str(out.lines().nth(2).expect("json line")).expect("json");
    assert_eq!(json["dead_letters"], 0);
    assert_eq!(
        json["inbox_depth"], 1,
        "the retried letter is back in the inbox"
    );
    assert!(dl("drop", &id.to_string()).starts_with("exit: 66\n"));
}
