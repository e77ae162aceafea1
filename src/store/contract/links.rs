use super::{store, t};
use crate::mapping::Side;
use crate::store::{Link, LinkCounts, LinkQuery, LinkState, StateStore, StoreError};

#[test]
fn a_link_is_found_from_either_side_and_updated_in_place() {
    let s = store();
    let mut link = Link::active("https://home/customers/1", "101");
    s.upsert_link("p", &link, t(1)).unwrap();
    assert_eq!(
        s.link("p", Side::Home, "https://home/customers/1").unwrap(),
        Some(link.clone())
    );
    assert_eq!(
        s.link("p", Side::External, "101").unwrap(),
        Some(link.clone())
    );
    assert_eq!(s.link("other-pair", Side::External, "101").unwrap(), None);

    link.external_version = Some("2024-01-01T00:00:00Z".into());
    s.upsert_link("p", &link, t(2)).unwrap();
    assert_eq!(s.link("p", Side::External, "101").unwrap(), Some(link));
    assert_eq!(s.link_counts("p").unwrap().total(), 1);
}

#[test]
fn a_record_cannot_have_two_live_partners_on_either_side() {
    let s = store();
    s.upsert_link("p", &Link::active("h1", "e1"), t(1)).unwrap();

    let err = s
        .upsert_link("p", &Link::active("h1", "e2"), t(2))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::LinkTaken { side: Side::Home, id, linked_to, .. } if id == "h1" && linked_to == "e1"),
        "{err:?}"
    );
    let err = s
        .upsert_link("p", &Link::active("h2", "e1"), t(2))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::LinkTaken { side: Side::External, id, linked_to, .. } if id == "e1" && linked_to == "h1"),
        "{err:?}"
    );
    assert_eq!(s.link("p", Side::External, "e2").unwrap(), None);
    assert_eq!(s.link("p", Side::Home, "h2").unwrap(), None);

    // The same ids in another pair are independent.
    s.upsert_link("q", &Link::active("h1", "e2"), t(2)).unwrap();
}

#[test]
fn a_deleted_link_is_kept_until_the_record_is_linked_again() {
    let s = store();
    s.upsert_link("p", &Link::active("h1", "e1"), t(1)).unwrap();
    assert!(
        s.mark_link_deleted("p", Side::External, "e1", t(2))
            .unwrap()
    );
    assert!(
        !s.mark_link_deleted("p", Side::External, "nope", t(2))
            .unwrap()
    );
    let link = s.link("p", Side::Home, "h1").unwrap().unwrap();
    assert_eq!(link.state, LinkState::DeletedOnExternal);

    // The external record was recreated under a new id: the deleted link gives way.
    s.upsert_link("p", &Link::active("h1", "e9"), t(3)).unwrap();
    assert_eq!(s.link("p", Side::External, "e1").unwrap(), None);
    assert_eq!(
        s.link("p", Side::Home, "h1").unwrap().unwrap().external_id,
        "e9"
    );
}

#[test]
fn listing_and_counting_for_status() {
    let s = store();
    for i in 0..5 {
        s.upsert_link("p", &Link::active(format!("h{i}"), format!("e{i}")), t(1))
            .unwrap();
    }
    s.mark_link_deleted("p", Side::Home, "h3", t(2)).unwrap();
    let conflict = Link {
        state: LinkState::Conflict,
        ..Link::active("h4", "e4")
    };
    s.upsert_link("p", &conflict, t(2)).unwrap();

    assert_eq!(
        s.link_counts("p").unwrap(),
        LinkCounts {
            active: 3,
            deleted_on_home: 1,
            deleted_on_external: 0,
            conflict: 1
        }
    );
    let page1 = s
        .links(
            "p",
            &LinkQuery {
                limit: 2,
                ..LinkQuery::default()
            },
        )
        .unwrap();
    let ids: Vec<_> = page1.iter().map(|l| l.home_id.as_str()).collect();
    assert_eq!(ids, ["h0", "h1"]);
    let page2 = s
        .links(
            "p",
            &LinkQuery {
                after_home_id: Some("h1".into()),
                limit: 10,
                ..LinkQuery::default()
            },
        )
        .unwrap();
    assert_eq!(page2.len(), 3);
    let deleted = s
        .links(
            "p",
            &LinkQuery {
                state: Some(LinkState::DeletedOnHome),
                ..LinkQuery::default()
            },
        )
        .unwrap();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].home_id, "h3");
}

#[test]
fn clones_share_one_store_across_threads() {
    let s = store();
    let threads: Vec<_> = (0..4)
        .map(|n| {
            let s = (*s).clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    s.upsert_link(
                        "p",
                        &Link::active(format!("h{n}-{i}"), format!("e{n}-{i}")),
                        t(0),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(s.link_counts("p").unwrap().active, 100);
}
