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
