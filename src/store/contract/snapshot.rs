use super::*;
use crate::mapping::Side;
use crate::store::{SnapshotEntry, StateStore};

#[test]
fn the_snapshot_indexes_by_id_link_and_match_key() {
    let store = store();
    let entry = |id: &str, link: Option<&str>, key: Option<&str>| SnapshotEntry {
        record_id: id.to_string(),
        record: serde_json::json!({ "id": id }),
        link_value: link.map(str::to_string),
        match_key: key.map(str::to_string),
        several: Vec::new(),
    };
    store
        .snapshot_put(
            "p",
            Side::External,
            &[
                entry("1", Some("h1"), Some("a@x.com")),
                entry("2", None, Some("a@x.com")),
                entry("3", None, None),
            ],
        )
        .expect("put");
    assert_eq!(store.snapshot_count("p", Side::External).expect("count"), 3);
    assert_eq!(store.snapshot_count("p", Side::Home).expect("count"), 0);
    assert_eq!(
        store.snapshot_get("p", Side::External, "3").expect("get"),
        Some(serde_json::json!({"id": "3"}))
    );
    assert_eq!(
        store.snapshot_get("q", Side::External, "3").expect("get"),
        None
    );
    let ids =
        |v: Vec<(String, serde_json::Value)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .snapshot_by_link("p", Side::External, "h1")
            .expect("link")),
        ["1"]
    );
    assert_eq!(
        ids(store
            .snapshot_by_match("p", Side::External, "a@x.com")
            .expect("match")),
        ["1", "2"]
    );
    store
        .snapshot_put("p", Side::External, &[entry("1", None, Some("b@y.com"))])
        .expect("replace");
    assert!(
        store
            .snapshot_by_link("p", Side::External, "h1")
            .expect("link")
            .is_empty()
    );
    store.snapshot_clear("p", Side::External).expect("clear");
    assert_eq!(store.snapshot_count("p", Side::External).expect("count"), 0);
}

#[test]
fn a_merged_record_is_found_by_each_id_its_link_names() {
    let store = store();
    let merged = SnapshotEntry {
        record_id: "m".to_string(),
        record: serde_json::json!({ "id": "m" }),
        link_value: None,
        match_key: None,
        several: vec!["101".to_string(), "102".to_string()],
    };
    store
        .snapshot_put("p", Side::Home, std::slice::from_ref(&merged))
        .expect("put");
    for id in ["101", "102"] {
        assert_eq!(
            store
                .snapshot_named_among_several("p", Side::Home, id)
                .expect("named"),
            Some(("m".to_string(), "101, 102".to_string()))
        );
    }
    assert_eq!(
        store
            .snapshot_named_among_several("p", Side::Home, "10")
            .expect("named"),
        None
    );
    assert_eq!(
        store
            .snapshot_named_among_several("p", Side::External, "101")
            .expect("other side"),
        None
    );
    // Unmerged, the record names nobody among several any more.
    let unmerged = SnapshotEntry {
        several: Vec::new(),
        link_value: Some("101".to_string()),
        ..merged
    };
    store
        .snapshot_put("p", Side::Home, &[unmerged])
        .expect("replace");
    assert_eq!(
        store
            .snapshot_named_among_several("p", Side::Home, "101")
            .expect("named"),
        None
    );
}
